/**
 * Calls end to end between two nodes on the in-memory network (RFC 2661
 * §5.2, §5.6, §7.4, §7.5): incoming and outgoing calls, rejection, CDN with
 * Result Code and Q.931 cause, WEN and SLI, limits, data frames.
 */
import assert from "node:assert/strict";
import type { SessionHandle } from "../actors/l2tp_types.ts";
import type { Avp } from "../transport/avp.ts";
import { buildAvps, encodeControl, fieldsOf } from "../transport/message.ts";
import { controlMessages, simulation } from "./_l2tp_sim.ts";

const LAC = { hostname: "10.0.0.1", port: 1701 };
const LNS = { hostname: "10.0.0.2", port: 1701 };

function pair(seed: number, lnsHooks = {}, lnsSettings = {}) {
  const sim = simulation(seed);
  const lns = sim.node(LNS, { settings: { hostname: "lns", ...lnsSettings }, hooks: lnsHooks });
  const lac = sim.node(LAC, { settings: { hostname: "lac" } });
  const id = lac.node.openTunnel(LNS);
  assert.ok(id.ok);
  return { sim, lns, lac, tunnelId: id.value };
}

Deno.test("incoming call: the LNS sees the LAC's numbers and proxy AVPs; frames cross both ways", () => {
  const { sim, lns, lac, tunnelId } = pair(1);
  lac.node.placeCall(tunnelId, {
    callingNumber: "0201",
    calledNumber: "0800",
    subAddress: "7",
    physicalChannelId: 42,
    proxyAuthenType: 3,
    proxyAuthenName: "alice@isp-a.example",
    proxyAuthenResponse: new TextEncoder().encode("pw"),
    sequencingRequired: true,
  });
  assert.ok(
    sim.runUntil(
      () => lns.recorder.sessionsUp.length === 1 && lac.recorder.sessionsUp.length === 1,
      10_000,
    ),
  );
  const call = lns.recorder.sessionsUp[0].call;
  assert.equal(call.callingNumber, "0201");
  assert.equal(call.calledNumber, "0800");
  assert.equal(call.subAddress, "7");
  assert.equal(call.physicalChannelId, 42);
  assert.equal(call.proxyAuthenName, "alice@isp-a.example");
  assert.equal(call.sequencingRequired, true);
  const frame = new Uint8Array([0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 1, 2, 3, 4]);
  assert.ok(lac.recorder.sessionsUp[0].sendFrame(frame));
  assert.ok(lns.recorder.sessionsUp[0].sendFrame(frame));
  sim.scheduler.advance(10);
  assert.deepEqual(lns.recorder.frames.map((f) => f.frame), [frame]);
  assert.deepEqual(lac.recorder.frames.map((f) => f.frame), [frame]);
  // Sequencing Required: data messages carry Ns (§5.4).
  const data = lns.recorder.wire.filter((p) => (p[0] & 0x80) === 0);
  assert.equal(data.length, 1);
  assert.ok((data[0][0] & 0x08) !== 0, "S bit set on sequenced data");
});

Deno.test("CDN from the LNS reaches the LAC with its Result Code and Q.931 cause; entries are removed", () => {
  const { sim, lns, lac, tunnelId } = pair(2);
  lac.node.placeCall(tunnelId, {});
  assert.ok(
    sim.runUntil(
      () => lns.recorder.sessionsUp.length === 1 && lac.recorder.sessionsUp.length === 1,
      10_000,
    ),
  );
  lns.recorder.sessionsUp[0].disconnect({
    resultCode: 10,
    errorCode: 0,
    errorMessage: "idle timeout",
  }, {
    causeCode: 16,
    causeMsg: 69,
    advisory: "normal clearing",
  });
  assert.ok(sim.runUntil(() => lac.recorder.sessionsClosed.length === 1, 10_000));
  const { reason } = lac.recorder.sessionsClosed[0];
  assert.equal(reason.by, "peer");
  assert.equal(reason.result.resultCode, 10);
  assert.equal(reason.result.errorMessage, "idle timeout");
  assert.deepEqual(reason.q931, { causeCode: 16, causeMsg: 69, advisory: "normal clearing" });
  assert.equal(lac.node.forwarding.size + lns.node.forwarding.size, 0);
  assert.equal(lac.recorder.sessionsUp[0].sendFrame(new Uint8Array([1])), false);
  assert.equal(lac.recorder.tunnelsClosed.length, 0, "the tunnel stays up");
});

