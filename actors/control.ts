/**
 * What operators can see and do on a running switch, as plain data: the
 * contract between the switch (actors/lts.ts) and its front ends (the HTTP
 * API, `lts status`, the demo). Everything here is JSON-ready.
 *
 * @module
 */

/** One leg of a call. */
export interface LegView {
  /** Our Tunnel ID and Session ID. */
  tunnelId: number;
  sessionId: number;
  /** The peer's address ("IP:PORT") and Host Name. */
  peer: string;
  peerHostName: string | null;
  /** Frames and octets received from this leg's peer and sent to it (data plane counters). */
  rxFrames: number;
  txFrames: number;
  rxBytes: number;
  txBytes: number;
}

/** A call as the switch sees it. */
export interface SessionView {
  /** The switch's call id (for `DELETE /sessions/{id}`). */
  id: number;
  /**
   * `placing` (upstream leg being set up), `switched`, `terminating` (PPP
   * being negotiated with a call a terminate rule keeps), `terminated` (its
   * IPCP is Opened), or `closing`.
   */
  state: "placing" | "switched" | "terminating" | "terminated" | "closing";
  user: string | null;
  calledNumber: string | null;
  callingNumber: string | null;
  rule: string | null;
  upstream: string | null;
  /** The member ("IP:PORT") the upstream leg is on. */
  member: string | null;
  /** The policy version the call was decided by. */
  policyVersion: number;
  /** Milliseconds since the incoming leg came up. */
  ageMs: number;
  incoming: LegView;
  outgoing: LegView | null;
  /** For a call terminated here: the target, the client's address, IPv4 datagrams counted. */
  terminate?: TerminationView;
}

/** The local end of a terminated call. */
export interface TerminationView {
  target: string;
  /** The address IPCP gave the client; null until IPCP is Opened. */
  address: string | null;
  ipPacketsIn: number;
  ipBytesIn: number;
  ipPacketsOut: number;
  ipBytesOut: number;
  /** IPv4 datagrams before IPCP was Opened (discarded, RFC 1661 §3.5). */
  ipDropped: number;
}

/** A tunnel. */
export interface TunnelView {
  tunnelId: number;
  peerTunnelId: number | null;
  peer: string;
  peerHostName: string | null;
  /** `lac` for tunnels LACs opened to us, `upstream` for ours to LNS members. */
  role: "lac" | "upstream";
  established: boolean;
  sessions: number;
  /** For upstream tunnels: the group and member, and whether it is draining (member removed by a reload). */
  upstream?: string;
  member?: string;
  draining?: boolean;
}

/** `GET /status`. */
export interface StatusView {
  hostname: string;
  uptimeSeconds: number;
  policyVersion: number;
  /** Not accepting new calls (after `POST /drain` or while stopping). */
  draining: boolean;
  tunnels: { lac: number; upstream: number };
  sessions: {
    placing: number;
    switched: number;
    terminating: number;
    terminated: number;
    closing: number;
  };
  calls: {
    total: number;
    switched: number;
    rejected: number;
    failed: number;
    failovers: number;
    /** Calls terminated here that reached IPCP Opened. */
    terminated: number;
  };
}

/** `GET /policy`. */
export interface PolicyView {
  version: number;
  /** The file it was loaded from (or "embedded"). */
  source: string;
  loadedAt: string;
  rules: number;
  upstreams: string[];
  /** Reloads that succeeded and failed since start. */
  reloads: { ok: number; failed: number };
}

/** One policy error, as `POST /reload` returns them with status 422. */
export interface PolicyErrorView {
  file: string;
  line: number;
  col: number;
  message: string;
}

/** The outcome of a reload. */
/** The switch's mailbox is full: an API request is refused (HTTP 503), not queued. */
export class SwitchBusyError extends Error {
  constructor() {
    super("the switch is busy (its mailbox is full); try again");
    this.name = "SwitchBusyError";
  }
}

export type ReloadOutcome =
  | { ok: true; version: number; unchanged?: boolean }
  | { ok: false; errors: PolicyErrorView[] };

/** Counters for `GET /metrics`; each becomes one Prometheus family. */
export interface MetricsView {
  /** Tunnels by role and state. */
  tunnels: { role: "lac" | "upstream"; established: boolean; count: number }[];
  /** Calls by state and upstream group. */
  sessions: { state: string; upstream: string; count: number }[];
  /** Calls ended without being switched, by CDN Result Code sent to the LAC. */
  rejectsByResultCode: Record<string, number>;
  callsTotal: number;
  callsSwitchedTotal: number;
  failoversTotal: number;
  controlRetransmitsTotal: number;
  dataForwardedFrames: number;
  dataForwardedBytes: number;
  /** Data dropped, by reason (unknown_session, before_switch, forward_failed, …). */
  dataDropped: Record<string, number>;
  /** Datagrams dropped by the node, by reason (bad_version, malformed, unknown_tunnel, …). */
  datagramsDropped: Record<string, number>;
  mailboxDropsTotal: number;
  /** Tunnels whose peer failed tunnel authentication or was not admitted (StopCCN result 4). */
  tunnelAuthFailuresTotal: number;
  /** Configured bounds, by limit name (`max_tunnels`, `sccrq_per_second`, `tunnel_mailbox`, …). */
  limits: Record<string, number>;
  /** Times a bound refused or dropped something, by the same limit names. */
  limitsReached: Record<string, number>;
  reloads: { ok: number; failed: number };
  policyVersion: number;
}

/** What a front end may ask of a running switch. */
export interface LtsControl {
  status(): Promise<StatusView>;
  tunnels(): Promise<TunnelView[]>;
  sessions(filter?: { user?: string; upstream?: string; state?: string }): Promise<SessionView[]>;
  policy(): PolicyView;
  metrics(): Promise<MetricsView>;
  /** Re-reads the policy file and swaps it in as one message; an invalid file changes nothing. */
  reload(): Promise<ReloadOutcome>;
  /** Stops accepting new calls; existing ones go on. */
  drain(): void;
  /** Clears a call on both legs with CDN result 3 (administrative); false when there is no such call. */
  disconnect(id: number): Promise<boolean>;
}
