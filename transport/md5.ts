/**
 * MD5 over a list of byte strings, for the hashes RFC 2661 builds from
 * concatenations (§4.3 hiding, §5.1.1 tunnel authentication) and for CHAP.
 *
 * @module
 */

import { createHash } from "node:crypto";

/**
 * MD5 of the concatenation of `parts`.
 *
 * @example
 * ```ts
 * import { md5 } from "./md5.ts";
 * const digest = md5([new TextEncoder().encode("abc")]);
 * if (digest[0] !== 0x90) throw new Error(); // 900150983cd24fb0...
 * ```
 */
export function md5(parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash("md5");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
