/**
 * The L2TP session state machine (RFC 2661 §5.2, §5.6, §7.4, §7.5) as a pure
 * transition function: `transition(state, event)` returns the next state and
 * the effects the session actor must perform (send a control message, ask the
 * application, report). No I/O, no timers: retransmission belongs to the
 * reliable control channel (§5.8), and timeouts to the actor, which turns them
 * into `disconnect` events.
 *
 * The behaviour is the table {@link SESSION_TABLE}: one row per
 * `(call role, phase, event)`, with the RFC section beside it. What no row
 * covers is decided by four general rules, in this order:
 *
 * 1. In `closed`, every event is ignored; a `disconnect` or `tunnel_down`
 *    silently (they race with the peer's CDN), anything else with a
 *    `protocol_error` effect. Nothing is ever sent after `closed`.
 * 2. A received tunnel message (SCCRQ, HELLO, StopCCN…) is not the session's
 *    business: `protocol_error`, ignored.
 * 3. A received session message with `problems` (an unknown AVP with the M
 *    bit, a missing required AVP, a malformed M-bit AVP) clears the session
 *    with a CDN (§4.1, §7.1): Result Code 2, the problem's General Error Code
 *    (8 for an unknown M-bit AVP, §4.4.2), its text as Error Message. A CDN
 *    with problems still closes the session, as the peer asked; nothing is
 *    sent back (§6.12).
 * 4. A received session message no row expects is an "improper sequence"
 *    (§7.1): the session is cleared with a CDN, Result Code 2, General Error
 *    Code 0 and an Error Message naming the message and the phase. A local
 *    event no row expects (e.g. `accept` when nothing was asked) is ignored
 *    with a `protocol_error` effect.
 *
 * Clearing "with a CDN" means: send CDN (Result Code, Assigned Session ID =
 * ours, Q.931 Cause Code if given) with header Session ID = the peer's
 * Session ID, or 0 when it is not yet known — §4.4.4: "the same Assigned
 * Session ID AVP first sent to the receiving peer is used, permitting the peer
 * to identify the appropriate tunnel even if CDN is sent before an Assigned
 * Session ID is received". The one exception is a session still in `idle`
 * that knows no peer Session ID: the peer has never heard of it, so it just
 * closes, as the RFC tables' idle rows say ("Clean up", no CDN).
 *
 * @example
 * ```ts
 * import { initialState, transition } from "./session_fsm.ts";
 * // LNS answering an incoming call (§5.2.1): ICRQ → ask → ICRP → ICCN.
 * let s = initialState({ side: "lns", callType: "incoming", localSessionId: 7 });
 * let r = transition(s, {
 *   type: "received",
 *   message: "ICRQ",
 *   fields: { assignedSessionId: 41, callSerialNumber: 1, callingNumber: "555" },
 *   problems: [],
 * });
 * if (r.effects[0].type !== "ask_accept") throw new Error();
 * r = transition(r.state, { type: "accept" });
 * const icrp = r.effects[0];
 * if (icrp.type !== "send" || icrp.message !== "ICRP" || icrp.headerSessionId !== 41) {
 *   throw new Error();
 * }
 * r = transition(r.state, {
 *   type: "received",
 *   message: "ICCN",
 *   fields: { txConnectSpeed: 64_000, framingType: { synchronous: true, asynchronous: false } },
 *   problems: [],
 * });
 * s = r.state;
 * if (s.phase !== "established" || s.call.callingNumber !== "555") throw new Error();
 * ```
 *
 * @module
 */

import type { AccmValue, CallErrorsValue, Q931CauseValue } from "../transport/avp.ts";
import { type AvpKey, CdnResult, ErrorCode, type MessageTypeName } from "../transport/avp_types.ts";
import type { AvpFields, MessageProblem } from "../transport/message.ts";
import { MESSAGE_SPECS } from "../transport/message_specs.ts";

/** Which end of the tunnel this session is on. */
export type SessionSide = "lac" | "lns";

/** Incoming call (LAC → LNS, §5.2.1, §7.4) or outgoing call (LNS → LAC, §5.2.2, §7.5). */
export type CallType = "incoming" | "outgoing";

/**
 * Side and call type together: the four state tables of §7.4.1, §7.4.2,
 * §7.5.1 and §7.5.2. `lac_incoming` and `lns_outgoing` place calls (send the
 * request); `lns_incoming` and `lac_outgoing` answer them.
 */
