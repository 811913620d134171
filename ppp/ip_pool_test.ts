import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIpv4, IpPool, parseIpv4, parseIpv4Range } from "./ip_pool.ts";

function pool(spec: string): IpPool {
  const r = IpPool.parse(spec);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function drain(p: IpPool): string[] {
  const out: string[] = [];
  for (let a = p.allocate(); a !== null; a = p.allocate()) out.push(a);
  return out;
}

Deno.test("IPv4 literals: dotted quads only, no leading zeros, round trip", () => {
  assert.equal(parseIpv4("255.255.255.255"), 0xffffffff);
  assert.equal(formatIpv4(0xffffffff), "255.255.255.255");
  assert.equal(formatIpv4(parseIpv4("10.1.2.3")!), "10.1.2.3");
  for (const bad of ["10.0.0", "10.0.0.256", "010.0.0.1", "1.2.3.4 ", "::1", "a.b.c.d", ""]) {
    assert.equal(parseIpv4(bad), undefined, bad);
  }
});

Deno.test("CIDR pools leave out network and broadcast; /31, /32 and ranges keep every address", () => {
  assert.deepEqual(drain(pool("192.0.2.0/29")), [
    "192.0.2.1",
    "192.0.2.2",
    "192.0.2.3",
    "192.0.2.4",
    "192.0.2.5",
    "192.0.2.6",
  ]);
  assert.deepEqual(drain(pool("192.0.2.0/31")), ["192.0.2.0", "192.0.2.1"]);
  assert.deepEqual(drain(pool("192.0.2.7/32")), ["192.0.2.7"]);
  assert.deepEqual(drain(pool("192.0.2.254 - 192.0.3.1")), [
    "192.0.2.254",
    "192.0.2.255",
    "192.0.3.0",
    "192.0.3.1",
  ]);
  const big = pool("10.0.0.0/8");
  assert.equal(big.size, 2 ** 24 - 2);
  assert.equal(big.allocate(), "10.0.0.1");
  assert.equal(pool("0.0.0.0/0").size, 2 ** 32 - 2);
});

Deno.test("pool specs that are wrong say why", () => {
  const error = (spec: string) => {
    const r = parseIpv4Range(spec);
    return r.ok ? "accepted" : r.error;
  };
  assert.equal(error("10.0.0.1/24"), '"10.0.0.1/24" has host bits set');
  assert.equal(error("10.0.0.0/33"), 'prefix length "33" is not in 0..32');
  assert.equal(error("10.0.0/24"), '"10.0.0" is not an IPv4 address');
  assert.equal(error("10.0.0.9-10.0.0.1"), 'range "10.0.0.9-10.0.0.1" ends before it starts');
  assert.equal(error("10.0.0.1-x"), '"x" is not an IPv4 address');
  assert.match(error("10.0.0.1"), /neither a prefix/);
  assert.throws(() => new IpPool({ first: 5, last: 4 }), RangeError);
});

Deno.test("IP pool exhaustion: null when all are in use, counts add up, a release makes room", () => {
  const p = pool("10.0.0.0/30");
  assert.equal(p.size, 2);
  const [a, b] = [p.allocate(), p.allocate()];
  assert.deepEqual([a, b], ["10.0.0.1", "10.0.0.2"]);
  assert.equal(p.allocate(), null);
  assert.equal(p.allocate(), null);
  assert.deepEqual([p.inUse, p.available], [2, 0]);
  assert.equal(p.release("10.0.0.2"), true);
  assert.equal(p.release("10.0.0.2"), false); // a double release changes nothing
  assert.deepEqual([p.inUse, p.available], [1, 1]);
  assert.equal(p.allocate(), "10.0.0.2");
  assert.equal(p.allocate(), null);
});

Deno.test("IP pool reuse: never-used addresses first, then the least recently released", () => {
  const p = pool("10.0.0.1-10.0.0.4");
  const all = drain(p);
  p.release(all[2]);
  p.release(all[0]);
  assert.equal(p.allocate(), all[2]);
  assert.equal(p.allocate(), all[0]);
  const q = pool("10.0.0.1-10.0.0.3");
  q.release(q.allocate()!);
  assert.equal(q.allocate(), "10.0.0.2");
});

Deno.test("IP pool reserve: a client's own address, unless taken or outside the pool", () => {
  const p = pool("10.0.0.0/29");
  assert.equal(p.reserve("10.0.0.3"), true);
  assert.equal(p.reserve("10.0.0.3"), false);
  assert.equal(p.reserve("10.0.0.0"), false); // network address
  assert.equal(p.reserve("10.0.0.7"), false); // broadcast
  assert.equal(p.reserve("192.0.2.1"), false);
  assert.equal(p.reserve("not an address"), false);
  assert.equal(p.includes("10.0.0.6"), true);
  assert.equal(p.includes("10.0.0.7"), false);
  assert.deepEqual(drain(p), ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"]);
  assert.equal(p.release("10.0.0.3"), true);
  assert.equal(p.allocate(), "10.0.0.3");
  // A released address reserved again is not also handed out from the released list.
  p.release("10.0.0.1");
  assert.equal(p.reserve("10.0.0.1"), true);
  assert.equal(p.allocate(), null);
});

type Op = { op: "allocate" } | { op: "release" | "reserve"; index: number };

Deno.test("IP pool property: allocate, reserve and release never hand out an address twice", () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.constant({ op: "allocate" as const }),
    fc.record({ op: fc.constantFrom("release" as const, "reserve" as const), index: fc.nat(20) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 200 }), (size, ops) => {
      const p = new IpPool({ first: 0x0a000001, last: 0x0a000000 + size });
      const model = new Set<string>();
      const addr = (i: number) => formatIpv4(0x0a000000 + i); // includes out-of-pool .0 and past last
      for (const o of ops) {
        if (o.op === "allocate") {
          const a = p.allocate();
          if (a === null) assert.equal(model.size, size);
          else {
            assert.ok(!model.has(a), `${a} handed out twice`);
            assert.ok(p.includes(a));
            model.add(a);
          }
        } else if (o.op === "reserve") {
          const a = addr(o.index);
          assert.equal(p.reserve(a), p.includes(a) && !model.has(a));
          if (p.includes(a)) model.add(a);
        } else {
          const a = addr(o.index);
          assert.equal(p.release(a), model.delete(a));
        }
        assert.equal(p.inUse, model.size);
        assert.equal(p.available, size - model.size);
      }
    }),
    { numRuns: 1000 },
  );
});
