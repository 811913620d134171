/**
 * `lts demo`: until the switch itself runs (the switching issue), the demo
 * walks one complete L2TP call through the codec — tunnel setup with
 * tunnel authentication and hidden AVPs, an incoming call with proxy
 * authentication, PPP data, teardown — writes it as a pcap, and decodes that
 * capture back exactly as `lts decode --pcap` does.
 *
 * @module
 */

import { challengeResponse, verifyChallengeResponse } from "../transport/auth.ts";
import type { Avp } from "../transport/avp.ts";
import { describePacket } from "../transport/describe.ts";
import { dataHeaderLength, writeDataHeader } from "../transport/header.ts";
import { type AvpFields, buildAvps, encodeControl } from "../transport/message.ts";
import type { MessageTypeName } from "../transport/avp_types.ts";
import { readCapture, writePcap } from "../transport/pcap.ts";
import { type Command, Exit, type Io, parse } from "./command.ts";

const usage = `lts demo [--out FILE]

Walks one L2TP call (RFC 2661) between a LAC and an LNS through lts's codec:
SCCRQ/SCCRP/SCCCN with tunnel authentication, ICRQ/ICRP/ICCN with hidden
proxy-authentication AVPs, PPP LCP Echo data frames, CDN and StopCCN, each
acknowledged. It writes the exchange as a pcap and decodes it back.

Options:
  --out FILE   where to write the capture (default: a temporary file, removed afterwards)
  -h, --help   this text`;

const LAC = "127.0.0.1:40001";
const LNS = "127.0.0.1:1701";
const SECRET = "demo-secret";

interface Step {
  from: string;
  to: string;
  payload: Uint8Array;
}

/** Builds the scripted call, checking both tunnel-authentication responses on the way. */
export function demoCall(): Step[] {
  const secret = new TextEncoder().encode(SECRET);
  const steps: Step[] = [];
  // Each side's Ns and the Nr it sends (RFC 2661 §5.8).
  const seq: Record<string, { ns: number; nr: number }> = {
    [LAC]: { ns: 0, nr: 0 },
    [LNS]: { ns: 0, nr: 0 },
  };
  const lacTunnel = 11, lnsTunnel = 22, lacSession = 101, lnsSession = 202;
  const control = (
    from: string,
    type: MessageTypeName,
    fields: AvpFields,
    hide: (keyof AvpFields)[] = [],
  ) => {
    const to = from === LAC ? LNS : LAC;
    const s = seq[from];
    const tunnelId = type === "SCCRQ" ? 0 : from === LAC ? lnsTunnel : lacTunnel;
    const sessionId = ["ICRP", "ICCN", "CDN"].includes(type)
      ? (from === LAC ? lnsSession : lacSession)
      : 0;
    const avps: Avp[] = buildAvps(type, fields, { hide });
    steps.push({
      from,
      to,
      payload: encodeControl({ tunnelId, sessionId, ns: s.ns, nr: s.nr }, avps, { secret }),
    });
    s.ns = (s.ns + 1) & 0xffff;
    seq[to].nr = s.ns;
  };
  const zlb = (from: string) => {
    const to = from === LAC ? LNS : LAC;
    const tunnelId = from === LAC ? lnsTunnel : lacTunnel;
    steps.push({ from, to, payload: encodeControl({ tunnelId, sessionId: 0, ...seq[from] }, []) });
  };
  const data = (from: string, ppp: number[]) => {
    const to = from === LAC ? LNS : LAC;
    const h = {
      tunnelId: from === LAC ? lnsTunnel : lacTunnel,
      sessionId: from === LAC ? lnsSession : lacSession,
    };
    const frame = new Uint8Array([0xff, 0x03, ...ppp]);
    const payload = new Uint8Array(dataHeaderLength(h) + frame.length);
    payload.set(frame, writeDataHeader(payload, h, frame.length));
    steps.push({ from, to, payload });
  };

  const lacChallenge = crypto.getRandomValues(new Uint8Array(16));
  const lnsChallenge = crypto.getRandomValues(new Uint8Array(16));
  const common = {
    protocolVersion: { version: 1, revision: 0 },
    framingCapabilities: { synchronous: true, asynchronous: true },
  };
  control(LAC, "SCCRQ", {
    ...common,
    hostName: "lac-north-1",
    assignedTunnelId: lacTunnel,
    receiveWindowSize: 8,
    challenge: lacChallenge,
  });
  const sccrpResponse = challengeResponse("SCCRP", secret, lacChallenge);
  control(LNS, "SCCRP", {
    ...common,
    hostName: "lns-isp-a",
    assignedTunnelId: lnsTunnel,
    challenge: lnsChallenge,
    challengeResponse: sccrpResponse,
  }, ["assignedTunnelId"]);
  const scccnResponse = challengeResponse("SCCCN", secret, lnsChallenge);
  if (
    !verifyChallengeResponse("SCCRP", secret, lacChallenge, sccrpResponse) ||
    !verifyChallengeResponse("SCCCN", secret, lnsChallenge, scccnResponse)
  ) throw new Error("tunnel authentication does not verify");
  control(LAC, "SCCCN", { challengeResponse: scccnResponse });
  zlb(LNS);
  control(LAC, "ICRQ", {
    assignedSessionId: lacSession,
    callSerialNumber: 1,
    bearerType: { digital: true, analog: false },
    callingNumber: "0201234567",
    calledNumber: "0800123456",
  }, ["callingNumber", "calledNumber"]);
  control(LNS, "ICRP", { assignedSessionId: lnsSession });
  control(LAC, "ICCN", {
    txConnectSpeed: 100_000_000,
    framingType: { synchronous: true, asynchronous: false },
    proxyAuthenType: 3,
    proxyAuthenName: "alice@isp-a.example",
    proxyAuthenId: 1,
    proxyAuthenResponse: new TextEncoder().encode("wonderland"),
  }, ["proxyAuthenName", "proxyAuthenResponse"]);
  zlb(LNS);
  data(LAC, [0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x12, 0x34, 0x56, 0x78]); // LCP Echo-Request
  data(LNS, [0xc0, 0x21, 0x0a, 0x01, 0x00, 0x08, 0x9a, 0xbc, 0xde, 0xf0]); // LCP Echo-Reply
  control(LAC, "CDN", { resultCode: { resultCode: 3 }, assignedSessionId: lacSession });
  zlb(LNS);
  control(LNS, "StopCCN", {
    assignedTunnelId: lnsTunnel,
    resultCode: { resultCode: 1, errorCode: 0, errorMessage: "demo over" },
  });
  zlb(LAC);
  return steps;
}

