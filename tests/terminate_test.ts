/**
 * `terminate` rules on the seeded in-memory network: the LTS is the LNS of
 * the calls they keep (RFC 2661 roles), with PPP per RFC 1661 (LCP, Echo
 * keepalive), RFC 1994 / RFC 1334 (CHAP, PAP) and RFC 1332 (IPCP).
 */
import assert from "node:assert/strict";
import { LtsRuntime, startLts } from "../actors/lts.ts";
import type { SessionHandle } from "../actors/l2tp_types.ts";
import { loadPolicy } from "../policies/mod.ts";
import { decodeFrame, encodeFrame, PPP_IP, PPP_IPCP, PPP_LCP } from "../ppp/frame.ts";
import { type LinkEvent, PppLink } from "../ppp/link.ts";
import { proxyFields } from "../ppp/proxy.ts";
import type { AvpFields } from "../transport/message.ts";
import { simulation } from "./_l2tp_sim.ts";
import { newTunStats, type TunDevice } from "../transport/tun.ts";
import type { Result } from "../transport/result.ts";

const LTS = { hostname: "10.1.0.1", port: 1701 };
const LAC = { hostname: "10.2.0.1", port: 1701 };

const POLICY = (pool = "10.77.0.10-10.77.0.20") => `
hostname: lts-a
listen: ["10.1.0.1:1701"]
lacs: [{ match: {} }]
terminate:
  local:
    users:
      - { name: "carol@local.example", password: "wonderland" }
      - { name: "dave@local.example", password: "pw2" }
    pool: ${pool}
    local_address: 10.77.0.1
    dns: [10.77.0.53, 10.77.0.54]
    echo: { interval: 10, max_missed: 3 }
rules:
  - { name: local, match: { domain: "local.example" }, terminate: local }
`;

/** One remote system: a PPP client on a call of the LAC, on the simulated clock. */
interface Client {
  link: PppLink | null;
  events: LinkEvent[];
  /** Frames the client got from the LTS, decoded protocol numbers in order. */
  protocols: number[];
  /** While false the client hears nothing (a dead peer). */
  listening: boolean;
  /** IPv4 datagrams the client received. */
  ip?: Uint8Array[];
}

/** A TUN device in memory: what lts writes to it, and a way to have the kernel send a packet. */
function fakeTun() {
  const written: Uint8Array[] = [];
  let receiver: ((p: Uint8Array) => void) | undefined;
  const stats = newTunStats();
  const opened: string[] = [];
  const device = (name: string): TunDevice => {
    opened.push(name);
    return {
      name,
      write: (p) => {
        written.push(p.slice());
        return true;
      },
      onPacket: (cb) => void (receiver = cb),
      close: () => {},
      closed: Promise.resolve(),
      stats,
    };
  };
  return {
    written,
    opened,
    open: (name: string): Result<TunDevice, string> => ({ ok: true, value: device(name) }),
    fromKernel: (p: Uint8Array) => receiver?.(p),
  };
}

/** An IPv4 header (20 octets, no options) from `src` to `dst` with `payload` octets after it. */
function ipv4(src: number[], dst: number[], payload = 4): Uint8Array {
  const p = new Uint8Array(20 + payload);
  p[0] = 0x45;
  p[2] = (20 + payload) >> 8;
  p[3] = (20 + payload) & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(src, 12);
  p.set(dst, 16);
  return p;
}

