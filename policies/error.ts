/**
 * The error every policy problem is reported as: where it is, and what.
 *
 * @module
 */

import type { Result } from "../transport/result.ts";

/**
 * One problem in a policy file, at the position of the offending YAML node.
 * Lines and columns count from 1; a problem with no position (the file
 * cannot be read) has line and column 0.
 *
 * @example
 * ```ts
 * import { PolicyError } from "./error.ts";
 * const e = new PolicyError("lts.yaml", 14, 7, 'unknown upstream "isp-b" in rule "corp"');
 * if (String(e) !== 'lts.yaml:14:7: unknown upstream "isp-b" in rule "corp"') throw new Error();
 * ```
 */
export class PolicyError extends SyntaxError {
  /** The file name the policy was loaded as. */
  readonly file: string;
  /** 1-based line, or 0 when the problem has no position. */
  readonly line: number;
  /** 1-based column, or 0 when the problem has no position. */
  readonly col: number;

  /** Makes the error for `file` at `line`:`col`. */
  constructor(file: string, line: number, col: number, message: string) {
    super(message);
    this.name = "PolicyError";
    this.file = file;
    this.line = line;
    this.col = col;
  }

  /** `file:line:col: message`, or `file: message` without a position — the form editors jump to. */
  override toString(): string {
    return this.line > 0
      ? `${this.file}:${this.line}:${this.col}: ${this.message}`
      : `${this.file}: ${this.message}`;
  }
}

/**
 * All errors, one per line, in file order — what `lts check` prints.
 *
 * @example
 * ```ts
 * import { formatPolicyErrors, PolicyError } from "./error.ts";
 * const text = formatPolicyErrors([
 *   new PolicyError("a.yaml", 3, 1, "second"),
 *   new PolicyError("a.yaml", 1, 5, "first"),
 * ]);
 * if (text !== "a.yaml:1:5: first\na.yaml:3:1: second") throw new Error(text);
 * ```
 */
export function formatPolicyErrors(errors: readonly PolicyError[]): string {
  return [...errors].sort(byPosition).map(String).join("\n");
}

/** Orders errors by file, line and column. */
export function byPosition(a: PolicyError, b: PolicyError): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col;
}

/**
 * Reads a policy or users file; a file that cannot be read is one error,
 * `file: cannot read: …`, with no position.
 */
export async function readPolicyText(path: string): Promise<Result<string, PolicyError[]>> {
  try {
    return { ok: true, value: await Deno.readTextFile(path) };
  } catch (e) {
    return {
      ok: false,
      error: [new PolicyError(path, 0, 0, `cannot read: ${(e as Error).message}`)],
    };
  }
}
