/**
 * The switch actor: the heart of the LTS. Toward a LAC the node is an LNS;
 * for every incoming call the switch decides by policy, re-originates the
 * call toward an upstream LNS member (the node is then a LAC), and once both
 * legs are established pairs their forwarding entries so PPP frames cross
 * with no actor hop (DESIGN.md).
 *
 * | event                               | action                                                   |
 * | ----------------------------------- | -------------------------------------------------------- |
 * | ICRQ from a LAC                     | early decision: reject now (CDN), or accept (ICRP)       |
 * | incoming leg established (ICCN)     | decide with the user name; reject, or place upstream     |
 * | upstream leg established            | pair the two forwarding entries: switched                |
 * | upstream setup fails, facilities    | member down for the hold time; next member, same call    |
 * | every member failed                 | CDN to the LAC with the last result code                 |
 * | CDN on either leg                   | CDN on the other with the Result Code and Q.931 cause    |
 * | tunnel lost on either side          | its sessions close, so the other legs get CDNs           |
 * | WEN from the LAC / SLI from the LNS | relayed to the other leg                                 |
 *
 * Upstream tunnels are shared up to `sessions_per_tunnel` (aggregation),
 * opened on demand and closed after an idle timeout.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { CompiledPolicy } from "../policies/compile.ts";
import type { LegView, SessionView } from "./control.ts";
import type { DataEntry } from "./data_plane.ts";
import { endpointKey } from "../transport/datagram.ts";
import type { CallFacts, Decision, TerminateTarget, Upstream } from "../policies/schema.ts";
import { IpPool } from "../ppp/ip_pool.ts";
import { type LinkEvent, PppLink } from "../ppp/link.ts";
import { proxiedStart } from "../ppp/proxy.ts";
import { LocalUsers } from "../ppp/users.ts";
import { openTun, type TunDevice } from "../transport/tun.ts";
import type { Result } from "../transport/result.ts";
import { TunBridge, tunNameFor, tunSetupCommands } from "./tun_bridge.ts";
import type { AccmValue, CallErrorsValue } from "../transport/avp.ts";
import { CdnResult } from "../transport/avp_types.ts";
import { hopCountAvp, readHopCount } from "../transport/lts_avps.ts";
import {
  createEngine,
  type EngineInput,
  type EngineState,
  type EngineTimer,
  stepEngine,
} from "../ppp/engine.ts";
import type { TimerHandle } from "./clock.ts";
import type { AvpFields } from "../transport/message.ts";
import type { L2tpNode } from "./l2tp_node.ts";
import type { CloseReason, NodeHooks, SessionHandle, TunnelInfo } from "./l2tp_types.ts";
import type { Actor, ActorContext, ActorRef } from "./system.ts";
import type { OverflowPolicy } from "./mailbox.ts";
import { UpstreamPool, type UpstreamTunnel } from "./upstream_pool.ts";
// The same bound as the session's own hold between ICRP and ICCN: the frames a PPP peer sends
// before its first retransmission; LCP retransmits the rest.
import { EARLY_FRAMES } from "./session_actor.ts";

const log = getLogger(["lts", "switch"]);

/** The policy in force, swapped whole on reload; calls keep the version they were decided by. */
export interface PolicyHolder {
  policy: CompiledPolicy;
  version: number;
}

/** Messages the switch handles; the node's hooks turn into these. */
export type SwitchMsg =
  | { type: "incoming_call"; session: SessionHandle; message: "ICRQ" | "OCRQ" }
  | { type: "established"; session: SessionHandle }
  | { type: "closed"; session: SessionHandle; reason: CloseReason }
  | { type: "not_placed"; context: unknown; reason: CloseReason }
  | { type: "tunnel_up"; tunnel: TunnelInfo }
  | { type: "tunnel_down"; tunnel: TunnelInfo; reason: CloseReason }
  | {
    type: "link_event";
    session: SessionHandle;
    event: { wanError?: CallErrorsValue; accm?: AccmValue };
  }
  | { type: "idle_check" }
  /** A PPP frame on a call the switch authenticates itself (no Proxy Authen Name came). */
  | { type: "ppp_frame"; session: SessionHandle; frame: Uint8Array }
  | { type: "ppp_timer"; session: SessionHandle; timer: EngineTimer }
  /** A timer of a locally terminated call's PPP link. */
  | { type: "link_timer"; fire: () => void }
  /** A reloaded policy: new calls follow it; switched calls keep the version they were decided by. */
  | { type: "policy"; policy: CompiledPolicy; reply: (version: number) => void }
  /** Stop accepting new calls. */
  | { type: "drain" }
  /** Clear every call on both legs with CDN result 3, and stop accepting. */
  | { type: "shutdown"; reply: (calls: number) => void }
  | { type: "disconnect_call"; id: number; reply: (found: boolean) => void }
  | { type: "views"; reply: (views: SwitchViews) => void }
  | { type: "summary"; reply: (summary: SwitchSummary) => void };

/** The switch's state, for the operator views. */
/**
 * What `/status` and `/metrics` need: counts, no per-session objects (a
 * scrape at 100,000 calls must not build 100,000 views on the forwarding
 * thread).
 */
export interface SwitchSummary {
  /** Calls by state and by upstream (or `terminate:TARGET`, or "" when not decided yet). */
  counts: { state: SessionView["state"]; upstream: string; count: number }[];
  draining: boolean;
  /** CDN Result Codes sent to LACs for calls never switched. */
  rejectsByResultCode: Record<string, number>;
}

