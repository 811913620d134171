/**
 * One PPP link driven through the phases of RFC 1661 §3.2 — Dead, Establish
 * (LCP), Authenticate (PAP or CHAP-MD5), Network (IPCP), Open, Terminate —
 * by composing the pure machines of `lcp.ts`, `pap.ts`, `chap.ts` and
 * `ipcp.ts`. Two roles:
 *
 * - `server`, what an LNS or the tunnel switch runs toward a remote system:
 *   LCP asks for an Authentication-Protocol, the authenticator checks the
 *   user, then IPCP assigns an address from a pool and names DNS servers.
 *   With `authOnly` it stops after authentication and hands the call on: the
 *   `authenticated` effect then carries the proxy LCP and proxy
 *   authentication AVPs of RFC 2661 §4.4.5 for the ICCN.
 * - `client`, what `lts lac --client-initiated` runs: LCP, the PAP or CHAP
 *   peer, then IPCP as a client; `opened` carries the address and DNS it got.
 *
 * {@link stepEngine} is pure apart from the callbacks in the config
 * (Magic-Numbers, Challenge randomness, user checks, and the address pool).
 * The pool is the one thing the engine changes outside its state: it calls
 * `pool.allocate()` when IPCP first needs the peer's address and
 * `pool.release(address)` once, when the link fails or closes; the caller
 * does not release the address itself.
 *
 * Frames in and out are PPP frames as L2TP carries them (RFC 2661 §1): maybe
 * `ff 03`, then the Protocol field, then the Information field. Each
 * sub-machine has one named timer ({@link EngineTimer}); the caller arms,
 * replaces and cancels them as the effects say and feeds their expiry back.
 *
 * Every run ends with exactly one `closed`, after which the state takes no
 * more input. Before it comes either the outcome (`opened`, or
 * `authenticated` with `authOnly`) or one `failed` with a reason; a `close`
 * input ends the link without `failed`.
 *
 * @example
 * ```ts
 * import { createEngine, type EngineEffect, type EngineState, stepEngine } from "./engine.ts";
 * import { IpPool } from "./ip_pool.ts";
 * import { LocalUsers } from "./users.ts";
 *
 * const pool = new IpPool({ first: 0x0a000001, last: 0x0a000001 });
 * let server = createEngine({
 *   role: "server",
 *   auth: "pap",
 *   users: new LocalUsers([{ name: "alice", password: "pw" }]),
 *   localAddress: "192.0.2.1",
 *   pool,
 *   magic: () => 0x11111111,
 * });
 * let client = createEngine({ role: "client", name: "alice", password: "pw", magic: () => 0x22222222 });
 * const wire: [0 | 1, Uint8Array][] = [];
 * const seen: EngineEffect[] = [];
 * const feed = (side: 0 | 1, input: Parameters<typeof stepEngine>[1]) => {
 *   const r = stepEngine(side === 0 ? server : client, input);
 *   if (side === 0) server = r.state;
 *   else client = r.state;
 *   for (const e of r.effects) {
 *     if (e.type === "send") wire.push([side === 0 ? 1 : 0, e.frame]);
 *     if (side === 1) seen.push(e);
 *   }
 * };
 * feed(0, { type: "start", now: 0 });
 * feed(1, { type: "start", now: 0 });
 * while (wire.length > 0) {
 *   const [to, frame] = wire.shift()!;
 *   feed(to, { type: "frame", frame, now: 0 });
 * }
 * const opened = seen.find((e) => e.type === "opened");
 * if (opened?.type !== "opened" || opened.address !== "10.0.0.1") throw new Error();
 * ```
 *
 * @module
 */

import {
  ControlCode,
  decodeControlPacket,
  decodeFrame,
  decodeOptions,
  encodeFrame,
  type EncodeFrameOptions,
  PPP_IP,
  PPP_IPCP,
  PPP_IPV6CP,
  PPP_LCP,
} from "./frame.ts";
import {
  type NegotiationEffect,
  type NegotiationInput,
  type NegotiationTimers,
  transition,
} from "./fsm.ts";
import {
  type AuthProtocol,
  createLcp,
  echoRequestPacket,
  lcpAgreement,
  type LcpModel,
  protocolReject,
  seedFromProxy,
} from "./lcp.ts";
import { createIpcp, ipcpAgreement, type IpcpModel, type Ipv4, ipv6cpReject } from "./ipcp.ts";
import {
  type AuthEffect,
  type AuthEvent,
  initPapAuthenticator,
  initPapPeer,
  type PapAuthenticatorState,
  type PapPeerState,
  proxyFieldsFromPap,
  stepPapAuthenticator,
  stepPapPeer,
} from "./pap.ts";
import {
  type ChapAuthenticatorState,
  type ChapPeerState,
  initChapAuthenticator,
  initChapPeer,
  proxyFieldsFromChap,
  stepChapAuthenticator,
  stepChapPeer,
} from "./chap.ts";
import { PPP_CHAP, PPP_PAP } from "./proxy.ts";
import type { AvpFields } from "../transport/message.ts";

