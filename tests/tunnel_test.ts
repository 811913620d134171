/**
 * Tunnel behaviour on the seeded in-memory network (RFC 2661 §4.4.3, §5.1,
 * §5.5, §5.7, §5.8): authentication, tie-break, keepalive, peer restart,
 * StopCCN hold-down, sequence wrap, and hostile datagrams.
 */
import assert from "node:assert/strict";
import type { Avp } from "../transport/avp.ts";
import { buildAvps, encodeControl, fieldsOf } from "../transport/message.ts";
import { controlMessages, simulation } from "./_l2tp_sim.ts";

const A = { hostname: "10.0.0.1", port: 1701 };
const B = { hostname: "10.0.0.2", port: 1701 };
const text = (s: string) => new TextEncoder().encode(s);

function stopCcns(wire: Uint8Array[], secret?: Uint8Array) {
  return controlMessages(wire, secret).filter((m) => m.type === "StopCCN").map((m) =>
    fieldsOf(m.avps).resultCode
  );
}

Deno.test("tunnel authentication: a wrong secret on either side ends in StopCCN result 4, nothing comes up", () => {
  const cases = [
    { lac: "right", lns: "wrong", rejectedBy: "lac" }, // the LAC checks the SCCRP's response
    { lac: undefined, lns: "secret", rejectedBy: "lac" }, // challenged without a secret
    { lac: "secret", lns: undefined, rejectedBy: "lns" }, // challenged without a secret
  ] as const;
  for (const [i, c] of cases.entries()) {
    const sim = simulation(100 + i);
    const lns = sim.node(B, {
      settings: { hostname: "lns", secret: c.lns ? text(c.lns) : undefined },
    });
    const lac = sim.node(A, {
      settings: { hostname: "lac", secret: c.lac ? text(c.lac) : undefined },
    });
    const id = lac.node.openTunnel(B);
    assert.ok(id.ok);
    lac.node.placeCall(id.value, {});
    sim.scheduler.advance(60_000);
    assert.equal(
      lac.recorder.tunnelsUp.length + lns.recorder.tunnelsUp.length,
      0,
      JSON.stringify(c),
    );
    const receiver = c.rejectedBy === "lac" ? lns : lac;
    assert.deepEqual(
      stopCcns(receiver.recorder.wire).map((r) => r?.resultCode),
      [4],
      JSON.stringify(c),
    );
    assert.equal((c.rejectedBy === "lac" ? lac : lns).node.counters.authFailures, 1);
    assert.equal(lac.node.tunnelCount + lns.node.tunnelCount, 0);
    assert.equal(sim.system.actorCount, 0);
  }
});

Deno.test("tie-break (§4.4.3): simultaneous SCCRQs with Tie Breakers leave exactly one tunnel", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const sim = simulation(seed);
    sim.impair({ delayMs: 20 });
    const a = sim.node(A, { settings: { hostname: "a", tieBreaker: true } });
    const b = sim.node(B, { settings: { hostname: "b", tieBreaker: true } });
    assert.ok(a.node.openTunnel(B).ok);
    assert.ok(b.node.openTunnel(A).ok);
    sim.scheduler.advance(10_000);
    assert.equal(a.recorder.tunnelsUp.length, 1, `seed ${seed}`);
    assert.equal(b.recorder.tunnelsUp.length, 1, `seed ${seed}`);
    assert.equal(a.node.tunnelCount, 1);
    assert.equal(b.node.tunnelCount, 1);
    assert.equal(a.node.counters.tieBreakLost + b.node.counters.tieBreakLost, 1);
    // The survivor is one tunnel seen from both ends.
    assert.equal(a.recorder.tunnelsUp[0].initiator, !b.recorder.tunnelsUp[0].initiator);
  }
});

