/** The PPP link driver and the LNS side of proxy LCP and authentication (RFC 2661 §4.4.5). */
import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, PPP_IP, PPP_IPCP, PPP_LCP } from "./frame.ts";
import { IpPool } from "./ip_pool.ts";
import { type LinkEvent, type LinkHost, PppLink } from "./link.ts";
import { proxiedStart, proxyFields, verifyProxyAuthentication } from "./proxy.ts";
import { LocalUsers } from "./users.ts";
import type { EngineTimer } from "./engine.ts";

/** A host on a manual clock, recording what the link sends and says. */
function host() {
  let now = 0;
  const timers: { at: number; fire: () => void; live: boolean; name: EngineTimer }[] = [];
  const sent: Uint8Array[] = [];
  const events: LinkEvent[] = [];
  const ip: Uint8Array[] = [];
  const h: LinkHost = {
    send: (f) => void sent.push(f.slice()),
    now: () => now,
    arm: (name, ms, fire) => {
      const t = { at: now + ms, fire, live: true, name };
      timers.push(t);
      return () => void (t.live = false);
    },
    event: (e) => void events.push(e),
    ip: (p) => void ip.push(p.slice()),
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      const due = timers.filter((t) => t.live && t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      now = due.at;
      due.live = false;
      due.fire();
    }
    now = until;
  };
  return { h, sent, events, ip, timers, advance };
}

const users = new LocalUsers([{ name: "alice@x", password: "pw" }]);
const lcp = { clientMagic: 0x1111, lacMagic: 0x2222 };

Deno.test("proxy authentication: PAP password and CHAP MD5 response are checked; other kinds are absent", () => {
  const chap = proxyFields("chap", { name: "alice@x", password: "pw", id: 3 }, lcp);
  assert.equal(verifyProxyAuthentication(chap, users), "ok");
  assert.equal(verifyProxyAuthentication({ ...chap, proxyAuthenId: 4 }, users), "bad");
  assert.equal(verifyProxyAuthentication({ ...chap, proxyAuthenName: "bob@x" }, users), "bad");
  const open = new LocalUsers([], { acceptAll: true });
  assert.equal(verifyProxyAuthentication({ ...chap, proxyAuthenName: "bob@x" }, open), "ok");
  const pap = proxyFields("pap", { name: "alice@x", password: "pw", id: 1 }, lcp);
  assert.equal(verifyProxyAuthentication(pap, users), "ok");
  assert.equal(
    verifyProxyAuthentication({ ...pap, proxyAuthenResponse: new Uint8Array([0xff, 0xfe]) }, users),
    "bad",
    "a password that is not UTF-8",
  );
  assert.equal(verifyProxyAuthentication(proxyFields("none", pap as never, lcp), users), "absent");
  const { proxyAuthenChallenge: _c, ...noChallenge } = chap;
  assert.equal(verifyProxyAuthentication(noChallenge, users), "absent");
});

Deno.test("proxied server link: starts Opened, authenticated, and its first frame is IPCP", () => {
  const t = host();
  const fields = proxyFields("chap", { name: "alice@x", password: "pw", id: 3 }, lcp);
  const link = new PppLink({
    role: "server",
    auth: ["chap", "pap"],
    users,
    localAddress: "10.0.0.1",
    pool: new IpPool({ first: 0x0a000002, last: 0x0a000002 }),
    magic: () => 0x3333,
    proxied: {
      lastSent: fields.lastSentLcpConfreq!,
      lastReceived: fields.lastReceivedLcpConfreq!,
      user: "alice@x",
    },
  }, t.h);
  link.start();
  assert.equal(link.phase, "network");
  assert.deepEqual(t.events.filter((e) => e.type === "authenticated"), [{
    type: "authenticated",
    user: "alice@x",
  }]);
  assert.equal(t.sent.length, 1);
  const first = decodeFrame(t.sent[0]);
  assert.ok(first.ok && first.value.protocol === PPP_IPCP);
  // Its LCP took the LAC's Magic-Number: an Echo-Request from the client is answered with it.
  link.receive(encodeFrame(PPP_LCP, new Uint8Array([9, 1, 0, 8, 0, 0, 0x11, 0x11])));
  const reply = decodeFrame(t.sent[1]);
  assert.ok(reply.ok && reply.value.protocol === PPP_LCP);
  assert.deepEqual([...reply.value.payload.subarray(0, 8)], [10, 1, 0, 8, 0, 0, 0x22, 0x22]);
});

