import assert from "node:assert/strict";
import fc from "fast-check";
import {
  createEngine,
  ENGINE_TIMERS,
  type EngineConfig,
  type EngineEffect,
  type EngineInput,
  type EngineState,
  type EngineTimer,
  PHASES,
  type ServerEngineConfig,
  stepEngine,
} from "./engine.ts";
import {
  ControlCode,
  type ControlPacket,
  decodeControlPacket,
  decodeFrame,
  encodeControlPacket,
  encodeFrame,
  encodeOptions,
  PPP_IPCP,
  PPP_IPV6CP,
  PPP_LCP,
} from "./frame.ts";
import { chapResponse } from "./chap.ts";
import { echoRequest } from "./echo.ts";
import { IpPool } from "./ip_pool.ts";
import { PPP_CHAP, PPP_PAP } from "./proxy.ts";
import { LocalUsers } from "./users.ts";
import type { AuthProtocol } from "./lcp.ts";

const SERVER = 0;
const CLIENT = 1;
type Side = typeof SERVER | typeof CLIENT;

interface Party {
  state: EngineState;
  timers: Map<EngineTimer, number>;
  effects: EngineEffect[];
}

interface Sent {
  from: Side;
  frame: Uint8Array;
  dropped: boolean;
}

/**
 * Two engines back to back over a lossless, in-order wire, with a manual
 * clock: frames in flight are delivered first, then the earliest timer fires.
 */
class Link {
  now = 0;
  readonly parties: [Party, Party];
  readonly wire: { to: Side; frame: Uint8Array }[] = [];
  readonly sent: Sent[] = [];
  /** Frames (counted over both directions) to drop, from the first one sent. */
  dropFirst = 0;
  /** Drops every frame for which it returns true. */
  drop: (from: Side, frame: Uint8Array) => boolean = () => false;

  constructor(server: EngineState, client: EngineState) {
    this.parties = [
      { state: server, timers: new Map(), effects: [] },
      { state: client, timers: new Map(), effects: [] },
    ];
  }

  input(side: Side, input: EngineInput): void {
    const party = this.parties[side];
    const r = stepEngine(party.state, input);
    party.state = r.state;
    for (const e of r.effects) {
      party.effects.push(e);
      if (e.type === "send") {
        const dropped = this.sent.length < this.dropFirst || this.drop(side, e.frame);
        this.sent.push({ from: side, frame: e.frame, dropped });
        if (!dropped) this.wire.push({ to: side === SERVER ? CLIENT : SERVER, frame: e.frame });
      } else if (e.type === "arm_timer") {
        party.timers.set(e.timer, this.now + e.ms);
      } else if (e.type === "cancel_timer") {
        party.timers.delete(e.timer);
      }
    }
  }

  start(): this {
    this.input(SERVER, { type: "start", now: this.now });
    this.input(CLIENT, { type: "start", now: this.now });
    return this;
  }

  /** Runs until nothing is in flight and no timer is due before `untilMs`. */
  run(untilMs = 600_000): this {
    for (let steps = 0; steps < 100_000; steps++) {
      const next = this.wire.shift();
      if (next !== undefined) {
        this.input(next.to, { type: "frame", frame: next.frame, now: this.now });
        continue;
      }
      let due: { side: Side; timer: EngineTimer; at: number } | null = null;
      for (const side of [SERVER, CLIENT] as const) {
        for (const [timer, at] of this.parties[side].timers) {
          if (due === null || at < due.at) due = { side, timer, at };
        }
      }
      if (due === null || due.at > untilMs) return this;
      this.now = due.at;
      this.parties[due.side].timers.delete(due.timer);
      this.input(due.side, { type: "timeout", timer: due.timer, now: this.now });
    }
    throw new Error("the link did not settle");
  }

  effects(side: Side): EngineEffect[] {
    return this.parties[side].effects;
  }

  find<T extends EngineEffect["type"]>(side: Side, type: T) {
    return this.effects(side).filter((e): e is Extract<EngineEffect, { type: T }> =>
      e.type === type
    );
  }

  /** Control packets of `protocol` that `from` sent (dropped ones too). */
  packets(from: Side, protocol: number): ControlPacket[] {
    return this.sent.flatMap((s) => {
      if (s.from !== from) return [];
      const frame = decodeFrame(s.frame);
      if (!frame.ok || frame.value.protocol !== protocol) return [];
      const packet = decodeControlPacket(frame.value.payload);
      return packet.ok ? [packet.value] : [];
    });
  }
}

