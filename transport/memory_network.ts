/**
 * An in-memory {@link DatagramNetwork} for deterministic tests: every datagram
 * travels as a timer on an injected {@link Clock} (zero delay included, so
 * ordering is the clock's), and every random choice — loss, duplication,
 * jitter, reordering — comes from one {@link Prng} seeded by the test. The same
 * seed and the same sequence of calls give the same delivery trace.
 *
 * Links are directional and configured by pattern: an exact endpoint, a host
 * (any port), or `"*"`. The most specific rule for a `(from, to)` pair wins,
 * the sender side weighing more (`(A, *)` beats `(*, B)`); a pair no rule
 * matches is a perfect link with zero delay.
 *
 * Each socket has a bounded receive queue, as a kernel socket buffer: arriving
 * datagrams wait there until a drain timer hands them to the handler, and a
 * datagram arriving at a full queue is dropped and counted. To catch receivers
 * that keep a payload past their handler (see the buffer-lifetime rule in
 * `datagram.ts`), the bytes are overwritten after each handler returns.
 *
 * Every datagram is accounted for on its link:
 * `sent + duplicated = delivered + lost + partitioned + droppedQueueFull + unreachable`
 * once nothing is in flight or queued.
 *
 * @example
 * ```ts
 * import { ManualClock } from "../actors/clock.ts";
 * import { MemoryNetwork } from "./memory_network.ts";
 *
 * const clock = new ManualClock();
 * const net = new MemoryNetwork({ clock, seed: 1 });
 * const lac = net.bind({ hostname: "192.0.2.1", port: 1701 });
 * const lns = net.bind({ hostname: "192.0.2.2", port: 0 });
 * if (!lac.ok || !lns.ok) throw new Error("bind failed");
 * net.setLink("*", "*", { delayMs: 20, loss: 0.01 });
 * const got: number[] = [];
 * lns.value.onReceive((payload) => got.push(payload[0]));
 * lac.value.send(new Uint8Array([7]), lns.value.local);
 * clock.advance(20);
 * lac.value.close();
 * lns.value.close();
 * if (got[0] !== 7 || clock.pendingTimers !== 0) throw new Error("not delivered");
 * ```
 *
 * @module
 */

import type { Clock, TimerHandle } from "../actors/clock.ts";
import { Prng } from "../actors/prng.ts";
import {
  type DatagramHandler,
  type DatagramNetwork,
  type DatagramSendResult,
  type DatagramSocket,
  type DatagramStats,
  type Endpoint,
  endpointKey,
  normalizeEndpoint,
} from "./datagram.ts";
import type { Result } from "./result.ts";

/** How a directional link treats datagrams. Probabilities are in `[0, 1]`, times in ms. */
export interface LinkImpairments {
  /** Fixed one-way delay. */
  delayMs: number;
  /** Extra delay drawn uniformly from `[0, jitterMs)`; datagrams sent closer together may swap. */
  jitterMs: number;
  /** Probability that a datagram is lost. */
  loss: number;
  /** Probability that a datagram arrives twice; the copy draws its own delay. */
  duplicate: number;
  /** Probability that a datagram is held back `reorderDelayMs`, so later ones overtake it. */
  reorder: number;
  /** The hold-back of a reordered datagram. */
  reorderDelayMs: number;
}

/** A link with no impairment: what a pair no rule matches gets. */
export const PERFECT_LINK: Readonly<LinkImpairments> = Object.freeze({
  delayMs: 0,
  jitterMs: 0,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 10,
});

/** One side of a link rule: `"*"`, a host (any port), or an exact endpoint. */
export type EndpointPattern = "*" | { readonly hostname: string; readonly port?: number };

