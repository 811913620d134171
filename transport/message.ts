/**
 * Control messages (RFC 2661 §3.2, §6): decode, validate against the spec
 * tables, typed field access, build and encode. ZLB acknowledgements (§5.8)
 * are control messages without AVPs.
 *
 * @module
 */

import {
  type Avp,
  type AvpDecodeOptions,
  type AvpEncodeOptions,
  decodeAvps,
  encodedAvpLength,
  EncodeError,
  isRecognized,
  type KindValue,
  readValue,
  writeAvps,
  writeValue,
} from "./avp.ts";
import {
  AVP_SPECS_BY_KEY,
  type AvpKey,
  type AvpKindOf,
  type AvpSpec,
  avpSpec,
  AvpType,
  ErrorCode,
  MessageType,
  type MessageTypeName,
  messageTypeName,
} from "./avp_types.ts";
import {
  CONTROL_HEADER_LENGTH,
  decodeHeader,
  get16,
  type L2tpHeader,
  writeControlHeader,
} from "./header.ts";
import { MESSAGE_SPECS, type MessageScope } from "./message_specs.ts";
import { type DecodeError, fail, ok, type Result } from "./result.ts";

/** The typed value of every IETF AVP, by field key; all optional. */
export type AvpFields = { [K in AvpKey]?: KindValue[AvpKindOf<K>] };

/** A problem the validator found in an otherwise well-formed message. */
export interface MessageProblem {
  code: "unknown_mandatory_avp" | "missing_required_avp" | "bad_avp_value";
  vendorId: number;
  attributeType: number;
  message: string;
  /** The General Error Code to report (§4.4.2): 8 for an unknown M-bit AVP, 2 for a bad length. */
  errorCode: number;
}

/** A decoded control message. */
export interface ControlMessage {
  header: L2tpHeader;
  /**
   * The RFC short name; `"ZLB"` for an acknowledgement with no AVPs;
   * `"UNKNOWN"` for a type this codec does not know sent with M=0, which
   * may be ignored (§4.4.1).
   */
  type: MessageTypeName | "ZLB" | "UNKNOWN";
  /** The Message Type value, or `null` for a ZLB. */
  messageTypeCode: number | null;
  /** The AVPs in wire order, Message Type first. */
  avps: Avp[];
  /** Faults that clear the session or tunnel (see {@link validateMessage}); empty when valid. */
  problems: MessageProblem[];
  /** Malformed AVPs without the M bit, ignored as §7.1 says; worth a log line. */
  warnings: MessageProblem[];
  /** Whether a problem concerns the tunnel or one session (§4.1). */
  scope: MessageScope;
}

/**
 * Decodes one control datagram: header (T=L=S=1), AVPs (revealing hidden ones
 * with `options.secret`), Message Type first (§4.4.1), then validation
 * against the spec table. Structural faults fail; an unknown mandatory AVP,
 * a missing required AVP or a value of the wrong length are reported in
 * `problems` so the caller can answer with StopCCN or CDN as §4.1 says.
 * Never throws on wire input.
 *
 * @example
 * ```ts
 * import { buildAvps, decodeControl, encodeControl } from "./message.ts";
 * const avps = buildAvps("HELLO", {});
 * const bytes = encodeControl({ tunnelId: 1, sessionId: 0, ns: 0, nr: 0 }, avps);
 * const r = decodeControl(bytes);
 * if (!r.ok || r.value.type !== "HELLO") throw new Error();
 * ```
 */
export function decodeControl(
  packet: Uint8Array,
  options: AvpDecodeOptions = {},
): Result<ControlMessage, DecodeError> {
  const h = decodeHeader(packet);
  if (!h.ok) return h;
  const header = h.value;
  if (!header.isControl) return fail("bad_control_bits", "T bit clear: a data message", 0);
  const body = packet.subarray(header.payloadOffset, header.messageLength);
  if (body.length === 0) {
    return ok({
      header,
      type: "ZLB",
      messageTypeCode: null,
      avps: [],
      problems: [],
      warnings: [],
      scope: "tunnel",
    });
  }
  const decoded = decodeAvps(body, options, header.payloadOffset);
  if (!decoded.ok) return decoded;
  const avps = decoded.value;
  const first = avps[0];
  if (first.vendorId !== 0 || first.attributeType !== AvpType.MessageType) {
    const elsewhere = avps.some((a) => a.vendorId === 0 && a.attributeType === AvpType.MessageType);
    return elsewhere
      ? fail(
        "message_type_not_first",
        "Message Type AVP is not the first AVP (§4.4.1)",
        header.payloadOffset,
      )
      : fail("missing_message_type", "no Message Type AVP (§4.4.1)", header.payloadOffset);
  }
  if (first.hidden || first.value.length !== 2) {
    return fail(
      "missing_message_type",
      "Message Type AVP hidden or not 2 octets",
      header.payloadOffset,
    );
  }
  const code = get16(first.value, 0);
  const name = messageTypeName(code);
  if (name === undefined) {
    if (first.mandatory) {
      return fail(
        "unknown_message_type",
        `unknown Message Type ${code} with M=1 (§4.4.1)`,
        header.payloadOffset,
      );
    }
    return ok({
      header,
      type: "UNKNOWN",
      messageTypeCode: code,
      avps,
      problems: [],
      warnings: [],
      scope: "tunnel",
    });
  }
  const spec = MESSAGE_SPECS[name];
  return ok({
    header,
    type: name,
    messageTypeCode: code,
    avps,
    ...validateMessage(name, avps),
    scope: spec.scope,
  });
}

