/**
 * The tunnel actor: one L2TP control connection (RFC 2661 §5.1, §7.2), as
 * initiator (sends SCCRQ) or responder (answers one). It owns the reliable
 * control channel (§5.8), tunnel authentication (§5.1.1), AVP hiding (§4.3),
 * HELLO keepalives (§5.5), StopCCN teardown with its hold-down (§5.7), and
 * its session actors, which die with it.
 *
 * Phases (§7.2):
 *
 * | phase          | event                     | next           | action                              |
 * | -------------- | ------------------------- | -------------- | ----------------------------------- |
 * | (initiator)    | start                     | wait_ctl_reply | send SCCRQ                          |
 * | (responder)    | SCCRQ acceptable          | wait_ctl_conn  | send SCCRP                          |
 * | (responder)    | SCCRQ not acceptable      | closing        | send StopCCN                        |
 * | wait_ctl_reply | SCCRP, authenticated      | established    | send SCCCN                          |
 * | wait_ctl_reply | SCCRP, bad/no response    | closing        | send StopCCN result 4               |
 * | wait_ctl_conn  | SCCCN, authenticated      | established    |                                     |
 * | wait_ctl_conn  | SCCCN, bad/no response    | closing        | send StopCCN result 4               |
 * | any            | StopCCN                   | held           | ack; keep state one full cycle      |
 * | any            | unknown M-bit AVP         | closing        | send StopCCN result 2, error 8      |
 * | any            | message out of sequence   | closing        | send StopCCN result 2 (§7.1)        |
 * | any            | retransmissions exhausted | (stopped)      | clear sessions                      |
 * | closing        | StopCCN acknowledged      | (stopped)      |                                     |
 * | held           | hold-down over            | (stopped)      |                                     |
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ResultCodeValue } from "../transport/avp.ts";
import { challengeResponse, verifyChallengeResponse } from "../transport/auth.ts";
import { type Avp, isRecognized } from "../transport/avp.ts";
import { type AvpKey, type MessageTypeName, StopCcnResult } from "../transport/avp_types.ts";
import { type DatagramSocket, type Endpoint, endpointKey } from "../transport/datagram.ts";
import { decodeHeader, put16 } from "../transport/header.ts";
import {
  type AvpFields,
  buildAvps,
  type ControlMessage,
  decodeControl,
  encodeControl,
  fieldsOf,
} from "../transport/message.ts";
import { ReliableChannel, retransmissionCycleMs } from "../transport/reliable_channel.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import type { ForwardingTable } from "./data_plane.ts";
import type { CloseReason, NodeHooks, TunnelInfo, TunnelSettings } from "./l2tp_types.ts";
import { IdAllocator } from "./registry.ts";
import { sessionActor, type SessionMsg } from "./session_actor.ts";
import type { Actor, ActorContext, ActorRef, ChildExit } from "./system.ts";
import type { Prng } from "./prng.ts";

const log = getLogger(["lts", "tunnel"]);

/** AVPs we hide when hiding is on: numbers and proxy authentication (§4.3 "sensitive data"). */
export const HIDDEN_AVPS: readonly AvpKey[] = [
  "callingNumber",
  "calledNumber",
  "subAddress",
  "proxyAuthenName",
  "proxyAuthenChallenge",
  "proxyAuthenId",
  "proxyAuthenResponse",
  "initialReceivedLcpConfreq",
  "lastSentLcpConfreq",
  "lastReceivedLcpConfreq",
];

/**
 * Mailbox bound of a session actor: its tunnel hands it one control message
 * at a time and the peer's window (§5.8) bounds what is in flight.
 */
export const SESSION_MAILBOX = 16;

/** How every session actor is spawned: one frozen object shared by all of them. */
const SESSION_SPAWN = Object.freeze({ capacity: SESSION_MAILBOX, restart: "temporary" as const });

/** Who may open a tunnel to us, and with what settings; decided per SCCRQ. */
export type Admission =
  | { accept: true; settings?: Partial<TunnelSettings> }
  | { accept: false; resultCode: number; message?: string };

/** Counters a node keeps across its tunnels. */
export interface TunnelCounters {
  malformed: number;
  outOfSequence: number;
  authFailures: number;
  /** Control messages not sent, and calls not placed, because the tunnel's backlog was full (`maxBacklog`). */
  channelFull: number;
  /** ICRQs and OCRQs refused, and calls not placed, because the tunnel carried `maxSessions`. */
  sessionLimit: number;
  unknownSession: number;
  controlRetransmits: number;
}