export interface SwitchViews {
  sessions: SessionView[];
  /** Upstream tunnels by Tunnel ID. */
  upstreamTunnels: Map<number, { upstream: string; member: string; draining: boolean }>;
  draining: boolean;
  /** CDN Result Codes sent to LACs for calls never switched. */
  rejectsByResultCode: Record<string, number>;
}

/**
 * Node hooks that hand every event to the switch. Frames on a leg that is not
 * switched yet are counted and dropped (PPP retransmits).
 */
export function switchHooks(
  target: () => ActorRef<SwitchMsg> | undefined,
  stats: SwitchStats,
  authenticating: ReadonlySet<SessionHandle> = new Set(),
  early?: Map<SessionHandle, Uint8Array[]>,
): NodeHooks {
  const send = (msg: SwitchMsg) => {
    const ref = target();
    if (ref === undefined || ref.send(msg) !== "ok") stats.eventsLost++;
  };
  return {
    incomingCall: (session, message) => send({ type: "incoming_call", session, message }),
    sessionEstablished: (session) => {
      // A client's first LCP Configure-Request may overtake our decision: keep a few frames.
      if (!session.tunnel.initiator) early?.set(session, []);
      send({ type: "established", session });
    },
    sessionClosed: (session, reason) => {
      early?.delete(session);
      send({ type: "closed", session, reason });
    },
    callNotPlaced: (context, reason) => send({ type: "not_placed", context, reason }),
    tunnelEstablished: (tunnel) => send({ type: "tunnel_up", tunnel }),
    tunnelClosed: (tunnel, reason) => send({ type: "tunnel_down", tunnel, reason }),
    linkEvent: (session, event) => send({ type: "link_event", session, event }),
    // Frames of a call the switch is authenticating go to it; others (not yet switched) are dropped.
    frame: (session, frame) => {
      if (authenticating.has(session)) {
        return send({ type: "ppp_frame", session, frame: frame.slice() });
      }
      const held = early?.get(session);
      if (held !== undefined && held.length < EARLY_FRAMES) held.push(frame.slice());
      else stats.framesBeforeSwitch++;
    },
  };
}

/** What the switch counts. */
export interface SwitchStats {
  calls: number;
  switched: number;
  rejected: number;
  failed: number;
  failovers: number;
  /** Calls terminated here that reached IPCP Opened. */
  terminated: number;
  /** Calls refused at ICRQ because `limits.max_sessions` calls were up or pending. */
  maxSessionsRejected: number;
  active: number;
  /** Calls accepted at ICRQ and not yet decided (they count against limits.max_sessions). */
  pending: number;
  framesBeforeSwitch: number;
  eventsLost: number;
}

/** Options of the switch actor. */
export interface SwitchOptions {
  node: () => L2tpNode;
  policy: PolicyHolder;
  stats: SwitchStats;
  /** How long a failed member stays out of rotation. Default 30 s. */
  memberHoldDownMs?: number;
  /** Close an upstream tunnel that carried no session this long. Default 60 s. */
  idleTunnelMs?: number;
  /**
   * Calls the switch authenticates itself: shared with the node hooks so their frames reach
   * the switch. The switch adds and removes entries; hooks only read.
   */
  authenticating?: Set<SessionHandle>;
  /**
   * Frames that came on an incoming call after its ICCN and before the switch
   * took it up, at most {@link EARLY_FRAMES} each; shared with the node hooks.
   */
  early?: Map<SessionHandle, Uint8Array[]>;
  /** Opens the TUN device of a terminate target with `tun: true` (default: `openTun`, root only). */
  openTun?: (name: string) => Result<TunDevice, string>;
  /** Authentication asked of remote systems that come without proxy AVPs; default CHAP, then PAP. */
  pppAuth?: readonly ("pap" | "chap")[];
}

/** The AVPs of an incoming call copied onto the re-originated one (the session FSM keeps per message what the RFC allows). */
const COPIED: readonly (keyof AvpFields)[] = [
  "callingNumber",
  "calledNumber",
  "subAddress",
  "bearerType",
  "framingType",
  "txConnectSpeed",
  "rxConnectSpeed",
  "physicalChannelId",
  "privateGroupId",
  "sequencingRequired",
  "initialReceivedLcpConfreq",
  "lastSentLcpConfreq",
  "lastReceivedLcpConfreq",
  "proxyAuthenType",
  "proxyAuthenName",
  "proxyAuthenChallenge",
  "proxyAuthenId",
  "proxyAuthenResponse",
];

type Phase = "accepted" | "placing" | "switched" | "terminating" | "terminated" | "closing";

/** A call the LTS terminates itself (a `terminate` rule): the LNS side of its PPP link. */
interface Termination {
  target: TerminateTarget;
  link: PppLink;
  /** The target's TUN device, when it has `tun: true` and the device could be opened. */
  tun?: TunBridge;
  /** Why the link failed, for the CDN once it is Dead. */
  failure?: string;
}

interface Call {
  id: number;
  incoming: SessionHandle;
  incomingClosed: boolean;
  /** Why the LAC's leg ended, to carry on to an upstream leg still being set up. */
  incomingReason?: CloseReason;
  outgoing: SessionHandle | null;
  outgoingClosed: boolean;
  upstream: Upstream | null;
  /** Members tried for this call (a few at most; an array is a tenth of a Set's size). */
  tried: string[];
  tunnel: UpstreamTunnel | null;
  /** Hop Count to send upstream: what the LAC side said, plus us. */
  hops: number;
  /** Proxy LCP and authentication AVPs the switch learnt by authenticating the user itself. */
  proxy: AvpFields;
  phase: Phase;
  lastFailure: CloseReason | null;
  rule: string | null;
  policyVersion: number;
  /** The user: the Proxy Authen Name, or the name the switch's own PPP authentication learnt. */
  user: string | null;
  /** Set for a call terminated here rather than switched. */
  termination: Termination | null;
  /** When the call was taken (for its age in the API). */
  startedAt: number;
}

