/**
 * `lts lns`: an L2TP Network Server for tests and demos. It accepts tunnels
 * and calls, answers LCP Echo-Requests, reflects other frames, and prints one
 * JSON summary when it stops.
 *
 * @module
 */

import type { SessionHandle } from "../actors/l2tp_types.ts";
import { echoReply } from "../ppp/echo.ts";
import { endpointKey } from "../transport/datagram.ts";
import { type Command, Exit, intOption, type Io, parse, UsageError } from "./command.ts";
import { endpointOption, startNode, untilSignal } from "./_runtime.ts";

const usage =
  `lts lns --listen HOST:PORT [--secret S] [--hide] [--hostname H] [--duration SEC] [--hello SEC]

Accepts L2TP tunnels and incoming calls like an LNS (RFC 2661), answers LCP
Echo-Request with Echo-Reply and reflects other data frames. When it stops
(SIGINT, SIGTERM or --duration) it closes its tunnels with StopCCN and prints
one JSON object: {"tunnels":[...],"sessions":[...],"data_received":n,"data_sent":n}.
Each session lists its Proxy Authen Name, Called and Calling Number, and the
Host Name of the tunnel it came on.

Options:
  --listen HOST:PORT  where to listen (e.g. 127.0.0.1:1701)
  --secret S          tunnel secret: authenticate tunnels (RFC 2661 §5.1.1), reveal hidden AVPs
  --hide              hide sensitive AVPs we send (needs --secret)
  --hostname H        our Host Name AVP (default lts-lns)
  --hello SEC         HELLO after this many idle seconds (default 60; 0 = off)
  --duration SEC      stop after this many seconds
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
}

/** What `lts lns` prints when it stops. */
export interface LnsSummary {
  tunnels: { tunnelId: number; peer: string; hostName: string | null }[];
  sessions: SessionRecord[];
  data_received: number;
  data_sent: number;
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
      },
    });
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
    const running = startNode(listen, {
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
        },
        sessionClosed: (s, reason) => {
          const record = sessions.get(s);
          if (record) record.closed = { resultCode: reason.result.resultCode, by: reason.by };
        },
        frame: (s, frame) => {
          dataReceived++;
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
    };
    io.out(JSON.stringify(summary));
    return Exit.Ok;
  },
};
