/**
 * `lts demo`: a whole site in one process on loopback UDP — two LACs, this
 * switch with an embedded policy, and three LNSes of two ISPs — in four
 * acts: calls switched by realm (and rejected), the primary LNS of one ISP
 * failing (calls move to its backup with no failure seen by the LAC), a
 * policy reload (new calls follow the new rules, switched calls stay), and
 * client-initiated calls with no proxy AVPs (lts runs PPP with the remote
 * system: switched by realm after authentication, or terminated here up to
 * IPCP Opened). LCP echo crosses every call. Exit 0 when every expectation
 * held.
 *
 * @module
 */

import { SystemClock } from "../actors/clock.ts";
import { L2tpNode } from "../actors/l2tp_node.ts";
import type { CloseReason, SessionHandle } from "../actors/l2tp_types.ts";
import { LtsRuntime, startLts } from "../actors/lts.ts";
import { MicrotaskScheduler } from "../actors/scheduler.ts";
import { ActorSystem } from "../actors/system.ts";
import { loadPolicy } from "../policies/mod.ts";
import { echoReply, echoRequest, LcpCode, lcpCode } from "../ppp/echo.ts";
import { proxyFields } from "../ppp/proxy.ts";
import { PppLink, wallClockArm } from "../ppp/link.ts";
import { type DatagramSocket, endpointKey } from "../transport/datagram.ts";
import { writePcap } from "../transport/pcap.ts";
import { DenoUdpNetwork, type UdpSocket } from "../transport/udp.ts";
import { type Command, Exit, intOption, type Io, parse } from "./command.ts";

const usage = `lts demo [--sessions N] [--duration SEC] [--out FILE]

A whole site in one process on loopback UDP: two LACs, lts with an embedded
policy, and three LNSes of two ISPs (isp-a: primary and backup, isp-b: one).
Four acts: calls switched by realm or rejected; isp-a's primary LNS stops
taking calls and new ones move to the backup without the LAC seeing a
failure; the policy is reloaded and new calls follow it while switched calls
stay; client-initiated calls with no proxy AVPs, where lts speaks PPP with
the remote system itself, then switches the call by realm or terminates it
here (corp.example) up to IPCP Opened. LCP Echo-Requests cross every call.
Exit code 0 when every expectation held.

Options:
  --sessions N    place N more calls over both ISPs after the three acts (default 0)
  --duration SEC  then run traffic for SEC seconds with a live table: sessions per
                  upstream, setups/s, frames/s switched, rejects (default 0)
  --out FILE      write every datagram the switch sent and received as a pcap
                  (then: lts decode --pcap FILE --port any --secret lac-secret)
  -h, --help      this text`;