/** What {@link validateMessage} found. */
export interface Validation {
  /** Faults that clear the session or tunnel: unknown or malformed AVPs with the M bit, missing required AVPs. */
  problems: MessageProblem[];
  /** Malformed AVPs without the M bit: ignored as if absent, to be logged (§7.1). */
  warnings: MessageProblem[];
}

/**
 * Checks AVPs against the spec table of `type` (§6): every required AVP
 * present, every known AVP's value well formed (§4.4 lengths, hiding allowed,
 * reserved octets), no unrecognized AVP with the M bit (§4.1). Unrecognized
 * AVPs without the M bit and known AVPs the table does not list are accepted
 * (§4.1: ignored); malformed AVPs without the M bit are warnings (§7.1).
 */
export function validateMessage(type: MessageTypeName, avps: readonly Avp[]): Validation {
  const problems: MessageProblem[] = [];
  const warnings: MessageProblem[] = [];
  const present = new Set<number>();
  const problem = (avp: Avp, code: MessageProblem["code"], message: string, errorCode: number) => {
    // §7.1: a malformed AVP with the M bit clears the session or tunnel; without it, it is
    // ignored (and logged) as if it were unrecognized.
    (avp.mandatory ? problems : warnings).push({
      code,
      vendorId: avp.vendorId,
      attributeType: avp.attributeType,
      message,
      errorCode,
    });
  };
  for (const avp of avps) {
    const spec = avpSpec(avp.vendorId, avp.attributeType);
    if (!isRecognized(avp) || spec === undefined) {
      if (avp.mandatory) {
        problem(
          avp,
          "unknown_mandatory_avp",
          `unrecognized AVP ${avp.vendorId}:${avp.attributeType} with the M bit (§4.1)`,
          ErrorCode.UnknownMandatoryAvp,
        );
      }
      continue;
    }
    if (avp.unrevealable !== undefined) {
      problem(
        avp,
        "bad_avp_value",
        `hidden ${spec.name} not revealed: ${avp.unrevealable}`,
        ErrorCode.ValueOutOfRange,
      );
      continue;
    }
    if (avp.hidden && !spec.hideable) {
      problem(
        avp,
        "bad_avp_value",
        `${spec.name} MUST NOT be hidden (${spec.section})`,
        ErrorCode.ValueOutOfRange,
      );
      continue;
    }
    if (avp.concealed) {
      present.add(spec.type);
      continue;
    }
    const malformed = valueFault(avp, spec);
    if (malformed !== undefined) {
      problem(avp, "bad_avp_value", malformed.message, malformed.errorCode);
      continue;
    }
    present.add(spec.type);
  }
  for (const key of MESSAGE_SPECS[type].required) {
    const spec = AVP_SPECS_BY_KEY.get(key)!;
    if (!present.has(spec.type)) {
      problems.push({
        code: "missing_required_avp",
        vendorId: 0,
        attributeType: spec.type,
        message: `${type} without ${spec.name} (${MESSAGE_SPECS[type].section})`,
        errorCode: ErrorCode.NoError,
      });
    }
  }
  return { problems, warnings };
}

/** Why a revealed, recognized AVP's value is malformed, or `undefined` when it is well formed. */
function valueFault(avp: Avp, spec: AvpSpec): { message: string; errorCode: number } | undefined {
  const length = avp.value.length;
  // Result Code is 2 octets, or 4 with an Error Code, or more with an error message (§4.4.2).
  if (
    length < spec.minLength || length > spec.maxLength ||
    (spec.kind === "result_code" && length === 3)
  ) {
    return {
      message:
        `${spec.name} value of ${length} octets, expected ${spec.minLength}..${spec.maxLength} (${spec.section})`,
      errorCode: ErrorCode.LengthWrong,
    };
  }
  // Proxy Authen ID: "the most significant octet MUST be 0" (§4.4.5).
  if (spec.kind === "proxy_authen_id" && avp.value[0] !== 0) {
    return {
      message: `${spec.name} with a non-zero reserved octet (${spec.section})`,
      errorCode: ErrorCode.ValueOutOfRange,
    };
  }
  return undefined;
}

