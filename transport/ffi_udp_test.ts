/**
 * The datagram contract, run against both real-socket backends: the batched
 * FFI one (`ffi_udp.ts`) and `Deno.listenDatagram` (`udp.ts`). Then a real
 * L2TP flow through `lts run --data-plane ffi`, with the LAC and LNS on FFI
 * sockets too, and the backend selection of `network_select.ts`.
 */
import assert from "node:assert/strict";
import { SystemClock } from "../actors/clock.ts";
import { L2tpNode } from "../actors/l2tp_node.ts";
import type { SessionHandle } from "../actors/l2tp_types.ts";
import { MicrotaskScheduler } from "../actors/scheduler.ts";
import { ActorSystem } from "../actors/system.ts";
import { proxyFields } from "../ppp/proxy.ts";
import type { Endpoint } from "./datagram.ts";
import { FfiUdpNetwork, isFfiAvailable, RECEIVE_BATCH } from "./ffi_udp.ts";
import { createDatagramNetwork } from "./network_select.ts";
import { DenoUdpNetwork, type UdpSocket } from "./udp.ts";

const FFI = isFfiAvailable();

interface Backend {
  name: "ffi" | "deno";
  ignore: boolean;
  network(options?: { maxPendingSends?: number }): {
    bind(local: Endpoint): ReturnType<DenoUdpNetwork["bind"]>;
  };
}

const BACKENDS: Backend[] = [
  { name: "ffi", ignore: !FFI, network: (o) => new FfiUdpNetwork(o) },
  { name: "deno", ignore: false, network: (o) => new DenoUdpNetwork(o) },
];

// ---------------------------------------------------------------------------
// Helpers

function bound(net: ReturnType<Backend["network"]>, hostname: string): UdpSocket {
  const r = net.bind({ hostname, port: 0 });
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `done` every millisecond for up to `ms` milliseconds; returns its last value. */
async function waitFor(done: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until) await sleep(1);
  return done();
}

function u32(i: number, size = 4): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}

function idOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0);
}

