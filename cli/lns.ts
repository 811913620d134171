/**
 * `lts lns`: an L2TP Network Server for tests and demos. It accepts tunnels
 * and calls, answers LCP Echo-Requests, reflects other frames, and prints one
 * JSON summary when it stops.
 *
 * @module
 */

import type { SessionHandle } from "../actors/l2tp_types.ts";
import { echoReply, LcpCode, lcpCode } from "../ppp/echo.ts";
import { IpPool, parseIpv4 } from "../ppp/ip_pool.ts";
import { PppLink, wallClockArm } from "../ppp/link.ts";
import { proxiedStart } from "../ppp/proxy.ts";
import { loadUsersFile, LocalUsers } from "../ppp/users.ts";
import { endpointKey } from "../transport/datagram.ts";
import { type Command, Exit, intOption, type Io, parse, UsageError } from "./command.ts";
import { dataPlaneOption, endpointOption, startNode, untilSignal } from "./_runtime.ts";

const usage =
  `lts lns --listen HOST:PORT [--secret S] [--hide] [--hostname H] [--duration SEC] [--hello SEC]
        [--ppp [--users FILE | --accept-all] [--auth chap,pap] [--pool RANGE] [--local-address IP]]

Accepts L2TP tunnels and incoming calls like an LNS (RFC 2661). Without
--ppp it answers LCP Echo-Request with Echo-Reply and reflects other data
frames. With --ppp it terminates PPP like a real LNS: a call whose ICCN
carries proxy LCP and proxy authentication that check out against the users
starts straight at IPCP (RFC 2661 §4.4.5); any other call negotiates LCP and
authenticates the user itself (PAP or CHAP-MD5), then IPCP gives an address
from the pool, and LCP Echo keeps the link alive. When it stops (SIGINT,
SIGTERM or --duration) it closes its tunnels with StopCCN and prints one JSON
object: {"tunnels":[...],"sessions":[...],"data_received":n,"data_sent":n,
"echo_requests":n,"ppp_up":n}; echo_requests counts the LCP Echo-Requests
among the frames received, i.e. those that reached this far end. Each session
lists its Proxy Authen Name, Called and Calling Number, the Host Name of the
tunnel it came on, and with --ppp its PPP user, address and whether the proxy
authentication was accepted.

Tunnel authentication is strictly RFC 2661 §5.1.1. l2tpns forwarding calls
here (setforward MASK IP PORT S) answers our challenge with its global
l2tp_secret, not with S: give it l2tp_secret S as well, or its SCCCN gets
StopCCN result 4 (README, Interoperability).

Options:
  --listen HOST:PORT  where to listen (e.g. 127.0.0.1:1701)
  --secret S          tunnel secret: authenticate tunnels (RFC 2661 §5.1.1), reveal hidden AVPs
  --hide              hide sensitive AVPs we send (needs --secret)
  --hostname H        our Host Name AVP (default lts-lns)
  --hello SEC         HELLO after this many idle seconds (default 60; 0 = off)
  --duration SEC      stop after this many seconds
  --ppp               terminate PPP (LCP, PAP/CHAP, IPCP) instead of reflecting frames
  --users FILE        users file (YAML: users: [{ name, password }], accept_all)
  --accept-all        any user, any password (when no --users)
  --auth LIST         what to ask of clients, most wanted first (default chap,pap)
  --pool RANGE        client addresses, a.b.c.d-e.f.g.h or CIDR (default 10.64.0.2-10.64.255.254)
  --local-address IP  our IPCP address (default 10.64.0.1)
  --data-plane KIND   ffi | deno | auto: the socket layer (default auto: batched FFI when permitted)
  --ignore-proxy      renegotiate LCP and authenticate every client even when the ICCN
                      carries proxy LCP and authentication (as l2tpns does)
  -h, --help          this text`;

