/**
 * The reliable control channel of RFC 2661 §5.8 and Appendix A: Ns/Nr
 * sequencing, in-order exactly-once delivery, ZLB acknowledgements, a sliding
 * window bounded by the peer's Receive Window Size, slow start and congestion
 * avoidance, and retransmission with exponential backoff.
 *
 * It moves opaque control-message bodies and knows nothing of tunnels,
 * sessions, AVPs or UDP. Its owner (a TunnelActor) wraps each
 * {@link ChannelOutput} in an L2TP control header and sends it, and hands every
 * received control header's Ns and Nr, with the body, to
 * {@link ReliableChannel.receive}.
 *
 * Retransmission uses one timer, armed for the oldest unacknowledged message
 * (as TCP does): each message keeps its own retransmission count, so backoff
 * runs 1, 2, 4, 8, 8 … s per message (§5.8), and the timer restarts for the
 * next message when an acknowledgement advances the window. On a timeout the
 * sender goes back to the oldest unacknowledged message and resends the
 * outstanding ones in order, as the congestion window reopens (Appendix A).
 *
 * Acknowledgements ride on outgoing messages where possible: a ZLB goes only
 * when nothing has been sent `ackDelayMs` after a message arrived, at once for
 * a duplicate (§5.8: it MUST be acknowledged), and at once when the peer has
 * our whole receive window outstanding, since it can send nothing more until
 * acked (§5.8: acknowledgement must not be withheld).
 *
 * @example
 * ```ts
 * import { ManualClock } from "../actors/clock.ts";
 * import { type ChannelOutput, ReliableChannel } from "./reliable_channel.ts";
 *
 * const clock = new ManualClock();
 * const wire: ChannelOutput[] = [];
 * const got: Uint8Array[] = [];
 * const channel = new ReliableChannel({
 *   clock,
 *   transmit: (pkt) => wire.push(pkt),
 *   deliver: (_ns, body) => got.push(body),
 *   onFailure: () => {},
 * });
 * channel.send(new Uint8Array([1])); // goes out as Ns 0, Nr 0
 * channel.receive(0, 1, new Uint8Array([2])); // the peer's reply acknowledges it
 * clock.advance(channel.ackDelayMs); // nothing else to send: a ZLB acknowledges the reply
 * if (wire.length !== 2 || wire[1].body !== null || wire[1].nr !== 1) throw new Error("no ZLB");
 * if (!channel.idle || clock.pendingTimers !== 0) throw new Error("not idle");
 * channel.close();
 * ```
 *
 * @module
 */

import type { Clock, TimerHandle } from "../actors/clock.ts";
import { isSeq, seqAdd, seqDiff } from "./seq.ts";

/** One control message for the owner to put on the wire. */
export interface ChannelOutput {
  /** Ns for the header. A ZLB carries the next Ns to be sent without consuming it (§5.8). */
  ns: number;
  /** Nr for the header: the next Ns expected from the peer. */
  nr: number;
  /** The message body (AVPs); `null` for a ZLB acknowledgement. */
  body: Uint8Array | null;
}

/** Why a channel gave up; the owner must then clear the tunnel (§5.8). */
export type ChannelFailure = "retransmit_limit";

/** The outcome of {@link ReliableChannel.send}, in the shape of every bounded send in lts. */
export type SendResult = "ok" | "full" | "closed";

/**
 * What {@link ReliableChannel.receive} did with a message, for counters:
 * - `new`: delivered, with any held messages it unblocked;
 * - `held`: ahead of the expected Ns but inside our receive window, kept for later;
 * - `duplicate`: already received; not delivered, acknowledged at once with a ZLB;
 * - `out_of_window`: too far ahead to hold; dropped (the peer will retransmit);
 * - `zlb`: an acknowledgement only;
 * - `closed`: the channel is closed or failed; ignored.
 */
export type ReceiveVerdict = "new" | "held" | "duplicate" | "out_of_window" | "zlb" | "closed";