/** What happened to the datagrams sent on one directional `(from, to)` pair. */
export interface LinkStats {
  /** Datagrams accepted by `send`. */
  sent: number;
  /** Copies handed to the receiving socket's handler. */
  delivered: number;
  /** Datagrams lost to the link's loss probability. */
  lost: number;
  /** Extra copies made by the link's duplication probability. */
  duplicated: number;
  /** Copies dropped because the receiving socket's queue was full. */
  droppedQueueFull: number;
  /** Copies cut by a partition, when sent or when arriving. */
  partitioned: number;
  /** Copies that found no socket bound at `to`, or were queued at a socket that closed. */
  unreachable: number;
}

/** Options of {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Drives delivery; a `ManualClock` in tests. */
  clock: Clock;
  /** Seeds every random choice the network makes. */
  seed: number;
  /** Default bound of each socket's receive queue, at least 1. Default 256. */
  receiveQueueCapacity?: number;
  /** Overwrite payloads after each handler returns (see the buffer-lifetime rule). Default true. */
  poisonDeliveredPayloads?: boolean;
}

/** A socket bound on a {@link MemoryNetwork}. */
export interface MemorySocket extends DatagramSocket {
  /** Datagrams waiting in the receive queue. */
  readonly queued: number;
  /** Bound of the receive queue. */
  readonly receiveQueueCapacity: number;
}

/** The first and last ports handed out for port 0 (the IANA dynamic range). */
export const EPHEMERAL_PORTS = Object.freeze({ first: 49152, last: 65535 });

/** The byte written over a delivered payload once its handler has returned. */
export const POISON_BYTE = 0xdd;

interface Rule {
  from: EndpointPattern;
  to: EndpointPattern;
  /** Higher wins: 3 × specificity(from) + specificity(to). */
  rank: number;
  impairments: LinkImpairments;
}

interface Queued {
  payload: Uint8Array;
  from: Endpoint;
  link: LinkStats;
}

/**
 * A simulated IP network of UDP sockets, driven by a clock and a seed.
 *
 * @example
 * ```ts
 * import { ManualClock } from "../actors/clock.ts";
 * import { MemoryNetwork } from "./memory_network.ts";
 *
 * const clock = new ManualClock();
 * const net = new MemoryNetwork({ clock, seed: 9 });
 * const a = net.bind({ hostname: "10.0.0.1", port: 1701 });
 * const b = net.bind({ hostname: "10.0.0.2", port: 1701 });
 * if (!a.ok || !b.ok) throw new Error();
 * net.partition({ hostname: "10.0.0.1" }, { hostname: "10.0.0.2" });
 * a.value.send(new Uint8Array([1]), b.value.local);
 * while (clock.fireNext());
 * if (net.linkStats(a.value.local, b.value.local).partitioned !== 1) throw new Error();
 * a.value.close();
 * b.value.close();
 * ```
 */
export class MemoryNetwork implements DatagramNetwork {
  readonly #clock: Clock;
  readonly #prng: Prng;
  readonly #queueCapacity: number;
  readonly #poison: boolean;
  readonly #sockets = new Map<string, MemorySocketImpl>();
  readonly #links = new Map<string, LinkStats>();
  #rules: Rule[] = [];
  #partitions: PatternPair[] = [];
  #nextEphemeral: number = EPHEMERAL_PORTS.first;
  #inFlight = 0;

  constructor(options: MemoryNetworkOptions) {
    const capacity = options.receiveQueueCapacity ?? 256;
    if (!isCapacity(capacity)) {
      throw new RangeError(`receiveQueueCapacity must be an integer >= 1, got ${capacity}`);
    }
    this.#clock = options.clock;
    this.#prng = new Prng(options.seed);
    this.#queueCapacity = capacity;
    this.#poison = options.poisonDeliveredPayloads ?? true;
  }

