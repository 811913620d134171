/**
 * CHAP with MD5, the Challenge-Handshake Authentication Protocol (RFC 1994,
 * PPP protocol {@link PPP_CHAP} 0xc223, algorithm 5): the packet
 * codec and the two pure state machines, the authenticator (sends Challenges,
 * checks the Response) and the peer (answers Challenges).
 *
 * Packets are the CHAP packet from the Code field on. The machines take the
 * events and return the effects of `pap.ts` ({@link AuthEvent},
 * {@link AuthEffect}); randomness and secrets come from callbacks in their
 * config, time from the events.
 *
 * @example
 * ```ts
 * import { initChapAuthenticator, initChapPeer, stepChapAuthenticator, stepChapPeer } from "./chap.ts";
 * let auth = initChapAuthenticator({
 *   name: "lts",
 *   random: (n) => new Uint8Array(n).fill(9),
 *   secretFor: (user) => (user === "alice" ? "pw" : undefined),
 * });
 * let peer = stepChapPeer(initChapPeer({ name: "alice", secret: "pw" }), { type: "start", now: 0 }).state;
 * let step = stepChapAuthenticator(auth, { type: "start", now: 0 });
 * auth = step.state;
 * const challenge = step.effects.find((e) => e.type === "send");
 * if (challenge?.type !== "send") throw new Error();
 * const answer = stepChapPeer(peer, { type: "receive", packet: challenge.packet, now: 1 });
 * peer = answer.state;
 * const response = answer.effects.find((e) => e.type === "send");
 * if (response?.type !== "send") throw new Error();
 * step = stepChapAuthenticator(auth, { type: "receive", packet: response.packet, now: 2 });
 * if (!step.effects.some((e) => e.type === "authenticated" && e.user === "alice")) throw new Error();
 * ```
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { ProxyAuthenType } from "../transport/avp_types.ts";
import { md5 } from "../transport/md5.ts";
import type { AvpFields } from "../transport/message.ts";
import { PPP_CHAP } from "./proxy.ts";
import { type DecodeError, fail, ok, type Result } from "../transport/result.ts";
import {
  type AuthEffect,
  type AuthEvent,
  type AuthPhase,
  type AuthStep,
  decodeHeader,
  encodeHeader,
  utf8OrUndefined,
} from "./pap.ts";

/** CHAP Code field values (RFC 1994 §4). */
export const ChapCode = { Challenge: 1, Response: 2, Success: 3, Failure: 4 } as const;

/** The CHAP Algorithm of MD5 in the LCP Authentication-Protocol option (RFC 1994 §3). */
export const CHAP_MD5 = 5;

/** Challenge or Response (RFC 1994 §4.1). */
export interface ChapValuePacket<T extends "Challenge" | "Response"> {
  readonly type: T;
  readonly identifier: number;
  /** The Challenge Value or the Response Value: one or more octets. */
  readonly value: Uint8Array;
  /** Name of the sender: octets, as the RFC puts no encoding on them. */
  readonly name: Uint8Array;
}

/** Success or Failure (RFC 1994 §4.2). */
export interface ChapMessagePacket<T extends "Success" | "Failure"> {
  readonly type: T;
  readonly identifier: number;
  /** Message, human-readable; bytes that are not UTF-8 become U+FFFD. */
  readonly message: string;
}

/** A decoded CHAP packet (RFC 1994 §4). */
export type ChapPacket =
  | ChapValuePacket<"Challenge">
  | ChapValuePacket<"Response">
  | ChapMessagePacket<"Success">
  | ChapMessagePacket<"Failure">;

const utf8 = new TextEncoder();
const lenientUtf8 = new TextDecoder("utf-8");

/**
 * Decodes a CHAP packet. Never throws; a malformed or unknown packet is an
 * error value, and the machines silently discard it.
 *
 * @example
 * ```ts
 * import { decodeChap } from "./chap.ts";
 * const r = decodeChap(new Uint8Array([1, 5, 0, 8, 2, 0xaa, 0xbb, 0x61]));
 * if (!r.ok || r.value.type !== "Challenge" || r.value.value.length !== 2) throw new Error();
 * ```
 */
