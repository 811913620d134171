/**
 * Tunnel switching end to end on the seeded in-memory network: LACs → lts →
 * upstream groups of LNS members, by policy (RFC 2661 roles: lts is an LNS
 * toward the LACs and a LAC toward the LNSes).
 */
import assert from "node:assert/strict";
import { startLts } from "../actors/lts.ts";
import { EARLY_FRAMES } from "../actors/session_actor.ts";
import { loadPolicy } from "../policies/mod.ts";
import type { SessionHandle } from "../actors/l2tp_types.ts";
import { echoRequest } from "../ppp/echo.ts";
import { createEngine, stepEngine } from "../ppp/engine.ts";
import { fieldsOf } from "../transport/message.ts";
import { controlMessages, simulation } from "./_l2tp_sim.ts";

const LTS = { hostname: "10.1.0.1", port: 1701 };
const LAC1 = { hostname: "10.2.0.1", port: 1701 };
const LAC2 = { hostname: "10.2.0.2", port: 1701 };
const A1 = { hostname: "10.3.0.1", port: 1701 };
const A2 = { hostname: "10.3.0.2", port: 1701 };
const B1 = { hostname: "10.4.0.1", port: 1701 };
const B2 = { hostname: "10.4.0.2", port: 1701 };

const POLICY = `
hostname: lts-a
listen: ["10.1.0.1:1701"]
lacs:
  - { match: { hostname: "lac-*" }, secret: "lac-secret" }
upstreams:
  isp-a:
    strategy: priority
    sessions_per_tunnel: 10
    members:
      - { address: "10.3.0.1:1701", secret: "a-secret", priority: 1 }
      - { address: "10.3.0.2:1701", secret: "a-secret", priority: 2 }
  isp-b:
    strategy: round_robin
    members:
      - { address: "10.4.0.1:1701" }
      - { address: "10.4.0.2:1701" }
rules:
  - { name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }
  - { name: isp-b, match: { domain: "isp-b.example" }, forward: isp-b }
  - { name: blocked, match: { domain: "*.blocked.example" }, reject: { result_code: 2, message: "realm not served" } }
default: { reject: { result_code: 2 } }
`;

function testbed(seed: number, policyText = POLICY, extra: { switchMailbox?: number } = {}) {
  const sim = simulation(seed);
  const policy = loadPolicy(policyText, "lts.yaml");
  assert.ok(policy.ok, policy.ok ? "" : policy.error.join("\n"));
  const bound = sim.network.bind(LTS);
  assert.ok(bound.ok);
  const lts = startLts({
    system: sim.system,
    socket: bound.value,
    policy: policy.value,
    seed,
    memberHoldDownMs: 30_000,
    ...extra,
  });
  const secret = (s: string) => new TextEncoder().encode(s);
  // Every LNS answers LCP Echo-Requests, as a PPP peer would, and records what it got.
  const frames: Record<string, number> = {};
  const lnsAt = (name: string, address: typeof A1, withSecret: boolean) =>
    sim.node(address, {
      settings: { hostname: `lns-${name}`, secret: withSecret ? secret("a-secret") : undefined },
      hooks: {
        frame: (session, frame) => {
          frames[name] = (frames[name] ?? 0) + 1;
          // Only LCP Echo-Requests (ff 03 c0 21 09) are answered; other PPP is the client's business.
          if (frame[2] !== 0xc0 || frame[3] !== 0x21 || frame[4] !== 9) return;
          const reply = frame.slice();
          reply[4] = 10;
          session.sendFrame(reply);
        },
      },
    });
  const lns = {
    a1: lnsAt("a1", A1, true),
    a2: lnsAt("a2", A2, true),
    b1: lnsAt("b1", B1, false),
    b2: lnsAt("b2", B2, false),
  };
  const lac1 = sim.node(LAC1, {
    settings: { hostname: "lac-north-1", secret: secret("lac-secret") },
  });
  const lac2 = sim.node(LAC2, {
    settings: { hostname: "lac-south-1", secret: secret("lac-secret") },
  });
  return { sim, lts, lns, lac1, lac2, frames };
}

