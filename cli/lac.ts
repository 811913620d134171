/**
 * `lts lac`: an L2TP Access Concentrator for tests, demos and benchmarks. It
 * opens tunnels and places NAS-initiated calls with proxy LCP and proxy
 * authentication AVPs in ICCN (RFC 2661 §4.4.5), sends LCP Echo-Requests on
 * each call, tears everything down cleanly, and prints a JSON summary.
 *
 * @module
 */

import type { SessionHandle } from "../actors/l2tp_types.ts";
import { echoRequest, LcpCode, lcpCode } from "../ppp/echo.ts";
import { type ProxyAuth, proxyFields } from "../ppp/proxy.ts";
import { PppLink, wallClockArm } from "../ppp/link.ts";
import { CdnResult } from "../transport/avp_types.ts";
import type { AvpFields } from "../transport/message.ts";
import { type Command, Exit, intOption, type Io, parse, UsageError } from "./command.ts";
import { dataPlaneOption, endpointOption, startNode, untilSignal } from "./_runtime.ts";

const usage = `lts lac --server HOST:PORT [options]

Opens tunnels to an LNS (or an LTS) and places calls like a NAS-initiated LAC
(RFC 2661): ICRQ/ICRP/ICCN with Calling/Called Number and proxy LCP and proxy
authentication AVPs. With --client-initiated it sends no proxy AVPs and runs a
real PPP client on each call instead (LCP, PAP or CHAP, IPCP, RFC 1661), as a
remote system behind a client-initiated tunnel would. Sends LCP Echo-Requests
on established calls and counts the replies, then clears every call (CDN) and
tunnel (StopCCN) and prints:
{"tunnels_up":n,"sessions_up":n,"sessions_failed":n,"setup_rate_per_s":x,
 "data_sent":n,"data_received":n,"result_codes":{"<code>":n},
 "ppp_up":n,"ppp_failed":n,"addresses":["a.b.c.d",...]}
ppp_up counts calls whose IPCP reached Opened (client-initiated only).
Exit code 0 when every call came up (and, client-initiated, every PPP link
reached IPCP Opened), 1 otherwise.

Options:
  --server HOST:PORT   the LNS or LTS to call (e.g. 127.0.0.1:1701)
  --hostname H         our Host Name AVP (default lts-lac)
  --secret S           tunnel secret (tunnel authentication, hidden AVPs)
  --hide               hide Calling/Called Number and proxy authentication AVPs (needs --secret)
  --tunnels T          tunnels to open (default 1)
  --sessions N         calls to place, spread over the tunnels (default 1)
  --rate R             calls per second (default 100)
  --user PATTERN       user name, {n} is the call number (default user{n}@isp-a.example)
  --password P         password for proxy authentication (default secret)
  --proxy-auth KIND    pap | chap | none (default pap)
  --client-initiated   no proxy AVPs: run a PPP client on each call (LCP, auth, IPCP)
  --auth KIND          client-initiated: pap | chap | any, what we agree to authenticate
                       with (default any)
  --silent             client-initiated: send no PPP until the peer's first frame (pppd's
                       silent)
  --called NUM         Called Number, {n} allowed (default 0800{n})
  --calling NUM        Calling Number, {n} allowed (default 0201{n})
  --data-pps P         LCP Echo-Requests per second, over all calls (default 10)
  --duration SEC       keep the calls up this long once placed (default 1)
  --timeout SEC        give up on calls not up after this long (default 30)
  --data-plane KIND    ffi | deno | auto: the socket layer (default auto: batched FFI when permitted)
  --json               print the summary as JSON (the default and only form)
  -h, --help           this text`;

/**
 * The Magic-Number (RFC 1661 §6.4) of call `n`'s remote system: in its proxy LCP, in the LCP
 * Echo-Requests the LAC sends for it, and its own with `--client-initiated`. Never zero.
 */
function clientMagic(n: number): number {
  return (0x10000000 + n) >>> 0 || 1;
}

/** What `lts lac` prints. */
export interface LacSummary {
  tunnels_up: number;
  sessions_up: number;
  sessions_failed: number;
  setup_rate_per_s: number;
  setup_seconds: number;
  data_sent: number;
  data_received: number;
  result_codes: Record<string, number>;
  /** Client-initiated: calls whose IPCP reached Opened. */
  ppp_up: number;
  /** Client-initiated: PPP links that failed (authentication refused, no convergence…). */
  ppp_failed: number;
  /** Client-initiated: the addresses IPCP gave the calls, in the order they came up. */
  addresses: string[];
  /** Client-initiated: why PPP links failed, with counts. */
  ppp_failures: Record<string, number>;
}

