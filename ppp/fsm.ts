/**
 * The PPP option negotiation automaton (RFC 1661 §4), shared by LCP and the
 * NCPs: the §4.1 state transition table as data, a pure {@link step} over it,
 * and a pure negotiation layer ({@link transition}) that turns inputs (Up,
 * Down, Open, Close, timeout, received packet) into effects (packets to
 * send, timer to arm or cancel, This-Layer-* signals). Time and I/O are the
 * caller's; what is specific to a protocol lives in an {@link OptionsPolicy}.
 *
 * @module
 */

import {
  ControlCode,
  type ControlPacket,
  decodeControlPacket,
  decodeOptions,
  encodeControlPacket,
  encodeOptions,
  type PppOption,
  sameOption,
} from "./frame.ts";

/** Automaton states (RFC 1661 §4.2), numbered 0–9 as in §4.1. */
export const STATES = [
  "Initial",
  "Starting",
  "Closed",
  "Stopped",
  "Closing",
  "Stopping",
  "Req-Sent",
  "Ack-Rcvd",
  "Ack-Sent",
  "Opened",
] as const;
/** An automaton state (RFC 1661 §4.2). */
export type State = typeof STATES[number];

/** Automaton events (RFC 1661 §4.3), in the §4.1 table's order. */
export const EVENTS = [
  "Up",
  "Down",
  "Open",
  "Close",
  "TO+",
  "TO-",
  "RCR+",
  "RCR-",
  "RCA",
  "RCN",
  "RTR",
  "RTA",
  "RUC",
  "RXJ+",
  "RXJ-",
  "RXR",
] as const;
/** An automaton event (RFC 1661 §4.3). */
export type FsmEvent = typeof EVENTS[number];

/** Automaton actions (RFC 1661 §4.4). */
export type Action =
  | "tlu"
  | "tld"
  | "tls"
  | "tlf"
  | "irc"
  | "zrc"
  | "scr"
  | "sca"
  | "scn"
  | "str"
  | "sta"
  | "scj"
  | "ser";

/** One cell of the §4.1 table: the actions, in order, and the next state. */
export interface Cell {
  next: State;
  actions: readonly Action[];
  /** §4.1 footnote: [p] passive option, [r] restart option, [x] crossed connection. */
  note?: "p" | "r" | "x";
}

/** `cell("irc,scr/6")`: the §4.1 notation, so the table below reads like the RFC's. */
function cell(text: string): Cell {
  const [acts, target] = text.includes("/") ? text.split("/") : ["", text];
  const note = /[prx]$/.test(target) ? target.slice(-1) as Cell["note"] : undefined;
  const next = STATES[Number(note ? target.slice(0, -1) : target)];
  const actions = acts === "" ? [] : acts.split(",") as Action[];
  return note ? { next, actions, note } : { next, actions };
}

/** A row of the table: one cell per event, `-` for an illegal event (RFC 1661 §4.1). */
function row(cells: string): Readonly<Record<FsmEvent, Cell | null>> {
  const texts = cells.trim().split(/\s+/);
  return Object.fromEntries(
    EVENTS.map((e, i) => [e, texts[i] === "-" ? null : cell(texts[i])]),
  ) as Record<FsmEvent, Cell | null>;
}

/**
 * The RFC 1661 §4.1 state transition table, `TRANSITIONS[state][event]`;
 * `null` is the RFC's `-`, an illegal event. Each row lists the column of
 * one state of the RFC's table, events in the RFC's order:
 * Up Down Open Close TO+ TO- RCR+ RCR- RCA RCN RTR RTA RUC RXJ+ RXJ- RXR.
 */
