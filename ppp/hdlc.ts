/**
 * PPP in HDLC-like framing on an asynchronous link (RFC 1662 §3–§4, §6–§7):
 * what pppd speaks on a serial line or a pty, and what xl2tpd converts to and
 * from the synchronous frames L2TP carries (RFC 2661 §1).
 *
 * ```
 * 7e | escaped( Address Control Protocol Information | FCS-16 LE ) | 7e
 * ```
 *
 * - The FCS is the 16-bit CRC of RFC 1662 Appendix C (CRC-16/X.25), sent
 *   complemented, least significant octet first; over a good frame and its
 *   FCS the CRC is {@link FCS16_GOOD}.
 * - Octet stuffing (§4.2): 0x7e and 0x7d, and every octet below 0x20 whose
 *   bit is set in the Async-Control-Character-Map, go as 0x7d followed by the
 *   octet XOR 0x20.
 *
 * The decoder is a stream decoder: it takes octets as the link delivers them,
 * in chunks of any size, and returns whole frames (without FCS) and what it
 * discarded. It never throws on link input, resynchronises on the next flag
 * after garbage, and holds at most `maxFrameOctets` octets.
 *
 * @example
 * ```ts
 * import { encodeHdlc, HdlcDecoder } from "./hdlc.ts";
 * const frame = new Uint8Array([0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0]);
 * const wire = encodeHdlc(frame);
 * const { frames, errors } = new HdlcDecoder().push(wire);
 * if (errors.length !== 0 || frames[0].join() !== frame.join()) throw new Error();
 * ```
 *
 * @module
 */

/** Flag Sequence (RFC 1662 §4.1). */
export const HDLC_FLAG = 0x7e;
/** Control Escape (RFC 1662 §4.2). */
export const HDLC_ESCAPE = 0x7d;
/** Initial FCS-16 value (RFC 1662 Appendix C.2). */
export const FCS16_INIT = 0xffff;
/** FCS-16 over a frame and its own (complemented) FCS (RFC 1662 Appendix C.2). */
export const FCS16_GOOD = 0xf0b8;
/** The ACCM every link starts with: all 32 control characters escaped (RFC 1662 §7.1). */
export const DEFAULT_ACCM = 0xffffffff;

/** The FCS-16 lookup table, generated as RFC 1662 Appendix C.2 does (polynomial 0x8408). */
const FCS16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let b = 0; b < 256; b++) {
    let v = b;
    for (let i = 0; i < 8; i++) v = v & 1 ? (v >>> 1) ^ 0x8408 : v >>> 1;
    table[b] = v;
  }
  return table;
})();

/**
 * Runs the FCS-16 of RFC 1662 Appendix C.2 over `data`, starting from `fcs`.
 * The FCS a sender appends is the complement of `fcs16(frame)`.
 *
 * @example
 * ```ts
 * import { fcs16 } from "./hdlc.ts";
 * // The CRC-16/X.25 check value: "123456789" → 0x906e once complemented.
 * const crc = fcs16(new TextEncoder().encode("123456789")) ^ 0xffff;
 * if (crc !== 0x906e) throw new Error();
 * ```
 */
export function fcs16(data: Uint8Array, fcs: number = FCS16_INIT): number {
  let v = fcs;
  for (let i = 0; i < data.length; i++) v = (v >>> 8) ^ FCS16_TABLE[(v ^ data[i]) & 0xff];
  return v;
}

/** Options of {@link encodeHdlc}. */
export interface EncodeHdlcOptions {
  /**
   * The peer's receive ACCM (RFC 1662 §7.1, RFC 1661 §6.2 option 2): bit n
   * set escapes octet n below 0x20. Default {@link DEFAULT_ACCM}.
   */
  accm?: number;
}

/**
 * Frames one PPP frame (Address and Control fields included when sent) for
 * an asynchronous link: FCS-16, octet stuffing, and a Flag at both ends.
 *
 * @example
 * ```ts
 * import { encodeHdlc } from "./hdlc.ts";
 * const wire = encodeHdlc(new Uint8Array([0xff, 0x03, 0x7e, 0x01]), { accm: 0 });
 * // 0x7e inside the frame goes as 7d 5e; the FCS and both flags frame it.
 * if (wire[0] !== 0x7e || wire[3] !== 0x7d || wire[4] !== 0x5e || wire.at(-1) !== 0x7e) {
 *   throw new Error();
 * }
 * ```
 */
export function encodeHdlc(frame: Uint8Array, options: EncodeHdlcOptions = {}): Uint8Array {
  const accm = (options.accm ?? DEFAULT_ACCM) >>> 0;
  const fcs = fcs16(frame) ^ 0xffff;
  // At worst every octet doubles, plus two flags.
  const out = new Uint8Array(2 * (frame.length + 2) + 2);
  let n = 0;
  const put = (b: number) => {
    if (b === HDLC_FLAG || b === HDLC_ESCAPE || (b < 0x20 && (accm >>> b) & 1)) {
      out[n++] = HDLC_ESCAPE;
      out[n++] = b ^ 0x20;
    } else {
      out[n++] = b;
    }
  };
  out[n++] = HDLC_FLAG;
  for (let i = 0; i < frame.length; i++) put(frame[i]);
  put(fcs & 0xff);
  put(fcs >>> 8);
  out[n++] = HDLC_FLAG;
  return out.slice(0, n);
}

