import assert from "node:assert/strict";
import { decodeControlPacket, decodeFrame, PPP_LCP, type PppOption } from "./frame.ts";
import { transition } from "./fsm.ts";
import {
  createIpcp,
  IPCP_POLICY,
  type IpcpConfig,
  ipv4Bytes,
  ipv4String,
  ipv6cpReject,
} from "./ipcp.ts";
import { createLcp, seedFromProxy } from "./lcp.ts";
import { confreqOptions } from "./proxy.ts";

const opt = (type: number, ...data: number[]): PppOption => ({ type, data: new Uint8Array(data) });
const server = (over: Partial<Extract<IpcpConfig, { role: "server" }>> = {}) =>
  createIpcp({
    role: "server",
    localAddress: "192.0.2.1",
    allocate: () => "10.1.2.3",
    dns: { primary: "192.0.2.53" },
    ...over,
  }).local;

Deno.test("server: 0.0.0.0 is Nak'ed to the allocated address, which is then acked", () => {
  const first = IPCP_POLICY.judge(server(), [opt(3, 0, 0, 0, 0)]);
  assert.deepEqual(first.verdict, { kind: "nak", options: [opt(3, 10, 1, 2, 3)] });
  const second = IPCP_POLICY.judge(first.local, [opt(3, 10, 1, 2, 3)]);
  assert.deepEqual(second.verdict, { kind: "ack" });
  // An address of the peer's own choosing is Nak'ed to ours.
  assert.deepEqual(IPCP_POLICY.judge(first.local, [opt(3, 10, 9, 9, 9)]).verdict, {
    kind: "nak",
    options: [opt(3, 10, 1, 2, 3)],
  });
});

Deno.test("server: a request without IP-Address draws a Nak carrying one (RFC 1332 §3.3)", () => {
  assert.deepEqual(IPCP_POLICY.judge(server(), []).verdict, {
    kind: "nak",
    options: [opt(3, 10, 1, 2, 3)],
  });
});

Deno.test("server: DNS Nak'ed to the configured server, unconfigured ones and compression rejected", () => {
  const r = IPCP_POLICY.judge(server(), [opt(3, 10, 1, 2, 3), opt(129, 0, 0, 0, 0)]);
  assert.deepEqual(r.verdict, { kind: "nak", options: [opt(129, 192, 0, 2, 53)] });
  const rejected = [opt(2, 0x00, 0x2d, 15, 1), opt(131, 0, 0, 0, 0), opt(130, 0, 0, 0, 0), opt(77)];
  assert.deepEqual(IPCP_POLICY.judge(server(), [opt(3, 10, 1, 2, 3), ...rejected]).verdict, {
    kind: "reject",
    options: rejected,
  });
  assert.deepEqual(
    IPCP_POLICY.judge(r.local, [opt(3, 10, 1, 2, 3), opt(129, 192, 0, 2, 53)]).verdict,
    { kind: "ack" },
  );
});

Deno.test("server: allocate() returning null rejects IP-Address and reports the failure", () => {
  const r = IPCP_POLICY.judge(server({ allocate: () => null }), [opt(3, 0, 0, 0, 0)]);
  assert.deepEqual(r.verdict, { kind: "reject", options: [opt(3, 0, 0, 0, 0)] });
  assert.equal(IPCP_POLICY.failure!(r.local), "address pool exhausted");
});

Deno.test("client: takes the Nak'ed address and DNS; a rejected DNS is not asked again", () => {
  const l = createIpcp({ role: "client", requestDns: true }).local;
  assert.deepEqual(IPCP_POLICY.request(l), [
    opt(3, 0, 0, 0, 0),
    opt(129, 0, 0, 0, 0),
    opt(131, 0, 0, 0, 0),
  ]);
  const naked = IPCP_POLICY.onNak(l, [opt(3, 10, 1, 2, 3), opt(129, 8, 8, 8, 8)]);
  const rejected = IPCP_POLICY.onReject(naked, [opt(131, 0, 0, 0, 0)]);
  assert.deepEqual(IPCP_POLICY.request(rejected), [opt(3, 10, 1, 2, 3), opt(129, 8, 8, 8, 8)]);
  assert.equal(IPCP_POLICY.failure!(rejected), undefined);
  // Its address rejected while it has none: it cannot go on.
  assert.equal(
    IPCP_POLICY.failure!(IPCP_POLICY.onReject(l, [opt(3, 0, 0, 0, 0)])),
    "peer refused to assign an address",
  );
});

Deno.test("client: acks the server's own address, rejects 0.0.0.0 and other options", () => {
  const l = createIpcp({ role: "client" }).local;
  const r = IPCP_POLICY.judge(l, [opt(3, 192, 0, 2, 1)]);
  assert.deepEqual(r.verdict, { kind: "ack" });
  assert.equal(r.local.peerAddress, "192.0.2.1");
  assert.deepEqual(IPCP_POLICY.judge(l, [opt(3, 0, 0, 0, 0), opt(2, 0, 0x2d)]).verdict, {
    kind: "reject",
    options: [opt(3, 0, 0, 0, 0), opt(2, 0, 0x2d)],
  });
});

Deno.test("a server keeps the peer's address across renegotiation; allocate() once", () => {
  let calls = 0;
  let m = createIpcp({
    role: "server",
    localAddress: "192.0.2.1",
    allocate: () => (calls++, "10.0.0.9"),
  });
  m = transition(m, { type: "open" }, 0).model;
  m = transition(m, { type: "up" }, 0).model;
  m = transition(m, { type: "receive", packet: new Uint8Array([1, 1, 0, 10, 3, 6, 0, 0, 0, 0]) }, 0)
    .model;
  m = transition(m, { type: "down" }, 0).model;
  m = transition(m, { type: "up" }, 0).model;
  const r = transition(m, {
    type: "receive",
    packet: new Uint8Array([1, 2, 0, 10, 3, 6, 10, 0, 0, 9]),
  }, 0);
  assert.equal(r.effects.find((e) => e.type === "send" && e.packet[0] === 2) !== undefined, true);
  assert.equal(calls, 1);
});

Deno.test("ipv6cpReject: an LCP Protocol-Reject of 0x8057 once LCP is Opened", () => {
  const ipv6cp = new Uint8Array([1, 1, 0, 14, 1, 10, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(ipv6cpReject(createLcp({ magic: () => 1 }), ipv6cp), null);
  const lcp = seedFromProxy(createLcp({ magic: () => 1 }), {
    lastSent: confreqOptions({ mru: 1500, magic: 2 }),
    lastReceived: confreqOptions({ mru: 1500, magic: 3 }),
  })!;
  const r = ipv6cpReject(lcp, ipv6cp)!;
  const frame = decodeFrame(r.frame);
  assert.ok(frame.ok);
  assert.equal(frame.value.protocol, PPP_LCP);
  const packet = decodeControlPacket(frame.value.payload);
  assert.ok(packet.ok);
  assert.equal(packet.value.code, 8);
  assert.deepEqual(packet.value.data, new Uint8Array([0x80, 0x57, ...ipv6cp]));
});

Deno.test("dotted quads: parse and format; bad ones refused", () => {
  assert.deepEqual(ipv4Bytes("10.1.2.255"), new Uint8Array([10, 1, 2, 255]));
  assert.equal(ipv4String(new Uint8Array([192, 0, 2, 1])), "192.0.2.1");
  for (const bad of ["10.1.2", "10.1.2.256", "a.b.c.d", "1.2.3.4.5", ""]) {
    assert.equal(ipv4Bytes(bad), null);
  }
});
