/**
 * Types shared by the L2TP protocol actors (node, tunnel, session) and the
 * applications built on them (`lts lac`, `lts lns`, the switch).
 *
 * @module
 */

import type {
  AccmValue,
  Avp,
  CallErrorsValue,
  Q931CauseValue,
  ResultCodeValue,
} from "../transport/avp.ts";
import type { Endpoint } from "../transport/datagram.ts";
import type { AvpFields } from "../transport/message.ts";

/** Settings of one tunnel (control connection). */
export interface TunnelSettings {
  /** Host Name AVP we send (§4.4.3). */
  hostname: string;
  /** Shared secret: tunnel authentication (§5.1.1) and AVP hiding (§4.3). */
  secret?: Uint8Array;
  /** Hide the sensitive AVPs we send (numbers, proxy authentication); needs `secret`. */
  hideAvps?: boolean;
  /** Send HELLO after this long without a message from the peer (§5.5); 0 turns it off. */
  helloIntervalMs: number;
  /** Our Receive Window Size (§5.8). */
  receiveWindowSize: number;
  /** Retransmission: first timeout, cap, and how many retransmissions before giving up (§5.8). */
  retransmitInitialMs: number;
  retransmitMaxMs: number;
  maxRetransmits: number;
  /** Most sessions this tunnel carries; an ICRQ/OCRQ beyond it gets CDN result 4. */
  maxSessions: number;
  /** Control messages waiting for room in the channel's window; beyond it a message is dropped and counted. */
  maxBacklog: number;
  /** Send a Tie Breaker AVP in our SCCRQ (§4.4.3). */
  tieBreaker?: boolean;
}

/** Defaults of {@link TunnelSettings}, the RFC's recommendations where it has some. */
export const TUNNEL_DEFAULTS: Omit<TunnelSettings, "hostname"> = Object.freeze({
  helloIntervalMs: 60_000,
  // Our Receive Window Size AVP (§4.4.3, §5.8): how many control messages a peer may have
  // unacknowledged. An LTS aggregates thousands of calls on a tunnel: at 16, one LAC tunnel
  // set up ~5,000 calls/s through the switch, at 64 ~6,300 (bench/switched_bench.ts, 1 tunnel).
  // Messages that arrive out of order wait in a buffer bounded by it.
  receiveWindowSize: 64,
  retransmitInitialMs: 1000,
  retransmitMaxMs: 8000,
  maxRetransmits: 5,
  maxSessions: 65535,
  // Room for two messages per session: setup never strands a call for lack of queue.
  maxBacklog: 2 * 65535 + 64,
  tieBreaker: false,
});

/** A tunnel as the application sees it. */
export interface TunnelInfo {
  /** Our Tunnel ID. */
  readonly tunnelId: number;
  /** The peer's Tunnel ID, once known. */
  readonly peerTunnelId: number | null;
  readonly peer: Endpoint;
  /** The peer's Host Name AVP. */
  readonly peerHostName: string | null;
  /** Who sent the SCCRQ. */
  readonly initiator: boolean;
  /** Whether the control connection is established (§7.2). */
  readonly established: boolean;
  /** Sessions the tunnel carries now. */
  readonly sessionCount: number;
}

/** Why a tunnel or session ended. */
export interface CloseReason {
  result: ResultCodeValue;
  q931?: Q931CauseValue;
  /** Who ended it: we, the peer, or the transport (retransmissions exhausted, HELLO unanswered). */
  by: "local" | "peer" | "transport";
  /** For a tunnel: whether it had been established before it ended (else its setup failed). */
  wasEstablished?: boolean;
}

/** A session as the application sees it, with what it may ask of it. */
export interface SessionHandle {
  readonly tunnel: TunnelInfo;
  /** Our Session ID. */
  readonly sessionId: number;
  /** The tag given to `placeCall`, for calls we placed. */
  readonly context: unknown;
  /** What is known about the call: request and connect AVPs. */
  readonly call: AvpFields;
  /** Whether the call is established and its data channel programmed. */
  readonly established: boolean;
  /** Vendor AVPs and unknown AVPs without the M bit the peer sent on this call, in order. */
  readonly extraAvps: readonly Avp[];
  /** Accept an incoming request (ICRQ on an LNS, OCRQ on a LAC). */
  accept(): void;
  /** Refuse an incoming request with a CDN. */
  reject(result: ResultCodeValue): void;
  /** LAC side of an outgoing call: the call was answered (sends OCCN). */
  answered(fields: AvpFields): void;
  /** Clear the session with a CDN. */
  disconnect(result: ResultCodeValue, q931?: Q931CauseValue): void;
  /** LAC: report WAN errors (WEN). */
  wanError(callErrors: CallErrorsValue): void;
  /** LNS: set the link's ACCM (SLI). */
  setLinkInfo(accm: AccmValue): void;
  /** Send one PPP frame on the data channel; false when the session is not established. */
  sendFrame(frame: Uint8Array): boolean;
  /**
   * Drop the proxy LCP and authentication AVPs' values (§4.4.5) from `call`
   * once they have served (the call was switched or its PPP started), so a
   * long-lived session does not keep them. Proxy Authen Type, Name and ID
   * stay. A leg that sent its ICCN drops them by itself.
   */
  forgetProxyAvps(): void;
}

/** What an application learns from a node; every hook is optional. */
export interface NodeHooks {
  tunnelEstablished?(tunnel: TunnelInfo): void;
  /** Once per tunnel, established or not (`tunnel.established` tells which it was). */
  tunnelClosed?(tunnel: TunnelInfo, reason: CloseReason): void;
  /** A call given to `placeCall` never became a session (its tunnel failed or was full). */
  callNotPlaced?(context: unknown, reason: CloseReason): void;
  /** An ICRQ (or OCRQ) arrived; answer with `session.accept()` or `session.reject()`. Default: accept. */
  incomingCall?(session: SessionHandle, message: "ICRQ" | "OCRQ"): void;
  sessionEstablished?(session: SessionHandle): void;
  sessionClosed?(session: SessionHandle, reason: CloseReason): void;
  /** WEN or SLI received. */
  linkEvent?(session: SessionHandle, event: { wanError?: CallErrorsValue; accm?: AccmValue }): void;
  /** A PPP frame arrived on an established session; `frame` is valid only during the call. */
  frame?(session: SessionHandle, frame: Uint8Array): void;
}