Deno.test("the LNS rejects a call: the LAC's session closes with the CDN's Result Code", () => {
  const { sim, lac, tunnelId } = pair(3, {
    incomingCall: (s: SessionHandle) =>
      s.reject({ resultCode: 2, errorCode: 0, errorMessage: "realm not served" }),
  });
  lac.node.placeCall(tunnelId, { proxyAuthenName: "x@blocked.example" });
  assert.ok(sim.runUntil(() => lac.recorder.sessionsClosed.length === 1, 10_000));
  assert.equal(lac.recorder.sessionsUp.length, 0);
  assert.equal(lac.recorder.sessionsClosed[0].reason.result.resultCode, 2);
  assert.equal(lac.recorder.sessionsClosed[0].reason.result.errorMessage, "realm not served");
});

Deno.test("outgoing call (§7.5): OCRQ from the LNS side, OCRP, then OCCN once the LAC's call is answered", () => {
  const sim = simulation(4);
  const answered: SessionHandle[] = [];
  const lac = sim.node(LAC, {
    settings: { hostname: "lac" },
    hooks: {
      incomingCall: (s: SessionHandle, message: string) => {
        assert.equal(message, "OCRQ");
        s.accept();
        answered.push(s);
      },
    },
  });
  const lns = sim.node(LNS, { settings: { hostname: "lns" } });
  const id = lns.node.openTunnel(LAC);
  assert.ok(id.ok);
  lns.node.placeCall(id.value, {
    calledNumber: "5551234",
    bearerType: { digital: true, analog: false },
    framingType: { synchronous: true, asynchronous: false },
  }, { outgoing: true });
  assert.ok(sim.runUntil(() => answered.length === 1, 10_000));
  sim.scheduler.advance(1000);
  assert.equal(lns.recorder.sessionsUp.length, 0, "not established before OCCN");
  answered[0].answered({
    txConnectSpeed: 64000,
    framingType: { synchronous: true, asynchronous: false },
  });
  assert.ok(
    sim.runUntil(
      () => lns.recorder.sessionsUp.length === 1 && lac.recorder.sessionsUp.length === 1,
      10_000,
    ),
  );
  assert.equal(lns.recorder.sessionsUp[0].call.txConnectSpeed, 64000);
  assert.equal(lac.recorder.sessionsUp[0].call.calledNumber, "5551234");
  const types = controlMessages(lac.recorder.wire).map((m) => m.type).filter((t) =>
    t.startsWith("OC")
  );
  assert.deepEqual(types, ["OCRQ"]);
  const sent = controlMessages(lns.recorder.wire).map((m) => m.type).filter((t) =>
    t.startsWith("OC")
  );
  assert.deepEqual(sent, ["OCRP", "OCCN"]);
});

Deno.test("WEN from the LAC and SLI from the LNS reach the other side (§6.13, §6.14)", () => {
  const events: unknown[] = [];
  const { sim, lns, lac, tunnelId } = pair(5, {
    linkEvent: (_s: SessionHandle, e: unknown) => events.push(["lns", e]),
  });
  lac.node.placeCall(tunnelId, {});
  assert.ok(
    sim.runUntil(
      () => lns.recorder.sessionsUp.length === 1 && lac.recorder.sessionsUp.length === 1,
      10_000,
    ),
  );
  const errors = {
    crcErrors: 1,
    framingErrors: 2,
    hardwareOverruns: 3,
    bufferOverruns: 4,
    timeoutErrors: 5,
    alignmentErrors: 6,
  };
  lac.recorder.sessionsUp[0].wanError(errors);
  lns.recorder.sessionsUp[0].setLinkInfo({ sendAccm: 0, receiveAccm: 0xffffffff });
  sim.scheduler.advance(2000);
  assert.deepEqual(events, [["lns", { wanError: errors }]]);
  const sli = controlMessages(lac.recorder.wire).find((m) => m.type === "SLI");
  assert.ok(sli);
  assert.deepEqual(fieldsOf(sli.avps).accm, { sendAccm: 0, receiveAccm: 0xffffffff });
});

Deno.test("max sessions per tunnel: the call beyond the bound gets CDN result 4 (no facilities)", () => {
  const { sim, lns, lac, tunnelId } = pair(6, {}, { maxSessions: 3 });
  for (let i = 0; i < 4; i++) lac.node.placeCall(tunnelId, {});
  assert.ok(
    sim.runUntil(
      () => lac.recorder.sessionsUp.length + lac.recorder.sessionsClosed.length === 4,
      10_000,
    ),
  );
  assert.equal(lns.recorder.sessionsUp.length, 3);
  assert.equal(lac.recorder.sessionsUp.length, 3);
  assert.equal(lac.recorder.sessionsClosed[0].reason.result.resultCode, 4);
});