export const TRANSITIONS: Readonly<Record<State, Readonly<Record<FsmEvent, Cell | null>>>> = {
  "Initial": row("2 - tls/1 0 - - - - - - - - - - - -"),
  "Starting": row("irc,scr/6 - 1 tlf/0 - - - - - - - - - - - -"),
  "Closed": row("- 0 irc,scr/6 2 - - sta/2 sta/2 sta/2 sta/2 sta/2 2 scj/2 2 tlf/2 2"),
  "Stopped": row(
    "- tls/1 3r 2 - - irc,scr,sca/8 irc,scr,scn/6 sta/3 sta/3 sta/3 3 scj/3 3 tlf/3 3",
  ),
  "Closing": row("- 0 5r 4 str/4 tlf/2 4 4 4 4 sta/4 tlf/2 scj/4 4 tlf/2 4"),
  "Stopping": row("- 1 5r 4 str/5 tlf/3 5 5 5 5 sta/5 tlf/3 scj/5 5 tlf/3 5"),
  "Req-Sent": row(
    "- 1 6 irc,str/4 scr/6 tlf/3p sca/8 scn/6 irc/7 irc,scr/6 sta/6 6 scj/6 6 tlf/3 6",
  ),
  "Ack-Rcvd": row(
    "- 1 7 irc,str/4 scr/6 tlf/3p sca,tlu/9 scn/7 scr/6x scr/6x sta/6 6 scj/7 6 tlf/3 7",
  ),
  "Ack-Sent": row(
    "- 1 8 irc,str/4 scr/8 tlf/3p sca/8 scn/6 irc,tlu/9 irc,scr/8 sta/6 8 scj/8 8 tlf/3 8",
  ),
  "Opened": row(
    "- tld/1 9r tld,irc,str/4 - - tld,scr,sca/8 tld,scr,scn/6 tld,scr/6x tld,scr/6x " +
      "tld,zrc,sta/5 tld,scr/6 scj/9 9 tld,irc,str/5 ser/9",
  ),
};

/** States in which the Restart timer runs: those with TO events (RFC 1661 §4.1). */
const TIMER_STATES: ReadonlySet<State> = new Set([
  "Closing",
  "Stopping",
  "Req-Sent",
  "Ack-Rcvd",
  "Ack-Sent",
]);
/** States in which a Configure-Request is outstanding. */
const CONFIGURING: ReadonlySet<State> = new Set(["Req-Sent", "Ack-Rcvd", "Ack-Sent"]);

/** Result of {@link step}. */
export interface StepResult {
  state: State;
  actions: readonly Action[];
  /** The RFC's `-`: no transition is taken (RFC 1661 §4.4, Illegal-Event). */
  illegal: boolean;
}

/**
 * One transition of the §4.1 table. An illegal event leaves the state as it
 * is with no actions: "No transition is taken, and the implementation SHOULD
 * NOT reset or freeze" (RFC 1661 §4.4).
 *
 * @example
 * ```ts
 * import { step } from "./fsm.ts";
 * const r = step("Starting", "Up");
 * if (r.state !== "Req-Sent" || r.actions.join() !== "irc,scr") throw new Error();
 * ```
 */
export function step(state: State, event: FsmEvent): StepResult {
  const c = TRANSITIONS[state][event];
  return c === null
    ? { state, actions: [], illegal: true }
    : { state: c.next, actions: c.actions, illegal: false };
}

/** What the receiver of a Configure-Request answers (RFC 1661 §5.2–§5.4). */
export type Verdict =
  | { kind: "ack" }
  | { kind: "nak"; options: PppOption[] }
  | { kind: "reject"; options: PppOption[] };

/** How one option of a Configure-Request is judged, for {@link combineVerdicts}. */
export type OptionVerdict =
  | { kind: "ack" }
  | { kind: "nak"; option: PppOption }
  | { kind: "reject" };

/**
 * The answer to a whole Configure-Request from per-option verdicts: any
 * Reject wins and lists only the rejected options as received; otherwise any
 * Nak lists only the Nak'ed options with our values; otherwise Ack (RFC 1661
 * §5.3, §5.4). `appended` are options we want the peer to add (a Nak may
 * carry them, §5.3).
 *
 * @example
 * ```ts
 * import { combineVerdicts } from "./fsm.ts";
 * const o = { type: 7, data: new Uint8Array(0) };
 * const v = combineVerdicts([[o, { kind: "reject" }], [o, { kind: "ack" }]]);
 * if (v.kind !== "reject" || v.options.length !== 1) throw new Error();
 * ```
 */
export function combineVerdicts(
  judged: readonly (readonly [PppOption, OptionVerdict])[],
  appended: readonly PppOption[] = [],
): Verdict {
  const rejected = judged.filter(([, v]) => v.kind === "reject").map(([o]) => o);
  if (rejected.length > 0) return { kind: "reject", options: rejected };
  const naked = judged.flatMap(([, v]) => v.kind === "nak" ? [v.option] : []);
  if (naked.length + appended.length > 0) return { kind: "nak", options: [...naked, ...appended] };
  return { kind: "ack" };
}

