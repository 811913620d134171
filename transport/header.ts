/**
 * The L2TP header (RFC 2661 §3.1), shared by control and data messages.
 *
 * ```
 *  |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
 *  |           Tunnel ID           |           Session ID          |
 *  |             Ns (opt)          |             Nr (opt)          |
 *  |      Offset Size (opt)        |    Offset pad... (opt)
 * ```
 *
 * @module
 */

import { type DecodeError, fail, ok, type Result } from "./result.ts";

/** The only header version this codec speaks (RFC 2661 §3.1). */
export const L2TP_VERSION = 2;
/** The IANA UDP port for L2TP (RFC 2661 §8.1). */
export const L2TP_PORT = 1701;
/** Size of a control header: flags, Length, Tunnel ID, Session ID, Ns, Nr. */
export const CONTROL_HEADER_LENGTH = 12;

const T_BIT = 0x8000;
const L_BIT = 0x4000;
const S_BIT = 0x0800;
const O_BIT = 0x0200;
const P_BIT = 0x0100;
const VER_MASK = 0x000f;

/** A decoded L2TP header. Optional fields are `null` when their bit is clear. */
export interface L2tpHeader {
  /** T bit: control (1) or data (0) message. */
  isControl: boolean;
  /** P bit: data message asks for preferential treatment (RFC 2661 §3.1). */
  priority: boolean;
  /** Length field (L bit), the total message length in octets. */
  length: number | null;
  /** Tunnel ID of the recipient. */
  tunnelId: number;
  /** Session ID of the recipient; 0 for tunnel-wide control messages. */
  sessionId: number;
  /** Ns (S bit). */
  ns: number | null;
  /** Nr (S bit); reserved and ignored on data messages. */
  nr: number | null;
  /** Offset Size (O bit). */
  offsetSize: number | null;
  /** Octets from the start of the packet to the payload (AVPs or PPP frame). */
  payloadOffset: number;
  /** Octets of the message: Length when present, else the datagram size. */
  messageLength: number;
}

/**
 * Decodes the header of one datagram. Never throws; rejects versions other
 * than 2 (`bad_version`: 1 is L2F, 3 is L2TPv3), control messages without
 * T=L=S=1 or with O/P set, and Length or Offset Size beyond the datagram.
 *
 * @example
 * ```ts
 * import { decodeHeader } from "./header.ts";
 * const zlb = new Uint8Array([0xc8, 0x02, 0, 12, 0, 7, 0, 0, 0, 1, 0, 2]);
 * const r = decodeHeader(zlb);
 * if (!r.ok || r.value.tunnelId !== 7 || r.value.nr !== 2) throw new Error();
 * ```
 */
export function decodeHeader(packet: Uint8Array): Result<L2tpHeader, DecodeError> {
  if (packet.length < 6) return fail("truncated", `datagram of ${packet.length} octets`, 0);
  const flags = (packet[0] << 8) | packet[1];
  const version = flags & VER_MASK;
  if (version !== L2TP_VERSION) {
    const what = version === 1 ? " (L2F)" : version === 3 ? " (L2TPv3)" : "";
    return fail("bad_version", `Ver=${version}${what}`, 1);
  }
  const isControl = (flags & T_BIT) !== 0;
  const hasLength = (flags & L_BIT) !== 0;
  const hasSequence = (flags & S_BIT) !== 0;
  const hasOffset = (flags & O_BIT) !== 0;
  const priority = (flags & P_BIT) !== 0;
  // RFC 2661 §3.1: control messages MUST have L=1 and S=1, O=0 and P=0.
  if (isControl && (!hasLength || !hasSequence || hasOffset || priority)) {
    return fail("bad_control_bits", "control message needs T=L=S=1 and O=P=0", 0);
  }
  let at = 2;
  let length: number | null = null;
  if (hasLength) {
    length = (packet[2] << 8) | packet[3];
    at = 4;
  }
  const fixedEnd = at + 4 + (hasSequence ? 4 : 0) + (hasOffset ? 2 : 0);
  if (packet.length < fixedEnd) {
    return fail("truncated", `header needs ${fixedEnd} octets, datagram has ${packet.length}`, at);
  }
  const messageLength = length ?? packet.length;
  if (length !== null && (length < fixedEnd || length > packet.length)) {
    return fail(
      "bad_length",
      `Length ${length} outside header size ${fixedEnd}..datagram size ${packet.length}`,
      2,
    );
  }
  const tunnelId = (packet[at] << 8) | packet[at + 1];
  const sessionId = (packet[at + 2] << 8) | packet[at + 3];
  at += 4;
  let ns: number | null = null;
  let nr: number | null = null;
  if (hasSequence) {
    ns = (packet[at] << 8) | packet[at + 1];
    nr = (packet[at + 2] << 8) | packet[at + 3];
    at += 4;
  }
  let offsetSize: number | null = null;
  if (hasOffset) {
    offsetSize = (packet[at] << 8) | packet[at + 1];
    at += 2;
    // The payload starts Offset Size octets past the Offset Size field (§3.1).
    if (at + offsetSize > messageLength) {
      return fail("bad_offset", `Offset Size ${offsetSize} runs past the message`, at - 2);
    }
    at += offsetSize;
  }
  return ok({
    isControl,
    priority,
    length,
    tunnelId,
    sessionId,
    ns,
    nr,
    offsetSize,
    payloadOffset: at,
    messageLength,
  });
}

