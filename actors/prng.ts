/**
 * A small seeded pseudo-random generator (mulberry32). Tests and the
 * deterministic scheduler need "random" choices that a seed reproduces.
 * Not for secrets.
 *
 * @module
 */

/**
 * Seeded 32-bit PRNG: the same seed yields the same sequence.
 *
 * @example
 * ```ts
 * import { Prng } from "./prng.ts";
 * const a = new Prng(7), b = new Prng(7);
 * if (a.nextInt(100) !== b.nextInt(100)) throw new Error("not reproducible");
 * ```
 */
export class Prng {
  #state: number;

  /** @param seed any number; only its low 32 bits matter. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uniformly distributed integer in `[0, 2^32)`. */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in `[0, bound)`; `bound` must be in `[1, 2^32]`. The bias is below 2^-16 for 16-bit bounds. */
  nextInt(bound: number): number {
    return Math.floor((this.nextUint32() / 0x1_0000_0000) * bound);
  }

  /** A float in `[0, 1)`. */
  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }
}