/** Why the decoder discarded octets between two flags; one counter label each. */
export type HdlcErrorCode =
  /** The FCS did not check (RFC 1662 §4.3): corruption, or garbage before a flag. */
  | "bad_fcs"
  /** Fewer than 4 octets between flags, FCS included (RFC 1662 §4.3). */
  | "too_short"
  /** More than `maxFrameOctets` octets: dropped up to the next flag. */
  | "too_long"
  /** Control Escape followed by Flag: the sender aborted the frame (RFC 1662 §4.2). */
  | "aborted";

/** Octets the decoder discarded, and why. */
export interface HdlcError {
  code: HdlcErrorCode;
  /** Octets discarded, after unstuffing (at most `maxFrameOctets` + 1 counted). */
  length: number;
}

/** What one {@link HdlcDecoder.push} produced. */
export interface HdlcChunk {
  /** Whole frames in arrival order, FCS removed; each a fresh array. */
  frames: Uint8Array[];
  errors: HdlcError[];
}

/** Options of {@link HdlcDecoder}. */
export interface HdlcDecoderOptions {
  /**
   * Our receive ACCM: octets below 0x20 whose bit is set are deleted when
   * they arrive unescaped (RFC 1662 §7.1: flow-control characters a modem
   * inserted). Default 0, so every unescaped octet is data.
   */
  receiveAccm?: number;
  /**
   * The most octets one frame may hold before unstuffing ends, FCS included;
   * longer frames are dropped as `too_long`. Default 4096 (an MRU of 1500
   * and then some).
   */
  maxFrameOctets?: number;
}

/**
 * Decodes an asynchronous HDLC-like octet stream into PPP frames (RFC 1662
 * §4). Octets before the first flag are treated as a frame, so garbage at
 * the start (or after a line glitch) costs one `bad_fcs` or `too_short`
 * error and the decoder is back in step at the next flag.
 *
 * @example
 * ```ts
 * import { encodeHdlc, HdlcDecoder } from "./hdlc.ts";
 * const wire = encodeHdlc(new Uint8Array([0xff, 0x03, 0x00, 0x21, 0x45]));
 * const decoder = new HdlcDecoder();
 * // Chunks may split a frame anywhere, even between 7d and the octet it escapes.
 * const a = decoder.push(wire.subarray(0, 5));
 * const b = decoder.push(wire.subarray(5));
 * if (a.frames.length !== 0 || b.frames.length !== 1 || b.errors.length !== 0) throw new Error();
 * ```
 */
export class HdlcDecoder {
  readonly #receiveAccm: number;
  readonly #max: number;
  readonly #buffer: Uint8Array;
  #length = 0;
  #escaped = false;
  #overflow = false;

  constructor(options: HdlcDecoderOptions = {}) {
    this.#receiveAccm = (options.receiveAccm ?? 0) >>> 0;
    this.#max = options.maxFrameOctets ?? 4096;
    if (!(Number.isInteger(this.#max) && this.#max >= 4)) {
      throw new RangeError("maxFrameOctets must be an integer of at least 4");
    }
    this.#buffer = new Uint8Array(this.#max);
  }

  /** Takes the next octets from the link; returns the frames they completed. */
  push(chunk: Uint8Array): HdlcChunk {
    const out: HdlcChunk = { frames: [], errors: [] };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === HDLC_FLAG) {
        this.#endFrame(out);
        continue;
      }
      if (b < 0x20 && (this.#receiveAccm >>> b) & 1) continue;
      if (b === HDLC_ESCAPE) {
        this.#escaped = true;
        continue;
      }
      const octet = this.#escaped ? b ^ 0x20 : b;
      this.#escaped = false;
      if (this.#length === this.#max) this.#overflow = true;
      else this.#buffer[this.#length++] = octet;
    }
    return out;
  }

  #endFrame(out: HdlcChunk): void {
    const length = this.#length + (this.#overflow ? 1 : 0);
    const aborted = this.#escaped;
    this.#length = 0;
    this.#escaped = false;
    if (aborted) {
      out.errors.push({ code: "aborted", length });
    } else if (this.#overflow) {
      out.errors.push({ code: "too_long", length });
    } else if (length === 0) {
      // Back-to-back flags: inter-frame time fill (RFC 1662 §4.1).
    } else if (length < 4) {
      out.errors.push({ code: "too_short", length });
    } else {
      const body = this.#buffer.subarray(0, length);
      if (fcs16(body) !== FCS16_GOOD) out.errors.push({ code: "bad_fcs", length });
      else out.frames.push(body.slice(0, length - 2));
    }
    this.#overflow = false;
  }
}