/** The link phases (RFC 1661 §3.2), with Open for "IPCP is Opened". */
export const PHASES = [
  "dead",
  "establish",
  "authenticate",
  "network",
  "open",
  "terminate",
] as const;
/** A link phase (RFC 1661 §3.2). */
export type Phase = typeof PHASES[number];

/** The engine's timers, one per sub-machine. */
export const ENGINE_TIMERS = ["lcp", "auth", "ipcp", "echo"] as const;
/** A timer name in `arm_timer`, `cancel_timer` and `timeout`. */
export type EngineTimer = typeof ENGINE_TIMERS[number];

/** LCP Echo keepalive with dead-peer detection (RFC 1661 §5.8). */
export interface EchoKeepalive {
  /** Time between Echo-Requests while LCP is Opened. */
  intervalMs: number;
  /** Echo-Requests left unanswered before the link is terminated. */
  maxMissed: number;
}

/** Settings both roles share. */
export interface EngineCommonConfig {
  /** Source of Magic-Numbers (RFC 1661 §6.4); default `crypto.getRandomValues`. */
  magic?: () => number;
  /** Our MRU (RFC 1661 §6.1); default 1500. */
  mru?: number;
  /** Request and accept Protocol-Field-Compression (RFC 1661 §6.5); default false. */
  pfc?: boolean;
  /** Request and accept Address-and-Control-Field-Compression (RFC 1661 §6.6); default false. */
  acfc?: boolean;
  /** LCP Restart timer and counters (RFC 1661 §4.6). */
  lcpTimers?: Partial<NegotiationTimers>;
  /** IPCP Restart timer and counters (RFC 1661 §4.6). */
  ipcpTimers?: Partial<NegotiationTimers>;
  /** LCP Echo keepalive; off when absent. */
  echo?: EchoKeepalive;
  /**
   * PAP authenticator: wait for the Authenticate-Request; CHAP peer: wait
   * for a Challenge and then the Success. Default 30000 ms.
   */
  authTimeoutMs?: number;
}

/** Who may log in: `LocalUsers` from `users.ts` fits, as does a pair of functions. */
export interface EngineUsers {
  /** PAP: whether `user` may log in with `password`. */
  verify(user: string, password: string): boolean;
  /** CHAP: the secret of `user`, `undefined` when not listed. */
  secretFor(user: string): string | undefined;
  /** CHAP: accept names `secretFor` does not know (a users file with `accept_all`). */
  readonly acceptAll?: boolean;
}

/** Where a server's addresses come from: `IpPool` from `ip_pool.ts` fits. */
export interface AddressPool {
  /** A free address, now in use; `null` when exhausted. */
  allocate(): Ipv4 | null;
  /** Gives an address back; called once per address the engine allocated. */
  release(address: Ipv4): unknown;
}

/** Authentication of a server. */
export interface ServerAuthConfig extends EngineCommonConfig {
  role: "server";
  /** The protocol(s) to require, most wanted first (RFC 1661 §6.2). */
  auth: AuthProtocol | readonly AuthProtocol[];
  users: EngineUsers;
  /** Our Name in CHAP Challenges (RFC 1994 §4.1); default "lts". */
  name?: string;
  /** Random bytes for CHAP Challenge Values; default `crypto.getRandomValues`. */
  random?: (n: number) => Uint8Array;
  /**
   * Take over a link a LAC (or a tunnel switch) has already brought through
   * LCP and authentication, as an LNS may with proxy LCP and proxy
   * authentication (RFC 2661 §4.4.5): LCP starts Opened with the options of
   * the LAC's last CONFREQs, the user counts as authenticated (the caller
   * checked the proxy authentication AVPs), and IPCP starts at once. When the
   * proxy LCP does not decode, or names an authentication protocol `auth`
   * does not list, the engine negotiates LCP and authenticates afresh.
   */
  proxied?: { lastSent: Uint8Array; lastReceived: Uint8Array; user: string };
}

/**
 * A server: stops after authentication with `authOnly: true`, otherwise
 * goes on to IPCP with an address from `pool`.
 */
export type ServerEngineConfig =
  | ServerAuthConfig & { authOnly: true }
  | ServerAuthConfig & {
    authOnly?: false;
    /** Our own IPCP address (RFC 1332 §3.3). */
    localAddress: Ipv4;
    pool: AddressPool;
    /** Name servers offered to the client (RFC 1877). */
    dns?: { primary?: Ipv4; secondary?: Ipv4 };
  };

/** A client: authenticates with a name and password, then takes an address. */
export interface ClientEngineConfig extends EngineCommonConfig {
  role: "client";
  /** PAP Peer-ID and CHAP Name; at most 255 bytes of UTF-8. */
  name: string;
  /** PAP password and CHAP secret; not empty, at most 255 bytes of UTF-8. */
  password: string;
  /** What we agree to authenticate with, most wanted first; default CHAP then PAP. */
  acceptAuth?: readonly AuthProtocol[];
  /** Ask for primary and secondary DNS (RFC 1877); default true. */
  requestDns?: boolean;
}