export type CallRole = "lac_incoming" | "lns_incoming" | "lac_outgoing" | "lns_outgoing";

/**
 * Where a session is. The RFC's wait-tunnel state belongs to the tunnel
 * actor: a session is created once its tunnel is open.
 *
 * - `idle`: nothing exchanged yet.
 * - `wait_reply`: ICRQ / OCRQ sent; waiting for ICRP / OCRP (§7.4.1, §7.5.2 wait-reply).
 * - `wait_accept`: ICRQ / OCRQ received; waiting for the application's
 *   `accept` or `reject` (the RFC's "acceptable / not acceptable" decision).
 * - `wait_connect`: LNS: ICRP sent, or OCRP received; waiting for ICCN / OCCN
 *   (§7.4.2, §7.5.2 wait-connect). LAC of an incoming call placed with
 *   `deferConnect`: ICRP received; waiting for `connect_fields` (the call
 *   answered) to send ICCN (§6.6: "The LAC may defer answering the call until
 *   it has received an ICRP").
 * - `wait_call`: LAC: OCRP sent; waiting for the call to be answered (§7.5.1 wait-cs-answer).
 * - `established`: data may flow.
 * - `closed`: CDN sent or received, or the tunnel is gone (the RFC's return to idle).
 */
export type SessionPhase =
  | "idle"
  | "wait_reply"
  | "wait_connect"
  | "wait_accept"
  | "wait_call"
  | "established"
  | "closed";

/** Every {@link SessionPhase}, in the order a call goes through them. */
export const SESSION_PHASES: readonly SessionPhase[] = [
  "idle",
  "wait_reply",
  "wait_accept",
  "wait_connect",
  "wait_call",
  "established",
  "closed",
];

/** Who closed a session. `tunnel`: the control connection went away (§6.4: StopCCN clears its sessions). */
export type ClosedBy = "local" | "peer" | "tunnel";

/** Why a session closed: the Result Code AVP (§4.4.2) and Q.931 Cause Code (§4.4.4) of its CDN. */
export interface SessionResult {
  /** CDN Result Code (§4.4.2, {@link CdnResult}). */
  readonly resultCode: number;
  /** General Error Code ({@link ErrorCode}); present when there is an Error Message. */
  readonly errorCode?: number;
  readonly errorMessage?: string;
  readonly q931?: Q931CauseValue;
  readonly by: ClosedBy;
}

/** One session's state; only {@link transition} makes new ones. */
export interface SessionState {
  readonly side: SessionSide;
  readonly callType: CallType;
  readonly phase: SessionPhase;
  /** Our Session ID (non-zero), allocated by the tunnel; sent as Assigned Session ID. */
  readonly localSessionId: number;
  /** The peer's Session ID, learnt from its Assigned Session ID (§4.4.4); `null` until then. */
  readonly peerSessionId: number | null;
  /**
   * What is known about the call, sent or received: request AVPs (Call Serial
   * Number, Calling/Called Number, Sub-Address, Bearer Type, Physical Channel
   * ID, Minimum/Maximum BPS) merged with connect AVPs (Tx/Rx Connect Speed,
   * Framing Type, proxy LCP and authentication AVPs, Private Group ID,
   * Sequencing Required); later values win, so Framing Type ends up the one
   * the call got, not the one an OCRQ asked for. Never Assigned Session ID.
   * A tunnel switch copies these onto its other leg.
   */
  readonly call: AvpFields;
  /** Why the session closed; `null` until `closed`. */
  readonly result: SessionResult | null;
  /** LAC incoming call placed with `deferConnect`: ICCN waits for `connect_fields` after ICRP. */
  readonly deferConnect: boolean;
}

/** Result and cause of a local teardown, sent in the CDN (§6.12). */
export interface Teardown {
  /** CDN Result Code (§4.4.2, {@link CdnResult}). */
  readonly resultCode: number;
  /** General Error Code; sent as 0 when only an `errorMessage` is given (§4.4.2 layout). */
  readonly errorCode?: number;
  readonly errorMessage?: string;
  readonly q931?: Q931CauseValue;
}

