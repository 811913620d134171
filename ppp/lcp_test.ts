import assert from "node:assert/strict";
import { decodeControlPacket, decodeFrame, PPP_LCP, type PppOption } from "./frame.ts";
import { transition } from "./fsm.ts";
import {
  createLcp,
  echoRequestPacket,
  LCP_POLICY,
  type LcpConfig,
  type LcpModel,
  protocolReject,
  seedFromProxy,
} from "./lcp.ts";
import { confreqOptions } from "./proxy.ts";

const opt = (type: number, ...data: number[]): PppOption => ({ type, data: new Uint8Array(data) });
const local = (config: Partial<LcpConfig> = {}) =>
  createLcp({ magic: () => 0x0a0b0c0d, ...config }).local;
const judge = (options: PppOption[], config: Partial<LcpConfig> = {}) =>
  LCP_POLICY.judge(local(config), options);

Deno.test("judge acks MRU, ACCM, Magic-Number; Naks a too small MRU to 128", () => {
  const ok = judge([opt(1, 0x05, 0xdc), opt(2, 0, 0, 0, 0), opt(5, 1, 2, 3, 4)]);
  assert.deepEqual(ok.verdict, { kind: "ack" });
  assert.equal(ok.local.peer.mru, 1500);
  assert.equal(ok.local.peer.magic, 0x01020304);
  assert.equal(ok.local.peer.accm, 0);
  assert.deepEqual(judge([opt(1, 0, 64)]).verdict, { kind: "nak", options: [opt(1, 0, 128)] });
  // §6: a bad Length on a negotiable option is Nak'ed with a good one.
  assert.deepEqual(judge([opt(1, 5)]).verdict, { kind: "nak", options: [opt(1, 0x05, 0xdc)] });
});

Deno.test("Authentication-Protocol: PAP and CHAP-MD5 acked when accepted; MS-CHAP Nak'ed", () => {
  const both = { acceptAuth: ["chap", "pap"] as const };
  assert.deepEqual(judge([opt(3, 0xc0, 0x23)], both).verdict, { kind: "ack" });
  assert.deepEqual(judge([opt(3, 0xc2, 0x23, 5)], both).verdict, { kind: "ack" });
  for (const algorithm of [0x80, 0x81]) {
    assert.deepEqual(judge([opt(3, 0xc2, 0x23, algorithm)], both).verdict, {
      kind: "nak",
      options: [opt(3, 0xc2, 0x23, 5)],
    });
  }
  assert.deepEqual(judge([opt(3, 0xc2, 0x23, 0x81)], { acceptAuth: ["pap"] }).verdict, {
    kind: "nak",
    options: [opt(3, 0xc0, 0x23)],
  });
  // Nothing to authenticate with: Reject (the peer decides whether to go on).
  assert.deepEqual(judge([opt(3, 0xc0, 0x23)]).verdict, {
    kind: "reject",
    options: [opt(3, 0xc0, 0x23)],
  });
});

Deno.test("RFC 1570, Quality-Protocol, Multilink and unknown options are rejected; Reject beats Nak", () => {
  const others = [
    opt(4, 0xc0, 0x25),
    opt(9, 2),
    opt(13, 6),
    opt(17, 5, 0xdc),
    opt(18),
    opt(19, 1),
    opt(99, 1, 2),
  ];
  const r = judge([opt(1, 0, 10), ...others]);
  assert.deepEqual(r.verdict, { kind: "reject", options: others });
  assert.deepEqual(judge([opt(1, 5, 0xdc), opt(1, 5, 0xdc)]).verdict, {
    kind: "reject",
    options: [opt(1, 5, 0xdc)],
  });
});

Deno.test("PFC and ACFC are acked only when configured", () => {
  assert.deepEqual(judge([opt(7), opt(8)]).verdict, { kind: "reject", options: [opt(7), opt(8)] });
  const r = judge([opt(7), opt(8)], { pfc: true, acfc: true });
  assert.deepEqual(r.verdict, { kind: "ack" });
  assert.equal(r.local.peer.pfc && r.local.peer.acfc, true);
});

