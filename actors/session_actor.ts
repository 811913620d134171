/**
 * The session actor: one call inside a tunnel (RFC 2661 §5.2, §5.6, §7.4,
 * §7.5). It drives the pure session state machine (session_fsm.ts) and
 * performs its effects: control messages go out through its tunnel, the data
 * plane's forwarding entry is programmed when the call is established and
 * removed before the actor's state is freed, and the application hears of
 * every change through the node's hooks.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type {
  AccmValue,
  Avp,
  CallErrorsValue,
  Q931CauseValue,
  ResultCodeValue,
} from "../transport/avp.ts";
import type { MessageTypeName } from "../transport/avp_types.ts";
import type { Endpoint } from "../transport/datagram.ts";
import type { AvpFields, MessageProblem } from "../transport/message.ts";
import { type DataEntry, sendFrame } from "./data_plane.ts";
import type { CloseReason, SessionHandle, TunnelInfo } from "./l2tp_types.ts";
import {
  type CallType,
  initialState,
  type SessionEffect,
  type SessionEvent,
  type SessionSide,
  type SessionState,
  transition,
} from "./session_fsm.ts";
import type { TimerHandle } from "./clock.ts";
import type { Actor, ActorContext, ActorRef } from "./system.ts";
import type { TunnelHost, TunnelMsg } from "./tunnel_actor.ts";

const log = getLogger(["lts", "session"]);

/** Messages a session actor handles. */
export type SessionMsg =
  /** A control message for this session, in order, from its tunnel. */
  | {
    type: "control";
    /** The message's vendor and unknown AVPs (see {@link SessionHandle.extraAvps}). */
    extra?: readonly Avp[];
    message: MessageTypeName;
    fields: AvpFields;
    problems: readonly MessageProblem[];
  }
  | { type: "place_call"; fields: AvpFields; extra?: readonly Avp[] }
  | { type: "accept" }
  | { type: "reject"; result: ResultCodeValue }
  | { type: "answered"; fields: AvpFields }
  | { type: "disconnect"; result: ResultCodeValue; q931?: Q931CauseValue }
  | { type: "wan_error"; callErrors: CallErrorsValue }
  | { type: "set_link_info"; accm: AccmValue }
  /** The tunnel is gone (StopCCN, transport failure): close without sending anything (§6.4). */
  | { type: "tunnel_down"; reason: CloseReason }
  /** The call had its time to be established. */
  | { type: "setup_check" }
  /** The application is done with the proxy AVPs (see {@link SessionHandle.forgetProxyAvps}). */
  | { type: "forget_proxy" }
  /** From the tunnel: our ICCN (or OCCN) has gone on the wire. */
  | { type: "sent" };

/**
 * How long a call may take to be established before it is cleared with CDN
 * result 10 ("not established within the time allotted", §4.4.2): two full
 * retransmission cycles of the control channel (§5.8), so a peer that
 * acknowledged our ICRQ and went silent cannot leave a half-open call.
 */
export const SESSION_SETUP_TIMEOUT_MS = 62_000;

/** Data frames held between our ICRP and the peer's ICCN. */
export const EARLY_FRAMES = 4;

/** Shared by every session that got no vendor AVP. */
const NO_AVPS: readonly Avp[] = Object.freeze([]);

/** The proxy LCP and authentication AVPs' bulk (§4.4.5): used once, to answer or place a call. */
const PROXY_BULK = [
  "initialReceivedLcpConfreq",
  "lastSentLcpConfreq",
  "lastReceivedLcpConfreq",
  "proxyAuthenChallenge",
  "proxyAuthenResponse",
] as const;

const SETUP_MESSAGES: ReadonlySet<string> = new Set([
  "ICRQ",
  "ICRP",
  "ICCN",
  "OCRQ",
  "OCRP",
  "OCCN",
]);

/** How a session actor starts. */
export interface SessionStart {
  side: SessionSide;
  callType: CallType;
  localSessionId: number;
  tunnel: ActorRef<TunnelMsg>;
  tunnelInfo: TunnelInfo;
  host: TunnelHost;
  /** The application's tag for a call it placed, handed back on its handle. */
  context?: unknown;
}

/** Creates the behaviour of a session actor. */
export function sessionActor(start: SessionStart): () => Actor<SessionMsg> {
  return () => new SessionActor(start);
}

class SessionActor implements Actor<SessionMsg> {
  #s: SessionStart;
  #state: SessionState;
  #forwarding = false;
  #established = false;
  /** Frames that came between our ICRP and the ICCN (at most {@link EARLY_FRAMES}). */
  #early: Uint8Array[] | undefined;
  #closed = false;
  #handle: SessionHandle;
  /** Vendor and unknown AVPs received on this call (ICRQ, ICCN, …), in order. */
  #extraIn: Avp[] | undefined;
  /** Vendor AVPs to send in our ICRQ/OCRQ. */
  #extraOut: readonly Avp[] | undefined;

