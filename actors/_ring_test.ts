import assert from "node:assert/strict";
import fc from "fast-check";
import { Ring } from "./_ring.ts";

type Op = { op: "push"; v: number } | { op: "shift" } | { op: "removeAt"; i: number } | {
  op: "clear";
};

Deno.test("Ring behaves like an array queue under any sequence of operations", () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.integer().map((v) => ({ op: "push" as const, v })) },
    { weight: 3, arbitrary: fc.constant({ op: "shift" as const }) },
    { weight: 1, arbitrary: fc.nat(20).map((i) => ({ op: "removeAt" as const, i })) },
    { weight: 1, arbitrary: fc.constant({ op: "clear" as const }) },
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 200 }), fc.boolean(), (ops, releaseWhenEmpty) => {
    const ring = new Ring<number>({ releaseWhenEmpty });
    const model: number[] = [];
    for (const o of ops) {
      switch (o.op) {
        case "push":
          ring.push(o.v);
          model.push(o.v);
          break;
        case "shift":
          assert.equal(ring.shift(), model.shift());
          break;
        case "removeAt":
          assert.equal(
            ring.removeAt(o.i),
            o.i < model.length ? model.splice(o.i, 1)[0] : undefined,
          );
          break;
        case "clear":
          ring.clear();
          model.length = 0;
          break;
      }
      assert.equal(ring.length, model.length);
      for (let i = 0; i < model.length; i++) assert.equal(ring.at(i), model[i]);
      assert.equal(ring.at(model.length), undefined);
    }
  }));
});
