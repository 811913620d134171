/**
 * LCP (RFC 1661 §5, §6) on the shared automaton: the option policy (MRU,
 * ACCM, Authentication-Protocol, Magic-Number with loopback detection, PFC,
 * ACFC; RFC 1570 and unknown options rejected), the link-maintenance codes
 * (Echo, Discard, Protocol-Reject; RFC 1570 Identification and
 * Time-Remaining), and Protocol-Reject building for the caller.
 *
 * @module
 */

import {
  ControlCode,
  type ControlPacket,
  decodeOptions,
  encodeControlPacket,
  encodeFrame,
  PPP_LCP,
  type PppOption,
} from "./frame.ts";
import {
  combineVerdicts,
  createNegotiation,
  DEFAULT_TIMERS,
  type ExtraCodeOutcome,
  type NegotiationModel,
  type NegotiationTimers,
  type OptionsPolicy,
  type OptionVerdict,
} from "./fsm.ts";
import { PPP_CHAP, PPP_PAP } from "./proxy.ts";

/** LCP Configuration Option types (RFC 1661 §6; RFC 1570 §2; RFC 1990 §5.1). */
export const LcpOption = {
  MaximumReceiveUnit: 1,
  AsyncControlCharacterMap: 2,
  AuthenticationProtocol: 3,
  QualityProtocol: 4,
  MagicNumber: 5,
  ProtocolFieldCompression: 7,
  AddressAndControlFieldCompression: 8,
  FcsAlternatives: 9,
  SelfDescribingPadding: 10,
  NumberedMode: 11,
  Callback: 13,
  CompoundFrames: 15,
  Mrru: 17,
  ShortSequenceNumberHeader: 18,
  EndpointDiscriminator: 19,
} as const;

/** Names of the LCP options, for logs; every other Type is unknown and rejected. */
export const LCP_OPTION_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(LcpOption).map(([name, type]) => [type, name]),
);

/** An authentication protocol LCP negotiates (RFC 1334 PAP, RFC 1994 CHAP with MD5). */
export type AuthProtocol = "pap" | "chap";

/** CHAP Algorithm MD5 (RFC 1994 §3). */
const CHAP_MD5 = 5;
/** Smallest peer MRU we accept; smaller ones are Nak'ed to this (as pppd's MINMRU). */
export const MIN_MRU = 128;
/** Default MRU (RFC 1661 §6.1). */
export const DEFAULT_MRU = 1500;

/** How our LCP negotiates. */
export interface LcpConfig {
  /** Source of Magic-Numbers (RFC 1661 §6.4: as random as possible); never returns 0 usefully. */
  magic: () => number;
  /** Our MRU; requested when not 1500. */
  mru?: number;
  /** What we require the peer to authenticate with, most wanted first (server side). */
  requireAuth?: readonly AuthProtocol[];
  /** What we agree to authenticate with when the peer asks (client side), most wanted first. */
  acceptAuth?: readonly AuthProtocol[];
  /** Request and accept Protocol-Field-Compression; default false. */
  pfc?: boolean;
  /** Request and accept Address-and-Control-Field-Compression; default false. */
  acfc?: boolean;
  /** Own Nak'ed Magic-Numbers seen back before declaring a loopback (§6.4); default 3. */
  loopbackLimit?: number;
  /** Counters and Restart timer; RFC 1661 §4.6 defaults. */
  timers?: Partial<NegotiationTimers>;
}

/** What we ask for in our Configure-Request. */
export interface LcpRequest {
  mru: number | null;
  magic: number | null;
  /** Index into `requireAuth` of the protocol asked for; past the end when none is left. */
  authIndex: number;
  pfc: boolean;
  acfc: boolean;
}

/** What we acknowledged of the peer's request: how we must send to it. */
export interface LcpPeer {
  mru: number;
  magic: number;
  accm: number | null;
  auth: AuthProtocol | null;
  pfc: boolean;
  acfc: boolean;
}