/** What happens to a session. */
export type SessionEvent =
  /**
   * LAC incoming call / LNS outgoing call: send ICRQ / OCRQ. `fields` may hold
   * a whole call (e.g. another leg's `call`): only the AVPs the request may
   * carry are sent (§6.6, §6.9); for a LAC the ICCN AVPs among them are kept
   * for ICCN. `deferConnect` (LAC): send ICCN only on `connect_fields` after ICRP.
   */
  | { readonly type: "place_call"; readonly fields: AvpFields; readonly deferConnect?: boolean }
  /** A control message for this session, in order, as decoded and validated. */
  | {
    readonly type: "received";
    readonly message: MessageTypeName;
    readonly fields: AvpFields;
    readonly problems: readonly MessageProblem[];
  }
  /** The application accepts the request it was asked about; `fields` may give OCRP's Physical Channel ID. */
  | { readonly type: "accept"; readonly fields?: AvpFields }
  /** The application refuses the request it was asked about: CDN (§7.4.2, §7.5.1 "not acceptable"). */
  | ({ readonly type: "reject" } & Teardown)
  /** LAC outgoing call: the call was answered and framing detected → OCCN (§7.5.1). */
  | { readonly type: "answered"; readonly fields: AvpFields }
  /**
   * LAC incoming call: AVPs for ICCN (proxy LCP/authentication, speeds,
   * framing). Before ICRP they are kept; after ICRP with `deferConnect` they
   * mean "answered" and ICCN is sent.
   */
  | { readonly type: "connect_fields"; readonly fields: AvpFields }
  /** Local teardown (bearer drop, local close request, timeout): CDN (§5.6). */
  | ({ readonly type: "disconnect" } & Teardown)
  /** LAC: report WAN errors in a WEN (§6.13). */
  | { readonly type: "wan_error"; readonly callErrors: CallErrorsValue }
  /** LNS: set the LAC's ACCM with an SLI (§6.14). */
  | { readonly type: "set_link_info"; readonly accm: AccmValue }
  /** The tunnel is gone: close without sending anything (§6.4: StopCCN clears sessions implicitly). */
  | { readonly type: "tunnel_down"; readonly errorMessage?: string };

/** What the session actor must do, in order. */
export type SessionEffect =
  /** Send a control message; the header Session ID is the peer's, or 0 while unknown (§5.3). */
  | {
    readonly type: "send";
    readonly message: MessageTypeName;
    readonly fields: AvpFields;
    readonly headerSessionId: number;
  }
  /** Responder: ask the application whether to accept; it answers `accept` or `reject`. */
  | { readonly type: "ask_accept"; readonly message: "ICRQ" | "OCRQ"; readonly fields: AvpFields }
  /** Initiator: the peer replied ICRP / OCRP; the call may be answered / is being placed. */
  | {
    readonly type: "peer_accepted";
    readonly message: "ICRP" | "OCRP";
    readonly fields: AvpFields;
  }
  /** The session is established: data may be forwarded using `call`. */
  | { readonly type: "established"; readonly call: AvpFields }
  /** The session is closed; release its data path. */
  | ({ readonly type: "closed" } & SessionResult)
  /** An SLI was received (§6.14). */
  | { readonly type: "link_info"; readonly accm: AccmValue }
  /** A WEN was received (§6.13). */
  | { readonly type: "wan_error"; readonly callErrors: CallErrorsValue }
  /** An event that was ignored; worth a log line or a counter. */
  | { readonly type: "protocol_error"; readonly message: string };

/** The next state and what to do. */
export interface SessionTransition {
  readonly state: SessionState;
  readonly effects: readonly SessionEffect[];
}

/** Table key of an event: `"recv ICRQ"` for a received ICRQ, else the event type. */
export type SessionEventKey =
  | `recv ${MessageTypeName}`
  | Exclude<SessionEvent["type"], "received">;

/** One row of {@link SESSION_TABLE}. */
export interface SessionRule {
  readonly roles: readonly CallRole[];
  readonly phases: readonly SessionPhase[];
  readonly event: SessionEventKey;
  /** The RFC sections the row follows. */
  readonly section: string;
  /**
   * The row takes the peer's Session ID from this message's Assigned Session
   * ID, before any problem is handled, so that a CDN can reach the peer.
   */
  readonly learnsPeerSessionId?: boolean;
  readonly action: (state: SessionState, event: SessionEvent) => SessionTransition;
}

