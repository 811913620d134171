/**
 * PAP, the Password Authentication Protocol (RFC 1334 §2, PPP protocol
 * {@link PPP_PAP} 0xc023): the packet codec and the two pure state machines,
 * the authenticator (checks an Authenticate-Request) and the peer (sends one).
 *
 * Packets here are the PAP packet itself, from the Code field on; the caller
 * adds and strips the PPP Protocol field. The machines do no I/O and read no
 * clock: every event carries `now`, and time and sending are effects the
 * caller performs ({@link AuthEffect}). The CHAP machines (`chap.ts`) take the
 * same events and return the same effects.
 *
 * @example
 * ```ts
 * import { initPapAuthenticator, initPapPeer, stepPapAuthenticator, stepPapPeer } from "./pap.ts";
 * const peer = stepPapPeer(initPapPeer({ name: "alice", password: "pw" }), { type: "start", now: 0 });
 * const request = peer.effects.find((e) => e.type === "send");
 * if (request?.type !== "send") throw new Error();
 * let auth = initPapAuthenticator({ verify: (u, p) => u === "alice" && p === "pw" });
 * auth = stepPapAuthenticator(auth, { type: "start", now: 0 }).state;
 * const r = stepPapAuthenticator(auth, { type: "receive", packet: request.packet, now: 1 });
 * if (!r.effects.some((e) => e.type === "authenticated" && e.user === "alice")) throw new Error();
 * ```
 *
 * @module
 */

import { ProxyAuthenType } from "../transport/avp_types.ts";
import type { AvpFields } from "../transport/message.ts";
import { PPP_PAP } from "./proxy.ts";
import { type DecodeError, fail, ok, type Result } from "../transport/result.ts";

/** PAP Code field values (RFC 1334 §2.2). */
export const PapCode = {
  AuthenticateRequest: 1,
  AuthenticateAck: 2,
  AuthenticateNak: 3,
} as const;

/** Authenticate-Request (RFC 1334 §2.2.1). */
export interface PapRequestPacket {
  readonly type: "Authenticate-Request";
  readonly identifier: number;
  /** Peer-ID: octets, as the RFC puts no encoding on them. */
  readonly peerId: Uint8Array;
  readonly password: Uint8Array;
}

/** Authenticate-Ack or Authenticate-Nak (RFC 1334 §2.2.2). */
export interface PapReplyPacket<T extends "Authenticate-Ack" | "Authenticate-Nak"> {
  readonly type: T;
  readonly identifier: number;
  /** Message, human-readable; bytes that are not UTF-8 become U+FFFD. */
  readonly message: string;
}

/** A decoded PAP packet (RFC 1334 §2.2). */
export type PapPacket =
  | PapRequestPacket
  | PapReplyPacket<"Authenticate-Ack">
  | PapReplyPacket<"Authenticate-Nak">;

const utf8 = new TextEncoder();
const lenientUtf8 = new TextDecoder("utf-8");
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The packet's Code, Identifier and the bytes its Length field covers (RFC 1661
 * §5: octets past Length are padding and ignored). Shared with `chap.ts`,
 * whose packets have the same header.
 */
export function decodeHeader(
  bytes: Uint8Array,
): Result<{ code: number; identifier: number; data: Uint8Array }, DecodeError> {
  if (bytes.length < 4) return fail("truncated", `${bytes.length} bytes, header needs 4`, 0);
  const length = (bytes[2] << 8) | bytes[3];
  if (length < 4) return fail("bad_length", `Length ${length} is below 4`, 2);
  if (length > bytes.length) {
    return fail("truncated", `Length ${length} but only ${bytes.length} bytes`, 2);
  }
  return ok({ code: bytes[0], identifier: bytes[1], data: bytes.subarray(4, length) });
}

/** A packet of `code` with `identifier` and `data`; throws RangeError past 65535 bytes. */
export function encodeHeader(code: number, identifier: number, data: Uint8Array): Uint8Array {
  const length = 4 + data.length;
  if (length > 0xffff) throw new RangeError(`packet of ${length} bytes exceeds 65535`);
  const out = new Uint8Array(length);
  out.set([code, identifier & 0xff, length >> 8, length & 0xff]);
  out.set(data, 4);
  return out;
}