Deno.test("tie-break: the side that sent a Tie Breaker wins; with none, two tunnels are opened", () => {
  const sim = simulation(7);
  sim.impair({ delayMs: 20 });
  const a = sim.node(A, { settings: { hostname: "a", tieBreaker: true } });
  const b = sim.node(B, { settings: { hostname: "b" } });
  a.node.openTunnel(B);
  b.node.openTunnel(A);
  sim.scheduler.advance(10_000);
  assert.equal(a.node.tunnelCount, 1);
  assert.equal(
    a.recorder.tunnelsUp[0].initiator,
    true,
    "a's tunnel, with the Tie Breaker, survives",
  );
  assert.equal(b.node.counters.tieBreakLost, 1);

  const sim2 = simulation(8);
  sim2.impair({ delayMs: 20 });
  const c = sim2.node(A, { settings: { hostname: "c" } });
  const d = sim2.node(B, { settings: { hostname: "d" } });
  c.node.openTunnel(B);
  d.node.openTunnel(A);
  sim2.scheduler.advance(10_000);
  assert.equal(c.node.tunnelCount, 2);
  assert.equal(d.node.tunnelCount, 2);
});

Deno.test("HELLO keepalive: a silent peer is detected and its tunnel and sessions cleared (§5.5, §5.8)", () => {
  const sim = simulation(11);
  const lns = sim.node(B, { settings: { hostname: "lns", helloIntervalMs: 5000 } });
  const lac = sim.node(A, { settings: { hostname: "lac", helloIntervalMs: 5000 } });
  const id = lac.node.openTunnel(B);
  assert.ok(id.ok);
  lac.node.placeCall(id.value, {});
  assert.ok(sim.runUntil(() => lac.recorder.sessionsUp.length === 1, 10_000));
  // Idle but connected: HELLOs are sent and acknowledged, nothing is cleared.
  sim.scheduler.advance(30_000);
  // Either side's HELLO counts as traffic for the other, so count both directions.
  const wire = [...lns.recorder.wire, ...lac.recorder.wire];
  const hellos = controlMessages(wire).filter((m) => m.type === "HELLO").length;
  assert.ok(hellos >= 4 && hellos <= 12, `${hellos} HELLOs in 30 s at a 5 s interval`);
  assert.equal(lac.recorder.tunnelsClosed.length, 0);
  sim.network.partition(A, B);
  assert.ok(sim.runUntil(() => lac.recorder.tunnelsClosed.length === 1, 60_000));
  assert.equal(lac.recorder.tunnelsClosed[0].reason.by, "transport");
  assert.equal(lac.recorder.sessionsClosed.length, 1);
  assert.equal(lac.recorder.sessionsClosed[0].reason.by, "transport", "the session learns why");
  assert.equal(lac.node.forwarding.size, 0);
  assert.ok(sim.runUntil(() => lns.node.tunnelCount === 0, 60_000), "the LNS side times out too");
  assert.equal(sim.system.actorCount, 0);
});

Deno.test("peer restart: a new SCCRQ reusing the Tunnel ID of a live tunnel replaces it quietly", () => {
  const sim = simulation(21);
  const lns = sim.node(B, { settings: { hostname: "lns" } });
  const first = sim.node(A, { settings: { hostname: "lac" }, seed: 5 });
  const id = first.node.openTunnel(B);
  assert.ok(id.ok);
  first.node.placeCall(id.value, {});
  assert.ok(sim.runUntil(() => lns.recorder.sessionsUp.length === 1, 10_000));
  // The LAC dies without a word and comes back on the same address, with the same ID choice.
  first.node.shutdown();
  first.node.socket.close();
  const again = sim.node(A, { settings: { hostname: "lac" }, seed: 5 });
  const id2 = again.node.openTunnel(B);
  assert.ok(id2.ok);
  assert.equal(id2.value, id.value, "the restarted LAC reuses its Tunnel ID");
  again.node.placeCall(id2.value, {});
  assert.ok(sim.runUntil(() => again.recorder.sessionsUp.length === 1, 10_000));
  assert.equal(lns.node.counters.peerRestarts, 1);
  assert.equal(lns.node.tunnelCount, 1, "the stale tunnel is gone");
  assert.equal(lns.recorder.sessionsClosed.length, 1, "with its session");
  assert.equal(stopCcns(again.recorder.wire).length, 0, "no StopCCN reached the restarted peer");
});