/** What a policy's extra-code handler makes of a packet the automaton does not know. */
export interface ExtraCodeOutcome {
  /** The automaton event, or `null` to discard the packet silently. */
  event: "RXR" | "RXJ+" | "RXJ-" | null;
  /** Sent on `ser` (Opened state): the Echo-Reply. */
  reply?: ControlPacket;
  /** Effects for the caller (echo replies seen, protocols rejected, discards). */
  notices?: NegotiationEffect[];
}

/**
 * The protocol-specific part of a negotiation: pure functions over the
 * protocol's own state `L` (what we ask, what the peer got).
 */
export interface OptionsPolicy<L> {
  /** Options of our next Configure-Request. */
  request(local: L): PppOption[];
  /** Judges the peer's Configure-Request; the returned state is kept only when we answer it. */
  judge(local: L, peer: readonly PppOption[]): { local: L; verdict: Verdict };
  /** The peer acknowledged our request. */
  onAck(local: L, options: readonly PppOption[]): L;
  /** The peer Nak'ed some of our options with values it would accept. */
  onNak(local: L, options: readonly PppOption[]): L;
  /** The peer rejected some of our options: stop asking for them. */
  onReject(local: L, options: readonly PppOption[]): L;
  /** A new negotiation begins (first scr after a non-configuring state): fresh choices. */
  restart?(local: L): L;
  /** A reason negotiation cannot succeed (loopback, no address): the automaton Closes. */
  failure?(local: L): string | undefined;
  /** Codes beyond 1–7 (LCP: Protocol-Reject, Echo, Discard); `undefined` is an unknown code (RUC). */
  extraCode?(local: L, packet: ControlPacket, state: State): ExtraCodeOutcome | undefined;
  /** The peer's MRU, to truncate Code-Rejects (RFC 1661 §5.6); 1500 when absent. */
  peerMru?(local: L): number;
}

/** Counters and timer of the automaton (RFC 1661 §4.6). */
export interface NegotiationTimers {
  /** Restart timer in ms; default 3000. */
  restartMs: number;
  /** Max-Configure; default 10. */
  maxConfigure: number;
  /** Max-Terminate; default 2. */
  maxTerminate: number;
  /** Max-Failure; default 5. */
  maxFailure: number;
  /** §4.2 passive option: no tlf when Configure-Requests time out. */
  passive: boolean;
  /** §4.3 restart option: Open in Opened/Stopping/Stopped renegotiates (Down then Up). */
  restartOption: boolean;
}

/** RFC 1661 §4.6 defaults. */
export const DEFAULT_TIMERS: NegotiationTimers = {
  restartMs: 3000,
  maxConfigure: 10,
  maxTerminate: 2,
  maxFailure: 5,
  passive: false,
  restartOption: false,
};

/** The fixed part of a negotiation: which protocol, which policy, which counters. */
export interface NegotiationSpec<L> {
  /** PPP Protocol field of the control protocol (0xc021 LCP, 0x8021 IPCP…). */
  protocol: number;
  /** Name for logs: "LCP", "IPCP". */
  name: string;
  policy: OptionsPolicy<L>;
  timers: NegotiationTimers;
}

/** The whole state of one negotiation; a value, replaced by each {@link transition}. */
export interface NegotiationModel<L> {
  readonly spec: NegotiationSpec<L>;
  state: State;
  /** Restart counter (RFC 1661 §4.6). */
  restartCount: number;
  /** Configure-Naks sent without a Configure-Ack sent (Max-Failure, §4.6). */
  failureCount: number;
  /** Next Identifier for a packet we originate. */
  nextIdentifier: number;
  /** Our outstanding Configure-Request: Ack/Nak/Reject must match it (§5.2–§5.4). */
  lastRequest: { identifier: number; data: Uint8Array } | null;
  /** When the Restart timer expires, or `null` when it is not running. */
  timerDeadline: number | null;
  /** The reason already reported by a `failed` effect. */
  failed: string | null;
  local: L;
}

/**
 * Starts a negotiation in the Initial state.
 *
 * @example
 * ```ts
 * import { createNegotiation, DEFAULT_TIMERS } from "./fsm.ts";
 * const policy = {
 *   request: () => [],
 *   judge: (local: null) => ({ local, verdict: { kind: "ack" as const } }),
 *   onAck: (l: null) => l,
 *   onNak: (l: null) => l,
 *   onReject: (l: null) => l,
 * };
 * const m = createNegotiation({ protocol: 0x8021, name: "X", policy, timers: DEFAULT_TIMERS }, null);
 * if (m.state !== "Initial") throw new Error();
 * ```
 */
