import assert from "node:assert/strict";
import fc from "fast-check";
import { isSeq, SEQ_MODULUS, seqAdd, seqBefore, seqDiff } from "./seq.ts";

const seq = fc.integer({ min: 0, max: SEQ_MODULUS - 1 });

Deno.test("isSeq accepts exactly the integers 0..65535", () => {
  assert.equal(isSeq(0), true);
  assert.equal(isSeq(65535), true);
  assert.equal(isSeq(65536), false);
  assert.equal(isSeq(-1), false);
  assert.equal(isSeq(1.5), false);
  assert.equal(isSeq(NaN), false);
});

Deno.test("seqAdd wraps at 65535 in both directions", () => {
  assert.equal(seqAdd(65535, 1), 0);
  assert.equal(seqAdd(65530, 20), 14);
  assert.equal(seqAdd(0, -1), 65535);
  assert.equal(seqAdd(3, -10), 65529);
});

Deno.test("seqDiff is the signed 16-bit distance across the wrap", () => {
  assert.equal(seqDiff(0, 65535), 1);
  assert.equal(seqDiff(65535, 0), -1);
  assert.equal(seqDiff(10, 10), 0);
  assert.equal(seqDiff(32767, 0), 32767);
  assert.equal(seqDiff(32768, 0), -32768);
});

Deno.test("seqBefore matches the RFC 2661 §5.8 example (last received 15)", () => {
  const expected = 16;
  for (let ns = 0; ns <= 15; ns++) assert.equal(seqBefore(ns, expected), true, `ns ${ns}`);
  for (let ns = 32784; ns <= 65535; ns++) assert.equal(seqBefore(ns, expected), true, `ns ${ns}`);
  for (let ns = 16; ns <= 32783; ns++) assert.equal(seqBefore(ns, expected), false, `ns ${ns}`);
});

Deno.test("property: seqAdd and seqDiff are inverse for distances in range", () => {
  fc.assert(
    fc.property(seq, fc.integer({ min: -32768, max: 32767 }), (a, d) => {
      const b = seqAdd(a, d);
      assert.equal(isSeq(b), true);
      assert.equal(seqDiff(b, a), d);
      assert.equal(seqBefore(b, a), d < 0);
    }),
  );
});

Deno.test("property: exactly one of a<b, a=b, b<a except at distance 32768", () => {
  fc.assert(
    fc.property(seq, seq, (a, b) => {
      const forward = seqBefore(a, b), backward = seqBefore(b, a);
      if (a === b) assert.equal(forward || backward, false);
      else if (seqAdd(a, 32768) === b) assert.equal(forward && backward, true);
      else assert.equal(forward !== backward, true);
    }),
  );
});