Deno.test("an unknown AVP with the M bit in SCCRP clears the tunnel with StopCCN 2/8 (§4.1)", () => {
  const sim = simulation(7);
  const lac = sim.node(LAC, { settings: { hostname: "lac" } });
  const fake = sim.network.bind(LNS);
  assert.ok(fake.ok);
  const got: Uint8Array[] = [];
  fake.value.onReceive((p) => void got.push(p.slice()));
  const id = lac.node.openTunnel(LNS);
  assert.ok(id.ok);
  sim.scheduler.advance(10);
  const sccrq = controlMessages(got).find((m) => m.type === "SCCRQ")!;
  const peerTid = fieldsOf(sccrq.avps).assignedTunnelId!;
  const strange: Avp = {
    vendorId: 0,
    attributeType: 77,
    mandatory: true,
    hidden: false,
    value: new Uint8Array(2),
  };
  const sccrp = buildAvps("SCCRP", {
    protocolVersion: { version: 1, revision: 0 },
    hostName: "fake",
    framingCapabilities: { synchronous: true, asynchronous: false },
    assignedTunnelId: 999,
  }, { extra: [strange] });
  fake.value.send(encodeControl({ tunnelId: peerTid, sessionId: 0, ns: 0, nr: 1 }, sccrp), LAC);
  sim.scheduler.advance(500);
  const stop = controlMessages(got).find((m) => m.type === "StopCCN");
  assert.ok(stop, "StopCCN sent");
  assert.deepEqual(fieldsOf(stop.avps).resultCode?.resultCode, 2);
  assert.deepEqual(fieldsOf(stop.avps).resultCode?.errorCode, 8);
  assert.equal(stop.header.tunnelId, 999);
  assert.equal(lac.recorder.tunnelsUp.length, 0);
});

Deno.test("a second live ICRQ naming a peer Session ID already in use makes no second session", () => {
  const sim = simulation(8);
  sim.node(LNS, { settings: { hostname: "lns" } });
  const fake = sim.network.bind(LAC);
  assert.ok(fake.ok);
  const got: Uint8Array[] = [];
  fake.value.onReceive((p) => void got.push(p.slice()));
  const send = (ns: number, nr: number, tunnelId: number, avps: ReturnType<typeof buildAvps>) =>
    fake.value.send(encodeControl({ tunnelId, sessionId: 0, ns, nr }, avps), LNS);
  send(
    0,
    0,
    0,
    buildAvps("SCCRQ", {
      protocolVersion: { version: 1, revision: 0 },
      hostName: "fake-lac",
      framingCapabilities: { synchronous: true, asynchronous: false },
      assignedTunnelId: 77,
    }),
  );
  sim.scheduler.advance(10);
  const sccrp = controlMessages(got).find((m) => m.type === "SCCRP")!;
  const lnsTid = fieldsOf(sccrp.avps).assignedTunnelId!;
  send(1, 1, lnsTid, buildAvps("SCCCN", {}));
  send(2, 1, lnsTid, buildAvps("ICRQ", { assignedSessionId: 5, callSerialNumber: 1 }));
  send(3, 1, lnsTid, buildAvps("ICRQ", { assignedSessionId: 5, callSerialNumber: 2 }));
  sim.scheduler.advance(500);
  assert.equal(controlMessages(got).filter((m) => m.type === "ICRP").length, 1);
});

Deno.test("a LAC's data never overtakes its ICCN: with the LNS's window at 1, the call is up for the LAC once its ICCN has left", () => {
  // Eight calls at once through a window of one: most ICCNs wait in the tunnel for room. A LAC
  // application that sends at once (a PPP client's first Configure-Request) must not put its
  // frame on the wire before the ICCN of its session, or the LNS sees data for a call it does
  // not know yet (xl2tpd and l2tpns drop it; PPP then waits out its 3 s restart timer).
  const sim = simulation(31);
  const lns = sim.node(LNS, { settings: { hostname: "lns", receiveWindowSize: 1 } });
  const lac = sim.node(LAC, {
    settings: { hostname: "lac" },
    hooks: {
      sessionEstablished: (s: SessionHandle) =>
        void s.sendFrame(new Uint8Array([0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0])),
    },
  });
  const id = lac.node.openTunnel(LNS);
  assert.ok(id.ok);
  for (let i = 0; i < 8; i++) lac.node.placeCall(id.value, { callingNumber: `020${i}` });
  assert.ok(sim.runUntil(() => lns.recorder.frames.length === 8, 30_000));
  // On the wire at the LNS, in order: each session's ICCN comes before its first data message.
  const iccnSeen = new Set<number>();
  let frames = 0;
  for (const packet of lns.recorder.wire) {
    const sessionId = (packet[packet[0] & 0x40 ? 6 : 4] << 8) | packet[packet[0] & 0x40 ? 7 : 5];
    if ((packet[0] & 0x80) === 0) {
      frames++;
      assert.ok(iccnSeen.has(sessionId), `data for session ${sessionId} before its ICCN`);
      continue;
    }
    const [m] = controlMessages([packet]);
    if (m?.type === "ICCN") iccnSeen.add(m.header.sessionId);
  }
  assert.equal(frames, 8);
});