Deno.test("StopCCN hold-down (§5.7): a retransmitted StopCCN is acknowledged again by the held tunnel", () => {
  const sim = simulation(31);
  const lns = sim.node(B, { settings: { hostname: "lns" } });
  const lac = sim.node(A, { settings: { hostname: "lac" } });
  const id = lac.node.openTunnel(B);
  assert.ok(id.ok);
  assert.ok(sim.runUntil(() => lac.recorder.tunnelsUp.length === 1, 10_000));
  sim.scheduler.advance(1000);
  // Every acknowledgement from the LNS is lost for 1.5 s: the first StopCCN's ZLB never arrives.
  sim.network.setLink(B, A, { loss: 1 });
  lac.node.closeTunnel(id.value);
  sim.scheduler.advance(1500);
  sim.network.clearLink(B, A);
  assert.ok(
    sim.runUntil(() => lac.node.tunnelCount === 0, 10_000),
    "the LAC's retransmission was acknowledged",
  );
  assert.ok(stopCcns(lns.recorder.wire).length >= 2, "the StopCCN was retransmitted");
  assert.equal(lns.node.tunnelCount, 1, "the LNS still holds the tunnel's state");
  sim.scheduler.advance(31_000);
  assert.equal(lns.node.tunnelCount, 0, "and frees it after a full retransmission cycle");
  assert.equal(lns.recorder.tunnelsClosed[0].reason.by, "peer");
});

Deno.test("Ns and Nr wrap at 65535 on a live tunnel, and calls keep working (§5.8)", () => {
  const sim = simulation(41);
  const lns = sim.node(B, { settings: { hostname: "lns", helloIntervalMs: 0 } });
  const lac = sim.node(A, { settings: { hostname: "lac", helloIntervalMs: 0 } });
  const id = lac.node.openTunnel(B);
  assert.ok(id.ok);
  let placed = 0;
  let sawWrap = false;
  // Each call costs the LAC three messages (ICRQ, ICCN, CDN): 22,000 calls pass Ns 65535.
  // Batches stay under the tunnel's mailbox bound (256), which is placeCall's backpressure.
  const batch = 200;
  while (placed < 22_000) {
    for (let i = 0; i < batch; i++, placed++) assert.ok(lac.node.placeCall(id.value, {}));
    assert.ok(
      sim.runUntil(() => lac.recorder.sessionsUp.length === placed, 60_000),
      `at ${placed}`,
    );
    for (const s of lac.recorder.sessionsUp.slice(placed - batch)) s.disconnect({ resultCode: 3 });
    assert.ok(sim.runUntil(() => lns.recorder.sessionsClosed.length === placed, 60_000));
    for (const m of controlMessages(lns.recorder.wire)) if (m.header.ns === 65535) sawWrap = true;
    lns.recorder.wire.length = 0;
  }
  assert.ok(sawWrap, "the LAC's Ns went through 65535");
  assert.equal(lac.recorder.tunnelsClosed.length, 0);
  assert.equal(lac.node.forwarding.size + lns.node.forwarding.size, 0);
});

Deno.test("hostile datagrams are counted and dropped; an established call keeps working", () => {
  const sim = simulation(51);
  const lns = sim.node(B, { settings: { hostname: "lns" }, maxTunnels: 3 });
  const lac = sim.node(A, { settings: { hostname: "lac" } });
  const id = lac.node.openTunnel(B);
  assert.ok(id.ok);
  lac.node.placeCall(id.value, {});
  assert.ok(sim.runUntil(() => lns.recorder.sessionsUp.length === 1, 10_000));
  const attacker = sim.network.bind({ hostname: "10.6.6.6", port: 4000 });
  assert.ok(attacker.ok);
  const send = (hex: string) =>
    attacker.value.send(Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16))), B);
  send("c8"); // too short
  send("c801000c0001000000000000"); // Ver=1 (L2F)
  send("c803000c0001000000000000"); // Ver=3 (L2TPv3)
  send("c802000c7777000000000000"); // ZLB to a tunnel that does not exist
  send("00027777000100"); // data for a tunnel/session that does not exist
  send("c80200ff0000000000000000"); // Length past the datagram
  send("c802000c0000000000000000"); // Tunnel ID 0 but no SCCRQ
  // A flood of SCCRQs beyond max_tunnels: the LAC's own SCCRQ, replayed from 20 other hosts.
  const sccrq = lns.recorder.wire[0].slice();
  for (let i = 0; i < 20; i++) {
    const fake = sim.network.bind({ hostname: `10.7.0.${i + 1}`, port: 1701 });
    assert.ok(fake.ok);
    fake.value.send(sccrq, B);
  }
  sim.scheduler.advance(100);
  const c = lns.node.counters;
  assert.equal(c.short, 1);
  assert.equal(c.badVersion, 2);
  assert.equal(c.unknownTunnel, 1);
  assert.equal(lns.node.forwarding.unknownSession, 1);
  assert.equal(c.malformed, 1);
  assert.equal(c.notSccrq, 1);
  assert.equal(lns.node.tunnelCount, 3, "max_tunnels holds");
  assert.equal(c.tunnelLimit, 18);
  // The established call still carries frames both ways.
  const s = lac.recorder.sessionsUp[0];
  assert.ok(s.sendFrame(new Uint8Array([0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 1])));
  sim.scheduler.advance(10);
  assert.equal(lns.recorder.frames.length, 1);
});

