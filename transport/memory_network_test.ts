import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../actors/clock.ts";
import type { Endpoint } from "./datagram.ts";
import {
  EPHEMERAL_PORTS,
  type LinkImpairments,
  type LinkStats,
  MemoryNetwork,
  type MemorySocket,
  PERFECT_LINK,
  POISON_BYTE,
} from "./memory_network.ts";

// ---------------------------------------------------------------------------
// Helpers

const LAC: Endpoint = { hostname: "192.0.2.1", port: 1701 };
const LNS: Endpoint = { hostname: "192.0.2.2", port: 1701 };
const LNS_V6: Endpoint = { hostname: "2001:db8::2", port: 1701 };

function setup(options: { seed?: number; receiveQueueCapacity?: number } = {}) {
  const clock = new ManualClock();
  const net = new MemoryNetwork({ clock, seed: options.seed ?? 1, ...options });
  return { clock, net };
}

function bound(net: MemoryNetwork, at: Endpoint, receiveQueueCapacity?: number): MemorySocket {
  const r = net.bind(at, { receiveQueueCapacity });
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.value;
}

/** Fires every timer, in order, until none is left. */
function drain(clock: ManualClock): void {
  while (clock.fireNext());
}

function u32(i: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}

function idOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0);
}

/** Records what a socket receives: the datagram's id, the sender and the time. */
function record(clock: ManualClock, socket: MemorySocket) {
  const got: Array<{ id: number; from: string; at: number }> = [];
  socket.onReceive((payload, from) =>
    got.push({ id: idOf(payload), from: `${from.hostname}:${from.port}`, at: clock.now() })
  );
  return got;
}

function accountedFor(s: LinkStats): number {
  return s.delivered + s.lost + s.partitioned + s.droppedQueueFull + s.unreachable;
}

// ---------------------------------------------------------------------------
// Binding

