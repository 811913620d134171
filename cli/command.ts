/**
 * The shape of an `lts` subcommand and the usage error every command raises
 * for bad arguments (exit code 2).
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** Exit codes of every `lts` command: 0 ok, 1 failure, 2 usage error. */
export const Exit = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** Where a command writes; tests pass buffers, the CLI passes the process streams. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** One subcommand of `lts`. */
export interface Command {
  name: string;
  /** One line for `lts --help`. */
  summary: string;
  /** Full text for `lts <command> --help`. */
  usage: string;
  run(args: string[], io: Io): Promise<number>;
}

/** Bad command-line arguments; `main` prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * `node:util` parseArgs in strict mode, with its errors turned into {@link UsageError}.
 *
 * @example
 * ```ts
 * import { parse } from "./command.ts";
 * const { values } = parse(["--port", "1701"], { options: { port: { type: "string" } } });
 * if (values.port !== "1701") throw new Error();
 * ```
 */
export function parse<T extends ParseArgsConfig["options"]>(
  args: string[],
  config: { options: T; allowPositionals?: boolean },
) {
  try {
    return parseArgs({
      args,
      options: config.options,
      allowPositionals: config.allowPositionals ?? false,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

/** Parses a whole number within bounds, or raises a {@link UsageError} naming the option. */
export function intOption(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
  }
  return n;
}
