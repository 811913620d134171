/**
 * A JSON-ready description of one L2TP datagram, for `lts decode`, logs and
 * captures: header fields, each AVP with its RFC name and typed value, and
 * every problem found. Pure; never throws on wire input.
 *
 * @module
 */

import { type Avp, readValue } from "./avp.ts";
import { avpSpec } from "./avp_types.ts";
import { decodeHeader } from "./header.ts";
import { decodeControl } from "./message.ts";

/** One AVP as `lts decode` prints it. */
export interface AvpDescription {
  type: number;
  name: string | null;
  vendorId: number;
  mandatory: boolean;
  hidden: boolean;
  /** Typed value; octet strings as lowercase hex; a hidden AVP not revealed is its ciphertext in hex. */
  value: unknown;
  /** Present and false when a hidden AVP was left enciphered. */
  revealed?: boolean;
  /** Why a hidden AVP could not be revealed with the secret given. */
  unrevealable?: string;
}

/** A problem found in a datagram. */
export interface PacketError {
  code: string;
  message: string;
  offset?: number;
}

/** One datagram as `lts decode` prints it (frame and addresses are added by the caller). */
export interface PacketDescription {
  /** Message short name, `"ZLB"`, `"DATA"`, `"UNKNOWN"`, or `null` when the header is unreadable. */
  type: string | null;
  tunnelId: number | null;
  sessionId: number | null;
  ns: number | null;
  nr: number | null;
  /** Length field when present, else the datagram size. */
  length: number;
  avps: AvpDescription[];
  errors: PacketError[];
  /** Malformed AVPs without the M bit: a receiver ignores them (RFC 2661 §7.1). */
  warnings: PacketError[];
}

/** Lowercase hex of some octets. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function jsonValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  return value;
}

/** Describes one AVP: typed value when recognized, hex otherwise. */
export function describeAvp(avp: Avp): AvpDescription {
  const spec = avpSpec(avp.vendorId, avp.attributeType);
  const d: AvpDescription = {
    type: avp.attributeType,
    name: spec?.name ?? null,
    vendorId: avp.vendorId,
    mandatory: avp.mandatory,
    hidden: avp.hidden,
    value: toHex(avp.value),
  };
  if (avp.concealed) {
    d.revealed = false;
    if (avp.unrevealable !== undefined) d.unrevealable = avp.unrevealable;
  } else if (
    spec && !avp.reservedBits && avp.value.length >= spec.minLength &&
    avp.value.length <= spec.maxLength
  ) {
    d.value = jsonValue(readValue(spec.kind, avp.value));
  }
  return d;
}

/**
 * Describes a datagram received on an L2TP port.
 *
 * @example
 * ```ts
 * import { describePacket } from "./describe.ts";
 * const d = describePacket(new Uint8Array([0xc8, 2, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0]));
 * if (d.type !== "ZLB" || d.errors.length !== 0) throw new Error();
 * ```
 */
export function describePacket(
  packet: Uint8Array,
  options: { secret?: Uint8Array } = {},
): PacketDescription {
  const d: PacketDescription = {
    type: null,
    tunnelId: null,
    sessionId: null,
    ns: null,
    nr: null,
    length: packet.length,
    avps: [],
    errors: [],
    warnings: [],
  };
  const h = decodeHeader(packet);
  if (!h.ok) {
    d.errors.push(h.error);
    return d;
  }
  const header = h.value;
  d.tunnelId = header.tunnelId;
  d.sessionId = header.sessionId;
  d.ns = header.ns;
  d.nr = header.nr;
  d.length = header.messageLength;
  if (!header.isControl) {
    d.type = "DATA";
    return d;
  }
  const m = decodeControl(packet, options);
  if (!m.ok) {
    d.errors.push(m.error);
    return d;
  }
  d.type = m.value.type;
  d.avps = m.value.avps.map(describeAvp);
  for (const p of m.value.problems) d.errors.push({ code: p.code, message: p.message });
  for (const w of m.value.warnings) d.warnings.push({ code: w.code, message: w.message });
  return d;
}