  constructor(start: SessionStart) {
    this.#s = start;
    this.#state = initialState({
      side: start.side,
      callType: start.callType,
      localSessionId: start.localSessionId,
    });
    this.#handle = new Handle(this, start.tunnelInfo, start.localSessionId, start.context);
  }

  overflow(): "must_deliver" {
    // A session's mailbox carries its tunnel's in-order control messages and the
    // application's commands: losing one would desynchronise the call.
    return "must_deliver";
  }

  handle(msg: SessionMsg, ctx: ActorContext<SessionMsg>): void {
    if (msg.type === "forget_proxy") {
      this.#forgetProxyAvps();
      return;
    }
    if (msg.type === "sent") {
      this.#connectPending = false;
      if (this.#establishedPending && !this.#closed) {
        this.#establishedPending = false;
        this.#onEstablished(ctx);
      }
      return;
    }
    if (msg.type === "tunnel_down") {
      this.#close(msg.reason, ctx);
      return;
    }
    if (msg.type === "setup_check") {
      if (!this.#established && !this.#closed) {
        this.#apply({
          type: "disconnect",
          resultCode: 10,
          errorCode: 0,
          errorMessage: "call not established in time",
        }, ctx);
        // The FSM sends no CDN when the peer never learnt of the call; close all the same.
        if (!this.#closed) {
          this.#close({
            result: { resultCode: 10, errorMessage: "call not established in time" },
            by: "local",
          }, ctx);
        }
      }
      return;
    }
    // Vendor AVPs are kept from the call's setup messages only: a peer repeating WEN or SLI
    // must not grow a session's memory.
    if (
      msg.type === "control" && msg.extra && msg.extra.length > 0 && SETUP_MESSAGES.has(msg.message)
    ) {
      (this.#extraIn ??= []).push(...msg.extra);
    }
    if (msg.type === "place_call") this.#extraOut = msg.extra;
    this.#apply(toEvent(msg), ctx);
  }

  onStop(): void {
    // The forwarding entry goes before the session's state does (DESIGN.md).
    if (this.#forwarding) {
      this.#s.host.forwarding.delete(this.#s.tunnelInfo.tunnelId, this.#s.localSessionId);
    }
    this.#forwarding = false;
    if (!this.#closed) {
      this.#closed = true;
      this.#s.host.hooks.sessionClosed?.(this.#handle, {
        result: { resultCode: 3, errorMessage: "stopped" },
        by: "local",
      });
    }
  }

  #apply(event: SessionEvent, ctx: ActorContext<SessionMsg>): void {
    const before = this.#state.peerSessionId;
    const { state, effects } = transition(this.#state, event);
    this.#state = state;
    if (state.peerSessionId !== null && state.peerSessionId !== before) {
      this.#s.tunnel.send({
        type: "session_peer",
        localSessionId: this.#s.localSessionId,
        peerSessionId: state.peerSessionId,
      });
    }
    for (const effect of effects) this.#perform(effect, ctx);
  }

  #perform(effect: SessionEffect, ctx: ActorContext<SessionMsg>): void {
    const hooks = this.#s.host.hooks;
    switch (effect.type) {
      case "send": {
        // Our ICCN (OCCN): the call is established once it is on the wire (see "established").
        const connects = effect.message === "ICCN" || effect.message === "OCCN";
        if (connects) this.#connectPending = true;
        // Accepting a call: the LAC may send data right after its ICCN, before we have taken
        // the ICCN in; hold the first frames rather than lose them (LCP would retransmit in 3 s).
        // Our own ICCN likewise: the peer may answer it with data before we hear that it left.
        if (effect.message === "ICRP" || connects) this.#program(true);
        this.#s.tunnel.send({
          type: "session_send",
          message: effect.message,
          fields: effect.fields,
          headerSessionId: effect.headerSessionId,
          fromSessionId: this.#s.localSessionId,
          ...(connects ? { notifySent: true } : {}),
          ...(effect.message === "ICRQ" || effect.message === "OCRQ"
            ? { extra: this.#extraOut?.slice() }
            : {}),
        });
        break;
      }
      case "ask_accept":
        if (hooks.incomingCall) hooks.incomingCall(this.#handle, effect.message);
        else this.#apply({ type: "accept" }, ctx);
        break;
      case "established":
        // Our ICCN may still wait for window space in the tunnel: data sent now would reach the
        // peer before it, for a session it does not know yet (xl2tpd and l2tpns drop it, and
        // PPP then waits out a restart timer). The call is up for us once the ICCN has left.
        if (this.#connectPending) this.#establishedPending = true;
        else this.#onEstablished(ctx);
        break;
      case "closed":
        this.#close({
          result: {
            resultCode: effect.resultCode,
            errorCode: effect.errorCode,
            errorMessage: effect.errorMessage,
          },
          q931: effect.q931,
          by: effect.by === "tunnel" ? "transport" : effect.by,
        }, ctx);
        break;
      case "peer_accepted":
        break; // ICRP/OCRP: the FSM already answered with ICCN, or waits for the call to complete
      case "link_info":
        hooks.linkEvent?.(this.#handle, { accm: effect.accm });
        break;
      case "wan_error":
        hooks.linkEvent?.(this.#handle, { wanError: effect.callErrors });
        break;
      case "protocol_error":
        log.warn("session {tunnelId}/{sessionId}: {message}", {
          tunnelId: this.#s.tunnelInfo.tunnelId,
          sessionId: this.#s.localSessionId,
          message: effect.message,
        });
        break;
      default: {
        const never: never = effect;
        return never;
      }
    }
  }

  #onEstablished(ctx: ActorContext<SessionMsg>): void {
    const hooks = this.#s.host.hooks;
    this.#established = true;
    if (this.#setupTimer !== undefined) ctx.cancelTimer(this.#setupTimer);
    this.#setupTimer = undefined;
    // Our ICRQ's vendor AVPs have been sent.
    this.#extraOut = undefined;
    this.#program(false);
    log.debug("session {tunnelId}/{sessionId} established", {
      tunnelId: this.#s.tunnelInfo.tunnelId,
      sessionId: this.#s.localSessionId,
    });
    hooks.sessionEstablished?.(this.#handle);
    if (this.#early !== undefined) {
      const early = this.#early;
      this.#early = undefined;
      for (const frame of early) hooks.frame?.(this.#handle, frame);
    }
    // Our ICCN carried the proxy AVPs: this leg needs them no more (a switched session would
    // otherwise keep four Uint8Arrays and the setup message's buffer for its whole life).
    if (this.#s.side === "lac") this.#forgetProxyAvps();
  }

  /** Programs the forwarding entry; `early`: the call is not established yet, so frames are held. */
  #program(early: boolean): void {
    const peerTunnelId = this.#s.tunnelInfo.peerTunnelId;
    const peerSessionId = this.#state.peerSessionId;
    if (peerTunnelId === null || peerSessionId === null) return;
    this.#s.host.forwarding.set(
      this.#s.tunnelInfo.tunnelId,
      this.#s.localSessionId,
      new LegEntry(this, early, this.#s.tunnelInfo.peer, peerTunnelId, peerSessionId, {
        sequencing: this.#state.call.sequencingRequired === true,
      }),
    );
    this.#forwarding = true;
  }

  #close(reason: CloseReason, ctx: ActorContext<SessionMsg>): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#forwarding) {
      this.#s.host.forwarding.delete(this.#s.tunnelInfo.tunnelId, this.#s.localSessionId);
    }
    this.#forwarding = false;
    this.#s.host.hooks.sessionClosed?.(this.#handle, reason);
    ctx.stop("normal");
  }

  /** @internal What the handle reports as `call`. */
  get _call(): AvpFields {
    return this.#state.call;
  }

  /** @internal What the handle reports as `extraAvps`. */
  get _extraIn(): readonly Avp[] {
    return this.#extraIn ?? NO_AVPS;
  }

  /** @internal What the handle reports as `established`. */
  get _established(): boolean {
    return this.#established && !this.#closed;
  }

  #forgetProxyAvps(): void {
    const call = this.#state.call;
    if (!PROXY_BULK.some((key) => call[key] !== undefined)) return;
    // A copy without them (`delete` would turn the object into a slower, larger dictionary).
    const kept: Record<string, unknown> = {};
    const from = call as Record<string, unknown>;
    for (const key in from) {
      if (!(PROXY_BULK as readonly string[]).includes(key)) kept[key] = from[key];
    }
    this.#state = { ...this.#state, call: kept as AvpFields };
  }

  /** @internal A command from the application, through the handle. */
  _post(msg: SessionMsg): void {
    this.#selfRef?.send(msg);
  }

  /** @internal A data frame for this session, from its forwarding entry. */
  _receive(frame: Uint8Array, early: boolean): void {
    if (!early) {
      this.#s.host.hooks.frame?.(this.#handle, frame);
      return;
    }
    const held = this.#early ??= [];
    if (held.length < EARLY_FRAMES) held.push(frame.slice());
    else this.#s.host.forwarding.unknownSession++;
  }

  /** @internal The data plane: straight to the socket through the forwarding entry, no actor hop. */
  _sendFrame(frame: Uint8Array): boolean {
    const { host, tunnelInfo, localSessionId } = this.#s;
    const entry = host.forwarding.get(tunnelInfo.tunnelId, localSessionId);
    return entry !== undefined && sendFrame(host.socket, entry, frame);
  }

  #selfRef: ActorRef<SessionMsg> | undefined;
  /** Our ICCN/OCCN waits in the tunnel for window space. */
  #connectPending = false;
  /** The FSM said established while {@link #connectPending}. */
  #establishedPending = false;
  /** The setup deadline; cancelled once established (a switched call holds no timer). */
  #setupTimer: TimerHandle | undefined;

  onStart(ctx: ActorContext<SessionMsg>): void {
    this.#selfRef = ctx.self;
    this.#setupTimer = ctx.setTimer(SESSION_SETUP_TIMEOUT_MS, { type: "setup_check" });
  }
}