/** AVPs sent in ICCN / OCCN when the application gives none (§6.8, §6.11 require them). */
export const CONNECT_DEFAULTS: Readonly<Pick<AvpFields, "txConnectSpeed" | "framingType">> = {
  /** 10 Mb/s: the usual figure for a call that has no modem speed (Ethernet, PPPoE). */
  txConnectSpeed: 10_000_000,
  /** Synchronous: HDLC-like framing without ACCM, what L2TP carries from PPPoE or ISDN. */
  framingType: { synchronous: true, asynchronous: false },
};

/**
 * AVPs sent in OCRQ when the application gives none (§6.9 requires them):
 * any speed. Bearer Type, Framing Type and Called Number have no default:
 * their bits must come from the LAC's capabilities (§4.4.4), and a number
 * is what the call is for; an OCRQ without them is refused.
 */
export const OUTGOING_CALL_DEFAULTS: Readonly<Pick<AvpFields, "minimumBps" | "maximumBps">> = {
  minimumBps: 0,
  maximumBps: 0xffff_ffff,
};

/**
 * A new session in `idle`. Throws `RangeError` when `localSessionId` is not
 * in 1..65535 (§4.4.4: "a 2 octet non-zero unsigned integer").
 *
 * @example
 * ```ts
 * import { initialState } from "./session_fsm.ts";
 * const s = initialState({ side: "lac", callType: "incoming", localSessionId: 3 });
 * if (s.phase !== "idle" || s.peerSessionId !== null) throw new Error();
 * ```
 */
export function initialState(
  options: { side: SessionSide; callType: CallType; localSessionId: number },
): SessionState {
  const id = options.localSessionId;
  if (!Number.isInteger(id) || id < 1 || id > 0xffff) {
    throw new RangeError(`Session ID ${id} is not in 1..65535 (RFC 2661 §4.4.4)`);
  }
  return {
    side: options.side,
    callType: options.callType,
    phase: "idle",
    localSessionId: id,
    peerSessionId: null,
    call: {},
    result: null,
    deferConnect: false,
  };
}

/** The §7 table a session follows. */
export function callRole(state: Pick<SessionState, "side" | "callType">): CallRole {
  return `${state.side}_${state.callType}`;
}

/**
 * Applies one event: finds the row of {@link SESSION_TABLE} for the
 * session's role, phase and event, or applies the general rules of the
 * module documentation. Never throws; never sends after `closed`.
 *
 * @example
 * ```ts
 * import { initialState, transition } from "./session_fsm.ts";
 * const s = initialState({ side: "lac", callType: "incoming", localSessionId: 3 });
 * const r = transition(s, { type: "place_call", fields: { callSerialNumber: 77 } });
 * const icrq = r.effects[0];
 * if (icrq.type !== "send" || icrq.message !== "ICRQ" || icrq.headerSessionId !== 0) {
 *   throw new Error();
 * }
 * if (icrq.fields.assignedSessionId !== 3 || r.state.phase !== "wait_reply") throw new Error();
 * ```
 */
export function transition(state: SessionState, event: SessionEvent): SessionTransition {
  const key = eventKey(event);
  if (state.phase === "closed") {
    if (event.type === "disconnect" || event.type === "tunnel_down") return stay(state);
    return ignore(state, `${key} after the session closed`);
  }
  const rule = SESSION_TABLE.find((r) =>
    r.event === key && r.phases.includes(state.phase) && r.roles.includes(callRole(state))
  );
  if (event.type === "received") {
    if (MESSAGE_SPECS[event.message].scope === "tunnel") {
      return ignore(state, `${event.message} is a tunnel message, not a session's`);
    }
    return received(state, event, rule);
  }
  if (rule === undefined) {
    return ignore(state, `${key} is not valid for ${describe(state)}`);
  }
  return rule.action(state, event);
}

type Received = Extract<SessionEvent, { type: "received" }>;