Deno.test("data frames for a live session from another host are dropped and counted", () => {
  const sim = simulation(61);
  const lns = sim.node(B, { settings: { hostname: "lns" } });
  const lac = sim.node(A, { settings: { hostname: "lac" } });
  const id = lac.node.openTunnel(B);
  assert.ok(id.ok);
  lac.node.placeCall(id.value, {});
  assert.ok(sim.runUntil(() => lns.recorder.sessionsUp.length === 1, 10_000));
  const s = lns.recorder.sessionsUp[0];
  const attacker = sim.network.bind({ hostname: "10.6.6.6", port: 1701 });
  assert.ok(attacker.ok);
  // A well-formed data message with the right Tunnel ID and Session ID, from the wrong host.
  const spoof = new Uint8Array([
    0x00,
    0x02,
    s.tunnel.tunnelId >> 8,
    s.tunnel.tunnelId & 0xff,
    s.sessionId >> 8,
    s.sessionId & 0xff,
    0xff,
    0x03,
    0xc0,
    0x21,
  ]);
  attacker.value.send(spoof, B);
  sim.scheduler.advance(10);
  assert.equal(lns.recorder.frames.length, 0);
  assert.equal(lns.node.counters.wrongPeer, 1);
});

Deno.test("a peer that acknowledges SCCRQ and then goes silent cannot leave a tunnel half-open", () => {
  const sim = simulation(71);
  const lac = sim.node(A, { settings: { hostname: "lac" } });
  const fake = sim.network.bind(B);
  assert.ok(fake.ok);
  // The fake LNS acknowledges every control message with a ZLB and says nothing else.
  fake.value.onReceive((p, from) => {
    if ((p[0] & 0x80) === 0 || p.length <= 12) return;
    const m = controlMessages([p])[0];
    if (!m) return;
    const zlb = new Uint8Array([0xc8, 0x02, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0]);
    const peerTid = fieldsOf(m.avps).assignedTunnelId ?? m.header.tunnelId;
    zlb.set([peerTid >> 8, peerTid & 0xff], 4);
    zlb.set([0, 0, (m.header.ns! + 1) >> 8, (m.header.ns! + 1) & 0xff], 8);
    fake.value.send(zlb, from);
  });
  const id = lac.node.openTunnel(B);
  assert.ok(id.ok);
  sim.scheduler.advance(40_000);
  assert.equal(lac.node.tunnelCount, 0, "setup timed out after a retransmission cycle");
  assert.equal(
    lac.recorder.tunnelsClosed[0]?.reason.result.errorMessage,
    "control connection setup timed out",
  );
  assert.equal(sim.system.actorCount, 0);
});

Deno.test("a call the peer never answers is cleared with CDN result 10 (not established in time)", () => {
  const sim = simulation(72);
  // The LNS's application never answers the ICRQ.
  sim.node(B, { settings: { hostname: "lns" }, hooks: { incomingCall: () => {} } });
  const lac = sim.node(A, { settings: { hostname: "lac" } });
  const id = lac.node.openTunnel(B);
  assert.ok(id.ok);
  lac.node.placeCall(id.value, {});
  sim.scheduler.advance(61_000);
  assert.equal(lac.recorder.sessionsClosed.length, 0, "not before the setup timeout");
  sim.scheduler.advance(3_000);
  assert.equal(lac.recorder.sessionsClosed.length, 1);
  assert.equal(lac.recorder.sessionsClosed[0].reason.result.resultCode, 10);
  assert.equal(lac.recorder.tunnelsClosed.length, 0, "the tunnel stays");
});