function toEvent(
  msg: Exclude<SessionMsg, { type: "tunnel_down" | "setup_check" | "forget_proxy" | "sent" }>,
): SessionEvent {
  switch (msg.type) {
    case "control":
      return { type: "received", message: msg.message, fields: msg.fields, problems: msg.problems };
    case "place_call":
      return { type: "place_call", fields: msg.fields };
    case "accept":
      return { type: "accept" };
    case "reject":
      return { type: "reject", ...msg.result };
    case "answered":
      return { type: "answered", fields: msg.fields };
    case "disconnect":
      return { type: "disconnect", ...msg.result, q931: msg.q931 };
    case "wan_error":
      return { type: "wan_error", callErrors: msg.callErrors };
    case "set_link_info":
      return { type: "set_link_info", accm: msg.accm };
  }
}

/**
 * A session as the application holds it. One small object per session: its
 * methods live on the prototype and reach the actor through one field (an
 * object literal of closures and getters cost about 1.8 KB a session).
 */
class Handle implements SessionHandle {
  readonly #actor: SessionActor;
  readonly tunnel: TunnelInfo;
  readonly sessionId: number;
  readonly context: unknown;

  constructor(actor: SessionActor, tunnel: TunnelInfo, sessionId: number, context: unknown) {
    this.#actor = actor;
    this.tunnel = tunnel;
    this.sessionId = sessionId;
    this.context = context;
  }