function call(user: string, n: number) {
  return {
    proxyAuthenType: 3,
    proxyAuthenName: user,
    proxyAuthenId: 1,
    proxyAuthenResponse: new Uint8Array([1]),
    callingNumber: `020${n}`,
    calledNumber: `0800${n}`,
  };
}

Deno.test("calls land at the upstream their rule names; frames cross both legs both ways", () => {
  const { sim, lts, lns, lac1, lac2, frames } = testbed(1);
  const t1 = lac1.node.openTunnel(LTS);
  const t2 = lac2.node.openTunnel(LTS);
  assert.ok(t1.ok && t2.ok);
  for (let i = 0; i < 4; i++) {
    lac1.node.placeCall(t1.value, call(`user${i}@isp-a.example`, i));
    lac2.node.placeCall(t2.value, call(`user${i}@isp-b.example`, 10 + i));
  }
  assert.ok(sim.runUntil(() => lts.stats.switched === 8, 30_000), JSON.stringify(lts.stats));
  assert.ok(
    sim.runUntil(
      () => lac1.recorder.sessionsUp.length === 4 && lac2.recorder.sessionsUp.length === 4,
      5_000,
    ),
  );
  // isp-a: priority → all on a1; isp-b: round robin → split over b1 and b2.
  assert.equal(lns.a1.recorder.sessionsUp.length, 4);
  assert.equal(lns.a2.recorder.sessionsUp.length, 0);
  assert.equal(lns.b1.recorder.sessionsUp.length + lns.b2.recorder.sessionsUp.length, 4);
  assert.ok(lns.b1.recorder.sessionsUp.length > 0 && lns.b2.recorder.sessionsUp.length > 0);
  // The LNS sees the call as the LAC dialled it.
  const seen = lns.a1.recorder.sessionsUp.map((s) => s.call.proxyAuthenName).sort();
  assert.deepEqual(seen, [
    "user0@isp-a.example",
    "user1@isp-a.example",
    "user2@isp-a.example",
    "user3@isp-a.example",
  ]);
  const s0 = lns.a1.recorder.sessionsUp.find((s) =>
    s.call.proxyAuthenName === "user0@isp-a.example"
  )!;
  assert.equal(s0.call.calledNumber, "08000");
  assert.equal(s0.call.callingNumber, "0200");
  assert.equal(s0.tunnel.peerHostName, "lts-a");
  // Frames: LAC → LNS and the echo reply LNS → LAC.
  for (const s of [...lac1.recorder.sessionsUp, ...lac2.recorder.sessionsUp]) {
    assert.ok(s.sendFrame(echoRequest(7, 0x11223344)));
  }
  sim.scheduler.advance(100);
  assert.equal(Object.values(frames).reduce((a, b) => a + b, 0), 8);
  assert.equal(lac1.recorder.frames.length + lac2.recorder.frames.length, 8);
  assert.ok(lac1.recorder.frames.every((f) => f.frame[4] === 10), "echo replies came back");
  // Aggregation: 4 sessions share one tunnel to a1 (sessions_per_tunnel 10).
  assert.equal(lns.a1.node.tunnelCount, 1);
});

Deno.test("a switched call holds no timer: 9 more calls switched on the same tunnels leave the pending timers as they were", () => {
  // 100,000 switched calls must not mean 200,000 armed timers (the setup deadline is cancelled).
  const { sim, lts, lac1 } = testbed(21);
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac1.node.placeCall(t.value, call("first@isp-a.example", 0));
  assert.ok(sim.runUntil(() => lts.stats.switched === 1, 30_000));
  sim.scheduler.advance(5_000); // acknowledgement timers run out
  const before = sim.clock.pendingTimers;
  // 9 more: the upstream tunnel (sessions_per_tunnel 10) takes them all, no new tunnel timers.
  for (let i = 1; i <= 9; i++) lac1.node.placeCall(t.value, call(`u${i}@isp-a.example`, i));
  assert.ok(sim.runUntil(() => lts.stats.switched === 10, 30_000), JSON.stringify(lts.stats));
  sim.scheduler.advance(5_000);
  assert.equal(lts.stats.active, 10);
  assert.equal(sim.clock.pendingTimers, before);
});

