/**
 * AVP codec (RFC 2661 §4.1, §4.3): the raw AVP layout, hiding, and typed
 * views of the values defined in §4.4.
 *
 * ```
 *  |M|H| rsvd  |      Length       |           Vendor ID           |
 *  |         Attribute Type        |        Attribute Value...
 * ```
 *
 * @module
 */

import { type AvpKind, avpSpec, AvpType } from "./avp_types.ts";
import { get16, put16 } from "./header.ts";
import { md5 } from "./md5.ts";
import { type DecodeError, fail, ok, type Result } from "./result.ts";

/** Octets of the AVP header: flags+Length, Vendor ID, Attribute Type. */
export const AVP_HEADER_LENGTH = 6;
/** Largest AVP (10-bit Length field). */
export const MAX_AVP_LENGTH = 1023;

const M_BIT = 0x80;
const H_BIT = 0x40;
const RESERVED_BITS = 0x3c;

/** One AVP as carried in a control message. */
export interface Avp {
  /** 0 for the IETF AVPs of RFC 2661; otherwise an SMI enterprise number. */
  vendorId: number;
  attributeType: number;
  /** M bit (§4.1). */
  mandatory: boolean;
  /** H bit (§4.3). */
  hidden: boolean;
  /**
   * The Attribute Value in cleartext; for a hidden AVP that could not be
   * revealed (no secret given), the octets as on the wire and `concealed` set.
   */
  value: Uint8Array;
  /** Hidden AVPs: the cleartext padding after the value, kept so re-encoding is exact. */
  padding?: Uint8Array;
  /** Hidden AVP left as ciphertext because no secret was given. */
  concealed?: boolean;
  /** A reserved flag bit was set: the AVP counts as unrecognized (§4.1). */
  reservedBits?: boolean;
  /** Why a hidden AVP could not be revealed although a secret was given (it stays `concealed`). */
  unrevealable?: string;
}

/** Options of {@link decodeAvps}. */
export interface AvpDecodeOptions {
  /** Tunnel shared secret, to reveal hidden AVPs (§4.3). */
  secret?: Uint8Array;
}

/**
 * Splits a control message body into AVPs, revealing hidden ones when a
 * secret is given. Never throws and never reads past `body`. A hidden AVP
 * that cannot be revealed stays `concealed` with the reason in
 * `unrevealable`, so the caller can weigh it by its M bit (§7.1).
 *
 * @param body the octets after the control header, up to the header's Length
 * @param baseOffset offset of `body` in the packet, for error positions
 *
 * @example
 * ```ts
 * import { decodeAvps } from "./avp.ts";
 * const r = decodeAvps(new Uint8Array([0x80, 8, 0, 0, 0, 0, 0, 6]));
 * if (!r.ok || r.value[0].value[1] !== 6) throw new Error();
 * ```
 */
export function decodeAvps(
  body: Uint8Array,
  options: AvpDecodeOptions = {},
  baseOffset = 0,
): Result<Avp[], DecodeError> {
  const avps: Avp[] = [];
  let randomVector: Uint8Array | undefined;
  let at = 0;
  while (at < body.length) {
    if (body.length - at < AVP_HEADER_LENGTH) {
      return fail("avp_length", `${body.length - at} trailing octets, not an AVP`, baseOffset + at);
    }
    const flags = body[at];
    const length = ((flags & 0x03) << 8) | body[at + 1];
    if (length < AVP_HEADER_LENGTH || at + length > body.length) {
      return fail(
        "avp_length",
        `AVP Length ${length} outside 6..${body.length - at}`,
        baseOffset + at,
      );
    }
    const avp: Avp = {
      vendorId: get16(body, at + 2),
      attributeType: get16(body, at + 4),
      mandatory: (flags & M_BIT) !== 0,
      hidden: (flags & H_BIT) !== 0,
      value: body.subarray(at + AVP_HEADER_LENGTH, at + length),
    };
    if ((flags & RESERVED_BITS) !== 0) avp.reservedBits = true;
    if (avp.hidden) {
      if (options.secret === undefined) {
        avp.concealed = true;
      } else if (
        randomVector === undefined ||
        (avp.vendorId === 0 && avp.attributeType === AvpType.RandomVector)
      ) {
        // §4.3: a Random Vector must precede the first hidden AVP, and is never hidden itself.
        avp.concealed = true;
        avp.unrevealable = "no Random Vector precedes it (§4.3)";
      } else {
        const revealed = unhide(avp.attributeType, avp.value, options.secret, randomVector);
        if (revealed.ok) {
          avp.value = revealed.value.value;
          avp.padding = revealed.value.padding;
        } else {
          // Left for the validator, which looks at the M bit (§7.1).
          avp.concealed = true;
          avp.unrevealable = revealed.error.message;
        }
      }
    } else if (avp.vendorId === 0 && avp.attributeType === AvpType.RandomVector) {
      randomVector = avp.value;
    }
    avps.push(avp);
    at += length;
  }
  return ok(avps);
}

