import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type CallRole,
  callRole,
  CONNECT_DEFAULTS,
  initialState,
  SESSION_PHASES,
  SESSION_TABLE,
  type SessionEffect,
  type SessionEvent,
  type SessionPhase,
  type SessionState,
  transition,
} from "./session_fsm.ts";
import type { MessageTypeName } from "../transport/avp_types.ts";
import type { AvpFields, MessageProblem } from "../transport/message.ts";

const LOCAL = 3;
const PEER = 40;
const SYNC = { synchronous: true, asynchronous: false };
const BOTH_FRAMING = { synchronous: true, asynchronous: true };
const DIGITAL = { digital: true, analog: false };
const CALL_ERRORS = {
  crcErrors: 1,
  framingErrors: 2,
  hardwareOverruns: 3,
  bufferOverruns: 4,
  timeoutErrors: 5,
  alignmentErrors: 6,
};
const ACCM = { sendAccm: 0, receiveAccm: 0xffff_ffff };

function rx(
  message: MessageTypeName,
  fields: AvpFields = {},
  problems: readonly MessageProblem[] = [],
): SessionEvent {
  return { type: "received", message, fields, problems };
}

function start(role: CallRole): SessionState {
  const [side, callType] = role.split("_") as ["lac" | "lns", "incoming" | "outgoing"];
  return initialState({ side, callType, localSessionId: LOCAL });
}