  /** Copies on their way, not yet arrived at a socket. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Binds `local`. Refuses an address in use, the unspecified addresses
   * (`0.0.0.0`, `::`: this network has no notion of a host's addresses), and
   * port 0 when every ephemeral port of the host is taken.
   */
  bind(
    local: Endpoint,
    options: { receiveQueueCapacity?: number } = {},
  ): Result<MemorySocket, string> {
    const checked = normalizeEndpoint(local);
    if (!checked.ok) return checked;
    const { hostname, port } = checked.value;
    if (hostname === "0.0.0.0" || hostname === "::") {
      return { ok: false, error: `cannot bind ${hostname}: bind a specific address` };
    }
    const capacity = options.receiveQueueCapacity ?? this.#queueCapacity;
    if (!isCapacity(capacity)) {
      return { ok: false, error: `receiveQueueCapacity must be an integer >= 1, got ${capacity}` };
    }
    const chosen = port === 0 ? this.#ephemeralPort(hostname) : port;
    if (chosen === undefined) return { ok: false, error: `no free ephemeral port on ${hostname}` };
    const bound = Object.freeze({ hostname, port: chosen });
    const key = endpointKey(bound);
    if (this.#sockets.has(key)) return { ok: false, error: `${key} is already bound` };
    const socket = new MemorySocketImpl(bound, capacity, {
      clock: this.#clock,
      poison: this.#poison,
      transmit: (payload, from, to) => this.#transmit(payload, from, to),
      unbind: () => this.#sockets.delete(key),
    });
    this.#sockets.set(key, socket);
    return { ok: true, value: socket };
  }

  /**
   * Sets the impairments of datagrams sent from `from` to `to`, replacing the
   * rule for that exact pattern pair. Fields left out are those of {@link PERFECT_LINK}.
   * Throws `RangeError` on a malformed pattern or an out-of-range value.
   */
  setLink(from: EndpointPattern, to: EndpointPattern, impairments: Partial<LinkImpairments>): void {
    const rule: Rule = {
      from: canonicalPattern(from),
      to: canonicalPattern(to),
      rank: 3 * specificity(from) + specificity(to),
      impairments: checkedImpairments({ ...PERFECT_LINK, ...impairments }),
    };
    this.#rules = this.#rules.filter((r) => !samePair(r, rule.from, rule.to));
    this.#rules.push(rule);
  }

  /** Removes the rule set for exactly this pattern pair, if any. */
  clearLink(from: EndpointPattern, to: EndpointPattern): void {
    const f = canonicalPattern(from), t = canonicalPattern(to);
    this.#rules = this.#rules.filter((r) => !samePair(r, f, t));
  }

  /** The impairments a datagram from `from` to `to` would meet now. */
  impairments(from: Endpoint, to: Endpoint): Readonly<LinkImpairments> {
    let best: Rule | undefined;
    for (const r of this.#rules) {
      if (
        (best === undefined || r.rank > best.rank) && matches(r.from, from) && matches(r.to, to)
      ) {
        best = r;
      }
    }
    return best?.impairments ?? PERFECT_LINK;
  }

  /**
   * Cuts both directions between everything `a` and `b` match, including
   * copies already in flight, until {@link heal} is called with the same pair.
   */
  partition(a: EndpointPattern, b: EndpointPattern): void {
    const pair: PatternPair = [canonicalPattern(a), canonicalPattern(b)];
    if (!this.#partitions.some((p) => sameUnorderedPair(p, pair))) this.#partitions.push(pair);
  }

  /** Undoes {@link partition} of the same pair (in either order). */
  heal(a: EndpointPattern, b: EndpointPattern): void {
    const pair: PatternPair = [canonicalPattern(a), canonicalPattern(b)];
    this.#partitions = this.#partitions.filter((p) => !sameUnorderedPair(p, pair));
  }

  /** True when a partition cuts datagrams from `from` to `to`. */
  isPartitioned(from: Endpoint, to: Endpoint): boolean {
    return this.#partitions.some(([a, b]) =>
      (matches(a, from) && matches(b, to)) || (matches(b, from) && matches(a, to))
    );
  }

  /** Counters of the directional pair `(from, to)`; all zero if nothing was sent on it. */
  linkStats(from: Endpoint, to: Endpoint): LinkStats {
    return { ...(this.#links.get(pairKey(from, to)) ?? zeroStats()) };
  }

  /** Counters summed over every link. */
  totals(): LinkStats {
    const sum = zeroStats();
    for (const s of this.#links.values()) {
      for (const k of Object.keys(sum) as Array<keyof LinkStats>) sum[k] += s[k];
    }
    return sum;
  }

  #ephemeralPort(hostname: string): number | undefined {
    const { first, last } = EPHEMERAL_PORTS;
    for (let tries = 0; tries <= last - first; tries++) {
      const port = this.#nextEphemeral;
      this.#nextEphemeral = port === last ? first : port + 1;
      if (!this.#sockets.has(endpointKey({ hostname, port }))) return port;
    }
    return undefined;
  }

  #transmit(payload: Uint8Array, from: Endpoint, to: Endpoint): void {
    const link = this.#linkFor(from, to);
    link.sent++;
    if (this.isPartitioned(from, to)) {
      link.partitioned++;
      return;
    }
    const imp = this.impairments(from, to);
    if (imp.loss > 0 && this.#prng.next() < imp.loss) {
      link.lost++;
      return;
    }
    let copies = 1;
    if (imp.duplicate > 0 && this.#prng.next() < imp.duplicate) {
      link.duplicated++;
      copies = 2;
    }
    for (let i = 0; i < copies; i++) {
      let delay = imp.delayMs;
      if (imp.jitterMs > 0) delay += this.#prng.next() * imp.jitterMs;
      if (imp.reorder > 0 && this.#prng.next() < imp.reorder) delay += imp.reorderDelayMs;
      // Each copy owns its bytes: the sender may reuse its buffer, and each
      // delivered copy is poisoned after its handler returns.
      const bytes = payload.slice();
      this.#inFlight++;
      this.#clock.setTimer(delay, () => this.#arrive(bytes, from, to, link));
    }
  }

  #arrive(payload: Uint8Array, from: Endpoint, to: Endpoint, link: LinkStats): void {
    this.#inFlight--;
    if (this.isPartitioned(from, to)) {
      link.partitioned++;
      return;
    }
    const socket = this.#sockets.get(endpointKey(to));
    if (socket === undefined) {
      link.unreachable++;
      return;
    }
    socket.enqueue({ payload, from, link });
  }

  #linkFor(from: Endpoint, to: Endpoint): LinkStats {
    const key = pairKey(from, to);
    let stats = this.#links.get(key);
    if (stats === undefined) {
      stats = zeroStats();
      this.#links.set(key, stats);
    }
    return stats;
  }
}

interface SocketDeps {
  clock: Clock;
  poison: boolean;
  transmit(payload: Uint8Array, from: Endpoint, to: Endpoint): void;
  unbind(): void;
}

class MemorySocketImpl implements MemorySocket {
  readonly local: Endpoint;
  readonly receiveQueueCapacity: number;
  readonly #deps: SocketDeps;
  readonly #stats = { sent: 0, sendErrors: 0, received: 0, receiveDropped: 0, receiveErrors: 0 };
  #queue: Queued[] = [];
  #head = 0;
  #handler: DatagramHandler | undefined;
  #drainTimer: TimerHandle | undefined;
  #closed = false;

