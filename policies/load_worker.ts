/**
 * Worker side of `parseOffThread` (used by {@link loadPolicyFileOffThread}
 * and by `PolicyLoader` for a full parse of a big file): reads (unless given
 * the text), parses and validates a policy away from the thread that
 * forwards data frames, and posts back the validated configuration
 * (structured-cloned) or the errors. Parsing 10,000 rules takes a few hundred
 * milliseconds, far more than the data plane may stall.
 *
 * @module
 */

import { parseHere } from "./incremental.ts";

/** A request: the file to load, and its text when the caller has read it already. */
export interface LoadRequest {
  path: string;
  text?: string;
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
    const parsed = await parseHere(e.data);
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