/** Creates the switch actor's behaviour. */
export function switchActor(options: SwitchOptions): () => Actor<SwitchMsg> {
  return () => new SwitchActor(options);
}

class SwitchActor implements Actor<SwitchMsg> {
  #o: SwitchOptions;
  #pool: UpstreamPool;
  #calls = new Map<number, Call>();
  #byIncoming = new Map<SessionHandle, Call>();
  /** Calls accepted at ICRQ whose ICCN has not come yet. */
  #pending = new Set<SessionHandle>();
  #draining = false;
  #ppp = new Map<SessionHandle, { engine: EngineState; timers: Map<EngineTimer, TimerHandle> }>();
  #rejects: Record<string, number> = {};
  /** Address pools of terminate targets, by target name and range: kept across reloads. */
  #pools = new Map<string, IpPool>();
  #users = new WeakMap<TerminateTarget, LocalUsers>();
  /** TUN bridges of terminate targets with `tun: true`, by target name. */
  #tuns = new Map<string, TunBridge>();
  #nextId = 1;
  #ctx!: ActorContext<SwitchMsg>;

  constructor(options: SwitchOptions) {
    this.#o = options;
    this.#pool = new UpstreamPool({ holdDownMs: options.memberHoldDownMs ?? 30_000 });
  }

  onStart(ctx: ActorContext<SwitchMsg>): void {
    this.#ctx = ctx;
    this.#openTuns();
    ctx.setTimer(this.#idleMs / 4, { type: "idle_check" });
  }

  overflow(msg: SwitchMsg): OverflowPolicy {
    // When the switch is behind, these may be refused: a PPP frame (LCP retransmits), a relayed
    // WEN/SLI, and the API's requests (it answers 503), whose number no limit bounds. Every other
    // event changes a call's state, and losing one would strand a leg: those take the reserved
    // lane, sized for every session's and tunnel's events (lts.ts).
    return REFUSABLE.has(msg.type) ? "reject_newest" : "must_deliver";
  }

  get #idleMs(): number {
    return this.#o.idleTunnelMs ?? 60_000;
  }