Deno.test("rejected realms get their result code; unknown realms the default", () => {
  const { sim, lac1 } = testbed(2);
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac1.node.placeCall(t.value, call("eve@x.blocked.example", 1));
  lac1.node.placeCall(t.value, call("bob@nowhere.example", 2));
  assert.ok(sim.runUntil(() => lac1.recorder.sessionsClosed.length === 2, 30_000));
  const byUser = new Map(
    lac1.recorder.sessionsClosed.map((c) => [c.session.call.proxyAuthenName, c.reason.result]),
  );
  assert.equal(byUser.get("eve@x.blocked.example")?.resultCode, 2);
  assert.equal(byUser.get("eve@x.blocked.example")?.errorMessage, "realm not served");
  assert.equal(byUser.get("bob@nowhere.example")?.resultCode, 2);
});

Deno.test("teardown in both directions: a CDN on either leg clears the other, entries removed", () => {
  const { sim, lts, lns, lac1 } = testbed(3);
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac1.node.placeCall(t.value, call("u1@isp-a.example", 1));
  lac1.node.placeCall(t.value, call("u2@isp-a.example", 2));
  assert.ok(sim.runUntil(() => lts.stats.switched === 2, 30_000));
  assert.ok(sim.runUntil(() => lac1.recorder.sessionsUp.length === 2, 5_000));
  // From the LAC side.
  lac1.recorder.sessionsUp.find((s) => s.call.proxyAuthenName === "u1@isp-a.example")!.disconnect({
    resultCode: 3,
  });
  // From the LNS side, with a Q.931 cause that must reach the LAC.
  lns.a1.recorder.sessionsUp.find((s) => s.call.proxyAuthenName === "u2@isp-a.example")!
    .disconnect({ resultCode: 10, errorCode: 0, errorMessage: "idle" }, {
      causeCode: 16,
      causeMsg: 69,
    });
  assert.ok(
    sim.runUntil(
      () =>
        lns.a1.recorder.sessionsClosed.length === 2 && lac1.recorder.sessionsClosed.length === 2,
      30_000,
    ),
  );
  const atLns = lns.a1.recorder.sessionsClosed.find((c) =>
    c.session.call.proxyAuthenName === "u1@isp-a.example"
  )!;
  assert.equal(atLns.reason.result.resultCode, 3);
  const atLac = lac1.recorder.sessionsClosed.find((c) =>
    c.session.call.proxyAuthenName === "u2@isp-a.example"
  )!;
  assert.equal(atLac.reason.result.resultCode, 10);
  assert.deepEqual(atLac.reason.q931, { causeCode: 16, causeMsg: 69 });
  sim.scheduler.advance(1000);
  assert.equal(lts.node.forwarding.size, 0);
  assert.equal(lts.stats.active, 0);
});

Deno.test("the primary member dies: new calls go to the backup with no failure seen by the LAC", () => {
  const { sim, lts, lns, lac1 } = testbed(4);
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac1.node.placeCall(t.value, call("first@isp-a.example", 1));
  assert.ok(sim.runUntil(() => lts.stats.switched === 1, 30_000));
  // a1 vanishes: its socket closes, its state is gone.
  lns.a1.node.shutdown();
  lns.a1.node.socket.close();
  lac1.node.placeCall(t.value, call("second@isp-a.example", 2));
  assert.ok(
    sim.runUntil(() => lns.a2.recorder.sessionsUp.length === 1, 120_000),
    JSON.stringify(lts.stats),
  );
  assert.ok(
    sim.runUntil(
      () =>
        lac1.recorder.sessionsUp.filter((s) => s.call.proxyAuthenName === "second@isp-a.example")
          .length === 1,
      10_000,
    ),
  );
  assert.ok(
    !lac1.recorder.sessionsClosed.some((c) =>
      c.session.call.proxyAuthenName === "second@isp-a.example"
    ),
  );
});