/** The LCP-specific state inside a {@link NegotiationModel}. */
export interface LcpLocal {
  config: Required<Omit<LcpConfig, "timers">>;
  ours: LcpRequest;
  /** Options the peer acknowledged (ours as acked). */
  acked: LcpRequest | null;
  peer: LcpPeer;
  /** The Magic-Number we last put in a Configure-Nak, to recognise it coming back. */
  lastNakMagic: number | null;
  /** Consecutive signs of a looped-back link (§6.4). */
  loopCount: number;
  failure: string | undefined;
}

/** The model of an LCP negotiation. */
export type LcpModel = NegotiationModel<LcpLocal>;

function u16(v: number): Uint8Array {
  return new Uint8Array([(v >> 8) & 0xff, v & 0xff]);
}
function u32(v: number): Uint8Array {
  return new Uint8Array([(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}
function get16(d: Uint8Array): number {
  return (d[0] << 8) | d[1];
}
function get32(d: Uint8Array): number {
  return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
}

/** A non-zero Magic-Number different from `avoid` (§6.4: zero is illegal). */
function newMagic(config: LcpLocal["config"], avoid: number | null): number {
  for (let i = 0; i < 8; i++) {
    const m = config.magic() >>> 0;
    if (m !== 0 && m !== avoid) return m;
  }
  return ((avoid ?? 0) + 1) >>> 0 || 1;
}

/** The Authentication-Protocol option for a protocol (RFC 1661 §6.2, RFC 1994 §3). */
export function authOption(auth: AuthProtocol): PppOption {
  return {
    type: LcpOption.AuthenticationProtocol,
    data: auth === "pap"
      ? u16(PPP_PAP)
      : new Uint8Array([PPP_CHAP >> 8, PPP_CHAP & 0xff, CHAP_MD5]),
  };
}

function authOf(data: Uint8Array): AuthProtocol | null {
  if (data.length === 2 && get16(data) === PPP_PAP) return "pap";
  if (data.length === 3 && get16(data) === PPP_CHAP && data[2] === CHAP_MD5) return "chap";
  return null;
}

function freshRequest(config: LcpLocal["config"], avoid: number | null = null): LcpRequest {
  return {
    mru: config.mru === DEFAULT_MRU ? null : config.mru,
    magic: newMagic(config, avoid),
    authIndex: 0,
    pfc: config.pfc,
    acfc: config.acfc,
  };
}

const DEFAULT_PEER: LcpPeer = {
  mru: DEFAULT_MRU,
  magic: 0,
  accm: null,
  auth: null,
  pfc: false,
  acfc: false,
};

/** Judges one option of the peer's request (RFC 1661 §6). */
function judgeOption(
  local: LcpLocal,
  o: PppOption,
  peer: LcpPeer,
): { verdict: OptionVerdict; peer: LcpPeer; nakMagic?: number; looped?: boolean } {
  const ack = (p: Partial<LcpPeer>) => ({
    verdict: { kind: "ack" } as const,
    peer: { ...peer, ...p },
  });
  const nak = (option: PppOption) => ({ verdict: { kind: "nak", option } as const, peer });
  const reject = { verdict: { kind: "reject" } as const, peer };
  const { config } = local;
  switch (o.type) {
    case LcpOption.MaximumReceiveUnit: {
      // §6: a negotiable option with a bad Length is Nak'ed with a good one.
      if (o.data.length !== 2) return nak({ type: o.type, data: u16(DEFAULT_MRU) });
      const mru = get16(o.data);
      return mru < MIN_MRU ? nak({ type: o.type, data: u16(MIN_MRU) }) : ack({ mru });
    }
    case LcpOption.AsyncControlCharacterMap:
      // L2TP carries no async framing (RFC 2661 §1); any map is harmless.
      if (o.data.length !== 4) return nak({ type: o.type, data: u32(0) });
      return ack({ accm: get32(o.data) });
    case LcpOption.AuthenticationProtocol: {
      const auth = authOf(o.data);
      if (auth !== null && config.acceptAuth.includes(auth)) return ack({ auth });
      // MS-CHAP (algorithms 0x80, 0x81), other algorithms and protocols: Nak
      // with what we do, most wanted first (§6.2); nothing to offer: Reject.
      const offer = config.acceptAuth[0];
      return offer === undefined ? reject : nak(authOption(offer));
    }
    case LcpOption.MagicNumber: {
      if (o.data.length !== 4) return nak({ type: o.type, data: u32(newMagic(config, null)) });
      const magic = get32(o.data);
      const ours = local.ours.magic;
      // §6.4: zero is illegal; our own number may be a looped-back request.
      if (magic === 0 || (ours !== null && magic === ours)) {
        const suggestion = newMagic(config, ours);
        return { ...nak({ type: o.type, data: u32(suggestion) }), nakMagic: suggestion };
      }
      return ack({ magic });
    }
    case LcpOption.ProtocolFieldCompression:
      return o.data.length === 0 && config.pfc ? ack({ pfc: true }) : reject;
    case LcpOption.AddressAndControlFieldCompression:
      return o.data.length === 0 && config.acfc ? ack({ acfc: true }) : reject;
    default:
      // Quality-Protocol, RFC 1570 options, Multilink (RFC 1990) and unknown types.
      return reject;
  }
}

/** The LCP options policy. */
export const LCP_POLICY: OptionsPolicy<LcpLocal> = {
  request(local) {
    const { ours, config } = local;
    const options: PppOption[] = [];
    if (ours.mru !== null) {
      options.push({ type: LcpOption.MaximumReceiveUnit, data: u16(ours.mru) });
    }
    const auth = config.requireAuth[ours.authIndex];
    if (auth !== undefined) options.push(authOption(auth));
    if (ours.magic !== null) options.push({ type: LcpOption.MagicNumber, data: u32(ours.magic) });
    if (ours.pfc) {
      options.push({ type: LcpOption.ProtocolFieldCompression, data: new Uint8Array(0) });
    }
    if (ours.acfc) {
      options.push({ type: LcpOption.AddressAndControlFieldCompression, data: new Uint8Array(0) });
    }
    return options;
  },

  judge(local, options) {
    let peer: LcpPeer = { ...DEFAULT_PEER };
    let nakMagic: number | null = null;
    const seen = new Set<number>();
    const judged: [PppOption, OptionVerdict][] = [];
    for (const o of options) {
      // A repeated option is rejected: §6.2 forbids it for authentication, and
      // no LCP option of ours is meaningful twice.
      if (seen.has(o.type)) {
        judged.push([o, { kind: "reject" }]);
        continue;
      }
      seen.add(o.type);
      const r = judgeOption(local, o, peer);
      peer = r.peer;
      if (r.nakMagic !== undefined) nakMagic = r.nakMagic;
      judged.push([o, r.verdict]);
    }
    // §6.4 MUST Nak our own Magic-Number: alone, so a looped-back request is
    // not answered with Rejects of the options we ask for ourselves.
    const verdict = nakMagic !== null
      ? { kind: "nak" as const, options: [{ type: LcpOption.MagicNumber, data: u32(nakMagic) }] }
      : combineVerdicts(judged);
    return {
      local: {
        ...local,
        peer,
        lastNakMagic: nakMagic ?? local.lastNakMagic,
      },
      verdict,
    };
  },

  onAck(local) {
    return { ...local, acked: { ...local.ours }, loopCount: 0 };
  },

  onNak(local, options) {
    let ours = { ...local.ours };
    let { loopCount, failure } = local;
    for (const o of options) {
      switch (o.type) {
        case LcpOption.MaximumReceiveUnit: {
          const mru = o.data.length === 2 ? get16(o.data) : DEFAULT_MRU;
          ours.mru = mru >= MIN_MRU && mru <= local.config.mru ? mru : null;
          break;
        }
        case LcpOption.AuthenticationProtocol: {
          // §6.2: try the next protocol we would accept; the peer's offer if we take it.
          const offered = authOf(o.data);
          const list = local.config.requireAuth;
          const at = offered === null ? -1 : list.indexOf(offered);
          ours.authIndex = at > ours.authIndex ? at : ours.authIndex + 1;
          if (ours.authIndex >= list.length) failure = "peer refuses to authenticate";
          break;
        }
        case LcpOption.MagicNumber: {
          // §6.4: our own Nak coming back makes a loopback more likely.
          const nakked = o.data.length === 4 ? get32(o.data) : null;
          if (nakked !== null && nakked === local.lastNakMagic) loopCount++;
          else loopCount = 0;
          if (loopCount >= local.config.loopbackLimit) failure = "loopback";
          ours = { ...ours, magic: newMagic(local.config, ours.magic) };
          break;
        }
        case LcpOption.ProtocolFieldCompression:
        case LcpOption.AddressAndControlFieldCompression:
          break;
      }
    }
    return { ...local, ours, loopCount, failure };
  },

  onReject(local, options) {
    const ours = { ...local.ours };
    let { failure } = local;
    for (const o of options) {
      if (o.type === LcpOption.MaximumReceiveUnit) ours.mru = null;
      // §6.4: a rejected Magic-Number means no loopback and no magic from the peer.
      if (o.type === LcpOption.MagicNumber) ours.magic = null;
      if (o.type === LcpOption.ProtocolFieldCompression) ours.pfc = false;
      if (o.type === LcpOption.AddressAndControlFieldCompression) ours.acfc = false;
      if (o.type === LcpOption.AuthenticationProtocol) {
        ours.authIndex = local.config.requireAuth.length;
        failure = "peer refuses to authenticate";
      }
    }
    return { ...local, ours, failure };
  },

  restart(local) {
    return {
      ...local,
      ours: freshRequest(local.config),
      acked: null,
      peer: { ...DEFAULT_PEER },
      lastNakMagic: null,
      loopCount: 0,
      failure: undefined,
    };
  },

  failure: (local) => local.failure,

  peerMru: (local) => local.peer.mru,

  extraCode(local, packet, state): ExtraCodeOutcome | undefined {
    const ourMagic = local.acked?.magic ?? 0;
    switch (packet.code) {
      case ControlCode.ProtocolReject: {
        // §5.7: only meaningful in the Opened state; otherwise silently discarded.
        if (state !== "Opened" || packet.data.length < 2) {
          return { event: null, notices: [{ type: "discard", reason: "Protocol-Reject" }] };
        }
        const protocol = get16(packet.data);
        if (protocol === PPP_LCP) return { event: "RXJ-" };
        return { event: "RXJ+", notices: [{ type: "protocol_rejected", protocol }] };
      }
      case ControlCode.EchoRequest: {
        if (packet.data.length < 4) {
          return { event: null, notices: [discard("short Echo-Request")] };
        }
        // §6.4: our own magic coming back is a looped link, not a peer to answer.
        if (ourMagic !== 0 && get32(packet.data) === ourMagic) {
          return { event: null, notices: [discard("Echo-Request with our Magic-Number")] };
        }
        const data = packet.data.slice();
        data.set(u32(ourMagic), 0);
        return {
          event: "RXR",
          reply: { code: ControlCode.EchoReply, identifier: packet.identifier, data },
        };
      }
      case ControlCode.EchoReply: {
        if (packet.data.length < 4) return { event: null, notices: [discard("short Echo-Reply")] };
        const notice = {
          type: "echo_reply" as const,
          identifier: packet.identifier,
          magic: get32(packet.data),
          data: packet.data.subarray(4),
        };
        return { event: "RXR", notices: state === "Opened" ? [notice] : [] };
      }
      case ControlCode.DiscardRequest:
      case ControlCode.Identification:
      case ControlCode.TimeRemaining:
        // RFC 1570 §1.1, §1.2: RXR, no response.
        return { event: "RXR" };
      default:
        return undefined;
    }
  },
};

function discard(reason: string) {
  return { type: "discard" as const, reason };
}

/**
 * A new LCP negotiation in the Initial state. Feed it with `transition`
 * from `fsm.ts`.
 *
 * @example
 * ```ts
 * import { createLcp } from "./lcp.ts";
 * const m = createLcp({ magic: () => 0x11223344, requireAuth: ["chap", "pap"] });
 * if (m.state !== "Initial" || m.local.ours.magic !== 0x11223344) throw new Error();
 * ```
 */
export function createLcp(config: LcpConfig): LcpModel {
  const full: LcpLocal["config"] = {
    magic: config.magic,
    mru: config.mru ?? DEFAULT_MRU,
    requireAuth: config.requireAuth ?? [],
    acceptAuth: config.acceptAuth ?? [],
    pfc: config.pfc ?? false,
    acfc: config.acfc ?? false,
    loopbackLimit: config.loopbackLimit ?? 3,
  };
  return createNegotiation(
    {
      protocol: PPP_LCP,
      name: "LCP",
      policy: LCP_POLICY,
      timers: { ...DEFAULT_TIMERS, ...config.timers },
    },
    {
      config: full,
      ours: freshRequest(full),
      acked: null,
      peer: { ...DEFAULT_PEER },
      lastNakMagic: null,
      loopCount: 0,
      failure: undefined,
    },
  );
}

/** What was agreed once LCP is Opened. */
export interface LcpAgreement {
  /** Magic-Numbers: ours as acknowledged (0 if not negotiated) and the peer's. */
  ourMagic: number;
  peerMagic: number;
  /** Largest Information field we may send to the peer. */
  peerMru: number;
  /** The protocol the peer must authenticate with (we required), if any. */
  authenticatePeerWith: AuthProtocol | null;
  /** The protocol we agreed to authenticate with (the peer required), if any. */
  authenticateWith: AuthProtocol | null;
  /** Compressions we may apply to what we send (RFC 1661 §6.5, §6.6). */
  pfc: boolean;
  acfc: boolean;
}

/**
 * The agreement of an Opened LCP, or `null` when not Opened.
 *
 * @example
 * ```ts
 * import { createLcp, lcpAgreement } from "./lcp.ts";
 * if (lcpAgreement(createLcp({ magic: () => 1 })) !== null) throw new Error();
 * ```
 */
export function lcpAgreement(model: LcpModel): LcpAgreement | null {
  if (model.state !== "Opened") return null;
  const { acked, peer, config } = model.local;
  return {
    ourMagic: acked?.magic ?? 0,
    peerMagic: peer.magic,
    peerMru: peer.mru,
    authenticatePeerWith: acked === null ? null : config.requireAuth[acked.authIndex] ?? null,
    authenticateWith: peer.auth,
    pfc: peer.pfc,
    acfc: peer.acfc,
  };
}

/**
 * An LCP Echo-Request (RFC 1661 §5.8) with our negotiated Magic-Number, for a
 * keepalive; encoded control packet (frame it with `encodeFrame`).
 *
 * @example
 * ```ts
 * import { createLcp, echoRequestPacket } from "./lcp.ts";
 * const p = echoRequestPacket(createLcp({ magic: () => 1 }), 7);
 * if (p[0] !== 9 || p[1] !== 7 || p.length !== 8) throw new Error();
 * ```
 */
export function echoRequestPacket(
  model: LcpModel,
  identifier: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const body = new Uint8Array(4 + data.length);
  body.set(u32(model.local.acked?.magic ?? 0));
  body.set(data, 4);
  return encodeControlPacket({ code: ControlCode.EchoRequest, identifier, data: body });
}

/**
 * A Protocol-Reject (RFC 1661 §5.7) of a received frame's protocol, as a
 * full LCP frame, with the Rejected-Information truncated to the peer's MRU;
 * `null` unless LCP is Opened ("Protocol-Reject packets can only be sent in
 * the LCP Opened state"). The returned model has used up an Identifier.
 *
 * @example
 * ```ts
 * import { createLcp, protocolReject } from "./lcp.ts";
 * if (protocolReject(createLcp({ magic: () => 1 }), 0x8057, new Uint8Array(4)) !== null) {
 *   throw new Error();
 * }
 * ```
 */
export function protocolReject(
  model: LcpModel,
  protocol: number,
  information: Uint8Array,
): { model: LcpModel; frame: Uint8Array } | null {
  if (model.state !== "Opened") return null;
  const room = Math.max(0, model.local.peer.mru - 4 - 2);
  const rejected = information.subarray(0, room);
  const data = new Uint8Array(2 + rejected.length);
  data.set(u16(protocol));
  data.set(rejected, 2);
  const identifier = model.nextIdentifier;
  const packet: ControlPacket = { code: ControlCode.ProtocolReject, identifier, data };
  return {
    model: { ...model, nextIdentifier: (identifier + 1) & 0xff },
    frame: encodeFrame(PPP_LCP, encodeControlPacket(packet)),
  };
}

/**
 * Seeds an LCP from proxy LCP (RFC 2661 §4.4.5): the options the LAC last
 * sent and last received in CONFREQs. The LNS starts in Opened with those
 * values, as if it had negotiated them; `null` when the AVPs do not decode.
 *
 * @example
 * ```ts
 * import { createLcp, seedFromProxy } from "./lcp.ts";
 * import { confreqOptions } from "./proxy.ts";
 * const m = seedFromProxy(createLcp({ magic: () => 9 }), {
 *   lastSent: confreqOptions({ mru: 1500, magic: 2, auth: "chap" }),
 *   lastReceived: confreqOptions({ mru: 1400, magic: 3 }),
 * });
 * if (m === null || m.state !== "Opened" || m.local.peer.mru !== 1400) throw new Error();
 * ```
 */
export function seedFromProxy(
  model: LcpModel,
  proxy: { lastSent: Uint8Array; lastReceived: Uint8Array },
): LcpModel | null {
  const sent = decodeOptions(proxy.lastSent);
  const received = decodeOptions(proxy.lastReceived);
  if (!sent.ok || !received.ok) return null;
  const { config } = model.local;
  const ours: LcpRequest = {
    mru: null,
    magic: null,
    authIndex: config.requireAuth.length,
    pfc: false,
    acfc: false,
  };
  for (const o of sent.value) {
    if (o.type === LcpOption.MaximumReceiveUnit && o.data.length === 2) ours.mru = get16(o.data);
    if (o.type === LcpOption.MagicNumber && o.data.length === 4) ours.magic = get32(o.data);
    if (o.type === LcpOption.ProtocolFieldCompression) ours.pfc = true;
    if (o.type === LcpOption.AddressAndControlFieldCompression) ours.acfc = true;
    if (o.type === LcpOption.AuthenticationProtocol) {
      const auth = authOf(o.data);
      const at = auth === null ? -1 : config.requireAuth.indexOf(auth);
      if (at >= 0) ours.authIndex = at;
    }
  }
  const peer: LcpPeer = { ...DEFAULT_PEER };
  for (const o of received.value) {
    if (o.type === LcpOption.MaximumReceiveUnit && o.data.length === 2) peer.mru = get16(o.data);
    if (o.type === LcpOption.MagicNumber && o.data.length === 4) peer.magic = get32(o.data);
    if (o.type === LcpOption.ProtocolFieldCompression) peer.pfc = true;
    if (o.type === LcpOption.AddressAndControlFieldCompression) peer.acfc = true;
    if (o.type === LcpOption.AuthenticationProtocol) peer.auth = authOf(o.data);
  }
  return { ...model, state: "Opened", local: { ...model.local, ours, acked: { ...ours }, peer } };
}