/** Applies events in turn; returns the last state and every effect, in order. */
function run(state: SessionState, ...events: SessionEvent[]) {
  const effects: SessionEffect[] = [];
  for (const e of events) {
    const r = transition(state, e);
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}

const OCRQ_FIELDS: AvpFields = {
  assignedSessionId: PEER,
  callSerialNumber: 500,
  minimumBps: 9600,
  maximumBps: 64_000,
  bearerType: DIGITAL,
  framingType: BOTH_FRAMING,
  calledNumber: "5551234",
};

/** How each role reaches each of its phases. */
const PATHS: Record<CallRole, Partial<Record<SessionPhase, SessionEvent[]>>> = {
  lac_incoming: {
    idle: [],
    wait_reply: [{ type: "place_call", fields: {} }],
    wait_connect: [
      { type: "place_call", fields: {}, deferConnect: true },
      rx("ICRP", { assignedSessionId: PEER }),
    ],
    established: [{ type: "place_call", fields: {} }, rx("ICRP", { assignedSessionId: PEER })],
  },
  lns_incoming: {
    idle: [],
    wait_accept: [rx("ICRQ", { assignedSessionId: PEER, callSerialNumber: 1 })],
    wait_connect: [rx("ICRQ", { assignedSessionId: PEER, callSerialNumber: 1 }), {
      type: "accept",
    }],
    established: [
      rx("ICRQ", { assignedSessionId: PEER, callSerialNumber: 1 }),
      { type: "accept" },
      rx("ICCN", { txConnectSpeed: 1, framingType: SYNC }),
    ],
  },
  lac_outgoing: {
    idle: [],
    wait_accept: [rx("OCRQ", OCRQ_FIELDS)],
    wait_call: [rx("OCRQ", OCRQ_FIELDS), { type: "accept" }],
    established: [rx("OCRQ", OCRQ_FIELDS), { type: "accept" }, { type: "answered", fields: {} }],
  },
  lns_outgoing: {
    idle: [],
    wait_reply: [{ type: "place_call", fields: OCRQ_FIELDS }],
    wait_connect: [
      { type: "place_call", fields: OCRQ_FIELDS },
      rx("OCRP", { assignedSessionId: PEER }),
    ],
    established: [
      { type: "place_call", fields: OCRQ_FIELDS },
      rx("OCRP", { assignedSessionId: PEER }),
      rx("OCCN", { txConnectSpeed: 1, framingType: SYNC }),
    ],
  },
};

const ROLES = Object.keys(PATHS) as CallRole[];

function reach(role: CallRole, phase: SessionPhase): SessionState {
  const state = run(start(role), ...PATHS[role][phase]!).state;
  assert.equal(state.phase, phase, `${role} did not reach ${phase}`);
  return state;
}

function* everyOpenPhase(): Generator<[CallRole, SessionPhase, SessionState]> {
  for (const role of ROLES) {
    for (const phase of Object.keys(PATHS[role]) as SessionPhase[]) {
      yield [role, phase, reach(role, phase)];
    }
  }
}

function sends(effects: readonly SessionEffect[]) {
  return effects.filter((e) => e.type === "send");
}

// --- Happy paths -----------------------------------------------------------

Deno.test("LAC incoming call (§5.2.1): ICRQ with header 0, ICRP teaches the peer's id, ICCN", () => {
  let r = transition(start("lac_incoming"), {
    type: "place_call",
    fields: {
      callSerialNumber: 9,
      bearerType: DIGITAL,
      callingNumber: "100",
      calledNumber: "200",
      txConnectSpeed: 1_000_000,
      proxyAuthenName: "alice",
    },
  });
  assert.deepEqual(r.effects, [{
    type: "send",
    message: "ICRQ",
    headerSessionId: 0,
    fields: {
      assignedSessionId: LOCAL,
      callSerialNumber: 9,
      bearerType: DIGITAL,
      callingNumber: "100",
      calledNumber: "200",
    },
  }]);
  assert.equal(r.state.phase, "wait_reply");
  assert.equal(r.state.peerSessionId, null);

  r = transition(r.state, rx("ICRP", { assignedSessionId: PEER }));
  const call = {
    callSerialNumber: 9,
    bearerType: DIGITAL,
    callingNumber: "100",
    calledNumber: "200",
    txConnectSpeed: 1_000_000,
    proxyAuthenName: "alice",
    framingType: SYNC,
  };
  assert.deepEqual(r.effects, [
    { type: "peer_accepted", message: "ICRP", fields: { assignedSessionId: PEER } },
    {
      type: "send",
      message: "ICCN",
      headerSessionId: PEER,
      fields: { txConnectSpeed: 1_000_000, framingType: SYNC, proxyAuthenName: "alice" },
    },
    { type: "established", call },
  ]);
  assert.equal(r.state.phase, "established");
  assert.equal(r.state.peerSessionId, PEER);
  assert.deepEqual(r.state.call, call);
});

Deno.test("LAC incoming call: ICCN defaults, and connect_fields given while waiting for ICRP", () => {
  const { state, effects } = run(
    start("lac_incoming"),
    { type: "place_call", fields: {} },
    { type: "connect_fields", fields: { rxConnectSpeed: 5, sequencingRequired: true } },
    rx("ICRP", { assignedSessionId: PEER }),
  );
  const iccn = sends(effects)[1];
  assert.deepEqual(iccn, {
    type: "send",
    message: "ICCN",
    headerSessionId: PEER,
    fields: { ...CONNECT_DEFAULTS, rxConnectSpeed: 5, sequencingRequired: true },
  });
  assert.deepEqual(CONNECT_DEFAULTS, { txConnectSpeed: 10_000_000, framingType: SYNC });
  assert.equal(state.call.callSerialNumber, LOCAL, "Call Serial Number defaults to our Session ID");
});

Deno.test("LAC incoming call with deferConnect: ICRP waits for connect_fields (§6.6)", () => {
  let r = run(
    start("lac_incoming"),
    { type: "place_call", fields: {}, deferConnect: true },
    rx("ICRP", { assignedSessionId: PEER }),
  );
  assert.equal(r.state.phase, "wait_connect");
  assert.deepEqual(r.effects.map((e) => e.type), ["send", "peer_accepted"]);
  r = run(r.state, { type: "connect_fields", fields: { txConnectSpeed: 33_600 } });
  assert.deepEqual(r.effects, [
    {
      type: "send",
      message: "ICCN",
      headerSessionId: PEER,
      fields: { txConnectSpeed: 33_600, framingType: SYNC },
    },
    {
      type: "established",
      call: { callSerialNumber: LOCAL, txConnectSpeed: 33_600, framingType: SYNC },
    },
  ]);
});

Deno.test("LNS incoming call (§5.2.1): ask, ICRP to the peer's id, ICCN establishes", () => {
  const icrq: AvpFields = {
    assignedSessionId: PEER,
    callSerialNumber: 77,
    bearerType: DIGITAL,
    physicalChannelId: 12,
    callingNumber: "100",
    calledNumber: "200",
    subAddress: "7",
  };
  let r = transition(start("lns_incoming"), rx("ICRQ", icrq));
  assert.deepEqual(r.effects, [{ type: "ask_accept", message: "ICRQ", fields: icrq }]);
  assert.equal(r.state.phase, "wait_accept");
  assert.equal(r.state.peerSessionId, PEER);

  r = transition(r.state, { type: "accept" });
  assert.deepEqual(r.effects, [{
    type: "send",
    message: "ICRP",
    headerSessionId: PEER,
    fields: { assignedSessionId: LOCAL },
  }]);
  assert.equal(r.state.phase, "wait_connect");

  const iccn: AvpFields = {
    txConnectSpeed: 64_000,
    framingType: SYNC,
    rxConnectSpeed: 64_000,
    initialReceivedLcpConfreq: new Uint8Array([1, 4, 5, 220]),
    lastSentLcpConfreq: new Uint8Array([1, 4, 5, 220]),
    lastReceivedLcpConfreq: new Uint8Array([1, 4, 5, 220]),
    proxyAuthenType: 2,
    proxyAuthenName: "alice",
    proxyAuthenChallenge: new Uint8Array([9, 9]),
    proxyAuthenId: 1,
    proxyAuthenResponse: new Uint8Array([7]),
    privateGroupId: new Uint8Array([1]),
    sequencingRequired: true,
  };
  r = transition(r.state, rx("ICCN", iccn));
  const { assignedSessionId: _, ...request } = icrq;
  const call = { ...request, ...iccn };
  assert.deepEqual(r.effects, [{ type: "established", call }]);
  assert.equal(r.state.phase, "established");
  assert.deepEqual(r.state.call, call);
});

Deno.test("LNS outgoing call (§5.2.2): OCRQ with header 0, OCRP, then OCCN", () => {
  let r = transition(start("lns_outgoing"), {
    type: "place_call",
    fields: {
      calledNumber: "5551234",
      bearerType: DIGITAL,
      framingType: BOTH_FRAMING,
      callSerialNumber: 8,
    },
  });
  assert.deepEqual(r.effects, [{
    type: "send",
    message: "OCRQ",
    headerSessionId: 0,
    fields: {
      assignedSessionId: LOCAL,
      callSerialNumber: 8,
      minimumBps: 0,
      maximumBps: 0xffff_ffff,
      calledNumber: "5551234",
      bearerType: DIGITAL,
      framingType: BOTH_FRAMING,
    },
  }]);
  assert.equal(r.state.phase, "wait_reply");

  r = transition(r.state, rx("OCRP", { assignedSessionId: PEER, physicalChannelId: 4 }));
  assert.deepEqual(r.effects, [{
    type: "peer_accepted",
    message: "OCRP",
    fields: { assignedSessionId: PEER, physicalChannelId: 4 },
  }]);
  assert.equal(r.state.phase, "wait_connect");
  assert.equal(r.state.peerSessionId, PEER);

  r = transition(r.state, rx("OCCN", { txConnectSpeed: 28_800, framingType: SYNC }));
  assert.equal(r.state.phase, "established");
  assert.deepEqual(r.effects, [{ type: "established", call: r.state.call }]);
  assert.equal(r.state.call.physicalChannelId, 4);
  assert.equal(r.state.call.txConnectSpeed, 28_800);
  assert.deepEqual(r.state.call.framingType, SYNC, "the framing the call got, not the one asked");
});

Deno.test("LNS outgoing call: OCRQ without Called Number, Bearer or Framing Type is refused", () => {
  const s = start("lns_outgoing");
  const r = transition(s, { type: "place_call", fields: { bearerType: DIGITAL } });
  assert.equal(r.state, s);
  assert.equal(r.effects.length, 1);
  assert.equal(r.effects[0].type, "protocol_error");
  assert.match(
    (r.effects[0] as { message: string }).message,
    /framingType, calledNumber, required in OCRQ/,
  );
});

Deno.test("LAC outgoing call (§5.2.2): ask, OCRP, wait for the answer, OCCN", () => {
  let r = transition(start("lac_outgoing"), rx("OCRQ", OCRQ_FIELDS));
  assert.deepEqual(r.effects, [{ type: "ask_accept", message: "OCRQ", fields: OCRQ_FIELDS }]);
  r = transition(r.state, { type: "accept", fields: { physicalChannelId: 5, callingNumber: "x" } });
  assert.deepEqual(r.effects, [{
    type: "send",
    message: "OCRP",
    headerSessionId: PEER,
    fields: { assignedSessionId: LOCAL, physicalChannelId: 5 },
  }]);
  assert.equal(r.state.phase, "wait_call");
  r = transition(r.state, {
    type: "answered",
    fields: { txConnectSpeed: 33_600, rxConnectSpeed: 31_200 },
  });
  assert.deepEqual(r.effects[0], {
    type: "send",
    message: "OCCN",
    headerSessionId: PEER,
    fields: { txConnectSpeed: 33_600, framingType: SYNC, rxConnectSpeed: 31_200 },
  });
  assert.equal(r.effects[1].type, "established");
  assert.equal(r.state.phase, "established");
  assert.equal(r.state.call.calledNumber, "5551234");
  assert.equal(r.state.call.physicalChannelId, 5);
  assert.deepEqual(r.state.call.framingType, SYNC);
});

Deno.test("a tunnel switch copies one leg's call onto the other", () => {
  const leg1 = run(
    start("lns_incoming"),
    rx("ICRQ", { assignedSessionId: PEER, callSerialNumber: 2, callingNumber: "100" }),
    { type: "accept" },
    rx("ICCN", { txConnectSpeed: 2, framingType: SYNC, proxyAuthenName: "bob" }),
  ).state;
  const { effects } = run(
    start("lac_incoming"),
    { type: "place_call", fields: leg1.call },
    rx("ICRP", { assignedSessionId: 9 }),
  );
  const [icrq, iccn] = sends(effects);
  assert.deepEqual(icrq.fields, {
    assignedSessionId: LOCAL,
    callSerialNumber: 2,
    callingNumber: "100",
  });
  assert.deepEqual(iccn.fields, { txConnectSpeed: 2, framingType: SYNC, proxyAuthenName: "bob" });
});

// --- Teardown ----------------------------------------------------------------

Deno.test("CDN from the peer closes every phase of every role, nothing sent back (§6.12)", () => {
  const q931 = { causeCode: 16, causeMsg: 0, advisory: "normal" };
  const cdn = rx("CDN", {
    resultCode: { resultCode: 3, errorCode: 0, errorMessage: "admin" },
    assignedSessionId: PEER,
    q931CauseCode: q931,
  });
  let count = 0;
  for (const [role, phase, state] of everyOpenPhase()) {
    const r = transition(state, cdn);
    const closed = { resultCode: 3, errorCode: 0, errorMessage: "admin", q931, by: "peer" };
    assert.deepEqual(r.effects, [{ type: "closed", ...closed }], `${role} ${phase}`);
    assert.equal(r.state.phase, "closed");
    assert.deepEqual(r.state.result, closed);
    count++;
  }
  assert.equal(count, 16);
});

Deno.test("local disconnect: no CDN from idle, header 0 before the peer's id (§4.4.4), else the peer's", () => {
  const q931 = { causeCode: 17, causeMsg: 1 };
  for (const [role, phase, state] of everyOpenPhase()) {
    const r = transition(state, { type: "disconnect", resultCode: 1, q931 });
    const closed = { type: "closed", resultCode: 1, q931, by: "local" };
    if (phase === "idle") {
      assert.deepEqual(r.effects, [closed], `${role} ${phase}`);
    } else {
      assert.deepEqual(r.effects, [
        {
          type: "send",
          message: "CDN",
          headerSessionId: phase === "wait_reply" ? 0 : PEER,
          fields: { resultCode: { resultCode: 1 }, assignedSessionId: LOCAL, q931CauseCode: q931 },
        },
        closed,
      ], `${role} ${phase}`);
    }
    assert.equal(r.state.phase, "closed");
  }
});

Deno.test("disconnect with only an Error Message sends General Error Code 0 before it (§4.4.2)", () => {
  const r = transition(reach("lns_incoming", "established"), {
    type: "disconnect",
    resultCode: 2,
    errorMessage: "idle timeout",
  });
  const rc = { resultCode: 2, errorCode: 0, errorMessage: "idle timeout" };
  assert.deepEqual(sends(r.effects)[0].fields.resultCode, rc);
  assert.deepEqual(r.state.result, { ...rc, by: "local" });
});

Deno.test("reject: LNS refuses an ICRQ and LAC an OCRQ with a CDN to the peer's id", () => {
  const lns = transition(reach("lns_incoming", "wait_accept"), {
    type: "reject",
    resultCode: 2,
    errorCode: 4,
    errorMessage: "no resources",
  });
  assert.deepEqual(lns.effects, [
    {
      type: "send",
      message: "CDN",
      headerSessionId: PEER,
      fields: {
        resultCode: { resultCode: 2, errorCode: 4, errorMessage: "no resources" },
        assignedSessionId: LOCAL,
      },
    },
    { type: "closed", resultCode: 2, errorCode: 4, errorMessage: "no resources", by: "local" },
  ]);
  const busy = { causeCode: 17, causeMsg: 0 };
  const lac = transition(reach("lac_outgoing", "wait_accept"), {
    type: "reject",
    resultCode: 8,
    q931: busy,
  });
  assert.deepEqual(sends(lac.effects), [{
    type: "send",
    message: "CDN",
    headerSessionId: PEER,
    fields: { resultCode: { resultCode: 8 }, assignedSessionId: LOCAL, q931CauseCode: busy },
  }]);
  assert.deepEqual(lac.state.result, { resultCode: 8, q931: busy, by: "local" });
});

Deno.test("tunnel_down closes every phase silently", () => {
  for (const [role, phase, state] of everyOpenPhase()) {
    const r = transition(state, { type: "tunnel_down", errorMessage: "StopCCN" });
    assert.deepEqual(r.effects, [
      { type: "closed", resultCode: 2, errorCode: 1, errorMessage: "StopCCN", by: "tunnel" },
    ], `${role} ${phase}`);
    assert.equal(r.state.phase, "closed");
  }
});

Deno.test("after closed: disconnect and tunnel_down are silent, anything else a protocol_error", () => {
  const closed = transition(
    reach("lac_incoming", "established"),
    rx("CDN", {
      resultCode: { resultCode: 1 },
      assignedSessionId: PEER,
    }),
  ).state;
  assert.deepEqual(transition(closed, { type: "disconnect", resultCode: 3 }), {
    state: closed,
    effects: [],
  });
  assert.deepEqual(transition(closed, { type: "tunnel_down" }).effects, []);
  for (
    const e of [
      rx("CDN", { resultCode: { resultCode: 1 }, assignedSessionId: PEER }),
      rx("ICRP", { assignedSessionId: PEER }),
      { type: "wan_error", callErrors: CALL_ERRORS },
    ] satisfies SessionEvent[]
  ) {
    const r = transition(closed, e);
    assert.equal(r.state, closed);
    assert.deepEqual(r.effects.map((x) => x.type), ["protocol_error"]);
  }
});

Deno.test("a CDN without a Result Code still closes, by the peer, with a protocol_error", () => {
  const problem: MessageProblem = {
    code: "missing_required_avp",
    vendorId: 0,
    attributeType: 1,
    message: "CDN without Result Code (§6.12)",
    errorCode: 0,
  };
  const r = transition(
    reach("lns_outgoing", "wait_connect"),
    rx("CDN", { assignedSessionId: PEER }, [problem]),
  );
  assert.deepEqual(r.effects, [
    { type: "protocol_error", message: "CDN: CDN without Result Code (§6.12)" },
    {
      type: "closed",
      resultCode: 2,
      errorMessage: "CDN without a valid Result Code (§6.12)",
      by: "peer",
    },
  ]);
});

// --- Faulty messages ---------------------------------------------------------

const UNKNOWN_M: MessageProblem = {
  code: "unknown_mandatory_avp",
  vendorId: 9,
  attributeType: 99,
  message: "unrecognized AVP 9:99 with the M bit (§4.1)",
  errorCode: 8,
};
const BAD_LENGTH: MessageProblem = {
  code: "bad_avp_value",
  vendorId: 0,
  attributeType: 24,
  message: "(Tx) Connect Speed value of 2 octets, expected 4..4 (§4.4.4)",
  errorCode: 2,
};
const MISSING: MessageProblem = {
  code: "missing_required_avp",
  vendorId: 0,
  attributeType: 19,
  message: "ICCN without Framing Type (§6.8)",
  errorCode: 0,
};

Deno.test("an unknown M-bit AVP clears the session with CDN 2/8 (§4.1), to the id the ICRQ gave", () => {
  const r = transition(
    start("lns_incoming"),
    rx("ICRQ", { assignedSessionId: PEER, callSerialNumber: 1 }, [BAD_LENGTH, UNKNOWN_M]),
  );
  assert.deepEqual(r.effects, [
    {
      type: "send",
      message: "CDN",
      headerSessionId: PEER,
      fields: {
        resultCode: { resultCode: 2, errorCode: 8, errorMessage: UNKNOWN_M.message },
        assignedSessionId: LOCAL,
      },
    },
    { type: "closed", resultCode: 2, errorCode: 8, errorMessage: UNKNOWN_M.message, by: "local" },
  ]);
  assert.equal(r.state.peerSessionId, PEER);
});

Deno.test("an unknown M-bit AVP in an established session's SLI clears it too", () => {
  const r = transition(
    reach("lac_incoming", "established"),
    rx("SLI", { accm: ACCM }, [UNKNOWN_M]),
  );
  assert.deepEqual(
    sends(r.effects).map((e) => [e.message, e.headerSessionId, e.fields.resultCode]),
    [
      ["CDN", PEER, { resultCode: 2, errorCode: 8, errorMessage: UNKNOWN_M.message }],
    ],
  );
  assert.equal(r.state.phase, "closed");
});

Deno.test("missing or malformed M-bit AVPs: CDN 2 with the problem's error code and text (§7.1)", () => {
  for (const problem of [MISSING, BAD_LENGTH]) {
    const r = transition(
      reach("lns_incoming", "wait_connect"),
      rx("ICCN", { txConnectSpeed: 1 }, [problem]),
    );
    assert.deepEqual(sends(r.effects)[0].fields.resultCode, {
      resultCode: 2,
      errorCode: problem.errorCode,
      errorMessage: problem.message,
    });
    assert.equal(r.state.phase, "closed");
  }
});

Deno.test("a faulty ICRP still teaches the peer's id, so the CDN reaches it", () => {
  const r = transition(
    reach("lac_incoming", "wait_reply"),
    rx("ICRP", { assignedSessionId: 77 }, [UNKNOWN_M]),
  );
  assert.equal(sends(r.effects)[0].headerSessionId, 77);
});

Deno.test("an Assigned Session ID of 0 is refused with CDN 2/3, header 0 (§4.4.4)", () => {
  const r = transition(reach("lns_outgoing", "wait_reply"), rx("OCRP", { assignedSessionId: 0 }));
  const [cdn] = sends(r.effects);
  assert.equal(cdn.headerSessionId, 0);
  assert.equal(cdn.fields.assignedSessionId, LOCAL);
  assert.deepEqual(cdn.fields.resultCode, {
    resultCode: 2,
    errorCode: 3,
    errorMessage: "Assigned Session ID 0 in OCRP (§4.4.4: non-zero, 16 bits)",
  });
});

Deno.test("out-of-sequence messages clear the session with CDN 2 and an Error Message (§7.1)", () => {
  const cases: [CallRole, SessionPhase, MessageTypeName, number][] = [
    ["lns_incoming", "wait_accept", "ICCN", PEER], // ICCN before ICRP was sent
    ["lns_incoming", "wait_connect", "ICRP", PEER], // ICRP on the LNS side (§7.4.2)
    ["lns_incoming", "established", "ICRQ", PEER], // a second ICRQ (§7.4.2)
    ["lac_incoming", "wait_reply", "ICRQ", 0], // §7.4.1 wait-reply, receive ICRQ
    ["lac_incoming", "established", "ICCN", PEER], // §7.4.1 established
    ["lac_outgoing", "wait_call", "OCCN", PEER], // §7.5.1 wait-cs-answer
    ["lns_outgoing", "wait_reply", "OCCN", 0], // §7.5.2 wait-reply, receive OCCN
    ["lns_outgoing", "wait_connect", "OCRQ", PEER], // §7.5.2 wait-connect
  ];
  for (const [role, phase, message, header] of cases) {
    const r = transition(reach(role, phase), rx(message, { assignedSessionId: 99 }));
    const [cdn] = sends(r.effects);
    assert.equal(cdn?.message, "CDN", `${role} ${phase} ${message}`);
    assert.equal(cdn.headerSessionId, header, `${role} ${phase} ${message}`);
    assert.equal(cdn.fields.assignedSessionId, LOCAL);
    const rc = cdn.fields.resultCode!;
    assert.equal(rc.resultCode, 2);
    assert.equal(rc.errorCode, 0);
    assert.match(
      rc.errorMessage!,
      new RegExp(`^${message} received in ${phase} .*improper sequence`),
    );
    assert.equal(r.state.phase, "closed");
    assert.equal(r.state.result?.by, "local");
  }
});

Deno.test("in idle, an unexpected message with no id to answer just closes (RFC idle rows)", () => {
  const r = transition(start("lns_incoming"), rx("ICCN", { txConnectSpeed: 1, framingType: SYNC }));
  assert.equal(r.state.phase, "closed");
  assert.deepEqual(r.effects.map((e) => e.type), ["closed"]);
});

Deno.test("tunnel messages are not the session's: ignored with a protocol_error", () => {
  const s = reach("lns_incoming", "established");
  const r = transition(s, rx("HELLO"));
  assert.equal(r.state, s);
  assert.deepEqual(r.effects.map((e) => e.type), ["protocol_error"]);
});

Deno.test("local events that do not fit the role or phase are ignored with a protocol_error", () => {
  const cases: [CallRole, SessionPhase, SessionEvent][] = [
    ["lns_incoming", "idle", { type: "place_call", fields: {} }],
    ["lac_outgoing", "idle", { type: "place_call", fields: {} }],
    ["lac_incoming", "wait_reply", { type: "place_call", fields: {} }],
    ["lns_incoming", "wait_connect", { type: "accept" }],
    ["lac_incoming", "wait_reply", { type: "reject", resultCode: 3 }],
    ["lac_outgoing", "wait_accept", { type: "answered", fields: {} }],
    ["lns_outgoing", "wait_connect", { type: "connect_fields", fields: {} }],
    ["lac_incoming", "established", { type: "connect_fields", fields: {} }],
    ["lns_incoming", "established", { type: "wan_error", callErrors: CALL_ERRORS }],
    ["lac_outgoing", "established", { type: "set_link_info", accm: ACCM }],
    ["lac_incoming", "wait_reply", { type: "wan_error", callErrors: CALL_ERRORS }],
  ];
  for (const [role, phase, event] of cases) {
    const s = reach(role, phase);
    const r = transition(s, event);
    assert.equal(r.state, s, `${role} ${phase} ${event.type}`);
    assert.deepEqual(
      r.effects.map((e) => e.type),
      ["protocol_error"],
      `${role} ${phase} ${event.type}`,
    );
  }
});

// --- WEN and SLI -------------------------------------------------------------

Deno.test("WEN is sent by the LAC, SLI by the LNS, to the peer's id (§6.13, §6.14)", () => {
  for (const role of ["lac_incoming", "lac_outgoing"] as const) {
    const r = transition(reach(role, "established"), {
      type: "wan_error",
      callErrors: CALL_ERRORS,
    });
    assert.deepEqual(r.effects, [{
      type: "send",
      message: "WEN",
      headerSessionId: PEER,
      fields: { callErrors: CALL_ERRORS },
    }]);
    assert.equal(r.state.phase, "established");
  }
  for (const role of ["lns_incoming", "lns_outgoing"] as const) {
    const r = transition(reach(role, "established"), { type: "set_link_info", accm: ACCM });
    assert.deepEqual(r.effects, [{
      type: "send",
      message: "SLI",
      headerSessionId: PEER,
      fields: { accm: ACCM },
    }]);
  }
});

Deno.test("WEN and SLI received are reported whichever way they come; early ones are ignored", () => {
  for (const role of ROLES) {
    const s = reach(role, "established");
    assert.deepEqual(transition(s, rx("WEN", { callErrors: CALL_ERRORS })), {
      state: s,
      effects: [{ type: "wan_error", callErrors: CALL_ERRORS }],
    });
    assert.deepEqual(transition(s, rx("SLI", { accm: ACCM })), {
      state: s,
      effects: [{ type: "link_info", accm: ACCM }],
    });
  }
  const early = reach("lns_incoming", "wait_connect");
  const r = transition(early, rx("WEN", { callErrors: CALL_ERRORS }));
  assert.equal(r.state, early);
  assert.deepEqual(r.effects.map((e) => e.type), ["protocol_error"]);
});

// --- The table and the constructor -------------------------------------------

Deno.test("every table row cites the RFC and names declared phases", () => {
  assert.ok(SESSION_TABLE.length > 0);
  for (const row of SESSION_TABLE) {
    assert.match(row.section, /§\d/, row.event);
    for (const p of row.phases) assert.ok(SESSION_PHASES.includes(p), p);
    assert.ok(!row.phases.includes("closed"), "closed is handled by the general rule");
  }
});

Deno.test("initialState refuses Session IDs outside 1..65535 (§4.4.4)", () => {
  for (const id of [0, 65536, 1.5, -1]) {
    assert.throws(
      () => initialState({ side: "lac", callType: "incoming", localSessionId: id }),
      RangeError,
    );
  }
  const s = initialState({ side: "lns", callType: "outgoing", localSessionId: 65535 });
  assert.equal(callRole(s), "lns_outgoing");
  assert.deepEqual(s.call, {});
  assert.equal(s.result, null);
});

// --- Properties --------------------------------------------------------------

const SESSION_MESSAGES: MessageTypeName[] = [
  "ICRQ",
  "ICRP",
  "ICCN",
  "OCRQ",
  "OCRP",
  "OCCN",
  "CDN",
  "WEN",
  "SLI",
  "HELLO",
  "StopCCN",
];

const arbFields: fc.Arbitrary<AvpFields> = fc.record({
  assignedSessionId: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffff })),
  callSerialNumber: fc.nat(),
  calledNumber: fc.string({ maxLength: 4 }),
  bearerType: fc.constant(DIGITAL),
  framingType: fc.constant(SYNC),
  txConnectSpeed: fc.nat(),
  resultCode: fc.record({ resultCode: fc.nat(11) }),
  q931CauseCode: fc.record({ causeCode: fc.nat(127), causeMsg: fc.nat(255) }),
  callErrors: fc.constant(CALL_ERRORS),
  accm: fc.constant(ACCM),
}, { requiredKeys: [] });