/** Thrown by encoders on input our own code built wrongly; wire input never throws. */
export class EncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EncodeError";
  }
}

/** Options of {@link encodeAvps}. */
export interface AvpEncodeOptions {
  /** Tunnel shared secret; required when any AVP has `hidden` set and is not `concealed`. */
  secret?: Uint8Array;
}

/** Wire size of `avp` once encoded. */
export function encodedAvpLength(avp: Avp): number {
  if (!avp.hidden || avp.concealed) return AVP_HEADER_LENGTH + avp.value.length;
  return AVP_HEADER_LENGTH + 2 + avp.value.length + (avp.padding?.length ?? 0);
}

/**
 * Encodes AVPs into `out` at `at`, hiding those with `hidden` set under the
 * Random Vector AVP that most closely precedes them (§4.3); returns the end offset.
 * Throws {@link EncodeError} for an AVP over 1023 octets or a hidden AVP
 * without a preceding Random Vector or secret.
 */
export function writeAvps(
  out: Uint8Array,
  at: number,
  avps: readonly Avp[],
  options: AvpEncodeOptions = {},
): number {
  let randomVector: Uint8Array | undefined;
  for (const avp of avps) {
    const length = encodedAvpLength(avp);
    if (length > MAX_AVP_LENGTH) {
      throw new EncodeError(
        `AVP ${avp.attributeType} of ${length} octets exceeds ${MAX_AVP_LENGTH}`,
      );
    }
    out[at] = (avp.mandatory ? M_BIT : 0) | (avp.hidden ? H_BIT : 0) | (length >> 8);
    out[at + 1] = length & 0xff;
    put16(out, at + 2, avp.vendorId);
    put16(out, at + 4, avp.attributeType);
    const valueAt = at + AVP_HEADER_LENGTH;
    if (avp.hidden && !avp.concealed) {
      if (randomVector === undefined || options.secret === undefined) {
        throw new EncodeError(
          `hidden AVP ${avp.attributeType} needs a preceding Random Vector and a secret`,
        );
      }
      hideInto(out, valueAt, avp, options.secret, randomVector);
    } else {
      out.set(avp.value, valueAt);
      if (avp.vendorId === 0 && avp.attributeType === AvpType.RandomVector) {
        randomVector = avp.value;
      }
    }
    at += length;
  }
  return at;
}

/**
 * Encodes AVPs into a new buffer.
 *
 * @example
 * ```ts
 * import { encodeAvps, decodeAvps } from "./avp.ts";
 * const bytes = encodeAvps([{ vendorId: 0, attributeType: 0, mandatory: true, hidden: false, value: new Uint8Array([0, 6]) }]);
 * if (bytes.length !== 8 || !decodeAvps(bytes).ok) throw new Error();
 * ```
 */
export function encodeAvps(avps: readonly Avp[], options: AvpEncodeOptions = {}): Uint8Array {
  let size = 0;
  for (const avp of avps) size += encodedAvpLength(avp);
  const out = new Uint8Array(size);
  writeAvps(out, 0, avps, options);
  return out;
}

/** Writes the hidden subformat of `avp` (§4.3) enciphered: b1 = MD5(type ‖ S ‖ RV), bi = MD5(S ‖ c(i-1)). */
function hideInto(
  out: Uint8Array,
  at: number,
  avp: Avp,
  secret: Uint8Array,
  randomVector: Uint8Array,
): void {
  const padding = avp.padding ?? new Uint8Array(0);
  const n = 2 + avp.value.length + padding.length;
  put16(out, at, avp.value.length);
  out.set(avp.value, at + 2);
  out.set(padding, at + 2 + avp.value.length);
  const type = new Uint8Array([avp.attributeType >> 8, avp.attributeType & 0xff]);
  let b = md5([type, secret, randomVector]);
  for (let i = 0; i < n; i += 16) {
    const end = Math.min(i + 16, n);
    for (let j = i; j < end; j++) out[at + j] ^= b[j - i];
    if (end < n) b = md5([secret, out.subarray(at + i, at + i + 16)]);
  }
}