async function closeAll(...sockets: UdpSocket[]): Promise<void> {
  for (const s of sockets) s.close();
  await Promise.all(sockets.map((s) => s.closed));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

// ---------------------------------------------------------------------------
// The contract, once per backend

for (const backend of BACKENDS) {
  const test = (name: string, fn: () => Promise<void> | void) =>
    Deno.test({ name: `${backend.name}: ${name}`, ignore: backend.ignore, fn });

  test("bind port 0 gets an ephemeral port; a busy port is an error; close frees it", async () => {
    const net = backend.network();
    const a = bound(net, "127.0.0.1");
    assert.equal(a.local.hostname, "127.0.0.1");
    assert.ok(a.local.port > 0);
    assert.ok(Object.isFrozen(a.local));
    const again = net.bind(a.local);
    assert.equal(again.ok, false);
    assert.match(
      !again.ok ? again.error : "",
      new RegExp(`^bind 127\\.0\\.0\\.1:${a.local.port}: `),
    );
    a.close();
    a.close();
    await a.closed;
    const rebound = net.bind(a.local);
    assert.ok(rebound.ok, "close frees the port");
    await closeAll(rebound.value);
  });

  test("bind failures are errors, not throws: a foreign address, a name, a bad port", () => {
    const net = backend.network();
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
  });

  test("IPv4 loopback: datagrams arrive with the sender's endpoint, and a reply to it arrives", async () => {
    const net = backend.network();
    const a = bound(net, "127.0.0.1"), b = bound(net, "127.0.0.1");
    const replies: number[] = [];
    b.onReceive((payload, from) => {
      assert.deepEqual(from, a.local);
      assert.ok(Object.isFrozen(from));
      b.send(u32(idOf(payload) + 1000), from);
    });
    a.onReceive((payload) => replies.push(idOf(payload)));
    for (const i of range(10)) assert.equal(a.send(u32(i), b.local), "ok");
    assert.ok(await waitFor(() => replies.length === 10));
    assert.deepEqual(replies, range(10).map((i) => i + 1000));
    assert.equal(a.stats.sent, 10);
    assert.equal(a.stats.received, 10);
    assert.equal(b.stats.received, 10);
    assert.equal(b.stats.sent, 10);
    await closeAll(a, b);
  });

  test("IPv6 loopback (::1), and an IPv4 sender reaching a dual-stack :: socket", async () => {
    const net = backend.network();
    const six = net.bind({ hostname: "::1", port: 0 });
    if (!six.ok) {
      // No IPv6 loopback on this host: the failure must still be an error, not a throw.
      assert.match(six.error, /^bind \[::1\]:0: /);
      return;
    }
    const a = six.value, b = bound(net, "::1");
    assert.equal(a.local.hostname, "::1");
    const got: Array<[number, Endpoint]> = [];
    b.onReceive((payload, from) => got.push([idOf(payload), from]));
    for (const i of range(5)) a.send(u32(i), b.local);
    assert.ok(await waitFor(() => got.length === 5));
    assert.deepEqual(got.map(([id]) => id), range(5));
    assert.deepEqual(got[0][1], a.local);
    await closeAll(a, b);
  });

  // 199 fits the kernel's default receive buffer (212,992 bytes hold ~256 small datagrams), which
  // is all the Deno backend gets; the FFI backend asks for 4 MiB.
  test(`a burst of 3 × ${RECEIVE_BATCH} + 7 datagrams arrives whole and in order`, async () => {
    const net = backend.network({ maxPendingSends: 4096 });
    const a = bound(net, "127.0.0.1"), b = bound(net, "127.0.0.1");
    const count = 3 * RECEIVE_BATCH + 7;
    const got: number[] = [];
    b.onReceive((payload) => {
      assert.equal(payload.length, 100);
      got.push(idOf(payload));
    });
    for (const i of range(count)) assert.equal(a.send(u32(i, 100), b.local), "ok");
    assert.ok(await waitFor(() => got.length === count), `${got.length} of ${count}`);
    assert.deepEqual(got, range(count));
    assert.equal(b.stats.received, count);
    assert.equal(b.stats.receiveDropped + b.stats.receiveErrors, 0);
    await closeAll(a, b);
  });

  test("buffers: the sender may reuse its buffer at once; a kept payload must be copied", async () => {
    const net = backend.network({ maxPendingSends: 4096 });
    const a = bound(net, "127.0.0.1"), b = bound(net, "127.0.0.1");
    const count = 3 * RECEIVE_BATCH;
    const copies: number[] = [];
    const kept: Uint8Array[] = [];
    b.onReceive((payload) => {
      copies.push(idOf(payload.slice()));
      kept.push(payload);
    });
    const buffer = new Uint8Array(16);
    for (const i of range(count)) {
      new DataView(buffer.buffer).setUint32(0, i);
      a.send(buffer, b.local);
      buffer.fill(0xee); // reused at once: must not change what was sent
    }
    assert.ok(await waitFor(() => copies.length === count));
    assert.deepEqual(copies, range(count));
    // The views were lent: by now receive buffers have been reused, so they no longer all hold
    // what they held during their calls (which is why handlers copy).
    assert.ok(kept.some((view, i) => view.length !== 16 || idOf(view) !== i));
    await closeAll(a, b);
  });

  test("a 65000-byte datagram arrives whole", async () => {
    const net = backend.network();
    const a = bound(net, "127.0.0.1"), b = bound(net, "127.0.0.1");
    const big = new Uint8Array(65000).map((_, i) => i & 0xff);
    let got: Uint8Array | undefined;
    b.onReceive((payload) => void (got = payload.slice()));
    a.send(big, b.local);
    assert.ok(await waitFor(() => got !== undefined));
    assert.deepEqual(got, big);
    await closeAll(a, b);
  });

  test("datagrams sent before a handler is set wait in the kernel, then arrive", async () => {
    const net = backend.network();
    const a = bound(net, "127.0.0.1"), b = bound(net, "127.0.0.1");
    for (const i of range(3)) a.send(u32(i), b.local);
    await sleep(20);
    const got: number[] = [];
    b.onReceive((payload) => got.push(idOf(payload)));
    assert.ok(await waitFor(() => got.length === 3));
    assert.deepEqual(got, [0, 1, 2]);
    await closeAll(a, b);
  });

  test("stats: a handler that throws is counted and the loop goes on", async () => {
    const net = backend.network();
    const a = bound(net, "127.0.0.1"), b = bound(net, "127.0.0.1");
    const got: number[] = [];
    b.onReceive((payload) => {
      if (idOf(payload) === 1) throw new Error("handler bug");
      got.push(idOf(payload));
    });
    for (const i of range(3)) a.send(u32(i), b.local);
    assert.ok(await waitFor(() => got.length === 2));
    assert.deepEqual(got, [0, 2]);
    assert.deepEqual(b.stats, {
      sent: 0,
      sendErrors: 0,
      received: 3,
      receiveDropped: 0,
      receiveErrors: 1,
    });
    assert.deepEqual(a.stats, {
      sent: 3,
      sendErrors: 0,
      received: 0,
      receiveDropped: 0,
      receiveErrors: 0,
    });
    await closeAll(a, b);
  });

  test("a bad endpoint is dropped and counted: a name, port 0, a port out of range", async () => {
    const net = backend.network();
    const a = bound(net, "127.0.0.1");
    for (
      const to of [
        { hostname: "lns.example", port: 1701 },
        { hostname: "127.0.0.1", port: 0 },
        { hostname: "127.0.0.1", port: 70000 },
      ]
    ) {
      assert.equal(a.send(u32(1), to), "dropped", JSON.stringify(to));
    }
    assert.equal(a.stats.sendErrors, 3);
    assert.equal(a.stats.sent, 0);
    await closeAll(a);
  });

  test("an address the kernel refuses is counted as a send error, never thrown", async () => {
    const net = backend.network();
    const a = bound(net, "127.0.0.1");
    // An IPv4 socket cannot reach an IPv6 address: refused at once or by the kernel later.
    const r = a.send(u32(1), { hostname: "2001:db8::1", port: 1701 });
    assert.ok(r === "ok" || r === "dropped");
    assert.ok(await waitFor(() => a.stats.sendErrors === 1 && a.pendingSends === 0));
    await closeAll(a);
  });

  test("sends beyond maxPendingSends are dropped and counted, not queued", async () => {
    const net = backend.network({ maxPendingSends: 2 });
    const a = bound(net, "127.0.0.1"), b = bound(net, "127.0.0.1");
    const got: number[] = [];
    b.onReceive((payload) => got.push(idOf(payload)));
    assert.deepEqual([0, 1, 2].map((i) => a.send(u32(i), b.local)), ["ok", "ok", "dropped"]);
    assert.equal(a.stats.sendErrors, 1);
    assert.ok(await waitFor(() => got.length === 2));
    assert.ok(await waitFor(() => a.pendingSends === 0));
    assert.equal(a.send(u32(3), b.local), "ok", "room again once sends complete");
    assert.ok(await waitFor(() => got.length === 3));
    assert.deepEqual(got, [0, 1, 3]);
    await closeAll(a, b);
  });

  test("close: sends accepted before it go out in order; then send says closed", async () => {
    const net = backend.network();
    const a = bound(net, "127.0.0.1"), b = bound(net, "127.0.0.1");
    const got: number[] = [];
    b.onReceive((payload) => got.push(idOf(payload)));
    for (const i of range(100)) a.send(u32(i), b.local);
    a.close();
    assert.equal(a.send(u32(99), b.local), "closed");
    await a.closed;
    assert.equal(a.pendingSends, 0);
    assert.equal(a.stats.sendErrors, 0);
    assert.ok(await waitFor(() => got.length === 100));
    assert.deepEqual(got, range(100));
    await closeAll(b);
  });

  test("close while a receive waits ends the loop; the handler is never called after it", async () => {
    const net = backend.network();
    const a = bound(net, "127.0.0.1");
    let calls = 0;
    a.onReceive(() => calls++);
    await sleep(5); // the socket now waits for readability
    a.close();
    await a.closed;
    a.close();
    assert.equal(a.send(u32(1), a.local), "closed");
    a.onReceive(() => calls++);
    assert.equal(calls, 0);
    assert.equal(a.stats.receiveErrors, 0, "the ended wait is not an error");
  });

  test("a handler that closes its socket gets no more datagrams, even ones already read", async () => {
    const net = backend.network();
    const a = bound(net, "127.0.0.1"), b = bound(net, "127.0.0.1");
    for (const i of range(10)) a.send(u32(i), b.local);
    await sleep(20); // all ten are in b's kernel queue, so one batch reads them all
    let calls = 0;
    b.onReceive(() => {
      calls++;
      b.close();
    });
    await b.closed;
    assert.equal(calls, 1);
    assert.equal(b.stats.received, 1);
    await closeAll(a);
  });
}

// ---------------------------------------------------------------------------
// Selection

// ---------------------------------------------------------------------------
// The FFI backend's control queue

Deno.test({
  name: "ffi: a data flood that fills the receive buffer drops data, never control messages, " +
    "and the control messages are handled first",
  ignore: !FFI,
  async fn() {
    for (const hostname of ["127.0.0.1", "::1"]) {
      const errors: unknown[] = [];
      // 64 KiB asked, 128 KiB granted: ~150 datagrams of 64 bytes on loopback.
      const net = new FfiUdpNetwork({ socketBufferBytes: 65536, onError: (e) => errors.push(e) });
      const rx = bound(net, hostname);
      const tx = bound(new FfiUdpNetwork(), hostname);
      assert.deepEqual(errors, [], "the control socket joined");
      // RFC 2661 §3.1: first byte 0x00 (T bit clear) for data, 0xc8 for control.
      const message = (first: number, i: number) => {
        const b = new Uint8Array(64);
        b[0] = first;
        new DataView(b.buffer).setUint32(8, i);
        return b;
      };
      const floods = 4000;
      for (const i of range(floods)) tx.send(message(0x00, i), rx.local);
      await sleep(20);
      for (const i of range(3)) tx.send(message(0xc8, i), rx.local);
      await sleep(20);
      const got: string[] = [];
      rx.onReceive((p) => {
        got.push(
          `${p[0] & 0x80 ? "control" : "data"} ${
            new DataView(p.buffer, p.byteOffset).getUint32(8)
          }`,
        );
      });
      assert.ok(
        await waitFor(() => got.filter((g) => g.startsWith("control")).length === 3),
        `${hostname}: ${got.length} received, no control`,
      );
      await sleep(20);
      assert.deepEqual(got.slice(0, 3), ["control 0", "control 1", "control 2"], hostname);
      const data = got.length - 3;
      assert.ok(
        data > 0 && data < floods,
        `${hostname}: ${data} of ${floods} data messages: the buffer filled`,
      );
      await closeAll(rx, tx);
    }
  },
});

Deno.test({
  name: "ffi: a turn that handled control messages ends after one data batch, so their " +
    "microtasks (the actors) run before the rest of the data",
  ignore: !FFI,
  async fn() {
    const net = new FfiUdpNetwork();
    const rx = bound(net, "127.0.0.1"), tx = bound(net, "127.0.0.1");
    const message = (first: number) => new Uint8Array([first, 0x02, 0, 1, 0, 1, 0, 0]);
    const backlog = 10 * RECEIVE_BATCH;
    tx.send(message(0xc8), rx.local);
    for (const _ of range(backlog)) tx.send(message(0x00), rx.local);
    await sleep(20);
    let received = 0;
    let seenByMicrotask = -1;
    rx.onReceive((p) => {
      received++;
      if (p[0] & 0x80) queueMicrotask(() => seenByMicrotask = received);
    });
    assert.ok(await waitFor(() => received === backlog + 1));
    assert.ok(
      seenByMicrotask >= 1 && seenByMicrotask <= 1 + RECEIVE_BATCH,
      `the control message's microtask ran after ${seenByMicrotask} datagrams`,
    );
    await closeAll(rx, tx);
  },
});

Deno.test("createDatagramNetwork: deno always; ffi and auto pick FFI when it is usable", async () => {
  const deno = createDatagramNetwork("deno");
  assert.ok(deno.ok && deno.value.kind === "deno");
  const auto = createDatagramNetwork("auto");
  assert.ok(auto.ok);
  assert.equal(auto.value.kind, FFI ? "ffi" : "deno");
  const ffi = createDatagramNetwork("ffi");
  assert.equal(ffi.ok, FFI);
  if (ffi.ok) {
    assert.ok(ffi.value.network instanceof FfiUdpNetwork);
    const s = ffi.value.network.bind({ hostname: "127.0.0.1", port: 0 });
    assert.ok(s.ok);
    await closeAll(s.value);
  }
});

Deno.test({
  name: "without the ffi permission, auto falls back to Deno.listenDatagram and ffi is an error",
  permissions: { net: true, ffi: false },
  fn() {
    assert.equal(isFfiAvailable(), false);
    const auto = createDatagramNetwork("auto");
    assert.ok(auto.ok && auto.value.kind === "deno");
    assert.match(auto.value.reason, /FFI not permitted/);
    const ffi = createDatagramNetwork("ffi");
    assert.ok(!ffi.ok && /--allow-ffi/.test(ffi.error));
  },
});

// ---------------------------------------------------------------------------
// A real L2TP flow over the FFI data plane

const MAIN = new URL("../main.ts", import.meta.url).pathname;

Deno.test({
  name: "lts run --data-plane ffi switches calls and frames both ways between FFI-socket nodes",
  ignore: !FFI,
  async fn() {
    const net = new FfiUdpNetwork();
    const lnsSocket = bound(net, "127.0.0.1");
    const lacSocket = bound(net, "127.0.0.1");
    const system = new ActorSystem({
      clock: new SystemClock(),
      scheduler: new MicrotaskScheduler(),
    });
    const lacUp: SessionHandle[] = [];
    const lnsUp = new Map<string, SessionHandle>();
    const atLns: string[] = [];
    const atLac: string[] = [];
    const text = (frame: Uint8Array) => new TextDecoder().decode(frame.subarray(4));
    const lns = new L2tpNode({
      system,
      socket: lnsSocket,
      settings: { hostname: "ffi-lns", helloIntervalMs: 0 },
      hooks: {
        sessionEstablished: (s) => void lnsUp.set(s.call.proxyAuthenName ?? "?", s),
        frame: (_s, frame) => void atLns.push(text(frame)),
      },
    });
    const lac = new L2tpNode({
      system,
      socket: lacSocket,
      settings: { hostname: "ffi-lac", helloIntervalMs: 0 },
      hooks: {
        sessionEstablished: (s) => void lacUp.push(s),
        frame: (_s, frame) => void atLac.push(text(frame)),
      },
    });
    const dir = await Deno.makeTempDir({ prefix: "lts-ffi-test-" });
    const probe = bound(new DenoUdpNetwork(), "127.0.0.1");
    const ltsPort = probe.local.port;
    await closeAll(probe);
    await Deno.writeTextFile(
      `${dir}/policy.yaml`,
      `hostname: lts-ffi
listen: ["127.0.0.1:${ltsPort}"]
lacs: [{ match: {} }]
upstreams:
  isp: { members: [{ address: "127.0.0.1:${lnsSocket.local.port}", hello_interval: 0 }] }
rules: [{ name: isp, match: { domain: "isp.example" }, forward: isp }]
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "run", "--config", `${dir}/policy.yaml`, "--data-plane", "ffi"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stdout = "";
    const stdoutDone = (async () => {
      for await (const c of child.stdout.pipeThrough(new TextDecoderStream())) stdout += c;
    })();
    const stderr = new Response(child.stderr).text();
    let status: Deno.CommandStatus;
    try {
      assert.ok(await waitFor(() => /lts: data plane \w+/.test(stdout), 20_000), stdout);
      assert.match(stdout, /lts: data plane ffi:/);
      const tunnel = lac.openTunnel({ hostname: "127.0.0.1", port: ltsPort });
      assert.ok(tunnel.ok);
      const calls = 20;
      for (let n = 1; n <= calls; n++) {
        assert.ok(lac.placeCall(tunnel.value, {
          callingNumber: `0201${n}`,
          calledNumber: `0800${n}`,
          bearerType: { digital: true, analog: false },
          framingType: { synchronous: true, asynchronous: false },
          txConnectSpeed: 100_000_000,
          ...proxyFields("pap", { name: `u${n}@isp.example`, password: "pw", id: n }, {
            clientMagic: 0x10000000 + n,
            lacMagic: 0x4c414301,
          }),
        }));
      }
      assert.ok(await waitFor(() => lnsUp.size === calls && lacUp.length === calls, 10_000));
      // PPP frames (RFC 1662 address/control, then protocol 0x0021) carrying a text to match.
      const frame = (s: string) =>
        new Uint8Array([0xff, 0x03, 0x00, 0x21, ...new TextEncoder().encode(s)]);
      for (const s of lacUp) assert.ok(s.sendFrame(frame(`up ${s.call.proxyAuthenName}`)));
      for (const [user, s] of lnsUp) assert.ok(s.sendFrame(frame(`down ${user}`)));
      assert.ok(await waitFor(() => atLns.length === calls && atLac.length === calls));
      const users = range(calls).map((i) => `u${i + 1}@isp.example`).sort();
      assert.deepEqual(atLns.map((t) => t.slice(3)).sort(), users);
      assert.deepEqual(atLac.map((t) => t.slice(5)).sort(), users);
    } finally {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      status = await child.status;
      await stdoutDone;
      lac.shutdown();
      lns.shutdown();
      system.shutdown();
      await closeAll(lacSocket, lnsSocket);
      await Deno.remove(dir, { recursive: true });
    }
    assert.equal(status.code, 0, await stderr);
  },
});