/** What a tunnel actor needs from its node. */
export interface TunnelHost {
  readonly clock: Clock;
  readonly socket: DatagramSocket;
  readonly forwarding: ForwardingTable;
  readonly hooks: NodeHooks;
  readonly counters: TunnelCounters;
  /** Random octets for challenges, Random Vectors and padding (crypto in production, seeded in tests). */
  randomBytes(n: number): Uint8Array;
  /** Source for Session ID choice. */
  readonly idRandom: Prng;
  admit(peer: { from: Endpoint; hostName: string }): Admission;
  /** Called once the tunnel's actor has stopped, to forget tie-breaker and retransmitted-SCCRQ state. */
  forget(tunnelId: number): void;
  /**
   * Called when the peer failed tunnel authentication (§5.1.1) or was not admitted, to count
   * it against its address.
   */
  authFailed(peer: Endpoint): void;
  /** Called when the tunnel's actor starts, with the live view of it. */
  register(tunnelId: number, info: TunnelInfo): void;
}

/** Messages a tunnel actor handles. */
export type TunnelMsg =
  /** A control datagram addressed to this tunnel (a copy the actor may keep). */
  | { type: "datagram"; packet: Uint8Array; from: Endpoint }
  /** A reliable-channel timer fired. */
  | { type: "channel_timer"; fire: () => void }
  | { type: "hello_check" }
  | { type: "hold_over" }
  /** The control connection had a full retransmission cycle to come up. */
  | { type: "setup_check" }
  /** Place a call on this tunnel: ICRQ as LAC (or OCRQ as LNS with `outgoing`). */
  | { type: "place_call"; fields: AvpFields; outgoing?: boolean; context?: unknown; extra?: Avp[] }
  /** From a session actor: send a control message for it. */
  | {
    type: "session_send";
    message: MessageTypeName;
    fields: AvpFields;
    headerSessionId: number;
    extra?: Avp[];
    /** Our Session ID of the sending session. */
    fromSessionId: number;
    /** Tell the session (`sent`) when the message first goes on the wire. */
    notifySent?: boolean;
  }
  /** From a session actor: its peer's Session ID is now known. */
  | { type: "session_peer"; localSessionId: number; peerSessionId: number }
  /** Tear the tunnel down with a StopCCN. */
  | { type: "close"; result: ResultCodeValue }
  /**
   * Drop the tunnel without a word to the peer: it lost a tie-break (§4.4.3),
   * or the peer restarted and reuses its Tunnel ID, so a StopCCN would hit its new tunnel.
   */
  | { type: "abandon"; why: string };

type Phase = "idle" | "wait_ctl_reply" | "wait_ctl_conn" | "established" | "closing" | "held";

interface SessionEntry {
  ref: ActorRef<SessionMsg>;
  peerSessionId: number | null;
  localSessionId: number;
}

/** How a tunnel actor starts. */
export interface TunnelStart {
  tunnelId: number;
  peer: Endpoint;
  settings: TunnelSettings;
  host: TunnelHost;
  /** Initiator: our Tie Breaker value, when we send one. */
  tieBreaker?: Uint8Array;
  /** Responder: the SCCRQ that created us. */
  sccrq?: Uint8Array;
}

const PROTOCOL_VERSION = { version: 1, revision: 0 } as const;

/** Creates the behaviour of a tunnel actor. */
export function tunnelActor(start: TunnelStart): () => Actor<TunnelMsg> {
  return () => new TunnelActor(start);
}

class TunnelActor implements Actor<TunnelMsg> {
  #s: TunnelStart;
  #settings: TunnelSettings;
  #phase: Phase = "idle";
  #peerTunnelId: number | null = null;
  #peerHostName: string | null = null;
  #channel!: ReliableChannel;
  #decoded = new WeakMap<Uint8Array, ControlMessage>();
  #ourChallenge: Uint8Array | null = null;
  #lastRx = 0;
  #sessions = new Map<number, SessionEntry>();
  #byPeerSession = new Map<number, number>();
  #sessionIds: IdAllocator;
  #pendingCalls: { fields: AvpFields; outgoing: boolean; context: unknown; extra?: Avp[] }[] = [];
  #backlog: Uint8Array[] = [];
  #closedNotified = false;
  #everEstablished = false;
  #callSerial = 0;
  #closeReason: CloseReason | null = null;
  #ctx!: ActorContext<TunnelMsg>;
  #info: TunnelInfo;
  #peer: Endpoint;