/** How an engine runs. */
export type EngineConfig = ServerEngineConfig | ClientEngineConfig;

/** The DNS servers of an `opened` effect. */
export interface DnsServers {
  primary?: Ipv4;
  secondary?: Ipv4;
}

/** What the caller feeds the engine; `now` is in ms on any epoch. */
export type EngineInput =
  /** The L2TP session is up: LCP starts (RFC 1661 §3.2 Dead → Establish). */
  | { type: "start"; now: number }
  /** A PPP frame from the peer. */
  | { type: "frame"; frame: Uint8Array; now: number }
  /** A timer armed by an `arm_timer` effect expired. */
  | { type: "timeout"; timer: EngineTimer; now: number }
  /** Close the link: LCP Terminate-Request, then `closed`. */
  | { type: "close"; now: number };

/** What the caller does after a {@link stepEngine}. */
export type EngineEffect =
  /** Send a PPP frame, framed per the negotiated ACFC and PFC (LCP never compressed). */
  | { type: "send"; frame: Uint8Array }
  /** (Re)start `timer`, replacing a running one of that name. */
  | { type: "arm_timer"; timer: EngineTimer; ms: number }
  | { type: "cancel_timer"; timer: EngineTimer }
  /** The link entered a new phase. */
  | { type: "phase"; phase: Phase }
  /**
   * Server: the peer authenticated as `user`; with `authOnly`, `proxy` holds
   * the ICCN proxy LCP and proxy authentication AVPs (RFC 2661 §4.4.5).
   * Client: the authenticator accepted us (`user` is our name).
   */
  | { type: "authenticated"; user: string; proxy?: AvpFields }
  /**
   * IPCP is Opened. `address` is the client's address: the one it got
   * (client) or the one assigned to the peer (server); `dns` what the client
   * got (client only).
   */
  | { type: "opened"; address?: Ipv4; dns?: DnsServers }
  /** The link cannot reach its outcome; a Terminate and `closed` follow. */
  | { type: "failed"; reason: string }
  /** The link is Dead: no timer runs and no more input is taken. */
  | { type: "closed" };

/** The result of {@link stepEngine}. */
export interface EngineStep {
  state: EngineState;
  effects: EngineEffect[];
}

/** The authentication machine of the running Authenticate phase. */
export type AuthMachine =
  | { kind: "pap-authenticator"; state: PapAuthenticatorState }
  | { kind: "chap-authenticator"; state: ChapAuthenticatorState }
  | { kind: "pap-peer"; state: PapPeerState }
  | { kind: "chap-peer"; state: ChapPeerState };

/** The CONFREQ bodies proxy LCP forwards (RFC 2661 §4.4.5), from the first option on. */
export interface ProxyLcp {
  /** The first Configure-Request received. */
  initialReceived: Uint8Array | null;
  /** The last Configure-Request received and acknowledged. */
  lastReceived: Uint8Array | null;
  /** The last Configure-Request we sent, the one acknowledged. */
  lastSent: Uint8Array | null;
}

/** The whole state of one link; a value, replaced by each {@link stepEngine}. */
export interface EngineState {
  readonly config: EngineConfig;
  readonly phase: Phase;
  readonly started: boolean;
  /** The link went Dead after starting (or was closed before): input is ignored. */
  readonly finished: boolean;
  readonly lcp: LcpModel;
  /** `null` for an `authOnly` server. */
  readonly ipcp: IpcpModel | null;
  /** `null` outside the Authenticate phase and later phases of this LCP session. */
  readonly auth: AuthMachine | null;
  /** When the `auth` timer expires, or `null`. */
  readonly authDeadline: number | null;
  /** Authentication is done (or not needed) for the current LCP session. */
  readonly authDone: boolean;
  /** The authenticated user (server) or our name (client). */
  readonly user: string | null;
  /** `authOnly` server after authentication: NCPs are the LNS's. */
  readonly handedOff: boolean;
  /** What we may apply to frames we send (RFC 1661 §6.5, §6.6). */
  readonly compression: EncodeFrameOptions;
  readonly echo: {
    readonly deadline: number | null;
    /** Echo-Requests sent since the last Echo-Reply. */
    readonly outstanding: number;
    readonly identifier: number;
  };
  readonly proxyLcp: ProxyLcp;
  /** LCP reached Opened at least once. */
  readonly lcpWasOpened: boolean;
  /** The outcome was reached: `opened`, or `authenticated` with `authOnly`. */
  readonly succeeded: boolean;
  readonly failure: { readonly reason: string; readonly reported: boolean } | null;
  readonly closeRequested: boolean;
  /** The pool address, if any, was given back. */
  readonly addressReleased: boolean;
}

