/**
 * A scripted L2TP call, built with the codec: tunnel setup with tunnel
 * authentication and hidden AVPs, an incoming call with proxy
 * authentication, PPP data, teardown. The decode tests read it back.
 *
 * @module
 */

import { challengeResponse, verifyChallengeResponse } from "../transport/auth.ts";
import type { Avp } from "../transport/avp.ts";
import { dataHeaderLength, writeDataHeader } from "../transport/header.ts";
import { type AvpFields, buildAvps, encodeControl } from "../transport/message.ts";
import type { MessageTypeName } from "../transport/avp_types.ts";

export const LAC = "127.0.0.1:40001";
export const LNS = "127.0.0.1:1701";
export const SECRET = "demo-secret";

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