function received(s: SessionState, e: Received, rule: SessionRule | undefined): SessionTransition {
  // §6.12: a CDN closes the session, whatever its faults; the peer expects nothing back.
  if (e.message === "CDN" && rule !== undefined) return rule.action(s, e);
  let state = s;
  if (rule?.learnsPeerSessionId && isSessionId(e.fields.assignedSessionId)) {
    state = { ...s, peerSessionId: e.fields.assignedSessionId };
  }
  if (e.problems.length > 0) return clear(state, problemResult(e.problems));
  if (rule === undefined) {
    return clear(state, {
      resultCode: CdnResult.GeneralError,
      errorCode: ErrorCode.NoError,
      errorMessage: `${e.message} received in ${describe(s)}: improper sequence (RFC 2661 §7.1)`,
    });
  }
  if (rule.learnsPeerSessionId && state.peerSessionId === null) {
    const value = e.fields.assignedSessionId;
    return clear(
      state,
      value === undefined
        ? {
          resultCode: CdnResult.GeneralError,
          errorCode: ErrorCode.NoError,
          errorMessage: `${e.message} without Assigned Session ID (${
            MESSAGE_SPECS[e.message].section
          })`,
        }
        : {
          resultCode: CdnResult.GeneralError,
          errorCode: ErrorCode.ValueOutOfRange,
          errorMessage: `Assigned Session ID ${value} in ${e.message} (§4.4.4: non-zero, 16 bits)`,
        },
    );
  }
  return rule.action(state, e);
}

// ---------------------------------------------------------------------------
// The table. Roles: LAC_IN = §7.4.1, LNS_IN = §7.4.2, LAC_OUT = §7.5.1,
// LNS_OUT = §7.5.2. The RFC's "Clean up … idle" is our `closed`.
// ---------------------------------------------------------------------------

const LAC_IN: readonly CallRole[] = ["lac_incoming"];
const LNS_IN: readonly CallRole[] = ["lns_incoming"];
const LAC_OUT: readonly CallRole[] = ["lac_outgoing"];
const LNS_OUT: readonly CallRole[] = ["lns_outgoing"];
const ANSWERING: readonly CallRole[] = ["lns_incoming", "lac_outgoing"];
const LAC: readonly CallRole[] = ["lac_incoming", "lac_outgoing"];
const LNS: readonly CallRole[] = ["lns_incoming", "lns_outgoing"];
const ANY: readonly CallRole[] = ["lac_incoming", "lns_incoming", "lac_outgoing", "lns_outgoing"];
const OPEN: readonly SessionPhase[] = SESSION_PHASES.filter((p) => p !== "closed");
const BEFORE_ESTABLISHED: readonly SessionPhase[] = OPEN.filter((p) => p !== "established");

type EventOf<K extends SessionEventKey> = K extends `recv ${string}` ? Received
  : Extract<SessionEvent, { type: K }>;

/** A row whose action is checked against its event's type; `transition` dispatches by key. */
function rule<K extends SessionEventKey>(
  roles: readonly CallRole[],
  phases: SessionPhase | readonly SessionPhase[],
  event: K,
  section: string,
  action: (state: SessionState, event: EventOf<K>) => SessionTransition,
  learnsPeerSessionId = false,
): SessionRule {
  return {
    roles,
    phases: typeof phases === "string" ? [phases] : phases,
    event,
    section,
    learnsPeerSessionId,
    action: action as SessionRule["action"],
  };
}

/**
 * The session state machine, one row per `(role, phase, event)`; the first
 * matching row applies. Received messages that match no row are improper
 * sequences (module documentation, rule 4).
 */
