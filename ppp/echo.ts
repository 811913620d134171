/**
 * LCP Echo-Request and Echo-Reply (RFC 1661 §5.8), as carried in L2TP data
 * messages: an HDLC-like address/control field `ff 03` (RFC 1662 §3.1; it
 * may be omitted when ACFC is negotiated), the PPP Protocol field 0xc021,
 * then the LCP packet. Enough for the LAC and LNS test tools to prove that
 * frames cross a path; full LCP comes with the PPP issue.
 *
 * @module
 */

/** PPP Protocol field of LCP (RFC 1661 §2). */
export const PPP_LCP = 0xc021;
/** LCP codes (RFC 1661 §5). */
export const LcpCode = { EchoRequest: 9, EchoReply: 10 } as const;

/** Where the PPP Protocol field starts: after `ff 03` when present. */
function protocolOffset(frame: Uint8Array): number {
  return frame.length >= 2 && frame[0] === 0xff && frame[1] === 0x03 ? 2 : 0;
}

/**
 * The LCP code of a frame, or `null` when it is not a well-formed LCP packet.
 *
 * @example
 * ```ts
 * import { echoRequest, lcpCode } from "./echo.ts";
 * if (lcpCode(echoRequest(1, 0x01020304)) !== 9) throw new Error();
 * ```
 */
export function lcpCode(frame: Uint8Array): number | null {
  const p = protocolOffset(frame);
  if (frame.length < p + 6 || ((frame[p] << 8) | frame[p + 1]) !== PPP_LCP) return null;
  const length = (frame[p + 4] << 8) | frame[p + 5];
  if (length < 4 || p + 2 + length > frame.length) return null;
  return frame[p + 2];
}

/** An LCP Echo-Request with `ff 03`, Identifier `id` and Magic-Number `magic` (RFC 1661 §5.8). */
export function echoRequest(
  id: number,
  magic: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const frame = new Uint8Array(2 + 2 + 8 + data.length);
  frame.set([0xff, 0x03, PPP_LCP >> 8, PPP_LCP & 0xff, LcpCode.EchoRequest, id & 0xff]);
  frame[6] = ((8 + data.length) >> 8) & 0xff;
  frame[7] = (8 + data.length) & 0xff;
  new DataView(frame.buffer).setUint32(8, magic >>> 0);
  frame.set(data, 12);
  return frame;
}

/**
 * The Echo-Reply to an Echo-Request: same Identifier and data, our
 * Magic-Number (RFC 1661 §5.8). `null` when `request` is not an Echo-Request.
 *
 * @example
 * ```ts
 * import { echoReply, echoRequest, lcpCode } from "./echo.ts";
 * const reply = echoReply(echoRequest(7, 1), 2);
 * if (reply === null || lcpCode(reply) !== 10 || reply[5] !== 7) throw new Error();
 * ```
 */
export function echoReply(request: Uint8Array, magic: number): Uint8Array | null {
  if (lcpCode(request) !== LcpCode.EchoRequest) return null;
  const p = protocolOffset(request);
  const length = (request[p + 4] << 8) | request[p + 5];
  if (length < 8) return null;
  const reply = request.slice(0, p + 2 + length);
  reply[p + 2] = LcpCode.EchoReply;
  new DataView(reply.buffer).setUint32(p + 6, magic >>> 0);
  return reply;
}