Deno.test("an SCCRQ whose Ns is not 0 is dropped before any state exists", () => {
  const sim = simulation(81);
  const lns = sim.node(B, { settings: { hostname: "lns" }, maxTunnels: 2 });
  const rogue = sim.network.bind({ hostname: "10.6.6.7", port: 1701 });
  assert.ok(rogue.ok);
  const fields = {
    protocolVersion: { version: 1, revision: 0 },
    hostName: "x",
    framingCapabilities: { synchronous: true, asynchronous: false },
  };
  for (let i = 1; i <= 5; i++) {
    rogue.value.send(
      encodeControl(
        { tunnelId: 0, sessionId: 0, ns: 1, nr: 0 },
        buildAvps("SCCRQ", { ...fields, assignedTunnelId: i }),
      ),
      B,
    );
  }
  sim.scheduler.advance(100);
  assert.equal(lns.node.tunnelCount, 0);
  assert.equal(lns.node.counters.notSccrq, 5);
});

Deno.test("a spoofed SCCRQ reusing an authenticated tunnel's ID does not end that tunnel", () => {
  const sim = simulation(82);
  const secret = new TextEncoder().encode("s");
  const lns = sim.node(B, { settings: { hostname: "lns", secret } });
  const lac = sim.node(A, { settings: { hostname: "lac", secret } });
  const id = lac.node.openTunnel(B);
  assert.ok(id.ok);
  lac.node.placeCall(id.value, {});
  assert.ok(sim.runUntil(() => lns.recorder.sessionsUp.length === 1, 10_000));
  // The attacker replays the LAC's SCCRQ (same address, same Assigned Tunnel ID), but cannot answer the challenge.
  const sccrq = lns.recorder.wire[0].slice();
  lac.node.socket.send(sccrq, B);
  sim.scheduler.advance(60_000);
  assert.equal(
    lns.recorder.sessionsClosed.length,
    0,
    "the authenticated tunnel's call is untouched",
  );
  assert.equal(lns.node.counters.peerRestarts, 0);
  assert.ok(lac.recorder.sessionsUp[0].established);
});

Deno.test("repeated WEN with vendor AVPs does not grow a session's memory", () => {
  const sim = simulation(83);
  const lns = sim.node(B, { settings: { hostname: "lns" } });
  const lac = sim.node(A, { settings: { hostname: "lac" } });
  const id = lac.node.openTunnel(B);
  assert.ok(id.ok);
  lac.node.placeCall(id.value, {});
  assert.ok(sim.runUntil(() => lns.recorder.sessionsUp.length === 1, 10_000));
  const s = lns.recorder.sessionsUp[0];
  const before = s.extraAvps.length;
  const errors = {
    crcErrors: 0,
    framingErrors: 0,
    hardwareOverruns: 0,
    bufferOverruns: 0,
    timeoutErrors: 0,
    alignmentErrors: 0,
  };
  for (let i = 0; i < 50; i++) lac.recorder.sessionsUp[0].wanError(errors);
  sim.scheduler.advance(10_000);
  assert.equal(s.extraAvps.length, before);
});

Deno.test("an unknown Message Type with the M bit clears the tunnel with StopCCN 2/8 (§4.4.1)", () => {
  const sim = simulation(84);
  const lac = sim.node(A, { settings: { hostname: "lac" } });
  const fake = sim.network.bind(B);
  assert.ok(fake.ok);
  const got: Uint8Array[] = [];
  fake.value.onReceive((p) => void got.push(p.slice()));
  const id = lac.node.openTunnel(B);
  assert.ok(id.ok);
  sim.scheduler.advance(10);
  const peerTid = fieldsOf(controlMessages(got).find((m) => m.type === "SCCRQ")!.avps)
    .assignedTunnelId!;
  const strange: Avp = {
    vendorId: 0,
    attributeType: 0,
    mandatory: true,
    hidden: false,
    value: new Uint8Array([0, 99]),
  };
  fake.value.send(encodeControl({ tunnelId: peerTid, sessionId: 0, ns: 0, nr: 1 }, [strange]), A);
  sim.scheduler.advance(500);
  const stop = controlMessages(got).find((m) => m.type === "StopCCN");
  assert.ok(stop, "StopCCN sent");
  assert.deepEqual([
    fieldsOf(stop.avps).resultCode?.resultCode,
    fieldsOf(stop.avps).resultCode?.errorCode,
  ], [2, 8]);
});