Deno.test("every member fails: the LAC gets a CDN, only after all were tried", () => {
  const { sim, lts, lns, lac1 } = testbed(5);
  for (const l of [lns.a1, lns.a2]) {
    l.node.shutdown();
    l.node.socket.close();
  }
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac1.node.placeCall(t.value, call("x@isp-a.example", 1));
  assert.ok(
    sim.runUntil(() => lac1.recorder.sessionsClosed.length === 1, 200_000),
    JSON.stringify(lts.stats),
  );
  assert.ok(lts.stats.failovers >= 1);
  assert.equal(lts.stats.failed, 1);
  assert.equal(lac1.recorder.sessionsClosed[0].reason.by, "peer");
});

Deno.test("aggregation: 25 calls share ceil(25/10) = 3 upstream tunnels", () => {
  const { sim, lts, lns, lac1 } = testbed(6);
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  for (let i = 0; i < 25; i++) lac1.node.placeCall(t.value, call(`u${i}@isp-a.example`, i));
  assert.ok(sim.runUntil(() => lts.stats.switched === 25, 60_000), JSON.stringify(lts.stats));
  assert.equal(lns.a1.node.tunnelCount, 3);
});

Deno.test("a LAC not in lacs: is refused with StopCCN result 4", () => {
  const { sim } = testbed(7);
  const stranger = sim.node({ hostname: "10.9.0.1", port: 1701 }, {
    settings: { hostname: "rogue", secret: new TextEncoder().encode("lac-secret") },
  });
  const t = stranger.node.openTunnel(LTS);
  assert.ok(t.ok);
  sim.scheduler.advance(10_000);
  assert.equal(stranger.recorder.tunnelsUp.length, 0);
  assert.equal(stranger.recorder.tunnelsClosed[0]?.reason.result.resultCode, 4);
});

Deno.test("chained switches count hops in a vendor AVP; a loop of switches ends at max_hops with a CDN", () => {
  const sim = simulation(8);
  const text = (self: string, other: string) => `
hostname: ${self === "10.1.0.1" ? "lts-a" : "lts-b"}
listen: ["${self}:1701"]
max_hops: 3
lacs: [{ match: {} }]
upstreams: { next: { members: [{ address: "${other}:1701" }] } }
rules: [{ name: loop, match: { domain: "isp-a.example" }, forward: next }]
`;
  const start = (self: string, other: string) => {
    const policy = loadPolicy(text(self, other), `${self}.yaml`);
    assert.ok(policy.ok, policy.ok ? "" : policy.error.join("\n"));
    const bound = sim.network.bind({ hostname: self, port: 1701 });
    assert.ok(bound.ok);
    return startLts({ system: sim.system, socket: bound.value, policy: policy.value, seed: 9 });
  };
  const a = start("10.1.0.1", "10.1.0.2");
  const b = start("10.1.0.2", "10.1.0.1");
  const lac = sim.node(LAC1, { settings: { hostname: "lac-1" } });
  const t = lac.node.openTunnel({ hostname: "10.1.0.1", port: 1701 });
  assert.ok(t.ok);
  lac.node.placeCall(t.value, call("loop@isp-a.example", 1));
  assert.ok(
    sim.runUntil(() => lac.recorder.sessionsClosed.length === 1, 60_000),
    JSON.stringify([a.stats, b.stats]),
  );
  assert.match(
    lac.recorder.sessionsClosed[0].reason.result.errorMessage ?? "",
    /too many switch hops \(3\)/,
  );
  // A sends Hop Count 1 to B, B sends 2 to A, A sends 3 to B, and B, at max_hops, refuses.
  assert.equal(a.stats.calls, 2);
  assert.equal(b.stats.calls, 2);
  assert.equal(b.stats.rejected, 1);
  sim.scheduler.advance(5000);
  assert.equal(a.stats.active + b.stats.active, 0);
});