const USERS = new LocalUsers([{ name: "alice@isp-a.example", password: "s3cret" }]);

/** Deterministic Magic-Numbers and Challenge bytes. */
function counter(seed: number) {
  let next = seed;
  return {
    magic: () => (next++ * 0x01010101) >>> 0,
    random: (n: number) => Uint8Array.from({ length: n }, () => next++ & 0xff),
  };
}

function pool(spec = "10.0.0.0/29"): IpPool {
  const r = IpPool.parse(spec);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function serverConfig(
  auth: AuthProtocol,
  addresses: IpPool,
  extra: Partial<ServerEngineConfig> = {},
): EngineConfig {
  const { magic, random } = counter(0x10);
  return {
    role: "server",
    auth,
    users: USERS,
    magic,
    random,
    localAddress: "192.0.2.1",
    pool: addresses,
    dns: { primary: "192.0.2.53", secondary: "192.0.2.54" },
    ...extra,
  } as EngineConfig;
}

function clientConfig(extra: Partial<EngineConfig> = {}): EngineConfig {
  return {
    role: "client",
    name: "alice@isp-a.example",
    password: "s3cret",
    magic: counter(0x70).magic,
    ...extra,
  } as EngineConfig;
}

function link(server: EngineConfig, client: EngineConfig): Link {
  return new Link(createEngine(server), createEngine(client));
}

function assertOpen(l: Link, addresses: IpPool): void {
  assert.equal(l.parties[SERVER].state.phase, "open");
  assert.equal(l.parties[CLIENT].state.phase, "open");
  assert.deepEqual(l.find(CLIENT, "opened"), [{
    type: "opened",
    address: "10.0.0.1",
    dns: { primary: "192.0.2.53", secondary: "192.0.2.54" },
  }]);
  assert.deepEqual(l.find(SERVER, "opened"), [{ type: "opened", address: "10.0.0.1" }]);
  assert.deepEqual(l.find(SERVER, "authenticated"), [{
    type: "authenticated",
    user: "alice@isp-a.example",
  }]);
  assert.equal(l.find(CLIENT, "authenticated").length, 1);
  assert.deepEqual([...l.find(SERVER, "failed"), ...l.find(CLIENT, "failed")], []);
  assert.equal(addresses.inUse, 1);
  // Settled: no timer left running on either side.
  assert.equal(l.parties[SERVER].timers.size + l.parties[CLIENT].timers.size, 0);
}

for (const auth of ["pap", "chap"] as const) {
  Deno.test(`${auth}: server and client reach Open; the client gets the pool address and DNS`, () => {
    const addresses = pool();
    const l = link(serverConfig(auth, addresses), clientConfig()).start().run();
    assertOpen(l, addresses);
    assert.deepEqual(l.find(CLIENT, "phase").map((e) => e.phase), [
      "establish",
      "authenticate",
      "network",
      "open",
    ]);
    const authProtocol = auth === "pap" ? PPP_PAP : PPP_CHAP;
    assert.ok(l.packets(CLIENT, authProtocol).length > 0);
  });

  Deno.test(`${auth}: a wrong password fails both sides after an LCP Terminate-Request`, () => {
    const addresses = pool();
    const l = link(serverConfig(auth, addresses), clientConfig({ password: "wrong" }))
      .start()
      .run();
    const server = l.effects(SERVER);
    const terminate = server.findIndex((e) =>
      e.type === "send" && lcpCode(e.frame) === ControlCode.TerminateRequest
    );
    const failed = server.findIndex((e) => e.type === "failed");
    assert.ok(terminate >= 0 && failed > terminate, "Terminate-Request, then failed");
    assert.deepEqual(l.find(SERVER, "failed"), [{
      type: "failed",
      reason: "authentication failed: bad credentials",
    }]);
    assert.equal(l.find(CLIENT, "failed").length, 1);
    assert.match(l.find(CLIENT, "failed")[0].reason, /^authentication rejected by the peer/);
    assert.ok(l.packets(CLIENT, PPP_LCP).some((p) => p.code === ControlCode.TerminateAck));
    for (const side of [SERVER, CLIENT] as const) {
      assert.deepEqual(l.find(side, "closed"), [{ type: "closed" }]);
      assert.equal(l.parties[side].state.phase, "dead");
      assert.equal(l.parties[side].timers.size, 0);
      assert.equal(l.find(side, "opened").length, 0);
    }
    assert.equal(addresses.inUse, 0);
  });

  Deno.test(`${auth}: dropping the first frames still converges through the timers`, () => {
    for (let n = 1; n <= 8; n++) {
      const addresses = pool();
      const l = link(serverConfig(auth, addresses), clientConfig());
      l.dropFirst = n;
      l.start().run();
      assert.ok(l.sent.filter((s) => s.dropped).length === n);
      assertOpen(l, addresses);
    }
  });
}

function lcpCode(frame: Uint8Array): number | null {
  const f = decodeFrame(frame);
  if (!f.ok || f.value.protocol !== PPP_LCP) return null;
  const p = decodeControlPacket(f.value.payload);
  return p.ok ? p.value.code : null;
}

Deno.test("chap with ACFC and PFC: LCP keeps ff 03, IPCP and CHAP frames drop it", () => {
  const addresses = pool();
  const l = link(
    serverConfig("chap", addresses, { acfc: true, pfc: true }),
    clientConfig({ acfc: true, pfc: true }),
  ).start().run();
  assertOpen(l, addresses);
  for (const s of l.sent) {
    const f = decodeFrame(s.frame);
    assert.ok(f.ok);
    if (f.value.protocol === PPP_LCP) assert.equal(f.value.acfc, false);
    if (f.value.protocol === PPP_IPCP || f.value.protocol === PPP_CHAP) {
      assert.equal(f.value.acfc, true);
      assert.equal(f.value.pfc, false, "0x8021 and 0xc223 do not fit one octet");
    }
  }
});

for (const auth of ["pap", "chap"] as const) {
  Deno.test(`${auth} authOnly: the server stops after authentication with the proxy AVPs`, () => {
    const { magic, random } = counter(0x30);
    const server: EngineConfig = {
      role: "server",
      auth,
      users: USERS,
      magic,
      random,
      authOnly: true,
    };
    // MRU 100 is Nak'ed to 128 (MIN_MRU), so the client's first and last CONFREQs differ.
    const l = link(server, clientConfig({ mru: 100 })).start().run(1000);
    const authenticated = l.find(SERVER, "authenticated");
    assert.equal(authenticated.length, 1);
    const { user, proxy } = authenticated[0];
    assert.equal(user, "alice@isp-a.example");
    assert.ok(proxy !== undefined);
    assert.equal(l.parties[SERVER].state.phase, "network");
    assert.equal(l.parties[SERVER].timers.size, 0);
    assert.equal(l.packets(SERVER, PPP_IPCP).length, 0, "IPCP is the LNS's");
    assert.equal(l.find(SERVER, "opened").length, 0);

    // Proxy LCP: the option bodies actually exchanged.
    const clientReqs = l.packets(CLIENT, PPP_LCP).filter((p) =>
      p.code === ControlCode.ConfigureRequest
    );
    const serverAck = l.packets(SERVER, PPP_LCP).find((p) => p.code === ControlCode.ConfigureAck);
    const clientAck = l.packets(CLIENT, PPP_LCP).find((p) => p.code === ControlCode.ConfigureAck);
    assert.ok(serverAck && clientAck);
    assert.deepEqual(proxy.initialReceivedLcpConfreq, clientReqs[0].data);
    assert.deepEqual(proxy.lastReceivedLcpConfreq, serverAck.data);
    assert.deepEqual(proxy.lastReceivedLcpConfreq, clientReqs.at(-1)!.data);
    assert.notDeepEqual(proxy.initialReceivedLcpConfreq, proxy.lastReceivedLcpConfreq);
    assert.deepEqual(proxy.lastSentLcpConfreq, clientAck.data);

    // Proxy authentication.
    assert.equal(proxy.proxyAuthenName, "alice@isp-a.example");
    if (auth === "pap") {
      assert.equal(proxy.proxyAuthenType, 3);
      const request = l.packets(CLIENT, PPP_PAP)[0];
      assert.equal(proxy.proxyAuthenId, request.identifier);
      assert.deepEqual(proxy.proxyAuthenResponse, new TextEncoder().encode("s3cret"));
    } else {
      assert.equal(proxy.proxyAuthenType, 2);
      const challenge = l.packets(SERVER, PPP_CHAP)[0];
      assert.equal(proxy.proxyAuthenId, challenge.identifier);
      assert.ok(proxy.proxyAuthenChallenge !== undefined && proxy.proxyAuthenId !== undefined);
      assert.deepEqual(
        proxy.proxyAuthenResponse,
        chapResponse(proxy.proxyAuthenId, "s3cret", proxy.proxyAuthenChallenge),
      );
    }
  });
}

Deno.test("IPv6CP and an unknown protocol from the client draw an LCP Protocol-Reject", () => {
  const addresses = pool();
  const l = link(serverConfig("pap", addresses), clientConfig()).start().run();
  assertOpen(l, addresses);
  const ipv6cpRequest = encodeControlPacket({
    code: ControlCode.ConfigureRequest,
    identifier: 1,
    data: new Uint8Array([1, 10, 0, 0, 0, 0, 0, 0, 0, 1]),
  });
  const probes: [number, Uint8Array][] = [
    [PPP_IPV6CP, ipv6cpRequest],
    [0x8281, new Uint8Array([1, 2, 3])],
  ];
  for (const [protocol, body] of probes) {
    const before = l.effects(SERVER).length;
    l.input(SERVER, { type: "frame", frame: encodeFrame(protocol, body), now: l.now });
    const sends = l.effects(SERVER).slice(before).filter((e) => e.type === "send");
    assert.equal(sends.length, 1);
    const frame = decodeFrame(sends[0].type === "send" ? sends[0].frame : new Uint8Array());
    assert.ok(frame.ok && frame.value.protocol === PPP_LCP && !frame.value.acfc);
    const packet = decodeControlPacket(frame.value.payload);
    assert.ok(packet.ok && packet.value.code === ControlCode.ProtocolReject);
    assert.equal((packet.value.data[0] << 8) | packet.value.data[1], protocol);
    assert.deepEqual(packet.value.data.subarray(2), body);
  }
  // The client takes the Protocol-Rejects in its stride.
  l.run();
  assert.equal(l.parties[CLIENT].state.phase, "open");
  assert.equal(l.parties[SERVER].state.phase, "open");
});

Deno.test("IPv6CP before LCP is Opened is silently discarded (RFC 1661 §3.4)", () => {
  const s = stepEngine(createEngine(serverConfig("pap", pool())), { type: "start", now: 0 });
  const frame = encodeFrame(PPP_IPV6CP, new Uint8Array([1, 1, 0, 4]));
  assert.deepEqual(stepEngine(s.state, { type: "frame", frame, now: 1 }).effects, []);
});

Deno.test("an LCP Echo-Request in Opened is answered with our Magic-Number", () => {
  const addresses = pool();
  const l = link(serverConfig("chap", addresses), clientConfig()).start().run();
  const before = l.effects(SERVER).length;
  l.input(SERVER, { type: "frame", frame: echoRequest(42, 0x0badcafe), now: l.now });
  const reply = l.effects(SERVER).slice(before).find((e) => e.type === "send");
  assert.ok(reply?.type === "send");
  const frame = decodeFrame(reply.frame);
  assert.ok(frame.ok && frame.value.protocol === PPP_LCP);
  const packet = decodeControlPacket(frame.value.payload);
  assert.ok(packet.ok);
  assert.equal(packet.value.code, ControlCode.EchoReply);
  assert.equal(packet.value.identifier, 42);
  const magic = new DataView(packet.value.data.buffer, packet.value.data.byteOffset).getUint32(0);
  assert.equal(magic, l.parties[SERVER].state.lcp.local.acked?.magic);
  assert.notEqual(magic, 0);
});

Deno.test("echo keepalive: answered echoes keep the link; a dead peer is detected", () => {
  const addresses = pool();
  const l = link(
    serverConfig("pap", addresses, { echo: { intervalMs: 10_000, maxMissed: 3 } }),
    clientConfig(),
  ).start().run(1000);
  assertOpenAllButTimers(l);
  l.run(120_000);
  const echoes = l.packets(SERVER, PPP_LCP).filter((p) => p.code === ControlCode.EchoRequest);
  assert.ok(echoes.length >= 11, `${echoes.length} Echo-Requests`);
  assert.equal(l.find(SERVER, "failed").length, 0);
  assert.equal(l.parties[SERVER].state.phase, "open");

  // The client goes silent.
  const silentFrom = l.now;
  l.drop = (from) => from === CLIENT;
  l.run();
  assert.deepEqual(l.find(SERVER, "failed"), [{
    type: "failed",
    reason: "peer not answering echo",
  }]);
  const failedAt = l.now;
  assert.ok(failedAt > silentFrom);
  assert.ok(
    l.packets(SERVER, PPP_LCP).some((p) => p.code === ControlCode.TerminateRequest),
  );
  assert.deepEqual(l.find(SERVER, "closed"), [{ type: "closed" }]);
  assert.equal(l.parties[SERVER].timers.size, 0);
  assert.equal(addresses.inUse, 0, "the address went back to the pool");
  // The client heard the Terminate-Request: closed after its success, not failed.
  assert.deepEqual(l.find(CLIENT, "failed"), []);
  assert.deepEqual(l.find(CLIENT, "closed"), [{ type: "closed" }]);
});

Deno.test("an echo timeout a fraction of a millisecond early waits out the rest instead of being lost", () => {
  // A host timer may fire a hair before the host clock reaches the deadline; taking that for a
  // stale timeout (and arming nothing) used to end the keepalive for good.
  const l = link(
    serverConfig("pap", pool(), { echo: { intervalMs: 1000, maxMissed: 3 } }),
    clientConfig(),
  ).start().run(100);
  assertOpenAllButTimers(l);
  const state = l.parties[SERVER].state;
  const deadline = state.echo.deadline;
  assert.ok(deadline !== null);
  const early = stepEngine(state, { type: "timeout", timer: "echo", now: deadline - 0.3 });
  assert.deepEqual(early.effects, [{
    type: "arm_timer",
    timer: "echo",
    ms: deadline - (deadline - 0.3),
  }]);
  const due = stepEngine(early.state, { type: "timeout", timer: "echo", now: deadline });
  const sent = due.effects.filter((e) => e.type === "send");
  assert.equal(sent.length, 1, JSON.stringify(due.effects));
  assert.equal(sent[0].type === "send" && sent[0].frame[4], ControlCode.EchoRequest);
  assert.ok(due.effects.some((e) => e.type === "arm_timer" && e.timer === "echo"));
});

function assertOpenAllButTimers(l: Link): void {
  assert.equal(l.parties[SERVER].state.phase, "open");
  assert.equal(l.parties[CLIENT].state.phase, "open");
}

Deno.test("pool exhausted: the server fails and so does the client", () => {
  const addresses = pool("10.0.0.1-10.0.0.1");
  assert.equal(addresses.allocate(), "10.0.0.1");
  const l = link(serverConfig("pap", addresses), clientConfig()).start().run();
  assert.deepEqual(l.find(SERVER, "failed"), [{
    type: "failed",
    reason: "address pool exhausted",
  }]);
  assert.equal(l.find(CLIENT, "failed").length, 1);
  for (const side of [SERVER, CLIENT] as const) {
    assert.deepEqual(l.find(side, "closed"), [{ type: "closed" }]);
    assert.equal(l.find(side, "opened").length, 0);
    assert.equal(l.parties[side].timers.size, 0);
  }
  assert.equal(addresses.inUse, 1, "only the address taken before");
});

Deno.test("close after Open: both sides close without failing and the address is released", () => {
  const addresses = pool();
  const l = link(serverConfig("chap", addresses), clientConfig()).start().run();
  assertOpen(l, addresses);
  l.input(CLIENT, { type: "close", now: l.now });
  l.run();
  for (const side of [SERVER, CLIENT] as const) {
    assert.deepEqual(l.find(side, "failed"), []);
    assert.deepEqual(l.find(side, "closed"), [{ type: "closed" }]);
    assert.equal(l.parties[side].state.phase, "dead");
    assert.equal(l.parties[side].timers.size, 0);
  }
  assert.deepEqual(l.find(CLIENT, "phase").map((e) => e.phase).slice(-2), ["terminate", "dead"]);
  assert.equal(addresses.inUse, 0);
  // A dead engine takes no more input.
  const dead = l.parties[SERVER].state;
  assert.deepEqual(stepEngine(dead, { type: "start", now: l.now }), { state: dead, effects: [] });
});

Deno.test("no answer at all: LCP gives up after Max-Configure and the engine fails", () => {
  const e = createEngine(clientConfig());
  const l = new Link(e, createEngine(clientConfig()));
  l.drop = () => true;
  l.start().run();
  assert.deepEqual(l.find(CLIENT, "failed"), [{
    type: "failed",
    reason: "LCP negotiation did not converge",
  }]);
  assert.equal(l.packets(CLIENT, PPP_LCP).length, 10, "Max-Configure Configure-Requests");
  assert.deepEqual(l.find(CLIENT, "closed"), [{ type: "closed" }]);
});

Deno.test("createEngine rejects what PAP or CHAP cannot carry", () => {
  assert.throws(
    () => createEngine(clientConfig({ password: "" } as Partial<EngineConfig>)),
    RangeError,
  );
  assert.throws(() => createEngine(clientConfig({ name: "x".repeat(256) })), RangeError);
  assert.throws(
    () => createEngine(serverConfig("pap", pool(), { auth: [] })),
    RangeError,
  );
});

// ---------------------------------------------------------------------------
// Property: whatever arrives, the engine never throws and stays in a declared phase.

const PROTOCOLS = [PPP_LCP, PPP_PAP, PPP_CHAP, PPP_IPCP, PPP_IPV6CP, 0x0021, 0x0057, 0x8281];

const controlFrame = fc.record({
  protocol: fc.constantFrom(...PROTOCOLS),
  code: fc.integer({ min: 0, max: 14 }),
  identifier: fc.integer({ min: 0, max: 255 }),
  data: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    // Well-formed options, so Configure-* packets get past decodeOptions.
    fc.array(
      fc.record({
        type: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constantFrom(129, 131)),
        data: fc.uint8Array({ maxLength: 6 }),
      }),
      { maxLength: 5 },
    ).map(encodeOptions),
  ),
  acfc: fc.boolean(),
}).map(({ protocol, code, identifier, data, acfc }) =>
  encodeFrame(protocol, encodeControlPacket({ code, identifier, data }), { acfc })
);