Deno.test("bind refuses an endpoint in use; close frees it", () => {
  const { clock, net } = setup();
  const first = bound(net, LNS);
  const again = net.bind(LNS);
  assert.deepEqual(again, { ok: false, error: "192.0.2.2:1701 is already bound" });
  assert.ok(net.bind({ hostname: "192.0.2.2", port: 1702 }).ok, "another port is free");
  first.close();
  const rebound = bound(net, LNS);
  assert.deepEqual(rebound.local, LNS);
  rebound.close();
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("bind refuses malformed and unspecified addresses as errors, without throwing", () => {
  const { net } = setup();
  for (
    const bad of [
      { hostname: "lns.example", port: 1701 },
      { hostname: "192.0.2.1", port: 70000 },
      { hostname: "0.0.0.0", port: 1701 },
      { hostname: "::", port: 1701 },
    ]
  ) {
    const r = net.bind(bad);
    assert.equal(r.ok, false, JSON.stringify(bad));
  }
  assert.equal(net.bind(LAC, { receiveQueueCapacity: 0 }).ok, false);
  assert.throws(
    () => new MemoryNetwork({ clock: new ManualClock(), seed: 1, receiveQueueCapacity: 0 }),
    RangeError,
  );
});

Deno.test("bind canonicalises the address, so IPv6 spellings meet", () => {
  const { clock, net } = setup();
  const lns = bound(net, { hostname: "2001:DB8:0::2", port: 1701 });
  assert.deepEqual(lns.local, LNS_V6);
  assert.equal(net.bind(LNS_V6).ok, false, "same address, other spelling");
  const lac = bound(net, { hostname: "2001:db8::1", port: 0 });
  const got = record(clock, lns);
  lac.send(u32(1), LNS_V6);
  drain(clock);
  assert.deepEqual(got, [{ id: 1, from: `2001:db8::1:${EPHEMERAL_PORTS.first}`, at: 0 }]);
  lac.close();
  lns.close();
});

Deno.test("port 0 allocates ephemeral ports in order, skipping ports in use", () => {
  const { net } = setup();
  const host = "198.51.100.7";
  bound(net, { hostname: host, port: EPHEMERAL_PORTS.first + 1 });
  const ports = [0, 1, 2].map(() => bound(net, { hostname: host, port: 0 }).local.port);
  assert.deepEqual(ports, [
    EPHEMERAL_PORTS.first,
    EPHEMERAL_PORTS.first + 2,
    EPHEMERAL_PORTS.first + 3,
  ]);
  const again = setup().net;
  bound(again, { hostname: host, port: EPHEMERAL_PORTS.first + 1 });
  assert.deepEqual(
    [0, 1, 2].map(() => bound(again, { hostname: host, port: 0 }).local.port),
    ports,
    "the same calls give the same ports",
  );
});

Deno.test("port 0 fails as an error when a host's ephemeral range is exhausted", () => {
  const { net } = setup();
  const host = "198.51.100.8";
  const size = EPHEMERAL_PORTS.last - EPHEMERAL_PORTS.first + 1;
  const sockets = Array.from({ length: size }, () => bound(net, { hostname: host, port: 0 }));
  assert.equal(new Set(sockets.map((s) => s.local.port)).size, size);
  assert.deepEqual(net.bind({ hostname: host, port: 0 }), {
    ok: false,
    error: `no free ephemeral port on ${host}`,
  });
  assert.ok(net.bind({ hostname: "198.51.100.9", port: 0 }).ok, "other hosts are unaffected");
  sockets[100].close();
  assert.equal(bound(net, { hostname: host, port: 0 }).local.port, sockets[100].local.port);
});

// ---------------------------------------------------------------------------
// Delivery

Deno.test("delivery goes through the clock, even with zero delay", () => {
  const { clock, net } = setup();
  const lac = bound(net, LAC), lns = bound(net, LNS);
  const got = record(clock, lns);
  assert.equal(lac.send(u32(1), LNS), "ok");
  assert.equal(got.length, 0, "nothing is delivered inside send");
  assert.equal(net.inFlight, 1);
  clock.advance(0);
  assert.deepEqual(got, [{ id: 1, from: "192.0.2.1:1701", at: 0 }]);
  assert.equal(lac.stats.sent, 1);
  assert.equal(lns.stats.received, 1);
  assert.deepEqual(net.linkStats(LAC, LNS), { ...zero(), sent: 1, delivered: 1 });
  lac.close();
  lns.close();
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("a perfect link with a base delay keeps order and delivers at send time + delay", () => {
  const { clock, net } = setup();
  net.setLink(LAC, LNS, { delayMs: 25 });
  const lac = bound(net, LAC), lns = bound(net, LNS);
  const got = record(clock, lns);
  for (let i = 0; i < 5; i++) {
    lac.send(u32(i), LNS);
    clock.advance(1);
  }
  clock.advance(21);
  assert.deepEqual(got.map((g) => g.id), [0, 1]);
  drain(clock);
  assert.deepEqual(got.map((g) => [g.id, g.at]), [[0, 25], [1, 26], [2, 27], [3, 28], [4, 29]]);
  lac.close();
  lns.close();
});

Deno.test("jitter spreads arrivals over [delay, delay + jitter)", () => {
  const { clock, net } = setup({ seed: 3 });
  net.setLink("*", "*", { delayMs: 10, jitterMs: 40 });
  const lac = bound(net, LAC), lns = bound(net, LNS);
  const got = record(clock, lns);
  for (let i = 0; i < 500; i++) lac.send(u32(i), LNS);
  drain(clock);
  assert.equal(got.length, 500);
  assert.ok(got.every((g) => g.at >= 10 && g.at < 50));
  const early = got.filter((g) => g.at < 30).length;
  assert.ok(early > 200 && early < 300, `${early} of 500 in the first half`);
  lac.close();
  lns.close();
});

Deno.test("the sender may reuse its buffer once send returns", () => {
  const { clock, net } = setup();
  const lac = bound(net, LAC), lns = bound(net, LNS);
  const got = record(clock, lns);
  const buffer = u32(7);
  lac.send(buffer, LNS);
  buffer.set(u32(8));
  lac.send(buffer, LNS);
  buffer.fill(0);
  drain(clock);
  assert.deepEqual(got.map((g) => g.id), [7, 8]);
  lac.close();
  lns.close();
});

Deno.test("a payload kept past its handler is overwritten, so the copy rule cannot be missed", () => {
  const { clock, net } = setup();
  const lac = bound(net, LAC), lns = bound(net, LNS);
  const kept: Uint8Array[] = [], copied: Uint8Array[] = [];
  lns.onReceive((payload) => {
    kept.push(payload);
    copied.push(payload.slice());
  });
  lac.send(new Uint8Array([1, 2, 3]), LNS);
  drain(clock);
  assert.deepEqual([...copied[0]], [1, 2, 3]);
  assert.deepEqual([...kept[0]], [POISON_BYTE, POISON_BYTE, POISON_BYTE]);
  lac.close();
  lns.close();
});

// ---------------------------------------------------------------------------
// Impairments

Deno.test("loss rate stays within five standard deviations of the configured probability", () => {
  const n = 10_000, p = 0.2;
  const sd = Math.sqrt(n * p * (1 - p));
  for (const seed of [1, 2, 3, 4, 5]) {
    const { clock, net } = setup({ seed, receiveQueueCapacity: n });
    net.setLink(LAC, LNS, { loss: p });
    const lac = bound(net, LAC), lns = bound(net, LNS);
    const got = record(clock, lns);
    for (let i = 0; i < n; i++) lac.send(u32(i), LNS);
    drain(clock);
    const s = net.linkStats(LAC, LNS);
    assert.ok(Math.abs(s.lost - n * p) < 5 * sd, `seed ${seed}: lost ${s.lost} of ${n}`);
    assert.equal(s.delivered, n - s.lost);
    assert.equal(got.length, s.delivered);
    assert.equal(net.linkStats(LNS, LAC).sent, 0, "links are directional");
    lac.close();
    lns.close();
  }
});

Deno.test("loss applies only in the configured direction", () => {
  const { clock, net } = setup();
  net.setLink(LAC, LNS, { loss: 1 });
  const lac = bound(net, LAC), lns = bound(net, LNS);
  const atLns = record(clock, lns), atLac = record(clock, lac);
  lac.send(u32(1), LNS);
  lns.send(u32(2), LAC);
  drain(clock);
  assert.equal(atLns.length, 0);
  assert.deepEqual(atLac.map((g) => g.id), [2]);
  assert.equal(net.linkStats(LAC, LNS).lost, 1);
  lac.close();
  lns.close();
});

Deno.test("duplication delivers extra identical copies, counted per link", () => {
  const n = 5_000, p = 0.3;
  const { clock, net } = setup({ seed: 11, receiveQueueCapacity: 2 * n });
  net.setLink(LAC, LNS, { duplicate: p, delayMs: 5, jitterMs: 2 });
  const lac = bound(net, LAC), lns = bound(net, LNS);
  const got = record(clock, lns);
  for (let i = 0; i < n; i++) lac.send(u32(i), LNS);
  drain(clock);
  const s = net.linkStats(LAC, LNS);
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(s.duplicated - n * p) < 5 * sd, `duplicated ${s.duplicated}`);
  assert.equal(got.length, n + s.duplicated);
  assert.equal(s.delivered, n + s.duplicated);
  const counts = new Map<number, number>();
  for (const g of got) counts.set(g.id, (counts.get(g.id) ?? 0) + 1);
  assert.equal(counts.size, n, "every datagram arrived");
  assert.equal([...counts.values()].filter((c) => c === 2).length, s.duplicated);
  assert.ok([...counts.values()].every((c) => c <= 2));
  lac.close();
  lns.close();
});

Deno.test("reordering holds some datagrams back so later ones overtake them", () => {
  const { clock, net } = setup({ seed: 5 });
  net.setLink("*", "*", { delayMs: 2, reorder: 0.1, reorderDelayMs: 5 });
  const lac = bound(net, LAC), lns = bound(net, LNS);
  const got = record(clock, lns);
  for (let i = 0; i < 1000; i++) {
    lac.send(u32(i), LNS);
    clock.advance(1);
  }
  drain(clock);
  const ids = got.map((g) => g.id);
  assert.deepEqual([...ids].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  const late = got.filter((g) => g.at - g.id === 7);
  const overtaken = ids.filter((id, i) => i > 0 && id < ids[i - 1]).length;
  assert.ok(late.length > 50 && late.length < 150, `${late.length} held back`);
  assert.ok(overtaken > 0, "some datagram arrived after a later one");
  assert.ok(got.every((g) => g.at - g.id === 2 || g.at - g.id === 7));
  lac.close();
  lns.close();
});

Deno.test("the most specific link rule wins, the sender side weighing more", () => {
  const { net } = setup();
  const other: Endpoint = { hostname: "192.0.2.9", port: 1701 };
  net.setLink("*", "*", { delayMs: 1 });
  net.setLink("*", LNS, { delayMs: 2 });
  net.setLink({ hostname: LAC.hostname }, "*", { delayMs: 3 });
  net.setLink(LAC, "*", { delayMs: 4 });
  net.setLink(LAC, { hostname: LNS.hostname }, { delayMs: 5 });
  assert.equal(net.impairments(other, other).delayMs, 1);
  assert.equal(net.impairments(other, LNS).delayMs, 2);
  assert.equal(net.impairments({ ...LAC, port: 9 }, LNS).delayMs, 3, "(host, *) beats (*, B)");
  assert.equal(net.impairments(LAC, other).delayMs, 4);
  assert.equal(net.impairments(LAC, LNS).delayMs, 5);
  net.setLink(LAC, { hostname: LNS.hostname }, { loss: 0.5 });
  assert.deepEqual(net.impairments(LAC, LNS), { ...PERFECT_LINK, loss: 0.5 }, "replaced whole");
  net.clearLink(LAC, { hostname: LNS.hostname });
  assert.equal(net.impairments(LAC, LNS).delayMs, 4);
  net.clearLink("*", "*");
  assert.deepEqual(net.impairments(other, other), PERFECT_LINK);
});

Deno.test("setLink refuses out-of-range impairments and malformed patterns", () => {
  const { net } = setup();
  const bad: Array<Partial<LinkImpairments>> = [
    { loss: -0.1 },
    { loss: 1.5 },
    { duplicate: NaN },
    { reorder: 2 },
    { delayMs: -1 },
    { jitterMs: Infinity },
    { reorderDelayMs: NaN },
  ];
  for (const imp of bad) {
    assert.throws(() => net.setLink("*", "*", imp), RangeError, JSON.stringify(imp));
  }
  assert.throws(() => net.setLink({ hostname: "lns.example" }, "*", {}), RangeError);
  assert.deepEqual(net.impairments(LAC, LNS), PERFECT_LINK, "nothing was set");
});

// ---------------------------------------------------------------------------
// Partitions

Deno.test("a partition cuts both directions, including datagrams in flight, until healed", () => {
  const { clock, net } = setup();
  net.setLink("*", "*", { delayMs: 10 });
  const lac = bound(net, LAC), lns = bound(net, LNS), other = bound(net, LNS_V6);
  const atLns = record(clock, lns), atLac = record(clock, lac), atOther = record(clock, other);

  lac.send(u32(1), LNS); // in flight when the partition starts
  clock.advance(5);
  net.partition(LAC, LNS);
  assert.ok(net.isPartitioned(LAC, LNS) && net.isPartitioned(LNS, LAC));
  lac.send(u32(2), LNS);
  lns.send(u32(3), LAC);
  lac.send(u32(4), LNS_V6);
  drain(clock);
  assert.equal(atLns.length, 0);
  assert.equal(atLac.length, 0);
  assert.deepEqual(atOther.map((g) => g.id), [4], "other pairs are unaffected");
  assert.equal(net.linkStats(LAC, LNS).partitioned, 2);
  assert.equal(net.linkStats(LNS, LAC).partitioned, 1);

  net.heal(LNS, LAC); // either order
  assert.equal(net.isPartitioned(LAC, LNS), false);
  lac.send(u32(5), LNS);
  lns.send(u32(6), LAC);
  drain(clock);
  assert.deepEqual(atLns.map((g) => g.id), [5]);
  assert.deepEqual(atLac.map((g) => g.id), [6]);
  for (const s of [lac, lns, other]) s.close();
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("a host pattern partitions every port of the host; healing a sent pair only", () => {
  const { clock, net } = setup();
  const lns = bound(net, LNS);
  const clients = [1, 2, 3].map((i) => bound(net, { hostname: "203.0.113.1", port: 1700 + i }));
  const got = record(clock, lns);
  net.partition({ hostname: "203.0.113.1" }, "*");
  net.partition(LAC, LNS);
  for (const c of clients) c.send(u32(c.local.port), LNS);
  drain(clock);
  assert.equal(got.length, 0);
  net.heal(LAC, LNS);
  assert.ok(net.isPartitioned(clients[0].local, LNS), "other partitions stay");
  net.heal("*", { hostname: "203.0.113.1" });
  for (const c of clients) c.send(u32(c.local.port), LNS);
  drain(clock);
  assert.deepEqual(got.map((g) => g.id), [1701, 1702, 1703]);
  for (const s of [lns, ...clients]) s.close();
});

// ---------------------------------------------------------------------------
// Receive queue

Deno.test("a burst larger than the receive queue delivers exactly its capacity", () => {
  const { clock, net } = setup();
  const lac = bound(net, LAC), lns = bound(net, LNS, 8);
  const got = record(clock, lns);
  for (let i = 0; i < 20; i++) lac.send(u32(i), LNS);
  drain(clock);
  assert.deepEqual(got.map((g) => g.id), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(net.linkStats(LAC, LNS), {
    ...zero(),
    sent: 20,
    delivered: 8,
    droppedQueueFull: 12,
  });
  assert.equal(lns.stats.receiveDropped, 12);
  lac.send(u32(99), LNS);
  drain(clock);
  assert.equal(got.at(-1)?.id, 99, "the queue empties once drained");
  lac.close();
  lns.close();
});

Deno.test("a burst of exactly the queue capacity loses nothing", () => {
  const { clock, net } = setup({ receiveQueueCapacity: 16 });
  const lac = bound(net, LAC), lns = bound(net, LNS);
  assert.equal(lns.receiveQueueCapacity, 16);
  const got = record(clock, lns);
  for (let i = 0; i < 16; i++) lac.send(u32(i), LNS);
  drain(clock);
  assert.equal(got.length, 16);
  assert.equal(net.linkStats(LAC, LNS).droppedQueueFull, 0);
  lac.close();
  lns.close();
});

Deno.test("datagrams wait in the queue until a handler is set, then drain in order", () => {
  const { clock, net } = setup();
  const lac = bound(net, LAC), lns = bound(net, LNS, 4);
  for (let i = 0; i < 6; i++) lac.send(u32(i), LNS);
  drain(clock);
  assert.equal(lns.queued, 4);
  assert.equal(net.linkStats(LAC, LNS).droppedQueueFull, 2);
  const got = record(clock, lns);
  assert.equal(got.length, 0, "delivery still goes through the clock");
  drain(clock);
  assert.deepEqual(got.map((g) => g.id), [0, 1, 2, 3]);
  assert.equal(lns.queued, 0);
  lac.close();
  lns.close();
});

Deno.test("a throwing handler is counted and surfaces; the rest of the queue still drains", () => {
  const { clock, net } = setup();
  const lac = bound(net, LAC), lns = bound(net, LNS);
  const got: number[] = [];
  lns.onReceive((payload) => {
    const id = idOf(payload);
    if (id === 1) throw new Error("handler bug");
    got.push(id);
  });
  for (let i = 0; i < 3; i++) lac.send(u32(i), LNS);
  assert.throws(() => drain(clock), /handler bug/);
  assert.equal(lns.stats.receiveErrors, 1);
  drain(clock);
  assert.deepEqual(got, [0, 2]);
  lac.close();
  lns.close();
  assert.equal(clock.pendingTimers, 0);
});

// ---------------------------------------------------------------------------
// Closed sockets

Deno.test("a closed socket refuses sends, calls no handler and frees its queue", () => {
  const { clock, net } = setup();
  net.setLink(LAC, LNS, { delayMs: 10 });
  const lac = bound(net, LAC), lns = bound(net, LNS);
  const got = record(clock, lns);
  lac.send(u32(1), LNS); // in flight at close
  lns.close();
  lns.close();
  assert.equal(lns.send(u32(2), LAC), "closed");
  lns.onReceive(() => assert.fail("handler set after close was called"));
  drain(clock);
  assert.equal(got.length, 0);
  assert.equal(net.linkStats(LAC, LNS).unreachable, 1);
  assert.equal(net.linkStats(LNS, LAC).sent, 0);
  lac.close();
  assert.equal(lac.send(u32(3), LNS), "closed");
  assert.equal(lac.stats.sent, 1);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("closing with a queue and a drain pending leaves no timer and counts the queued", () => {
  const { clock, net } = setup();
  const lac = bound(net, LAC), lns = bound(net, LNS), closer = bound(net, LNS_V6);
  const got = record(clock, lns);
  // All three arrive at one instant; closer's drain runs before lns's and closes lns.
  closer.onReceive(() => lns.close());
  lac.send(u32(0), LNS_V6);
  lac.send(u32(1), LNS);
  lac.send(u32(2), LNS);
  clock.advance(0);
  assert.equal(got.length, 0);
  assert.equal(lns.stats.received, 0);
  assert.equal(lns.stats.receiveDropped, 2);
  assert.equal(net.linkStats(LAC, LNS).unreachable, 2);
  assert.equal(clock.pendingTimers, 0);
  lac.close();
  closer.close();
});

Deno.test("datagrams to a port nobody bound are unreachable; a socket bound later gets later ones", () => {
  const { clock, net } = setup();
  const lac = bound(net, LAC);
  lac.send(u32(1), LNS);
  drain(clock);
  assert.equal(net.linkStats(LAC, LNS).unreachable, 1);
  const lns = bound(net, LNS);
  const got = record(clock, lns);
  lac.send(u32(2), LNS);
  drain(clock);
  assert.deepEqual(got.map((g) => g.id), [2]);
  assert.equal(lac.send(u32(3), { hostname: LNS.hostname, port: 0 }), "dropped");
  assert.equal(lac.stats.sendErrors, 1);
  lac.close();
  lns.close();
});

// ---------------------------------------------------------------------------
// Determinism and accounting

/** A lossy, duplicating, reordering exchange between three sockets; returns its trace. */
function traceOf(seed: number): string[] {
  const { clock, net } = setup({ seed, receiveQueueCapacity: 8 });
  net.setLink("*", "*", {
    delayMs: 3,
    jitterMs: 4,
    loss: 0.1,
    duplicate: 0.1,
    reorder: 0.1,
    reorderDelayMs: 6,
  });
  const sockets = [bound(net, LAC), bound(net, LNS), bound(net, { ...LNS, port: 0 })];
  const trace: string[] = [];
  sockets.forEach((s, k) =>
    s.onReceive((payload, from) => {
      const id = idOf(payload);
      trace.push(`${clock.now().toFixed(6)} ${k} <- ${from.port} #${id}`);
      if (id < 2000) s.send(u32(id + 1000), from); // echo once
    })
  );
  for (let i = 0; i < 300; i++) {
    sockets[i % 3].send(u32(i), sockets[(i + 1) % 3].local);
    if (i % 7 === 0) clock.advance(1);
  }
  drain(clock);
  for (const s of sockets) s.close();
  assert.equal(clock.pendingTimers, 0);
  return trace;
}

Deno.test("the same seed gives the same delivery trace; another seed a different one", () => {
  const a = traceOf(42), b = traceOf(42), c = traceOf(43);
  assert.ok(a.length > 300, `${a.length} deliveries`);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

Deno.test("every datagram is accounted for, and no timer outlives the sockets", () => {
  const probability = fc.double({ min: 0, max: 1, noNaN: true });
  const delay = fc.integer({ min: 0, max: 20 });
  const impairments = fc.record({
    delayMs: delay,
    jitterMs: delay,
    loss: probability,
    duplicate: probability,
    reorder: probability,
    reorderDelayMs: delay,
  });
  const action = fc.oneof(
    fc.record({ kind: fc.constant("send" as const), from: fc.nat(3), to: fc.nat(3) }),
    fc.record({ kind: fc.constant("tick" as const), ms: fc.nat(15) }),
    fc.record({ kind: fc.constant("partition" as const), a: fc.nat(3), b: fc.nat(3) }),
    fc.record({ kind: fc.constant("heal" as const), a: fc.nat(3), b: fc.nat(3) }),
    fc.record({ kind: fc.constant("close" as const), which: fc.nat(3) }),
  );
  fc.assert(
    fc.property(
      fc.integer(),
      impairments,
      fc.array(action, { maxLength: 200 }),
      (seed, imp, actions) => {
        const { clock, net } = setup({ seed, receiveQueueCapacity: 4 });
        net.setLink("*", "*", imp);
        const ends = [0, 1, 2, 3].map((i): Endpoint => ({ hostname: `10.0.0.${i}`, port: 1701 }));
        const sockets = ends.map((e) => bound(net, e));
        sockets.forEach((s) => s.onReceive(() => {}));
        let sent = 0;
        for (const a of actions) {
          if (a.kind === "send") sent += sockets[a.from].send(u32(0), ends[a.to]) === "ok" ? 1 : 0;
          else if (a.kind === "tick") clock.advance(a.ms);
          else if (a.kind === "partition") net.partition(ends[a.a], ends[a.b]);
          else if (a.kind === "heal") net.heal(ends[a.a], ends[a.b]);
          else sockets[a.which].close();
        }
        for (const s of sockets) s.close();
        drain(clock);
        const t = net.totals();
        assert.equal(t.sent, sent);
        assert.equal(net.inFlight, 0);
        assert.equal(t.sent + t.duplicated, accountedFor(t));
        assert.equal(t.delivered, sockets.reduce((n, s) => n + s.stats.received, 0));
        assert.equal(clock.pendingTimers, 0);
      },
    ),
  );
});

function zero(): LinkStats {
  return {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    droppedQueueFull: 0,
    partitioned: 0,
    unreachable: 0,
  };
}