/** `lts lac`. */
export const lacCommand: Command = {
  name: "lac",
  summary:
    "run a test LAC: open tunnels, place calls with proxy AVPs, send LCP echo, print a JSON summary",
  usage,
  async run(args: string[], io: Io): Promise<number> {
    const { values } = parse(args, {
      options: {
        server: { type: "string" },
        hostname: { type: "string", default: "lts-lac" },
        secret: { type: "string" },
        hide: { type: "boolean", default: false },
        tunnels: { type: "string", default: "1" },
        sessions: { type: "string", default: "1" },
        rate: { type: "string", default: "100" },
        user: { type: "string", default: "user{n}@isp-a.example" },
        password: { type: "string", default: "secret" },
        "proxy-auth": { type: "string", default: "pap" },
        called: { type: "string", default: "0800{n}" },
        calling: { type: "string", default: "0201{n}" },
        "data-pps": { type: "string", default: "10" },
        duration: { type: "string", default: "1" },
        timeout: { type: "string", default: "30" },
        json: { type: "boolean", default: true },
        "client-initiated": { type: "boolean", default: false },
        auth: { type: "string", default: "any" },
        silent: { type: "boolean", default: false },
        "data-plane": { type: "string", default: "auto" },
      },
    });
    const clientInitiated = values["client-initiated"]!;
    const silent = values.silent!;
    if (silent && !clientInitiated) throw new UsageError("--silent needs --client-initiated");
    if (!["pap", "chap", "any"].includes(values.auth!)) {
      throw new UsageError("--auth is pap, chap or any");
    }
    const acceptAuth: ("pap" | "chap")[] = values.auth === "any"
      ? ["chap", "pap"]
      : [values.auth as "pap" | "chap"];
    if (values.server === undefined) throw new UsageError("--server HOST:PORT is required");
    const server = endpointOption("server", values.server);
    const tunnelCount = intOption("tunnels", values.tunnels!, 1, 65535);
    const sessionCount = intOption("sessions", values.sessions!, 0, 10_000_000);
    const rate = intOption("rate", values.rate!, 1, 1_000_000);
    const dataPps = intOption("data-pps", values["data-pps"]!, 0, 10_000_000);
    const duration = intOption("duration", values.duration!, 0, 86400 * 365);
    const timeout = intOption("timeout", values.timeout!, 1, 86400);
    const auth = values["proxy-auth"] as ProxyAuth;
    if (!["pap", "chap", "none"].includes(auth)) {
      throw new UsageError("--proxy-auth is pap, chap or none");
    }
    const secret = values.secret === undefined
      ? undefined
      : new TextEncoder().encode(values.secret);
    if (values.hide && !secret) throw new UsageError("--hide needs --secret");

    const up = new Set<number>();
    const sessions = new Set<SessionHandle>();
    const summary: LacSummary = {
      tunnels_up: 0,
      sessions_up: 0,
      sessions_failed: 0,
      setup_rate_per_s: 0,
      setup_seconds: 0,
      data_sent: 0,
      data_received: 0,
      result_codes: {},
      ppp_up: 0,
      ppp_failed: 0,
      addresses: [],
      ppp_failures: {},
    };
    const links = new Map<SessionHandle, PppLink>();
    const fill = (pattern: string, n: number) => pattern.replaceAll("{n}", String(n));
    const startClient = (s: SessionHandle) => {
      const n = s.context as number;
      const link = new PppLink({
        role: "client",
        name: fill(values.user!, n),
        password: values.password!,
        acceptAuth,
        magic: () => clientMagic(n),
      }, {
        send: (frame) => void s.sendFrame(frame),
        now: () => performance.now(),
        arm: wallClockArm,
        event: (e) => {
          if (e.type === "opened") {
            summary.ppp_up++;
            if (e.address) summary.addresses.push(e.address);
          } else if (e.type === "failed") {
            summary.ppp_failed++;
            summary.ppp_failures[e.reason] = (summary.ppp_failures[e.reason] ?? 0) + 1;
          }
        },
      });
      links.set(s, link);
      // --silent (pppd's `silent`): send nothing until the peer's first frame. Without it the
      // client starts at once: the call is up on our side only once our ICCN is on the wire, so
      // its first Configure-Request cannot overtake the ICCN.
      if (silent) unstarted.add(link);
      else link.start();
    };
    const unstarted = new WeakSet<PppLink>();
    let firstCallAt = 0;
    let lastUpAt = 0;
    let settled = 0;
    const listen = { hostname: server.hostname.includes(":") ? "::" : "0.0.0.0", port: 0 };
    const dataPlane = dataPlaneOption(values["data-plane"]!);
    const running = startNode(listen, {
      dataPlane,
      settings: {
        hostname: values.hostname!,
        secret,
        hideAvps: values.hide,
        helloIntervalMs: 60_000,
      },
      hooks: {
        tunnelEstablished: (t) => {
          up.add(t.tunnelId);
          summary.tunnels_up++;
        },
        tunnelClosed: (t, reason) => {
          up.delete(t.tunnelId);
          if (!reason.wasEstablished) tunnelsEnded++;
        },
        // A call its tunnel never placed (the tunnel failed, or was full) has failed too.
        callNotPlaced: () => {
          summary.sessions_failed++;
          settled++;
        },
        sessionEstablished: (s) => {
          sessions.add(s);
          if (clientInitiated) startClient(s);
          summary.sessions_up++;
          settled++;
          lastUpAt = performance.now();
        },
        sessionClosed: (s, reason) => {
          links.get(s)?.abandon();
          links.delete(s);
          const wasUp = sessions.delete(s);
          if (!wasUp) {
            summary.sessions_failed++;
            settled++;
          }
          if (reason.by === "peer") {
            const key = String(reason.result.resultCode);
            summary.result_codes[key] = (summary.result_codes[key] ?? 0) + 1;
          }
        },
        frame: (s, frame) => {
          if (lcpCode(frame) === LcpCode.EchoReply) summary.data_received++;
          const link = links.get(s);
          if (link === undefined) return;
          if (unstarted.delete(link)) link.start();
          link.receive(frame);
        },
      },
    });
    const tunnelIds: number[] = [];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    let tunnelsEnded = 0;
    for (let i = 0; i < tunnelCount; i++) {
      // At most 64 SCCRQs outstanding: a burst of thousands overflows the peer's receive buffer.
      while (i - summary.tunnels_up - tunnelsEnded >= 64) await sleep(2);
      const id = running.node.openTunnel(server);
      if (!id.ok) {
        io.err(`lts lac: ${id.error}`);
        break;
      }
      tunnelIds.push(id.value);
    }
    const callFields = (n: number): AvpFields => ({
      callingNumber: fill(values.calling!, n),
      calledNumber: fill(values.called!, n),
      bearerType: { digital: true, analog: false },
      framingType: { synchronous: true, asynchronous: false },
      txConnectSpeed: 100_000_000,
      ...(clientInitiated ? {} : proxyFields(auth, {
        name: fill(values.user!, n),
        password: values.password!,
        id: n & 0xff,
        challenge: crypto.getRandomValues(new Uint8Array(16)),
      }, { clientMagic: clientMagic(n), lacMagic: 0x4c414301 })),
    });

    const deadline = performance.now() + timeout * 1000;
    // Place calls at --rate, round-robin over the tunnels (each queues them until it is up).
    firstCallAt = performance.now();
    for (let n = 1; n <= sessionCount && tunnelIds.length > 0; n++) {
      // placeCall is refused while the tunnel's mailbox is full: that is backpressure, wait.
      const tunnel = tunnelIds[(n - 1) % tunnelIds.length];
      while (!running.node.placeCall(tunnel, callFields(n), { context: n })) {
        if (performance.now() > deadline) break;
        await sleep(5);
      }
      const due = firstCallAt + (n * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
    }
    while (settled < sessionCount && performance.now() < deadline) await sleep(10);
    // Client-initiated: the calls are only useful once PPP is through (IPCP Opened or failed).
    while (
      clientInitiated && summary.ppp_up + summary.ppp_failed < sessions.size &&
      performance.now() < deadline
    ) await sleep(10);
    summary.setup_seconds = lastUpAt > firstCallAt ? (lastUpAt - firstCallAt) / 1000 : 0;
    summary.setup_rate_per_s = summary.setup_seconds > 0
      ? Math.round(summary.sessions_up / summary.setup_seconds)
      : 0;

    // Hold the calls, sending LCP Echo-Requests round-robin at --data-pps.
    const holdUntil = performance.now() + duration * 1000;
    let echoId = 0;
    const stop = untilSignal(duration * 1000);
    let stopped = false;
    stop.then(() => (stopped = true));
    const start = performance.now();
    while (!stopped && performance.now() < holdUntil) {
      if (dataPps > 0 && sessions.size > 0) {
        const due = Math.floor(((performance.now() - start) / 1000) * dataPps);
        for (const s of sessions) {
          if (summary.data_sent >= due) break;
          // The remote system's Magic-Number (as in the proxy LCP): the LAC speaks for it.
          const magic = clientMagic(s.context as number);
          if (s.sendFrame(echoRequest(echoId++ & 0xff, magic))) summary.data_sent++;
        }
      }
      await sleep(Math.max(1, Math.min(50, dataPps > 0 ? 1000 / dataPps : 50)));
    }
    await stop.catch(() => {});
    for (const s of sessions) s.disconnect({ resultCode: CdnResult.Administrative });
    await sleep(50);
    await running.stop();
    io.out(JSON.stringify(summary));
    const allUp = summary.sessions_up === sessionCount &&
      (!clientInitiated || summary.ppp_up === sessionCount);
    return allUp ? Exit.Ok : Exit.Failure;
  },
};