/** One session as the summary reports it. */
export interface SessionRecord {
  tunnelId: number;
  sessionId: number;
  hostName: string | null;
  proxyAuthenName: string | null;
  calledNumber: string | null;
  callingNumber: string | null;
  closed: { resultCode: number; by: string } | null;
  /** With --ppp: how PPP went on this call. */
  ppp?: {
    user: string | null;
    address: string | null;
    /** The proxy LCP and authentication of the ICCN were accepted (no renegotiation). */
    proxied: boolean;
    failure: string | null;
  };
}

/** What `lts lns` prints when it stops. */
export interface LnsSummary {
  tunnels: { tunnelId: number; peer: string; hostName: string | null }[];
  sessions: SessionRecord[];
  data_received: number;
  data_sent: number;
  /** LCP Echo-Requests among the frames received: what a switch in front of us carried this far. */
  echo_requests: number;
  /** With --ppp: calls whose IPCP reached Opened. */
  ppp_up: number;
}

/** `lts lns`. */
export const lnsCommand: Command = {
  name: "lns",
  summary: "run a test LNS: accept tunnels and calls, answer LCP echo, print a JSON summary",
  usage,
  async run(args: string[], io: Io): Promise<number> {
    const { values } = parse(args, {
      options: {
        listen: { type: "string" },
        secret: { type: "string" },
        hide: { type: "boolean", default: false },
        hostname: { type: "string", default: "lts-lns" },
        duration: { type: "string" },
        hello: { type: "string", default: "60" },
        ppp: { type: "boolean", default: false },
        users: { type: "string" },
        "accept-all": { type: "boolean", default: false },
        auth: { type: "string", default: "chap,pap" },
        pool: { type: "string", default: "10.64.0.2-10.64.255.254" },
        "local-address": { type: "string", default: "10.64.0.1" },
        "ignore-proxy": { type: "boolean", default: false },
        "data-plane": { type: "string", default: "auto" },
      },
    });
    const ppp = values.ppp ? await pppSettings(values, io) : undefined;
    if (values.listen === undefined) throw new UsageError("--listen HOST:PORT is required");
    const listen = endpointOption("listen", values.listen);
    const duration = values.duration === undefined
      ? undefined
      : intOption("duration", values.duration, 0, 86400 * 365);
    const hello = intOption("hello", values.hello!, 0, 86400);
    const secret = values.secret === undefined
      ? undefined
      : new TextEncoder().encode(values.secret);
    const tunnels = new Map<number, { tunnelId: number; peer: string; hostName: string | null }>();
    const sessions = new Map<SessionHandle, SessionRecord>();
    let dataReceived = 0;
    let dataSent = 0;
    let echoRequests = 0;
    let pppUp = 0;
    const links = new Map<SessionHandle, PppLink>();
    const startPpp = (s: SessionHandle, record: SessionRecord, p: PppSettings) => {
      const proxied = values["ignore-proxy"] ? undefined : proxiedStart(s.call, p.users);
      const info = {
        user: null as string | null,
        address: null as string | null,
        proxied: false,
        failure: null as string | null,
      };
      record.ppp = info;
      const link = new PppLink({
        role: "server",
        auth: p.auth,
        users: p.users,
        localAddress: p.localAddress,
        pool: p.pool,
        echo: { intervalMs: 10_000, maxMissed: 3 },
        ...(proxied ? { proxied } : {}),
      }, {
        send: (frame) => {
          if (s.sendFrame(frame)) dataSent++;
        },
        now: () => performance.now(),
        arm: wallClockArm,
        event: (e) => {
          if (e.type === "authenticated") {
            info.user = e.user;
            // Authenticated during start: the engine took the proxy LCP and authentication.
            info.proxied = starting;
          } else if (e.type === "opened") {
            info.address = e.address ?? null;
            pppUp++;
          } else if (e.type === "failed") {
            info.failure = e.reason;
          } else if (e.type === "closed" && !link.abandoned) {
            s.disconnect({
              resultCode: 2,
              errorCode: 0,
              errorMessage: info.failure ?? "PPP link terminated",
            });
          }
        },
      });
      links.set(s, link);
      let starting = true;
      link.start();
      starting = false;
    };
    const dataPlane = dataPlaneOption(values["data-plane"]!);
    const running = startNode(listen, {
      dataPlane,
      settings: {
        hostname: values.hostname!,
        secret,
        hideAvps: values.hide,
        helloIntervalMs: hello * 1000,
      },
      hooks: {
        tunnelEstablished: (t) =>
          void tunnels.set(t.tunnelId, {
            tunnelId: t.tunnelId,
            peer: endpointKey(t.peer),
            hostName: t.peerHostName,
          }),
        sessionEstablished: (s) => {
          sessions.set(s, {
            tunnelId: s.tunnel.tunnelId,
            sessionId: s.sessionId,
            hostName: s.tunnel.peerHostName,
            proxyAuthenName: s.call.proxyAuthenName ?? null,
            calledNumber: s.call.calledNumber ?? null,
            callingNumber: s.call.callingNumber ?? null,
            closed: null,
          });
          if (ppp) startPpp(s, sessions.get(s)!, ppp);
        },
        sessionClosed: (s, reason) => {
          links.get(s)?.abandon();
          links.delete(s);
          const record = sessions.get(s);
          if (record) record.closed = { resultCode: reason.result.resultCode, by: reason.by };
        },
        frame: (s, frame) => {
          dataReceived++;
          if (lcpCode(frame) === LcpCode.EchoRequest) echoRequests++;
          const link = links.get(s);
          if (link) return link.receive(frame);
          const reply = echoReply(frame, 0x4c545301) ?? frame;
          if (s.sendFrame(reply)) dataSent++;
        },
      },
    });
    io.err(`lts lns: listening on ${endpointKey(running.socket.local)}`);
    await untilSignal(duration === undefined ? undefined : duration * 1000);
    await running.stop();
    const summary: LnsSummary = {
      tunnels: [...tunnels.values()],
      sessions: [...sessions.values()],
      data_received: dataReceived,
      data_sent: dataSent,
      echo_requests: echoRequests,
      ppp_up: pppUp,
    };
    io.out(JSON.stringify(summary));
    return Exit.Ok;
  },
};