type Draft = { -readonly [K in keyof EngineState]: EngineState[K] };

/** One step's working set: the state being built, its effects, deferred work. */
interface Step {
  s: Draft;
  fx: EngineEffect[];
  now: number;
  /**
   * Work a sub-machine's effect starts, run once that machine's effect list
   * is through, so a machine's own sends and timers keep their order.
   */
  later: (() => void)[];
}

const defaultRandom = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const defaultMagic = () => crypto.getRandomValues(new Uint32Array(1))[0];

/**
 * A new engine in the Dead phase; feed it `start` when the session is up.
 *
 * @throws {RangeError} when the client's name or password does not fit PAP
 *   or CHAP, when `auth` lists no protocol, or the echo settings are not positive
 * @example
 * ```ts
 * import { createEngine } from "./engine.ts";
 * const e = createEngine({ role: "client", name: "alice", password: "pw" });
 * if (e.phase !== "dead" || e.ipcp === null) throw new Error();
 * ```
 */
export function createEngine(config: EngineConfig): EngineState {
  const magic = config.magic ?? defaultMagic;
  if (config.echo && !(config.echo.intervalMs > 0 && config.echo.maxMissed >= 1)) {
    throw new RangeError("echo intervalMs must be > 0 and maxMissed >= 1");
  }
  let lcp: LcpModel;
  let ipcp: IpcpModel | null;
  if (config.role === "server") {
    const requireAuth = typeof config.auth === "string" ? [config.auth] : [...config.auth];
    if (requireAuth.length === 0) throw new RangeError("a server must require authentication");
    lcp = createLcp({ ...lcpCommon(config), magic, requireAuth });
    ipcp = config.authOnly === true ? null : createIpcp({
      role: "server",
      localAddress: config.localAddress,
      allocate: () => config.pool.allocate(),
      dns: config.dns,
      timers: config.ipcpTimers,
    });
  } else {
    // Fail here rather than mid-link on a name or password PAP or CHAP cannot carry.
    initPapPeer({ name: config.name, password: config.password });
    initChapPeer({ name: config.name, secret: config.password });
    const acceptAuth = config.acceptAuth ?? ["chap", "pap"];
    lcp = createLcp({ ...lcpCommon(config), magic, acceptAuth });
    ipcp = createIpcp({
      role: "client",
      requestDns: config.requestDns ?? true,
      timers: config.ipcpTimers,
    });
  }
  return {
    config,
    phase: "dead",
    started: false,
    finished: false,
    lcp,
    ipcp,
    auth: null,
    authDeadline: null,
    authDone: false,
    user: null,
    handedOff: false,
    compression: {},
    echo: { deadline: null, outstanding: 0, identifier: 0 },
    proxyLcp: { initialReceived: null, lastReceived: null, lastSent: null },
    lcpWasOpened: false,
    succeeded: false,
    failure: null,
    closeRequested: false,
    addressReleased: false,
  };
}

function lcpCommon(config: EngineCommonConfig) {
  return { mru: config.mru, pfc: config.pfc, acfc: config.acfc, timers: config.lcpTimers };
}

/**
 * Feeds one input to the engine. Pure but for the config's callbacks (see
 * the module doc); the state passed in is not changed. Input after the link
 * went Dead is ignored.
 *
 * @example
 * ```ts
 * import { createEngine, stepEngine } from "./engine.ts";
 * const e = createEngine({ role: "client", name: "alice", password: "pw", magic: () => 7 });
 * const { state, effects } = stepEngine(e, { type: "start", now: 0 });
 * if (state.phase !== "establish" || !effects.some((x) => x.type === "send")) throw new Error();
 * ```
 */
export function stepEngine(state: EngineState, input: EngineInput): EngineStep {
  if (state.finished) return { state, effects: [] };
  const st: Step = { s: { ...state }, fx: [], now: input.now, later: [] };
  switch (input.type) {
    case "start":
      start(st);
      break;
    case "frame":
      receiveFrame(st, input.frame);
      break;
    case "timeout":
      timeout(st, input.timer);
      break;
    case "close":
      close(st);
      break;
    default: {
      const never: never = input;
      throw new TypeError(`unknown input ${JSON.stringify(never)}`);
    }
  }
  settle(st);
  return { state: st.s, effects: st.fx };
}

function settle(st: Step): void {
  while (st.later.length > 0 && !st.s.finished) st.later.shift()!();
  syncPhase(st);
}

function start(st: Step): void {
  if (st.s.started) return;
  st.s.started = true;
  if (startProxied(st)) return;
  lcpInput(st, { type: "open" });
  lcpInput(st, { type: "up" });
}