const arbEvent: fc.Arbitrary<SessionEvent> = fc.oneof(
  fc.record({
    type: fc.constant("received" as const),
    message: fc.constantFrom(...SESSION_MESSAGES),
    fields: arbFields,
    problems: fc.subarray([UNKNOWN_M, BAD_LENGTH, MISSING], { maxLength: 2 }),
  }),
  fc.record({
    type: fc.constant("place_call" as const),
    fields: arbFields,
    deferConnect: fc.boolean(),
  }),
  fc.record({ type: fc.constant("accept" as const) }),
  fc.record({ type: fc.constant("reject" as const), resultCode: fc.nat(11) }),
  fc.record({ type: fc.constant("answered" as const), fields: arbFields }),
  fc.record({ type: fc.constant("connect_fields" as const), fields: arbFields }),
  fc.record({ type: fc.constant("disconnect" as const), resultCode: fc.nat(11) }),
  fc.constant({ type: "wan_error" as const, callErrors: CALL_ERRORS }),
  fc.constant({ type: "set_link_info" as const, accm: ACCM }),
  fc.constant({ type: "tunnel_down" as const }),
);

/** Every (role, phase) a session can be in before it closes. */
const STARTS: [CallRole, SessionPhase][] = ROLES.flatMap((role) =>
  (Object.keys(PATHS[role]) as SessionPhase[]).map((
    phase,
  ): [CallRole, SessionPhase] => [role, phase])
);