  handle(msg: SwitchMsg, ctx: ActorContext<SwitchMsg>): void {
    switch (msg.type) {
      case "incoming_call":
        return this.#onIncomingCall(msg.session, msg.message);
      case "established":
        return msg.session.tunnel.initiator
          ? this.#onUpstreamUp(msg.session)
          : this.#onIncomingUp(msg.session);
      case "closed":
        return msg.session.tunnel.initiator
          ? this.#onUpstreamClosed(msg.session, msg.reason)
          : this.#onIncomingClosed(msg.session, msg.reason);
      case "not_placed":
        return this.#onNotPlaced(msg.context, msg.reason);
      case "tunnel_up": {
        const t = this.#pool.tunnel(msg.tunnel.tunnelId);
        if (t) t.established = true;
        return;
      }
      case "tunnel_down":
        return this.#onTunnelDown(msg.tunnel, msg.reason);
      case "link_event":
        return this.#onLinkEvent(msg.session, msg.event);
      case "ppp_frame": {
        const termination = this.#byIncoming.get(msg.session)?.termination;
        if (termination) return termination.link.receive(msg.frame);
        return this.#pppStep(msg.session, { type: "frame", frame: msg.frame, now: ctx.now() });
      }
      case "link_timer":
        return msg.fire();
      case "ppp_timer": {
        this.#ppp.get(msg.session)?.timers.delete(msg.timer);
        return this.#pppStep(msg.session, { type: "timeout", timer: msg.timer, now: ctx.now() });
      }
      case "idle_check":
        this.#closeIdleTunnels();
        ctx.setTimer(this.#idleMs / 4, { type: "idle_check" });
        return;
      case "policy": {
        this.#o.policy.policy = msg.policy;
        this.#o.policy.version++;
        const drained = this.#pool.drainRemoved(msg.policy.config.upstreams);
        this.#openTuns();
        log.info("policy version {version} in force; {drained} upstream tunnels drain", {
          version: this.#o.policy.version,
          drained,
        });
        msg.reply(this.#o.policy.version);
        return;
      }
      case "drain":
        this.#draining = true;
        return;
      case "shutdown": {
        this.#draining = true;
        const calls = [...this.#calls.values()];
        for (const call of calls) this.#clear(call);
        for (const s of this.#pending) s.disconnect({ resultCode: CdnResult.Administrative });
        msg.reply(calls.length);
        return;
      }
      case "disconnect_call": {
        const call = this.#calls.get(msg.id);
        if (call) this.#clear(call);
        msg.reply(call !== undefined);
        return;
      }
      case "views":
        msg.reply(this.#views());
        return;
      case "summary":
        msg.reply(this.#summary());
        return;
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  get #policy(): CompiledPolicy {
    return this.#o.policy.policy;
  }

  #facts(s: SessionHandle): CallFacts {
    return {
      user: s.call.proxyAuthenName,
      lacHostname: s.tunnel.peerHostName ?? undefined,
      lacAddress: s.tunnel.peer.hostname,
      calledNumber: s.call.calledNumber,
      callingNumber: s.call.callingNumber,
    };
  }

  #onIncomingCall(session: SessionHandle, message: "ICRQ" | "OCRQ"): void {
    // Toward LACs the switch is the LNS: it takes incoming calls only (an OCRQ is the LNS's to send).
    if (session.tunnel.initiator || message === "OCRQ") {
      // An upstream LNS placing a call toward us: an LTS only switches calls from LACs.
      session.reject({
        resultCode: CdnResult.GeneralError,
        errorCode: 0,
        errorMessage: "calls are not accepted on upstream tunnels",
      });
      return;
    }
    if (this.#draining) {
      this.#o.stats.rejected++;
      this.#countReject(CdnResult.NoFacilitiesTemporary);
      session.reject({
        resultCode: CdnResult.NoFacilitiesTemporary,
        errorCode: 0,
        errorMessage: "draining: not accepting calls",
      });
      return;
    }
    // limits.max_sessions: calls beyond it get CDN result 4 (temporary lack of facilities) at ICRQ.
    if (this.#o.stats.active + this.#pending.size >= this.#policy.config.limits.maxSessions) {
      this.#o.stats.rejected++;
      this.#o.stats.maxSessionsRejected++;
      this.#countReject(CdnResult.NoFacilitiesTemporary);
      session.reject({
        resultCode: CdnResult.NoFacilitiesTemporary,
        errorCode: 4,
        errorMessage: "session limit reached",
      });
      return;
    }
    const { user: _user, ...facts } = this.#facts(session);
    const early = this.#policy.decideEarly(facts);
    if (early !== "need_user" && early.action === "reject") {
      this.#o.stats.rejected++;
      this.#countReject(early.resultCode);
      log.info("call from {lac} rejected at ICRQ by rule {rule}", {
        lac: facts.lacHostname,
        rule: early.rule,
      });
      session.reject({
        resultCode: early.resultCode,
        errorCode: early.errorCode,
        errorMessage: early.message,
      });
      return;
    }
    this.#pending.add(session);
    this.#o.stats.pending = this.#pending.size;
    session.accept();
  }

  #onIncomingUp(incoming: SessionHandle): void {
    this.#o.stats.calls++;
    this.#pending.delete(incoming);
    this.#o.stats.pending = this.#pending.size;
    this.#decide(incoming, this.#facts(incoming), {});
    this.#releaseEarly(incoming);
  }

  /**
   * Frames the remote system sent before the switch could take them: to the
   * switch's own PPP when it speaks PPP on the call (authentication, or a
   * terminate rule); kept for the upstream leg while the call is being
   * placed (flushed when it is switched); dropped and counted otherwise.
   */
  #releaseEarly(incoming: SessionHandle): void {
    const early = this.#o.early?.get(incoming);
    if (early === undefined) return;
    if (this.#o.authenticating?.has(incoming)) {
      this.#o.early!.delete(incoming);
      for (const frame of early) {
        this.handle({ type: "ppp_frame", session: incoming, frame }, this.#ctx);
      }
      return;
    }
    const call = this.#byIncoming.get(incoming);
    if (call !== undefined && call.phase !== "closing" && call.termination === null) return;
    this.#o.early!.delete(incoming);
    this.#o.stats.framesBeforeSwitch += early.length;
  }

  /** Decides a call once its facts are known; `proxy` holds AVPs learnt by local PPP. */
  #decide(incoming: SessionHandle, facts: CallFacts, proxy: AvpFields): void {
    let decision: Decision | "need_user";
    if (facts.user === undefined) {
      const { user: _user, ...rest } = facts;
      decision = this.#policy.decideEarly(rest);
    } else {
      decision = this.#policy.decide(facts);
    }
    if (decision === "need_user" && this.#o.authenticating !== undefined) {
      // No Proxy Authen Name (a client-initiated call, or a LAC that sends no proxy AVPs): the
      // switch runs LCP and PAP/CHAP with the remote system itself to learn the user, then
      // decides and hands the LNS proxy LCP and proxy authentication AVPs.
      this.#startPpp(incoming);
      return;
    }
    if (decision === "need_user") {
      this.#o.stats.rejected++;
      this.#countReject(CdnResult.GeneralError);
      log.warn(
        "call {tunnelId}/{sessionId} from {lac}: no Proxy Authen Name and the policy needs the user",
        {
          tunnelId: incoming.tunnel.tunnelId,
          sessionId: incoming.sessionId,
          lac: facts.lacHostname,
        },
      );
      incoming.disconnect({
        resultCode: CdnResult.GeneralError,
        errorCode: 0,
        errorMessage: "user name required (no Proxy Authen Name)",
      });
      return;
    }
    if (decision.action === "reject") {
      this.#o.stats.rejected++;
      this.#countReject(decision.resultCode);
      log.info("call of {user} rejected by rule {rule}", { user: facts.user, rule: decision.rule });
      incoming.disconnect({
        resultCode: decision.resultCode,
        errorCode: decision.errorCode,
        errorMessage: decision.message,
      });
      return;
    }
    if (decision.action === "terminate") {
      return this.#terminate(incoming, facts, proxy, decision.rule, decision.target);
    }
    // Chained switches count themselves in a vendor AVP; a loop of switches ends at max_hops.
    const hops = readHopCount(incoming.extraAvps);
    if (hops >= this.#policy.config.maxHops) {
      this.#o.stats.rejected++;
      this.#countReject(CdnResult.GeneralError);
      log.warn(
        "call of {user}: {hops} switch hops already, max_hops is {max}; rejected (a loop?)",
        {
          user: facts.user,
          hops,
          max: this.#policy.config.maxHops,
        },
      );
      incoming.disconnect({
        resultCode: CdnResult.GeneralError,
        errorCode: 0,
        errorMessage: `too many switch hops (${hops})`,
      });
      return;
    }
    const call = this.#track(incoming, {
      upstream: this.#policy.config.upstreams.get(decision.upstream)!,
      hops: hops + 1,
      proxy,
      phase: "accepted",
      rule: decision.rule,
      user: facts.user ?? null,
    });
    this.#placeNext(call);
  }

  /** A new call record for `incoming`, registered and counted as active. */
  #track(
    incoming: SessionHandle,
    c: Pick<Call, "upstream" | "hops" | "proxy" | "phase" | "rule" | "user">,
  ): Call {
    const call: Call = {
      id: this.#nextId++,
      incoming,
      incomingClosed: false,
      outgoing: null,
      outgoingClosed: false,
      tried: [],
      tunnel: null,
      lastFailure: null,
      policyVersion: this.#o.policy.version,
      termination: null,
      startedAt: this.#ctx.now(),
      ...c,
    };
    this.#calls.set(call.id, call);
    this.#byIncoming.set(incoming, call);
    this.#o.stats.active++;
    return call;
  }

