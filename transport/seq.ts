/**
 * Control-message sequence numbers (Ns, Nr): free-running counters modulo
 * 65536 (RFC 2661 §5.8).
 *
 * Comparisons use the signed 16-bit difference. §5.8 calls a received Ns
 * "less than or equal to the last received number if its value lies in the
 * range of the last received number and the preceding 32767 values". Measured
 * against the *next expected* number E (the last received plus 1), that range
 * is exactly `seqDiff(ns, E) < 0`, which is how the reliable channel uses it.
 *
 * @module
 */

/** The size of the sequence-number space (RFC 2661 §5.8). */
export const SEQ_MODULUS = 0x10000;

/**
 * @returns whether `n` is a valid Ns/Nr value, an integer in 0..65535.
 *
 * @example
 * ```ts
 * import { isSeq } from "./seq.ts";
 * if (!isSeq(65535) || isSeq(65536) || isSeq(-1)) throw new Error("wrong");
 * ```
 */
export function isSeq(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < SEQ_MODULUS;
}

/**
 * @returns `a + n` modulo 65536; `n` may be negative.
 *
 * @example
 * ```ts
 * import { seqAdd } from "./seq.ts";
 * if (seqAdd(65535, 1) !== 0 || seqAdd(0, -1) !== 65535) throw new Error("wrong");
 * ```
 */
export function seqAdd(a: number, n: number): number {
  return (a + n) & 0xffff;
}

/**
 * The signed distance from `b` to `a`, in -32768..32767: positive when `a` is
 * after `b`, negative when before. A distance of exactly 32768 counts as
 * "before", matching the duplicate range of RFC 2661 §5.8.
 *
 * @example
 * ```ts
 * import { seqDiff } from "./seq.ts";
 * if (seqDiff(2, 65534) !== 4 || seqDiff(65534, 2) !== -4) throw new Error("wrong");
 * ```
 */
export function seqDiff(a: number, b: number): number {
  return ((a - b) << 16) >> 16;
}

/**
 * @returns whether `a` comes before `b` in sequence order (modulo 65536).
 *
 * @example
 * ```ts
 * import { seqBefore } from "./seq.ts";
 * // RFC 2661 §5.8: after receiving 15 (so expecting 16), 0..15 and 32784..65535 are old.
 * if (!seqBefore(32784, 16) || seqBefore(32783, 16)) throw new Error("wrong");
 * ```
 */
export function seqBefore(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}