/** Counters kept by a {@link ReliableChannel}; they only ever grow. */
export interface ChannelStats {
  /** New (non-ZLB) messages transmitted for the first time. */
  sent: number;
  /** Transmissions of a message already sent once (timeout and go-back resends). */
  retransmits: number;
  /** Retransmission timer expiries. */
  timeouts: number;
  /** ZLB acknowledgements transmitted. */
  zlbSent: number;
  /** ZLB acknowledgements received. */
  zlbReceived: number;
  /** Messages handed to `deliver`. */
  delivered: number;
  /** Messages held out of order. */
  held: number;
  /** Duplicate messages received. */
  duplicates: number;
  /** Messages dropped for being beyond our receive window. */
  outOfWindow: number;
  /** Received Nr values acknowledging messages never sent; ignored for acknowledgement. */
  invalidNr: number;
  /** `send` calls refused because the queue was at its bound. */
  queueFull: number;
}

/** Configuration and callbacks for a {@link ReliableChannel}. */
export interface ReliableChannelOptions {
  /** Source of time and timers. */
  clock: Clock;
  /** Puts one message on the wire; the owner adds the L2TP header. */
  transmit(pkt: ChannelOutput): void;
  /** Hands a new message to the owner, in order, exactly once. Must not throw. */
  deliver(ns: number, body: Uint8Array): void;
  /** Called once when a message went unacknowledged past the retry limit; the channel is then closed. */
  onFailure(reason: ChannelFailure): void;
  /** First retransmission interval (§5.8 recommends 1 s). Default 1000. */
  retransmitInitialMs?: number;
  /** Cap on the backoff interval; §5.8: no less than 8 s. Default 8000. */
  retransmitMaxMs?: number;
  /** Retransmissions of one message before giving up (§5.8 recommends 5). Default 5. */
  maxRetransmits?: number;
  /** Our Receive Window Size, to advertise in SCCRQ/SCCRP: how many messages we accept ahead. Default 4. */
  receiveWindowSize?: number;
  /** The peer's Receive Window Size; 4 until its AVP says otherwise (§5.8). Default 4. */
  peerReceiveWindowSize?: number;
  /** How long an acknowledgement waits for an outgoing message to ride on before a ZLB goes. Default 100. */
  ackDelayMs?: number;
  /** Bound on messages waiting for window space. Default 64. */
  maxQueued?: number;
  /** Ns of the first message sent (§5.8: 0). For tests of wrap-around. */
  initialNs?: number;
  /** Ns expected first from the peer (§5.8: 0). For tests of wrap-around. */
  initialNr?: number;
}

/**
 * The largest window the sequence space allows: with more than 32767 messages
 * outstanding, "ahead" and "behind" are indistinguishable modulo 65536.
 */
export const MAX_WINDOW_SIZE = 32767;

/** Defaults for the optional settings of {@link ReliableChannelOptions}. */
export const CHANNEL_DEFAULTS = {
  retransmitInitialMs: 1000,
  retransmitMaxMs: 8000,
  maxRetransmits: 5,
  receiveWindowSize: 4,
  peerReceiveWindowSize: 4,
  ackDelayMs: 100,
  maxQueued: 64,
} as const;

// §5.8: "This cap MUST be no less than 8 seconds per retransmission."
const MIN_RETRANSMIT_CAP_MS = 8000;

type BackoffOptions = Pick<
  ReliableChannelOptions,
  "retransmitInitialMs" | "retransmitMaxMs" | "maxRetransmits"
>;

function backoffMs(retries: number, initialMs: number, maxMs: number): number {
  return Math.min(initialMs * 2 ** retries, maxMs);
}

/**
 * The time from a message's first transmission until the channel gives up on
 * it: every backoff interval, including the wait after the last retry. With
 * the defaults this is 1+2+4+8+8+8 = 31 s, the "full retransmission cycle" a
 * StopCCN receiver must stay around for (§5.7), and the hold-down after a
 * tunnel's final message exchange (§5.8).
 *
 * @example
 * ```ts
 * import { retransmissionCycleMs } from "./reliable_channel.ts";
 * if (retransmissionCycleMs() !== 31_000) throw new Error("wrong cycle");
 * ```
 */
export function retransmissionCycleMs(options: BackoffOptions = {}): number {
  const initial = options.retransmitInitialMs ?? CHANNEL_DEFAULTS.retransmitInitialMs;
  const max = options.retransmitMaxMs ?? CHANNEL_DEFAULTS.retransmitMaxMs;
  const retries = options.maxRetransmits ?? CHANNEL_DEFAULTS.maxRetransmits;
  let total = 0;
  for (let r = 0; r <= retries; r++) total += backoffMs(r, initial, max);
  return total;
}

