/**
 * An L2TP node: one UDP socket, the tunnels on it, and the receive path that
 * demultiplexes datagrams by Tunnel ID (RFC 2661 §3.1). Control messages go
 * to their tunnel actor; data messages go straight to the forwarding table,
 * with no actor hop (DESIGN.md). New tunnels come from SCCRQs (Tunnel ID 0)
 * or from {@link L2tpNode.openTunnel}. The LAC and LNS tools and the switch
 * are built on it.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Avp, ResultCodeValue } from "../transport/avp.ts";
import { StopCcnResult } from "../transport/avp_types.ts";
import { type DatagramSocket, type Endpoint, endpointKey } from "../transport/datagram.ts";
import { decodeHeader } from "../transport/header.ts";
import { md5 } from "../transport/md5.ts";
import { type AvpFields, decodeControl, fieldsOf } from "../transport/message.ts";
import type { Result } from "../transport/result.ts";
import { forwardData, ForwardingTable } from "./data_plane.ts";
import {
  type NodeHooks,
  TUNNEL_DEFAULTS,
  type TunnelInfo,
  type TunnelSettings,
} from "./l2tp_types.ts";
import { Prng } from "./prng.ts";
import { IdAllocator } from "./registry.ts";
import type { ActorRef, ActorSystem } from "./system.ts";
import {
  type Admission,
  SESSION_MAILBOX,
  tunnelActor,
  type TunnelCounters,
  type TunnelHost,
  type TunnelMsg,
} from "./tunnel_actor.ts";

const log = getLogger(["lts", "node"]);

/** Options of an {@link L2tpNode}. */
export interface L2tpNodeOptions {
  system: ActorSystem;
  socket: DatagramSocket;
  /** Settings of every tunnel unless `admit` or `openTunnel` say otherwise; `hostname` is required. */
  settings: Partial<TunnelSettings> & { hostname: string };
  /** Who may open tunnels to us (responder side). Default: anyone, no secret. */
  admit?: (peer: { from: Endpoint; hostName: string }) => Admission;
  hooks?: NodeHooks;
  /** Most tunnels at once; SCCRQs beyond it are dropped before any state is allocated. Default 2000. */
  maxTunnels?: number;
  /** New tunnels accepted per second (token bucket, burst of one second's worth); SCCRQs over it are dropped before any state is allocated. Default: unlimited. */
  sccrqPerSecond?: number;
  /**
   * Tunnel authentication failures (§5.1.1) and refused admissions from one
   * IP address that block it: after `failures` within `windowMs`, its SCCRQs
   * are dropped before any state is allocated for `holdMs`. Default
   * {@link AUTH_FAILURE_BLOCK}.
   */
  authFailureBlock?: AuthFailureBlock;
  /** Mailbox bound of each tunnel actor. Default 256. */
  tunnelMailbox?: number;
  /** Random octets (challenges, Random Vectors). Default: crypto.getRandomValues. */
  randomBytes?: (n: number) => Uint8Array;
  /** Seed of the Tunnel/Session ID choice. Default: from crypto. */
  seed?: number;
}

/** When repeated tunnel authentication failures from one address block its SCCRQs. */
export interface AuthFailureBlock {
  /** Failures that block the address, counted within `windowMs`. */
  failures: number;
  windowMs: number;
  /** How long SCCRQs from a blocked address are dropped. */
  holdMs: number;
}

/**
 * Default of {@link L2tpNodeOptions.authFailureBlock}: a LAC with a wrong
 * secret retries with a fresh SCCRQ every few seconds at most, so 5 failures
 * in a minute is a guesser, not a misconfigured peer; it waits 5 minutes.
 */
export const AUTH_FAILURE_BLOCK: Readonly<AuthFailureBlock> = Object.freeze({
  failures: 5,
  windowMs: 60_000,
  holdMs: 300_000,
});

/** Addresses whose failures a node remembers at most; beyond, the oldest are forgotten. */
const AUTH_FAILURE_ENTRIES = 4096;

/** The bounds of a node ({@link L2tpNode.limits}); each has a counter of its own in {@link NodeCounters}. */
export interface NodeLimits {
  /** Tunnels at once (`tunnelLimit`). */
  maxTunnels: number;
  /** New tunnels per second; Infinity when unlimited (`sccrqRateLimited`). */
  sccrqPerSecond: number;
  /** Datagrams waiting for one tunnel actor (`tunnelMailboxFull`). */
  tunnelMailbox: number;
  /** Messages waiting for one session actor (the actor system's `mailbox_full` events). */
  sessionMailbox: number;
  /** Control messages waiting for window in one tunnel, unless the admission says otherwise (`channelFull`). */
  maxBacklog: number;
  /** Sessions in one tunnel, unless the admission says otherwise (`sessionLimit`). */
  maxSessionsPerTunnel: number;
  /** When authentication failures block an address (`sccrqAuthBlocked`). */
  authFailureBlock: AuthFailureBlock;
}

