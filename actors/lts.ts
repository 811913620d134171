/**
 * Assembles an L2TP Tunnel Switch: one node on the switch's socket (an LNS
 * toward LACs, a LAC toward upstream LNSes), the switch actor, and the
 * policy in force. Used by `lts run` and by the end-to-end tests.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { CompiledPolicy } from "../policies/compile.ts";
import type { PolicyError } from "../policies/error.ts";
import { endpointKey } from "../transport/datagram.ts";
import type { Result } from "../transport/result.ts";
import {
  type LtsControl,
  type MetricsView,
  type PolicyView,
  type ReloadOutcome,
  type SessionView,
  type StatusView,
  SwitchBusyError,
  type TunnelView,
} from "./control.ts";
import type { DatagramSocket } from "../transport/datagram.ts";
import { L2tpNode } from "./l2tp_node.ts";
import {
  type PolicyHolder,
  switchActor,
  switchHooks,
  type SwitchMsg,
  type SwitchOptions,
  type SwitchStats,
  type SwitchSummary,
  type SwitchViews,
} from "./switch_actor.ts";
import type { ActorRef, ActorSystem } from "./system.ts";
import type { SessionHandle } from "./l2tp_types.ts";
import { StopCcnResult } from "../transport/avp_types.ts";

const log = getLogger(["lts", "policy"]);

/**
 * Mailbox bound of the switch actor for what may be dropped under overload:
 * PPP frames of calls it authenticates and relayed WEN/SLI (counted in
 * `eventsLost`, `lts_limit_reached_total{limit="switch_mailbox"}`).
 */
export const SWITCH_MAILBOX = 65536;

/**
 * The switch's reserved lane: room for every lifecycle event there can be,
 * so none is ever lost however full the mailbox is with frames (a lost
 * "closed" would strand a leg or a place under `max_sessions`). Each session
 * actor sends at most three (incoming call or not placed, up, closed), and
 * there are at most `maxTunnels` tunnels of 65,535 sessions each, calls
 * refused at `max_sessions` included (they have a session actor until their
 * CDN); tunnels send two each. A bound, not an allocation: the ring grows as
 * events wait.
 */
export function switchReserved(limits: { maxTunnels: number }): number {
  return 3 * limits.maxTunnels * 65535 + 2 * limits.maxTunnels + 1024;
}

/** A running switch. */
export interface Lts {
  node: L2tpNode;
  switch: ActorRef<SwitchMsg>;
  stats: SwitchStats;
  policy: PolicyHolder;
}

/** Options of {@link startLts}. */
export interface LtsOptions {
  system: ActorSystem;
  socket: DatagramSocket;
  policy: CompiledPolicy;
  randomBytes?: (n: number) => Uint8Array;
  seed?: number;
  /** Hold time of a failed upstream member, ms (default 30 s). */
  memberHoldDownMs?: number;
  /** Idle upstream tunnels close after this long, ms (default 60 s). */
  idleTunnelMs?: number;
  /** Opens the TUN device of a terminate target with `tun: true` (default: a real one, root only). */
  openTun?: SwitchOptions["openTun"];
  /** The switch mailbox's bound for droppable events (default {@link SWITCH_MAILBOX}; tests). */
  switchMailbox?: number;
}

/** Starts a switch on `socket` with `policy`. */
export function startLts(options: LtsOptions): Lts {
  const holder: PolicyHolder = { policy: options.policy, version: 1 };
  const stats: SwitchStats = {
    calls: 0,
    switched: 0,
    rejected: 0,
    failed: 0,
    failovers: 0,
    terminated: 0,
    maxSessionsRejected: 0,
    active: 0,
    pending: 0,
    framesBeforeSwitch: 0,
    eventsLost: 0,
  };
  const started: { ref?: ActorRef<SwitchMsg> } = {};
  // Calls the switch authenticates itself (no proxy AVPs): their frames go to the switch.
  const authenticating = new Set<SessionHandle>();
  const early = new Map<SessionHandle, Uint8Array[]>();
  const config = options.policy.config;
  const node = new L2tpNode({
    system: options.system,
    socket: options.socket,
    settings: { hostname: config.hostname },
    maxTunnels: config.limits.maxTunnels,
    sccrqPerSecond: config.limits.sccrqPerSecond,
    randomBytes: options.randomBytes,
    seed: options.seed,
    hooks: switchHooks(() => started.ref, stats, authenticating, early),
    // Who may open tunnels here: the first `lacs` entry that matches (policy in force now).
    admit: ({ from, hostName }) => {
      const admission = holder.policy.admitLac({ hostname: hostName, address: from.hostname });
      if (admission === null) {
        return {
          accept: false,
          resultCode: StopCcnResult.NotAuthorized,
          message: "LAC not allowed by policy",
        };
      }
      return {
        accept: true,
        settings: {
          secret: admission.secret === undefined
            ? undefined
            : new TextEncoder().encode(admission.secret),
          hideAvps: admission.hideAvps,
          ...(admission.helloInterval === undefined
            ? {}
            : { helloIntervalMs: admission.helloInterval * 1000 }),
          ...(admission.maxSessions === undefined ? {} : { maxSessions: admission.maxSessions }),
        },
      };
    },
  });
  const switchRef = options.system.spawn(
    switchActor({
      node: () => node,
      policy: holder,
      stats,
      memberHoldDownMs: options.memberHoldDownMs,
      authenticating,
      early,
      idleTunnelMs: options.idleTunnelMs,
      openTun: options.openTun,
    }),
    {
      capacity: options.switchMailbox ?? SWITCH_MAILBOX,
      reserved: switchReserved(config.limits),
    },
  );
  started.ref = switchRef;
  return { node, switch: switchRef, stats, policy: holder };
}