export const SESSION_TABLE: readonly SessionRule[] = [
  // §7.4.1 LAC, incoming call: ICRQ → ICRP → ICCN.
  rule(LAC_IN, "idle", "place_call", "§7.4.1 wait-tunnel/tunnel-open; §6.6", sendRequest),
  rule(LAC_IN, ["idle", "wait_reply"], "connect_fields", "§6.8 (kept for ICCN)", keepConnect),
  rule(LAC_IN, "wait_reply", "recv ICRP", "§7.4.1 wait-reply, ICRP acceptable", replied, true),
  rule(LAC_IN, "wait_connect", "connect_fields", "§6.6 deferred answer; §6.8", connectIccn),

  // §7.4.2 LNS, incoming call: receives ICRQ, sends ICRP, receives ICCN.
  rule(LNS_IN, "idle", "recv ICRQ", "§7.4.2 idle, receive ICRQ; §6.6", asked, true),
  rule(LNS_IN, "wait_accept", "accept", "§7.4.2 idle, ICRQ acceptable: send ICRP", answer),
  rule(LNS_IN, "wait_connect", "recv ICCN", "§7.4.2 wait-connect, receive ICCN", connected),

  // §7.5.1 LAC, outgoing call: receives OCRQ, sends OCRP, places the call, sends OCCN.
  rule(LAC_OUT, "idle", "recv OCRQ", "§7.5.1 idle, receive OCRQ; §6.9", asked, true),
  rule(LAC_OUT, "wait_accept", "accept", "§7.5.1 idle, OCRQ acceptable: send OCRP", answer),
  rule(LAC_OUT, "wait_call", "answered", "§7.5.1 wait-cs-answer, bearer answer", connectOccn),

  // §7.5.2 LNS, outgoing call: OCRQ → OCRP → OCCN.
  rule(LNS_OUT, "idle", "place_call", "§7.5.2 wait-tunnel/tunnel-open; §6.9", sendRequest),
  rule(LNS_OUT, "wait_reply", "recv OCRP", "§7.5.2 wait-reply, OCRP acceptable", replied, true),
  rule(LNS_OUT, "wait_connect", "recv OCCN", "§7.5.2 wait-connect, receive OCCN", connected),

  // Refusing a request: §7.4.2, §7.5.1 "not acceptable → send CDN, clean up".
  rule(ANSWERING, "wait_accept", "reject", "§7.4.2, §7.5.1 not acceptable", (s, e) => clear(s, e)),

  // Teardown, every table: §5.6, §6.12. In idle nothing was sent, so nothing is
  // cleared on the peer (§7.4.1, §7.5.2 wait-tunnel "local close → clean up").
  rule(ANY, OPEN, "recv CDN", "§5.6, §6.12; every §7.4/§7.5 table", closeByPeer),
  rule(
    ANY,
    OPEN,
    "disconnect",
    "§5.6, §6.12, §4.4.4; every §7.4/§7.5 table",
    (s, e) => clear(s, e),
  ),
  rule(ANY, OPEN, "tunnel_down", "§6.4, §7.6", tunnelDown),

  // WEN is LAC → LNS (§6.13), SLI is LNS → LAC (§6.14), on a call that is up. Either is
  // reported whichever way it comes; before `established` it is ignored, not fatal: the
  // §7 tables do not list them, so they are no sequence error.
  rule(LAC, "established", "wan_error", "§6.13", (s, e) => sent(s, "WEN", e)),
  rule(LNS, "established", "set_link_info", "§6.14", (s, e) => sent(s, "SLI", e)),
  rule(ANY, "established", "recv WEN", "§6.13", (s, e) => report(s, e)),
  rule(ANY, "established", "recv SLI", "§6.14", (s, e) => report(s, e)),
  rule(ANY, BEFORE_ESTABLISHED, "recv WEN", "§6.13", (s, e) => ignore(s, early(s, e))),
  rule(ANY, BEFORE_ESTABLISHED, "recv SLI", "§6.14", (s, e) => ignore(s, early(s, e))),
];

// ---------------------------------------------------------------------------
// Actions.
// ---------------------------------------------------------------------------

/** ICRQ / OCRQ with our Assigned Session ID, header Session ID 0 (§5.3, §6.6, §6.9). */
function sendRequest(s: SessionState, e: EventOf<"place_call">): SessionTransition {
  const message = s.side === "lac" ? "ICRQ" : "OCRQ";
  const fields: AvpFields = {
    assignedSessionId: s.localSessionId,
    // A default that is unique among this tunnel's live calls; §4.4.4 asks for more
    // (progressively increasing across the network), which only the caller can give.
    callSerialNumber: s.localSessionId,
    ...(message === "OCRQ" ? OUTGOING_CALL_DEFAULTS : {}),
    ...pick(e.fields, REQUEST_KEYS[message]),
  };
  const missing = MESSAGE_SPECS[message].required.filter((k) => fields[k] === undefined);
  if (missing.length > 0) {
    const section = MESSAGE_SPECS[message].section;
    return ignore(
      s,
      `place_call without ${missing.join(", ")}, required in ${message} (${section})`,
    );
  }
  const connect = message === "ICRQ" ? pick(e.fields, sendable("ICCN")) : {};
  const call = merge(s.call, pick(fields, CALL_KEYS), connect);
  return {
    state: { ...s, phase: "wait_reply", call, deferConnect: e.deferConnect ?? false },
    effects: [send(s, message, fields)],
  };
}

function keepConnect(s: SessionState, e: EventOf<"connect_fields">): SessionTransition {
  return stay({ ...s, call: merge(s.call, pick(e.fields, sendable("ICCN"))) });
}

function connectIccn(s: SessionState, e: EventOf<"connect_fields">): SessionTransition {
  return sendIccn({ ...s, call: merge(s.call, pick(e.fields, sendable("ICCN"))) }, []);
}

