import assert from "node:assert/strict";
import fc from "fast-check";
import { Prng } from "./prng.ts";
import { ActorRegistry, IdAllocator } from "./registry.ts";
import { testSystem } from "./testing.ts";

Deno.test("IdAllocator never hands out 0 or an id in use, and reports exhaustion as a result", () => {
  const ids = new IdAllocator({ random: new Prng(3) });
  assert.equal(ids.capacity, 65535);
  const seen = new Set<number>();
  for (let i = 0; i < 65535; i++) {
    const r = ids.allocate();
    assert.ok(r.ok);
    assert.ok(r.value >= 1 && r.value <= 65535);
    assert.ok(!seen.has(r.value), `id ${r.value} handed out twice`);
    seen.add(r.value);
  }
  assert.deepEqual(ids.allocate(), { ok: false, error: "exhausted" });
  assert.equal(ids.release(4242), true);
  assert.deepEqual(ids.allocate(), { ok: true, value: 4242 });
  assert.equal(ids.release(0), false);
});

Deno.test("IdAllocator: sequential mode wraps and skips ids in use", () => {
  const ids = new IdAllocator({ min: 1, max: 4 });
  const take = () => {
    const r = ids.allocate();
    return r.ok ? r.value : r.error;
  };
  assert.deepEqual([take(), take(), take()], [1, 2, 3]);
  ids.release(2);
  assert.deepEqual([take(), take(), take()], [4, 2, "exhausted"]);
  ids.release(1);
  assert.equal(take(), 1);
});

Deno.test("IdAllocator: random ids follow the seed", () => {
  const run = (seed: number) => {
    const ids = new IdAllocator({ random: new Prng(seed) });
    return Array.from({ length: 10 }, () => {
      const r = ids.allocate();
      return r.ok ? r.value : -1;
    });
  };
  assert.deepEqual(run(1), run(1));
  assert.notDeepEqual(run(1), run(2));
});

Deno.test("IdAllocator property: ids in use are always distinct and within range", () => {
  const op = fc.oneof(fc.constant("alloc" as const), fc.nat(40).map((i) => ({ release: i })));
  fc.assert(fc.property(fc.integer(), fc.array(op, { maxLength: 300 }), (seed, ops) => {
    const ids = new IdAllocator({ min: 1, max: 40, random: new Prng(seed) });
    const held = new Set<number>();
    for (const o of ops) {
      if (o === "alloc") {
        const r = ids.allocate();
        if (r.ok) {
          assert.ok(r.value >= 1 && r.value <= 40 && !held.has(r.value));
          held.add(r.value);
        } else {
          assert.equal(held.size, 40);
        }
      } else {
        assert.equal(ids.release(o.release), held.delete(o.release));
      }
      assert.equal(ids.size, held.size);
    }
  }));
});

Deno.test("ActorRegistry forgets an entry when its actor stops and tells onRemove once", () => {
  const { system, scheduler } = testSystem({ seed: 1 });
  const ids = new IdAllocator();
  const removed: number[] = [];
  const tunnels = new ActorRegistry<number, string>({
    onRemove: (id) => {
      removed.push(id);
      ids.release(id);
    },
  });
  const spawn = () => system.spawn<string>(() => ({ handle() {} }), { capacity: 4 });
  const a = spawn(), b = spawn();
  const idA = ids.allocate(), idB = ids.allocate();
  assert.ok(idA.ok && idB.ok);
  assert.equal(tunnels.register(idA.value, a), "ok");
  assert.equal(tunnels.register(idA.value, b), "taken");
  assert.equal(tunnels.register(idB.value, b), "ok");
  assert.equal(tunnels.lookup(idA.value), a);
  system.stop(a);
  scheduler.runUntilIdle();
  assert.equal(tunnels.lookup(idA.value), undefined);
  assert.deepEqual(removed, [idA.value]);
  assert.equal(tunnels.register(99, a), "closed");
  assert.equal(tunnels.unregister(idB.value), true);
  assert.equal(tunnels.unregister(idB.value), false);
  system.stop(b);
  assert.deepEqual(removed, [idA.value, idB.value], "a manual unregister is not reported again");
  assert.equal(tunnels.size, 0);
  assert.equal(ids.size, 0);
});