/** Fields of a control header (T=L=S=1). */
export interface ControlHeaderFields {
  tunnelId: number;
  sessionId: number;
  ns: number;
  nr: number;
  /** Total message length including this 12-octet header. */
  length: number;
}

/**
 * Writes a 12-octet control header at `out[0..12)`.
 *
 * @example
 * ```ts
 * import { writeControlHeader } from "./header.ts";
 * const out = new Uint8Array(12);
 * writeControlHeader(out, { tunnelId: 7, sessionId: 0, ns: 1, nr: 2, length: 12 });
 * if (out[0] !== 0xc8 || out[1] !== 0x02) throw new Error();
 * ```
 */
export function writeControlHeader(out: Uint8Array, h: ControlHeaderFields): void {
  out[0] = 0xc8; // T=1 L=1 S=1
  out[1] = L2TP_VERSION;
  put16(out, 2, h.length);
  put16(out, 4, h.tunnelId);
  put16(out, 6, h.sessionId);
  put16(out, 8, h.ns);
  put16(out, 10, h.nr);
}

/** Options of a data header: which optional fields to carry. */
export interface DataHeaderFields {
  tunnelId: number;
  sessionId: number;
  /** Carry the Length field (L bit). */
  withLength?: boolean;
  /** Ns for sequenced data (S bit); Nr is sent as 0 (reserved, §3.1). */
  ns?: number;
  /** Carry an Offset Size field with this many pad octets (O bit). */
  offsetSize?: number;
  /** P bit. */
  priority?: boolean;
}

/** Size of the data header that {@link writeDataHeader} writes for `h`. */
export function dataHeaderLength(h: DataHeaderFields): number {
  return 6 + (h.withLength ? 2 : 0) + (h.ns !== undefined ? 4 : 0) +
    (h.offsetSize !== undefined ? 2 + h.offsetSize : 0);
}

/**
 * Writes a data header at `out[0..)`, given the payload size; returns the
 * header length. Offset padding is written as zeros.
 *
 * @example
 * ```ts
 * import { writeDataHeader } from "./header.ts";
 * const out = new Uint8Array(16);
 * const n = writeDataHeader(out, { tunnelId: 1, sessionId: 2 }, 10);
 * if (n !== 6) throw new Error();
 * ```
 */
export function writeDataHeader(
  out: Uint8Array,
  h: DataHeaderFields,
  payloadLength: number,
): number {
  const headerLength = dataHeaderLength(h);
  let flags = L2TP_VERSION;
  if (h.withLength) flags |= L_BIT;
  if (h.ns !== undefined) flags |= S_BIT;
  if (h.offsetSize !== undefined) flags |= O_BIT;
  if (h.priority) flags |= P_BIT;
  put16(out, 0, flags);
  let at = 2;
  if (h.withLength) {
    put16(out, at, headerLength + payloadLength);
    at += 2;
  }
  put16(out, at, h.tunnelId);
  put16(out, at + 2, h.sessionId);
  at += 4;
  if (h.ns !== undefined) {
    put16(out, at, h.ns);
    put16(out, at + 2, 0);
    at += 4;
  }
  if (h.offsetSize !== undefined) {
    put16(out, at, h.offsetSize);
    at += 2;
    out.fill(0, at, at + h.offsetSize);
    at += h.offsetSize;
  }
  return at;
}

/** Writes a big-endian 16-bit value. */
export function put16(out: Uint8Array, at: number, v: number): void {
  out[at] = (v >>> 8) & 0xff;
  out[at + 1] = v & 0xff;
}

/** Reads a big-endian 16-bit value. */
export function get16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}