/** RFC 2661 §4.4.5: starts from proxy LCP and authentication when the config has them and they fit. */
function startProxied(st: Step): boolean {
  const { s } = st;
  const { config } = s;
  if (config.role !== "server" || config.authOnly === true || config.proxied === undefined) {
    return false;
  }
  const lcp = seedFromProxy(s.lcp, config.proxied);
  if (lcp === null) return false;
  const agreement = lcpAgreement(lcp);
  // The LAC must have had the peer authenticate with a protocol this server requires.
  if (agreement === null || agreement.authenticatePeerWith === null) return false;
  s.lcp = lcp;
  s.compression = { acfc: agreement.acfc, pfc: agreement.pfc };
  s.lcpWasOpened = true;
  s.proxyLcp = {
    initialReceived: null,
    lastReceived: config.proxied.lastReceived.slice(),
    lastSent: config.proxied.lastSent.slice(),
  };
  if (config.echo !== undefined) armEcho(st, config.echo.intervalMs);
  s.authDone = true;
  s.user = config.proxied.user;
  syncPhase(st);
  st.fx.push({ type: "authenticated", user: config.proxied.user });
  networkUp(st);
  return true;
}

function close(st: Step): void {
  const { s } = st;
  if (!s.started) {
    s.started = true;
    s.closeRequested = true;
    finish(st);
    return;
  }
  s.closeRequested = true;
  releaseAddress(st);
  lcpInput(st, { type: "close", reason: "link closed" });
}

function timeout(st: Step, timer: EngineTimer): void {
  const { s, now } = st;
  switch (timer) {
    case "lcp":
      return lcpInput(st, { type: "timeout" });
    case "ipcp":
      if (s.ipcp !== null) ipcpInput(st, { type: "timeout" });
      return;
    case "auth":
      if (s.auth === null || s.authDeadline === null) return;
      // Early (a host clock a hair ahead of the timer): wait out the rest rather than lose it.
      if (now < s.authDeadline) {
        st.fx.push({ type: "arm_timer", timer: "auth", ms: s.authDeadline - now });
        return;
      }
      s.authDeadline = null;
      return authInput(st, { type: "timeout", now });
    case "echo":
      if (s.echo.deadline === null) return;
      if (now < s.echo.deadline) {
        st.fx.push({ type: "arm_timer", timer: "echo", ms: s.echo.deadline - now });
        return;
      }
      s.echo = { ...s.echo, deadline: null };
      return echoTick(st);
    default:
      // A name the engine never armed.
      return;
  }
}

function receiveFrame(st: Step, bytes: Uint8Array): void {
  const { s } = st;
  if (!s.started) return;
  const decoded = decodeFrame(bytes);
  if (!decoded.ok) return;
  const { protocol, payload } = decoded.value;
  if (protocol === PPP_LCP) {
    noteConfigureRequest(s, payload);
    return lcpInput(st, { type: "receive", packet: payload });
  }
  // §3.4: non-LCP packets received before LCP is Opened are silently discarded.
  if (s.lcp.state !== "Opened") return;
  if (protocol === PPP_PAP || protocol === PPP_CHAP) {
    if (s.auth !== null && authProtocol(s.auth) === protocol) {
      authInput(st, { type: "receive", packet: payload, now: st.now });
    }
    return;
  }
  // §3.5: only LCP and authentication packets are allowed in the Authenticate phase;
  // after an authOnly hand-off the NCPs and data are the LNS's.
  if (!s.authDone || s.handedOff) return;
  if (protocol === PPP_IPCP && s.ipcp !== null) {
    return ipcpInput(st, { type: "receive", packet: payload });
  }
  // IPv4 datagrams are the caller's data plane; before IPCP is Opened they
  // are discarded (RFC 1661 §3.5), never rejected: IPCP is supported.
  if (protocol === PPP_IP) return;
  // §5.7: any other protocol is unsupported: Protocol-Reject, IPv6CP included (RFC 5072 §3).
  const rejected = protocol === PPP_IPV6CP
    ? ipv6cpReject(s.lcp, payload)
    : protocolReject(s.lcp, protocol, payload);
  if (rejected === null) return;
  s.lcp = rejected.model;
  st.fx.push({ type: "send", frame: rejected.frame });
}

/** Records the first well-formed Configure-Request for proxy LCP. */
function noteConfigureRequest(s: Draft, payload: Uint8Array): void {
  if (s.proxyLcp.initialReceived !== null) return;
  const packet = decodeControlPacket(payload);
  if (!packet.ok || packet.value.code !== ControlCode.ConfigureRequest) return;
  if (!decodeOptions(packet.value.data).ok) return;
  s.proxyLcp = { ...s.proxyLcp, initialReceived: packet.value.data.slice() };
}

// ---------------------------------------------------------------------------
// LCP.

function lcpInput(st: Step, input: NegotiationInput): void {
  const { s } = st;
  const r = transition(s.lcp, input, st.now);
  s.lcp = r.model;
  for (const e of r.effects) onLcpEffect(st, e);
  // After start, LCP in Closed or Stopped (§4.2) is a Dead link: this engine drives one life.
  if (s.lcp.state === "Closed" || s.lcp.state === "Stopped") finish(st);
  else syncPhase(st);
}