  constructor(local: Endpoint, receiveQueueCapacity: number, deps: SocketDeps) {
    this.local = local;
    this.receiveQueueCapacity = receiveQueueCapacity;
    this.#deps = deps;
  }

  get stats(): DatagramStats {
    return this.#stats;
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  send(payload: Uint8Array, to: Endpoint): DatagramSendResult {
    if (this.#closed) return "closed";
    // A real stack refuses these at once; only the port is cheap enough to check per datagram.
    if (!Number.isInteger(to.port) || to.port < 1 || to.port > 65535) {
      this.#stats.sendErrors++;
      return "dropped";
    }
    this.#stats.sent++;
    this.#deps.transmit(payload, this.local, to);
    return "ok";
  }

  onReceive(handler: DatagramHandler): void {
    if (this.#closed) return;
    this.#handler = handler;
    this.#scheduleDrain();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handler = undefined;
    if (this.#drainTimer !== undefined) this.#deps.clock.cancel(this.#drainTimer);
    this.#drainTimer = undefined;
    for (let i = this.#head; i < this.#queue.length; i++) {
      this.#queue[i].link.unreachable++;
      this.#stats.receiveDropped++;
    }
    this.#queue = [];
    this.#head = 0;
    this.#deps.unbind();
  }

  /** Called by the network when a copy arrives at this socket's address. */
  enqueue(item: Queued): void {
    if (this.queued >= this.receiveQueueCapacity) {
      item.link.droppedQueueFull++;
      this.#stats.receiveDropped++;
      return;
    }
    this.#queue.push(item);
    this.#scheduleDrain();
  }

  #scheduleDrain(): void {
    if (this.#drainTimer !== undefined || this.#handler === undefined || this.queued === 0) return;
    // A zero-delay timer, not a direct call: copies arriving at the same
    // instant queue up first, so the queue bound applies to bursts.
    this.#drainTimer = this.#deps.clock.setTimer(0, () => this.#drain());
  }

  #drain(): void {
    this.#drainTimer = undefined;
    try {
      while (this.#head < this.#queue.length && this.#handler !== undefined) {
        const item = this.#queue[this.#head++];
        item.link.delivered++;
        this.#stats.received++;
        try {
          this.#handler(item.payload, item.from);
        } catch (error) {
          // Counted, then rethrown: in a test a throwing handler is a bug to see.
          this.#stats.receiveErrors++;
          throw error;
        } finally {
          if (this.#deps.poison) item.payload.fill(POISON_BYTE);
        }
      }
    } finally {
      if (!this.#closed) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
        this.#scheduleDrain();
      }
    }
  }
}

function isCapacity(n: number): boolean {
  return Number.isInteger(n) && n >= 1;
}

function zeroStats(): LinkStats {
  return {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    droppedQueueFull: 0,
    partitioned: 0,
    unreachable: 0,
  };
}

function pairKey(from: Endpoint, to: Endpoint): string {
  return `${endpointKey(from)} ${endpointKey(to)}`;
}

function specificity(p: EndpointPattern): number {
  return p === "*" ? 0 : p.port === undefined ? 1 : 2;
}

function canonicalPattern(p: EndpointPattern): EndpointPattern {
  if (p === "*") return p;
  const r = normalizeEndpoint({ hostname: p.hostname, port: p.port ?? 0 });
  if (!r.ok) throw new RangeError(`bad endpoint pattern: ${r.error}`);
  return p.port === undefined ? { hostname: r.value.hostname } : r.value;
}

function matches(p: EndpointPattern, e: Endpoint): boolean {
  return p === "*" ||
    (p.hostname === e.hostname && (p.port === undefined || p.port === e.port));
}

function samePattern(a: EndpointPattern, b: EndpointPattern): boolean {
  if (a === "*" || b === "*") return a === b;
  return a.hostname === b.hostname && a.port === b.port;
}

function samePair(rule: Rule, from: EndpointPattern, to: EndpointPattern): boolean {
  return samePattern(rule.from, from) && samePattern(rule.to, to);
}

type PatternPair = readonly [EndpointPattern, EndpointPattern];

function sameUnorderedPair([x, y]: PatternPair, [a, b]: PatternPair): boolean {
  return (samePattern(x, a) && samePattern(y, b)) || (samePattern(x, b) && samePattern(y, a));
}

function checkedImpairments(imp: LinkImpairments): LinkImpairments {
  for (const k of ["loss", "duplicate", "reorder"] as const) {
    if (!(imp[k] >= 0 && imp[k] <= 1)) {
      throw new RangeError(`${k} must be in [0, 1], got ${imp[k]}`);
    }
  }
  for (const k of ["delayMs", "jitterMs", "reorderDelayMs"] as const) {
    if (!(imp[k] >= 0 && Number.isFinite(imp[k]))) {
      throw new RangeError(`${k} must be a finite number >= 0, got ${imp[k]}`);
    }
  }
  return Object.freeze({ ...imp });
}
