/**
 * The catalogue of RFC 2661 AVPs (§4.4), as data: attribute type, name, value
 * format, the value lengths the RFC allows, whether the RFC lets it be hidden,
 * and the section that defines it. The codec and the validator walk this table.
 *
 * @module
 */

/** IETF Attribute Types of RFC 2661 (§4.4). Vendor ID 0. */
export const AvpType = {
  MessageType: 0,
  ResultCode: 1,
  ProtocolVersion: 2,
  FramingCapabilities: 3,
  BearerCapabilities: 4,
  TieBreaker: 5,
  FirmwareRevision: 6,
  HostName: 7,
  VendorName: 8,
  AssignedTunnelId: 9,
  ReceiveWindowSize: 10,
  Challenge: 11,
  Q931CauseCode: 12,
  ChallengeResponse: 13,
  AssignedSessionId: 14,
  CallSerialNumber: 15,
  MinimumBps: 16,
  MaximumBps: 17,
  BearerType: 18,
  FramingType: 19,
  CalledNumber: 21,
  CallingNumber: 22,
  SubAddress: 23,
  TxConnectSpeed: 24,
  PhysicalChannelId: 25,
  InitialReceivedLcpConfreq: 26,
  LastSentLcpConfreq: 27,
  LastReceivedLcpConfreq: 28,
  ProxyAuthenType: 29,
  ProxyAuthenName: 30,
  ProxyAuthenChallenge: 31,
  ProxyAuthenId: 32,
  ProxyAuthenResponse: 33,
  CallErrors: 34,
  Accm: 35,
  RandomVector: 36,
  PrivateGroupId: 37,
  RxConnectSpeed: 38,
  SequencingRequired: 39,
} as const;

/** How an AVP's Attribute Value is laid out. */
export type AvpKind =
  | "u16"
  | "u32"
  | "string"
  | "bytes"
  | "empty"
  | "result_code"
  | "protocol_version"
  | "framing_bits"
  | "bearer_bits"
  | "q931_cause"
  | "proxy_authen_id"
  | "call_errors"
  | "accm";

/** One row of the catalogue. */
export interface AvpSpec {
  readonly type: number;
  /** Field name in typed views. */
  readonly key: AvpKey;
  /** The RFC's name for the AVP. */
  readonly name: string;
  readonly kind: AvpKind;
  /** Fewest value octets (before hiding). */
  readonly minLength: number;
  /** Most value octets (before hiding); an AVP holds at most 1017. */
  readonly maxLength: number;
  /** The M bit the RFC requires a sender to set. */
  readonly mandatory: boolean;
  /** Whether the RFC allows the H bit. */
  readonly hideable: boolean;
  readonly section: string;
}

const MAX_VALUE = 1023 - 6;

// [Attribute Type, field key, RFC name, kind, min value length, max value length, M bit, may be hidden, section]
const TABLE = [
  [0, "messageType", "Message Type", "u16", 2, 2, true, false, "§4.4.1"],
  [1, "resultCode", "Result Code", "result_code", 2, MAX_VALUE, true, false, "§4.4.2"],
  [2, "protocolVersion", "Protocol Version", "protocol_version", 2, 2, true, false, "§4.4.3"],
  [3, "framingCapabilities", "Framing Capabilities", "framing_bits", 4, 4, true, true, "§4.4.3"],
  [4, "bearerCapabilities", "Bearer Capabilities", "bearer_bits", 4, 4, true, true, "§4.4.3"],
  [5, "tieBreaker", "Tie Breaker", "bytes", 8, 8, false, false, "§4.4.3"],
  [6, "firmwareRevision", "Firmware Revision", "u16", 2, 2, false, true, "§4.4.3"],
  [7, "hostName", "Host Name", "string", 1, MAX_VALUE, true, false, "§4.4.3"],
  [8, "vendorName", "Vendor Name", "string", 0, MAX_VALUE, false, true, "§4.4.3"],
  [9, "assignedTunnelId", "Assigned Tunnel ID", "u16", 2, 2, true, true, "§4.4.3"],
  [10, "receiveWindowSize", "Receive Window Size", "u16", 2, 2, true, false, "§4.4.3"],
  [11, "challenge", "Challenge", "bytes", 1, MAX_VALUE, true, true, "§4.4.3"],
  [12, "q931CauseCode", "Q.931 Cause Code", "q931_cause", 3, MAX_VALUE, true, false, "§4.4.4"],
  [13, "challengeResponse", "Challenge Response", "bytes", 16, 16, true, true, "§4.4.3"],
  [14, "assignedSessionId", "Assigned Session ID", "u16", 2, 2, true, true, "§4.4.4"],
  [15, "callSerialNumber", "Call Serial Number", "u32", 4, 4, true, true, "§4.4.4"],
  [16, "minimumBps", "Minimum BPS", "u32", 4, 4, true, true, "§4.4.4"],
  [17, "maximumBps", "Maximum BPS", "u32", 4, 4, true, true, "§4.4.4"],
  [18, "bearerType", "Bearer Type", "bearer_bits", 4, 4, true, true, "§4.4.4"],
  [19, "framingType", "Framing Type", "framing_bits", 4, 4, true, true, "§4.4.4"],
  [21, "calledNumber", "Called Number", "string", 0, MAX_VALUE, true, true, "§4.4.4"],
  [22, "callingNumber", "Calling Number", "string", 0, MAX_VALUE, true, true, "§4.4.4"],
  [23, "subAddress", "Sub-Address", "string", 0, MAX_VALUE, true, true, "§4.4.4"],
  [24, "txConnectSpeed", "(Tx) Connect Speed", "u32", 4, 4, true, true, "§4.4.4"],
  [25, "physicalChannelId", "Physical Channel ID", "u32", 4, 4, false, true, "§4.4.4"],
  [
    26,
    "initialReceivedLcpConfreq",
    "Initial Received LCP CONFREQ",
    "bytes",
    0,
    MAX_VALUE,
    false,
    true,
    "§4.4.5",
  ],
  [27, "lastSentLcpConfreq", "Last Sent LCP CONFREQ", "bytes", 0, MAX_VALUE, false, true, "§4.4.5"],
  [
    28,
    "lastReceivedLcpConfreq",
    "Last Received LCP CONFREQ",
    "bytes",
    0,
    MAX_VALUE,
    false,
    true,
    "§4.4.5",
  ],
  [29, "proxyAuthenType", "Proxy Authen Type", "u16", 2, 2, false, true, "§4.4.5"],
  [30, "proxyAuthenName", "Proxy Authen Name", "string", 0, MAX_VALUE, false, true, "§4.4.5"],
  [
    31,
    "proxyAuthenChallenge",
    "Proxy Authen Challenge",
    "bytes",
    1,
    MAX_VALUE,
    false,
    true,
    "§4.4.5",
  ],
  [32, "proxyAuthenId", "Proxy Authen ID", "proxy_authen_id", 2, 2, false, true, "§4.4.5"],
  [
    33,
    "proxyAuthenResponse",
    "Proxy Authen Response",
    "bytes",
    0,
    MAX_VALUE,
    false,
    true,
    "§4.4.5",
  ],
  [34, "callErrors", "Call Errors", "call_errors", 26, 26, true, true, "§4.4.6"],
  [35, "accm", "ACCM", "accm", 10, 10, true, true, "§4.4.6"],
  [36, "randomVector", "Random Vector", "bytes", 1, MAX_VALUE, true, false, "§4.4.1"],
  [37, "privateGroupId", "Private Group ID", "bytes", 0, MAX_VALUE, false, true, "§4.4.4"],
  [38, "rxConnectSpeed", "Rx Connect Speed", "u32", 4, 4, false, true, "§4.4.4"],
  [39, "sequencingRequired", "Sequencing Required", "empty", 0, 0, true, false, "§4.4.4"],
] as const;