Deno.test("an LNS behind the switch sees Hop Count 1; WEN and SLI are relayed across the switch", () => {
  const { sim, lts, lns, lac1 } = testbed(9);
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac1.node.placeCall(t.value, call("w@isp-a.example", 1));
  assert.ok(sim.runUntil(() => lts.stats.switched === 1, 30_000));
  assert.ok(
    sim.runUntil(
      () => lac1.recorder.sessionsUp.length === 1 && lns.a1.recorder.sessionsUp.length === 1,
      5_000,
    ),
  );
  const atLns = lns.a1.recorder.sessionsUp[0];
  const hop = atLns.extraAvps.find((a) => a.vendorId === 32473 && a.attributeType === 1);
  assert.deepEqual(hop?.value, new Uint8Array([0, 1]));
  atLns.setLinkInfo({ sendAccm: 0, receiveAccm: 0xffffffff });
  lac1.recorder.sessionsUp[0].wanError({
    crcErrors: 1,
    framingErrors: 0,
    hardwareOverruns: 0,
    bufferOverruns: 0,
    timeoutErrors: 0,
    alignmentErrors: 0,
  });
  sim.scheduler.advance(2000);
  const sli = controlMessages(lac1.recorder.wire, new TextEncoder().encode("lac-secret")).find((
    m,
  ) => m.type === "SLI");
  assert.deepEqual(
    sli && fieldsOf(sli.avps).accm,
    { sendAccm: 0, receiveAccm: 0xffffffff },
    "the LNS's SLI reached the LAC",
  );
  const wen = controlMessages(lns.a1.recorder.wire, new TextEncoder().encode("a-secret")).find((
    m,
  ) => m.type === "WEN");
  assert.equal(wen && fieldsOf(wen.avps).callErrors?.crcErrors, 1, "the LAC's WEN reached the LNS");
});

Deno.test("max_sessions of a member is respected: the next call goes to the next member", () => {
  const policy = POLICY.replace(
    '{ address: "10.3.0.1:1701", secret: "a-secret", priority: 1 }',
    '{ address: "10.3.0.1:1701", secret: "a-secret", priority: 1, max_sessions: 2 }',
  );
  const { sim, lts, lns, lac1 } = testbed(10, policy);
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  for (let i = 0; i < 5; i++) lac1.node.placeCall(t.value, call(`m${i}@isp-a.example`, i));
  assert.ok(sim.runUntil(() => lts.stats.switched === 5, 30_000), JSON.stringify(lts.stats));
  assert.equal(lns.a1.recorder.sessionsUp.length, 2);
  assert.equal(lns.a2.recorder.sessionsUp.length, 3);
});

Deno.test("an upstream tunnel left idle is closed after the idle timeout", () => {
  const { sim, lts, lns, lac1 } = testbed(11);
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac1.node.placeCall(t.value, call("i@isp-a.example", 1));
  assert.ok(sim.runUntil(() => lts.stats.switched === 1, 30_000));
  assert.ok(sim.runUntil(() => lac1.recorder.sessionsUp.length === 1, 5_000));
  assert.equal(lns.a1.node.tunnelCount, 1);
  lac1.recorder.sessionsUp[0].disconnect({ resultCode: 3 });
  sim.scheduler.advance(30_000);
  assert.equal(lns.a1.node.tunnelCount, 1, "still open within the idle timeout");
  assert.ok(
    sim.runUntil(() => lns.a1.node.tunnelCount === 0, 120_000),
    "closed once idle for 60 s",
  );
  assert.equal(lac1.node.tunnelCount, 1, "the LAC's tunnel is not the switch's to close");
});

