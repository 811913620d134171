/**
 * PPP frames as L2TP carries them (RFC 2661 §1: no flags, no FCS, no
 * transparency), and the packet format shared by LCP and the NCPs.
 *
 * ```
 * [ff 03]  Protocol (1 or 2 octets)  Information
 *           Code | Identifier | Length | Data            (RFC 1661 §5)
 *                                       Type | Length | Data ...   (§6)
 * ```
 *
 * Decoders never throw on wire input and never read past the buffer.
 *
 * @module
 */

import { PPP_LCP } from "./echo.ts";
import { ok, type Result } from "../transport/result.ts";

export { PPP_LCP };
/** PPP Protocol field of IPCP (RFC 1332 §2). */
export const PPP_IPCP = 0x8021;
/** PPP Protocol field of IPv6CP (RFC 5072 §3). */
export const PPP_IPV6CP = 0x8057;
/** PPP Protocol field of IPv4 datagrams (RFC 1332 §2). */
export const PPP_IP = 0x0021;

/** Control packet codes (RFC 1661 §5; 12 and 13 from RFC 1570 §1). */
export const ControlCode = {
  ConfigureRequest: 1,
  ConfigureAck: 2,
  ConfigureNak: 3,
  ConfigureReject: 4,
  TerminateRequest: 5,
  TerminateAck: 6,
  CodeReject: 7,
  ProtocolReject: 8,
  EchoRequest: 9,
  EchoReply: 10,
  DiscardRequest: 11,
  Identification: 12,
  TimeRemaining: 13,
} as const;

/** Why PPP octets could not be decoded; one counter label each. */
export type PppDecodeErrorCode =
  | "truncated"
  | "bad_protocol"
  | "bad_length"
  | "bad_option_length";

/** A PPP decode failure with the offset where it was found. */
export interface PppDecodeError {
  code: PppDecodeErrorCode;
  message: string;
  offset: number;
}

function fail(code: PppDecodeErrorCode, message: string, offset: number) {
  return { ok: false as const, error: { code, message, offset } };
}

/** A decoded PPP frame. */
export interface PppFrame {
  /** PPP Protocol field (RFC 1661 §2). */
  protocol: number;
  /** The Information field (with any padding). A view into the input. */
  payload: Uint8Array;
  /** Address-and-Control-Field-Compression: `ff 03` was absent (RFC 1661 §6.6). */
  acfc: boolean;
  /** Protocol-Field-Compression: the Protocol field was one octet (RFC 1661 §6.5). */
  pfc: boolean;
}

/**
 * Decodes a PPP frame: optional `ff 03` (RFC 1662 §3.1), then a Protocol
 * field whose first octet is odd when compressed to one octet (RFC 1661 §6.5).
 * A two-octet field must have an even first and an odd second octet (§2).
 *
 * @example
 * ```ts
 * import { decodeFrame } from "./frame.ts";
 * const r = decodeFrame(new Uint8Array([0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 4]));
 * if (!r.ok || r.value.protocol !== 0xc021 || r.value.acfc) throw new Error();
 * ```
 */
export function decodeFrame(bytes: Uint8Array): Result<PppFrame, PppDecodeError> {
  const acfc = !(bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0x03);
  const at = acfc ? 0 : 2;
  if (bytes.length < at + 1) return fail("truncated", "no Protocol field", at);
  if ((bytes[at] & 1) === 1) {
    return ok({ protocol: bytes[at], payload: bytes.subarray(at + 1), acfc, pfc: true });
  }
  if (bytes.length < at + 2) return fail("truncated", "Protocol field cut short", at);
  if ((bytes[at + 1] & 1) === 0) {
    return fail("bad_protocol", "Protocol field's last octet must be odd (RFC 1661 §2)", at + 1);
  }
  const protocol = (bytes[at] << 8) | bytes[at + 1];
  return ok({ protocol, payload: bytes.subarray(at + 2), acfc, pfc: false });
}

/** Options of {@link encodeFrame}: which negotiated compressions to apply. */
export interface EncodeFrameOptions {
  /** Omit `ff 03` (never for LCP, RFC 1661 §6.6). */
  acfc?: boolean;
  /** One-octet Protocol field when its high octet is zero (RFC 1661 §6.5). */
  pfc?: boolean;
}

/**
 * Encodes a PPP frame. LCP frames keep `ff 03` and the two-octet Protocol
 * field whatever the options say (RFC 1661 §6.5, §6.6).
 *
 * @example
 * ```ts
 * import { encodeFrame, PPP_IP } from "./frame.ts";
 * const f = encodeFrame(PPP_IP, new Uint8Array([0x45]), { acfc: true, pfc: true });
 * if (f.length !== 2 || f[0] !== 0x21) throw new Error();
 * ```
 */
