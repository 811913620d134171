/**
 * Which AVPs each control message carries (RFC 2661 §6.1–§6.14), as data.
 * One generic validator ({@link validateMessage} in message.ts) walks it.
 *
 * @module
 */

import type { AvpKey, MessageTypeName } from "./avp_types.ts";

/** What a message concerns: the tunnel as a whole, or one session (§4.1). */
export type MessageScope = "tunnel" | "session";

/** The AVP table of one control message type. */
export interface MessageSpec {
  readonly type: MessageTypeName;
  readonly section: string;
  readonly scope: MessageScope;
  /** AVPs that MUST be present (besides Message Type). */
  readonly required: readonly AvpKey[];
  /** AVPs that MAY be present (Random Vector may be in every message, §4.4.1). */
  readonly optional: readonly AvpKey[];
}

/** Every control message of RFC 2661, by short name. */
export const MESSAGE_SPECS: Readonly<Record<MessageTypeName, MessageSpec>> = {
  SCCRQ: {
    type: "SCCRQ",
    section: "§6.1",
    scope: "tunnel",
    required: ["protocolVersion", "hostName", "framingCapabilities", "assignedTunnelId"],
    optional: [
      "bearerCapabilities",
      "receiveWindowSize",
      "challenge",
      "tieBreaker",
      "firmwareRevision",
      "vendorName",
    ],
  },
  SCCRP: {
    type: "SCCRP",
    section: "§6.2",
    scope: "tunnel",
    required: ["protocolVersion", "framingCapabilities", "hostName", "assignedTunnelId"],
    optional: [
      "bearerCapabilities",
      "firmwareRevision",
      "vendorName",
      "receiveWindowSize",
      "challenge",
      "challengeResponse",
    ],
  },
  SCCCN: {
    type: "SCCCN",
    section: "§6.3",
    scope: "tunnel",
    required: [],
    optional: ["challengeResponse"],
  },
  StopCCN: {
    type: "StopCCN",
    section: "§6.4",
    scope: "tunnel",
    required: ["assignedTunnelId", "resultCode"],
    optional: [],
  },
  HELLO: { type: "HELLO", section: "§6.5", scope: "tunnel", required: [], optional: [] },
  ICRQ: {
    type: "ICRQ",
    section: "§6.6",
    scope: "session",
    required: ["assignedSessionId", "callSerialNumber"],
    optional: ["bearerType", "physicalChannelId", "callingNumber", "calledNumber", "subAddress"],
  },
  ICRP: {
    type: "ICRP",
    section: "§6.7",
    scope: "session",
    required: ["assignedSessionId"],
    optional: [],
  },
  ICCN: {
    type: "ICCN",
    section: "§6.8",
    scope: "session",
    required: ["txConnectSpeed", "framingType"],
    optional: [
      "initialReceivedLcpConfreq",
      "lastSentLcpConfreq",
      "lastReceivedLcpConfreq",
      "proxyAuthenType",
      "proxyAuthenName",
      "proxyAuthenChallenge",
      "proxyAuthenId",
      "proxyAuthenResponse",
      "privateGroupId",
      "rxConnectSpeed",
      "sequencingRequired",
    ],
  },
  OCRQ: {
    type: "OCRQ",
    section: "§6.9",
    scope: "session",
    required: [
      "assignedSessionId",
      "callSerialNumber",
      "minimumBps",
      "maximumBps",
      "bearerType",
      "framingType",
      "calledNumber",
    ],
    optional: ["subAddress"],
  },
  OCRP: {
    type: "OCRP",
    section: "§6.10",
    scope: "session",
    required: ["assignedSessionId"],
    optional: ["physicalChannelId"],
  },
  OCCN: {
    type: "OCCN",
    section: "§6.11",
    scope: "session",
    required: ["txConnectSpeed", "framingType"],
    optional: ["rxConnectSpeed", "sequencingRequired"],
  },
  CDN: {
    type: "CDN",
    section: "§6.12",
    scope: "session",
    required: ["resultCode", "assignedSessionId"],
    optional: ["q931CauseCode"],
  },
  WEN: { type: "WEN", section: "§6.13", scope: "session", required: ["callErrors"], optional: [] },
  SLI: { type: "SLI", section: "§6.14", scope: "session", required: ["accm"], optional: [] },
};