export function decodeChap(bytes: Uint8Array): Result<ChapPacket, DecodeError> {
  const header = decodeHeader(bytes);
  if (!header.ok) return header;
  const { code, identifier, data } = header.value;
  switch (code) {
    case ChapCode.Challenge:
    case ChapCode.Response: {
      const valueSize = data[0] ?? 0;
      if (valueSize === 0) return fail("bad_length", "Value-Size is 0 or missing", 4);
      if (1 + valueSize > data.length) {
        return fail("bad_length", "Value-Size runs past the packet", 4);
      }
      return ok({
        type: code === ChapCode.Challenge ? "Challenge" : "Response",
        identifier,
        value: data.slice(1, 1 + valueSize),
        name: data.slice(1 + valueSize),
      });
    }
    case ChapCode.Success:
    case ChapCode.Failure:
      return ok({
        type: code === ChapCode.Success ? "Success" : "Failure",
        identifier,
        message: lenientUtf8.decode(data),
      });
    default:
      return fail("unknown_message_type", `unknown CHAP Code ${code}`, 0);
  }
}

/**
 * Encodes a CHAP packet. Throws RangeError when the Value is empty or longer
 * than 255 bytes, or the packet exceeds 65535 bytes.
 *
 * @example
 * ```ts
 * import { decodeChap, encodeChap } from "./chap.ts";
 * const bytes = encodeChap({ type: "Failure", identifier: 9, message: "no" });
 * const back = decodeChap(bytes);
 * if (!back.ok || back.value.type !== "Failure" || back.value.message !== "no") throw new Error();
 * ```
 */