/** Reverses {@link hideInto}; fails when the Original Length does not fit. */
function unhide(
  attributeType: number,
  cipher: Uint8Array,
  secret: Uint8Array,
  randomVector: Uint8Array,
): Result<{ value: Uint8Array; padding: Uint8Array }, DecodeError> {
  if (cipher.length < 2) return fail("hidden_bad_length", "hidden value shorter than 2 octets");
  const plain = new Uint8Array(cipher.length);
  const type = new Uint8Array([attributeType >> 8, attributeType & 0xff]);
  let b = md5([type, secret, randomVector]);
  for (let i = 0; i < cipher.length; i += 16) {
    const end = Math.min(i + 16, cipher.length);
    for (let j = i; j < end; j++) plain[j] = cipher[j] ^ b[j - i];
    if (end < cipher.length) b = md5([secret, cipher.subarray(i, i + 16)]);
  }
  const originalLength = get16(plain, 0);
  if (originalLength > plain.length - 2) {
    return fail(
      "hidden_bad_length",
      `hidden Original Length ${originalLength} exceeds ${plain.length - 2} (wrong secret?)`,
    );
  }
  return ok({
    value: plain.subarray(2, 2 + originalLength),
    padding: plain.subarray(2 + originalLength),
  });
}

/** Result Code AVP value (§4.4.2). */
export interface ResultCodeValue {
  resultCode: number;
  errorCode?: number;
  errorMessage?: string;
}

/** Protocol Version AVP value (§4.4.3): version 1, revision 0 for RFC 2661. */
export interface ProtocolVersionValue {
  version: number;
  revision: number;
}

/** Framing Capabilities / Framing Type bit mask (§4.4.3, §4.4.4). */
export interface FramingBits {
  synchronous: boolean;
  asynchronous: boolean;
}

/** Bearer Capabilities / Bearer Type bit mask (§4.4.3, §4.4.4). */
export interface BearerBits {
  digital: boolean;
  analog: boolean;
}

const FRAMING_BITS: readonly FramingBits[] = [0, 1, 2, 3].map((b) =>
  Object.freeze({ synchronous: (b & 1) !== 0, asynchronous: (b & 2) !== 0 })
);
const BEARER_BITS: readonly BearerBits[] = [0, 1, 2, 3].map((b) =>
  Object.freeze({ digital: (b & 1) !== 0, analog: (b & 2) !== 0 })
);

/** Q.931 Cause Code AVP value (§4.4.4). */
export interface Q931CauseValue {
  causeCode: number;
  causeMsg: number;
  advisory?: string;
}

/** Call Errors AVP value (§4.4.6). */
export interface CallErrorsValue {
  crcErrors: number;
  framingErrors: number;
  hardwareOverruns: number;
  bufferOverruns: number;
  timeoutErrors: number;
  alignmentErrors: number;
}

/** ACCM AVP value (§4.4.6). */
export interface AccmValue {
  sendAccm: number;
  receiveAccm: number;
}

/** The TypeScript type of each value kind. */
export interface KindValue {
  u16: number;
  u32: number;
  string: string;
  bytes: Uint8Array;
  empty: true;
  result_code: ResultCodeValue;
  protocol_version: ProtocolVersionValue;
  framing_bits: FramingBits;
  bearer_bits: BearerBits;
  q931_cause: Q931CauseValue;
  proxy_authen_id: number;
  call_errors: CallErrorsValue;
  accm: AccmValue;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const latin1 = new TextDecoder("latin1");

/** Text of an octet string: UTF-8 when it is valid UTF-8, else one character per octet. */
export function readText(v: Uint8Array): string {
  try {
    return utf8.decode(v);
  } catch {
    return latin1.decode(v);
  }
}
const utf8Encoder = new TextEncoder();

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
}