function testbed(seed: number, policyText = POLICY(), tun?: ReturnType<typeof fakeTun>) {
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
    ...(tun ? { openTun: tun.open } : {}),
  });
  const runtime = new LtsRuntime(lts, {
    system: sim.system,
    source: "lts.yaml",
    load: () => Promise.resolve(loadPolicy(policyText, "lts.yaml")),
  });
  const settle = sim.settle;
  const clients = new Map<number, Client>();
  const credentials = new Map<
    number,
    { name: string; password: string; clientInitiated: boolean }
  >();
  const lac = sim.node(LAC, {
    settings: { hostname: "lac-1" },
    hooks: {
      sessionEstablished: (s: SessionHandle) => {
        const n = s.context as number;
        const c = clients.get(n)!;
        const who = credentials.get(n)!;
        if (!who.clientInitiated) return;
        const ip: Uint8Array[] = [];
        c.ip = ip;
        c.link = new PppLink({
          role: "client",
          name: who.name,
          password: who.password,
          magic: () => 0x5000 + n,
        }, {
          send: (frame) => void s.sendFrame(frame),
          now: () => sim.clock.now(),
          arm: (_name, ms, fire) => {
            const t = sim.clock.setTimer(ms, fire);
            return () => sim.clock.cancel(t);
          },
          event: (e) => void c.events.push(e),
          ip: (p) => void ip.push(p.slice()),
        });
        c.link.start();
      },
      frame: (s: SessionHandle, frame: Uint8Array) => {
        const c = clients.get(s.context as number)!;
        if (!c.listening) return;
        const d = decodeFrame(frame);
        if (d.ok) c.protocols.push(d.value.protocol);
        c.link?.receive(frame.slice());
      },
    },
  });
  const tunnel = lac.node.openTunnel(LTS);
  assert.ok(tunnel.ok);
  let next = 1;
  /** Places a call; client-initiated: no proxy AVPs, PPP runs end to end. */
  const place = (name: string, password: string, nas?: AvpFields) => {
    const n = next++;
    clients.set(n, { link: null, events: [], protocols: [], listening: true });
    credentials.set(n, { name, password, clientInitiated: nas === undefined });
    lac.node.placeCall(tunnel.value, { callingNumber: `020${n}`, ...(nas ?? {}) }, { context: n });
    return clients.get(n)!;
  };
  return { sim, lts, runtime, settle, lac, place };
}

const opened = (c: Client) => c.events.find((e) => e.type === "opened");

Deno.test("terminate: a client-initiated call is authenticated, given an address and DNS, and its IP packets are counted", async () => {
  const { sim, lts, runtime, settle, lac, place } = testbed(1);
  const carol = place("carol@local.example", "wonderland");
  assert.ok(sim.runUntil(() => opened(carol) !== undefined, 10_000), JSON.stringify(carol.events));
  const up = opened(carol);
  assert.equal(up?.type === "opened" && up.address, "10.77.0.10");
  assert.deepEqual(up?.type === "opened" && up.dns, {
    primary: "10.77.0.53",
    secondary: "10.77.0.54",
  });
  assert.equal(lts.stats.terminated, 1);
  // Three IPv4 datagrams from the client reach the LTS's end of the link and are counted.
  for (let i = 0; i < 3; i++) carol.link!.sendIp(new Uint8Array(20 + i));
  sim.runUntil(() => false, 200);
  const [view] = await settle(runtime.sessions());
  assert.equal(view.state, "terminated");
  assert.equal(view.user, "carol@local.example");
  assert.equal(view.rule, "local");
  assert.equal(view.upstream, null);
  assert.equal(view.terminate?.target, "local");
  assert.equal(view.terminate?.address, "10.77.0.10");
  assert.equal(view.terminate?.ipPacketsIn, 3);
  assert.equal(view.terminate?.ipBytesIn, 20 + 21 + 22);
  const status = await settle(runtime.status());
  assert.equal(status.sessions.terminated, 1);
  assert.equal(status.calls.terminated, 1);
  assert.equal(lac.recorder.sessionsClosed.length, 0);
});