  constructor(start: TunnelStart) {
    this.#s = start;
    this.#settings = start.settings;
    this.#sessionIds = new IdAllocator({ random: start.host.idRandom });
    this.#peer = start.peer;
    const view = {
      established: () => this.#phase === "established",
      sessions: () => this.#sessions.size,
      peerTunnelId: () => this.#peerTunnelId,
      peer: () => this.#peer,
      host: () => this.#peerHostName,
    };
    this.#info = {
      tunnelId: start.tunnelId,
      get peerTunnelId() {
        return view.peerTunnelId();
      },
      get peer() {
        return view.peer();
      },
      get peerHostName() {
        return view.host();
      },
      initiator: start.sccrq === undefined,
      get established() {
        return view.established();
      },
      get sessionCount() {
        return view.sessions();
      },
    };
  }

  onStart(ctx: ActorContext<TunnelMsg>): void {
    this.#ctx = ctx;
    this.#s.host.register(this.#s.tunnelId, this.#info);
    ctx.setTimer(retransmissionCycleMs(this.#settings), { type: "setup_check" });
    this.#lastRx = ctx.now();
    this.#openChannel(this.#settings);
    if (this.#s.sccrq !== undefined) {
      this.#onDatagram(this.#s.sccrq);
      return;
    }
    const fields: AvpFields = this.#identity();
    if (this.#settings.secret) fields.challenge = this.#ourChallenge = this.#s.host.randomBytes(16);
    if (this.#s.tieBreaker) fields.tieBreaker = this.#s.tieBreaker;
    this.#phase = "wait_ctl_reply";
    this.#send("SCCRQ", fields, 0);
    this.#armHello();
  }

  overflow(msg: TunnelMsg): "reject_newest" | "must_deliver" {
    // Datagrams from the wire may be dropped under load (the peer retransmits);
    // our own timers and sessions' messages must not be.
    return msg.type === "datagram" ? "reject_newest" : "must_deliver";
  }

  handle(msg: TunnelMsg, ctx: ActorContext<TunnelMsg>): void {
    switch (msg.type) {
      case "datagram":
        // §8.1: the responder may answer from a port of its choosing; we follow its first reply.
        if (this.#phase === "wait_ctl_reply" && this.#peerTunnelId === null) this.#peer = msg.from;
        this.#onDatagram(msg.packet);
        break;
      case "channel_timer": {
        const before = this.#channel.stats.retransmits;
        msg.fire();
        this.#s.host.counters.controlRetransmits += this.#channel.stats.retransmits - before;
        break;
      }
      case "hello_check":
        this.#onHelloCheck();
        break;
      case "hold_over":
        ctx.stop("normal");
        break;
      case "setup_check":
        // The channel gives up only on an unacknowledged message; a peer that acknowledged our
        // SCCRQ (or SCCRP) and then went silent would leave us waiting forever (§7.2 has no
        // timer here), so setup gets one full retransmission cycle.
        if (this.#phase === "idle") {
          this.#ctx.stop("normal"); // never got its SCCRQ in order: nothing to tell anyone
        } else if (this.#phase === "wait_ctl_reply" || this.#phase === "wait_ctl_conn") {
          this.#stop({
            resultCode: StopCcnResult.GeneralError,
            errorCode: 0,
            errorMessage: "control connection setup timed out",
          }, "local");
        }
        break;
      case "place_call":
        this.#placeCall(msg.fields, msg.outgoing ?? false, msg.context, msg.extra);
        break;
      case "session_send": {
        // After our StopCCN nothing more of its sessions goes out: the StopCCN clears them
        // (§5.7), and they are being told so (tunnel_down).
        if (this.#phase === "closing" || this.#phase === "held") break;
        // The session as it is now: by the time a queued ICCN leaves, its Session ID may have
        // been freed and given to another call, which must not hear of this one's "sent".
        const sender = this.#sessionBySid(msg.fromSessionId)?.ref;
        if (
          !this.#send(
            msg.message,
            msg.fields,
            msg.headerSessionId,
            msg.extra,
            msg.notifySent ? () => sender?.send({ type: "sent" }) : undefined,
          )
        ) {
          // The message could not even be queued: the call cannot go on, and its session
          // must not wait for an answer that will never come.
          this.#sessionBySid(msg.fromSessionId)?.ref.send({
            type: "tunnel_down",
            reason: {
              result: { resultCode: 2, errorCode: 4, errorMessage: "control queue full" },
              by: "local",
            },
          });
        }
        break;
      }
      case "session_peer": {
        const entry = this.#sessions.get(msg.localSessionId);
        if (entry) {
          entry.peerSessionId = msg.peerSessionId;
          this.#byPeerSession.set(msg.peerSessionId, msg.localSessionId);
        }
        break;
      }
      case "close":
        this.#stop(msg.result, "local");
        break;
      case "abandon": {
        log.info("tunnel {tunnelId} abandoned: {why}", {
          tunnelId: this.#s.tunnelId,
          why: msg.why,
        });
        this.#closeReason = {
          result: { resultCode: StopCcnResult.GeneralRequestToClear, errorMessage: msg.why },
          by: "peer",
        };
        this.#phase = "held";
        this.#clearSessions();
        this.#notifyClosed();
        this.#channel.close();
        // Stop once the sessions have taken in their tunnel_down (and its reason).
        ctx.setTimer(0, { type: "hold_over" });
        break;
      }
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  onChildExit(exit: ChildExit): void {
    for (const [id, entry] of this.#sessions) {
      if (entry.ref !== exit.child) continue;
      this.#sessions.delete(id);
      if (entry.peerSessionId !== null) this.#byPeerSession.delete(entry.peerSessionId);
      this.#sessionIds.release(id);
      if (typeof exit.reason === "object") {
        // A crashed session: clear it with the peer too (the FSM could not).
        log.error("session {sessionId} crashed: {error}", {
          sessionId: id,
          error: String(exit.reason.crashed),
        });
        this.#send("CDN", {
          resultCode: { resultCode: 2, errorCode: 6, errorMessage: "internal error" },
          assignedSessionId: id,
        }, entry.peerSessionId ?? 0);
      }
      return;
    }
  }

  onStop(): void {
    this.#channel.close();
    if (this.#closeReason === null) {
      this.#closeReason = { result: { resultCode: StopCcnResult.ShuttingDown }, by: "local" };
    }
    this.#clearSessions();
    this.#notifyClosed();
    this.#s.host.forget(this.#s.tunnelId);
  }

  /** Tells the application once that this tunnel is gone, and which calls it never placed. */
  #notifyClosed(): void {
    if (this.#closedNotified) return;
    this.#closedNotified = true;
    const reason = this.#closeReason ??
      { result: { resultCode: StopCcnResult.ShuttingDown }, by: "local" as const };
    this.#s.host.hooks.tunnelClosed?.(this.#info, {
      ...reason,
      wasEstablished: this.#everEstablished,
    });
    const pending = this.#pendingCalls;
    this.#pendingCalls = [];
    for (const call of pending) this.#s.host.hooks.callNotPlaced?.(call.context, reason);
  }

  // ---- control channel ----

  #openChannel(settings: TunnelSettings): void {
    const ctx = this.#ctx;
    // The channel's timers come back as messages, so it only ever runs inside handle().
    const actorClock: Clock = {
      now: () => ctx.now(),
      setTimer: (ms: number, fn: () => void): TimerHandle =>
        ctx.setTimer(ms, { type: "channel_timer", fire: fn }),
      cancel: (t: TimerHandle) => void ctx.cancelTimer(t),
      get pendingTimers() {
        return ctx.timerCount;
      },
    };
    this.#channel = new ReliableChannel({
      clock: actorClock,
      transmit: (out) => {
        const peerTid = this.#peerTunnelId ?? 0;
        if (out.body === null) {
          this.#s.host.socket.send(
            encodeControl({ tunnelId: peerTid, sessionId: 0, ns: out.ns, nr: out.nr }, []),
            this.#peer,
          );
          return;
        }
        // The body is the whole message; Ns and Nr go in now (a retransmission carries the current Nr).
        put16(out.body, 4, peerTid);
        put16(out.body, 8, out.ns);
        put16(out.body, 10, out.nr);
        this.#s.host.socket.send(out.body, this.#peer);
      },
      deliver: (_ns, body) => {
        const msg = this.#decoded.get(body);
        if (msg) this.#onMessage(msg);
      },
      onFailure: () => this.#onTransportFailure(),
      receiveWindowSize: settings.receiveWindowSize,
      retransmitInitialMs: settings.retransmitInitialMs,
      retransmitMaxMs: settings.retransmitMaxMs,
      maxRetransmits: settings.maxRetransmits,
    });
  }

  #send(
    type: MessageTypeName,
    fields: AvpFields,
    headerSessionId: number,
    extra?: Avp[],
    sent?: () => void,
  ): boolean {
    if (this.#phase === "held" || this.#channel.closed) return false;
    const secret = this.#settings.secret;
    const hide = secret && this.#settings.hideAvps ? HIDDEN_AVPS : [];
    const avps = buildAvps(type, fields, {
      hide,
      extra,
      random: (n) => this.#s.host.randomBytes(n),
    });
    const packet = encodeControl(
      { tunnelId: this.#peerTunnelId ?? 0, sessionId: headerSessionId, ns: 0, nr: 0 },
      avps,
      { secret },
    );
    // Messages wait in the tunnel's backlog while the channel's own queue is full (its
    // window is the peer's to open); the backlog is bounded too.
    if (this.#backlog.length < this.#settings.maxBacklog && sent !== undefined) {
      this.#channel.whenSent(packet, sent);
    }
    if (this.#backlog.length === 0 && this.#channel.send(packet) === "ok") return true;
    if (this.#backlog.length >= this.#settings.maxBacklog) {
      this.#s.host.counters.channelFull++;
      log.warn("tunnel {tunnelId}: control backlog full, {type} not sent", {
        tunnelId: this.#s.tunnelId,
        type,
      });
      return false;
    }
    this.#backlog.push(packet);
    return true;
  }

  #drainBacklog(): void {
    let sent = 0;
    while (sent < this.#backlog.length && this.#channel.send(this.#backlog[sent]) === "ok") sent++;
    if (sent > 0) this.#backlog.splice(0, sent);
  }

  #onDatagram(packet: Uint8Array): void {
    const decoded = decodeControl(packet, { secret: this.#settings.secret });
    if (!decoded.ok && decoded.error.code === "unknown_message_type") {
      // §4.4.1: an unknown Message Type with the M bit set clears the tunnel. Its Ns and Nr
      // still count (acknowledging it, and taking the peer's acknowledgement of ours).
      this.#s.host.counters.malformed++;
      const h = decodeHeader(packet);
      if (h.ok && h.value.ns !== null && h.value.nr !== null) {
        this.#channel.receive(h.value.ns, h.value.nr, packet);
      }
      this.#stop({
        resultCode: StopCcnResult.GeneralError,
        errorCode: 8,
        errorMessage: decoded.error.message,
      }, "local");
      return;
    }
    if (!decoded.ok) {
      this.#s.host.counters.malformed++;
      log.warn("tunnel {tunnelId}: dropped malformed control message: {code} {message}", {
        tunnelId: this.#s.tunnelId,
        ...decoded.error,
      });
      return;
    }
    const msg = decoded.value;
    this.#lastRx = this.#ctx.now();
    if (msg.type !== "ZLB") this.#decoded.set(packet, msg);
    this.#channel.receive(msg.header.ns!, msg.header.nr!, msg.type === "ZLB" ? null : packet);
    if (this.#backlog.length > 0) this.#drainBacklog();
    if (this.#phase === "closing" && this.#channel.idle) this.#ctx.stop("normal");
  }

  // ---- messages, in order ----

  #onMessage(msg: ControlMessage): void {
    if (msg.type === "UNKNOWN" || msg.type === "ZLB") return; // §4.4.1: an unknown M=0 type may be ignored
    for (const w of msg.warnings) {
      log.warn("tunnel {tunnelId}: {type}: ignored {message}", {
        tunnelId: this.#s.tunnelId,
        type: msg.type,
        message: w.message,
      });
    }
    if (this.#phase === "held" || this.#phase === "closing") return;
    if (msg.type === "StopCCN") return this.#onStopCcn(msg);
    if (msg.scope === "tunnel" && msg.problems.length > 0) {
      // Learn where to send the StopCCN: the peer's Assigned Tunnel ID, if it gave one.
      const assigned = fieldsOf(msg.avps).assignedTunnelId;
      if (this.#peerTunnelId === null && assigned) this.#peerTunnelId = assigned;
      const p = msg.problems[0];
      return this.#stop({
        resultCode: StopCcnResult.GeneralError,
        errorCode: p.errorCode,
        errorMessage: p.message,
      }, "local");
    }
    const fields = fieldsOf(msg.avps);
    switch (msg.type) {
      case "SCCRQ":
        return this.#phase === "idle" ? this.#onSccrq(fields) : this.#outOfSequence(msg.type);
      case "SCCRP":
        return this.#phase === "wait_ctl_reply"
          ? this.#onSccrp(fields)
          : this.#outOfSequence(msg.type);
      case "SCCCN":
        return this.#phase === "wait_ctl_conn"
          ? this.#onScccn(fields)
          : this.#outOfSequence(msg.type);
      case "HELLO":
        return; // the channel acknowledged it; that is all a HELLO asks (§6.5)
      default:
        if (this.#phase !== "established") return this.#outOfSequence(msg.type);
        return this.#onSessionMessage(msg, fields);
    }
  }

  #outOfSequence(type: string): void {
    this.#s.host.counters.outOfSequence++;
    // §7.1: a message in an improper sequence is invalid; clear the control connection.
    this.#stop({
      resultCode: StopCcnResult.GeneralError,
      errorCode: 0,
      errorMessage: `${type} out of sequence in ${this.#phase}`,
    }, "local");
  }

  #identity(): AvpFields {
    return {
      protocolVersion: PROTOCOL_VERSION,
      hostName: this.#settings.hostname,
      framingCapabilities: { synchronous: true, asynchronous: true },
      assignedTunnelId: this.#s.tunnelId,
      receiveWindowSize: this.#settings.receiveWindowSize,
      firmwareRevision: 0x0100,
      vendorName: "lts",
    };
  }

  /**
   * Takes the peer's Assigned Tunnel ID, Host Name and Receive Window Size from its SCCRQ or
   * SCCRP. §4.4.3: the Assigned Tunnel ID is non-zero; with 0 we could not address the peer, so
   * the tunnel stops and this returns false.
   */
  #learnPeer(f: AvpFields): boolean {
    this.#peerTunnelId = f.assignedTunnelId || null;
    if (this.#peerTunnelId === null) {
      this.#stop({
        resultCode: StopCcnResult.GeneralError,
        errorCode: 3,
        errorMessage: "no Assigned Tunnel ID",
      }, "local");
      return false;
    }
    this.#peerHostName = f.hostName ?? null;
    if (f.receiveWindowSize) this.#channel.setPeerReceiveWindowSize(f.receiveWindowSize);
    return true;
  }

  #onSccrq(f: AvpFields): void {
    if (!this.#learnPeer(f)) return;
    if (f.protocolVersion?.version !== 1 || f.protocolVersion.revision !== 0) {
      return this.#stop({
        resultCode: StopCcnResult.UnsupportedProtocolVersion,
        errorCode: 0,
        errorMessage: "lts speaks L2TP version 1 revision 0",
      }, "local");
    }
    const admission = this.#s.host.admit({
      from: this.#s.peer,
      hostName: this.#peerHostName ?? "",
    });
    if (!admission.accept) {
      this.#s.host.authFailed(this.#s.peer);
      log.warn("tunnel {tunnelId}: SCCRQ from {peer} ({hostName}) refused: {why}", {
        tunnelId: this.#s.tunnelId,
        peer: endpointKey(this.#s.peer),
        hostName: this.#peerHostName,
        why: admission.message ?? `result code ${admission.resultCode}`,
      });
      return this.#stop({
        resultCode: admission.resultCode,
        errorCode: 0,
        errorMessage: admission.message,
      }, "local");
    }
    this.#settings = { ...this.#settings, ...admission.settings };
    const secret = this.#settings.secret;
    if (f.challenge && !secret) return this.#authFailed("challenged, but no secret is configured");
    const reply = this.#identity();
    if (secret) {
      reply.challenge = this.#ourChallenge = this.#s.host.randomBytes(16);
      if (f.challenge) reply.challengeResponse = challengeResponse("SCCRP", secret, f.challenge);
    }
    this.#phase = "wait_ctl_conn";
    this.#send("SCCRP", reply, 0);
    this.#armHello();
  }

  #onSccrp(f: AvpFields): void {
    if (!this.#learnPeer(f)) return;
    if (!this.#peerAuthenticated("SCCRP", f)) return;
    const secret = this.#settings.secret;
    const scccn: AvpFields = {};
    if (f.challenge) {
      if (!secret) return this.#authFailed("challenged, but no secret is configured");
      scccn.challengeResponse = challengeResponse("SCCCN", secret, f.challenge);
    }
    this.#send("SCCCN", scccn, 0);
    this.#established();
  }

  #onScccn(f: AvpFields): void {
    if (this.#peerAuthenticated("SCCCN", f)) this.#established();
  }

  /**
   * When we challenged the peer, its answer in `message` must verify (§5.1.1);
   * otherwise StopCCN result 4 goes out and this returns false.
   */
  #peerAuthenticated(message: "SCCRP" | "SCCCN", f: AvpFields): boolean {
    const secret = this.#settings.secret;
    if (this.#ourChallenge === null || secret === undefined) return true;
    const response = f.challengeResponse;
    if (response && verifyChallengeResponse(message, secret, this.#ourChallenge, response)) {
      return true;
    }
    this.#authFailed(
      response ? `wrong Challenge Response in ${message}` : `${message} without Challenge Response`,
    );
    return false;
  }

  #authFailed(why: string): void {
    this.#s.host.counters.authFailures++;
    this.#s.host.authFailed(this.#peer);
    log.warn("tunnel {tunnelId} to {peer}: authentication failed: {why}", {
      tunnelId: this.#s.tunnelId,
      peer: endpointKey(this.#peer),
      why,
    });
    this.#stop(
      { resultCode: StopCcnResult.NotAuthorized, errorCode: 0, errorMessage: why },
      "local",
    );
  }

  #established(): void {
    this.#phase = "established";
    this.#everEstablished = true;
    log.info("tunnel {tunnelId} established with {peer} ({hostName}, Tunnel ID {peerTunnelId})", {
      tunnelId: this.#s.tunnelId,
      peer: endpointKey(this.#peer),
      hostName: this.#peerHostName,
      peerTunnelId: this.#peerTunnelId,
    });
    this.#s.host.hooks.tunnelEstablished?.(this.#info);
    const pending = this.#pendingCalls;
    this.#pendingCalls = [];
    for (const call of pending) {
      this.#placeCall(call.fields, call.outgoing, call.context, call.extra);
    }
  }

  #onStopCcn(msg: ControlMessage): void {
    const f = fieldsOf(msg.avps);
    // §4.4.3: StopCCN carries the sender's Assigned Tunnel ID so a peer that never got its
    // SCCRP can still address the acknowledgement.
    if (this.#peerTunnelId === null && f.assignedTunnelId !== undefined) {
      this.#peerTunnelId = f.assignedTunnelId;
    }
    if (!this.#everEstablished && f.resultCode?.resultCode === StopCcnResult.NotAuthorized) {
      // The peer could not authenticate us during setup: our secrets differ (§5.1.1). As the
      // responder we would never see a wrong Challenge Response from such a peer.
      this.#s.host.counters.authFailures++;
      this.#s.host.authFailed(this.#peer);
      log.warn("tunnel {tunnelId} to {peer}: authentication failed: the peer refused ours", {
        tunnelId: this.#s.tunnelId,
        peer: endpointKey(this.#peer),
      });
    }
    this.#phase = "held";
    this.#closeReason = { result: f.resultCode ?? { resultCode: 0 }, by: "peer" };
    log.info("tunnel {tunnelId}: StopCCN from peer: {result}", {
      tunnelId: this.#s.tunnelId,
      result: JSON.stringify(f.resultCode),
    });
    this.#clearSessions();
    this.#notifyClosed();
    // §5.7: keep enough state to acknowledge retransmitted StopCCNs for a full retransmission cycle.
    this.#ctx.setTimer(retransmissionCycleMs(this.#settings), { type: "hold_over" });
  }

  /** Sends StopCCN and waits for its acknowledgement (§5.7), then stops. */
  #stop(result: ResultCodeValue, by: "local"): void {
    if (this.#phase === "closing" || this.#phase === "held") return;
    this.#closeReason = { result, by };
    this.#clearSessions();
    this.#send("StopCCN", { assignedTunnelId: this.#s.tunnelId, resultCode: result }, 0);
    this.#phase = "closing";
    this.#notifyClosed();
    // The channel gives up after its retransmissions; this timer is only a backstop.
    this.#ctx.setTimer(retransmissionCycleMs(this.#settings) + 1000, { type: "hold_over" });
    if (this.#channel.idle) this.#ctx.stop("normal");
  }

  #onTransportFailure(): void {
    log.warn("tunnel {tunnelId} to {peer}: no acknowledgement after {n} retransmissions", {
      tunnelId: this.#s.tunnelId,
      peer: endpointKey(this.#peer),
      n: this.#settings.maxRetransmits,
    });
    if (this.#closeReason === null) {
      this.#closeReason = {
        result: { resultCode: StopCcnResult.GeneralError, errorMessage: "peer not responding" },
        by: "transport",
      };
    }
    this.#phase = "held";
    this.#clearSessions();
    this.#notifyClosed();
    this.#ctx.setTimer(0, { type: "hold_over" }); // after the sessions took in tunnel_down
  }

  #clearSessions(): void {
    // StopCCN clears every session implicitly (§6.4); the session actors stop without a CDN.
    for (const entry of this.#sessions.values()) {
      entry.ref.send({ type: "tunnel_down", reason: this.#closeReason! });
    }
  }

  // ---- HELLO (§5.5, §6.5) ----

  #armHello(delayMs = this.#settings.helloIntervalMs): void {
    if (this.#settings.helloIntervalMs > 0) this.#ctx.setTimer(delayMs, { type: "hello_check" });
  }

  #onHelloCheck(): void {
    if (this.#phase === "closing" || this.#phase === "held") return;
    const interval = this.#settings.helloIntervalMs;
    const idle = this.#ctx.now() - this.#lastRx;
    if (idle < interval) return this.#armHello(interval - idle);
    // §5.5: a HELLO after `interval` without any message from the peer; the reliable
    // channel's retransmissions then decide whether the peer is still there.
    if (this.#phase === "established" && this.#channel.unacknowledged === 0) {
      this.#send("HELLO", {}, 0);
    }
    this.#armHello();
  }

  // ---- sessions ----

  #placeCall(fields: AvpFields, outgoing: boolean, context: unknown, extra?: Avp[]): void {
    if (
      this.#phase === "wait_ctl_reply" || this.#phase === "wait_ctl_conn" || this.#phase === "idle"
    ) {
      this.#pendingCalls.push({ fields, outgoing, context, extra });
      return;
    }
    const notPlaced = (why: string) =>
      this.#s.host.hooks.callNotPlaced?.(context, {
        result: { resultCode: 4, errorCode: 4, errorMessage: why },
        by: "local",
      });
    if (this.#phase !== "established") return notPlaced("tunnel is closing");
    // Admit a call only while its messages can be queued (half the backlog stays for the rest).
    if (this.#backlog.length >= this.#settings.maxBacklog / 2) {
      this.#s.host.counters.channelFull++;
      return notPlaced("control queue full");
    }
    const entry = this.#newSession(
      outgoing ? "lns" : "lac",
      outgoing ? "outgoing" : "incoming",
      context,
    );
    if (entry === null) {
      this.#s.host.counters.sessionLimit++;
      return notPlaced("session limit reached");
    }
    this.#callSerial = (this.#callSerial + 1) >>> 0;
    entry.ref.send({
      type: "place_call",
      fields: { callSerialNumber: this.#callSerial, ...fields },
      extra,
    });
  }

  #sessionBySid(sessionId: number): SessionEntry | undefined {
    return this.#sessions.get(sessionId);
  }

  #newSession(
    side: "lac" | "lns",
    callType: "incoming" | "outgoing",
    context?: unknown,
  ): SessionEntry | null {
    if (this.#sessions.size >= this.#settings.maxSessions) return null;
    const id = this.#sessionIds.allocate();
    if (!id.ok) return null;
    const ref = this.#ctx.spawnChild(
      sessionActor({
        side,
        callType,
        localSessionId: id.value,
        tunnel: this.#ctx.self,
        tunnelInfo: this.#info,
        host: this.#s.host,
        context,
      }),
      SESSION_SPAWN,
    );
    const entry: SessionEntry = { ref, peerSessionId: null, localSessionId: id.value };
    this.#sessions.set(id.value, entry);
    return entry;
  }

  #onSessionMessage(msg: ControlMessage, fields: AvpFields): void {
    const type = msg.type as MessageTypeName;
    let localId = msg.header.sessionId;
    if ((type === "ICRQ" || type === "OCRQ") && localId === 0) {
      const peerSid = fields.assignedSessionId;
      // The channel already drops retransmissions; a second live request naming a peer Session
      // ID still in use is ignored (it would make two sessions the peer cannot tell apart).
      if (peerSid !== undefined && this.#byPeerSession.has(peerSid)) {
        this.#s.host.counters.unknownSession++;
        return;
      }
      const entry = this.#newSession(
        type === "ICRQ" ? "lns" : "lac",
        type === "ICRQ" ? "incoming" : "outgoing",
      );
      if (entry === null) {
        this.#s.host.counters.sessionLimit++;
        // §4.4.2 CDN result 4: temporary lack of facilities.
        this.#send("CDN", {
          resultCode: { resultCode: 4, errorCode: 4, errorMessage: "session limit reached" },
          assignedSessionId: 0,
        }, peerSid ?? 0);
        return;
      }
      if (peerSid) {
        entry.peerSessionId = peerSid;
        this.#byPeerSession.set(peerSid, entry.localSessionId);
      }
      entry.ref.send({
        type: "control",
        message: type,
        fields,
        problems: msg.problems,
        extra: extraAvps(msg.avps),
      });
      return;
    }
    if (localId === 0 && fields.assignedSessionId !== undefined) {
      // A CDN sent before the peer learnt our Session ID names the call by its own (§6.12).
      localId = this.#byPeerSession.get(fields.assignedSessionId) ?? 0;
    }
    const entry = this.#sessions.get(localId);
    if (entry === undefined) {
      this.#s.host.counters.unknownSession++;
      log.debug("tunnel {tunnelId}: {type} for unknown session {sessionId}", {
        tunnelId: this.#s.tunnelId,
        type,
        sessionId: localId,
      });
      return;
    }
    entry.ref.send({
      type: "control",
      message: type,
      fields,
      problems: msg.problems,
      extra: extraAvps(msg.avps),
    });
  }
}

/** AVPs a session keeps for the application: vendor AVPs and unknown ones (without the M bit). */
function extraAvps(avps: readonly Avp[]): Avp[] {
  return avps.filter((a) => !isRecognized(a));
}
