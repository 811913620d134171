/**
 * Upstream LNS groups as the switch sees them at run time: per member, its
 * tunnels and their session counts (aggregation: a tunnel carries up to
 * `sessions_per_tunnel` sessions before another is opened), its load against
 * `max_sessions`, and its health (a member that failed is down for a hold
 * time). Owned by the switch actor; plain state, no I/O.
 *
 * @module
 */

import type { Member, Upstream } from "../policies/schema.ts";

/** One upstream tunnel. */
export interface UpstreamTunnel {
  tunnelId: number;
  member: Member;
  sessions: number;
  established: boolean;
  /** When it last carried no session (for the idle timeout), or null while busy. */
  idleSince: number | null;
  /** Its member left the policy: no new sessions; it closes once idle. */
  draining: boolean;
}

interface MemberState {
  sessions: number;
  downUntil: number;
  tunnels: Map<number, UpstreamTunnel>;
}

/** Run-time state of every upstream member, keyed by upstream name and member address. */
export class UpstreamPool {
  #members = new Map<string, MemberState>();
  #tunnels = new Map<number, UpstreamTunnel>();
  #roundRobin = new Map<string, number>();
  #weights = new Map<string, number>();
  /** How long a failed member stays out of rotation. */
  readonly holdDownMs: number;

  constructor(options: { holdDownMs: number }) {
    this.holdDownMs = options.holdDownMs;
  }

  #state(m: Member): MemberState {
    const key = `${m.upstream}|${m.key}`;
    let s = this.#members.get(key);
    if (s === undefined) {
      s = { sessions: 0, downUntil: 0, tunnels: new Map() };
      this.#members.set(key, s);
    }
    return s;
  }

  /** Whether a member may take a call now: not held down, under its `max_sessions`, weight not 0. */
  available(m: Member, now: number): boolean {
    const s = this.#state(m);
    return s.downUntil <= now && (m.maxSessions === undefined || s.sessions < m.maxSessions) &&
      m.weight > 0;
  }

  /** Takes a member out of rotation for the hold time. */
  markDown(m: Member, now: number): void {
    this.#state(m).downUntil = now + this.holdDownMs;
  }

  /** Sessions a member carries (or is setting up). */
  sessions(m: Member): number {
    return this.#state(m).sessions;
  }

  /**
   * The members to try for a call, best first: the available ones ordered by
   * the upstream's strategy, using live load for `least_sessions` and
   * rotating for `round_robin` and `weighted`.
   */
  candidates(upstream: Upstream, now: number): Member[] {
    const live = upstream.members.filter((m) => this.available(m, now));
    switch (upstream.strategy) {
      case "priority":
        return live.sort((a, b) => a.priority - b.priority || a.index - b.index);
      case "least_sessions":
        return live.sort((a, b) => this.sessions(a) - this.sessions(b) || a.index - b.index);
      case "round_robin": {
        const turn = this.#roundRobin.get(upstream.name) ?? 0;
        this.#roundRobin.set(upstream.name, turn + 1);
        const k = live.length === 0 ? 0 : turn % live.length;
        return [...live.slice(k), ...live.slice(0, k)];
      }
      case "weighted": {
        // Smooth weighted round robin: each member gains its weight per call; the richest is
        // chosen first and pays the total (as nginx does).
        const total = live.reduce((sum, m) => sum + m.weight, 0);
        for (const m of live) this.#weights.set(m.key, (this.#weights.get(m.key) ?? 0) + m.weight);
        const order = live.sort((a, b) =>
          (this.#weights.get(b.key) ?? 0) - (this.#weights.get(a.key) ?? 0)
        );
        if (order.length > 0) {
          this.#weights.set(order[0].key, (this.#weights.get(order[0].key) ?? 0) - total);
        }
        return order;
      }
      default: {
        const never: never = upstream.strategy;
        return never;
      }
    }
  }

  /** A tunnel to `m` with room for one more session, or undefined when a new one is needed. */
  tunnelWithRoom(m: Member, sessionsPerTunnel: number): UpstreamTunnel | undefined {
    for (const t of this.#state(m).tunnels.values()) {
      if (!t.draining && t.sessions < sessionsPerTunnel) return t;
    }
    return undefined;
  }

  /** Records a tunnel opened to `m`. */
  addTunnel(m: Member, tunnelId: number, now: number): UpstreamTunnel {
    const t: UpstreamTunnel = {
      tunnelId,
      member: m,
      sessions: 0,
      established: false,
      idleSince: now,
      draining: false,
    };
    this.#state(m).tunnels.set(tunnelId, t);
    this.#tunnels.set(tunnelId, t);
    return t;
  }

  tunnel(tunnelId: number): UpstreamTunnel | undefined {
    return this.#tunnels.get(tunnelId);
  }

  /** Forgets a tunnel that closed; returns it. */
  removeTunnel(tunnelId: number): UpstreamTunnel | undefined {
    const t = this.#tunnels.get(tunnelId);
    if (t === undefined) return undefined;
    this.#tunnels.delete(tunnelId);
    const s = this.#state(t.member);
    s.tunnels.delete(tunnelId);
    s.sessions -= t.sessions;
    return t;
  }

  /** One more session on a tunnel (and its member). */
  attach(t: UpstreamTunnel): void {
    t.sessions++;
    t.idleSince = null;
    this.#state(t.member).sessions++;
  }

  /** One session fewer on a tunnel (and its member). */
  detach(t: UpstreamTunnel, now: number): void {
    // By object, not by ID: an ID may be reused by a newer tunnel after this one was removed.
    if (this.#tunnels.get(t.tunnelId) !== t) return;
    t.sessions--;
    this.#state(t.member).sessions--;
    if (t.sessions === 0) t.idleSince = now;
  }

  /** Tunnels that have carried no session since before `before`. */
  idleTunnels(before: number): UpstreamTunnel[] {
    return [...this.#tunnels.values()].filter((t) => t.idleSince !== null && t.idleSince < before);
  }

  /** Every upstream tunnel. */
  allTunnels(): UpstreamTunnel[] {
    return [...this.#tunnels.values()];
  }

  /**
   * After a reload: tunnels whose member no longer appears in `current`
   * (keyed by upstream and address) drain — they take no new session and
   * close once idle; the calls on them go on untouched.
   */
  drainRemoved(current: ReadonlyMap<string, Upstream>): number {
    let drained = 0;
    for (const t of this.#tunnels.values()) {
      const still = current.get(t.member.upstream)?.members.some((m) => m.key === t.member.key);
      if (!still && !t.draining) {
        t.draining = true;
        if (t.sessions === 0) t.idleSince = t.idleSince ?? 0;
        drained++;
      }
    }
    return drained;
  }

  /** Upstream tunnels open. */
  get tunnelCount(): number {
    return this.#tunnels.size;
  }
}