function onLcpEffect(st: Step, e: NegotiationEffect): void {
  const { s, fx } = st;
  switch (e.type) {
    case "send": {
      fx.push({ type: "send", frame: encodeFrame(e.protocol, e.packet) });
      // sca echoes the Configure-Request it acknowledges: the last received for proxy LCP.
      const packet = decodeControlPacket(e.packet);
      if (packet.ok && packet.value.code === ControlCode.ConfigureAck) {
        s.proxyLcp = { ...s.proxyLcp, lastReceived: packet.value.data.slice() };
      }
      return;
    }
    case "arm_timer":
      fx.push({ type: "arm_timer", timer: "lcp", ms: e.ms });
      return;
    case "cancel_timer":
      fx.push({ type: "cancel_timer", timer: "lcp" });
      return;
    case "this_layer_up":
      st.later.push(() => lcpUp(st));
      return;
    case "this_layer_down":
      st.later.push(() => lcpDown(st));
      return;
    case "failed":
      return fail(st, e.reason);
    case "echo_reply":
      s.echo = { ...s.echo, outstanding: 0 };
      return;
    case "protocol_rejected":
      // §5.7: without IPCP or the authentication protocol, the link cannot do its job.
      if (
        (e.protocol === PPP_IPCP && s.ipcp !== null && !s.handedOff) ||
        (s.auth !== null && e.protocol === authProtocol(s.auth))
      ) {
        fail(st, `peer rejected protocol 0x${e.protocol.toString(16).padStart(4, "0")}`);
      }
      return;
    case "this_layer_started":
    case "this_layer_finished":
    case "discard":
    case "illegal_event":
      // Dead is read from the LCP state; discards and illegal events are not the caller's.
      return;
    default: {
      const never: never = e;
      throw new TypeError(`unknown LCP effect ${JSON.stringify(never)}`);
    }
  }
}

/** LCP reached Opened: §3.2 Establish → Authenticate (or Network). */
function lcpUp(st: Step): void {
  const { s, now } = st;
  const agreement = lcpAgreement(s.lcp);
  if (agreement === null) return;
  s.compression = { acfc: agreement.acfc, pfc: agreement.pfc };
  s.lcpWasOpened = true;
  s.proxyLcp = { ...s.proxyLcp, lastSent: s.lcp.lastRequest?.data.slice() ?? new Uint8Array(0) };
  const { config } = s;
  if (config.echo !== undefined) armEcho(st, config.echo.intervalMs);
  if (config.role === "server") {
    const auth = agreement.authenticatePeerWith;
    if (auth === null) return fail(st, "peer refuses to authenticate");
    s.auth = auth === "pap"
      ? {
        kind: "pap-authenticator",
        state: initPapAuthenticator({
          verify: (user, password) => config.users.verify(user, password),
          timeoutMs: config.authTimeoutMs,
        }),
      }
      : {
        kind: "chap-authenticator",
        state: initChapAuthenticator({
          name: config.name ?? "lts",
          random: config.random ?? defaultRandom,
          secretFor: (user) => config.users.secretFor(user),
          acceptUnknown: config.users.acceptAll ?? false,
        }),
      };
  } else {
    const auth = agreement.authenticateWith;
    if (auth === null) {
      // The peer asked for no authentication: straight to the Network phase (§3.5).
      s.authDone = true;
      s.user = config.name;
      return networkUp(st);
    }
    s.auth = auth === "pap"
      ? { kind: "pap-peer", state: initPapPeer({ name: config.name, password: config.password }) }
      : {
        kind: "chap-peer",
        state: initChapPeer({
          name: config.name,
          secret: config.password,
          timeoutMs: config.authTimeoutMs,
        }),
      };
  }
  syncPhase(st);
  authInput(st, { type: "start", now });
}

/** LCP left Opened (renegotiation or Terminate): the layers above go down (§3.2). */
function lcpDown(st: Step): void {
  const { s } = st;
  cancelAuthTimer(st);
  cancelEcho(st);
  s.auth = null;
  s.authDone = false;
  s.compression = {};
  if (s.ipcp !== null && !s.handedOff) ipcpInput(st, { type: "down" });
}

// ---------------------------------------------------------------------------
// Authentication.

function authProtocol(machine: AuthMachine): number {
  return machine.kind === "pap-authenticator" || machine.kind === "pap-peer" ? PPP_PAP : PPP_CHAP;
}

