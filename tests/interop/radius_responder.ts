/**
 * An accept-all RADIUS server for the interop tests: l2tpns authenticates
 * PPP users only over RADIUS, so the l2tpns topology runs this beside it.
 *
 * - Access-Request (RFC 2865 §4.1) → Access-Accept (§4.2) with Service-Type
 *   Framed and Framed-Protocol PPP, and a Framed-IP-Address when one is
 *   configured (otherwise the NAS takes an address from its own pool). The
 *   Response Authenticator is MD5(Code | Identifier | Length | Request
 *   Authenticator | Attributes | Secret) (§3).
 * - Accounting-Request (RFC 2866 §4.1), its Request Authenticator checked
 *   (§3), → Accounting-Response (§4.2).
 *
 * Every request is logged as one JSON line with its attributes; a PAP
 * User-Password is revealed (RFC 2865 §5.2) and a CHAP-Password checked
 * against the configured user password, so a test can see exactly which
 * credentials reached the NAS. Malformed packets are logged and dropped.
 *
 * `deno run -A radius_responder.ts --secret S [--host 127.0.0.1]
 * [--auth-port 1812] [--acct-port 1813] [--framed-ip A.B.C.D]
 * [--password P] [--log FILE]`
 *
 * @example
 * ```ts
 * import { accessRequestFor, answer, RadiusCode } from "./radius_responder.ts";
 * const secret = new TextEncoder().encode("s3cret");
 * const request = accessRequestFor({ identifier: 7, user: "alice", password: "pw", secret });
 * const reply = answer(request, { secret });
 * if (reply?.packet[0] !== RadiusCode.AccessAccept || reply.packet[1] !== 7) throw new Error();
 * ```
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { parseArgs } from "node:util";

/** RADIUS packet codes (RFC 2865 §3, RFC 2866 §3). */
export const RadiusCode = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
} as const;

/** Attribute types this responder reads or writes (RFC 2865 §5, RFC 2866 §5). */
export const RadiusAttribute = {
  UserName: 1,
  UserPassword: 2,
  ChapPassword: 3,
  NasIpAddress: 4,
  ServiceType: 6,
  FramedProtocol: 7,
  FramedIpAddress: 8,
  ChapChallenge: 60,
  AcctStatusType: 40,
  AcctSessionId: 44,
} as const;

/** One attribute as on the wire. */
export interface RadiusAttr {
  type: number;
  value: Uint8Array;
}

/** A decoded RADIUS packet. */
export interface RadiusPacket {
  code: number;
  identifier: number;
  authenticator: Uint8Array;
  attributes: RadiusAttr[];
}

/** Decodes a RADIUS packet (RFC 2865 §3, §5); `null` when malformed. Never throws. */
export function decodeRadius(bytes: Uint8Array): RadiusPacket | null {
  if (bytes.length < 20) return null;
  const length = (bytes[2] << 8) | bytes[3];
  if (length < 20 || length > 4096 || length > bytes.length) return null;
  const attributes: RadiusAttr[] = [];
  for (let at = 20; at < length;) {
    if (at + 2 > length) return null;
    const l = bytes[at + 1];
    if (l < 2 || at + l > length) return null;
    attributes.push({ type: bytes[at], value: bytes.slice(at + 2, at + l) });
    at += l;
  }
  return {
    code: bytes[0],
    identifier: bytes[1],
    authenticator: bytes.slice(4, 20),
    attributes,
  };
}

/** Encodes a packet with the authenticator given (the caller computes it). */
export function encodeRadius(packet: RadiusPacket): Uint8Array {
  const length = 20 + packet.attributes.reduce((n, a) => n + 2 + a.value.length, 0);
  const out = new Uint8Array(length);
  out[0] = packet.code;
  out[1] = packet.identifier;
  out[2] = length >> 8;
  out[3] = length & 0xff;
  out.set(packet.authenticator, 4);
  let at = 20;
  for (const a of packet.attributes) {
    out[at] = a.type;
    out[at + 1] = 2 + a.value.length;
    out.set(a.value, at + 2);
    at += 2 + a.value.length;
  }
  return out;
}