Deno.test("limits: max_sessions refuses calls beyond it with CDN 4; sccrq_per_second drops SCCRQs over the rate", () => {
  const policy = POLICY.replace(
    "hostname: lts-a\n",
    "hostname: lts-a\nlimits: { max_sessions: 3, sccrq_per_second: 2 }\n",
  );
  const { sim, lts, lac1 } = testbed(12, policy);
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  for (let i = 0; i < 5; i++) lac1.node.placeCall(t.value, call(`c${i}@isp-a.example`, i));
  assert.ok(
    sim.runUntil(
      () => lts.stats.switched === 3 && lac1.recorder.sessionsClosed.length === 2,
      30_000,
    ),
    JSON.stringify(lts.stats),
  );
  assert.ok(lac1.recorder.sessionsClosed.every((c) => c.reason.result.resultCode === 4));
  // SCCRQs: the bucket holds 2 (one second's worth); the LAC's tunnel took one, so of 5 new hosts 1 gets in at once.
  const before = lts.node.counters.sccrqRateLimited;
  for (let i = 0; i < 5; i++) {
    const lac = sim.node({ hostname: `10.8.0.${i + 1}`, port: 1701 }, {
      settings: { hostname: `lac-x${i}`, secret: new TextEncoder().encode("lac-secret") },
    });
    lac.node.openTunnel(LTS);
  }
  sim.scheduler.advance(10);
  assert.equal(lts.node.counters.sccrqRateLimited - before, 4);
  // They retransmit (§5.8) and get in as the bucket refills.
  sim.scheduler.advance(20_000);
  assert.equal(lts.node.tunnelCount, 1 + 5 + 1, "six LAC tunnels and the one to isp-a's member");
});

Deno.test("an upstream tunnel lost (LNS gone silent) clears its switched calls with a CDN to the LAC", () => {
  const { sim, lts, lac1 } = testbed(13);
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac1.node.placeCall(t.value, call("gone@isp-a.example", 1));
  assert.ok(sim.runUntil(() => lts.stats.switched === 1, 30_000));
  assert.ok(sim.runUntil(() => lac1.recorder.sessionsUp.length === 1, 5_000));
  // The LNS disappears without a word: only the switch's HELLO (60 s idle) and its retransmissions tell.
  sim.network.partition(LTS, A1);
  assert.ok(
    sim.runUntil(() => lac1.recorder.sessionsClosed.length === 1, 200_000),
    JSON.stringify(lts.stats),
  );
  assert.equal(lac1.recorder.tunnelsClosed.length, 0, "the LAC's tunnel stays up");
  assert.equal(lts.stats.active, 0);
  assert.equal(lts.node.forwarding.size, 0);
});

Deno.test("a call with no proxy AVPs: lts authenticates the user over PPP itself, then switches by realm with proxy AVPs", () => {
  const { sim, lts, lns } = testbed(14);
  // The remote system is a PPP client (client-initiated: nothing but the L2TP call reaches lts).
  let client = createEngine({
    role: "client",
    name: "carol@isp-a.example",
    password: "wonderland",
    magic: () => 0x1234,
  });
  const outcome: string[] = [];
  const timers = new Map<string, { id: number }>();
  const drive = (session: SessionHandle, input: Parameters<typeof stepEngine>[1]) => {
    const { state, effects } = stepEngine(client, input);
    client = state;
    for (const e of effects) {
      if (e.type === "send") session.sendFrame(e.frame);
      else if (e.type === "arm_timer") {
        const old = timers.get(e.timer);
        if (old) sim.clock.cancel(old);
        timers.set(
          e.timer,
          sim.clock.setTimer(
            e.ms,
            () => drive(session, { type: "timeout", timer: e.timer, now: sim.clock.now() }),
          ),
        );
      } else if (e.type === "cancel_timer") {
        const old = timers.get(e.timer);
        if (old) sim.clock.cancel(old);
        timers.delete(e.timer);
      } else outcome.push(e.type);
    }
  };
  const lac = sim.node({ hostname: "10.2.0.9", port: 1701 }, {
    settings: { hostname: "lac-client", secret: new TextEncoder().encode("lac-secret") },
    hooks: {
      sessionEstablished: (s: SessionHandle) =>
        void drive(s, { type: "start", now: sim.clock.now() }),
      frame: (s: SessionHandle, frame: Uint8Array) =>
        void drive(s, { type: "frame", frame: frame.slice(), now: sim.clock.now() }),
    },
  });
  const t = lac.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac.node.placeCall(t.value, { callingNumber: "0201", calledNumber: "0800" });
  assert.ok(sim.runUntil(() => lts.stats.switched === 1, 30_000), JSON.stringify(lts.stats));
  const atLns = lns.a1.recorder.sessionsUp[0];
  assert.equal(atLns.call.proxyAuthenName, "carol@isp-a.example");
  assert.equal(atLns.call.proxyAuthenType, 2, "CHAP, as lts asked the client");
  assert.ok(
    atLns.call.proxyAuthenChallenge && atLns.call.proxyAuthenResponse,
    "challenge and response handed on",
  );
  assert.ok(
    atLns.call.lastSentLcpConfreq && atLns.call.lastReceivedLcpConfreq,
    "proxy LCP handed on",
  );
  assert.equal(atLns.call.calledNumber, "0800");
  assert.ok(outcome.includes("phase"));
});