Deno.test("terminate: LCP Echo keeps a live client up; a client gone silent is detected and its call cleared with a CDN", () => {
  // One address in the pool: the call after the dead one can only come up if it was given back.
  const { sim, lts, lac, place } = testbed(2, POLICY("10.77.0.10-10.77.0.10"));
  const carol = place("carol@local.example", "wonderland");
  assert.ok(sim.runUntil(() => opened(carol) !== undefined, 10_000));
  // A minute of Echo-Requests every 10 s, each answered by the client: the call stays.
  sim.runUntil(() => false, 60_000, 500);
  const echoes = carol.protocols.filter((p) => p === PPP_LCP).length;
  assert.ok(echoes >= 5, `LCP frames seen by the client: ${echoes}`);
  assert.equal(lac.recorder.sessionsClosed.length, 0);
  // The client stops hearing (and so answering): 3 missed echoes at 10 s, then the call is cleared.
  carol.listening = false;
  assert.ok(
    sim.runUntil(() => lac.recorder.sessionsClosed.length === 1, 60_000, 500),
    "dead peer detected",
  );
  const { reason } = lac.recorder.sessionsClosed[0];
  assert.equal(reason.by, "peer");
  assert.equal(reason.result.resultCode, 2);
  assert.match(reason.result.errorMessage ?? "", /echo/);
  assert.ok(sim.runUntil(() => lts.stats.active === 0, 5_000));
  // The address went back to the pool: the next call gets it.
  const dave = place("dave@local.example", "pw2");
  assert.ok(sim.runUntil(() => opened(dave) !== undefined, 10_000));
  const up = opened(dave);
  assert.equal(up?.type === "opened" && up.address, "10.77.0.10");
});

Deno.test("terminate: a wrong password gets a CHAP Failure, then LCP Terminate, then a CDN with result 2", () => {
  const { sim, lts, lac, place } = testbed(3);
  const mallory = place("carol@local.example", "guess");
  assert.ok(sim.runUntil(() => lac.recorder.sessionsClosed.length === 1, 30_000));
  const failed = mallory.events.find((e) => e.type === "failed");
  assert.match(failed?.type === "failed" ? failed.reason : "", /rejected by the peer/);
  assert.equal(opened(mallory), undefined);
  const { reason } = lac.recorder.sessionsClosed[0];
  assert.equal(reason.result.resultCode, 2);
  assert.match(reason.result.errorMessage ?? "", /authentication failed/);
  assert.equal(lts.stats.terminated, 0);
  assert.equal(lts.stats.rejected, 1);
  // The client heard LCP Terminate (code 5) before the CDN.
  assert.ok(mallory.protocols.includes(PPP_LCP));
});

Deno.test("terminate: proxy authentication that checks out starts at IPCP; one that does not renegotiates LCP", () => {
  const { sim, lac, place } = testbed(4);
  const lcp = { clientMagic: 0x1111, lacMagic: 0x2222 };
  const good = place("x", "x", {
    ...proxyFields("chap", { name: "dave@local.example", password: "pw2", id: 9 }, lcp),
  });
  const bad = place("x", "x", {
    ...proxyFields("pap", { name: "dave@local.example", password: "wrong", id: 1 }, lcp),
  });
  sim.runUntil(() => good.protocols.length > 0 && bad.protocols.length > 0, 10_000);
  // Accepted: the LTS's first frame is IPCP, no LCP Configure-Request.
  assert.equal(good.protocols[0], PPP_IPCP);
  // Not accepted: the LTS starts LCP afresh (the client will be asked to authenticate itself).
  assert.equal(bad.protocols[0], PPP_LCP);
  assert.equal(lac.recorder.sessionsClosed.length, 0);
});

Deno.test("terminate: an exhausted pool fails the call that finds no address; the calls holding addresses stay", () => {
  const { sim, lts, lac, place } = testbed(5, POLICY("10.77.0.10-10.77.0.10"));
  const carol = place("carol@local.example", "wonderland");
  assert.ok(sim.runUntil(() => opened(carol) !== undefined, 10_000));
  const dave = place("dave@local.example", "pw2");
  assert.ok(sim.runUntil(() => lac.recorder.sessionsClosed.length === 1, 60_000));
  assert.equal(opened(dave), undefined);
  assert.match(lac.recorder.sessionsClosed[0].reason.result.errorMessage ?? "", /exhausted/);
  assert.equal(lts.stats.terminated, 1);
  // Carol's link still carries IP.
  assert.ok(carol.link!.sendIp(new Uint8Array([0x45, 0, 0, 20])));
  assert.equal(carol.link!.opened, true);
});