function md5(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("md5");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/**
 * The authenticator of a reply, or of an Accounting-Request when
 * `authenticator` is 16 zero octets: MD5 over the packet with that
 * authenticator in place, then the secret (RFC 2865 §3, RFC 2866 §3).
 */
export function packetAuthenticator(
  packet: RadiusPacket,
  authenticator: Uint8Array,
  secret: Uint8Array,
): Uint8Array {
  return md5(encodeRadius({ ...packet, authenticator }), secret);
}

/** Reveals a PAP User-Password (RFC 2865 §5.2); `null` when its length is not a multiple of 16. */
export function revealUserPassword(
  hidden: Uint8Array,
  requestAuthenticator: Uint8Array,
  secret: Uint8Array,
): string | null {
  if (hidden.length === 0 || hidden.length % 16 !== 0 || hidden.length > 128) return null;
  const clear = new Uint8Array(hidden.length);
  let previous = requestAuthenticator;
  for (let i = 0; i < hidden.length; i += 16) {
    const b = md5(secret, previous);
    for (let j = 0; j < 16; j++) clear[i + j] = hidden[i + j] ^ b[j];
    previous = hidden.subarray(i, i + 16);
  }
  const end = clear.indexOf(0);
  return new TextDecoder().decode(end < 0 ? clear : clear.subarray(0, end));
}

/** Hides a PAP password as a NAS does (RFC 2865 §5.2); the inverse of {@link revealUserPassword}. */
export function hideUserPassword(
  password: string,
  requestAuthenticator: Uint8Array,
  secret: Uint8Array,
): Uint8Array {
  const clear = new TextEncoder().encode(password);
  const padded = new Uint8Array(Math.max(16, Math.ceil(clear.length / 16) * 16));
  padded.set(clear);
  const out = new Uint8Array(padded.length);
  let previous = requestAuthenticator;
  for (let i = 0; i < padded.length; i += 16) {
    const b = md5(secret, previous);
    for (let j = 0; j < 16; j++) out[i + j] = padded[i + j] ^ b[j];
    previous = out.subarray(i, i + 16);
  }
  return out;
}

/** An Access-Request as a NAS sends it for a PAP user; for tests and the example. */
export function accessRequestFor(
  options: { identifier: number; user: string; password: string; secret: Uint8Array },
): Uint8Array {
  const authenticator = crypto.getRandomValues(new Uint8Array(16));
  return encodeRadius({
    code: RadiusCode.AccessRequest,
    identifier: options.identifier,
    authenticator,
    attributes: [
      { type: RadiusAttribute.UserName, value: new TextEncoder().encode(options.user) },
      {
        type: RadiusAttribute.UserPassword,
        value: hideUserPassword(options.password, authenticator, options.secret),
      },
    ],
  });
}

/** How the responder answers. */
export interface AnswerOptions {
  secret: Uint8Array;
  /** Framed-IP-Address to hand out (RFC 2865 §5.8); none when absent. */
  framedIp?: string;
  /** The password users are expected to have: logged as `password_ok` for PAP and CHAP. */
  password?: string;
}

/** The reply to a request, with what the log says of the request; `null` to drop it. */
export function answer(
  bytes: Uint8Array,
  options: AnswerOptions,
): { packet: Uint8Array; log: Record<string, unknown> } | null {
  const request = decodeRadius(bytes);
  if (request === null) return null;
  const attr = (type: number) => request.attributes.find((a) => a.type === type)?.value;
  const text = (type: number) => {
    const v = attr(type);
    return v === undefined ? undefined : new TextDecoder().decode(v);
  };
  const log: Record<string, unknown> = {
    code: request.code,
    identifier: request.identifier,
    user: text(RadiusAttribute.UserName),
    attributes: request.attributes.map((a) => a.type),
  };
  let attributes: RadiusAttr[];
  let code: number;
  if (request.code === RadiusCode.AccessRequest) {
    const hidden = attr(RadiusAttribute.UserPassword);
    const chap = attr(RadiusAttribute.ChapPassword);
    if (hidden !== undefined) {
      const password = revealUserPassword(hidden, request.authenticator, options.secret);
      log.auth = "pap";
      log.password = password;
      if (options.password !== undefined) log.password_ok = password === options.password;
    } else if (chap !== undefined && chap.length === 17) {
      // CHAP-Challenge when present, else the Request Authenticator (RFC 2865 §5.3).
      const challenge = attr(RadiusAttribute.ChapChallenge) ?? request.authenticator;
      log.auth = "chap";
      if (options.password !== undefined) {
        const expected = md5(
          chap.subarray(0, 1),
          new TextEncoder().encode(options.password),
          challenge,
        );
        log.password_ok = timingSafeEqual(expected, chap.subarray(1));
      }
    }
    code = RadiusCode.AccessAccept;
    attributes = [
      { type: RadiusAttribute.ServiceType, value: new Uint8Array([0, 0, 0, 2]) }, // Framed
      { type: RadiusAttribute.FramedProtocol, value: new Uint8Array([0, 0, 0, 1]) }, // PPP
    ];
    if (options.framedIp !== undefined) {
      const octets = options.framedIp.split(".").map(Number);
      attributes.push({ type: RadiusAttribute.FramedIpAddress, value: new Uint8Array(octets) });
    }
  } else if (request.code === RadiusCode.AccountingRequest) {
    const expected = packetAuthenticator(request, new Uint8Array(16), options.secret);
    log.authenticator_ok = timingSafeEqual(expected, request.authenticator);
    if (!log.authenticator_ok) return null; // RFC 2866 §4.1: silently discarded.
    const status = attr(RadiusAttribute.AcctStatusType);
    if (status?.length === 4) log.status = new DataView(status.buffer).getUint32(0);
    log.session = text(RadiusAttribute.AcctSessionId);
    code = RadiusCode.AccountingResponse;
    attributes = [];
  } else {
    return null;
  }
  const reply: RadiusPacket = {
    code,
    identifier: request.identifier,
    authenticator: request.authenticator,
    attributes,
  };
  const authenticator = packetAuthenticator(reply, request.authenticator, options.secret);
  return { packet: encodeRadius({ ...reply, authenticator }), log };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      secret: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      "auth-port": { type: "string", default: "1812" },
      "acct-port": { type: "string", default: "1813" },
      "framed-ip": { type: "string" },
      password: { type: "string" },
      log: { type: "string" },
    },
  });
  if (values.secret === undefined) throw new Error("--secret is required");
  const options: AnswerOptions = {
    secret: new TextEncoder().encode(values.secret),
    framedIp: values["framed-ip"],
    password: values.password,
  };
  const out = values.log === undefined
    ? Deno.stdout
    : await Deno.open(values.log, { append: true, create: true });
  const write = (o: Record<string, unknown>) =>
    out.writeSync(new TextEncoder().encode(JSON.stringify({ t: Date.now(), ...o }) + "\n"));
  const serve = async (port: number) => {
    const socket = Deno.listenDatagram({ transport: "udp", hostname: values.host, port });
    write({ event: "listening", port });
    for await (const [bytes, from] of socket) {
      const r = answer(bytes, options);
      const peer = from as Deno.NetAddr;
      if (r === null) {
        write({
          event: "dropped",
          port,
          from: `${peer.hostname}:${peer.port}`,
          length: bytes.length,
        });
        continue;
      }
      await socket.send(r.packet, from);
      write({ event: "answered", port, from: `${peer.hostname}:${peer.port}`, ...r.log });
    }
  };
  await Promise.all([serve(Number(values["auth-port"])), serve(Number(values["acct-port"]))]);
}

if (import.meta.main) await main();