export function createNegotiation<L>(spec: NegotiationSpec<L>, local: L): NegotiationModel<L> {
  return {
    spec,
    state: "Initial",
    restartCount: 0,
    failureCount: 0,
    nextIdentifier: 1,
    lastRequest: null,
    timerDeadline: null,
    failed: null,
    local,
  };
}

/** What the caller feeds a negotiation. */
export type NegotiationInput =
  | { type: "up" }
  | { type: "down" }
  | { type: "open" }
  | { type: "close"; reason?: string }
  /** The Restart timer armed by an `arm_timer` effect fired. */
  | { type: "timeout" }
  /** A control packet of this protocol: the PPP Information field. */
  | { type: "receive"; packet: Uint8Array };

/** What the caller must do after a {@link transition}. */
export type NegotiationEffect =
  | { type: "send"; protocol: number; packet: Uint8Array }
  | { type: "arm_timer"; ms: number }
  | { type: "cancel_timer" }
  | { type: "this_layer_up" }
  | { type: "this_layer_down" }
  | { type: "this_layer_started" }
  | { type: "this_layer_finished" }
  /** Negotiation cannot succeed; a Close follows (e.g. loopback, §6.4). */
  | { type: "failed"; reason: string }
  /** A packet silently discarded, with why (for counters and logs). */
  | { type: "discard"; reason: string }
  /** An event the §4.1 table marks `-`: an internal error to log (§4.4). */
  | { type: "illegal_event"; state: State; event: FsmEvent }
  /** LCP: an Echo-Reply arrived (for the keepalive). */
  | { type: "echo_reply"; identifier: number; magic: number; data: Uint8Array }
  /** LCP: the peer rejected a protocol; stop sending it (RFC 1661 §5.7). */
  | { type: "protocol_rejected"; protocol: number };

/** Result of {@link transition}. */
export interface TransitionResult<L> {
  model: NegotiationModel<L>;
  effects: NegotiationEffect[];
}

/** What a received packet brought to the cell being run. */
interface Received {
  packet: ControlPacket;
  raw: Uint8Array;
  verdict?: Verdict;
  judged?: unknown;
  reply?: ControlPacket;
  /** The policy's `restart` already ran for this packet (before judging it). */
  restarted?: boolean;
}

/**
 * Feeds one input to a negotiation. Pure: the model is not mutated, and the
 * effects say what to send and which timer to arm. `now` (ms, any epoch)
 * lets a stale `timeout` be ignored: one that arrives when no timer runs or
 * before the deadline of the one armed last.
 *
 * @example
 * ```ts
 * import { createLcp } from "./lcp.ts";
 * import { transition } from "./fsm.ts";
 * let m = createLcp({ magic: () => 0x01020304 });
 * ({ model: m } = transition(m, { type: "open" }, 0));
 * const { model, effects } = transition(m, { type: "up" }, 0);
 * if (model.state !== "Req-Sent" || effects[0].type !== "send") throw new Error();
 * ```
 */
export function transition<L>(
  model: NegotiationModel<L>,
  input: NegotiationInput,
  now: number,
): TransitionResult<L> {
  const m: NegotiationModel<L> = { ...model };
  const effects: NegotiationEffect[] = [];
  const run = (event: FsmEvent, received?: Received, closeReason?: string) =>
    fire(m, event, now, effects, received, closeReason);
  switch (input.type) {
    case "up":
      run("Up");
      break;
    case "down":
      run("Down");
      break;
    case "open":
      run("Open");
      // §4.3 Implementation Option: a Down immediately followed by an Up.
      if (m.spec.timers.restartOption && ["Opened", "Stopping", "Stopped"].includes(m.state)) {
        run("Down");
        run("Up");
      }
      break;
    case "close":
      run("Close", undefined, input.reason);
      break;
    case "timeout":
      if (m.timerDeadline === null || now < m.timerDeadline) {
        effects.push({ type: "discard", reason: "stale timeout" });
      } else {
        m.timerDeadline = null;
        run(m.restartCount > 0 ? "TO+" : "TO-");
      }
      break;
    case "receive":
      receive(m, input.packet, run, effects);
      break;
    default: {
      const never: never = input;
      throw new TypeError(`unknown input ${JSON.stringify(never)}`);
    }
  }
  const reason = m.spec.policy.failure?.(m.local);
  if (reason !== undefined && m.failed !== reason) {
    m.failed = reason;
    effects.push({ type: "failed", reason });
    run("Close", undefined, reason);
  }
  return { model: m, effects };
}