/** ICCN from what the call knows, defaults filling the required AVPs (§6.8). */
function sendIccn(s: SessionState, before: readonly SessionEffect[]): SessionTransition {
  const fields = { ...CONNECT_DEFAULTS, ...pick(s.call, sendable("ICCN")) };
  const call = merge(s.call, fields);
  return {
    state: { ...s, phase: "established", call },
    effects: [...before, send(s, "ICCN", fields), { type: "established", call }],
  };
}

/** ICRP / OCRP received (the peer's Session ID already learnt). */
function replied(s: SessionState, e: Received): SessionTransition {
  const message = e.message === "ICRP" ? "ICRP" : "OCRP";
  const call = merge(s.call, pick(e.fields, sendable(message)));
  const accepted: SessionEffect = { type: "peer_accepted", message, fields: e.fields };
  if (message === "ICRP" && !s.deferConnect) return sendIccn({ ...s, call }, [accepted]);
  return { state: { ...s, phase: "wait_connect", call }, effects: [accepted] };
}

/** ICRQ / OCRQ received (the peer's Session ID already learnt): ask the application. */
function asked(s: SessionState, e: Received): SessionTransition {
  const message = e.message === "ICRQ" ? "ICRQ" : "OCRQ";
  return {
    state: { ...s, phase: "wait_accept", call: merge(s.call, pick(e.fields, sendable(message))) },
    effects: [{ type: "ask_accept", message, fields: e.fields }],
  };
}

/** ICRP (LNS) or OCRP (LAC) with our Assigned Session ID to the peer's Session ID. */
function answer(s: SessionState, e: EventOf<"accept">): SessionTransition {
  const message = s.side === "lns" ? "ICRP" : "OCRP";
  const fields: AvpFields = {
    assignedSessionId: s.localSessionId,
    ...pick(e.fields ?? {}, sendable(message)),
  };
  const phase = s.side === "lns" ? "wait_connect" : "wait_call";
  return {
    state: { ...s, phase, call: merge(s.call, pick(fields, CALL_KEYS)) },
    effects: [send(s, message, fields)],
  };
}

/** ICCN / OCCN received: established with what it says about the call. */
function connected(s: SessionState, e: Received): SessionTransition {
  const call = merge(s.call, pick(e.fields, sendable(e.message)));
  return { state: { ...s, phase: "established", call }, effects: [{ type: "established", call }] };
}

/** OCCN: the call was answered (§6.11), defaults filling the required AVPs. */
function connectOccn(s: SessionState, e: EventOf<"answered">): SessionTransition {
  const fields = { ...CONNECT_DEFAULTS, ...pick(e.fields, sendable("OCCN")) };
  const call = merge(s.call, fields);
  return {
    state: { ...s, phase: "established", call },
    effects: [send(s, "OCCN", fields), { type: "established", call }],
  };
}

/** CDN received: closed by the peer, with its Result Code and Q.931 Cause Code to pass on. */
function closeByPeer(s: SessionState, e: Received): SessionTransition {
  const rc = e.fields.resultCode;
  const result: SessionResult = rc === undefined
    ? {
      resultCode: CdnResult.GeneralError,
      errorMessage: "CDN without a valid Result Code (§6.12)",
      by: "peer",
    }
    : { ...rc, ...(e.fields.q931CauseCode ? { q931: e.fields.q931CauseCode } : {}), by: "peer" };
  const effects: SessionEffect[] = e.problems.length > 0
    ? [{ type: "protocol_error", message: `CDN: ${e.problems.map((p) => p.message).join("; ")}` }]
    : [];
  return close(s, result, effects);
}

function tunnelDown(s: SessionState, e: EventOf<"tunnel_down">): SessionTransition {
  return close(s, {
    resultCode: CdnResult.GeneralError,
    errorCode: ErrorCode.NoControlConnection,
    errorMessage: e.errorMessage ?? "control connection closed",
    by: "tunnel",
  }, []);
}

function sent(
  s: SessionState,
  message: "WEN" | "SLI",
  e: EventOf<"wan_error"> | EventOf<"set_link_info">,
): SessionTransition {
  const fields: AvpFields = "callErrors" in e ? { callErrors: e.callErrors } : { accm: e.accm };
  return { state: s, effects: [send(s, message, fields)] };
}