export function encodeFrame(
  protocol: number,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): Uint8Array {
  const lcp = protocol === PPP_LCP;
  const header: number[] = options.acfc && !lcp ? [] : [0xff, 0x03];
  if (options.pfc && !lcp && protocol <= 0xff) header.push(protocol);
  else header.push((protocol >> 8) & 0xff, protocol & 0xff);
  const frame = new Uint8Array(header.length + payload.length);
  frame.set(header);
  frame.set(payload, header.length);
  return frame;
}

/** An LCP or NCP packet (RFC 1661 §5). */
export interface ControlPacket {
  code: number;
  identifier: number;
  /** The octets after Length, up to Length; padding beyond it is dropped. */
  data: Uint8Array;
}

/** Octets of Code, Identifier and Length. */
export const CONTROL_HEADER_LENGTH = 4;

/**
 * Decodes a control packet. Octets beyond Length are padding and ignored;
 * a Length shorter than 4 or longer than the packet fails (RFC 1661 §5).
 *
 * @example
 * ```ts
 * import { decodeControlPacket } from "./frame.ts";
 * const r = decodeControlPacket(new Uint8Array([5, 7, 0, 5, 0x61, 0xee]));
 * if (!r.ok || r.value.identifier !== 7 || r.value.data.length !== 1) throw new Error();
 * ```
 */
export function decodeControlPacket(bytes: Uint8Array): Result<ControlPacket, PppDecodeError> {
  if (bytes.length < CONTROL_HEADER_LENGTH) return fail("truncated", "shorter than 4 octets", 0);
  const length = (bytes[2] << 8) | bytes[3];
  if (length < CONTROL_HEADER_LENGTH) return fail("bad_length", `Length ${length} < 4`, 2);
  if (length > bytes.length) {
    return fail("truncated", `Length ${length} beyond the ${bytes.length} octets received`, 2);
  }
  return ok({ code: bytes[0], identifier: bytes[1], data: bytes.subarray(4, length) });
}

/**
 * Encodes a control packet.
 *
 * @throws {RangeError} when the data does not fit the 16-bit Length
 * @example
 * ```ts
 * import { encodeControlPacket } from "./frame.ts";
 * const b = encodeControlPacket({ code: 6, identifier: 2, data: new Uint8Array(0) });
 * if (b.join() !== "6,2,0,4") throw new Error();
 * ```
 */
export function encodeControlPacket(packet: ControlPacket): Uint8Array {
  const length = CONTROL_HEADER_LENGTH + packet.data.length;
  if (length > 0xffff) throw new RangeError(`control packet of ${length} octets`);
  const out = new Uint8Array(length);
  out.set([packet.code & 0xff, packet.identifier & 0xff, length >> 8, length & 0xff]);
  out.set(packet.data, CONTROL_HEADER_LENGTH);
  return out;
}

/** A Configuration Option (RFC 1661 §6). */
export interface PppOption {
  type: number;
  /** The Data field: the option's octets after Type and Length. */
  data: Uint8Array;
}

/**
 * Splits the Data of a Configure-* packet into options. An option whose
 * Length is below 2 or runs past the end fails the whole list: RFC 1661 §6
 * says the packet is then silently discarded.
 *
 * @example
 * ```ts
 * import { decodeOptions } from "./frame.ts";
 * const r = decodeOptions(new Uint8Array([1, 4, 5, 0xd4, 7, 2]));
 * if (!r.ok || r.value.length !== 2 || r.value[1].type !== 7) throw new Error();
 * ```
 */
export function decodeOptions(data: Uint8Array): Result<PppOption[], PppDecodeError> {
  const options: PppOption[] = [];
  let at = 0;
  while (at < data.length) {
    if (data.length - at < 2) return fail("truncated", "option header cut short", at);
    const length = data[at + 1];
    if (length < 2) return fail("bad_option_length", `option Length ${length} < 2`, at + 1);
    if (at + length > data.length) {
      return fail("bad_option_length", `option Length ${length} runs past the packet`, at + 1);
    }
    options.push({ type: data[at], data: data.subarray(at + 2, at + length) });
    at += length;
  }
  return ok(options);
}

/**
 * Encodes a list of options.
 *
 * @throws {RangeError} when an option's data exceeds 253 octets
 * @example
 * ```ts
 * import { encodeOptions } from "./frame.ts";
 * const b = encodeOptions([{ type: 7, data: new Uint8Array(0) }]);
 * if (b.join() !== "7,2") throw new Error();
 * ```
 */
export function encodeOptions(options: readonly PppOption[]): Uint8Array {
  let total = 0;
  for (const o of options) {
    if (o.data.length > 253) throw new RangeError(`option ${o.type} of ${o.data.length} octets`);
    total += 2 + o.data.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const o of options) {
    out[at] = o.type & 0xff;
    out[at + 1] = 2 + o.data.length;
    out.set(o.data, at + 2);
    at += 2 + o.data.length;
  }
  return out;
}

/** True when two options have the same Type and Data. */
export function sameOption(a: PppOption, b: PppOption): boolean {
  if (a.type !== b.type || a.data.length !== b.data.length) return false;
  return a.data.every((v, i) => v === b.data[i]);
}