Deno.test("a LAC CDN that arrives while the upstream leg is being set up is carried on with its Result Code", () => {
  const { sim, lts, lns } = testbed(15);
  // This LAC hangs up as soon as its own leg is up: before lts has the upstream leg.
  const lac = sim.node({ hostname: "10.2.0.8", port: 1701 }, {
    settings: { hostname: "lac-hasty", secret: new TextEncoder().encode("lac-secret") },
    hooks: {
      sessionEstablished: (s: SessionHandle) =>
        s.disconnect({ resultCode: 7, errorCode: 0, errorMessage: "no carrier" }),
    },
  });
  const t = lac.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac.node.placeCall(t.value, call("hasty@isp-a.example", 1));
  assert.ok(
    sim.runUntil(() => lns.a1.recorder.sessionsClosed.length === 1, 30_000),
    JSON.stringify(lts.stats),
  );
  assert.equal(lns.a1.recorder.sessionsClosed[0].reason.result.resultCode, 7);
  sim.scheduler.advance(1000);
  assert.equal(lts.stats.active, 0);
  assert.equal(lts.node.forwarding.size, 0);
});

Deno.test("a LAC CDN that crosses the LNS's ICRP is carried on with its Result Code, not a General Error", () => {
  // The race xl2tpd hit: the LAC's CDN reaches lts just after the ICRP, so the switch learns that
  // the upstream leg is up before it learns that the LAC's leg has gone.
  for (const seed of [16, 17, 18, 19, 20]) {
    const { sim, lts } = testbed(
      seed,
      `hostname: lts-test\n` +
        `upstreams: { racy: { members: [{ address: "10.3.0.9:1701", secret: "a-secret" }] } }\n` +
        `lacs: [{ match: { hostname: "lac-*" }, secret: "lac-secret" }]\n` +
        `default: { forward: racy }\n`,
    );
    let lacSession: SessionHandle | undefined;
    const lac = sim.node({ hostname: "10.2.0.9", port: 1701 }, {
      settings: { hostname: "lac-racy", secret: new TextEncoder().encode("lac-secret") },
      hooks: { sessionEstablished: (s: SessionHandle) => void (lacSession = s) },
    });
    const closed: number[] = [];
    sim.node({ hostname: "10.3.0.9", port: 1701 }, {
      settings: { hostname: "lns-racy", secret: new TextEncoder().encode("a-secret") },
      hooks: {
        // The LNS answers the ICRQ; in the same instant the LAC hangs up.
        incomingCall: (s: SessionHandle) => {
          s.accept();
          lacSession?.disconnect({ resultCode: 7, errorCode: 0 });
        },
        sessionClosed: (_s: SessionHandle, reason) => void closed.push(reason.result.resultCode),
      },
    });
    const t = lac.node.openTunnel(LTS);
    assert.ok(t.ok);
    lac.node.placeCall(t.value, call("racy@isp-a.example", 1));
    assert.ok(
      sim.runUntil(() => closed.length === 1, 30_000),
      `seed ${seed}: ${JSON.stringify(lts.stats)}`,
    );
    assert.deepEqual(closed, [7], `seed ${seed}`);
    sim.scheduler.advance(1000);
    assert.equal(lts.stats.active, 0);
    assert.equal(lts.node.forwarding.size, 0);
  }
});