  /**
   * A `terminate` rule: the LTS is the LNS. PPP runs here (LCP, PAP/CHAP
   * against the target's users, IPCP from its pool, LCP Echo keepalive). A
   * call whose proxy authentication (RFC 2661 §4.4.5) checks out against the
   * users starts at IPCP with the proxy LCP; any other renegotiates LCP and
   * authenticates afresh (RFC 1661 §3.4: the client goes back to Establish).
   */
  #terminate(
    incoming: SessionHandle,
    facts: CallFacts,
    learnt: AvpFields,
    rule: string | null,
    targetName: string,
  ): void {
    const target = this.#policy.config.terminate.get(targetName)!;
    const users = this.#usersOf(target);
    const proxied = proxiedStart({ ...incoming.call, ...learnt }, users);
    incoming.forgetProxyAvps();
    const call = this.#track(incoming, {
      upstream: null,
      hops: 0,
      proxy: NO_FIELDS,
      phase: "terminating",
      rule,
      user: facts.user ?? null,
    });
    const ctx = this.#ctx;
    const tun = target.tun ? this.#tuns.get(target.name) : undefined;
    const link: PppLink = new PppLink({
      role: "server",
      auth: target.auth,
      users,
      localAddress: target.localAddress,
      pool: this.#poolOf(target),
      ...(target.dns.length > 0
        ? { dns: { primary: target.dns[0], secondary: target.dns[1] } }
        : {}),
      ...(target.echo === null
        ? {}
        : { echo: { intervalMs: target.echo.interval * 1000, maxMissed: target.echo.maxMissed } }),
      ...(proxied ? { proxied } : {}),
      magic: () => (crypto.getRandomValues(new Uint32Array(1))[0] || 1) >>> 0,
    }, {
      send: (frame) => void incoming.sendFrame(frame),
      now: () => ctx.now(),
      arm: (_name, ms, fire) => {
        const handle = ctx.setTimer(ms, { type: "link_timer", fire });
        return () => ctx.cancelTimer(handle);
      },
      event: (e) => this.#onTerminationEvent(call, e),
      // The data path of a terminated call: IPv4 to the host's TUN device (RFC 1332 §2).
      ip: (packet) => void tun?.deliver(packet, link.address!),
    });
    call.termination = { target, link, ...(tun ? { tun } : {}) };
    this.#o.authenticating?.add(incoming);
    log.info(
      "call {tunnelId}/{sessionId} terminated here on {target} by rule {rule}; proxy LCP and authentication accepted: {proxied}",
      {
        tunnelId: incoming.tunnel.tunnelId,
        sessionId: incoming.sessionId,
        target: target.name,
        rule,
        proxied: proxied !== undefined,
      },
    );
    link.start();
  }

  #onTerminationEvent(call: Call, e: LinkEvent): void {
    const link = call.termination!.link;
    switch (e.type) {
      case "authenticated":
        call.user = e.user;
        return;
      case "opened":
        if (e.address !== undefined) call.termination!.tun?.attach(e.address, link);
        call.phase = "terminated";
        this.#o.stats.terminated++;
        log.info("call of {user} up on {target}: IPCP Opened, address {address}", {
          user: call.user,
          target: call.termination!.target.name,
          address: e.address,
        });
        return;
      case "failed":
        // LCP Terminate-Request goes out now; the CDN follows once the link is Dead.
        call.termination!.failure = e.reason;
        return;
      case "closed": {
        this.#o.authenticating?.delete(call.incoming);
        if (link.address !== undefined) call.termination!.tun?.detach(link.address, link);
        if (call.phase === "closing" || call.incomingClosed || link.abandoned) return;
        const why = call.termination!.failure ?? "PPP link terminated";
        if (call.phase !== "terminated") {
          this.#o.stats.rejected++;
          this.#countReject(CdnResult.GeneralError);
        }
        call.phase = "closing";
        log.info("call of {user} on {target} ends: {why}", {
          user: call.user,
          target: call.termination!.target.name,
          why,
        });
        call.incoming.disconnect({
          resultCode: CdnResult.GeneralError,
          errorCode: 0,
          errorMessage: why,
        });
        return;
      }
      case "phase":
        return;
    }
  }

  /**
   * Opens a TUN device for each terminate target with `tun: true` that has
   * none yet (`lts-<target>`), and logs the commands that route its pool; a
   * device that cannot be opened (not root, no FFI) is logged once and the
   * target's calls run without one. Devices of targets a reload removed are
   * closed once no call uses them.
   */
  #openTuns(): void {
    const targets = this.#policy.config.terminate;
    for (const target of targets.values()) {
      if (!target.tun || this.#tuns.has(target.name)) continue;
      const name = tunNameFor(target.name);
      const opened = (this.#o.openTun ?? openTun)(name);
      if (!opened.ok) {
        log.error("terminate target {target}: no TUN device {name}: {error}; IP is counted only", {
          target: target.name,
          name,
          error: opened.error,
        });
        continue;
      }
      const bridge = new TunBridge(opened.value);
      this.#tuns.set(target.name, bridge);
      log.info("terminate target {target}: TUN device {name}; route it with: {commands}", {
        target: target.name,
        name: bridge.name,
        commands: tunSetupCommands(bridge.name, target).join("; "),
      });
    }
    for (const [name, bridge] of this.#tuns) {
      if (targets.get(name)?.tun !== true && bridge.size === 0) {
        bridge.close();
        this.#tuns.delete(name);
      }
    }
  }

  onStop(): void {
    for (const bridge of this.#tuns.values()) bridge.close();
    this.#tuns.clear();
  }

  #usersOf(target: TerminateTarget): LocalUsers {
    let users = this.#users.get(target);
    if (users === undefined) {
      users = new LocalUsers(target.users, { acceptAll: target.acceptAll });
      this.#users.set(target, users);
    }
    return users;
  }

  #poolOf(target: TerminateTarget): IpPool {
    const key = `${target.name}|${target.pool.first}-${target.pool.last}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = new IpPool({ first: target.pool.first, last: target.pool.last });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  #startPpp(incoming: SessionHandle): void {
    const engine = createEngine({
      role: "server",
      authOnly: true,
      auth: [...(this.#o.pppAuth ?? ["chap", "pap"])],
      // The switch only learns who the user is; the upstream LNS checks the credentials it is
      // handed as proxy authentication (RFC 2661 §4.4.5, §9.5).
      users: { verify: () => true, secretFor: () => undefined, acceptAll: true },
      magic: () => (crypto.getRandomValues(new Uint32Array(1))[0] || 1) >>> 0,
    });
    this.#ppp.set(incoming, { engine, timers: new Map() });
    this.#o.authenticating?.add(incoming);
    this.#pppStep(incoming, { type: "start", now: this.#ctx.now() });
  }

  #pppStep(incoming: SessionHandle, input: EngineInput): void {
    const link = this.#ppp.get(incoming);
    if (link === undefined) return;
    const { state, effects } = stepEngine(link.engine, input);
    link.engine = state;
    for (const e of effects) {
      if (e.type === "send") {
        incoming.sendFrame(e.frame);
      } else if (e.type === "arm_timer") {
        const old = link.timers.get(e.timer);
        if (old) this.#ctx.cancelTimer(old);
        link.timers.set(
          e.timer,
          this.#ctx.setTimer(e.ms, { type: "ppp_timer", session: incoming, timer: e.timer }),
        );
      } else if (e.type === "cancel_timer") {
        const old = link.timers.get(e.timer);
        if (old) this.#ctx.cancelTimer(old);
        link.timers.delete(e.timer);
      } else if (e.type === "authenticated") {
        this.#endPpp(incoming);
        // The client goes on to IPCP at once: hold its first frames for whoever takes the call.
        this.#o.early?.set(incoming, []);
        log.info("call {tunnelId}/{sessionId}: PPP authenticated {user}", {
          tunnelId: incoming.tunnel.tunnelId,
          sessionId: incoming.sessionId,
          user: e.user,
        });
        this.#decide(incoming, { ...this.#facts(incoming), user: e.user }, e.proxy ?? {});
        this.#releaseEarly(incoming);
        return;
      } else if (e.type === "failed" || e.type === "closed") {
        this.#endPpp(incoming);
        this.#o.stats.rejected++;
        this.#countReject(CdnResult.GeneralError);
        incoming.disconnect({
          resultCode: CdnResult.GeneralError,
          errorCode: 0,
          errorMessage: `PPP authentication failed${e.type === "failed" ? `: ${e.reason}` : ""}`,
        });
        return;
      }
    }
  }

  #endPpp(incoming: SessionHandle): void {
    const link = this.#ppp.get(incoming);
    if (link === undefined) return;
    for (const t of link.timers.values()) this.#ctx.cancelTimer(t);
    this.#ppp.delete(incoming);
    this.#o.authenticating?.delete(incoming);
  }

  /** Tries the next candidate member for a call, or fails it toward the LAC. */
  #placeNext(call: Call): void {
    const upstream = call.upstream!;
    const now = this.#ctx.now();
    const node = this.#o.node();
    for (const member of this.#pool.candidates(upstream, now)) {
      if (call.tried.includes(member.key)) continue;
      call.tried.push(member.key);
      let tunnel = this.#pool.tunnelWithRoom(member, upstream.sessionsPerTunnel);
      if (tunnel === undefined) {
        const opened = node.openTunnel(member.address, {
          hostname: member.hostname,
          secret: member.secret === undefined ? undefined : new TextEncoder().encode(member.secret),
          hideAvps: member.hideAvps,
          helloIntervalMs: member.helloInterval * 1000,
        });
        if (!opened.ok) {
          log.warn("cannot open a tunnel to {member}: {error}", {
            member: member.key,
            error: opened.error,
          });
          continue;
        }
        tunnel = this.#pool.addTunnel(member, opened.value, now);
      }
      const fields: AvpFields = {};
      for (const key of COPIED) {
        const value = call.incoming.call[key];
        if (value !== undefined) (fields as Record<string, unknown>)[key] = value;
      }
      Object.assign(fields, call.proxy);
      const extra = [hopCountAvp(call.hops)];
      if (!node.placeCall(tunnel.tunnelId, fields, { context: call.id, extra })) continue;
      this.#pool.attach(tunnel);
      call.tunnel = tunnel;
      call.phase = "placing";
      return;
    }
    this.#fail(call);
  }

  #fail(call: Call): void {
    this.#o.stats.failed++;
    const last = call.lastFailure?.result;
    // The LAC learns the last upstream's answer; without one, a temporary lack of facilities.
    const result = last ??
      {
        resultCode: CdnResult.NoFacilitiesTemporary,
        errorCode: 0,
        errorMessage: "no upstream available",
      };
    log.warn("call of {user}: every member of {upstream} failed; CDN {result}", {
      user: call.incoming.call.proxyAuthenName,
      upstream: call.upstream?.name,
      result: result.resultCode,
    });
    call.phase = "closing";
    this.#countReject(result.resultCode);
    if (!call.incomingClosed) call.incoming.disconnect(result, call.lastFailure?.q931);
    this.#forgetIfDone(call);
  }

  #onUpstreamUp(outgoing: SessionHandle): void {
    const call = this.#calls.get(outgoing.context as number);
    if (call === undefined) {
      outgoing.disconnect({ resultCode: CdnResult.Administrative });
      return;
    }
    call.outgoing = outgoing;
    if (call.phase === "closing" || call.incomingClosed) {
      // The LAC's leg ended while this one was being set up: carry its CDN on.
      const why = call.incomingReason;
      outgoing.disconnect(why?.result ?? { resultCode: CdnResult.LostCarrier }, why?.q931);
      return;
    }
    const forwarding = this.#o.node().forwarding;
    const a = forwarding.get(call.incoming.tunnel.tunnelId, call.incoming.sessionId);
    const b = forwarding.get(outgoing.tunnel.tunnelId, outgoing.sessionId);
    if (a === undefined || b === undefined) {
      // A leg ended just as the upstream one came up: its session actor has dropped its entry and
      // its "closed" event is behind this one in the mailbox. That event carries its CDN (with
      // its Result Code) to the other leg, which is now known.
      call.phase = "closing";
      return;
    }
    a.forward = b;
    b.forward = a;
    call.phase = "switched";
    // The upstream ICCN carried the proxy AVPs on: neither the LAC's leg nor the record needs them.
    call.incoming.forgetProxyAvps();
    call.proxy = NO_FIELDS;
    // What the remote system sent while the upstream leg was being set up goes on now, in order.
    const held = this.#o.early?.get(call.incoming);
    if (held !== undefined) {
      this.#o.early!.delete(call.incoming);
      for (const frame of held) outgoing.sendFrame(frame);
    }
    this.#o.stats.switched++;
    log.info(
      "call of {user} switched by rule {rule}: {lac} {inTunnel}/{inSession} <-> {member} {outTunnel}/{outSession}",
      {
        user: call.user ?? call.incoming.call.proxyAuthenName,
        rule: call.rule,
        lac: call.incoming.tunnel.peerHostName,
        inTunnel: call.incoming.tunnel.tunnelId,
        inSession: call.incoming.sessionId,
        member: call.tunnel?.member.key,
        outTunnel: outgoing.tunnel.tunnelId,
        outSession: outgoing.sessionId,
      },
    );
  }

  #onIncomingClosed(incoming: SessionHandle, reason: CloseReason): void {
    this.#endPpp(incoming);
    this.#o.early?.delete(incoming);
    this.#o.authenticating?.delete(incoming);
    this.#byIncoming.get(incoming)?.termination?.link.abandon();
    if (this.#pending.delete(incoming)) this.#o.stats.pending = this.#pending.size;
    const call = this.#byIncoming.get(incoming);
    if (call === undefined) return;
    call.incomingClosed = true;
    call.incomingReason = reason;
    if (call.outgoing !== null && !call.outgoingClosed) {
      call.outgoing.disconnect(reason.result, reason.q931);
    }
    call.phase = "closing";
    this.#forgetIfDone(call);
  }

  #onUpstreamClosed(outgoing: SessionHandle, reason: CloseReason): void {
    const call = this.#calls.get(outgoing.context as number);
    if (call === undefined) return;
    call.outgoingClosed = true;
    if (call.tunnel) this.#pool.detach(call.tunnel, this.#ctx.now());
    if (call.phase === "placing" && call.outgoing === null) {
      // Setup failed upstream. A lack of facilities, or a dead peer, moves on to the next member.
      const code = reason.result.resultCode;
      const failover = reason.by === "transport" || code === CdnResult.NoFacilitiesTemporary ||
        code === CdnResult.NoFacilitiesPermanent;
      call.lastFailure = reason;
      if (failover && !call.incomingClosed) {
        if (call.tunnel) this.#pool.markDown(call.tunnel.member, this.#ctx.now());
        this.#o.stats.failovers++;
        call.tunnel = null;
        call.outgoingClosed = false;
        this.#placeNext(call);
        return;
      }
      call.phase = "closing";
      if (!call.incomingClosed) call.incoming.disconnect(reason.result, reason.q931);
      this.#forgetIfDone(call);
      return;
    }
    call.phase = "closing";
    if (!call.incomingClosed) call.incoming.disconnect(reason.result, reason.q931);
    this.#forgetIfDone(call);
  }

  #onNotPlaced(context: unknown, reason: CloseReason): void {
    const call = this.#calls.get(context as number);
    if (call === undefined) return;
    if (call.tunnel) {
      this.#pool.detach(call.tunnel, this.#ctx.now());
      this.#pool.markDown(call.tunnel.member, this.#ctx.now());
    }
    call.tunnel = null;
    call.lastFailure = reason;
    if (call.incomingClosed) return this.#forget(call);
    this.#o.stats.failovers++;
    this.#placeNext(call);
  }

  #onTunnelDown(tunnel: TunnelInfo, reason: CloseReason): void {
    const t = this.#pool.tunnel(tunnel.tunnelId);
    if (t === undefined) return;
    if (!reason.wasEstablished) {
      log.warn("tunnel setup to {member} failed: {why}", {
        member: t.member.key,
        why: reason.result.errorMessage ?? reason.result.resultCode,
      });
      this.#pool.markDown(t.member, this.#ctx.now());
    }
    this.#pool.removeTunnel(tunnel.tunnelId);
  }

  #onLinkEvent(
    session: SessionHandle,
    event: { wanError?: CallErrorsValue; accm?: AccmValue },
  ): void {
    const call = session.tunnel.initiator
      ? this.#calls.get(session.context as number)
      : this.#byIncoming.get(session);
    if (call === undefined || call.phase !== "switched") return;
    const other = session.tunnel.initiator ? call.incoming : call.outgoing;
    if (other === null) return;
    if (event.wanError) other.wanError(event.wanError);
    if (event.accm) other.setLinkInfo(event.accm);
  }

  /** CDN result 3 (administrative) on both legs. */
  #clear(call: Call): void {
    call.phase = "closing";
    const result = { resultCode: CdnResult.Administrative };
    if (!call.incomingClosed) call.incoming.disconnect(result);
    if (call.outgoing !== null && !call.outgoingClosed) call.outgoing.disconnect(result);
  }

  #countReject(resultCode: number): void {
    this.#rejects[resultCode] = (this.#rejects[resultCode] ?? 0) + 1;
  }

  #leg(s: SessionHandle): LegView {
    const e: DataEntry | undefined = this.#o.node().forwarding.get(s.tunnel.tunnelId, s.sessionId);
    return {
      tunnelId: s.tunnel.tunnelId,
      sessionId: s.sessionId,
      peer: endpointKey(s.tunnel.peer),
      peerHostName: s.tunnel.peerHostName,
      rxFrames: e?.rxFrames ?? 0,
      txFrames: e?.txFrames ?? 0,
      rxBytes: e?.rxBytes ?? 0,
      txBytes: e?.txBytes ?? 0,
    };
  }

  #views(): SwitchViews {
    const now = this.#ctx.now();
    const sessions: SessionView[] = [...this.#calls.values()].map((call) => ({
      id: call.id,
      state: stateOf(call),
      user: call.user ?? call.incoming.call.proxyAuthenName ?? null,
      calledNumber: call.incoming.call.calledNumber ?? null,
      callingNumber: call.incoming.call.callingNumber ?? null,
      rule: call.rule,
      upstream: call.upstream?.name ?? null,
      member: call.tunnel?.member.key ?? null,
      policyVersion: call.policyVersion,
      ageMs: now - call.startedAt,
      incoming: this.#leg(call.incoming),
      outgoing: call.outgoing === null ? null : this.#leg(call.outgoing),
      ...(call.termination === null ? {} : {
        terminate: {
          target: call.termination.target.name,
          address: call.termination.link.address ?? null,
          ...call.termination.link.counters,
        },
      }),
    }));
    const upstreamTunnels = new Map(
      this.#pool.allTunnels().map((
        t,
      ) => [t.tunnelId, {
        upstream: t.member.upstream,
        member: t.member.key,
        draining: t.draining,
      }]),
    );
    return {
      sessions,
      upstreamTunnels,
      draining: this.#draining,
      rejectsByResultCode: { ...this.#rejects },
    };
  }

  #summary(): SwitchSummary {
    const byState = new Map<SessionView["state"], Map<string, number>>();
    for (const call of this.#calls.values()) {
      const state = stateOf(call);
      const upstream = call.upstream?.name ??
        (call.termination === null ? "" : `terminate:${call.termination.target.name}`);
      let counts = byState.get(state);
      if (counts === undefined) byState.set(state, counts = new Map());
      counts.set(upstream, (counts.get(upstream) ?? 0) + 1);
    }
    return {
      counts: [...byState].flatMap(([state, counts]) =>
        [...counts].map(([upstream, count]) => ({ state, upstream, count }))
      ),
      draining: this.#draining,
      rejectsByResultCode: { ...this.#rejects },
    };
  }

  #forgetIfDone(call: Call): void {
    const outgoingDone = call.outgoing === null
      ? call.tunnel === null || call.outgoingClosed
      : call.outgoingClosed;
    if (call.incomingClosed && outgoingDone) this.#forget(call);
  }

  #forget(call: Call): void {
    this.#o.early?.delete(call.incoming);
    const t = call.termination;
    if (t?.tun && t.link.address !== undefined) t.tun.detach(t.link.address, t.link);
    if (!this.#calls.delete(call.id)) return;
    this.#byIncoming.delete(call.incoming);
    this.#o.stats.active--;
  }

  #closeIdleTunnels(): void {
    const node = this.#o.node();
    for (const t of this.#pool.idleTunnels(this.#ctx.now() - this.#idleMs)) {
      node.closeTunnel(t.tunnelId);
      this.#pool.removeTunnel(t.tunnelId);
    }
  }
}

/** Switch messages that may be refused when its mailbox is full (see `overflow`). */
const REFUSABLE: ReadonlySet<SwitchMsg["type"]> = new Set([
  "ppp_frame",
  "link_event",
  "views",
  "summary",
  "disconnect_call",
]);

/** A call record's `proxy` once used. */
const NO_FIELDS: AvpFields = Object.freeze({});

/** The state a call is reported in (API and metrics). */
function stateOf(call: Call): SessionView["state"] {
  return call.phase === "switched" || call.phase === "terminating" ||
      call.phase === "terminated" || call.phase === "closing"
    ? call.phase
    : "placing";
}
