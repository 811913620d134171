/**
 * fast-check arbitraries for valid control messages, shared by the codec's
 * property tests and the fuzzers (which mutate valid messages).
 *
 * @module
 */

import fc from "fast-check";
import type { KindValue } from "./avp.ts";
import { AVP_SPECS_BY_KEY, type AvpKey, type AvpKind, type MessageTypeName } from "./avp_types.ts";
import type { AvpFields } from "./message.ts";
import { MESSAGE_SPECS } from "./message_specs.ts";

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u8 = fc.integer({ min: 0, max: 0xff });
// Plain-prototype records, so decoded values compare deep-equal to generated ones.
const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }) =>
  fc.record(model, { noNullPrototype: true });
const text = (min: number) => fc.string({ unit: "grapheme", minLength: min, maxLength: 24 });

/** An arbitrary value of a given AVP kind, within the catalogue's length bounds. */
export function valueOf(
  kind: AvpKind,
  minLength: number,
  maxLength: number,
): fc.Arbitrary<unknown> {
  const arbitraries: { [K in AvpKind]: () => fc.Arbitrary<KindValue[K]> } = {
    u16: () => u16,
    u32: () => u32,
    string: () => text(minLength),
    bytes: () => fc.uint8Array({ minLength, maxLength: Math.min(maxLength, 64) }),
    empty: () => fc.constant(true as const),
    result_code: () =>
      fc.oneof(
        rec({ resultCode: u16 }),
        rec({ resultCode: u16, errorCode: u16 }),
        rec({ resultCode: u16, errorCode: u16, errorMessage: text(1) }),
      ),
    protocol_version: () => rec({ version: u8, revision: u8 }),
    framing_bits: () => rec({ synchronous: fc.boolean(), asynchronous: fc.boolean() }),
    bearer_bits: () => rec({ digital: fc.boolean(), analog: fc.boolean() }),
    q931_cause: () =>
      fc.oneof(
        rec({ causeCode: u16, causeMsg: u8 }),
        rec({ causeCode: u16, causeMsg: u8, advisory: text(1) }),
      ),
    proxy_authen_id: () => u8,
    call_errors: () =>
      rec({
        crcErrors: u32,
        framingErrors: u32,
        hardwareOverruns: u32,
        bufferOverruns: u32,
        timeoutErrors: u32,
        alignmentErrors: u32,
      }),
    accm: () => rec({ sendAccm: u32, receiveAccm: u32 }),
  };
  return arbitraries[kind]();
}

/** An arbitrary value for the AVP named `key`. */
export function fieldValue(key: AvpKey): fc.Arbitrary<unknown> {
  const spec = AVP_SPECS_BY_KEY.get(key)!;
  return valueOf(spec.kind, spec.minLength, spec.maxLength);
}

/** A valid message of `type`: every required AVP and a random subset of the optional ones. */
export function fieldsFor(type: MessageTypeName): fc.Arbitrary<AvpFields> {
  const spec = MESSAGE_SPECS[type];
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const key of [...spec.required, ...spec.optional]) record[key] = fieldValue(key);
  return fc.record(record, {
    requiredKeys: [...spec.required],
    noNullPrototype: true,
  }) as fc.Arbitrary<AvpFields>;
}

/** A message type and valid fields for it. */
export const anyMessage: fc.Arbitrary<{ type: MessageTypeName; fields: AvpFields }> = fc
  .constantFrom(...(Object.keys(MESSAGE_SPECS) as MessageTypeName[]))
  .chain((type) => fieldsFor(type).map((fields) => ({ type, fields })));

/** Header addressing of a control message. */
export const anyAddress = rec({ tunnelId: u16, sessionId: u16, ns: u16, nr: u16 });