Deno.test("Magic-Number: zero and our own are Nak'ed with a new number, alone (§6.4)", () => {
  let n = 0;
  const numbers = [0x0a0b0c0d, 0x0a0b0c0d, 0x55667788];
  const config = { magic: () => numbers[n++ % 3], requireAuth: ["chap"] as const };
  const r = judge([opt(3, 0xc2, 0x23, 5), opt(5, 0x0a, 0x0b, 0x0c, 0x0d)], config);
  assert.deepEqual(r.verdict, { kind: "nak", options: [opt(5, 0x55, 0x66, 0x77, 0x88)] });
  assert.equal(r.local.lastNakMagic, 0x55667788);
  const zero = judge([opt(5, 0, 0, 0, 0)]);
  assert.equal(zero.verdict.kind, "nak");
});

Deno.test("our requests: MRU only when not 1500; a Nak'ed CHAP falls back to PAP, then fails", () => {
  const l = local({ mru: 1400, requireAuth: ["chap", "pap"], pfc: true });
  assert.deepEqual(LCP_POLICY.request(l), [
    opt(1, 0x05, 0x78),
    opt(3, 0xc2, 0x23, 5),
    opt(5, 10, 11, 12, 13),
    opt(7),
  ]);
  const pap = LCP_POLICY.onNak(l, [opt(3, 0xc2, 0x23, 0x81)]);
  assert.deepEqual(LCP_POLICY.request(pap)[1], opt(3, 0xc0, 0x23));
  assert.equal(LCP_POLICY.failure!(pap), undefined);
  const none = LCP_POLICY.onNak(pap, [opt(3, 0xc2, 0x23, 0x81)]);
  assert.equal(LCP_POLICY.failure!(none), "peer refuses to authenticate");
  assert.deepEqual(LCP_POLICY.request(LCP_POLICY.onReject(l, [opt(1, 0x05, 0x78), opt(7)])), [
    opt(3, 0xc2, 0x23, 5),
    opt(5, 10, 11, 12, 13),
  ]);
});

/** An LCP driven to Opened by hand: our request acked, the peer's acked. */
function openedLcp(peerMagic = 0x11111111, mru = 1500): LcpModel {
  let m = createLcp({ magic: () => 0x0a0b0c0d });
  m = transition(m, { type: "open" }, 0).model;
  const up = transition(m, { type: "up" }, 0);
  const request = up.effects.find((e) => e.type === "send")!;
  assert.ok(request.type === "send");
  const ack = request.packet.slice();
  ack[0] = 2;
  m = transition(up.model, { type: "receive", packet: ack }, 0).model;
  const peerReq = new Uint8Array([
    1,
    1,
    0,
    14,
    1,
    4,
    mru >> 8,
    mru & 0xff,
    5,
    6,
    ...u32(peerMagic),
  ]);
  m = transition(m, { type: "receive", packet: peerReq }, 0).model;
  assert.equal(m.state, "Opened");
  return m;
}
const u32 = (v: number) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

Deno.test("Echo-Request in Opened: Echo-Reply with same Identifier and data, our magic", () => {
  const m = openedLcp();
  const r = transition(m, {
    type: "receive",
    packet: new Uint8Array([9, 42, 0, 10, ...u32(0x11111111), 0xaa, 0xbb]),
  }, 0);
  assert.deepEqual(r.effects, [{
    type: "send",
    protocol: PPP_LCP,
    packet: new Uint8Array([10, 42, 0, 10, 0x0a, 0x0b, 0x0c, 0x0d, 0xaa, 0xbb]),
  }]);
  // Our own magic coming back is a loop: no reply.
  const looped = transition(m, {
    type: "receive",
    packet: new Uint8Array([9, 1, 0, 8, 0x0a, 0x0b, 0x0c, 0x0d]),
  }, 0);
  assert.deepEqual(looped.effects.map((e) => e.type), ["discard"]);
  // Not Opened: RXR, no reply (§4.1).
  const early = createLcp({ magic: () => 1 });
  const none = transition(transition(early, { type: "up" }, 0).model, {
    type: "receive",
    packet: new Uint8Array([9, 1, 0, 8, 0, 0, 0, 0]),
  }, 0);
  assert.deepEqual(none.effects, []);
});

