import assert from "node:assert/strict";
import type { Endpoint } from "./datagram.ts";
import { DenoUdpNetwork, type DenoUdpNetworkOptions, type UdpSocket } from "./udp.ts";

// ---------------------------------------------------------------------------
// Helpers

function bound(net: DenoUdpNetwork, hostname: string): UdpSocket {
  const r = net.bind({ hostname, port: 0 });
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.value;
}

/** Two sockets on `hostname`, closed (and their loops awaited) by the returned `close`. */
function pair(hostname: string, options?: DenoUdpNetworkOptions) {
  const net = new DenoUdpNetwork(options);
  const a = bound(net, hostname), b = bound(net, hostname);
  return {
    net,
    a,
    b,
    async close() {
      a.close();
      b.close();
      await Promise.all([a.closed, b.closed]);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `done` every millisecond for up to `ms` milliseconds; returns its last value. */
async function waitFor(done: () => boolean, ms = 2000): Promise<boolean> {
  for (let waited = 0; !done() && waited < ms; waited++) await sleep(1);
  return done();
}

function u32(i: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}

function idOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0);
}

/**
 * Sends `count` datagrams from `a` to `b` in bursts, waiting for each burst,
 * and has `b` echo each one back; returns the ids each side received.
 */
async function exchange(a: UdpSocket, b: UdpSocket, count: number): Promise<[number[], number[]]> {
  const atA: number[] = [], atB: number[] = [];
  b.onReceive((payload, from) => {
    atB.push(idOf(payload));
    b.send(payload, from);
  });
  a.onReceive((payload) => atA.push(idOf(payload)));
  const burst = 50;
  for (let start = 0; start < count; start += burst) {
    const end = Math.min(start + burst, count);
    for (let i = start; i < end; i++) assert.equal(a.send(u32(i), b.local), "ok");
    // Loopback drops only under pressure: give each burst time to land, but do not wait on loss.
    await waitFor(() => atA.length >= end, 500);
  }
  return [atA, atB];
}

function assertMostlyDelivered(ids: number[], count: number): void {
  assert.ok(ids.length >= 0.99 * count, `only ${ids.length} of ${count} arrived`);
  assert.ok(ids.length <= count, "loopback does not duplicate");
  assert.equal(new Set(ids).size, ids.length, "each datagram arrives once");
  assert.ok(ids.every((id) => id >= 0 && id < count), "payloads are intact");
}

// ---------------------------------------------------------------------------
// Binding

Deno.test("bind on 127.0.0.1 port 0 gets an ephemeral port; binding it again is an error", async () => {
  const net = new DenoUdpNetwork();
  const a = bound(net, "127.0.0.1");
  assert.equal(a.local.hostname, "127.0.0.1");
  assert.ok(a.local.port > 0);
  assert.ok(Object.isFrozen(a.local));
  const again = net.bind(a.local);
  assert.equal(again.ok, false);
  assert.match(!again.ok ? again.error : "", new RegExp(`^bind 127\\.0\\.0\\.1:${a.local.port}: `));
  a.close();
  a.close();
  await a.closed;
  const rebound = net.bind(a.local);
  assert.ok(rebound.ok, "close frees the port");
  rebound.value.close();
  await rebound.value.closed;
});

Deno.test("bind failures are errors, not throws: a foreign address, a name, a bad port", () => {
  const net = new DenoUdpNetwork();
  for (
    const bad of [
      { hostname: "192.0.2.1", port: 0 }, // TEST-NET-1: not an address of this host
      { hostname: "localhost", port: 0 },
      { hostname: "127.0.0.1", port: 65536 },
    ]
  ) {
    const r = net.bind(bad);
    assert.equal(r.ok, false, JSON.stringify(bad));
    assert.ok(!r.ok && r.error.length > 0);
  }
  assert.throws(() => new DenoUdpNetwork({ maxPendingSends: 0 }), RangeError);
});

// ---------------------------------------------------------------------------
// Exchange

Deno.test("two sockets on 127.0.0.1 exchange 1000 datagrams, at least 99% arriving", async () => {
  const { a, b, close } = pair("127.0.0.1");
  const [atA, atB] = await exchange(a, b, 1000);
  assertMostlyDelivered(atB, 1000);
  assertMostlyDelivered(atA, 1000);
  assert.equal(a.stats.sent, 1000);
  assert.equal(b.stats.received, atB.length);
  assert.equal(b.stats.sent, atB.length);
  assert.equal(a.stats.received, atA.length);
  assert.equal(a.stats.sendErrors + b.stats.sendErrors, 0);
  await close();
});

Deno.test("two sockets on ::1 exchange datagrams when IPv6 loopback exists, else bind reports it", async () => {
  const net = new DenoUdpNetwork();
  const first = net.bind({ hostname: "::1", port: 0 });
  if (!first.ok) {
    // No IPv6 loopback on this machine: the failure must be a value, as here.
    assert.match(first.error, /^bind \[::1\]:0: /);
    return;
  }
  const a = first.value, b = bound(net, "::1");
  assert.equal(a.local.hostname, "::1");
  const [atA, atB] = await exchange(a, b, 200);
  assertMostlyDelivered(atB, 200);
  assertMostlyDelivered(atA, 200);
  let from: Endpoint | undefined;
  b.onReceive((_payload, sender) => from = sender);
  a.send(u32(0), b.local);
  assert.ok(await waitFor(() => from !== undefined));
  assert.deepEqual(from, a.local);
  a.close();
  b.close();
  await Promise.all([a.closed, b.closed]);
});

Deno.test("the sender's endpoint is reported, and a reply to it arrives", async () => {
  const { a, b, close } = pair("127.0.0.1");
  const replies: number[] = [];
  let sender: Endpoint | undefined;
  b.onReceive((payload, from) => {
    sender = from;
    b.send(u32(idOf(payload) + 1), from);
  });
  a.onReceive((payload) => replies.push(idOf(payload)));
  a.send(u32(41), b.local);
  assert.ok(await waitFor(() => replies.length === 1));
  assert.deepEqual(sender, a.local);
  assert.deepEqual(replies, [42]);
  await close();
});

Deno.test("datagrams sent before a handler is set wait in the kernel, then arrive", async () => {
  const { a, b, close } = pair("127.0.0.1");
  for (let i = 0; i < 5; i++) a.send(u32(i), b.local);
  assert.ok(await waitFor(() => a.pendingSends === 0));
  await sleep(10);
  const got: number[] = [];
  b.onReceive((payload) => got.push(idOf(payload)));
  assert.ok(await waitFor(() => got.length === 5));
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
  await close();
});

Deno.test("a 65000-byte datagram arrives whole", async () => {
  const { a, b, close } = pair("127.0.0.1");
  const big = new Uint8Array(65000).map((_, i) => i * 7);
  let got: Uint8Array | undefined;
  b.onReceive((payload) => got = payload.slice());
  a.send(big, b.local);
  assert.ok(await waitFor(() => got !== undefined));
  assert.deepEqual(got, big);
  await close();
});

// ---------------------------------------------------------------------------
// Buffer lifetime

Deno.test("the receive buffer is reused: a payload kept past its handler changes", async () => {
  const { a, b, close } = pair("127.0.0.1");
  const kept: Uint8Array[] = [], copies: Uint8Array[] = [];
  b.onReceive((payload) => {
    kept.push(payload);
    copies.push(payload.slice());
  });
  a.send(new Uint8Array([1, 1, 1, 1]), b.local);
  assert.ok(await waitFor(() => kept.length === 1));
  a.send(new Uint8Array([2, 2, 2, 2]), b.local);
  assert.ok(await waitFor(() => kept.length === 2));
  assert.deepEqual([...copies[0]], [1, 1, 1, 1]);
  assert.deepEqual([...kept[0]], [2, 2, 2, 2], "the first view now shows the second datagram");
  await close();
});

Deno.test("the sender may reuse its buffer as soon as send returns", async () => {
  const { a, b, close } = pair("127.0.0.1");
  const got: number[] = [];
  b.onReceive((payload) => got.push(idOf(payload)));
  const buffer = u32(1);
  a.send(buffer, b.local);
  buffer.set(u32(2));
  a.send(buffer, b.local);
  buffer.fill(0xff);
  assert.ok(await waitFor(() => got.length === 2));
  assert.deepEqual(got, [1, 2]);
  await close();
});

// ---------------------------------------------------------------------------
// Errors never escape

Deno.test("a handler that throws is counted and reported; the loop goes on", async () => {
  const reported: unknown[] = [];
  const { a, b, close } = pair("127.0.0.1", { onError: (error) => reported.push(error) });
  const got: number[] = [];
  b.onReceive((payload) => {
    const id = idOf(payload);
    if (id === 1) throw new Error("handler bug");
    got.push(id);
  });
  a.send(u32(1), b.local);
  assert.ok(await waitFor(() => b.stats.receiveErrors === 1));
  a.send(u32(2), b.local);
  assert.ok(await waitFor(() => got.length === 1));
  assert.deepEqual(got, [2]);
  assert.equal(reported.length, 1);
  assert.match(String(reported[0]), /handler bug/);
  await close();
});

Deno.test("a failed send is counted and reported, never an unhandled rejection", async () => {
  const reported: Array<[unknown, Endpoint]> = [];
  const { a, close } = pair("127.0.0.1", { onError: (e, at) => reported.push([e, at]) });
  // An IPv4 socket cannot reach an IPv6 address; the kernel refuses the send.
  assert.equal(a.send(u32(1), { hostname: "2001:db8::1", port: 1701 }), "ok");
  assert.ok(await waitFor(() => a.pendingSends === 0));
  assert.equal(a.stats.sent, 1);
  assert.equal(a.stats.sendErrors, 1);
  assert.equal(reported.length, 1);
  assert.deepEqual(reported[0][1], a.local);
  await close();
});

Deno.test("sends beyond maxPendingSends are dropped and counted, not queued", async () => {
  const { a, b, close } = pair("127.0.0.1", { maxPendingSends: 2 });
  const got: number[] = [];
  b.onReceive((payload) => got.push(idOf(payload)));
  assert.deepEqual([0, 1, 2].map((i) => a.send(u32(i), b.local)), ["ok", "ok", "dropped"]);
  assert.equal(a.pendingSends, 2);
  assert.equal(a.stats.sendErrors, 1);
  assert.ok(await waitFor(() => got.length === 2));
  assert.equal(a.send(u32(3), b.local), "ok", "room again once sends complete");
  assert.ok(await waitFor(() => got.length === 3));
  await close();
});

// ---------------------------------------------------------------------------
// Closing

Deno.test("close while a receive is pending ends the loop and leaks no op", async () => {
  const net = new DenoUdpNetwork();
  const a = bound(net, "127.0.0.1");
  let calls = 0;
  a.onReceive(() => calls++);
  await sleep(5); // the receive op is now pending in the loop
  a.close();
  await a.closed;
  assert.equal(a.send(u32(1), a.local), "closed");
  a.onReceive(() => calls++);
  assert.equal(calls, 0);
  assert.equal(a.stats.receiveErrors, 0, "the cancelled receive is not an error");
});

Deno.test("close sends what was accepted, in order, before freeing the port", async () => {
  const { a, b, close } = pair("127.0.0.1");
  const got: number[] = [];
  b.onReceive((payload) => got.push(idOf(payload)));
  for (let i = 0; i < 20; i++) a.send(u32(i), b.local);
  a.close();
  assert.equal(a.send(u32(99), b.local), "closed");
  await a.closed;
  assert.equal(a.pendingSends, 0);
  assert.equal(a.stats.sendErrors, 0);
  assert.ok(await waitFor(() => got.length === 20));
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
  await close();
});

Deno.test("datagrams leave in the order they were sent", async () => {
  const { a, b, close } = pair("127.0.0.1");
  const got: number[] = [];
  b.onReceive((payload) => got.push(idOf(payload)));
  for (let i = 0; i < 200; i++) a.send(u32(i), b.local);
  assert.ok(await waitFor(() => got.length === 200));
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
  await close();
});

Deno.test("a closed socket never calls its handler, even for datagrams already queued", async () => {
  const { a, b, close } = pair("127.0.0.1");
  let calls = 0;
  b.onReceive(() => {
    calls++;
    b.close();
  });
  for (let i = 0; i < 10; i++) a.send(u32(i), b.local);
  await b.closed;
  assert.equal(calls, 1);
  await close();
});