/** Field name of each IETF AVP in typed views (`hostName`, `assignedTunnelId`, …). */
export type AvpKey = typeof TABLE[number][1];
/** Value kind of the AVP named `K`. */
export type AvpKindOf<K extends AvpKey> = Extract<
  typeof TABLE[number],
  readonly [number, K, ...unknown[]]
>[3];

/** Every RFC 2661 AVP, by Attribute Type. */
export const AVP_SPECS: ReadonlyMap<number, AvpSpec> = new Map(
  TABLE.map(([type, key, name, kind, minLength, maxLength, mandatory, hideable, section]) => [
    type,
    { type, key, name, kind, minLength, maxLength, mandatory, hideable, section },
  ]),
);

/** Every RFC 2661 AVP, by field key. */
export const AVP_SPECS_BY_KEY: ReadonlyMap<AvpKey, AvpSpec> = new Map(
  [...AVP_SPECS.values()].map((s) => [s.key, s]),
);

/** The catalogue row of an IETF AVP, or `undefined` for a type RFC 2661 does not define. */
export function avpSpec(vendorId: number, attributeType: number): AvpSpec | undefined {
  return vendorId === 0 ? AVP_SPECS.get(attributeType) : undefined;
}

/** Control message types (RFC 2661 §3.2). */
export const MessageType = {
  SCCRQ: 1,
  SCCRP: 2,
  SCCCN: 3,
  StopCCN: 4,
  HELLO: 6,
  OCRQ: 7,
  OCRP: 8,
  OCCN: 9,
  ICRQ: 10,
  ICRP: 11,
  ICCN: 12,
  CDN: 14,
  WEN: 15,
  SLI: 16,
} as const;

/** The RFC's short name of a control message. */
export type MessageTypeName = keyof typeof MessageType;

const MESSAGE_NAMES = new Map<number, MessageTypeName>(
  Object.entries(MessageType).map(([k, v]) => [v, k as MessageTypeName]),
);

/** Short name of a message type code, or `undefined` when RFC 2661 defines none. */
export function messageTypeName(code: number): MessageTypeName | undefined {
  return MESSAGE_NAMES.get(code);
}

/** Result Code values of StopCCN (RFC 2661 §4.4.2). */
export const StopCcnResult = {
  GeneralRequestToClear: 1,
  GeneralError: 2,
  ControlChannelExists: 3,
  NotAuthorized: 4,
  UnsupportedProtocolVersion: 5,
  ShuttingDown: 6,
  FsmError: 7,
} as const;

/** Result Code values of CDN (RFC 2661 §4.4.2). */
export const CdnResult = {
  LostCarrier: 1,
  GeneralError: 2,
  Administrative: 3,
  NoFacilitiesTemporary: 4,
  NoFacilitiesPermanent: 5,
  InvalidDestination: 6,
  NoCarrier: 7,
  Busy: 8,
  NoDialTone: 9,
  Timeout: 10,
  NoFraming: 11,
} as const;

/** General Error Codes (RFC 2661 §4.4.2). */
export const ErrorCode = {
  NoError: 0,
  NoControlConnection: 1,
  LengthWrong: 2,
  ValueOutOfRange: 3,
  InsufficientResources: 4,
  InvalidSessionId: 5,
  VendorSpecific: 6,
  TryAnother: 7,
  UnknownMandatoryAvp: 8,
} as const;

/** Proxy Authen Type values (RFC 2661 §4.4.5). */
export const ProxyAuthenType = {
  Reserved: 0,
  TextualUsernamePassword: 1,
  PppChap: 2,
  PppPap: 3,
  NoAuthentication: 4,
  MsChapV1: 5,
} as const;