Deno.test("Echo-Reply is reported; Discard-Request and Identification need no answer", () => {
  const m = openedLcp();
  const reply = transition(m, {
    type: "receive",
    packet: new Uint8Array([10, 3, 0, 9, ...u32(0x11111111), 7]),
  }, 0);
  assert.deepEqual(reply.effects, [{
    type: "echo_reply",
    identifier: 3,
    magic: 0x11111111,
    data: new Uint8Array([7]),
  }]);
  for (const code of [11, 12]) {
    const r = transition(m, {
      type: "receive",
      packet: new Uint8Array([code, 3, 0, 8, 0, 0, 0, 0]),
    }, 0);
    assert.deepEqual(r.effects, []);
    assert.equal(r.model.state, "Opened");
  }
  const echo = echoRequestPacket(m, 5, new Uint8Array([1]));
  assert.deepEqual(echo, new Uint8Array([9, 5, 0, 9, 0x0a, 0x0b, 0x0c, 0x0d, 1]));
});

Deno.test("Protocol-Reject: of an NCP is RXJ+ with a notice, of LCP is RXJ-, discarded unless Opened", () => {
  const m = openedLcp();
  const ncp = transition(
    m,
    { type: "receive", packet: new Uint8Array([8, 1, 0, 6, 0x80, 0x57]) },
    0,
  );
  assert.deepEqual(ncp.effects, [{ type: "protocol_rejected", protocol: 0x8057 }]);
  assert.equal(ncp.model.state, "Opened");
  const lcp = transition(
    m,
    { type: "receive", packet: new Uint8Array([8, 1, 0, 6, 0xc0, 0x21]) },
    0,
  );
  assert.equal(lcp.model.state, "Stopping");
  const early = transition(createLcp({ magic: () => 1 }), {
    type: "receive",
    packet: new Uint8Array([8, 1, 0, 6, 0x80, 0x57]),
  }, 0);
  assert.deepEqual(early.effects.map((e) => e.type), ["discard"]);
});

Deno.test("protocolReject: only when Opened, truncated to the peer's MRU, a new Identifier each", () => {
  assert.equal(protocolReject(createLcp({ magic: () => 1 }), 0x8057, new Uint8Array(4)), null);
  const m = openedLcp(0x11111111, 200);
  const first = protocolReject(m, 0x8057, new Uint8Array(500).fill(0xee))!;
  const frame = decodeFrame(first.frame);
  assert.ok(frame.ok);
  assert.equal(frame.value.protocol, PPP_LCP);
  assert.equal(frame.value.acfc, false);
  const packet = decodeControlPacket(frame.value.payload);
  assert.ok(packet.ok);
  assert.equal(packet.value.code, 8);
  assert.equal(frame.value.payload.length, 200, "Information field fits the peer's MRU");
  assert.deepEqual(packet.value.data.subarray(0, 2), new Uint8Array([0x80, 0x57]));
  const second = protocolReject(first.model, 0x8057, new Uint8Array(1))!;
  assert.notEqual(second.frame[5], first.frame[5]);
});

Deno.test("seedFromProxy: Opened with the LAC's negotiated values", () => {
  const m = seedFromProxy(createLcp({ magic: () => 9, requireAuth: ["pap", "chap"] }), {
    lastSent: confreqOptions({ mru: 1500, magic: 2, auth: "chap" }),
    lastReceived: confreqOptions({ mru: 1400, magic: 3 }),
  })!;
  assert.equal(m.state, "Opened");
  assert.equal(m.local.peer.mru, 1400);
  assert.equal(m.local.peer.magic, 3);
  assert.equal(m.local.acked!.magic, 2);
  assert.equal(m.local.config.requireAuth[m.local.acked!.authIndex], "chap");
  assert.equal(
    seedFromProxy(createLcp({ magic: () => 9 }), {
      lastSent: new Uint8Array([1, 9]),
      lastReceived: new Uint8Array(),
    }),
    null,
  );
});
