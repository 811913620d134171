/**
 * Worker side of {@link loadPolicyFileOffThread}: reads, parses and
 * validates a policy file away from the thread that forwards data frames,
 * and posts back the validated configuration (structured-cloned) or the
 * errors. Parsing 10,000 rules takes a few hundred milliseconds, far more
 * than the data plane may stall.
 *
 * @module
 */

import { parsePolicy } from "./parse.ts";
import { loadUsersFiles } from "./mod.ts";

/** A request: the file to load. */
export interface LoadRequest {
  path: string;
}

/** The worker's answer. */
export type LoadReply =
  | { ok: true; config: unknown }
  | { ok: false; errors: { file: string; line: number; col: number; message: string }[] };

// deno-lint-ignore no-explicit-any
const scope = self as any;
scope.onmessage = async (e: MessageEvent<LoadRequest>) => {
  let reply: LoadReply;
  try {
    const text = await Deno.readTextFile(e.data.path);
    const first = parsePolicy(text, e.data.path);
    const parsed = first.ok ? await loadUsersFiles(first.value, e.data.path) : first;
    reply = parsed.ok ? { ok: true, config: parsed.value } : {
      ok: false,
      errors: parsed.error.map((x) => ({
        file: x.file,
        line: x.line,
        col: x.col,
        message: x.message,
      })),
    };
  } catch (error) {
    reply = {
      ok: false,
      errors: [{
        file: e.data.path,
        line: 0,
        col: 0,
        message: `cannot read: ${(error as Error).message}`,
      }],
    };
  }
  scope.postMessage(reply);
};