Deno.test("at the switch mailbox bound: a burst of 60 calls is switched and cleared with no event lost; PPP frames past it are counted drops", () => {
  // A switch mailbox of 4 for droppable events: every call's lifecycle events take the reserved
  // lane (sized from max_sessions and max_tunnels), PPP frames for the switch do not.
  const { sim, lts, lac1, lns } = testbed(22, POLICY, { switchMailbox: 4 });
  const t = lac1.node.openTunnel(LTS);
  assert.ok(t.ok);
  for (let i = 0; i < 60; i++) lac1.node.placeCall(t.value, call(`burst${i}@isp-b.example`, i));
  assert.ok(sim.runUntil(() => lts.stats.switched === 60, 30_000), JSON.stringify(lts.stats));
  assert.equal(lts.stats.eventsLost, 0);
  // The LAC's tunnel goes (StopCCN): its 60 sessions close at once, 60 events in one burst.
  lac1.node.closeTunnel(t.value, { resultCode: 6 });
  assert.ok(sim.runUntil(() => lts.stats.active === 0, 30_000), JSON.stringify(lts.stats));
  assert.equal(lns.b1.recorder.sessionsClosed.length + lns.b2.recorder.sessionsClosed.length, 60);
  assert.equal(lts.node.forwarding.size, 0);
  assert.equal(lts.stats.eventsLost, 0);

  // A call with no proxy AVPs whose client answers lts's first LCP frame with 50 frames at once:
  // the switch authenticates it, so its frames are events; past the bound they are dropped and
  // counted.
  let flooded = false;
  const lac = sim.node({ hostname: "10.2.0.10", port: 1701 }, {
    settings: { hostname: "lac-flood", secret: new TextEncoder().encode("lac-secret") },
    hooks: {
      frame: (s: SessionHandle) => {
        if (flooded) return;
        flooded = true;
        for (let i = 0; i < 50; i++) s.sendFrame(echoRequest(i, 0x55555555));
      },
    },
  });
  const t2 = lac.node.openTunnel(LTS);
  assert.ok(t2.ok);
  lac.node.placeCall(t2.value, { callingNumber: "0209", calledNumber: "0809" });
  assert.ok(sim.runUntil(() => lts.stats.eventsLost > 0, 30_000), JSON.stringify(lts.stats));
  assert.ok(lts.stats.eventsLost <= 50 - 4, JSON.stringify(lts.stats));
  // The call itself was not lost: with no PPP client behind it, it ends by lts's own timers.
  assert.ok(sim.runUntil(() => lts.stats.active === 0, 120_000), JSON.stringify(lts.stats));
});

Deno.test("frames a LAC sends right after its ICCN wait for the upstream leg: the first EARLY_FRAMES reach the LNS in order, the rest are counted drops", () => {
  const { sim, lts, lns, frames } = testbed(15);
  const sent = 10;
  const lac = sim.node({ hostname: "10.2.0.9", port: 1701 }, {
    settings: { hostname: "lac-eager", secret: new TextEncoder().encode("lac-secret") },
    hooks: {
      // A LAC whose PPP client talks at once: ten Echo-Requests the moment the call is up,
      // before lts has taken the ICCN in, let alone placed the call upstream.
      sessionEstablished: (s: SessionHandle) => {
        for (let i = 0; i < sent; i++) s.sendFrame(echoRequest(i, 0x11223344));
      },
    },
  });
  const t = lac.node.openTunnel(LTS);
  assert.ok(t.ok);
  lac.node.placeCall(t.value, call("eager@isp-a.example", 1));
  assert.ok(sim.runUntil(() => lts.stats.switched === 1, 30_000), JSON.stringify(lts.stats));
  sim.scheduler.advance(200);
  assert.equal(frames.a1, EARLY_FRAMES, "held and flushed when the call was switched");
  // The LNS answered each; the replies came back to the LAC in the order the requests went.
  const ids = lac.recorder.frames.map((f) => f.frame[5]);
  assert.deepEqual(ids, Array.from({ length: EARLY_FRAMES }, (_, i) => i));
  const dropped = lts.stats.framesBeforeSwitch + lts.node.forwarding.unknownSession;
  assert.equal(dropped, sent - EARLY_FRAMES);
  assert.equal(lns.a1.recorder.sessionsUp.length, 1);
});