/** What a node counts: every datagram that did not reach a tunnel or a session, by reason. */
export interface NodeCounters extends TunnelCounters {
  controlIn: number;
  dataIn: number;
  short: number;
  badVersion: number;
  unknownTunnel: number;
  wrongPeer: number;
  tunnelMailboxFull: number;
  tunnelLimit: number;
  sccrqRetransmits: number;
  tieBreakLost: number;
  notSccrq: number;
  peerRestarts: number;
  forwardFailed: number;
  sccrqRateLimited: number;
  /** SCCRQs dropped because their address failed tunnel authentication too often. */
  sccrqAuthBlocked: number;
  /** Data frames switched from one leg to the other, and their PPP octets. */
  forwardedFrames: number;
  forwardedBytes: number;
}

interface TunnelEntry {
  ref: ActorRef<TunnelMsg>;
  peerHost: string;
  /** SCCRQ dedupe key, for responders. */
  sccrqKey?: string;
  /** Our SCCRQ is outstanding (§4.4.3), with our Tie Breaker if we sent one. */
  outstanding?: boolean;
  tieBreaker?: Uint8Array;
  established?: boolean;
  /** Our tunnel this one replaces once established (the peer restarted, §7.2). */
  replaces?: number;
}

/** See the module documentation. */
export class L2tpNode {
  readonly counters: NodeCounters = {
    controlIn: 0,
    dataIn: 0,
    short: 0,
    badVersion: 0,
    unknownTunnel: 0,
    wrongPeer: 0,
    tunnelMailboxFull: 0,
    tunnelLimit: 0,
    sccrqRetransmits: 0,
    tieBreakLost: 0,
    notSccrq: 0,
    peerRestarts: 0,
    forwardFailed: 0,
    sccrqRateLimited: 0,
    sccrqAuthBlocked: 0,
    forwardedFrames: 0,
    forwardedBytes: 0,
    malformed: 0,
    outOfSequence: 0,
    authFailures: 0,
    channelFull: 0,
    sessionLimit: 0,
    unknownSession: 0,
    controlRetransmits: 0,
  };
  readonly forwarding: ForwardingTable = new ForwardingTable();
  readonly socket: DatagramSocket;
  #system: ActorSystem;
  #settings: TunnelSettings;
  #options: L2tpNodeOptions;
  #tunnelIds: IdAllocator;
  #tunnels = new Map<number, TunnelEntry>();
  #bySccrq = new Map<string, number>();
  #infos = new Map<number, TunnelInfo>();
  #host: TunnelHost;
  #hooks: NodeHooks;
  #sccrqTokens = 0;
  #sccrqRefilledAt = 0;
  /** Tunnel authentication failures by IP address, oldest first. */
  #authFailures = new Map<string, { since: number; count: number; blockedUntil: number }>();

