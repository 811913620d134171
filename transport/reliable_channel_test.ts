import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../actors/clock.ts";
import {
  type ChannelFailure,
  type ChannelOutput,
  MAX_WINDOW_SIZE,
  ReliableChannel,
  type ReliableChannelOptions,
  retransmissionCycleMs,
} from "./reliable_channel.ts";
import { seqAdd } from "./seq.ts";

// ---------------------------------------------------------------------------
// Helpers

/** A message body carrying its index, so delivery order can be checked. */
function msg(i: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}

function idOf(body: Uint8Array): number {
  return new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
}

/** mulberry32: a small seeded PRNG, so every lossy run is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Sent extends ChannelOutput {
  at: number;
}

/** One channel whose peer is the test itself: records what it sends, delivers and fails. */
function lone(clock: ManualClock, options: Partial<ReliableChannelOptions> = {}) {
  const wire: Sent[] = [];
  const delivered: [number, number][] = [];
  const failures: ChannelFailure[] = [];
  const channel = new ReliableChannel({
    clock,
    transmit: (pkt) => wire.push({ ...pkt, at: clock.now() }),
    deliver: (ns, body) => delivered.push([ns, idOf(body)]),
    onFailure: (reason) => failures.push(reason),
    ...options,
  });
  return { channel, wire, delivered, failures };
}

function ids(wire: ChannelOutput[]): (number | null)[] {
  return wire.map((p) => p.body === null ? null : idOf(p.body));
}

interface LinkOptions {
  loss: number;
  duplicate: number;
  reorder: number;
  minDelayMs: number;
  maxDelayMs: number;
}

interface SimOptions extends LinkOptions {
  seed: number;
  /** Messages each side sends. */
  count: number;
  a?: Partial<ReliableChannelOptions>;
  b?: Partial<ReliableChannelOptions>;
}

interface Side {
  channel: ReliableChannel;
  delivered: number[];
  deliveredNs: number[];
  failures: ChannelFailure[];
  produced: number;
  maxUnacked: number;
  refused: number;
}

/**
 * Two channels back to back through a seeded lossy link (loss, duplication,
 * reordering, delay) on a manual clock. Each side sends `count` messages as
 * fast as its queue accepts them. Window and congestion-window limits are
 * asserted at every transmission.
 */
function simulate(o: SimOptions) {
  const clock = new ManualClock();
  const random = rng(o.seed);
  const sides: Side[] = [];
  const link = (from: number) => (pkt: ChannelOutput) => {
    const ch = sides[from].channel;
    assert.ok(ch.unacknowledged <= ch.peerReceiveWindowSize, "more unacked than peer RWS");
    assert.ok(ch.inFlight <= Math.min(ch.congestionWindow, ch.peerReceiveWindowSize), "over CWND");
    sides[from].maxUnacked = Math.max(sides[from].maxUnacked, ch.unacknowledged);
    if (random() < o.loss) return;
    const copies = random() < o.duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      let delay = o.minDelayMs + random() * (o.maxDelayMs - o.minDelayMs);
      if (random() < o.reorder) delay += random() * 4 * o.maxDelayMs;
      clock.setTimer(delay, () => sides[1 - from].channel.receive(pkt.ns, pkt.nr, pkt.body));
    }
  };
  for (const [index, options] of [o.a, o.b].entries()) {
    const delivered: number[] = [], deliveredNs: number[] = [], failures: ChannelFailure[] = [];
    const channel = new ReliableChannel({
      clock,
      transmit: link(index),
      deliver: (ns, body) => {
        delivered.push(idOf(body));
        deliveredNs.push(ns);
      },
      onFailure: (reason) => failures.push(reason),
      maxQueued: 8,
      ...options,
    });
    sides.push({
      channel,
      delivered,
      deliveredNs,
      failures,
      produced: 0,
      maxUnacked: 0,
      refused: 0,
    });
  }
  const [a, b] = sides;
  const produce = (s: Side) => {
    while (s.produced < o.count) {
      const r = s.channel.send(msg(s.produced));
      if (r !== "ok") {
        assert.equal(r, "full");
        s.refused++;
        return;
      }
      s.produced++;
    }
  };
  const done = () =>
    a.produced === o.count && b.produced === o.count && a.channel.idle && b.channel.idle &&
    clock.pendingTimers === 0;
  for (let steps = 0; !done(); steps++) {
    assert.ok(steps < 10_000_000, "simulation does not converge");
    produce(a);
    produce(b);
    if (done() || !clock.fireNext()) break;
  }
  return { clock, a, b, done: done() };
}

