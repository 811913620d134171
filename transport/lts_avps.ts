/**
 * lts's own vendor AVPs (RFC 2661 §4.1: Vendor ID ≠ 0, attribute types of
 * our choosing). All are sent with M=0, so any peer that does not know them
 * ignores them (§4.1).
 *
 * Vendor ID: 32473, the enterprise number IANA set aside for documentation
 * and examples (RFC 5612), until lts has a Private Enterprise Number of its
 * own. Change {@link LTS_VENDOR_ID} in one place when it does.
 *
 * | Attribute Type | name      | value                       | sent in |
 * | -------------- | --------- | --------------------------- | ------- |
 * | 1              | Hop Count | 2 octets: switches crossed  | ICRQ    |
 *
 * @module
 */

import type { Avp } from "./avp.ts";

/** Vendor ID of lts's AVPs. */
export const LTS_VENDOR_ID = 32473;
/** Attribute Type of the Hop Count AVP. */
export const HOP_COUNT = 1;

/**
 * The Hop Count AVP: how many L2TP switches the call has crossed, counted by
 * each switch as it re-originates the call, so a loop of switches ends.
 *
 * @example
 * ```ts
 * import { hopCountAvp, readHopCount } from "./lts_avps.ts";
 * if (readHopCount([hopCountAvp(2)]) !== 2) throw new Error();
 * ```
 */
export function hopCountAvp(hops: number): Avp {
  return {
    vendorId: LTS_VENDOR_ID,
    attributeType: HOP_COUNT,
    mandatory: false,
    hidden: false,
    value: new Uint8Array([(hops >> 8) & 0xff, hops & 0xff]),
  };
}

/** The Hop Count among `avps`, or 0 when absent or malformed (then the call came from a LAC). */
export function readHopCount(avps: readonly Avp[]): number {
  const avp = avps.find((a) =>
    a.vendorId === LTS_VENDOR_ID && a.attributeType === HOP_COUNT && !a.concealed
  );
  return avp !== undefined && avp.value.length === 2 ? (avp.value[0] << 8) | avp.value[1] : 0;
}