/**
 * The operator's handle on a running switch ({@link LtsControl}): views for
 * the API, reload, drain, and a graceful stop.
 */
export class LtsRuntime implements LtsControl {
  readonly lts: Lts;
  #source: string;
  #load: () => Promise<Result<CompiledPolicy, PolicyError[]>>;
  #startedAt: number;
  #loadedAt = new Date();
  #reloads = { ok: 0, failed: 0 };
  #mailboxDrops = 0;
  #system: ActorSystem;
  #draining = false;

  constructor(
    lts: Lts,
    options: {
      system: ActorSystem;
      source: string;
      load: () => Promise<Result<CompiledPolicy, PolicyError[]>>;
    },
  ) {
    this.lts = lts;
    this.#system = options.system;
    this.#source = options.source;
    this.#load = options.load;
    this.#startedAt = options.system.clock.now();
    options.system.events.subscribe((e) => {
      if (e.type === "mailbox_full") this.#mailboxDrops++;
    });
  }

  #ask<T>(make: (reply: (value: T) => void) => SwitchMsg): Promise<T> {
    return new Promise((resolve) => {
      const sent = this.lts.switch.send(make(resolve));
      if (sent === "full") throw new SwitchBusyError();
      if (sent !== "ok") throw new Error("the switch is not running");
    });
  }

  #views(): Promise<SwitchViews> {
    return this.#ask((reply) => ({ type: "views", reply }));
  }

  #summary(): Promise<SwitchSummary> {
    return this.#ask((reply) => ({ type: "summary", reply }));
  }

  async status(): Promise<StatusView> {
    const v = await this.#summary();
    const tunnels = this.lts.node.tunnels();
    const count = (state: string) =>
      v.counts.reduce((n, c) => n + (c.state === state ? c.count : 0), 0);
    const s = this.lts.stats;
    return {
      hostname: this.lts.policy.policy.config.hostname,
      uptimeSeconds: Math.round((this.#system.clock.now() - this.#startedAt) / 1000),
      policyVersion: this.lts.policy.version,
      draining: v.draining,
      tunnels: {
        lac: tunnels.filter((t) => !t.initiator).length,
        upstream: tunnels.filter((t) => t.initiator).length,
      },
      sessions: {
        placing: count("placing"),
        switched: count("switched"),
        terminating: count("terminating"),
        terminated: count("terminated"),
        closing: count("closing"),
      },
      calls: {
        total: s.calls,
        switched: s.switched,
        rejected: s.rejected,
        failed: s.failed,
        failovers: s.failovers,
        terminated: s.terminated,
      },
    };
  }

  async tunnels(): Promise<TunnelView[]> {
    const v = await this.#views();
    return this.lts.node.tunnels().map((t) => {
      const up = v.upstreamTunnels.get(t.tunnelId);
      return {
        tunnelId: t.tunnelId,
        peerTunnelId: t.peerTunnelId,
        peer: endpointKey(t.peer),
        peerHostName: t.peerHostName,
        role: t.initiator ? "upstream" : "lac",
        established: t.established,
        sessions: t.sessionCount,
        ...(up ? { upstream: up.upstream, member: up.member, draining: up.draining } : {}),
      };
    });
  }

  async sessions(
    filter: { user?: string; upstream?: string; state?: string } = {},
  ): Promise<SessionView[]> {
    const v = await this.#views();
    return v.sessions.filter((s) =>
      (filter.user === undefined || s.user === filter.user) &&
      (filter.upstream === undefined || s.upstream === filter.upstream) &&
      (filter.state === undefined || s.state === filter.state)
    );
  }

  policy(): PolicyView {
    const c = this.lts.policy.policy.config;
    return {
      version: this.lts.policy.version,
      source: this.#source,
      loadedAt: this.#loadedAt.toISOString(),
      rules: c.rules.length,
      upstreams: [...c.upstreams.keys()],
      reloads: { ...this.#reloads },
    };
  }

  async metrics(): Promise<MetricsView> {
    const v = await this.#summary();
    const c = this.lts.node.counters;
    const limits = this.lts.node.limits;
    const config = this.lts.policy.policy.config;
    const tunnels = this.lts.node.tunnels();
    const byTunnel = new Map<string, number>();
    for (const t of tunnels) {
      const key = `${t.initiator ? "upstream" : "lac"}|${t.established}`;
      byTunnel.set(key, (byTunnel.get(key) ?? 0) + 1);
    }
    return {
      tunnels: [...byTunnel].map(([k, count]) => {
        const [role, established] = k.split("|");
        return { role: role as "lac" | "upstream", established: established === "true", count };
      }),
      sessions: v.counts,
      rejectsByResultCode: v.rejectsByResultCode,
      callsTotal: this.lts.stats.calls,
      callsSwitchedTotal: this.lts.stats.switched,
      failoversTotal: this.lts.stats.failovers,
      controlRetransmitsTotal: c.controlRetransmits,
      dataForwardedFrames: c.forwardedFrames,
      dataForwardedBytes: c.forwardedBytes,
      dataDropped: {
        unknown_session: this.lts.node.forwarding.unknownSession,
        before_switch: this.lts.stats.framesBeforeSwitch,
        forward_failed: c.forwardFailed,
      },
      datagramsDropped: {
        short: c.short,
        bad_version: c.badVersion,
        malformed: c.malformed,
        unknown_tunnel: c.unknownTunnel,
        wrong_peer: c.wrongPeer,
        tunnel_mailbox_full: c.tunnelMailboxFull,
        tunnel_limit: c.tunnelLimit,
        sccrq_rate_limited: c.sccrqRateLimited,
        not_sccrq: c.notSccrq,
        sccrq_auth_blocked: c.sccrqAuthBlocked,
      },
      mailboxDropsTotal: this.#mailboxDrops,
      tunnelAuthFailuresTotal: c.authFailures,
      limits: {
        max_tunnels: limits.maxTunnels,
        max_sessions: config.limits.maxSessions,
        sccrq_per_second: limits.sccrqPerSecond,
        tunnel_mailbox: limits.tunnelMailbox,
        session_mailbox: limits.sessionMailbox,
        switch_mailbox: SWITCH_MAILBOX,
        control_backlog: limits.maxBacklog,
        tunnel_max_sessions: limits.maxSessionsPerTunnel,
        auth_failures: limits.authFailureBlock.failures,
      },
      limitsReached: {
        max_tunnels: c.tunnelLimit,
        max_sessions: this.lts.stats.maxSessionsRejected,
        sccrq_per_second: c.sccrqRateLimited,
        tunnel_mailbox: c.tunnelMailboxFull,
        control_backlog: c.channelFull,
        tunnel_max_sessions: c.sessionLimit,
        auth_failures: c.sccrqAuthBlocked,
        switch_mailbox: this.lts.stats.eventsLost,
      },
      reloads: { ...this.#reloads },
      policyVersion: this.lts.policy.version,
    };
  }

  async reload(): Promise<ReloadOutcome> {
    const loaded = await this.#load();
    if (!loaded.ok) {
      this.#reloads.failed++;
      for (const e of loaded.error) {
        log.error("reload refused, policy unchanged: {error}", { error: e.toString() });
      }
      return {
        ok: false,
        errors: loaded.error.map((e) => ({
          file: e.file,
          line: e.line,
          col: e.col,
          message: e.message,
        })),
      };
    }
    const version = await this.#ask<number>((reply) => ({
      type: "policy",
      policy: loaded.value,
      reply,
    }));
    this.#reloads.ok++;
    this.#loadedAt = new Date();
    log.info("reloaded {source}: policy version {version}", { source: this.#source, version });
    return { ok: true, version };
  }

  drain(): void {
    this.#draining = true;
    this.lts.switch.send({ type: "drain" });
  }

  /** Whether `drain()` or `stop()` was called. */
  get draining(): boolean {
    return this.#draining;
  }

  disconnect(id: number): Promise<boolean> {
    return this.#ask((reply) => ({ type: "disconnect_call", id, reply }));
  }

  /**
   * Graceful stop: no new calls, CDN result 3 on both legs of every call,
   * then StopCCN on every tunnel, waiting up to `graceMs` for them to end.
   */
  async stop(graceMs = 5000): Promise<void> {
    this.#draining = true;
    const until = Date.now() + graceMs;
    await this.#ask<number>((reply) => ({ type: "shutdown", reply }));
    const node = this.lts.node;
    // Let the CDNs be acknowledged before the StopCCNs clear what is left (§5.7).
    while (node.forwarding.size > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    node.closeAll();
    while (node.tunnelCount > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }
}