/** `lts demo`. */
export const demoCommand: Command = {
  name: "demo",
  summary: "walk one L2TP call through the codec, write it as a pcap and decode it",
  usage,
  async run(args: string[], io: Io): Promise<number> {
    const { values } = parse(args, { options: { out: { type: "string" } } });
    const steps = demoCall();
    const pcap = writePcap(
      steps.map((s, i) => ({ src: s.from, dst: s.to, payload: s.payload, timeUs: i * 1000 })),
    );
    const path = values.out ?? await Deno.makeTempFile({ prefix: "lts-demo-", suffix: ".pcap" });
    await Deno.writeFile(path, pcap);
    const capture = readCapture(await Deno.readFile(path));
    if (!values.out) await Deno.remove(path);
    if (!capture.ok) {
      io.err(`lts demo: could not read back the capture: ${capture.error}`);
      return Exit.Failure;
    }
    io.out(`lts demo: one L2TP call, LAC ${LAC} ⇄ LNS ${LNS}, secret "${SECRET}"\n`);
    io.out("frame  direction  message  tunnel session   Ns   Nr  highlights");
    let errors = 0;
    for (const d of capture.value.datagrams) {
      const p = describePacket(d.payload, { secret: new TextEncoder().encode(SECRET) });
      errors += p.errors.length;
      const dir = d.src === LAC ? "LAC→LNS" : "LNS→LAC";
      const hidden = p.avps.filter((a) => a.hidden).map((a) =>
        `${a.name}=${JSON.stringify(a.value)}`
      );
      const notes = [
        ...hidden.map((h) => `hidden ${h}`),
        ...p.avps.filter((a) => a.name === "Result Code").map((a) =>
          `result ${JSON.stringify(a.value)}`
        ),
        ...(p.errors.length ? [`ERRORS ${JSON.stringify(p.errors)}`] : []),
      ];
      io.out(
        `${String(d.frame).padStart(5)}  ${dir}    ${String(p.type).padEnd(7)} ${
          String(p.tunnelId).padStart(6)
        } ${String(p.sessionId).padStart(7)} ${String(p.ns ?? "-").padStart(4)} ${
          String(p.nr ?? "-").padStart(4)
        }  ${notes.join("; ")}`,
      );
    }
    io.out(`\n${capture.value.datagrams.length} packets, ${errors} errors.`);
    if (values.out) {
      io.out(
        `Capture written to ${values.out}: lts decode --pcap ${values.out} --secret ${SECRET}`,
      );
    }
    return errors === 0 && capture.value.datagrams.length === steps.length ? Exit.Ok : Exit.Failure;
  },
};