/**
 * Decodes a PAP packet. Never throws; a malformed or unknown packet is an
 * error value, and the machines silently discard it.
 *
 * @example
 * ```ts
 * import { decodePap } from "./pap.ts";
 * const r = decodePap(new Uint8Array([2, 7, 0, 7, 2, 0x6f, 0x6b]));
 * if (!r.ok || r.value.type !== "Authenticate-Ack" || r.value.message !== "ok") throw new Error();
 * ```
 */
export function decodePap(bytes: Uint8Array): Result<PapPacket, DecodeError> {
  const header = decodeHeader(bytes);
  if (!header.ok) return header;
  const { code, identifier, data } = header.value;
  switch (code) {
    case PapCode.AuthenticateRequest: {
      const idLength = data[0] ?? -1;
      const passwordAt = 1 + idLength;
      if (idLength < 0 || passwordAt >= data.length) {
        return fail("bad_length", "Peer-ID Length runs past the packet", 4);
      }
      const passwordLength = data[passwordAt];
      if (passwordAt + 1 + passwordLength > data.length) {
        return fail("bad_length", "Passwd-Length runs past the packet", 4 + passwordAt);
      }
      return ok({
        type: "Authenticate-Request",
        identifier,
        peerId: data.slice(1, passwordAt),
        password: data.slice(passwordAt + 1, passwordAt + 1 + passwordLength),
      });
    }
    case PapCode.AuthenticateAck:
    case PapCode.AuthenticateNak: {
      // Some authenticators omit Msg-Length altogether; that is an empty Message.
      const msgLength = data[0] ?? 0;
      if (1 + msgLength > Math.max(data.length, 1)) {
        return fail("bad_length", "Msg-Length runs past the packet", 4);
      }
      return ok({
        type: code === PapCode.AuthenticateAck ? "Authenticate-Ack" : "Authenticate-Nak",
        identifier,
        message: lenientUtf8.decode(data.subarray(1, 1 + msgLength)),
      });
    }
    default:
      return fail("unknown_message_type", `unknown PAP Code ${code}`, 0);
  }
}

function field(bytes: Uint8Array, what: string): number[] {
  if (bytes.length > 255) throw new RangeError(`${what} of ${bytes.length} bytes exceeds 255`);
  return [bytes.length, ...bytes];
}

/**
 * Encodes a PAP packet. Throws RangeError when Peer-ID, Password or Message
 * is longer than its one-octet length field allows (255 bytes).
 *
 * @example
 * ```ts
 * import { decodePap, encodePap } from "./pap.ts";
 * const bytes = encodePap({ type: "Authenticate-Nak", identifier: 3, message: "no" });
 * const back = decodePap(bytes);
 * if (!back.ok || back.value.type !== "Authenticate-Nak" || back.value.identifier !== 3) throw new Error();
 * ```
 */