function policyText(
  ports: { lts: number; a1: number; a2: number; b1: number },
  partner: boolean,
): string {
  return `hostname: lts-demo
listen: ["127.0.0.1:${ports.lts}"]
lacs:
  - { match: { hostname: "lac-*" }, secret: "lac-secret", hide_avps: true }
upstreams:
  isp-a:
    strategy: priority
    members:
      - { address: "127.0.0.1:${ports.a1}", secret: "isp-a-secret", priority: 1 }
      - { address: "127.0.0.1:${ports.a2}", secret: "isp-a-secret", priority: 2 }
  isp-b:
    members:
      - { address: "127.0.0.1:${ports.b1}" }
terminate:
  corp:
    users:
      - { name: "henry@corp.example", password: "pw" }
      - { name: "mallory@corp.example", password: "the-real-one" }
    pool: 10.99.0.10-10.99.0.250
    local_address: 10.99.0.1
    dns: [10.99.0.53]
rules:
  - { name: corp, match: { domain: "corp.example" }, terminate: corp }
  - { name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }
  - { name: isp-b, match: { domain: "isp-b.example" }, forward: isp-b }
${partner ? '  - { name: partner, match: { domain: "partner.example" }, forward: isp-b }\n' : ""}\
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
  const t0 = Date.now() * 1000 - Math.round(performance.now() * 1000);
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

/** What a call should come to. */
interface Expect {
  user: string;
  /** The LNS it should land on, or the CDN Result Code it should get. */
  landOn?: string;
  reject?: number;
}

/** `lts demo`. */
export const demoCommand: Command = {
  name: "demo",
  summary: "a LAC, lts and three LNSes on loopback: routing, failover, reload; every call's fate",
  usage,
  async run(args: string[], io: Io): Promise<number> {
    const parsed = parse(args, {
      options: {
        out: { type: "string" },
        sessions: { type: "string", default: "0" },
        duration: { type: "string", default: "0" },
      },
    });
    const values = {
      out: parsed.values.out,
      sessions: intOption("sessions", parsed.values.sessions!, 0, 2000),
      duration: intOption("duration", parsed.values.duration!, 0, 3600),
    };
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
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    // The LNSes answer LCP echo and remember who called; one of them can be told to refuse calls.
    const landed = new Map<string, string>();
    const refusing = new Set<string>();
    const lns = (name: string, key?: string) => {
      const socket = bind();
      new L2tpNode({
        system,
        socket,
        settings: { hostname: name, secret: key ? secret(key) : undefined },
        hooks: {
          incomingCall: (s) =>
            refusing.has(name)
              ? s.reject({ resultCode: 4, errorCode: 0, errorMessage: "out of capacity" })
              : s.accept(),
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
    let text = policyText(ports, false);
    const policy = loadPolicy(text, "embedded.yaml");
    if (!policy.ok) {
      for (const e of policy.error) io.err(e.toString());
      return Exit.Failure;
    }
    const capture: { src: string; dst: string; payload: Uint8Array; timeUs: number }[] = [];
    const lts = startLts({ system, socket: recording(ltsSocket, capture), policy: policy.value });
    const runtime = new LtsRuntime(lts, {
      system,
      source: "embedded.yaml",
      load: () => Promise.resolve(loadPolicy(text, "embedded.yaml")),
    });

    io.out(
      "lts demo — one process, loopback UDP: LAC → lts → LNSes of isp-a (primary, backup) and isp-b\n",
    );
    io.out("Embedded policy (lts check, explain and run take such a file):\n");
    io.out(text.split("\n").map((l) => `  ${l}`).join("\n"));

    // The LAC: one tunnel to the switch, one call per user, with proxy authentication (CHAP).
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
          if (lcpCode(frame) !== LcpCode.EchoReply) return;
          const user = s.call.proxyAuthenName!;
          echoes.set(user, (echoes.get(user) ?? 0) + 1);
        },
      },
    });
    const tunnel = lac.openTunnel(ltsSocket.local);
    if (!tunnel.ok) throw new Error(tunnel.error);

    let ok = true;
    let n = 0;
    const act = async (title: string, calls: Expect[]) => {
      io.out(`\n${title}`);
      for (const c of calls) {
        n++;
        lac.placeCall(tunnel.value, {
          callingNumber: `020100${n}`,
          calledNumber: "0800123456",
          ...proxyFields("chap", {
            name: c.user,
            password: "pw",
            id: n,
            challenge: crypto.getRandomValues(new Uint8Array(16)),
          }, { clientMagic: 0x1000 + n, lacMagic: 0x4c414301 }),
        });
      }
      // Settled: every call switched (and the LNS has it) or cleared by a CDN.
      const settled = () =>
        calls.every((c) => closed.has(c.user) || (up.has(c.user) && landed.has(c.user)));
      const until = Date.now() + 10_000;
      while (!settled() && Date.now() < until) await sleep(10);
      for (let round = 0; round < 3; round++) {
        for (const c of calls) {
          if (!closed.has(c.user)) up.get(c.user)?.sendFrame(echoRequest(round, 0x4c414301));
        }
        await sleep(30);
      }
      for (const c of calls) {
        const user = c.user.padEnd(26);
        if (up.has(c.user) && !closed.has(c.user)) {
          const echoed = echoes.get(c.user) ?? 0;
          const where = landed.get(c.user) ?? "?";
          const good = c.landOn === where && echoed === 3;
          ok &&= good;
          io.out(
            `  ${good ? "✓" : "✗"} ${user} switched to ${
              where.padEnd(12)
            } LCP echo ${echoed}/3 back`,
          );
        } else {
          const r = closed.get(c.user)?.result;
          const good = c.reject === r?.resultCode;
          ok &&= good;
          io.out(
            `  ${good ? "✓" : "✗"} ${user} CDN result ${r?.resultCode}: ${r?.errorMessage ?? ""}`,
          );
        }
      }
    };

    await act("Act 1 — calls switched by realm:", [
      { user: "alice@isp-a.example", landOn: "lns-isp-a-1" },
      { user: "bob@isp-b.example", landOn: "lns-isp-b-1" },
      { user: "eve@spam.blocked.example", reject: 2 },
      { user: "dave@partner.example", reject: 2 },
    ]);
    refusing.add("lns-isp-a-1");
    await act(
      "Act 2 — isp-a's primary LNS refuses new calls (CDN 4): the switch moves on to the backup:",
      [
        { user: "carol@isp-a.example", landOn: "lns-isp-a-2" },
        { user: "frank@isp-a.example", landOn: "lns-isp-a-2" },
      ],
    );
    text = policyText(ports, true);
    const reload = await runtime.reload();
    io.out(
      `\nAct 3 — policy reloaded (a rule routes partner.example to isp-b): ${
        JSON.stringify(reload)
      }`,
    );
    ok &&= reload.ok;
    await act("  new calls follow version 2:", [{
      user: "dave2@partner.example",
      landOn: "lns-isp-b-1",
    }]);

    // Act 4: a client-initiated LAC — no proxy AVPs; the remote systems speak PPP with lts.
    io.out(
      "\nAct 4 — client-initiated calls, no proxy AVPs: lts runs LCP and CHAP with each remote system,",
    );
    io.out(
      "  then switches it by realm (with proxy LCP and authentication) or terminates it here:",
    );
    const ppp = new Map<string, { address?: string; failure?: string; echoes: number }>();
    const clientUp = new Map<string, SessionHandle>();
    const clientClosed = new Map<string, CloseReason>();
    const links = new Map<SessionHandle, PppLink>();
    const client = new L2tpNode({
      system,
      socket: bind(),
      settings: { hostname: "lac-south-1", secret: secret("lac-secret") },
      hooks: {
        sessionEstablished: (s) => {
          const { user, password, n } = s.context as { user: string; password: string; n: number };
          clientUp.set(user, s);
          const state: { address?: string; failure?: string; echoes: number } = { echoes: 0 };
          ppp.set(user, state);
          const link = new PppLink({
            role: "client",
            name: user,
            password,
            magic: () => 0x2000 + n,
          }, {
            send: (frame) => void s.sendFrame(frame),
            now: () => performance.now(),
            arm: wallClockArm,
            event: (e) => {
              if (e.type === "opened") state.address = e.address;
              if (e.type === "failed") state.failure = e.reason;
            },
          });
          links.set(s, link);
          link.start();
        },
        sessionClosed: (s, reason) => {
          links.get(s)?.abandon();
          clientClosed.set((s.context as { user: string }).user, reason);
        },
        frame: (s, frame) => {
          const user = (s.context as { user: string }).user;
          if (lcpCode(frame) === LcpCode.EchoReply) ppp.get(user)!.echoes++;
          links.get(s)?.receive(frame);
        },
      },
    });
    const clientTunnel = client.openTunnel(ltsSocket.local);
    if (!clientTunnel.ok) throw new Error(clientTunnel.error);
    const clientCalls = [
      { user: "grace@isp-b.example", password: "pw", landOn: "lns-isp-b-1" },
      { user: "henry@corp.example", password: "pw", terminated: true },
      { user: "mallory@corp.example", password: "guess", reject: 2 },
    ];
    for (const c of clientCalls) {
      n++;
      client.placeCall(clientTunnel.value, {
        callingNumber: `020200${n}`,
        calledNumber: "0800123456",
      }, {
        context: { user: c.user, password: c.password, n },
      });
    }
    const pppSettled = () =>
      clientCalls.every((c) =>
        clientClosed.has(c.user) || (c.landOn ? landed.has(c.user) : ppp.get(c.user)?.address)
      );
    const pppUntil = Date.now() + 15_000;
    while (!pppSettled() && Date.now() < pppUntil) await sleep(10);
    for (let round = 0; round < 3; round++) {
      for (const c of clientCalls) {
        if (!clientClosed.has(c.user)) {
          clientUp.get(c.user)?.sendFrame(echoRequest(round, 0x2000 + clientCalls.indexOf(c)));
        }
      }
      await sleep(30);
    }
    for (const c of clientCalls) {
      const user = c.user.padEnd(26);
      const state = ppp.get(c.user);
      const closedWith = clientClosed.get(c.user)?.result;
      let good: boolean;
      let line: string;
      if (c.landOn) {
        const where = landed.get(c.user);
        good = where === c.landOn && closedWith === undefined && (state?.echoes ?? 0) === 3;
        line = `PPP with lts, switched to ${where ?? "?"}, LCP echo ${state?.echoes ?? 0}/3 back`;
      } else if (c.terminated) {
        good = state?.address !== undefined && closedWith === undefined &&
          (state?.echoes ?? 0) === 3;
        line = `terminated here: IPCP Opened, address ${state?.address ?? "none"}, LCP echo ${
          state?.echoes ?? 0
        }/3 back`;
      } else {
        good = closedWith?.resultCode === c.reject;
        line = `${state?.failure ?? "no PPP failure"}; CDN result ${closedWith?.resultCode}: ${
          closedWith?.errorMessage ?? ""
        }`;
      }
      ok &&= good;
      io.out(`  ${good ? "✓" : "✗"} ${user} ${line}`);
    }

    // Load: --sessions more calls over both ISPs, then --duration seconds of traffic with a live table.
    const extra: Expect[] = [];
    for (let i = 1; i <= values.sessions; i++) {
      extra.push(
        i % 2
          ? { user: `user${i}@isp-a.example`, landOn: "lns-isp-a-2" }
          : { user: `user${i}@isp-b.example`, landOn: "lns-isp-b-1" },
      );
    }
    if (extra.length > 0) await act(`Load — ${extra.length} more calls:`, extra);
    if (values.duration > 0) {
      io.out(
        `\nTraffic for ${values.duration} s (LCP echo on every switched call, 20 per second each):`,
      );
      io.out("   t  sessions by upstream                     setups/s  frames/s  rejects");
      let lastFrames = 0;
      let lastCalls = (await runtime.status()).calls.total;
      for (let t = 1; t <= values.duration; t++) {
        for (let tick = 0; tick < 20; tick++) {
          for (const [user, session] of up) {
            if (!closed.has(user)) session.sendFrame(echoRequest(tick, 0x4c414301));
          }
          await sleep(50);
        }
        const m = await runtime.metrics();
        const st = await runtime.status();
        const byMember = new Map<string, number>();
        for (const sv of await runtime.sessions({ state: "switched" })) {
          byMember.set(`${sv.upstream}`, (byMember.get(`${sv.upstream}`) ?? 0) + 1);
        }
        const members = [...byMember].map(([k, v]) => `${k}:${v}`).join(" ").padEnd(40);
        const rejects = Object.values(m.rejectsByResultCode).reduce((a, b) => a + b, 0);
        io.out(
          `  ${String(t).padStart(2)}  ${members} ${
            String(st.calls.total - lastCalls).padStart(8)
          } ` +
            `${String(m.dataForwardedFrames - lastFrames).padStart(9)} ${
              String(rejects).padStart(8)
            }`,
        );
        lastFrames = m.dataForwardedFrames;
        lastCalls = st.calls.total;
      }
    }

    const sessions = await runtime.sessions();
    io.out("\nCalls now (as GET /sessions shows them):");
    for (const s of sessions) {
      const where = s.terminate
        ? `terminated on ${s.terminate.target}, address ${s.terminate.address}`
        : `${s.upstream} ${s.member}`;
      io.out(
        `  ${String(s.user).padEnd(26)} rule ${
          String(s.rule).padEnd(8)
        } → ${where}, policy v${s.policyVersion}, ` +
          `${s.incoming.rxFrames} frames in, ${s.incoming.txFrames} out`,
      );
    }
    ok &&= sessions.find((s) => s.user === "alice@isp-a.example")?.policyVersion === 1;
    const status = await runtime.status();
    io.out(`\nSwitch: ${JSON.stringify(status.calls)}, policy version ${status.policyVersion}`);

    await runtime.stop(3000);
    lac.closeAll();
    client.closeAll();
    for (const link of links.values()) link.abandon();
    const end = Date.now() + 3000;
    while (lac.tunnelCount + client.tunnelCount > 0 && Date.now() < end) await sleep(20);
    system.shutdown();
    for (const s of sockets) s.close();
    await Promise.all(sockets.map((s) => s.closed));
    if (values.out) {
      await Deno.writeFile(values.out, writePcap(capture));
      io.out(`\n${capture.length} datagrams of the switch written to ${values.out}:`);
      io.out(`  lts decode --pcap ${values.out} --port any --secret lac-secret`);
    }
    io.out(ok ? "\nEvery expectation held." : "\nSome expectation did not hold.");
    return ok ? Exit.Ok : Exit.Failure;
  },
};