Deno.test("terminate: a reload leaves terminated calls running; new calls follow the new rules", async () => {
  const { sim, lts, settle, runtime, lac, place } = testbed(6);
  const carol = place("carol@local.example", "wonderland");
  assert.ok(sim.runUntil(() => opened(carol) !== undefined, 10_000));
  const next = loadPolicy(
    POLICY().replace(
      "  - { name: local,",
      '  - { name: closed, match: { domain: "local.example" }, reject: { result_code: 2 } }\n  - { name: local,',
    ),
    "lts.yaml",
  );
  assert.ok(next.ok);
  const version = await settle(
    new Promise<number>((resolve) =>
      lts.switch.send({ type: "policy", policy: next.value, reply: resolve })
    ),
  );
  assert.equal(version, 2);
  const dave = place("dave@local.example", "pw2");
  assert.ok(sim.runUntil(() => lac.recorder.sessionsClosed.length === 1, 30_000));
  assert.equal(opened(dave), undefined);
  // Carol is untouched, still decided by version 1, and her IP still counts.
  carol.link!.sendIp(new Uint8Array(40));
  sim.runUntil(() => false, 200);
  const views = await settle(runtime.sessions());
  const mine = views.find((v) => v.user === "carol@local.example")!;
  assert.equal(mine.state, "terminated");
  assert.equal(mine.policyVersion, 1);
  assert.equal(mine.terminate?.ipPacketsIn, 1);
  // Frames of the IPv4 protocol are framed as RFC 1661 says (the check is the LTS's decoder).
  assert.ok(decodeFrame(encodeFrame(PPP_IP, new Uint8Array(1))).ok);
});

Deno.test("terminate with tun: the client's IPv4 goes to the TUN device, the host's comes back to the client; spoofed sources are dropped", () => {
  const tun = fakeTun();
  const { sim, place } = testbed(
    7,
    POLICY().replace(
      "    echo: { interval: 10, max_missed: 3 }",
      "    echo: { interval: 10, max_missed: 3 }\n    tun: true",
    ),
    tun,
  );
  assert.deepEqual(tun.opened, ["lts-local"]);
  const carol = place("carol@local.example", "wonderland");
  assert.ok(sim.runUntil(() => opened(carol) !== undefined, 10_000));
  // From the client (its own address 10.77.0.10) to somewhere: written to the device.
  carol.link!.sendIp(ipv4([10, 77, 0, 10], [192, 0, 2, 1]));
  // A spoofed source address: not written.
  carol.link!.sendIp(ipv4([10, 77, 0, 99], [192, 0, 2, 1]));
  sim.runUntil(() => false, 200);
  assert.equal(tun.written.length, 1);
  assert.deepEqual([...tun.written[0].subarray(12, 16)], [10, 77, 0, 10]);
  // From the host to the client's address: the link sends it to the client.
  tun.fromKernel(ipv4([192, 0, 2, 1], [10, 77, 0, 10], 8));
  sim.runUntil(() => (carol.ip?.length ?? 0) > 0, 1_000);
  assert.equal(carol.ip?.length, 1);
  assert.deepEqual([...carol.ip![0].subarray(16, 20)], [10, 77, 0, 10]);
  // To an address no call holds: nowhere.
  tun.fromKernel(ipv4([192, 0, 2, 1], [10, 77, 0, 11], 8));
  sim.runUntil(() => false, 200);
  assert.equal(carol.ip?.length, 1);
});