export function encodePap(packet: PapPacket): Uint8Array {
  switch (packet.type) {
    case "Authenticate-Request":
      return encodeHeader(
        PapCode.AuthenticateRequest,
        packet.identifier,
        new Uint8Array([...field(packet.peerId, "Peer-ID"), ...field(packet.password, "Password")]),
      );
    case "Authenticate-Ack":
    case "Authenticate-Nak":
      return encodeHeader(
        packet.type === "Authenticate-Ack" ? PapCode.AuthenticateAck : PapCode.AuthenticateNak,
        packet.identifier,
        new Uint8Array(field(utf8.encode(packet.message), "Message")),
      );
    default: {
      const never: never = packet;
      throw new TypeError(`unknown PAP packet ${JSON.stringify(never)}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Events and effects shared by the PAP and CHAP machines.

/**
 * What the caller feeds a machine. `start`: the Authentication phase begins
 * (LCP is Opened, RFC 1661 §3.5). `receive`: a packet of this protocol
 * arrived. `timeout`: the timer the machine armed expired.
 */
export type AuthEvent =
  | { readonly type: "start"; readonly now: number }
  | { readonly type: "receive"; readonly packet: Uint8Array; readonly now: number }
  | { readonly type: "timeout"; readonly now: number };

/**
 * Why authentication failed. `bad_credentials`: the authenticator refused
 * the user (unknown name or wrong password). `rejected`: the peer was sent a
 * Nak or Failure. `timeout`: no request, reply or response came in time.
 */
export type AuthFailure = "bad_credentials" | "rejected" | "timeout";

/**
 * What the caller does for a machine. `send`: transmit the packet (from Code
 * on) with `protocol` as the PPP Protocol field, as `fsm.ts` sends. `arm_timer`: (re)start the machine's
 * one timer, replacing any running one; its expiry is a `timeout` event.
 * `authenticated` and `failed` are the outcome, each reported once;
 * `elapsedMs` counts from `start`.
 */
export type AuthEffect =
  | { readonly type: "send"; readonly protocol: number; readonly packet: Uint8Array }
  | { readonly type: "arm_timer"; readonly ms: number }
  | { readonly type: "cancel_timer" }
  | { readonly type: "authenticated"; readonly user: string; readonly elapsedMs: number }
  | {
    readonly type: "failed";
    readonly reason: AuthFailure;
    /** The authenticator's Message, on the peer side, when there was one. */
    readonly message?: string;
    readonly elapsedMs: number;
  };

/** Where a machine is: not started, waiting, or its outcome (which it keeps). */
export type AuthPhase = "initial" | "waiting" | "authenticated" | "failed";

/** The result of one step: the next state and what to do. */
export interface AuthStep<S> {
  readonly state: S;
  readonly effects: readonly AuthEffect[];
}

/** Decodes bytes as strict UTF-8; `undefined` when they are not. */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Authenticator.

/** How a PAP authenticator checks users and how long it waits. */
export interface PapAuthenticatorConfig {
  /** True when `user` may log in with `password` (e.g. `LocalUsers.verify`). */
  readonly verify: (user: string, password: string) => boolean;
  /** How long to wait for the Authenticate-Request after `start`. Default 30000 ms. */
  readonly timeoutMs?: number;
  /** Message of the Authenticate-Ack. Default "Login ok". */
  readonly ackMessage?: string;
  /** Message of the Authenticate-Nak. Default "Login incorrect". */
  readonly nakMessage?: string;
}

/** The Authenticate-Request that was Acked: what proxy authentication forwards. */
export interface PapExchange {
  readonly name: string;
  readonly password: Uint8Array;
  readonly identifier: number;
}

/** A PAP authenticator; only {@link stepPapAuthenticator} makes new ones. */
export interface PapAuthenticatorState {
  readonly config: PapAuthenticatorConfig;
  readonly phase: AuthPhase;
  readonly timerArmed: boolean;
  readonly startedAt: number;
  /** Set once authenticated. */
  readonly exchange?: PapExchange;
}

/**
 * A PAP authenticator that has not started.
 *
 * @example
 * ```ts
 * import { initPapAuthenticator } from "./pap.ts";
 * if (initPapAuthenticator({ verify: () => false }).phase !== "initial") throw new Error();
 * ```
 */
export function initPapAuthenticator(config: PapAuthenticatorConfig): PapAuthenticatorState {
  return { config, phase: "initial", timerArmed: false, startedAt: 0 };
}

/**
 * One step of the authenticator (RFC 1334 §2.2.1–2). It answers the first
 * Authenticate-Request with an Ack or a Nak, and that answer is the outcome.
 * Later requests get the same Code again, as the Ack or Nak may have been
 * lost; requests before `start` are silently discarded.
 *
 * @example
 * ```ts
 * import { initPapAuthenticator, stepPapAuthenticator } from "./pap.ts";
 * const s = initPapAuthenticator({ verify: () => true, timeoutMs: 5000 });
 * const r = stepPapAuthenticator(s, { type: "start", now: 0 });
 * const timer = r.effects[0];
 * if (timer.type !== "arm_timer" || timer.ms !== 5000) throw new Error();
 * const t = stepPapAuthenticator(r.state, { type: "timeout", now: 5000 });
 * if (t.state.phase !== "failed") throw new Error();
 * ```
 */
export function stepPapAuthenticator(
  state: PapAuthenticatorState,
  event: AuthEvent,
): AuthStep<PapAuthenticatorState> {
  const unchanged = { state, effects: [] };
  const elapsedMs = event.now - state.startedAt;
  switch (event.type) {
    case "start": {
      if (state.phase !== "initial") return unchanged;
      const ms = state.config.timeoutMs ?? 30_000;
      return {
        state: { ...state, phase: "waiting", timerArmed: true, startedAt: event.now },
        effects: [{ type: "arm_timer", ms }],
      };
    }
    case "timeout":
      if (state.phase !== "waiting" || !state.timerArmed) return unchanged;
      return {
        state: { ...state, phase: "failed", timerArmed: false },
        effects: [{ type: "failed", reason: "timeout", elapsedMs }],
      };
    case "receive": {
      const decoded = decodePap(event.packet);
      if (!decoded.ok || decoded.value.type !== "Authenticate-Request") return unchanged;
      const request = decoded.value;
      const reply = (type: "Authenticate-Ack" | "Authenticate-Nak"): AuthEffect => ({
        type: "send",
        protocol: PPP_PAP,
        packet: encodePap({
          type,
          identifier: request.identifier,
          message: type === "Authenticate-Ack"
            ? state.config.ackMessage ?? "Login ok"
            : state.config.nakMessage ?? "Login incorrect",
        }),
      });
      switch (state.phase) {
        case "initial":
          return unchanged;
        case "authenticated":
          return { state, effects: [reply("Authenticate-Ack")] };
        case "failed":
          return { state, effects: [reply("Authenticate-Nak")] };
        case "waiting":
          break;
      }
      const name = utf8OrUndefined(request.peerId);
      const password = utf8OrUndefined(request.password);
      const accepted = name !== undefined && password !== undefined &&
        state.config.verify(name, password);
      const cancel: AuthEffect[] = state.timerArmed ? [{ type: "cancel_timer" }] : [];
      if (!accepted) {
        return {
          state: { ...state, phase: "failed", timerArmed: false },
          effects: [
            reply("Authenticate-Nak"),
            ...cancel,
            { type: "failed", reason: "bad_credentials", elapsedMs },
          ],
        };
      }
      return {
        state: {
          ...state,
          phase: "authenticated",
          timerArmed: false,
          exchange: { name, password: request.password, identifier: request.identifier },
        },
        effects: [
          reply("Authenticate-Ack"),
          ...cancel,
          { type: "authenticated", user: name, elapsedMs },
        ],
      };
    }
    default: {
      const never: never = event;
      throw new TypeError(`unknown event ${JSON.stringify(never)}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Peer.

/** Who a PAP peer is and how persistently it asks. */
export interface PapPeerConfig {
  /** Peer-ID; at most 255 bytes of UTF-8. */
  readonly name: string;
  /** At most 255 bytes of UTF-8. */
  readonly password: string;
  /** Time between Authenticate-Requests. Default 3000 ms (RFC 1661 §4.6 Restart timer). */
  readonly restartMs?: number;
  /** Retransmissions after the first request before giving up. Default 9. */
  readonly maxRetransmits?: number;
  /** Identifier of the first request. Default 1. */
  readonly firstIdentifier?: number;
}

/** A PAP peer; only {@link stepPapPeer} makes new ones. */
export interface PapPeerState {
  readonly config: PapPeerConfig;
  readonly phase: AuthPhase;
  /** Identifier of the last Authenticate-Request sent. */
  readonly identifier: number;
  /** Authenticate-Requests sent so far. */
  readonly transmissions: number;
  readonly timerArmed: boolean;
  readonly startedAt: number;
}

/**
 * A PAP peer that has not started. Throws RangeError when the name or
 * password does not fit its one-octet length field.
 *
 * @example
 * ```ts
 * import { initPapPeer } from "./pap.ts";
 * if (initPapPeer({ name: "a", password: "b" }).transmissions !== 0) throw new Error();
 * ```
 */
export function initPapPeer(config: PapPeerConfig): PapPeerState {
  field(utf8.encode(config.name), "Peer-ID");
  field(utf8.encode(config.password), "Password");
  const identifier = ((config.firstIdentifier ?? 1) - 1) & 0xff;
  return {
    config,
    phase: "initial",
    identifier,
    transmissions: 0,
    timerArmed: false,
    startedAt: 0,
  };
}

function sendRequest(state: PapPeerState, now: number): AuthStep<PapPeerState> {
  // RFC 1334 §2.2.1: the Identifier MUST change for every request issued.
  const identifier = (state.identifier + 1) & 0xff;
  const packet = encodePap({
    type: "Authenticate-Request",
    identifier,
    peerId: utf8.encode(state.config.name),
    password: utf8.encode(state.config.password),
  });
  return {
    state: {
      ...state,
      phase: "waiting",
      identifier,
      transmissions: state.transmissions + 1,
      timerArmed: true,
      startedAt: state.phase === "initial" ? now : state.startedAt,
    },
    effects: [{ type: "send", protocol: PPP_PAP, packet }, {
      type: "arm_timer",
      ms: state.config.restartMs ?? 3000,
    }],
  };
}

/**
 * One step of the peer (RFC 1334 §2.2.1): sends an Authenticate-Request on
 * `start` and again on every `timeout`, up to `maxRetransmits` times, then
 * fails. An Ack or Nak whose Identifier is not the last request's is ignored.
 *
 * @example
 * ```ts
 * import { encodePap, initPapPeer, stepPapPeer } from "./pap.ts";
 * const s = stepPapPeer(initPapPeer({ name: "a", password: "b" }), { type: "start", now: 0 }).state;
 * const ack = encodePap({ type: "Authenticate-Ack", identifier: s.identifier, message: "" });
 * if (stepPapPeer(s, { type: "receive", packet: ack, now: 1 }).state.phase !== "authenticated") {
 *   throw new Error();
 * }
 * ```
 */
export function stepPapPeer(state: PapPeerState, event: AuthEvent): AuthStep<PapPeerState> {
  const unchanged = { state, effects: [] };
  const elapsedMs = event.now - state.startedAt;
  switch (event.type) {
    case "start":
      return state.phase === "initial" ? sendRequest(state, event.now) : unchanged;
    case "timeout":
      if (state.phase !== "waiting" || !state.timerArmed) return unchanged;
      if (state.transmissions > (state.config.maxRetransmits ?? 9)) {
        return {
          state: { ...state, phase: "failed", timerArmed: false },
          effects: [{ type: "failed", reason: "timeout", elapsedMs }],
        };
      }
      return sendRequest(state, event.now);
    case "receive": {
      if (state.phase !== "waiting") return unchanged;
      const decoded = decodePap(event.packet);
      if (!decoded.ok || decoded.value.type === "Authenticate-Request") return unchanged;
      const reply = decoded.value;
      if (reply.identifier !== state.identifier) return unchanged;
      const cancel: AuthEffect[] = state.timerArmed ? [{ type: "cancel_timer" }] : [];
      if (reply.type === "Authenticate-Ack") {
        return {
          state: { ...state, phase: "authenticated", timerArmed: false },
          effects: [...cancel, { type: "authenticated", user: state.config.name, elapsedMs }],
        };
      }
      return {
        state: { ...state, phase: "failed", timerArmed: false },
        effects: [...cancel, {
          type: "failed",
          reason: "rejected",
          message: reply.message,
          elapsedMs,
        }],
      };
    }
    default: {
      const never: never = event;
      throw new TypeError(`unknown event ${JSON.stringify(never)}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Proxy authentication.

/**
 * The ICCN proxy authentication AVPs (RFC 2661 §4.4.5) for a user a LAC
 * authenticated with PAP: type 3, the Peer-ID, the Identifier and the
 * password as the Response, as `proxy.ts` builds them.
 *
 * @example
 * ```ts
 * import { proxyFieldsFromPap } from "./pap.ts";
 * const f = proxyFieldsFromPap({ name: "alice", password: new Uint8Array([0x70]), identifier: 4 });
 * if (f.proxyAuthenType !== 3 || f.proxyAuthenId !== 4) throw new Error();
 * ```
 */
export function proxyFieldsFromPap(exchange: PapExchange): AvpFields {
  return {
    proxyAuthenType: ProxyAuthenType.PppPap,
    proxyAuthenName: exchange.name,
    proxyAuthenId: exchange.identifier,
    proxyAuthenResponse: exchange.password,
  };
}