interface Unacked {
  ns: number;
  body: Uint8Array;
  /** Retransmissions caused by the timer; go-back resends after an ack do not count. */
  retries: number;
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

/**
 * One side of an L2TP control connection's reliable transport (RFC 2661 §5.8).
 *
 * All callbacks run synchronously inside the call or timer that caused them,
 * after the channel's state is updated, so an owner may call `send`, `receive`
 * or `close` from within them.
 *
 * @example
 * ```ts
 * import { ManualClock } from "../actors/clock.ts";
 * import { ReliableChannel } from "./reliable_channel.ts";
 *
 * const clock = new ManualClock();
 * let failed = false;
 * const channel = new ReliableChannel({
 *   clock,
 *   transmit: () => {}, // a dead link
 *   deliver: () => {},
 *   onFailure: () => failed = true,
 * });
 * channel.send(new Uint8Array([1]));
 * clock.advance(31_000); // retransmissions after 1, 2, 4, 8, 8 s, then 8 s more
 * if (!failed || !channel.closed || clock.pendingTimers !== 0) throw new Error("did not fail");
 * ```
 */
export class ReliableChannel {
  /** Counters for metrics and tests. */
  readonly stats: ChannelStats = {
    sent: 0,
    retransmits: 0,
    timeouts: 0,
    zlbSent: 0,
    zlbReceived: 0,
    delivered: 0,
    held: 0,
    duplicates: 0,
    outOfWindow: 0,
    invalidNr: 0,
    queueFull: 0,
  };

  readonly #clock: Clock;
  readonly #transmit: (pkt: ChannelOutput) => void;
  readonly #deliver: (ns: number, body: Uint8Array) => void;
  readonly #onFailure: (reason: ChannelFailure) => void;
  readonly #retransmitInitialMs: number;
  readonly #retransmitMaxMs: number;
  readonly #maxRetransmits: number;
  readonly #receiveWindowSize: number;
  readonly #ackDelayMs: number;
  readonly #maxQueued: number;

  #closed = false;

  // Send side.
  #nextNs: number;
  /** Sent and not yet acknowledged, oldest first; their Ns are consecutive. */
  #unacked: Unacked[] = [];
  /** Bodies waiting for window space; they get an Ns when first sent. */
  #queue: Uint8Array[] = [];
  /** Callbacks for {@link whenSent}, by message body; few at a time (a call's ICCN). */
  #onFirstSend: Map<Uint8Array, () => void> | undefined;
  /**
   * How many of `#unacked`, from the oldest, have been (re)sent since the last
   * timeout: the messages in flight. A timeout resets it to 0 (go back to the
   * oldest); acks and the pump move it forward.
   */
  #inFlight = 0;
  #peerReceiveWindowSize: number;
  // Appendix A: CWND starts at 1; SSTHRESH starts at the peer's window.
  #cwnd = 1;
  #ssthresh: number;
  /** Messages acknowledged towards the next CWND increment in congestion avoidance. */
  #avoidanceAcks = 0;
  #hadTimeout = false;
  #retransmitTimer: TimerHandle | null = null;
  #pumping = false;
  #pumpAgain = false;

  // Receive side.
  #expectedNs: number;
  /** Out-of-order messages inside our window, by Ns. */
  #held = new Map<number, Uint8Array>();
  /** Messages received in order that nothing we sent has acknowledged yet. */
  #ackOwed = 0;
  #ackTimer: TimerHandle | null = null;
  /** Transmissions so far, to tell whether a call put anything on the wire. */
  #emitted = 0;