function report(s: SessionState, e: Received): SessionTransition {
  const { callErrors, accm } = e.fields;
  if (e.message === "WEN" && callErrors) {
    return { state: s, effects: [{ type: "wan_error", callErrors }] };
  }
  if (e.message === "SLI" && accm) return { state: s, effects: [{ type: "link_info", accm }] };
  return ignore(s, `${e.message} without its ${e.message === "WEN" ? "Call Errors" : "ACCM"} AVP`);
}

function early(s: SessionState, e: Received): string {
  return `${e.message} received in ${describe(s)}, before the call is up`;
}

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

/**
 * Clears the session locally: CDN unless the peer has never heard of it,
 * then `closed` (§5.6, §6.12; §4.4.4 for header Session ID 0).
 */
function clear(s: SessionState, t: Teardown): SessionTransition {
  const resultCode = {
    resultCode: t.resultCode,
    ...(t.errorCode !== undefined || t.errorMessage !== undefined
      ? { errorCode: t.errorCode ?? ErrorCode.NoError }
      : {}),
    ...(t.errorMessage !== undefined ? { errorMessage: t.errorMessage } : {}),
  };
  const result: SessionResult = { ...resultCode, ...(t.q931 ? { q931: t.q931 } : {}), by: "local" };
  if (s.phase === "idle" && s.peerSessionId === null) return close(s, result, []);
  const fields: AvpFields = {
    resultCode,
    assignedSessionId: s.localSessionId,
    ...(t.q931 ? { q931CauseCode: t.q931 } : {}),
  };
  return close(s, result, [send(s, "CDN", fields)]);
}

function close(
  s: SessionState,
  result: SessionResult,
  before: readonly SessionEffect[],
): SessionTransition {
  return {
    state: { ...s, phase: "closed", result },
    effects: [...before, { type: "closed", ...result }],
  };
}

/** The first unknown M-bit AVP decides (General Error Code 8, §4.2, §4.4.2), else the first problem. */
function problemResult(problems: readonly MessageProblem[]): Teardown {
  const p = problems.find((q) => q.code === "unknown_mandatory_avp") ?? problems[0];
  return {
    resultCode: CdnResult.GeneralError,
    errorCode: p.code === "unknown_mandatory_avp" ? ErrorCode.UnknownMandatoryAvp : p.errorCode,
    errorMessage: p.message,
  };
}

function send(s: SessionState, message: MessageTypeName, fields: AvpFields): SessionEffect {
  return { type: "send", message, fields, headerSessionId: s.peerSessionId ?? 0 };
}

function stay(s: SessionState): SessionTransition {
  return { state: s, effects: [] };
}

function ignore(s: SessionState, message: string): SessionTransition {
  return { state: s, effects: [{ type: "protocol_error", message }] };
}

function eventKey(e: SessionEvent): SessionEventKey {
  return e.type === "received" ? `recv ${e.message}` : e.type;
}

function describe(s: SessionState): string {
  return `${s.phase} (${s.side.toUpperCase()}, ${s.callType} call)`;
}

function isSessionId(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 0xffff;
}

/** AVPs a message may carry besides Assigned Session ID (§6.6–§6.11). */
function sendable(message: MessageTypeName): ReadonlySet<AvpKey> {
  const spec = MESSAGE_SPECS[message];
  return new Set([...spec.required, ...spec.optional].filter((k) => k !== "assignedSessionId"));
}

const REQUEST_KEYS: Readonly<Record<"ICRQ" | "OCRQ", ReadonlySet<AvpKey>>> = {
  ICRQ: sendable("ICRQ"),
  OCRQ: sendable("OCRQ"),
};

/** What describes a call: the AVPs of the set-up messages, Assigned Session ID aside. */
const CALL_KEYS: ReadonlySet<AvpKey> = new Set(
  (["ICRQ", "ICCN", "OCRQ", "OCRP", "OCCN"] as const).flatMap((m) => [...sendable(m)]),
);

function pick(fields: AvpFields, keys: ReadonlySet<AvpKey>): AvpFields {
  const out: Record<string, unknown> = {};
  const from = fields as Record<string, unknown>;
  // for…in over a plain object, not Object.entries: no array per key (every setup message).
  for (const k in from) {
    const v = from[k];
    if (v !== undefined && keys.has(k as AvpKey)) out[k] = v;
  }
  return out as AvpFields;
}

function merge(...parts: AvpFields[]): AvpFields {
  return Object.assign({}, ...parts);
}
