/**
 * The value every wire decoder returns: decoders never throw on wire input.
 *
 * @module
 */

/** Success with a value, or failure with an error value. */
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

/** Why a packet or a field could not be decoded. */
export interface DecodeError {
  /** Stable machine-readable reason, used as a counter label. */
  code: DecodeErrorCode;
  /** Human-readable detail. */
  message: string;
  /** Byte offset in the packet where the problem was found. */
  offset?: number;
}

/** Every reason a decoder can give; one counter label each. */
export type DecodeErrorCode =
  | "truncated"
  | "bad_version"
  | "bad_length"
  | "bad_control_bits"
  | "bad_offset"
  | "avp_length"
  | "missing_message_type"
  | "message_type_not_first"
  | "unknown_message_type"
  | "unknown_mandatory_avp"
  | "bad_avp_value"
  | "hidden_without_random_vector"
  | "hidden_without_secret"
  | "hidden_bad_length"
  | "missing_required_avp";

/** @returns a successful {@link Result}. */
export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

/** @returns a failed {@link Result} carrying a {@link DecodeError}. */
export function fail(
  code: DecodeErrorCode,
  message: string,
  offset?: number,
): { ok: false; error: DecodeError } {
  return { ok: false, error: offset === undefined ? { code, message } : { code, message, offset } };
}