export function encodeChap(packet: ChapPacket): Uint8Array {
  switch (packet.type) {
    case "Challenge":
    case "Response": {
      const size = packet.value.length;
      if (size < 1 || size > 255) throw new RangeError(`Value of ${size} bytes is not in 1..255`);
      const data = new Uint8Array(1 + size + packet.name.length);
      data[0] = size;
      data.set(packet.value, 1);
      data.set(packet.name, 1 + size);
      return encodeHeader(ChapCode[packet.type], packet.identifier, data);
    }
    case "Success":
    case "Failure":
      return encodeHeader(ChapCode[packet.type], packet.identifier, utf8.encode(packet.message));
    default: {
      const never: never = packet;
      throw new TypeError(`unknown CHAP packet ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The MD5 Response Value: MD5(Identifier ‖ secret ‖ Challenge Value) (RFC 1994 §4.1).
 *
 * @example
 * ```ts
 * import { chapResponse } from "./chap.ts";
 * if (chapResponse(1, "pw", new Uint8Array([1, 2])).length !== 16) throw new Error();
 * ```
 */
export function chapResponse(
  identifier: number,
  secret: string,
  challenge: Uint8Array,
): Uint8Array {
  return md5([new Uint8Array([identifier & 0xff]), utf8.encode(secret), challenge]);
}

// ---------------------------------------------------------------------------
// Authenticator.

/** How a CHAP authenticator challenges and checks users. */
export interface ChapAuthenticatorConfig {
  /** Our Name in the Challenge (RFC 1994 §4.1), e.g. the host name. */
  readonly name: string;
  /** `n` random bytes for a Challenge Value (RFC 1994 §2.3: unique and unpredictable). */
  readonly random: (n: number) => Uint8Array;
  /** The secret of `user`, or `undefined` for a user we do not know (e.g. `LocalUsers.secretFor`). */
  readonly secretFor: (user: string) => string | undefined;
  /**
   * Accept a Response from a name `secretFor` does not know, whatever its
   * Value (a users file with `accept_all: true`). Known names are still checked.
   */
  readonly acceptUnknown?: boolean;
  /** Challenge Value length, 1..255. Default 16. */
  readonly challengeLength?: number;
  /** Time between Challenges while no valid Response came. Default 3000 ms. */
  readonly restartMs?: number;
  /** Challenges sent again after the first before giving up. Default 9. */
  readonly maxRetransmits?: number;
  /** Identifier of the first Challenge. Default 1. */
  readonly firstIdentifier?: number;
  /** Message of the Success packet. Default "Access granted". */
  readonly successMessage?: string;
  /** Message of the Failure packet. Default "Access denied". */
  readonly failureMessage?: string;
}

/** The exchange that succeeded: what proxy authentication forwards. */
export interface ChapExchange {
  readonly name: string;
  readonly identifier: number;
  readonly challenge: Uint8Array;
  readonly response: Uint8Array;
}

/** A CHAP authenticator; only {@link stepChapAuthenticator} makes new ones. */
export interface ChapAuthenticatorState {
  readonly config: ChapAuthenticatorConfig;
  readonly phase: AuthPhase;
  /** Identifier of the last Challenge sent. */
  readonly identifier: number;
  /** Value of the last Challenge sent. */
  readonly challenge: Uint8Array;
  /** Challenges sent so far. */
  readonly transmissions: number;
  readonly timerArmed: boolean;
  readonly startedAt: number;
  /** Set once authenticated. */
  readonly exchange?: ChapExchange;
}

/**
 * A CHAP authenticator that has not started. Throws RangeError when
 * `challengeLength` is not in 1..255.
 *
 * @example
 * ```ts
 * import { initChapAuthenticator } from "./chap.ts";
 * const s = initChapAuthenticator({ name: "lts", random: (n) => new Uint8Array(n), secretFor: () => "x" });
 * if (s.phase !== "initial") throw new Error();
 * ```
 */
export function initChapAuthenticator(config: ChapAuthenticatorConfig): ChapAuthenticatorState {
  const length = config.challengeLength ?? 16;
  if (!Number.isInteger(length) || length < 1 || length > 255) {
    throw new RangeError(`challengeLength ${length} is not in 1..255`);
  }
  return {
    config,
    phase: "initial",
    identifier: ((config.firstIdentifier ?? 1) - 1) & 0xff,
    challenge: new Uint8Array(0),
    transmissions: 0,
    timerArmed: false,
    startedAt: 0,
  };
}

function sendChallenge(
  state: ChapAuthenticatorState,
  now: number,
): AuthStep<ChapAuthenticatorState> {
  // RFC 1994 §4.1: Identifier and Challenge Value change with every Challenge sent.
  const identifier = (state.identifier + 1) & 0xff;
  const challenge = state.config.random(state.config.challengeLength ?? 16);
  const packet = encodeChap({
    type: "Challenge",
    identifier,
    value: challenge,
    name: utf8.encode(state.config.name),
  });
  return {
    state: {
      ...state,
      phase: "waiting",
      identifier,
      challenge,
      transmissions: state.transmissions + 1,
      timerArmed: true,
      startedAt: state.phase === "initial" ? now : state.startedAt,
    },
    effects: [{ type: "send", protocol: PPP_CHAP, packet }, {
      type: "arm_timer",
      ms: state.config.restartMs ?? 3000,
    }],
  };
}

/** Whether the Response Value is the expected one, in time independent of where they differ. */
function responseMatches(expected: Uint8Array, got: Uint8Array): boolean {
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * One step of the authenticator (RFC 1994 §4). `start` sends a Challenge;
 * each `timeout` sends a new one (new Identifier, new Value) up to
 * `maxRetransmits` times, then fails. The first Response with the current
 * Identifier decides: Success or Failure, the outcome. Later Responses with
 * that Identifier get the same Code again (§4.1 implementation notes);
 * Responses with another Identifier are ignored.
 *
 * @example
 * ```ts
 * import { encodeChap, initChapAuthenticator, stepChapAuthenticator } from "./chap.ts";
 * const s = stepChapAuthenticator(
 *   initChapAuthenticator({ name: "lts", random: (n) => new Uint8Array(n), secretFor: () => "x" }),
 *   { type: "start", now: 0 },
 * ).state;
 * const wrong = encodeChap({
 *   type: "Response",
 *   identifier: s.identifier,
 *   value: new Uint8Array(16),
 *   name: new TextEncoder().encode("bob"),
 * });
 * if (stepChapAuthenticator(s, { type: "receive", packet: wrong, now: 1 }).state.phase !== "failed") {
 *   throw new Error();
 * }
 * ```
 */
export function stepChapAuthenticator(
  state: ChapAuthenticatorState,
  event: AuthEvent,
): AuthStep<ChapAuthenticatorState> {
  const unchanged = { state, effects: [] };
  const elapsedMs = event.now - state.startedAt;
  switch (event.type) {
    case "start":
      return state.phase === "initial" ? sendChallenge(state, event.now) : unchanged;
    case "timeout":
      if (state.phase !== "waiting" || !state.timerArmed) return unchanged;
      if (state.transmissions > (state.config.maxRetransmits ?? 9)) {
        return {
          state: { ...state, phase: "failed", timerArmed: false },
          effects: [{ type: "failed", reason: "timeout", elapsedMs }],
        };
      }
      return sendChallenge(state, event.now);
    case "receive": {
      if (state.phase === "initial") return unchanged;
      const decoded = decodeChap(event.packet);
      if (!decoded.ok || decoded.value.type !== "Response") return unchanged;
      const response = decoded.value;
      if (response.identifier !== state.identifier) return unchanged;
      const reply = (type: "Success" | "Failure"): AuthEffect => ({
        type: "send",
        protocol: PPP_CHAP,
        packet: encodeChap({
          type,
          identifier: response.identifier,
          message: type === "Success"
            ? state.config.successMessage ?? "Access granted"
            : state.config.failureMessage ?? "Access denied",
        }),
      });
      if (state.phase === "authenticated") return { state, effects: [reply("Success")] };
      if (state.phase === "failed") return { state, effects: [reply("Failure")] };
      const name = utf8OrUndefined(response.name);
      const secret = name === undefined ? undefined : state.config.secretFor(name);
      const accepted = name !== undefined &&
        (secret === undefined ? state.config.acceptUnknown === true : responseMatches(
          chapResponse(response.identifier, secret, state.challenge),
          response.value,
        ));
      const cancel: AuthEffect[] = state.timerArmed ? [{ type: "cancel_timer" }] : [];
      if (!accepted) {
        return {
          state: { ...state, phase: "failed", timerArmed: false },
          effects: [
            reply("Failure"),
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
          exchange: {
            name,
            identifier: response.identifier,
            challenge: state.challenge,
            response: response.value,
          },
        },
        effects: [reply("Success"), ...cancel, { type: "authenticated", user: name, elapsedMs }],
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

/** Who a CHAP peer is. */
export interface ChapPeerConfig {
  /** Our Name in the Response. */
  readonly name: string;
  /** The secret shared with the authenticator; at least one octet (RFC 1994 §2.2). */
  readonly secret: string;
  /** How long to wait for a Challenge, then for Success or Failure. Default 30000 ms. */
  readonly timeoutMs?: number;
}

/** A CHAP peer; only {@link stepChapPeer} makes new ones. */
export interface ChapPeerState {
  readonly config: ChapPeerConfig;
  readonly phase: AuthPhase;
  /** Identifier of the last Response sent, or `null` before the first Challenge. */
  readonly identifier: number | null;
  readonly timerArmed: boolean;
  readonly startedAt: number;
}

/**
 * A CHAP peer that has not started. Throws RangeError on an empty secret.
 *
 * @example
 * ```ts
 * import { initChapPeer } from "./chap.ts";
 * if (initChapPeer({ name: "alice", secret: "pw" }).identifier !== null) throw new Error();
 * ```
 */
export function initChapPeer(config: ChapPeerConfig): ChapPeerState {
  if (config.secret === "") throw new RangeError("a CHAP secret must be at least one octet");
  return { config, phase: "initial", identifier: null, timerArmed: false, startedAt: 0 };
}

/**
 * One step of the peer (RFC 1994 §4.1–2). Every Challenge after `start` gets
 * a Response — also after Success, as the authenticator may challenge again.
 * A Success or Failure whose Identifier is not the last Response's is
 * ignored; the first one that matches is the outcome, and a Failure after a
 * rechallenge turns a success into a failure. If no Challenge or no reply
 * comes within `timeoutMs` of `start`, the peer fails.
 *
 * @example
 * ```ts
 * import { decodeChap, encodeChap, initChapPeer, stepChapPeer } from "./chap.ts";
 * const s = stepChapPeer(initChapPeer({ name: "alice", secret: "pw" }), { type: "start", now: 0 }).state;
 * const challenge = encodeChap({ type: "Challenge", identifier: 3, value: new Uint8Array([1]), name: new Uint8Array() });
 * const r = stepChapPeer(s, { type: "receive", packet: challenge, now: 1 });
 * const sent = r.effects[0];
 * if (sent.type !== "send") throw new Error();
 * const response = decodeChap(sent.packet);
 * if (!response.ok || response.value.type !== "Response" || response.value.identifier !== 3) throw new Error();
 * ```
 */
export function stepChapPeer(state: ChapPeerState, event: AuthEvent): AuthStep<ChapPeerState> {
  const unchanged = { state, effects: [] };
  const elapsedMs = event.now - state.startedAt;
  switch (event.type) {
    case "start":
      if (state.phase !== "initial") return unchanged;
      return {
        state: { ...state, phase: "waiting", timerArmed: true, startedAt: event.now },
        effects: [{ type: "arm_timer", ms: state.config.timeoutMs ?? 30_000 }],
      };
    case "timeout":
      if (state.phase !== "waiting" || !state.timerArmed) return unchanged;
      return {
        state: { ...state, phase: "failed", timerArmed: false },
        effects: [{ type: "failed", reason: "timeout", elapsedMs }],
      };
    case "receive": {
      if (state.phase === "initial" || state.phase === "failed") return unchanged;
      const decoded = decodeChap(event.packet);
      if (!decoded.ok) return unchanged;
      const packet = decoded.value;
      if (packet.type === "Response") return unchanged;
      if (packet.type === "Challenge") {
        const response = encodeChap({
          type: "Response",
          identifier: packet.identifier,
          value: chapResponse(packet.identifier, state.config.secret, packet.value),
          name: utf8.encode(state.config.name),
        });
        return {
          state: { ...state, identifier: packet.identifier },
          effects: [{ type: "send", protocol: PPP_CHAP, packet: response }],
        };
      }
      if (packet.identifier !== state.identifier) return unchanged;
      const cancel: AuthEffect[] = state.timerArmed ? [{ type: "cancel_timer" }] : [];
      if (packet.type === "Success") {
        if (state.phase === "authenticated") return unchanged;
        return {
          state: { ...state, phase: "authenticated", timerArmed: false },
          effects: [...cancel, { type: "authenticated", user: state.config.name, elapsedMs }],
        };
      }
      return {
        state: { ...state, phase: "failed", timerArmed: false },
        effects: [
          ...cancel,
          { type: "failed", reason: "rejected", message: packet.message, elapsedMs },
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
// Proxy authentication.

/**
 * The ICCN proxy authentication AVPs (RFC 2661 §4.4.5) for a user a LAC
 * authenticated with CHAP: type 2, the Name, the Challenge, the Identifier
 * and the Response Value, as `proxy.ts` builds them.
 *
 * @example
 * ```ts
 * import { proxyFieldsFromChap } from "./chap.ts";
 * const f = proxyFieldsFromChap({
 *   name: "alice",
 *   identifier: 7,
 *   challenge: new Uint8Array(16),
 *   response: new Uint8Array(16),
 * });
 * if (f.proxyAuthenType !== 2 || f.proxyAuthenId !== 7) throw new Error();
 * ```
 */
export function proxyFieldsFromChap(exchange: ChapExchange): AvpFields {
  return {
    proxyAuthenType: ProxyAuthenType.PppChap,
    proxyAuthenName: exchange.name,
    proxyAuthenChallenge: exchange.challenge,
    proxyAuthenId: exchange.identifier,
    proxyAuthenResponse: exchange.response,
  };
}