/** What `--ppp` runs with. */
interface PppSettings {
  users: LocalUsers;
  auth: ("pap" | "chap")[];
  pool: IpPool;
  localAddress: string;
}

async function pppSettings(
  values: {
    users?: string;
    "accept-all"?: boolean;
    auth?: string;
    pool?: string;
    "local-address"?: string;
  },
  io: Io,
): Promise<PppSettings> {
  let users: LocalUsers;
  if (values.users !== undefined) {
    const loaded = await loadUsersFile(values.users);
    if (!loaded.ok) {
      for (const e of loaded.error) io.err(e.toString());
      throw new UsageError(`--users ${values.users}: invalid users file`);
    }
    users = loaded.value;
  } else if (values["accept-all"]) {
    users = new LocalUsers([], { acceptAll: true });
  } else {
    throw new UsageError("--ppp needs --users FILE or --accept-all");
  }
  const auth = values.auth!.split(",").map((a) => a.trim());
  if (auth.length === 0 || auth.some((a) => a !== "pap" && a !== "chap")) {
    throw new UsageError("--auth is a list of pap and chap, e.g. chap,pap");
  }
  const pool = IpPool.parse(values.pool!);
  if (!pool.ok) throw new UsageError(`--pool: ${pool.error}`);
  const localAddress = values["local-address"]!;
  if (parseIpv4(localAddress) === undefined) {
    throw new UsageError(`--local-address "${localAddress}" is not an IPv4 address`);
  }
  if (pool.value.includes(localAddress)) {
    throw new UsageError(`--local-address ${localAddress} is inside --pool`);
  }
  return { users, auth: auth as ("pap" | "chap")[], pool: pool.value, localAddress };
}