function put32(out: Uint8Array, at: number, v: number): void {
  out[at] = (v >>> 24) & 0xff;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

/**
 * Reads a value of `kind` from its octets. Lengths must already be within the
 * catalogue's bounds (the validator checks them first).
 */
export function readValue<K extends AvpKind>(kind: K, v: Uint8Array): KindValue[K] {
  return readAny(kind, v) as KindValue[K];
}

function readAny(kind: AvpKind, v: Uint8Array): KindValue[AvpKind] {
  switch (kind) {
    case "u16":
      return get16(v, 0);
    case "u32":
      return u32(v, 0);
    case "string":
      return readText(v);
    case "bytes":
      return v;
    case "empty":
      return true;
    case "result_code": {
      const r: ResultCodeValue = { resultCode: get16(v, 0) };
      if (v.length >= 4) r.errorCode = get16(v, 2);
      if (v.length > 4) r.errorMessage = readText(v.subarray(4));
      return r;
    }
    case "protocol_version":
      return { version: v[0], revision: v[1] };
    // Four values each: shared frozen objects, not two more allocations per call kept for its life.
    case "framing_bits":
      return FRAMING_BITS[v[3] & 3];
    case "bearer_bits":
      return BEARER_BITS[v[3] & 3];
    case "q931_cause": {
      const q: Q931CauseValue = { causeCode: get16(v, 0), causeMsg: v[2] };
      if (v.length > 3) q.advisory = readText(v.subarray(3));
      return q;
    }
    case "proxy_authen_id":
      return v[1];
    case "call_errors":
      return {
        crcErrors: u32(v, 2),
        framingErrors: u32(v, 6),
        hardwareOverruns: u32(v, 10),
        bufferOverruns: u32(v, 14),
        timeoutErrors: u32(v, 18),
        alignmentErrors: u32(v, 22),
      };
    case "accm":
      return { sendAccm: u32(v, 2), receiveAccm: u32(v, 6) };
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** Encodes a value of `kind` into its octets (inverse of {@link readValue}). */
export function writeValue<K extends AvpKind>(kind: K, value: KindValue[K]): Uint8Array {
  return writeAny(kind, value);
}

function writeAny(kind: AvpKind, value: KindValue[AvpKind]): Uint8Array {
  switch (kind) {
    case "u16": {
      const out = new Uint8Array(2);
      put16(out, 0, value as number);
      return out;
    }
    case "u32": {
      const out = new Uint8Array(4);
      put32(out, 0, value as number);
      return out;
    }
    case "string":
      return utf8Encoder.encode(value as string);
    case "bytes":
      return value as Uint8Array;
    case "empty":
      return new Uint8Array(0);
    case "result_code": {
      const r = value as ResultCodeValue;
      const message = r.errorMessage === undefined ? undefined : utf8Encoder.encode(r.errorMessage);
      const hasError = r.errorCode !== undefined || message !== undefined;
      const out = new Uint8Array(2 + (hasError ? 2 : 0) + (message?.length ?? 0));
      put16(out, 0, r.resultCode);
      if (hasError) put16(out, 2, r.errorCode ?? 0);
      if (message) out.set(message, 4);
      return out;
    }
    case "protocol_version": {
      const p = value as ProtocolVersionValue;
      return new Uint8Array([p.version, p.revision]);
    }
    case "framing_bits": {
      const f = value as FramingBits;
      return new Uint8Array([0, 0, 0, (f.synchronous ? 1 : 0) | (f.asynchronous ? 2 : 0)]);
    }
    case "bearer_bits": {
      const b = value as BearerBits;
      return new Uint8Array([0, 0, 0, (b.digital ? 1 : 0) | (b.analog ? 2 : 0)]);
    }
    case "q931_cause": {
      const q = value as Q931CauseValue;
      const advisory = q.advisory === undefined
        ? new Uint8Array(0)
        : utf8Encoder.encode(q.advisory);
      const out = new Uint8Array(3 + advisory.length);
      put16(out, 0, q.causeCode);
      out[2] = q.causeMsg;
      out.set(advisory, 3);
      return out;
    }
    case "proxy_authen_id":
      return new Uint8Array([0, (value as number) & 0xff]);
    case "call_errors": {
      const c = value as CallErrorsValue;
      const out = new Uint8Array(26);
      put32(out, 2, c.crcErrors);
      put32(out, 6, c.framingErrors);
      put32(out, 10, c.hardwareOverruns);
      put32(out, 14, c.bufferOverruns);
      put32(out, 18, c.timeoutErrors);
      put32(out, 22, c.alignmentErrors);
      return out;
    }
    case "accm": {
      const a = value as AccmValue;
      const out = new Uint8Array(10);
      put32(out, 2, a.sendAccm);
      put32(out, 6, a.receiveAccm);
      return out;
    }
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** Whether an AVP is one this codec recognizes (IETF, type defined, no reserved bits). */
export function isRecognized(avp: Avp): boolean {
  return !avp.reservedBits && avpSpec(avp.vendorId, avp.attributeType) !== undefined;
}