const input: fc.Arbitrary<EngineInput> = fc.oneof(
  fc.constant({ type: "start" as const, now: 0 }),
  fc.constant({ type: "close" as const, now: 0 }),
  fc.constantFrom(...ENGINE_TIMERS).map((timer) => ({
    type: "timeout" as const,
    timer,
    now: 0,
  })),
  fc.oneof(controlFrame, fc.uint8Array({ maxLength: 30 })).map((frame) => ({
    type: "frame" as const,
    frame,
    now: 0,
  })),
);

/** Where the property starts: fresh engines of each kind, and both ends of an Open link. */
const STARTS: Record<string, () => EngineState> = {
  "server-pap": () => createEngine(serverConfig("pap", pool())),
  "server-chap": () => createEngine(serverConfig("chap", pool())),
  "server-auth-only": () =>
    createEngine({ ...serverConfig("chap", pool()), authOnly: true } as EngineConfig),
  "client": () => createEngine(clientConfig()),
  "open-server": () => openLink().parties[SERVER].state,
  "open-client": () => openLink().parties[CLIENT].state,
};

function openLink(): Link {
  const l = link(
    serverConfig("pap", pool(), { echo: { intervalMs: 1000, maxMissed: 2 } }),
    clientConfig({ acfc: true, pfc: true }),
  ).start().run(100);
  assertOpenAllButTimers(l);
  return l;
}

Deno.test("property: random input never throws and the phase is always declared", () => {
  const effectTypes = new Set([
    "send",
    "arm_timer",
    "cancel_timer",
    "phase",
    "authenticated",
    "opened",
    "failed",
    "closed",
  ]);
  fc.assert(
    fc.property(
      fc.constantFrom(...Object.keys(STARTS)),
      fc.array(fc.tuple(input, fc.integer({ min: 0, max: 5000 })), { maxLength: 60 }),
      (start, inputs) => {
        let state = STARTS[start]();
        let now = 0;
        let closed = 0;
        for (const [event, dt] of inputs) {
          now += dt;
          const r = stepEngine(state, { ...event, now });
          state = r.state;
          assert.ok(PHASES.includes(state.phase));
          for (const e of r.effects) {
            assert.ok(effectTypes.has(e.type), e.type);
            if (e.type === "phase") assert.ok(PHASES.includes(e.phase));
            if (e.type === "arm_timer" || e.type === "cancel_timer") {
              assert.ok(ENGINE_TIMERS.includes(e.timer));
            }
            if (e.type === "closed") closed++;
          }
        }
        assert.ok(closed <= 1);
        assert.equal(closed === 1, state.finished);
      },
    ),
    { numRuns: 300 },
  );
});