  /** @throws {RangeError} when a setting is out of range. */
  constructor(options: ReliableChannelOptions) {
    const d = CHANNEL_DEFAULTS;
    this.#clock = options.clock;
    this.#transmit = options.transmit;
    this.#deliver = options.deliver;
    this.#onFailure = options.onFailure;
    this.#retransmitMaxMs = checkInteger(
      "retransmitMaxMs",
      options.retransmitMaxMs ?? d.retransmitMaxMs,
      MIN_RETRANSMIT_CAP_MS,
      Number.MAX_SAFE_INTEGER,
    );
    this.#retransmitInitialMs = checkInteger(
      "retransmitInitialMs",
      options.retransmitInitialMs ?? d.retransmitInitialMs,
      1,
      this.#retransmitMaxMs,
    );
    this.#maxRetransmits = checkInteger(
      "maxRetransmits",
      options.maxRetransmits ?? d.maxRetransmits,
      0,
      1000,
    );
    this.#receiveWindowSize = checkInteger(
      "receiveWindowSize",
      options.receiveWindowSize ?? d.receiveWindowSize,
      1,
      MAX_WINDOW_SIZE,
    );
    this.#peerReceiveWindowSize = checkInteger(
      "peerReceiveWindowSize",
      options.peerReceiveWindowSize ?? d.peerReceiveWindowSize,
      1,
      MAX_WINDOW_SIZE,
    );
    // The ack must reach the peer well before its first retransmission.
    this.#ackDelayMs = checkInteger(
      "ackDelayMs",
      options.ackDelayMs ?? d.ackDelayMs,
      0,
      this.#retransmitInitialMs - 1,
    );
    this.#maxQueued = checkInteger("maxQueued", options.maxQueued ?? d.maxQueued, 0, 2 ** 31);
    this.#nextNs = checkInteger("initialNs", options.initialNs ?? 0, 0, 0xffff);
    this.#expectedNs = checkInteger("initialNr", options.initialNr ?? 0, 0, 0xffff);
    this.#ssthresh = this.#peerReceiveWindowSize;
  }

  /** Ns the next new message will carry, and the Ns a ZLB carries now. */
  get nextNs(): number {
    return this.#nextNs;
  }

  /** Our Nr: the next Ns expected from the peer. */
  get expectedNr(): number {
    return this.#expectedNs;
  }

  /** Messages sent and not yet acknowledged. Never more than the peer's window. */
  get unacknowledged(): number {
    return this.#unacked.length;
  }

  /** Messages (re)sent since the last timeout and not yet acknowledged; at most the congestion window. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Messages waiting for window space. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Out-of-order messages held for in-order delivery. */
  get heldCount(): number {
    return this.#held.size;
  }

  /** CWND of Appendix A, never above the peer's Receive Window Size. */
  get congestionWindow(): number {
    return this.#cwnd;
  }

  /** SSTHRESH of Appendix A. */
  get slowStartThreshold(): number {
    return this.#ssthresh;
  }

  /** Our Receive Window Size, for the owner to advertise in SCCRQ/SCCRP. */
  get receiveWindowSize(): number {
    return this.#receiveWindowSize;
  }

  /** The peer's Receive Window Size in force. */
  get peerReceiveWindowSize(): number {
    return this.#peerReceiveWindowSize;
  }

  /** The acknowledgement delay in force. */
  get ackDelayMs(): number {
    return this.#ackDelayMs;
  }

  /**
   * Nothing queued, unacknowledged, or owed an acknowledgement. An idle
   * channel holds no timers.
   */
  get idle(): boolean {
    return this.#queue.length === 0 && this.#unacked.length === 0 && this.#ackOwed === 0;
  }

  /** Closed by {@link close} or by a retransmission failure; every call is then a no-op. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues a control message body and sends it as soon as the window allows.
   * @returns `"full"` when `maxQueued` messages already wait for window space.
   */
  send(body: Uint8Array): SendResult {
    if (this.#closed) return "closed";
    if (this.#queue.length >= this.#maxQueued) {
      this.stats.queueFull++;
      return "full";
    }
    this.#queue.push(body);
    this.#pump();
    return "ok";
  }

  /**
   * Handles the Ns, Nr and body of a received control message (`body` null
   * for a ZLB). The Nr of every message, ZLB or not, acknowledges the
   * messages before it; then the body is delivered, held, or discarded.
   *
   * @throws {RangeError} when `ns` or `nr` is not a 16-bit value.
   */
  receive(ns: number, nr: number, body: Uint8Array | null): ReceiveVerdict {
    if (!isSeq(ns) || !isSeq(nr)) throw new RangeError(`Ns/Nr out of range: ${ns}/${nr}`);
    if (this.#closed) return "closed";
    if (body === null) {
      // §5.8: a ZLB's Ns takes no slot and does not move our Nr.
      this.stats.zlbReceived++;
      this.#acknowledge(nr);
      return "zlb";
    }
    const ahead = seqDiff(ns, this.#expectedNs);
    if (ahead < 0 || (ahead > 0 && this.#held.has(ns))) {
      // §5.8: a duplicate is not processed, but MUST be acknowledged (its ack may have been lost).
      this.stats.duplicates++;
      const emitted = this.#emitted;
      this.#acknowledge(nr);
      if (this.#emitted === emitted) this.#sendZlb();
      return "duplicate";
    }
    if (ahead >= this.#receiveWindowSize) {
      // A peer honouring our window never sends this far ahead; discarding is allowed (§5.8).
      this.stats.outOfWindow++;
      this.#acknowledge(nr);
      return "out_of_window";
    }
    if (ahead > 0) {
      this.stats.held++;
      this.#held.set(ns, body);
      this.#acknowledge(nr);
      return "held";
    }
    // In order. Advance Nr over it and every held successor before acting on
    // the peer's Nr, so whatever the window lets out now already carries the ack.
    const ready: [number, Uint8Array][] = [[ns, body]];
    this.#expectedNs = seqAdd(ns, 1);
    for (let next = this.#held.get(this.#expectedNs); next !== undefined;) {
      this.#held.delete(this.#expectedNs);
      ready.push([this.#expectedNs, next]);
      this.#expectedNs = seqAdd(this.#expectedNs, 1);
      next = this.#held.get(this.#expectedNs);
    }
    this.#ackOwed += ready.length;
    this.#acknowledge(nr);
    for (const [readyNs, readyBody] of ready) {
      if (this.#closed) return "new";
      this.stats.delivered++;
      this.#deliver(readyNs, readyBody);
    }
    if (this.#ackOwed === 0 || this.#closed) return "new";
    if (this.#ackOwed >= this.#receiveWindowSize) {
      // The peer has our whole window outstanding and can send nothing until
      // acked: delaying now would be withholding the ack (§5.8 forbids it).
      this.#sendZlb();
    } else if (this.#ackTimer === null) {
      // Give the owner ackDelayMs to reply, so the ack rides on a message.
      this.#ackTimer = this.#clock.setTimer(this.#ackDelayMs, () => {
        this.#ackTimer = null;
        this.#sendZlb();
      });
    }
    return "new";
  }

  /**
   * Sets the peer's Receive Window Size from its SCCRQ/SCCRP AVP (§5.8).
   * Values above {@link MAX_WINDOW_SIZE} are clamped to it. Until the first
   * timeout, SSTHRESH follows the new window (Appendix A: it starts at the
   * advertised window).
   *
   * @throws {RangeError} for 0 (§5.8: invalid) or a non-integer; the owner should reject the AVP first.
   */
  setPeerReceiveWindowSize(n: number): void {
    checkInteger("peer Receive Window Size", n, 1, 0xffff);
    if (this.#closed) return;
    this.#peerReceiveWindowSize = Math.min(n, MAX_WINDOW_SIZE);
    if (!this.#hadTimeout) this.#ssthresh = this.#peerReceiveWindowSize;
    this.#cwnd = Math.min(this.#cwnd, this.#peerReceiveWindowSize);
    this.#pump();
  }

  /**
   * Calls `sent` once `body` (given to {@link send}, or about to be) first
   * goes on the wire, after it has waited for window space; never if the
   * channel closes first.
   */
  whenSent(body: Uint8Array, sent: () => void): void {
    if (this.#closed) return;
    (this.#onFirstSend ??= new Map()).set(body, sent);
  }

  /** Cancels every timer and drops all state; later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onFirstSend = undefined;
    this.#cancelRetransmitTimer();
    this.#cancelAckTimer();
    this.#ackOwed = 0;
    this.#queue = [];
    this.#unacked = [];
    this.#inFlight = 0;
    this.#held.clear();
  }

  #acknowledge(nr: number): void {
    if (seqDiff(nr, this.#nextNs) > 0) {
      // Acknowledges messages never sent: ignore it rather than trust it.
      this.stats.invalidNr++;
      return;
    }
    const oldest = seqAdd(this.#nextNs, -this.#unacked.length);
    const count = seqDiff(nr, oldest);
    if (count <= 0) return; // Stale: acknowledges nothing still outstanding.
    this.#unacked.splice(0, count);
    this.#inFlight = Math.max(0, this.#inFlight - count);
    for (let i = 0; i < count; i++) this.#openCongestionWindow();
    this.#cancelRetransmitTimer();
    if (this.#unacked.length > 0) this.#armRetransmitTimer();
    this.#pump();
  }

  // Appendix A. CWND grows per acknowledged *message*, not per ack packet: a
  // ZLB acknowledging two messages counts twice, which keeps slow start's
  // doubling per round trip when the peer's delayed ack covers a whole flight.
  #openCongestionWindow(): void {
    if (this.#cwnd >= this.#peerReceiveWindowSize) return;
    if (this.#cwnd < this.#ssthresh) {
      this.#cwnd++;
      return;
    }
    // Congestion avoidance: +1 once CWND messages have been acknowledged.
    if (++this.#avoidanceAcks >= this.#cwnd) {
      this.#avoidanceAcks = 0;
      this.#cwnd++;
    }
  }

  #onRetransmitTimeout(): void {
    this.#retransmitTimer = null;
    const oldest = this.#unacked[0];
    if (oldest.retries >= this.#maxRetransmits) {
      // §5.8: "the tunnel and all sessions within MUST be cleared".
      this.close();
      this.#onFailure("retransmit_limit");
      return;
    }
    this.stats.timeouts++;
    oldest.retries++;
    // Appendix A: on congestion, half of CWND goes to SSTHRESH and CWND restarts at 1.
    this.#hadTimeout = true;
    this.#ssthresh = Math.max(Math.floor(this.#cwnd / 2), 1);
    this.#cwnd = 1;
    this.#avoidanceAcks = 0;
    this.#inFlight = 0;
    this.#armRetransmitTimer();
    this.#pump();
  }

  /** Sends what the window allows: go-back resends first, then new messages. */
  #pump(): void {
    if (this.#pumping) {
      // Re-entered from a callback; the outer loop picks the change up.
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        while (!this.#closed && this.#sendOne());
      } while (this.#pumpAgain && !this.#closed);
    } finally {
      this.#pumping = false;
    }
  }

  #sendOne(): boolean {
    // §5.8 and Appendix A: never more than min(CWND, peer RWS) outstanding.
    if (this.#inFlight >= Math.min(this.#cwnd, this.#peerReceiveWindowSize)) return false;
    let pkt: ChannelOutput;
    if (this.#inFlight < this.#unacked.length) {
      // §5.8: a retransmission keeps its Ns and carries the current Nr.
      const entry = this.#unacked[this.#inFlight];
      pkt = { ns: entry.ns, nr: this.#expectedNs, body: entry.body };
      this.stats.retransmits++;
    } else {
      const body = this.#queue.shift();
      if (body === undefined) return false;
      const ns = this.#nextNs;
      this.#nextNs = seqAdd(ns, 1);
      this.#unacked.push({ ns, body, retries: 0 });
      if (this.#retransmitTimer === null) this.#armRetransmitTimer();
      pkt = { ns, nr: this.#expectedNs, body };
      this.stats.sent++;
    }
    this.#inFlight++;
    this.#emit(pkt);
    const sent = pkt.body === null ? undefined : this.#onFirstSend?.get(pkt.body);
    if (sent !== undefined) {
      this.#onFirstSend!.delete(pkt.body!);
      sent();
    }
    return true;
  }

  #sendZlb(): void {
    if (this.#closed) return;
    this.stats.zlbSent++;
    this.#emit({ ns: this.#nextNs, nr: this.#expectedNs, body: null });
  }

  /** Every transmission carries our Nr, so it settles any acknowledgement owed. */
  #emit(pkt: ChannelOutput): void {
    this.#emitted++;
    this.#ackOwed = 0;
    this.#cancelAckTimer();
    this.#transmit(pkt);
  }

  #armRetransmitTimer(): void {
    const retries = this.#unacked[0].retries;
    const delay = backoffMs(retries, this.#retransmitInitialMs, this.#retransmitMaxMs);
    this.#retransmitTimer = this.#clock.setTimer(delay, () => this.#onRetransmitTimeout());
  }

  #cancelRetransmitTimer(): void {
    if (this.#retransmitTimer === null) return;
    this.#clock.cancel(this.#retransmitTimer);
    this.#retransmitTimer = null;
  }

  #cancelAckTimer(): void {
    if (this.#ackTimer === null) return;
    this.#clock.cancel(this.#ackTimer);
    this.#ackTimer = null;
  }
}