/** Classifies a received packet into an automaton event (RFC 1661 §4.3, §5). */
function receive<L>(
  m: NegotiationModel<L>,
  raw: Uint8Array,
  run: (event: FsmEvent, received?: Received) => void,
  effects: NegotiationEffect[],
): void {
  const decoded = decodeControlPacket(raw);
  if (!decoded.ok) {
    effects.push({ type: "discard", reason: decoded.error.message });
    return;
  }
  const packet = decoded.value;
  const received: Received = { packet, raw: raw.subarray(0, 4 + packet.data.length) };
  const policy = m.spec.policy;
  const discard = (reason: string): void => {
    effects.push({ type: "discard", reason });
  };
  switch (packet.code) {
    case ControlCode.ConfigureRequest: {
      const options = decodeOptions(packet.data);
      // RFC 1661 §6: an option running past the packet discards the packet.
      if (!options.ok) return discard(`Configure-Request: ${options.error.message}`);
      let local = m.local;
      if (startsNegotiation(m.state, "RCR+")) {
        local = restart(m, local);
        received.restarted = true;
      }
      const judged = policy.judge(local, options.value);
      let verdict = judged.verdict;
      // §4.6 Max-Failure: further Naks become Rejects of the peer's own options.
      if (verdict.kind === "nak" && m.failureCount >= m.spec.timers.maxFailure) {
        const types = new Set(verdict.options.map((o) => o.type));
        verdict = { kind: "reject", options: options.value.filter((o) => types.has(o.type)) };
        if (verdict.options.length === 0) verdict = { kind: "ack" };
      }
      received.verdict = verdict;
      received.judged = judged.local;
      return run(verdict.kind === "ack" ? "RCR+" : "RCR-", received);
    }
    case ControlCode.ConfigureAck:
    case ControlCode.ConfigureNak:
    case ControlCode.ConfigureReject: {
      const event = packet.code === ControlCode.ConfigureAck ? "RCA" : "RCN";
      const responding = CONFIGURING.has(m.state) || m.state === "Opened";
      if (!responding) return run(event, received);
      const last = m.lastRequest;
      if (last === null || last.identifier !== packet.identifier) {
        return discard("Configure-Ack/Nak/Reject for another Identifier");
      }
      const options = decodeOptions(packet.data);
      if (!options.ok) return discard(`Configure-Ack/Nak/Reject: ${options.error.message}`);
      const sent = decodeOptions(last.data);
      const ours = sent.ok ? sent.value : [];
      if (packet.code === ControlCode.ConfigureAck && !sameBytes(packet.data, last.data)) {
        return discard("Configure-Ack options differ from our request (RFC 1661 §5.2)");
      }
      if (
        packet.code === ControlCode.ConfigureReject &&
        !options.value.every((o) => ours.some((s) => sameOption(o, s)))
      ) {
        return discard("Configure-Reject options not in our request (RFC 1661 §5.4)");
      }
      let local = m.local;
      if (startsNegotiation(m.state, event)) {
        local = restart(m, local);
        received.restarted = true;
      }
      if (packet.code === ControlCode.ConfigureAck) {
        if (m.state === "Req-Sent" || m.state === "Ack-Sent") {
          local = policy.onAck(local, options.value);
        }
      } else if (packet.code === ControlCode.ConfigureNak) {
        local = policy.onNak(local, options.value);
      } else local = policy.onReject(local, options.value);
      m.local = local;
      return run(event, received);
    }
    case ControlCode.TerminateRequest:
      return run("RTR", received);
    case ControlCode.TerminateAck:
      return run("RTA", received);
    case ControlCode.CodeReject: {
      if (packet.data.length < 1) return discard("Code-Reject without a rejected packet");
      // §5.6: a rejected code of the automaton itself is catastrophic.
      const rejected = packet.data[0];
      return run(
        rejected >= ControlCode.ConfigureRequest && rejected <= ControlCode.CodeReject
          ? "RXJ-"
          : "RXJ+",
        received,
      );
    }
    default: {
      const outcome = policy.extraCode?.(m.local, packet, m.state);
      if (outcome === undefined) return run("RUC", received);
      effects.push(...(outcome.notices ?? []));
      if (outcome.event === null) return;
      received.reply = outcome.reply;
      return run(outcome.event, received);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Whether `event` in `state` sends a first Configure-Request of a new negotiation. */
function startsNegotiation(state: State, event: FsmEvent): boolean {
  const c = TRANSITIONS[state][event];
  return c !== null && c.actions.includes("scr") && !CONFIGURING.has(state);
}

function restart<L>(m: NegotiationModel<L>, local: L): L {
  m.failureCount = 0;
  m.failed = null;
  return m.spec.policy.restart?.(local) ?? local;
}

/** Runs one cell of the table: its actions in order, then the state change. */
function fire<L>(
  m: NegotiationModel<L>,
  event: FsmEvent,
  now: number,
  effects: NegotiationEffect[],
  received?: Received,
  closeReason?: string,
): void {
  const c = TRANSITIONS[m.state][event];
  if (c === null) {
    effects.push({ type: "illegal_event", state: m.state, event });
    return;
  }
  const { spec } = m;
  const send = (packet: ControlPacket) =>
    effects.push({ type: "send", protocol: spec.protocol, packet: encodeControlPacket(packet) });
  const armTimer = () => {
    m.timerDeadline = now + spec.timers.restartMs;
    effects.push({ type: "arm_timer", ms: spec.timers.restartMs });
  };
  const newIdentifier = () => {
    const id = m.nextIdentifier;
    m.nextIdentifier = (id + 1) & 0xff;
    return id;
  };
  if (received?.judged !== undefined && (c.actions.includes("sca") || c.actions.includes("scn"))) {
    m.local = received.judged as L;
  } else if (startsNegotiation(m.state, event) && !received?.restarted) {
    m.local = restart(m, m.local);
  }
  for (const action of c.actions) {
    switch (action) {
      case "tlu":
        effects.push({ type: "this_layer_up" });
        break;
      case "tld":
        effects.push({ type: "this_layer_down" });
        break;
      case "tls":
        effects.push({ type: "this_layer_started" });
        break;
      case "tlf":
        if (!(c.note === "p" && spec.timers.passive)) {
          effects.push({ type: "this_layer_finished" });
        }
        break;
      case "irc":
        m.restartCount = c.actions.includes("str")
          ? spec.timers.maxTerminate
          : spec.timers.maxConfigure;
        break;
      case "zrc":
        m.restartCount = 0;
        armTimer();
        break;
      case "scr": {
        // A retransmission keeps its Identifier; new contents get a new one (§5.1).
        const data = encodeOptions(spec.policy.request(m.local));
        const last = m.lastRequest;
        const identifier = event === "TO+" && last !== null && sameBytes(last.data, data)
          ? last.identifier
          : newIdentifier();
        m.lastRequest = { identifier, data };
        m.restartCount--;
        send({ code: ControlCode.ConfigureRequest, identifier, data });
        armTimer();
        break;
      }
      case "sca":
        m.failureCount = 0;
        send({
          code: ControlCode.ConfigureAck,
          identifier: received!.packet.identifier,
          data: received!.packet.data,
        });
        break;
      case "scn": {
        const verdict = received!.verdict!;
        if (verdict.kind === "ack") break;
        if (verdict.kind === "nak") m.failureCount++;
        send({
          code: verdict.kind === "nak" ? ControlCode.ConfigureNak : ControlCode.ConfigureReject,
          identifier: received!.packet.identifier,
          data: encodeOptions(verdict.options),
        });
        break;
      }
      case "str":
        m.restartCount--;
        send({
          code: ControlCode.TerminateRequest,
          identifier: newIdentifier(),
          data: new TextEncoder().encode(closeReason ?? ""),
        });
        armTimer();
        break;
      case "sta":
        send({
          code: ControlCode.TerminateAck,
          identifier: received?.packet.identifier ?? newIdentifier(),
          data: new Uint8Array(0),
        });
        break;
      case "scj": {
        // §5.6: the Rejected-Packet is truncated to the peer's MRU.
        const room = (spec.policy.peerMru?.(m.local) ?? 1500) - 4;
        send({
          code: ControlCode.CodeReject,
          identifier: newIdentifier(),
          data: received!.raw.subarray(0, Math.max(0, room)),
        });
        break;
      }
      case "ser":
        if (received?.reply) send(received.reply);
        break;
      default: {
        const never: never = action;
        throw new TypeError(`unknown action ${never}`);
      }
    }
  }
  m.state = c.next;
  // §4.1: the Restart timer stops on entering a state where it does not run.
  if (!TIMER_STATES.has(m.state) && m.timerDeadline !== null) {
    m.timerDeadline = null;
    effects.push({ type: "cancel_timer" });
  }
}