  get call(): AvpFields {
    return this.#actor._call;
  }

  get established(): boolean {
    return this.#actor._established;
  }

  get extraAvps(): readonly Avp[] {
    return this.#actor._extraIn;
  }

  accept(): void {
    this.#actor._post({ type: "accept" });
  }

  reject(result: ResultCodeValue): void {
    this.#actor._post({ type: "reject", result });
  }

  answered(fields: AvpFields): void {
    this.#actor._post({ type: "answered", fields });
  }

  disconnect(result: ResultCodeValue, q931?: Q931CauseValue): void {
    this.#actor._post({ type: "disconnect", result, q931 });
  }

  wanError(callErrors: CallErrorsValue): void {
    this.#actor._post({ type: "wan_error", callErrors });
  }

  setLinkInfo(accm: AccmValue): void {
    this.#actor._post({ type: "set_link_info", accm });
  }

  sendFrame(frame: Uint8Array): boolean {
    return this.#actor._sendFrame(frame);
  }

  forgetProxyAvps(): void {
    this.#actor._post({ type: "forget_proxy" });
  }
}

/**
 * A session's forwarding entry. Frames that are not switched on reach the
 * actor through `receive`, a method (a closure per session would cost about
 * 100 bytes each, 200,000 of them at 100,000 switched calls).
 */
class LegEntry implements DataEntry {
  readonly #actor: SessionActor;
  readonly #early: boolean;
  readonly peer: Endpoint;
  readonly peerTunnelId: number;
  readonly peerSessionId: number;
  readonly sequencing: boolean;
  ns = 0;
  rxFrames = 0;
  txFrames = 0;
  rxBytes = 0;
  txBytes = 0;
  forward: DataEntry | undefined = undefined;
  removed: boolean | undefined = undefined;

  constructor(
    actor: SessionActor,
    early: boolean,
    peer: Endpoint,
    peerTunnelId: number,
    peerSessionId: number,
    options: { sequencing: boolean },
  ) {
    this.#actor = actor;
    this.#early = early;
    this.peer = peer;
    this.peerTunnelId = peerTunnelId;
    this.peerSessionId = peerSessionId;
    this.sequencing = options.sequencing;
  }

  receive(frame: Uint8Array): void {
    this.#actor._receive(frame, this.#early);
  }
}
