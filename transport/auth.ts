/**
 * Tunnel authentication (RFC 2661 §4.2 Challenge/Challenge Response, §5.1.1):
 * a CHAP-like exchange where the response is
 * MD5(Message Type octet ‖ secret ‖ challenge), the octet being 2 in an SCCRP
 * (answering the SCCRQ's Challenge) and 3 in an SCCCN (answering the SCCRP's).
 *
 * @module
 */

import { MessageType } from "./avp_types.ts";
import { md5 } from "./md5.ts";

/** Messages that carry a Challenge Response. */
export type RespondingMessage = "SCCRP" | "SCCCN";

/**
 * The Challenge Response AVP value for `challenge`, sent in `message`.
 *
 * @example
 * ```ts
 * import { challengeResponse } from "./auth.ts";
 * const secret = new TextEncoder().encode("s3cret");
 * const r = challengeResponse("SCCRP", secret, new Uint8Array([1, 2, 3]));
 * if (r.length !== 16) throw new Error();
 * ```
 */
export function challengeResponse(
  message: RespondingMessage,
  secret: Uint8Array,
  challenge: Uint8Array,
): Uint8Array {
  return md5([new Uint8Array([MessageType[message]]), secret, challenge]);
}

/** Compares a received Challenge Response with the expected one in constant time. */
export function verifyChallengeResponse(
  message: RespondingMessage,
  secret: Uint8Array,
  challenge: Uint8Array,
  response: Uint8Array,
): boolean {
  const expected = challengeResponse(message, secret, challenge);
  if (response.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ response[i];
  return diff === 0;
}
