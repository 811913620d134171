/**
 * `lts demo`: the switch at work, in one process, on loopback UDP. Three
 * LNSes of two ISPs, the switch with an embedded policy, and a LAC placing
 * calls for users of several realms: each call is switched to the upstream
 * its rule names (or rejected), LCP echo crosses both legs, and everything is
 * torn down. `--out FILE` keeps what the switch sent and received as a pcap.
 *
 * @module
 */

import { SystemClock } from "../actors/clock.ts";
import { L2tpNode } from "../actors/l2tp_node.ts";
import type { CloseReason, SessionHandle } from "../actors/l2tp_types.ts";
import { startLts } from "../actors/lts.ts";
import { MicrotaskScheduler } from "../actors/scheduler.ts";
import { ActorSystem } from "../actors/system.ts";
import { loadPolicy } from "../policies/mod.ts";
import { echoReply, echoRequest, LcpCode, lcpCode } from "../ppp/echo.ts";
import { proxyFields } from "../ppp/proxy.ts";
import { type DatagramSocket, endpointKey } from "../transport/datagram.ts";
import { writePcap } from "../transport/pcap.ts";
import { DenoUdpNetwork, type UdpSocket } from "../transport/udp.ts";
import { type Command, Exit, type Io, parse } from "./command.ts";

const usage = `lts demo [--out FILE]

Runs the tunnel switch in one process on loopback UDP, with an embedded policy:
a LAC places calls for users of several realms; lts switches each one to the
ISP its rule names (isp-a has a primary and a backup LNS, isp-b one LNS) or
rejects it; LCP Echo-Requests cross both legs and come back; then everything
is torn down. Prints the policy, what happened to each call, and a summary.

Options:
  --out FILE   write every datagram the switch sent and received as a pcap
               (then: lts decode --pcap FILE --secret lac-secret)
  -h, --help   this text`;

const USERS = [
  "alice@isp-a.example",
  "bob@isp-b.example",
  "carol@isp-a.example",
  "dave@isp-b.example",
  "eve@spam.blocked.example",
  "mallory@unknown.example",
];

function policyText(ports: { lts: number; a1: number; a2: number; b1: number }): string {
  return `hostname: lts-demo
listen: ["127.0.0.1:${ports.lts}"]
lacs:
  - { match: { hostname: "lac-*" }, secret: "lac-secret", hide_avps: true }
upstreams:
  isp-a:
    strategy: priority
    sessions_per_tunnel: 100
    members:
      - { address: "127.0.0.1:${ports.a1}", secret: "isp-a-secret", priority: 1 }
      - { address: "127.0.0.1:${ports.a2}", secret: "isp-a-secret", priority: 2 }
  isp-b:
    members:
      - { address: "127.0.0.1:${ports.b1}" }
rules:
  - { name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }
  - { name: isp-b, match: { domain: "isp-b.example" }, forward: isp-b }
  - { name: blocked, match: { domain: "*.blocked.example" }, reject: { result_code: 2, message: "realm not served" } }
default: { reject: { result_code: 2, message: "no route for this realm" } }
`;
}

/** A socket that keeps a copy of every datagram for the pcap. */
function recording(
  socket: UdpSocket,
  log: { src: string; dst: string; payload: Uint8Array; timeUs: number }[],
): DatagramSocket {
  const here = endpointKey(socket.local);
  const t0 = Date.now() * 1000;
  const stamp = () => t0 + Math.round(performance.now() * 1000);
  return {
    get local() {
      return socket.local;
    },
    send: (payload, to) => {
      log.push({ src: here, dst: endpointKey(to), payload: payload.slice(), timeUs: stamp() });
      return socket.send(payload, to);
    },
    onReceive: (handler) =>
      socket.onReceive((payload, from) => {
        log.push({ src: endpointKey(from), dst: here, payload: payload.slice(), timeUs: stamp() });
        handler(payload, from);
      }),
    close: () => socket.close(),
    get stats() {
      return socket.stats;
    },
  };
}