function stepAuth(
  machine: AuthMachine,
  event: AuthEvent,
): { machine: AuthMachine; effects: readonly AuthEffect[] } {
  switch (machine.kind) {
    case "pap-authenticator": {
      const r = stepPapAuthenticator(machine.state, event);
      return { machine: { kind: machine.kind, state: r.state }, effects: r.effects };
    }
    case "chap-authenticator": {
      const r = stepChapAuthenticator(machine.state, event);
      return { machine: { kind: machine.kind, state: r.state }, effects: r.effects };
    }
    case "pap-peer": {
      const r = stepPapPeer(machine.state, event);
      return { machine: { kind: machine.kind, state: r.state }, effects: r.effects };
    }
    case "chap-peer": {
      const r = stepChapPeer(machine.state, event);
      return { machine: { kind: machine.kind, state: r.state }, effects: r.effects };
    }
    default: {
      const never: never = machine;
      throw new TypeError(`unknown machine ${JSON.stringify(never)}`);
    }
  }
}

function authInput(st: Step, event: AuthEvent): void {
  const { s, fx, now } = st;
  if (s.auth === null) return;
  const r = stepAuth(s.auth, event);
  s.auth = r.machine;
  for (const e of r.effects) {
    switch (e.type) {
      case "send":
        fx.push({ type: "send", frame: encodeFrame(e.protocol, e.packet, s.compression) });
        break;
      case "arm_timer":
        s.authDeadline = now + e.ms;
        fx.push({ type: "arm_timer", timer: "auth", ms: e.ms });
        break;
      case "cancel_timer":
        cancelAuthTimer(st);
        break;
      case "authenticated": {
        const user = e.user;
        st.later.push(() => authenticated(st, user));
        break;
      }
      case "failed": {
        const why = e.reason === "timeout"
          ? "authentication timed out"
          : e.reason === "bad_credentials"
          ? "authentication failed: bad credentials"
          : `authentication rejected by the peer${e.message ? `: ${e.message}` : ""}`;
        fail(st, why);
        break;
      }
      default: {
        const never: never = e;
        throw new TypeError(`unknown auth effect ${JSON.stringify(never)}`);
      }
    }
  }
}

/** §3.5 Authenticate → Network; an `authOnly` server hands the call on instead. */
function authenticated(st: Step, user: string): void {
  const { s } = st;
  if (s.authDone || s.lcp.state !== "Opened") return;
  s.authDone = true;
  s.user = user;
  const { config } = s;
  if (config.role === "server" && config.authOnly === true) {
    s.handedOff = true;
    s.succeeded = true;
    // The LNS keeps the link alive from here on.
    cancelEcho(st);
    syncPhase(st);
    st.fx.push({ type: "authenticated", user, proxy: proxyFields(s) });
    return;
  }
  st.fx.push({ type: "authenticated", user });
  networkUp(st);
}

/** The ICCN proxy LCP and proxy authentication AVPs (RFC 2661 §4.4.5). */
function proxyFields(s: Draft): AvpFields {
  const empty = new Uint8Array(0);
  const fields: AvpFields = {
    initialReceivedLcpConfreq: s.proxyLcp.initialReceived ?? empty,
    lastReceivedLcpConfreq: s.proxyLcp.lastReceived ?? empty,
    lastSentLcpConfreq: s.proxyLcp.lastSent ?? empty,
  };
  const machine = s.auth;
  if (machine?.kind === "pap-authenticator" && machine.state.exchange) {
    Object.assign(fields, proxyFieldsFromPap(machine.state.exchange));
  } else if (machine?.kind === "chap-authenticator" && machine.state.exchange) {
    Object.assign(fields, proxyFieldsFromChap(machine.state.exchange));
  }
  return fields;
}

function cancelAuthTimer(st: Step): void {
  if (st.s.authDeadline === null) return;
  st.s.authDeadline = null;
  st.fx.push({ type: "cancel_timer", timer: "auth" });
}

// ---------------------------------------------------------------------------
// IPCP.

function networkUp(st: Step): void {
  const { s } = st;
  if (s.ipcp === null) return;
  if (s.ipcp.state === "Initial") ipcpInput(st, { type: "open" });
  ipcpInput(st, { type: "up" });
}

function ipcpInput(st: Step, input: NegotiationInput): void {
  const { s, fx } = st;
  if (s.ipcp === null) return;
  const r = transition(s.ipcp, input, st.now);
  s.ipcp = r.model;
  for (const e of r.effects) {
    switch (e.type) {
      case "send":
        fx.push({ type: "send", frame: encodeFrame(e.protocol, e.packet, s.compression) });
        break;
      case "arm_timer":
        fx.push({ type: "arm_timer", timer: "ipcp", ms: e.ms });
        break;
      case "cancel_timer":
        fx.push({ type: "cancel_timer", timer: "ipcp" });
        break;
      case "this_layer_up":
        st.later.push(() => ipcpUp(st));
        break;
      case "this_layer_finished":
        st.later.push(() => ipcpFinished(st));
        break;
      case "failed":
        fail(st, e.reason);
        break;
      case "this_layer_down":
      case "this_layer_started":
      case "discard":
      case "illegal_event":
      case "echo_reply":
      case "protocol_rejected":
        break;
      default: {
        const never: never = e;
        throw new TypeError(`unknown IPCP effect ${JSON.stringify(never)}`);
      }
    }
  }
  syncPhase(st);
}

