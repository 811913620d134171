/**
 * The `lts` command line: one binary, a subcommand per job.
 *
 * @module
 */

import { type Command, Exit, type Io, UsageError } from "./command.ts";
import { decodeCommand } from "./decode.ts";
import { demoCommand } from "./demo.ts";
import { lacCommand } from "./lac.ts";
import { lnsCommand } from "./lns.ts";
import { checkCommand, explainCommand } from "./policy_commands.ts";
import { runCommand } from "./run.ts";
import { statusCommand } from "./status.ts";

/** The version printed by `lts --version`. */
export const VERSION = "0.1.0";

/** Every subcommand, in the order `lts --help` lists them. */
export const COMMANDS: readonly Command[] = [
  runCommand,
  statusCommand,
  checkCommand,
  explainCommand,
  demoCommand,
  lacCommand,
  lnsCommand,
  decodeCommand,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `lts ${VERSION} — L2TP Tunnel Switch (RFC 2661)`,
    "",
    "Usage: lts <command> [options]      lts <command> --help for a command's options",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Exit codes: 0 ok, 1 failure, 2 usage error.",
  ].join("\n");
}

/** The process streams. */
export const processIo: Io = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/**
 * Runs `lts` with `args` and returns the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./mod.ts";
 * const lines: string[] = [];
 * const code = await main(["--help"], { out: (l) => lines.push(l), err: () => {} });
 * if (code !== 0 || !lines[0].startsWith("lts")) throw new Error();
 * ```
 */
export async function main(args: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    const topic = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.out(topic ? topic.usage : overview());
    return name === undefined ? Exit.Usage : Exit.Ok;
  }
  if (name === "--version" || name === "-V") {
    io.out(`lts ${VERSION}`);
    return Exit.Ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`lts: unknown command "${name}"\n\n${overview()}`);
    return Exit.Usage;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(command.usage);
    return Exit.Ok;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`lts ${command.name}: ${e.message}\n\n${command.usage}`);
      return Exit.Usage;
    }
    throw e;
  }
}