/** `lts demo`. */
export const demoCommand: Command = {
  name: "demo",
  summary: "run LAC → lts → LNSes on loopback with an embedded policy and show each call's fate",
  usage,
  async run(args: string[], io: Io): Promise<number> {
    const { values } = parse(args, { options: { out: { type: "string" } } });
    const network = new DenoUdpNetwork({ maxPendingSends: 4096 });
    const sockets: UdpSocket[] = [];
    const bind = () => {
      const r = network.bind({ hostname: "127.0.0.1", port: 0 });
      if (!r.ok) throw new Error(`cannot bind a loopback UDP port: ${r.error}`);
      sockets.push(r.value);
      return r.value;
    };
    const system = new ActorSystem({
      clock: new SystemClock(),
      scheduler: new MicrotaskScheduler(),
    });
    const secret = (s: string) => new TextEncoder().encode(s);

    // The upstream LNSes: they answer LCP echo and remember who called.
    const landed = new Map<string, string>();
    const lns = (name: string, key?: string) => {
      const socket = bind();
      new L2tpNode({
        system,
        socket,
        settings: { hostname: name, secret: key ? secret(key) : undefined },
        hooks: {
          sessionEstablished: (s) => void landed.set(s.call.proxyAuthenName ?? "?", name),
          frame: (s, frame) => void s.sendFrame(echoReply(frame, 0x4c4e5301) ?? frame),
        },
      });
      return socket.local.port;
    };
    const ports = {
      a1: lns("lns-isp-a-1", "isp-a-secret"),
      a2: lns("lns-isp-a-2", "isp-a-secret"),
      b1: lns("lns-isp-b-1"),
      lts: 0,
    };
    const ltsSocket = bind();
    ports.lts = ltsSocket.local.port;
    const text = policyText(ports);
    const policy = loadPolicy(text, "embedded.yaml");
    if (!policy.ok) {
      for (const e of policy.error) io.err(e.toString());
      return Exit.Failure;
    }
    const capture: { src: string; dst: string; payload: Uint8Array; timeUs: number }[] = [];
    const lts = startLts({ system, socket: recording(ltsSocket, capture), policy: policy.value });

    io.out("lts demo — one process, loopback UDP: LAC → lts → LNSes\n");
    io.out("Embedded policy (lts check/explain/run take such a file):\n");
    io.out(text.split("\n").map((l) => `  ${l}`).join("\n"));

    // The LAC: one tunnel to the switch, one call per user, with proxy authentication.
    const up = new Map<string, SessionHandle>();
    const closed = new Map<string, CloseReason>();
    const echoes = new Map<string, number>();
    const lac = new L2tpNode({
      system,
      socket: bind(),
      settings: { hostname: "lac-north-1", secret: secret("lac-secret"), hideAvps: true },
      hooks: {
        sessionEstablished: (s) => void up.set(s.call.proxyAuthenName!, s),
        sessionClosed: (s, reason) => void closed.set(s.call.proxyAuthenName!, reason),
        frame: (s, frame) => {
          if (lcpCode(frame) === LcpCode.EchoReply) {
            const user = s.call.proxyAuthenName!;
            echoes.set(user, (echoes.get(user) ?? 0) + 1);
          }
        },
      },
    });
    const tunnel = lac.openTunnel(ltsSocket.local);
    if (!tunnel.ok) throw new Error(tunnel.error);
    USERS.forEach((user, i) =>
      lac.placeCall(tunnel.value, {
        callingNumber: `020100${i}`,
        calledNumber: "0800123456",
        ...proxyFields("chap", {
          name: user,
          password: "pw",
          id: i + 1,
          challenge: crypto.getRandomValues(new Uint8Array(16)),
        }, {
          clientMagic: 0x1000 + i,
          lacMagic: 0x4c414301,
        }),
      })
    );
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const until = Date.now() + 10_000;
    // Settled: every call either switched (and the LNS has it) or cleared by a CDN.
    const settled = () => USERS.every((u) => closed.has(u) || (up.has(u) && landed.has(u)));
    while (!settled() && Date.now() < until) await sleep(10);
    // The switched calls: LCP echo both ways through both legs.
    for (let round = 0; round < 3; round++) {
      for (const s of up.values()) s.sendFrame(echoRequest(round, 0x4c414301));
      await sleep(50);
    }

    io.out("\nCalls:");
    io.out(`  ${"user".padEnd(26)} ${"rule".padEnd(8)} ${"landed on".padEnd(12)} outcome`);
    let ok = true;
    for (const user of USERS) {
      const d = policy.value.decide({ user, lacHostname: "lac-north-1" });
      const rule = d.rule ?? "default";
      if (up.has(user) && !closed.has(user)) {
        const n = echoes.get(user) ?? 0;
        io.out(
          `  ${user.padEnd(26)} ${rule.padEnd(8)} ${
            (landed.get(user) ?? "?").padEnd(12)
          } switched; LCP echo ${n}/3 back`,
        );
        if (d.action !== "forward" || n !== 3) ok = false;
      } else {
        const r = closed.get(user)?.result;
        io.out(
          `  ${user.padEnd(26)} ${rule.padEnd(8)} ${"-".padEnd(12)} CDN result ${r?.resultCode}: ${
            r?.errorMessage ?? ""
          }`,
        );
        if (d.action !== "reject") ok = false;
      }
    }
    for (const s of up.values()) s.disconnect({ resultCode: 3 });
    await sleep(100);
    io.out(`\nSwitch: ${JSON.stringify(lts.stats)}`);
    lac.closeAll();
    lts.node.closeAll();
    const end = Date.now() + 3000;
    while ((lac.tunnelCount > 0 || lts.node.tunnelCount > 0) && Date.now() < end) await sleep(20);
    system.shutdown();
    for (const s of sockets) s.close();
    await Promise.all(sockets.map((s) => s.closed));
    if (values.out) {
      await Deno.writeFile(values.out, writePcap(capture));
      io.out(`\n${capture.length} datagrams of the switch written to ${values.out}:`);
      io.out(`  lts decode --pcap ${values.out} --port any --secret lac-secret`);
    }
    io.out(
      ok ? "\nEvery call went where its rule says." : "\nSome call did not go where its rule says.",
    );
    return ok ? Exit.Ok : Exit.Failure;
  },
};