/**
 * Typed values of the recognized, revealed AVPs of a message; the first
 * occurrence wins, malformed values are left out.
 *
 * @example
 * ```ts
 * import { buildAvps, fieldsOf } from "./message.ts";
 * const f = fieldsOf(buildAvps("ICRP", { assignedSessionId: 9 }));
 * if (f.assignedSessionId !== 9) throw new Error();
 * ```
 */
export function fieldsOf(avps: readonly Avp[]): AvpFields {
  const fields: Record<string, unknown> = {};
  for (const avp of avps) {
    if (avp.concealed || !isRecognized(avp)) continue;
    const spec = avpSpec(avp.vendorId, avp.attributeType)!;
    if (spec.key in fields) continue;
    if (valueFault(avp, spec) !== undefined) continue;
    fields[spec.key] = readValue(spec.kind, avp.value);
  }
  return fields as AvpFields;
}

/** Options of {@link buildAvps}. */
export interface BuildOptions {
  /** Field keys to send hidden (§4.3); a Random Vector AVP is put before the first. */
  hide?: readonly AvpKey[];
  /** AVPs appended as they are (vendor AVPs, relayed unknown AVPs). */
  extra?: readonly Avp[];
  /** Random source for the Random Vector and hiding padding; `crypto.getRandomValues` by default. */
  random?: (n: number) => Uint8Array;
}

function defaultRandom(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** No AVP to hide. */
const NO_KEYS: ReadonlySet<AvpKey> = new Set();

/**
 * Builds the AVP list of a `type` message from typed fields, Message Type
 * first, then the fields in the order given, each with the M bit RFC 2661
 * sets for it. `messageType` in `fields` is ignored.
 *
 * @example
 * ```ts
 * import { buildAvps } from "./message.ts";
 * const avps = buildAvps("CDN", { resultCode: { resultCode: 3 }, assignedSessionId: 4 });
 * if (avps.length !== 3) throw new Error();
 * ```
 */
export function buildAvps(
  type: MessageTypeName,
  fields: AvpFields,
  options: BuildOptions = {},
): Avp[] {
  const random = options.random ?? defaultRandom;
  const hide: ReadonlySet<AvpKey> = options.hide === undefined || options.hide.length === 0
    ? NO_KEYS
    : new Set(options.hide);
  const avps: Avp[] = [{
    vendorId: 0,
    attributeType: AvpType.MessageType,
    mandatory: true,
    hidden: false,
    value: writeValue("u16", MessageType[type]),
  }];
  let needVector = hide.size > 0;
  const values = fields as Record<string, unknown>;
  // for…in, not Object.entries: no array per field on every message sent.
  for (const k in values) {
    const key = k as AvpKey;
    const value = values[k];
    if (value === undefined || key === "messageType") continue;
    const spec = AVP_SPECS_BY_KEY.get(key)!;
    const bytes = writeValue(spec.kind, value as never);
    const hidden = hide.has(key) && spec.hideable;
    if (hidden && needVector) {
      avps.push({
        vendorId: 0,
        attributeType: AvpType.RandomVector,
        mandatory: true,
        hidden: false,
        value: random(16),
      });
      needVector = false;
    }
    const avp: Avp = {
      vendorId: 0,
      attributeType: spec.type,
      mandatory: spec.mandatory,
      hidden,
      value: bytes,
    };
    // Pad the hidden subformat to a multiple of 16 octets to mask the length (§4.3).
    if (hidden) avp.padding = random((16 - ((2 + bytes.length) % 16)) % 16);
    avps.push(avp);
  }
  if (options.extra) avps.push(...options.extra);
  return avps;
}

/** Addressing and sequence numbers of a control message header. */
export interface ControlAddress {
  tunnelId: number;
  sessionId: number;
  ns: number;
  nr: number;
}

/**
 * Encodes a control message: header with Length, then the AVPs, hiding those
 * marked hidden with `options.secret`. An empty AVP list gives a ZLB.
 *
 * @example
 * ```ts
 * import { encodeControl } from "./message.ts";
 * const zlb = encodeControl({ tunnelId: 3, sessionId: 0, ns: 5, nr: 6 }, []);
 * if (zlb.length !== 12) throw new Error();
 * ```
 */
export function encodeControl(
  address: ControlAddress,
  avps: readonly Avp[],
  options: AvpEncodeOptions = {},
): Uint8Array {
  let length = CONTROL_HEADER_LENGTH;
  for (const avp of avps) length += encodedAvpLength(avp);
  if (length > 0xffff) {
    throw new EncodeError(`control message of ${length} octets exceeds the 16-bit Length`);
  }
  const out = new Uint8Array(length);
  writeControlHeader(out, { ...address, length });
  writeAvps(out, CONTROL_HEADER_LENGTH, avps, options);
  return out;
}
