import assert from "node:assert/strict";
import { Prng } from "./prng.ts";

Deno.test("Prng: the same seed gives the same sequence, another seed another", () => {
  const take = (seed: number) => {
    const p = new Prng(seed);
    return Array.from({ length: 32 }, () => p.nextUint32());
  };
  assert.deepEqual(take(99), take(99));
  assert.notDeepEqual(take(99), take(100));
});

Deno.test("Prng.nextInt stays in range and reaches both ends", () => {
  const p = new Prng(5);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const n = p.nextInt(7);
    assert.ok(Number.isInteger(n) && n >= 0 && n < 7);
    seen.add(n);
    const f = p.next();
    assert.ok(f >= 0 && f < 1);
  }
  assert.equal(seen.size, 7);
});