function assertExactlyOnceInOrder(s: Side, count: number, initialNr: number) {
  assert.deepEqual(s.failures, []);
  assert.equal(s.delivered.length, count);
  for (let i = 0; i < count; i++) {
    if (s.delivered[i] !== i) assert.fail(`delivery ${i} was message ${s.delivered[i]}`);
    if (s.deliveredNs[i] !== seqAdd(initialNr, i)) assert.fail(`delivery ${i} had wrong Ns`);
  }
}

// ---------------------------------------------------------------------------
// Sequence numbers, ZLBs, acknowledgement

Deno.test("Appendix B.1: lock-step tunnel establishment has the RFC's Ns and Nr", () => {
  const clock = new ManualClock();
  const lac = lone(clock);
  const lns = lone(clock);
  lac.channel.send(msg(1)); // SCCRQ
  assert.deepEqual(lac.wire.map(({ ns, nr }) => [ns, nr]), [[0, 0]]);
  assert.equal(lns.channel.receive(0, 0, lac.wire[0].body), "new");
  lns.channel.send(msg(2)); // SCCRP
  assert.deepEqual(lns.wire.map(({ ns, nr }) => [ns, nr]), [[0, 1]]);
  assert.equal(lac.channel.receive(0, 1, lns.wire[0].body), "new");
  lac.channel.send(msg(3)); // SCCCN
  assert.deepEqual(lac.wire.map(({ ns, nr }) => [ns, nr]), [[0, 0], [1, 1]]);
  assert.equal(lns.channel.receive(1, 1, lac.wire[1].body), "new");
  clock.advance(lns.channel.ackDelayMs);
  assert.deepEqual(lns.wire[1], { ns: 1, nr: 2, body: null, at: 100 }); // ZLB
  assert.equal(lac.channel.receive(1, 2, null), "zlb");
  for (const side of [lac, lns]) {
    assert.equal(side.channel.idle, true);
    assert.equal(side.channel.unacknowledged, 0);
  }
  assert.equal(lac.wire.length, 2); // the LAC owes nothing: the SCCRP was acked by the SCCCN
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("a ZLB carries the next Ns without consuming it; a ZLB's Ns does not move Nr", () => {
  const clock = new ManualClock();
  const { channel, wire } = lone(clock, { initialNs: 7 });
  channel.receive(0, 7, msg(0));
  clock.advance(100);
  assert.deepEqual(wire[0], { ns: 7, nr: 1, body: null, at: 100 });
  assert.equal(channel.nextNs, 7);
  channel.send(msg(1));
  assert.equal(wire[1].ns, 7);
  assert.equal(channel.nextNs, 8);
  assert.equal(channel.receive(1, 8, null), "zlb");
  assert.equal(channel.expectedNr, 1);
  assert.equal(channel.stats.zlbSent, 1);
  assert.equal(channel.stats.zlbReceived, 1);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("Nr releases every message before it and stops the retransmission timer", () => {
  const clock = new ManualClock();
  const { channel, wire } = lone(clock, { peerReceiveWindowSize: 4 });
  channel.setPeerReceiveWindowSize(4);
  for (let i = 0; i < 3; i++) channel.send(msg(i));
  // Slow start: one message until the first ack.
  assert.equal(wire.length, 1);
  channel.receive(0, 1, null);
  assert.equal(wire.length, 3);
  assert.equal(channel.unacknowledged, 2);
  assert.equal(clock.pendingTimers, 1);
  // A stale Nr acknowledges nothing.
  channel.receive(0, 1, null);
  assert.equal(channel.unacknowledged, 2);
  // One Nr acknowledges both outstanding messages.
  channel.receive(0, 3, null);
  assert.equal(channel.unacknowledged, 0);
  assert.equal(channel.idle, true);
  assert.equal(clock.pendingTimers, 0);
  clock.advance(60_000);
  assert.equal(wire.length, 3); // no retransmission
});

Deno.test("an Nr acknowledging messages never sent is counted and ignored, not trusted", () => {
  const clock = new ManualClock();
  const { channel, wire, delivered } = lone(clock);
  channel.send(msg(0));
  assert.equal(channel.receive(0, 5, msg(9)), "new");
  assert.equal(channel.stats.invalidNr, 1);
  assert.equal(channel.unacknowledged, 1);
  assert.deepEqual(delivered, [[0, 9]]); // the body is still good
  clock.advance(1000);
  assert.deepEqual(wire.slice(1), [
    { ns: 1, nr: 1, body: null, at: 100 }, // acks the body
    { ns: 0, nr: 1, body: msg(0), at: 1000 }, // still retransmitted
  ]);
  assert.equal(channel.receive(1, 1, null), "zlb");
  assert.equal(channel.idle, true);
  channel.close();
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("a ZLB goes after ackDelayMs when the owner sends nothing", () => {
  const clock = new ManualClock();
  const { channel, wire } = lone(clock, { ackDelayMs: 150 });
  channel.receive(0, 0, msg(0));
  clock.advance(100);
  channel.receive(1, 0, msg(1)); // the first receipt sets the deadline
  clock.advance(49);
  assert.equal(wire.length, 0);
  assert.equal(channel.idle, false);
  clock.advance(1);
  assert.deepEqual(wire, [{ ns: 0, nr: 2, body: null, at: 150 }]);
  assert.equal(channel.idle, true);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("no ZLB when a message sent within ackDelayMs carries the ack", () => {
  const clock = new ManualClock();
  const { channel, wire } = lone(clock);
  channel.receive(0, 0, msg(0));
  clock.advance(50);
  channel.send(msg(1));
  assert.deepEqual(wire, [{ ns: 0, nr: 1, body: msg(1), at: 50 }]);
  clock.advance(900);
  assert.equal(channel.stats.zlbSent, 0);
  assert.equal(wire.length, 1);
  channel.receive(0, 1, null);
  assert.equal(channel.idle, true);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("the ack is not delayed once the peer has our whole window outstanding", () => {
  const clock = new ManualClock();
  const { channel, wire } = lone(clock, { receiveWindowSize: 3 });
  channel.receive(0, 0, msg(0));
  channel.receive(1, 0, msg(1));
  assert.equal(wire.length, 0); // still waiting for a message to ride on
  channel.receive(2, 0, msg(2)); // the peer can send nothing more until acked
  assert.deepEqual(wire, [{ ns: 0, nr: 3, body: null, at: 0 }]);
  assert.equal(channel.idle, true);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("a reply sent from inside deliver piggybacks the ack at once", () => {
  const clock = new ManualClock();
  const wire: ChannelOutput[] = [];
  const channel: ReliableChannel = new ReliableChannel({
    clock,
    transmit: (pkt) => wire.push(pkt),
    deliver: (_ns, body) => channel.send(msg(idOf(body) + 100)),
    onFailure: () => assert.fail("failed"),
  });
  channel.receive(0, 0, msg(1));
  assert.deepEqual(wire, [{ ns: 0, nr: 1, body: msg(101) }]);
  clock.advance(channel.ackDelayMs);
  assert.equal(channel.stats.zlbSent, 0);
  channel.close();
});

Deno.test("a duplicate is not delivered but is acknowledged at once with a ZLB", () => {
  const clock = new ManualClock();
  const { channel, wire, delivered } = lone(clock);
  channel.receive(0, 0, msg(0));
  clock.advance(100); // ZLB 1
  // Appendix B.2: the ZLB was lost, the peer retransmits.
  assert.equal(channel.receive(0, 0, msg(0)), "duplicate");
  assert.deepEqual(delivered, [[0, 0]]);
  assert.deepEqual(wire.map((p) => [p.ns, p.nr, p.body, p.at]), [[0, 1, null, 100], [
    0,
    1,
    null,
    100,
  ]]);
  assert.equal(channel.stats.duplicates, 1);
  // A duplicate from far back (the whole preceding half of the space) counts too.
  assert.equal(channel.receive(seqAdd(1, -32768), 0, msg(0)), "duplicate");
  assert.equal(wire.length, 3);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("a duplicate is acked by a queued message when the window lets one out", () => {
  const clock = new ManualClock();
  const { channel, wire } = lone(clock, { peerReceiveWindowSize: 1 });
  channel.receive(0, 0, msg(0));
  channel.send(msg(1)); // Ns 0, carries Nr 1
  channel.send(msg(2)); // waits for the window
  assert.equal(wire.length, 1);
  // The peer retransmits its message, and its Nr acknowledges ours: message 2 goes with the ack.
  assert.equal(channel.receive(0, 1, msg(0)), "duplicate");
  assert.deepEqual(ids(wire), [1, 2]);
  assert.deepEqual(wire.map((p) => p.nr), [1, 1]);
  assert.equal(channel.stats.zlbSent, 0);
  channel.close();
});

Deno.test("out-of-order messages are held and delivered in order; beyond the window dropped", () => {
  const clock = new ManualClock();
  const { channel, wire, delivered } = lone(clock, { receiveWindowSize: 4 });
  assert.equal(channel.receive(2, 0, msg(2)), "held");
  assert.equal(channel.receive(1, 0, msg(1)), "held");
  assert.equal(channel.receive(1, 0, msg(1)), "duplicate"); // already held
  assert.equal(channel.receive(4, 0, msg(4)), "out_of_window"); // 4 ahead with RWS 4
  assert.equal(channel.heldCount, 2);
  assert.deepEqual(delivered, []);
  assert.equal(channel.expectedNr, 0);
  assert.equal(channel.receive(0, 0, msg(0)), "new");
  assert.deepEqual(delivered, [[0, 0], [1, 1], [2, 2]]);
  assert.equal(channel.heldCount, 0);
  assert.equal(channel.expectedNr, 3);
  assert.equal(channel.stats.outOfWindow, 1);
  assert.equal(channel.stats.held, 2);
  clock.advance(100);
  assert.equal(wire.at(-1)?.nr, 3); // one ZLB acknowledges all three
  assert.equal(channel.stats.zlbSent, 2); // and one answered the held duplicate
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("a closed channel ignores a pending delivery batch and callbacks stay consistent", () => {
  const clock = new ManualClock();
  const got: number[] = [];
  const channel: ReliableChannel = new ReliableChannel({
    clock,
    transmit: () => {},
    deliver: (ns) => {
      got.push(ns);
      channel.close();
    },
    onFailure: () => {},
  });
  channel.receive(1, 0, msg(1));
  assert.equal(channel.receive(0, 0, msg(0)), "new");
  assert.deepEqual(got, [0]);
  assert.equal(channel.closed, true);
  assert.equal(clock.pendingTimers, 0);
});

// ---------------------------------------------------------------------------
// Windows, slow start, congestion avoidance

Deno.test("slow start: flights of 1, 2, 4 then the peer's window", () => {
  const clock = new ManualClock();
  const wire: Sent[] = [];
  const sender = new ReliableChannel({
    clock,
    peerReceiveWindowSize: 8,
    transmit: (pkt) => {
      wire.push({ ...pkt, at: clock.now() });
      clock.setTimer(10, () => receiver.receive(pkt.ns, pkt.nr, pkt.body));
    },
    deliver: () => {},
    onFailure: () => assert.fail("failed"),
  });
  const receiver = new ReliableChannel({
    clock,
    receiveWindowSize: 8,
    transmit: (pkt) => clock.setTimer(10, () => sender.receive(pkt.ns, pkt.nr, pkt.body)),
    deliver: () => {},
    onFailure: () => assert.fail("failed"),
  });
  for (let i = 0; i < 20; i++) assert.equal(sender.send(msg(i)), "ok");
  const windows: number[] = [];
  while (clock.fireNext()) windows.push(sender.congestionWindow);
  const flights = new Map<number, number>();
  for (const p of wire) flights.set(p.at, (flights.get(p.at) ?? 0) + 1);
  // Each flight takes 10 ms out, 100 ms ack delay, 10 ms back; except that a
  // flight filling the receiver's window is acked at once (nothing more can come).
  assert.deepEqual([...flights], [[0, 1], [120, 2], [240, 4], [360, 8], [380, 5]]);
  assert.deepEqual(ids(wire), Array.from({ length: 20 }, (_, i) => i));
  assert.equal(Math.max(...windows), 8);
  assert.equal(sender.stats.retransmits, 0);
  assert.equal(sender.idle && receiver.idle, true);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("timeout: SSTHRESH = CWND/2, CWND = 1, go-back resend, then congestion avoidance", () => {
  const clock = new ManualClock();
  const { channel, wire } = lone(clock, { peerReceiveWindowSize: 8, maxQueued: 100 });
  for (let i = 0; i < 40; i++) channel.send(msg(i));
  const flight = () => wire.splice(0).map((p) => [p.ns, p.nr]);
  const nsRange = (from: number, to: number, nr = 0) =>
    Array.from({ length: to - from }, (_, i) => [from + i, nr]);
  assert.deepEqual(flight(), nsRange(0, 1));
  channel.receive(0, 1, null);
  assert.deepEqual(flight(), nsRange(1, 3));
  channel.receive(0, 3, null);
  assert.deepEqual(flight(), nsRange(3, 7));
  channel.receive(0, 7, null);
  assert.deepEqual(flight(), nsRange(7, 15));
  assert.equal(channel.congestionWindow, 8);
  // The whole flight is lost. Meanwhile the peer sent us something, so our Nr is 1.
  channel.receive(0, 7, msg(100));
  clock.advance(1000);
  assert.deepEqual(wire.shift(), { ns: 15, nr: 1, body: null, at: 100 });
  assert.equal(channel.slowStartThreshold, 4);
  assert.equal(channel.congestionWindow, 1);
  assert.deepEqual(flight(), [[7, 1]]); // same Ns, current Nr
  channel.receive(1, 8, null);
  assert.deepEqual(flight(), nsRange(8, 10, 1));
  channel.receive(1, 10, null);
  assert.deepEqual(flight(), nsRange(10, 14, 1));
  assert.equal(channel.congestionWindow, 4);
  // CWND reached SSTHRESH: +1 per window's worth of acknowledged messages.
  channel.receive(1, 14, null);
  assert.equal(channel.congestionWindow, 5);
  assert.deepEqual(flight(), nsRange(14, 19, 1));
  channel.receive(1, 19, null);
  assert.equal(channel.congestionWindow, 6);
  assert.deepEqual(flight(), nsRange(19, 25, 1));
  assert.equal(channel.stats.timeouts, 1);
  assert.equal(channel.stats.retransmits, 1 + 2 + 4 + 1);
  channel.close();
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("never more unacknowledged than the peer's window; the queue takes the rest", () => {
  const clock = new ManualClock();
  const { channel, wire } = lone(clock, { peerReceiveWindowSize: 2 });
  for (let i = 0; i < 6; i++) channel.send(msg(i));
  channel.receive(0, 1, null); // CWND 2
  channel.receive(0, 2, null); // CWND stays at the window, 2
  assert.equal(channel.congestionWindow, 2);
  assert.equal(channel.unacknowledged, 2);
  assert.equal(channel.queued, 2);
  assert.deepEqual(ids(wire), [0, 1, 2, 3]);
  // The peer's AVP raises the window: ssthresh follows (no timeout yet), CWND grows again.
  channel.setPeerReceiveWindowSize(4);
  assert.equal(channel.slowStartThreshold, 4);
  channel.receive(0, 4, null);
  assert.equal(channel.congestionWindow, 4);
  assert.deepEqual(ids(wire), [0, 1, 2, 3, 4, 5]);
  channel.close();
});

Deno.test("setPeerReceiveWindowSize rejects 0 and clamps what the sequence space cannot hold", () => {
  const clock = new ManualClock();
  const { channel } = lone(clock);
  assert.throws(() => channel.setPeerReceiveWindowSize(0), RangeError);
  assert.throws(() => channel.setPeerReceiveWindowSize(1.5), RangeError);
  channel.setPeerReceiveWindowSize(65535);
  assert.equal(channel.peerReceiveWindowSize, MAX_WINDOW_SIZE);
});

Deno.test("send returns full at the queue bound and closed after close", () => {
  const clock = new ManualClock();
  const { channel, wire } = lone(clock, { peerReceiveWindowSize: 1, maxQueued: 3 });
  assert.equal(channel.send(msg(0)), "ok"); // on the wire
  for (let i = 1; i <= 3; i++) assert.equal(channel.send(msg(i)), "ok");
  assert.equal(channel.queued, 3);
  assert.equal(channel.send(msg(4)), "full");
  assert.equal(channel.stats.queueFull, 1);
  channel.receive(0, 1, null);
  assert.equal(channel.send(msg(4)), "ok");
  assert.deepEqual(ids(wire), [0, 1]);
  channel.close();
  assert.equal(channel.send(msg(5)), "closed");
  assert.equal(channel.receive(0, 2, msg(0)), "closed");
  assert.equal(clock.pendingTimers, 0);
  assert.equal(wire.length, 2);
});

// ---------------------------------------------------------------------------
// Retransmission

Deno.test("backoff is exactly 1, 2, 4, 8, 8 s; onFailure once after the limit; no timers left", () => {
  const clock = new ManualClock();
  const { channel, wire, failures } = lone(clock);
  channel.send(msg(0));
  channel.receive(0, 0, msg(50)); // our Nr moves to 1 between transmissions
  clock.advance(retransmissionCycleMs() - 1);
  assert.deepEqual(wire.filter((p) => p.body !== null).map((p) => [p.at, p.ns, p.nr]), [
    [0, 0, 0],
    [1000, 0, 1],
    [3000, 0, 1],
    [7000, 0, 1],
    [15000, 0, 1],
    [23000, 0, 1],
  ]);
  assert.deepEqual(failures, []);
  clock.advance(1);
  assert.deepEqual(failures, ["retransmit_limit"]);
  assert.equal(channel.closed, true);
  assert.equal(channel.stats.timeouts, 5);
  assert.equal(clock.pendingTimers, 0);
  clock.advance(100_000);
  assert.deepEqual(failures, ["retransmit_limit"]);
  assert.equal(channel.send(msg(1)), "closed");
});

Deno.test("backoff honours retransmitInitialMs, retransmitMaxMs and maxRetransmits", () => {
  const clock = new ManualClock();
  const options = { retransmitInitialMs: 500, retransmitMaxMs: 10_000, maxRetransmits: 7 };
  const { channel, wire, failures } = lone(clock, options);
  channel.send(msg(0));
  const cycle = retransmissionCycleMs(options);
  assert.equal(cycle, 500 + 1000 + 2000 + 4000 + 8000 + 10_000 + 10_000 + 10_000);
  clock.advance(cycle - 1);
  assert.deepEqual(wire.map((p) => p.at), [0, 500, 1500, 3500, 7500, 15_500, 25_500, 35_500]);
  clock.advance(1);
  assert.deepEqual(failures, ["retransmit_limit"]);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("the backoff is per message: the next message starts again at 1 s", () => {
  const clock = new ManualClock();
  const { channel, wire, failures } = lone(clock, { peerReceiveWindowSize: 1 });
  channel.send(msg(0));
  channel.send(msg(1));
  clock.advance(1000 + 2000 + 4000); // three retransmissions of message 0
  channel.receive(0, 1, null);
  assert.deepEqual(wire.map((p) => [p.at, idOf(p.body!)]), [
    [0, 0],
    [1000, 0],
    [3000, 0],
    [7000, 0],
    [7000, 1],
  ]);
  clock.advance(1000);
  assert.deepEqual(wire.at(-1), { ns: 1, nr: 0, body: msg(1), at: 8000 });
  clock.advance(30_000);
  assert.deepEqual(failures, ["retransmit_limit"]);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("retransmissionCycleMs is the 31 s full cycle of §5.7 by default", () => {
  assert.equal(retransmissionCycleMs(), 31_000);
  assert.equal(retransmissionCycleMs({ maxRetransmits: 0 }), 1000);
});

Deno.test("options out of range are refused", () => {
  const clock = new ManualClock();
  assert.throws(() => lone(clock, { retransmitMaxMs: 4000 }), RangeError); // §5.8: cap ≥ 8 s
  assert.throws(() => lone(clock, { retransmitInitialMs: 9000 }), RangeError);
  assert.throws(() => lone(clock, { ackDelayMs: 1000 }), RangeError);
  assert.throws(() => lone(clock, { receiveWindowSize: 0 }), RangeError);
  assert.throws(() => lone(clock, { peerReceiveWindowSize: 0 }), RangeError);
  assert.throws(() => lone(clock, { initialNs: 65536 }), RangeError);
  assert.throws(() => lone(clock).channel.receive(65536, 0, null), RangeError);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("close cancels every timer and silences the channel", () => {
  const clock = new ManualClock();
  const { channel, wire, delivered, failures } = lone(clock);
  channel.send(msg(0));
  channel.send(msg(1));
  channel.receive(0, 0, msg(0)); // arms the ack timer
  channel.receive(2, 0, msg(2)); // held
  assert.equal(clock.pendingTimers, 2);
  channel.close();
  assert.equal(clock.pendingTimers, 0);
  assert.equal(channel.unacknowledged + channel.queued + channel.heldCount, 0);
  channel.setPeerReceiveWindowSize(8);
  channel.close();
  clock.advance(100_000);
  assert.equal(wire.length, 1);
  assert.equal(delivered.length, 1);
  assert.deepEqual(failures, []);
});

// ---------------------------------------------------------------------------
// Wrap-around at 65535

Deno.test("Ns and Nr wrap at 65535 -> 0: 20 messages each way from 65530", () => {
  const clock = new ManualClock();
  const left = lone(clock, { initialNs: 65530, initialNr: 65530, peerReceiveWindowSize: 4 });
  const right = lone(clock, { initialNs: 65530, initialNr: 65530, receiveWindowSize: 4 });
  // A lossless wire with no delay: forward until neither side has anything new to send.
  let leftSent = 0, rightSent = 0;
  const settle = () => {
    while (leftSent < left.wire.length || rightSent < right.wire.length) {
      for (; leftSent < left.wire.length; leftSent++) {
        const p = left.wire[leftSent];
        right.channel.receive(p.ns, p.nr, p.body);
      }
      for (; rightSent < right.wire.length; rightSent++) {
        const p = right.wire[rightSent];
        left.channel.receive(p.ns, p.nr, p.body);
      }
    }
  };
  for (let i = 0; i < 20; i++) {
    left.channel.send(msg(i));
    right.channel.send(msg(i));
    settle();
    clock.advance(10);
    settle();
  }
  while (clock.fireNext()) settle();
  const expectNs = Array.from({ length: 20 }, (_, i) => seqAdd(65530, i));
  assert.deepEqual(expectNs.slice(4, 8), [65534, 65535, 0, 1]);
  for (const [side, peer] of [[left, right], [right, left]]) {
    assert.deepEqual(side.delivered, expectNs.map((ns, i) => [ns, i]));
    assert.deepEqual(side.wire.filter((p) => p.body !== null).map((p) => p.ns), expectNs);
    assert.equal(side.channel.nextNs, 14);
    assert.equal(side.channel.expectedNr, 14);
    assert.equal(side.channel.idle, true);
    assert.equal(peer.channel.stats.retransmits, 0);
  }
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("Nr just past the wrap acknowledges messages sent before it", () => {
  const clock = new ManualClock();
  const { channel, wire } = lone(clock, { initialNs: 65534, peerReceiveWindowSize: 4 });
  channel.setPeerReceiveWindowSize(4);
  for (let i = 0; i < 4; i++) channel.send(msg(i));
  channel.receive(0, 65535, null);
  channel.receive(0, 1, null); // acknowledges 65535 and 0
  assert.deepEqual(wire.map((p) => p.ns), [65534, 65535, 0, 1]);
  assert.equal(channel.unacknowledged, 1);
  assert.equal(channel.stats.invalidNr, 0);
  channel.receive(0, 3, null); // 3 was never sent
  assert.equal(channel.stats.invalidNr, 1);
  assert.equal(channel.unacknowledged, 1);
  channel.close();
});

// ---------------------------------------------------------------------------
// Lossy link

Deno.test("lossy link: 1200 messages each way, exactly once and in order", () => {
  const count = 1200;
  const { a, b, done, clock } = simulate({
    seed: 0x12661,
    count,
    loss: 0.2,
    duplicate: 0.1,
    reorder: 0.2,
    minDelayMs: 5,
    maxDelayMs: 80,
    a: { receiveWindowSize: 4, peerReceiveWindowSize: 8, maxRetransmits: 40 },
    b: { receiveWindowSize: 8, peerReceiveWindowSize: 4, maxRetransmits: 40 },
  });
  assert.equal(done, true);
  assertExactlyOnceInOrder(a, count, 0);
  assertExactlyOnceInOrder(b, count, 0);
  // Not vacuous: the link really lost, duplicated and reordered, and windows filled.
  for (const s of [a, b]) {
    assert.ok(s.channel.stats.retransmits > 50, `retransmits ${s.channel.stats.retransmits}`);
    assert.ok(s.channel.stats.duplicates > 50, `duplicates ${s.channel.stats.duplicates}`);
    assert.ok(s.channel.stats.held > 10, `held ${s.channel.stats.held}`);
    assert.ok(s.refused > 0, "the queue bound was never reached");
  }
  assert.equal(a.maxUnacked, 8);
  assert.equal(b.maxUnacked, 4);
  a.channel.close();
  b.channel.close();
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("lossy link across the wrap: 1000 messages each way from Ns 65000", () => {
  const count = 1000;
  const { a, b, done } = simulate({
    seed: 7,
    count,
    loss: 0.1,
    duplicate: 0.05,
    reorder: 0.1,
    minDelayMs: 1,
    maxDelayMs: 40,
    a: { initialNs: 65000, initialNr: 64000, maxRetransmits: 40 },
    b: { initialNs: 64000, initialNr: 65000, maxRetransmits: 40 },
  });
  assert.equal(done, true);
  assertExactlyOnceInOrder(a, count, 64000);
  assertExactlyOnceInOrder(b, count, 65000);
  assert.equal(a.channel.nextNs, seqAdd(65000, count));
  assert.equal(b.channel.nextNs, seqAdd(64000, count));
});

Deno.test("control-channel throughput, lossless and under 5% loss (seeded, simulated time)", () => {
  const throughput = (loss: number) => {
    const count = 1000;
    const { clock, done } = simulate({
      seed: 5,
      count,
      loss,
      duplicate: 0,
      reorder: 0,
      minDelayMs: 10,
      maxDelayMs: 30,
      a: { maxRetransmits: 40 },
      b: { maxRetransmits: 40 },
    });
    assert.equal(done, true);
    return (2 * count) / (clock.now() / 1000); // messages per simulated second, both ways
  };
  // About 170 and 25 messages/s; with 4-message windows and no fast retransmit
  // in RFC 2661, each loss costs a full 1 s timeout.
  assert.ok(throughput(0) > 120, `lossless ${throughput(0)}`);
  assert.ok(throughput(0.05) > 15, `5% loss ${throughput(0.05)}`);
});

Deno.test("synchronous back-to-back wiring (re-entrant callbacks) still delivers in order", () => {
  const clock = new ManualClock();
  const got: number[][] = [[], []];
  const pair: ReliableChannel[] = [];
  for (const side of [0, 1]) {
    pair.push(
      new ReliableChannel({
        clock,
        peerReceiveWindowSize: 4,
        transmit: (pkt) => pair[1 - side].receive(pkt.ns, pkt.nr, pkt.body),
        deliver: (_ns, body) => {
          got[side].push(idOf(body));
          // The receiver answers every tenth message from inside deliver.
          if (side === 1 && idOf(body) % 10 === 0) pair[side].send(msg(1000 + idOf(body)));
        },
        onFailure: () => assert.fail("failed"),
        maxQueued: 1000,
      }),
    );
  }
  for (let i = 0; i < 100; i++) pair[0].send(msg(i));
  while (clock.fireNext());
  assert.deepEqual(got[1], Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(got[0], Array.from({ length: 10 }, (_, i) => 1000 + 10 * i));
  assert.equal(pair[0].idle && pair[1].idle, true);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("property: any seed and loss/dup/reorder schedule gives exactly-once in-order delivery", () => {
  fc.assert(
    fc.property(
      fc.record({
        seed: fc.integer(),
        count: fc.integer({ min: 0, max: 60 }),
        lossPct: fc.integer({ min: 0, max: 30 }),
        dupPct: fc.integer({ min: 0, max: 30 }),
        reorderPct: fc.integer({ min: 0, max: 50 }),
        maxDelayMs: fc.integer({ min: 1, max: 600 }),
        rwsA: fc.integer({ min: 1, max: 8 }),
        rwsB: fc.integer({ min: 1, max: 8 }),
        nsA: fc.integer({ min: 0, max: 0xffff }),
        nsB: fc.integer({ min: 0, max: 0xffff }),
        ackDelayMs: fc.integer({ min: 0, max: 500 }),
      }),
      (p) => {
        const common = { ackDelayMs: p.ackDelayMs, maxRetransmits: 60 };
        const { a, b, done } = simulate({
          seed: p.seed,
          count: p.count,
          loss: p.lossPct / 100,
          duplicate: p.dupPct / 100,
          reorder: p.reorderPct / 100,
          minDelayMs: 0,
          maxDelayMs: p.maxDelayMs,
          a: {
            ...common,
            initialNs: p.nsA,
            initialNr: p.nsB,
            receiveWindowSize: p.rwsA,
            peerReceiveWindowSize: p.rwsB,
          },
          b: {
            ...common,
            initialNs: p.nsB,
            initialNr: p.nsA,
            receiveWindowSize: p.rwsB,
            peerReceiveWindowSize: p.rwsA,
          },
        });
        assert.equal(done, true);
        assertExactlyOnceInOrder(a, p.count, p.nsB);
        assertExactlyOnceInOrder(b, p.count, p.nsA);
      },
    ),
    { numRuns: 150 },
  );
});