function ipcpUp(st: Step): void {
  const { s } = st;
  const agreement = s.ipcp === null ? null : ipcpAgreement(s.ipcp);
  if (agreement === null) return;
  s.succeeded = true;
  syncPhase(st);
  if (s.config.role === "server") {
    const address = agreement.peerAddress ?? undefined;
    st.fx.push({ type: "opened", ...(address ? { address } : {}) });
    return;
  }
  const dns: DnsServers = {};
  if (agreement.primaryDns !== null) dns.primary = agreement.primaryDns;
  if (agreement.secondaryDns !== null) dns.secondary = agreement.secondaryDns;
  st.fx.push({
    type: "opened",
    ...(agreement.localAddress !== null ? { address: agreement.localAddress } : {}),
    ...(Object.keys(dns).length > 0 ? { dns } : {}),
  });
}

/** IPCP finished (tlf): without a network protocol the link has no use (as pppd does). */
function ipcpFinished(st: Step): void {
  const { s } = st;
  if (s.failure !== null || s.closeRequested) return;
  if (!s.succeeded) return fail(st, "IPCP negotiation did not converge");
  lcpInput(st, { type: "close", reason: "no network protocol running" });
}

// ---------------------------------------------------------------------------
// Echo keepalive.

function armEcho(st: Step, ms: number): void {
  st.s.echo = { ...st.s.echo, deadline: st.now + ms };
  st.fx.push({ type: "arm_timer", timer: "echo", ms });
}

function cancelEcho(st: Step): void {
  const { s } = st;
  s.echo = { ...s.echo, outstanding: 0 };
  if (s.echo.deadline === null) return;
  s.echo = { ...s.echo, deadline: null };
  st.fx.push({ type: "cancel_timer", timer: "echo" });
}

function echoTick(st: Step): void {
  const { s } = st;
  const echo = s.config.echo;
  if (echo === undefined || s.lcp.state !== "Opened" || s.handedOff) return;
  if (s.echo.outstanding >= echo.maxMissed) return fail(st, "peer not answering echo");
  const identifier = s.echo.identifier;
  st.fx.push({ type: "send", frame: encodeFrame(PPP_LCP, echoRequestPacket(s.lcp, identifier)) });
  s.echo = { ...s.echo, outstanding: s.echo.outstanding + 1, identifier: (identifier + 1) & 0xff };
  armEcho(st, echo.intervalMs);
}

// ---------------------------------------------------------------------------
// Ending.

/** Reports a failure once; LCP is closed (Terminate-Request sent), then `failed`. */
function fail(st: Step, reason: string): void {
  const { s } = st;
  if (s.failure !== null || s.finished) return;
  s.failure = { reason, reported: false };
  releaseAddress(st);
  st.later.push(() => {
    lcpInput(st, { type: "close", reason });
    reportFailure(st);
  });
}

function reportFailure(st: Step): void {
  const { s } = st;
  if (s.failure === null || s.failure.reported) return;
  s.failure = { ...s.failure, reported: true };
  st.fx.push({ type: "failed", reason: s.failure.reason });
}

function releaseAddress(st: Step): void {
  const { s } = st;
  if (s.addressReleased || s.config.role !== "server" || s.config.authOnly === true) return;
  const address = s.ipcp?.local.peerAddress ?? null;
  if (address === null) return;
  s.addressReleased = true;
  s.config.pool.release(address);
}

/** The link is Dead (§3.2): stop every timer, give the address back, say `closed`. */
function finish(st: Step): void {
  const { s, fx } = st;
  if (s.finished) return;
  cancelAuthTimer(st);
  cancelEcho(st);
  if (s.ipcp !== null && s.ipcp.timerDeadline !== null) {
    s.ipcp = { ...s.ipcp, timerDeadline: null };
    fx.push({ type: "cancel_timer", timer: "ipcp" });
  }
  releaseAddress(st);
  if (s.failure === null && !s.succeeded && !s.closeRequested) {
    const reason = s.lcpWasOpened ? "peer terminated the link" : "LCP negotiation did not converge";
    s.failure = { reason, reported: false };
  }
  reportFailure(st);
  s.finished = true;
  st.later.length = 0;
  syncPhase(st);
  fx.push({ type: "closed" });
}

function derivePhase(s: Draft): Phase {
  if (!s.started || s.finished) return "dead";
  switch (s.lcp.state) {
    case "Opened":
      break;
    case "Closing":
    case "Stopping":
      return "terminate";
    default:
      return "establish";
  }
  if (!s.authDone) return "authenticate";
  return !s.handedOff && s.ipcp?.state === "Opened" ? "open" : "network";
}

function syncPhase(st: Step): void {
  const phase = derivePhase(st.s);
  if (phase === st.s.phase) return;
  st.s.phase = phase;
  st.fx.push({ type: "phase", phase });
}