Deno.test("proxy LCP that asks for an authentication the server does not require: LCP is negotiated afresh", () => {
  const t = host();
  const fields = proxyFields("pap", { name: "alice@x", password: "pw", id: 3 }, lcp);
  const link = new PppLink({
    role: "server",
    auth: ["chap"],
    users,
    localAddress: "10.0.0.1",
    pool: new IpPool({ first: 0x0a000002, last: 0x0a000002 }),
    proxied: {
      lastSent: fields.lastSentLcpConfreq!,
      lastReceived: fields.lastReceivedLcpConfreq!,
      user: "alice@x",
    },
  }, t.h);
  link.start();
  assert.equal(link.phase, "establish");
  const first = decodeFrame(t.sent[0]);
  assert.ok(first.ok && first.value.protocol === PPP_LCP && first.value.payload[0] === 1);
  assert.equal(t.events.some((e) => e.type === "authenticated"), false);
});

Deno.test("link: IPv4 before IPCP is Opened is dropped and counted; abandon gives the address back, silently", () => {
  const server = host();
  const client = host();
  const pool = new IpPool({ first: 0x0a000002, last: 0x0a000002 });
  const s = new PppLink({
    role: "server",
    auth: "pap",
    users,
    localAddress: "10.0.0.1",
    pool,
  }, server.h);
  const c = new PppLink({ role: "client", name: "alice@x", password: "pw" }, client.h);
  s.receive(encodeFrame(PPP_IP, new Uint8Array(20)));
  assert.equal(s.counters.ipDropped, 1);
  s.start();
  c.start();
  // Shuttle frames until both are quiet.
  for (let i = 0; i < 50 && (server.sent.length > 0 || client.sent.length > 0); i++) {
    for (const f of server.sent.splice(0)) c.receive(f);
    for (const f of client.sent.splice(0)) s.receive(f);
  }
  assert.equal(s.opened, true);
  assert.equal(c.address, "10.0.0.2");
  assert.equal(pool.inUse, 1);
  assert.ok(c.sendIp(new Uint8Array([0x45, 1, 2, 3])));
  s.receive(client.sent.splice(0)[0]);
  assert.equal(s.counters.ipPacketsIn, 1);
  assert.deepEqual([...server.ip[0]], [0x45, 1, 2, 3]);
  const before = server.events.length;
  s.abandon();
  assert.equal(pool.inUse, 0, "the address is back in the pool");
  assert.equal(server.sent.length, 0, "nothing sent on a session that is gone");
  assert.equal(server.events.length, before, "no events after abandon");
  assert.equal(server.timers.some((t) => t.live), false, "no timer left");
  assert.equal(s.sendIp(new Uint8Array(1)), false);
});

Deno.test("link: a timer replaced before it fires is ignored when its old callback runs", () => {
  const t = host();
  const c = new PppLink({ role: "client", name: "a", password: "b", magic: () => 7 }, t.h);
  c.start();
  const firstLcpTimer = t.timers.find((x) => x.name === "lcp")!;
  // A Configure-Request from the peer re-arms nothing here, so fire the old one by hand after a
  // fresh arm: the link must ignore the stale callback.
  t.advance(3000); // the real timeout: a retransmission
  const sentAfterTimeout = t.sent.length;
  firstLcpTimer.fire(); // stale: already fired once
  assert.equal(t.sent.length, sentAfterTimeout);
});

Deno.test("hostile proxy AVPs: garbage proxy LCP or a mangled CHAP response never throws; the LNS negotiates afresh", () => {
  const good = proxyFields("chap", { name: "alice@x", password: "pw", id: 3 }, lcp);
  const cases = [
    { ...good, lastSentLcpConfreq: new Uint8Array([1, 200, 0]) }, // option Length past the end
    { ...good, lastReceivedLcpConfreq: new Uint8Array([5]) }, // cut short
    { ...good, proxyAuthenResponse: new Uint8Array(3) }, // not 16 octets
    { ...good, proxyAuthenChallenge: new Uint8Array(0), proxyAuthenResponse: new Uint8Array(0) },
  ];
  for (const fields of cases) {
    const t = host();
    const proxied = proxiedStart(fields, users);
    const link = new PppLink({
      role: "server",
      auth: ["chap"],
      users,
      localAddress: "10.0.0.1",
      pool: new IpPool({ first: 0x0a000002, last: 0x0a000002 }),
      ...(proxied ? { proxied } : {}),
    }, t.h);
    link.start();
    assert.equal(link.phase, "establish", JSON.stringify(proxied));
    const first = decodeFrame(t.sent[0]);
    assert.ok(first.ok && first.value.protocol === PPP_LCP && first.value.payload[0] === 1);
  }
});