  constructor(options: L2tpNodeOptions) {
    this.#options = options;
    this.#system = options.system;
    this.socket = options.socket;
    this.#settings = { ...TUNNEL_DEFAULTS, ...options.settings };
    const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
    const idRandom = new Prng(seed);
    this.#tunnelIds = new IdAllocator({ random: new Prng(seed ^ 0x5bd1e995) });
    this.#sccrqTokens = options.sccrqPerSecond ?? 0;
    this.#sccrqRefilledAt = options.system.clock.now();
    const userHooks = options.hooks ?? {};
    // Our SCCRQ is no longer outstanding once the tunnel is up (§4.4.3 tie-break window).
    this.#hooks = {
      ...userHooks,
      tunnelEstablished: (t) => {
        const entry = this.#tunnels.get(t.tunnelId);
        if (entry) {
          entry.outstanding = false;
          entry.established = true;
          const old = entry.replaces === undefined ? undefined : this.#tunnels.get(entry.replaces);
          if (old !== undefined && old.peerHost === entry.peerHost) {
            this.counters.peerRestarts++;
            old.ref.send({
              type: "abandon",
              why: "peer restarted (new tunnel with the same Assigned Tunnel ID is up)",
            });
          }
          entry.replaces = undefined;
        }
        userHooks.tunnelEstablished?.(t);
      },
    };
    this.#host = {
      clock: options.system.clock,
      socket: options.socket,
      forwarding: this.forwarding,
      hooks: this.#hooks,
      counters: this.counters,
      randomBytes: options.randomBytes ?? ((n) => crypto.getRandomValues(new Uint8Array(n))),
      idRandom,
      admit: options.admit ?? (() => ({ accept: true })),
      forget: (tunnelId) => this.#forget(tunnelId),
      authFailed: (peer) => this.#noteAuthFailure(peer),
      // The actor may start before spawn() returns, so its view is kept apart from the entry.
      register: (tunnelId, info) => void this.#infos.set(tunnelId, info),
    };
    options.socket.onReceive((payload, from) => this.#onReceive(payload, from));
  }

  /** The bounds this node enforces, as configured or defaulted (for metrics). */
  get limits(): NodeLimits {
    return {
      maxTunnels: this.#options.maxTunnels ?? 2000,
      sccrqPerSecond: this.#options.sccrqPerSecond ?? Infinity,
      tunnelMailbox: this.#options.tunnelMailbox ?? 256,
      sessionMailbox: SESSION_MAILBOX,
      maxBacklog: this.#settings.maxBacklog,
      maxSessionsPerTunnel: this.#settings.maxSessions,
      authFailureBlock: { ...(this.#options.authFailureBlock ?? AUTH_FAILURE_BLOCK) },
    };
  }

  /** Tunnels with a live actor. */
  get tunnelCount(): number {
    return this.#tunnels.size;
  }

  /** Live views of every tunnel. */
  tunnels(): TunnelInfo[] {
    return [...this.#infos.values()];
  }

  /**
   * Opens a tunnel to `peer` (we send the SCCRQ). Returns our Tunnel ID;
   * `hooks.tunnelEstablished` says when it is up.
   */
  openTunnel(peer: Endpoint, overrides: Partial<TunnelSettings> = {}): Result<number, string> {
    if (this.#tunnels.size >= (this.#options.maxTunnels ?? 2000)) {
      return { ok: false, error: "tunnel limit reached" };
    }
    const id = this.#tunnelIds.allocate();
    if (!id.ok) return { ok: false, error: "no free Tunnel ID" };
    const settings = { ...this.#settings, ...overrides };
    const tieBreaker = settings.tieBreaker ? this.#host.randomBytes(8) : undefined;
    const ref = this.#system.spawn(
      tunnelActor({ tunnelId: id.value, peer, settings, host: this.#host, tieBreaker }),
      this.#mailbox(settings),
    );
    this.#tunnels.set(id.value, { ref, peerHost: peer.hostname, outstanding: true, tieBreaker });
    return { ok: true, value: id.value };
  }

  /** Places a call on a tunnel (ICRQ; OCRQ with `outgoing`); queued until the tunnel is up. */
  placeCall(
    tunnelId: number,
    fields: AvpFields = {},
    options: { outgoing?: boolean; context?: unknown; extra?: Avp[] } = {},
  ): boolean {
    const entry = this.#tunnels.get(tunnelId);
    const msg = {
      type: "place_call" as const,
      fields,
      outgoing: options.outgoing,
      context: options.context,
      extra: options.extra,
    };
    return entry !== undefined && entry.ref.send(msg) === "ok";
  }

  /** Tears a tunnel down with a StopCCN (§5.7). */
  closeTunnel(
    tunnelId: number,
    result: ResultCodeValue = { resultCode: StopCcnResult.GeneralRequestToClear },
  ): boolean {
    const entry = this.#tunnels.get(tunnelId);
    return entry !== undefined && entry.ref.send({ type: "close", result }) === "ok";
  }

  /** Closes every tunnel with a StopCCN (result 6, shutting down). */
  closeAll(): void {
    for (const id of [...this.#tunnels.keys()]) {
      this.closeTunnel(id, { resultCode: StopCcnResult.ShuttingDown });
    }
  }

  /** Stops every tunnel actor at once, without telling peers (the socket is the caller's to close). */
  shutdown(): void {
    for (const entry of [...this.#tunnels.values()]) this.#system.stop(entry.ref, "shutdown");
  }

  /**
   * A tunnel's mailbox: datagrams from the wire are bounded by `tunnelMailbox`
   * (the peer retransmits what is dropped); its own sessions' messages and the
   * application's calls use the reserved lane, bounded by what its sessions can
   * have in flight, so a call is never stranded by a busy tunnel.
   */
  #mailbox(settings: TunnelSettings): { capacity: number; reserved: number } {
    return {
      capacity: this.#options.tunnelMailbox ?? 256,
      reserved: Math.min(4 * settings.maxSessions + 64, 1 << 18),
    };
  }

  #forget(tunnelId: number): void {
    this.#infos.delete(tunnelId);
    const entry = this.#tunnels.get(tunnelId);
    if (entry === undefined) return;
    this.#tunnels.delete(tunnelId);
    if (entry.sccrqKey !== undefined) this.#bySccrq.delete(entry.sccrqKey);
    this.#tunnelIds.release(tunnelId);
  }

  #onReceive(payload: Uint8Array, from: Endpoint): void {
    if (payload.length < 6) {
      this.counters.short++;
      return;
    }
    // §3.1: packets with an unknown Ver MUST be discarded (1 is L2F, 3 is L2TPv3).
    if ((payload[1] & 0x0f) !== 2) {
      this.counters.badVersion++;
      return;
    }
    if ((payload[0] & 0x80) === 0) return this.#onData(payload, from);
    this.counters.controlIn++;
    const h = decodeHeader(payload);
    if (!h.ok) {
      this.counters.malformed++;
      log.debug("dropped control datagram from {from}: {message}", {
        from: endpointKey(from),
        message: h.error.message,
      });
      return;
    }
    if (h.value.tunnelId === 0) return this.#onTunnelZero(payload, from);
    const entry = this.#tunnels.get(h.value.tunnelId);
    if (entry === undefined) {
      // §5.8 leaves this to the implementation: we drop and count (a StopCCN
      // to an unknown sender would make us a reflector).
      this.counters.unknownTunnel++;
      return;
    }
    if (from.hostname !== entry.peerHost) {
      this.counters.wrongPeer++;
      return;
    }
    if (
      entry.ref.send({
        type: "datagram",
        packet: payload.slice(0, h.value.messageLength),
        from,
      }) !== "ok"
    ) {
      this.counters.tunnelMailboxFull++;
    }
  }

  #onData(payload: Uint8Array, from: Endpoint): void {
    this.counters.dataIn++;
    const h = decodeHeader(payload);
    if (!h.ok) {
      this.counters.malformed++;
      return;
    }
    const entry = this.forwarding.get(h.value.tunnelId, h.value.sessionId);
    if (entry === undefined) {
      this.forwarding.unknownSession++;
      return;
    }
    // Only the session's peer may send on it: IDs alone are guessable.
    if (from.hostname !== entry.peer.hostname) {
      this.counters.wrongPeer++;
      return;
    }
    entry.rxFrames++;
    entry.rxBytes += h.value.messageLength - h.value.payloadOffset;
    if (entry.forward !== undefined) {
      if (forwardData(this.socket, payload, h.value, entry.forward)) {
        this.counters.forwardedFrames++;
        this.counters.forwardedBytes += h.value.messageLength - h.value.payloadOffset;
      } else {
        this.counters.forwardFailed++;
      }
      return;
    }
    entry.receive(payload.subarray(h.value.payloadOffset, h.value.messageLength));
  }

  /** Token bucket of new tunnels: refills at `sccrqPerSecond`, holds one second's worth. */
  #takeSccrqToken(): boolean {
    const rate = this.#options.sccrqPerSecond;
    if (rate === undefined) return true;
    const now = this.#system.clock.now();
    this.#sccrqTokens = Math.min(
      rate,
      this.#sccrqTokens + ((now - this.#sccrqRefilledAt) / 1000) * rate,
    );
    this.#sccrqRefilledAt = now;
    if (this.#sccrqTokens < 1) return false;
    this.#sccrqTokens -= 1;
    return true;
  }

  /** Counts a failure of `peer`'s address; enough of them within the window block it. */
  #noteAuthFailure(peer: Endpoint): void {
    const rule = this.#options.authFailureBlock ?? AUTH_FAILURE_BLOCK;
    const now = this.#system.clock.now();
    let entry = this.#authFailures.get(peer.hostname);
    if (entry === undefined || (now - entry.since > rule.windowMs && entry.blockedUntil <= now)) {
      this.#authFailures.delete(peer.hostname);
      if (this.#authFailures.size >= AUTH_FAILURE_ENTRIES) {
        // The oldest entry goes: one address cannot grow this table, and many cannot either.
        this.#authFailures.delete(this.#authFailures.keys().next().value!);
      }
      entry = { since: now, count: 0, blockedUntil: 0 };
      this.#authFailures.set(peer.hostname, entry);
    }
    entry.count++;
    if (entry.count >= rule.failures && entry.blockedUntil <= now) {
      entry.blockedUntil = now + rule.holdMs;
      log.warn(
        "{address}: {count} tunnel authentication failures; its SCCRQs are dropped for {seconds} s",
        {
          address: peer.hostname,
          count: entry.count,
          seconds: rule.holdMs / 1000,
        },
      );
    }
  }

  /** Whether SCCRQs from `address` are dropped for its authentication failures. */
  #authBlocked(address: string): boolean {
    const entry = this.#authFailures.get(address);
    if (entry === undefined || entry.blockedUntil === 0) return false;
    if (entry.blockedUntil > this.#system.clock.now()) return true;
    this.#authFailures.delete(address); // the hold is over: a clean slate
    return false;
  }

  #onTunnelZero(payload: Uint8Array, from: Endpoint): void {
    // Checked before decoding: a blocked address costs one map lookup per datagram.
    if (this.#authBlocked(from.hostname)) {
      this.counters.sccrqAuthBlocked++;
      return;
    }
    const decoded = decodeControl(payload);
    // Only an SCCRQ may use Tunnel ID 0 (§3.1), and it is the first message of its control
    // connection: Ns 0 (§5.8). Anything else is dropped before any state exists, or a peer could
    // park tunnels that never start.
    if (!decoded.ok || decoded.value.type !== "SCCRQ" || decoded.value.header.ns !== 0) {
      this.counters.notSccrq++;
      return;
    }
    const f = fieldsOf(decoded.value.avps);
    let replaces: number | undefined;
    const key = f.assignedTunnelId !== undefined
      ? `${endpointKey(from)}#${f.assignedTunnelId}`
      : `${endpointKey(from)}#${Array.from(md5([payload])).join(".")}`;
    const existing = this.#bySccrq.get(key);
    if (existing !== undefined) {
      const old = this.#tunnels.get(existing)!;
      if (!old.established) {
        // A retransmitted SCCRQ belongs to the tunnel it already created.
        this.counters.sccrqRetransmits++;
        old.ref.send({ type: "datagram", packet: payload.slice(), from });
        return;
      }
      // The same peer endpoint asks again with the Tunnel ID of a tunnel that is up: it may
      // have restarted and lost that tunnel. The old one is dropped quietly (a StopCCN would
      // name the peer's new tunnel) — but only once the new one is established, so that an
      // unauthenticated, spoofed SCCRQ cannot end an authenticated tunnel.
      this.#bySccrq.delete(key);
      old.sccrqKey = undefined;
      replaces = existing;
    }
    if (!this.#tieBreak(from, f.tieBreaker)) return;
    if (!this.#takeSccrqToken()) {
      this.counters.sccrqRateLimited++;
      return;
    }
    if (this.#tunnels.size >= (this.#options.maxTunnels ?? 2000)) {
      this.counters.tunnelLimit++;
      return;
    }
    const id = this.#tunnelIds.allocate();
    if (!id.ok) {
      this.counters.tunnelLimit++;
      return;
    }
    const ref = this.#system.spawn(
      tunnelActor({
        tunnelId: id.value,
        peer: from,
        settings: this.#settings,
        host: this.#host,
        sccrq: payload.slice(),
      }),
      this.#mailbox(this.#settings),
    );
    this.#tunnels.set(id.value, { ref, peerHost: from.hostname, sccrqKey: key, replaces });
    this.#bySccrq.set(key, id.value);
  }

  /**
   * §4.4.3: when an SCCRQ arrives while ours to the same peer is outstanding,
   * the lower Tie Breaker wins; a side that sent one beats a side that did
   * not; equal values discard both. Returns whether to answer the SCCRQ.
   */
  #tieBreak(from: Endpoint, theirs: Uint8Array | undefined): boolean {
    let answer = true;
    for (const [id, entry] of this.#tunnels) {
      if (!entry.outstanding || entry.peerHost !== from.hostname) continue;
      const ours = entry.tieBreaker;
      if (ours === undefined && theirs === undefined) continue; // no tie breakers: two tunnels
      // Negative: ours wins; positive: theirs wins; zero: both lose.
      const cmp = ours === undefined ? 1 : theirs === undefined ? -1 : compareBytes(ours, theirs);
      if (cmp >= 0) {
        entry.outstanding = false;
        entry.ref.send({ type: "abandon", why: "lost the tie-break (RFC 2661 §4.4.3)" });
        this.counters.tieBreakLost++;
        log.info("tie-break with {peer}: our tunnel {tunnelId} is discarded", {
          peer: endpointKey(from),
          tunnelId: id,
        });
      }
      if (cmp <= 0) answer = false; // their SCCRQ is silently discarded
    }
    return answer;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