/** Which messages each side may send (§6.6–§6.14). */
const SENDS: Record<"lac" | "lns", readonly MessageTypeName[]> = {
  lac: ["ICRQ", "ICCN", "OCRP", "OCCN", "CDN", "WEN"],
  lns: ["ICRP", "OCRQ", "CDN", "SLI"],
};

Deno.test("property: random event sequences never throw, never send after closed, stay in declared phases", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...STARTS),
      fc.array(arbEvent, { maxLength: 12 }),
      (at, events) => {
        let state = reach(...at);
        let closed = false;
        for (const event of events) {
          const { state: next, effects } = transition(state, event);
          assert.ok(SESSION_PHASES.includes(next.phase));
          for (const effect of effects) {
            if (effect.type === "closed") {
              assert.ok(!closed, "closed twice");
              closed = true;
            }
            if (effect.type === "send") {
              assert.ok(!closed, `${effect.message} sent after closed`);
              assert.ok(
                SENDS[state.side].includes(effect.message),
                `${state.side} sent ${effect.message}`,
              );
              assert.equal(effect.headerSessionId, next.peerSessionId ?? 0);
              if (effect.message === "CDN") assert.equal(effect.fields.assignedSessionId, LOCAL);
            }
          }
          assert.equal(next.phase === "closed", closed);
          assert.equal(next.result !== null, closed);
          if (closed) assert.equal(next.phase, "closed");
          assert.equal(next.side, state.side);
          assert.equal(next.callType, state.callType);
          state = next;
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("property: the peer's Session ID, once learnt, never changes", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...STARTS),
      fc.array(arbEvent, { maxLength: 12 }),
      (at, events) => {
        let state = reach(...at);
        for (const event of events) {
          const next = transition(state, event).state;
          if (state.peerSessionId !== null) assert.equal(next.peerSessionId, state.peerSessionId);
          if (next.peerSessionId !== null) {
            assert.ok(
              next.peerSessionId >= 1 && next.peerSessionId <= 0xffff,
            );
          }
          state = next;
        }
      },
    ),
    { numRuns: 1000 },
  );
});
