import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ControlCode,
  decodeControlPacket,
  decodeOptions,
  PPP_IPCP,
  type PppOption,
} from "./frame.ts";
import {
  createNegotiation,
  DEFAULT_TIMERS,
  EVENTS,
  type FsmEvent,
  type NegotiationEffect,
  type NegotiationInput,
  type NegotiationModel,
  type NegotiationTimers,
  type OptionsPolicy,
  STATES,
  step,
  transition,
  TRANSITIONS,
} from "./fsm.ts";
import { createIpcp } from "./ipcp.ts";
import { createLcp, lcpAgreement } from "./lcp.ts";

// The §4.1 table as printed in RFC 1661, parsed here independently of fsm.ts.
const RFC_TABLE_0_5 = `
 Up   |    2     irc,scr/6     -         -         -         -
 Down |    -         -         0       tls/1       0         1
 Open |  tls/1       1     irc,scr/6     3r        5r        5r
 Close|    0       tlf/0       2         2         4         4
  TO+ |    -         -         -         -       str/4     str/5
  TO- |    -         -         -         -       tlf/2     tlf/3
 RCR+ |    -         -       sta/2 irc,scr,sca/8   4         5
 RCR- |    -         -       sta/2 irc,scr,scn/6   4         5
 RCA  |    -         -       sta/2     sta/3       4         5
 RCN  |    -         -       sta/2     sta/3       4         5
 RTR  |    -         -       sta/2     sta/3     sta/4     sta/5
 RTA  |    -         -         2         3       tlf/2     tlf/3
 RUC  |    -         -       scj/2     scj/3     scj/4     scj/5
 RXJ+ |    -         -         2         3         4         5
 RXJ- |    -         -       tlf/2     tlf/3     tlf/2     tlf/3
 RXR  |    -         -         2         3         4         5`;
const RFC_TABLE_6_9 = `
 Up   |    -         -         -           -
 Down |    1         1         1         tld/1
 Open |    6         7         8           9r
 Close|irc,str/4 irc,str/4 irc,str/4 tld,irc,str/4
  TO+ |  scr/6     scr/6     scr/8         -
  TO- |  tlf/3p    tlf/3p    tlf/3p        -
 RCR+ |  sca/8   sca,tlu/9   sca/8   tld,scr,sca/8
 RCR- |  scn/6     scn/7     scn/6   tld,scr,scn/6
 RCA  |  irc/7     scr/6x  irc,tlu/9   tld,scr/6x
 RCN  |irc,scr/6   scr/6x  irc,scr/8   tld,scr/6x
 RTR  |  sta/6     sta/6     sta/6   tld,zrc,sta/5
 RTA  |    6         6         8       tld,scr/6
 RUC  |  scj/6     scj/7     scj/8       scj/9
 RXJ+ |    6         6         8           9
 RXJ- |  tlf/3     tlf/3     tlf/3   tld,irc,str/5
 RXR  |    6         7         8         ser/9`;

function rfcCells(): { state: number; event: string; text: string }[] {
  const cells: { state: number; event: string; text: string }[] = [];
  for (const [table, first] of [[RFC_TABLE_0_5, 0], [RFC_TABLE_6_9, 6]] as const) {
    for (const line of table.trim().split("\n")) {
      const [event, rest] = line.split("|").map((s) => s.trim());
      // "irc,scr/6" cells may touch the bar: split on the bar, then on blanks.
      rest.split(/\s+/).forEach((text, i) => cells.push({ state: first + i, event, text }));
    }
  }
  return cells;
}

Deno.test("every cell of the RFC 1661 §4.1 table: next state and actions", () => {
  const cells = rfcCells();
  assert.equal(cells.length, STATES.length * EVENTS.length);
  for (const { state, event, text } of cells) {
    const from = STATES[state];
    const result = step(from, event as FsmEvent);
    const where = `${from} × ${event} (RFC: ${text})`;
    if (text === "-") {
      // §4.4 Illegal-Event: no transition is taken.
      assert.deepEqual(result, { state: from, actions: [], illegal: true }, where);
      assert.equal(TRANSITIONS[from][event as FsmEvent], null, where);
      continue;
    }
    const [acts, target] = text.includes("/") ? text.split("/") : ["", text];
    const m = /^(\d)([prx]?)$/.exec(target)!;
    assert.equal(result.state, STATES[Number(m[1])], where);
    assert.deepEqual(result.actions, acts === "" ? [] : acts.split(","), where);
    assert.equal(result.illegal, false, where);
    assert.equal(TRANSITIONS[from][event as FsmEvent]!.note, m[2] || undefined, where);
  }
});

Deno.test("random event sequences never leave the declared states", () => {
  fc.assert(fc.property(
    fc.constantFrom(...STATES),
    fc.array(fc.constantFrom(...EVENTS), { maxLength: 60 }),
    (start, events) => {
      let state = start;
      for (const e of events) {
        const r = step(state, e);
        assert.ok(STATES.includes(r.state));
        if (r.illegal) assert.equal(r.state, state);
        state = r.state;
      }
    },
  ));
});

// ---- A simulated link: two negotiations back to back, a clock, a lossy wire.

type Name = "a" | "b";
interface Side {
  model: NegotiationModel<unknown>;
  deadline: number | null;
  log: NegotiationEffect[];
}
interface Link {
  now: number;
  sides: Record<Name, Side>;
  queue: { to: Name; packet: Uint8Array }[];
  /** Drops a packet from `from` when it returns true. */
  drop: (from: Name, packet: Uint8Array) => boolean;
  sent: Record<Name, Uint8Array[]>;
}

function link<A, B>(a: NegotiationModel<A>, b: NegotiationModel<B>): Link {
  const side = (model: NegotiationModel<unknown>): Side => ({ model, deadline: null, log: [] });
  return {
    now: 0,
    sides: { a: side(a as NegotiationModel<unknown>), b: side(b as NegotiationModel<unknown>) },
    queue: [],
    drop: () => false,
    sent: { a: [], b: [] },
  };
}

function feed(l: Link, name: Name, input: NegotiationInput): NegotiationEffect[] {
  const s = l.sides[name];
  const { model, effects } = transition(s.model, input, l.now);
  s.model = model;
  s.log.push(...effects);
  for (const e of effects) {
    if (e.type === "send") {
      l.sent[name].push(e.packet);
      if (!l.drop(name, e.packet)) l.queue.push({ to: name === "a" ? "b" : "a", packet: e.packet });
    }
    if (e.type === "arm_timer") s.deadline = l.now + e.ms;
    if (e.type === "cancel_timer") s.deadline = null;
  }
  return effects;
}

/** Delivers packets, then fires the earliest timer, until quiet or `limit` steps. */
function settle(l: Link, limit = 500): void {
  for (let i = 0; i < limit; i++) {
    const next = l.queue.shift();
    if (next) {
      feed(l, next.to, { type: "receive", packet: next.packet });
      continue;
    }
    const timers = (["a", "b"] as const).filter((n) => l.sides[n].deadline !== null);
    if (timers.length === 0) return;
    const n = timers.reduce((x, y) => l.sides[x].deadline! <= l.sides[y].deadline! ? x : y);
    l.now = l.sides[n].deadline!;
    l.sides[n].deadline = null;
    feed(l, n, { type: "timeout" });
  }
  throw new Error("link did not settle");
}

function openBoth(l: Link): void {
  for (const n of ["a", "b"] as const) {
    feed(l, n, { type: "open" });
    feed(l, n, { type: "up" });
  }
  settle(l);
}

const types = (log: NegotiationEffect[]) => log.map((e) => e.type);
const codes = (packets: Uint8Array[]) => packets.map((p) => p[0]);
let magicSeed = 0x1000;
const magic = () => ++magicSeed * 0x9e3779b1 >>> 0;

Deno.test("LCP back to back: both Opened, tlu once each, agreement on both sides", () => {
  const l = link(
    createLcp({ magic, requireAuth: ["chap"], pfc: true, acfc: true, mru: 1400 }),
    createLcp({ magic, acceptAuth: ["pap", "chap"], pfc: true }),
  );
  openBoth(l);
  const a = l.sides.a.model as ReturnType<typeof createLcp>;
  const b = l.sides.b.model as ReturnType<typeof createLcp>;
  assert.equal(a.state, "Opened");
  assert.equal(b.state, "Opened");
  assert.equal(types(l.sides.a.log).filter((t) => t === "this_layer_up").length, 1);
  assert.equal(types(l.sides.b.log).filter((t) => t === "this_layer_up").length, 1);
  const agreedA = lcpAgreement(a)!;
  const agreedB = lcpAgreement(b)!;
  assert.equal(agreedA.authenticatePeerWith, "chap");
  assert.equal(agreedB.authenticateWith, "chap");
  assert.equal(agreedB.peerMru, 1400);
  assert.equal(agreedA.ourMagic, agreedB.peerMagic);
  assert.equal(agreedB.ourMagic, agreedA.peerMagic);
  // b accepts PFC but not ACFC (not configured): b Rejected a's ACFC.
  assert.equal(agreedB.pfc, true);
  assert.equal(agreedB.acfc, false);
  assert.equal(l.sides.a.deadline, null, "Restart timer stopped in Opened");
});

Deno.test("IPCP back to back: the client gets the address allocate() gave, and the DNS", () => {
  let calls = 0;
  const l = link(
    createIpcp({
      role: "server",
      localAddress: "192.0.2.1",
      allocate: () => (calls++, "198.51.100.7"),
      dns: { primary: "192.0.2.53", secondary: "192.0.2.54" },
    }),
    createIpcp({ role: "client", requestDns: true }),
  );
  openBoth(l);
  const server = l.sides.a.model as ReturnType<typeof createIpcp>;
  const client = l.sides.b.model as ReturnType<typeof createIpcp>;
  assert.equal(server.state, "Opened");
  assert.equal(client.state, "Opened");
  assert.equal(calls, 1, "allocate() once per negotiation, not per Configure-Request");
  assert.equal(client.local.address, "198.51.100.7");
  assert.equal(client.local.primaryDns, "192.0.2.53");
  assert.equal(client.local.secondaryDns, "192.0.2.54");
  assert.equal(client.local.peerAddress, "192.0.2.1");
  assert.equal(server.local.peerAddress, "198.51.100.7");
  // The client's first request asked 0.0.0.0 and drew a Nak (code 3).
  assert.ok(codes(l.sent.a).includes(ControlCode.ConfigureNak));
  for (const e of l.sides.a.log) if (e.type === "send") assert.equal(e.protocol, PPP_IPCP);
});

Deno.test("IPCP with the pool exhausted: the server Rejects IP-Address and both sides close", () => {
  const l = link(
    createIpcp({ role: "server", localAddress: "192.0.2.1", allocate: () => null }),
    createIpcp({ role: "client" }),
  );
  openBoth(l);
  const server = l.sides.a.model;
  const client = l.sides.b.model;
  assert.ok(
    l.sides.a.log.some((e) => e.type === "failed" && e.reason === "address pool exhausted"),
  );
  assert.ok(
    l.sides.b.log.some((e) =>
      e.type === "failed" && e.reason === "peer refused to assign an address"
    ),
  );
  assert.ok(codes(l.sent.a).includes(ControlCode.ConfigureReject));
  assert.ok(["Closed", "Stopped"].includes(server.state), server.state);
  assert.ok(["Closed", "Stopped"].includes(client.state), client.state);
  assert.ok(types(l.sides.a.log).includes("this_layer_finished"));
  assert.ok(types(l.sides.b.log).includes("this_layer_finished"));
  assert.ok(!types(l.sides.a.log).includes("this_layer_up"));
});

/** A policy asking for option 1 with its state's value, and judging option 1 per `judge1`. */
function stubPolicy(
  judge1: (value: number) => "ack" | number | "reject",
): OptionsPolicy<{ want: number | null }> {
  return {
    request: (l) => l.want === null ? [] : [{ type: 1, data: new Uint8Array([l.want]) }],
    judge(local, peer) {
      const rejected = peer.filter((o) => o.type !== 1 || judge1(o.data[0]) === "reject");
      if (rejected.length) return { local, verdict: { kind: "reject", options: rejected } };
      const naks: PppOption[] = peer.flatMap((o) => {
        const j = judge1(o.data[0]);
        return typeof j === "number" ? [{ type: 1, data: new Uint8Array([j]) }] : [];
      });
      return { local, verdict: naks.length ? { kind: "nak", options: naks } : { kind: "ack" } };
    },
    onAck: (l) => l,
    onNak: (l) => l, // stubborn: asks the same again
    onReject: () => ({ want: null }),
    restart: (l) => l,
  };
}

function stub(
  want: number | null,
  judge1: (value: number) => "ack" | number | "reject",
  timers: Partial<NegotiationTimers> = {},
) {
  return createNegotiation(
    {
      protocol: 0x8021,
      name: "stub",
      policy: stubPolicy(judge1),
      timers: { ...DEFAULT_TIMERS, ...timers },
    },
    { want },
  );
}

Deno.test("Nak loop: after Max-Failure Naks the next answer is a Reject, then both open", () => {
  const l = link(stub(null, () => 9), stub(1, () => "ack"));
  openBoth(l);
  const answers = codes(l.sent.a).filter((c) =>
    c === ControlCode.ConfigureNak || c === ControlCode.ConfigureReject
  );
  assert.deepEqual(answers, [3, 3, 3, 3, 3, 4], "five Naks (Max-Failure), then a Reject");
  assert.equal(l.sides.a.model.state, "Opened");
  assert.equal(l.sides.b.model.state, "Opened");
});

Deno.test("Max-Failure is configurable", () => {
  const l = link(stub(null, () => 9, { maxFailure: 2 }), stub(1, () => "ack"));
  openBoth(l);
  const answers = codes(l.sent.a).filter((c) => c === 3 || c === 4);
  assert.deepEqual(answers, [3, 3, 4]);
});

Deno.test("a peer that rejects everything: LCP drops each option and opens with none", () => {
  const l = link(
    createLcp({ magic, mru: 1400, pfc: true, acfc: true }),
    stub(null, () => "reject"),
  );
  openBoth(l);
  const a = l.sides.a.model as ReturnType<typeof createLcp>;
  assert.equal(a.state, "Opened");
  assert.deepEqual(a.local.ours, { mru: null, magic: null, authIndex: 0, pfc: false, acfc: false });
  assert.equal(lcpAgreement(a)!.ourMagic, 0, "no Magic-Number negotiated (§6.4)");
});

Deno.test("a peer that rejects our Authentication-Protocol: LCP fails and closes", () => {
  const l = link(createLcp({ magic, requireAuth: ["chap", "pap"] }), stub(null, () => "reject"));
  openBoth(l);
  const a = l.sides.a.model;
  assert.ok(
    l.sides.a.log.some((e) => e.type === "failed" && e.reason === "peer refuses to authenticate"),
  );
  assert.ok(!types(l.sides.a.log).includes("this_layer_up"));
  assert.equal(a.state, "Closed");
  assert.ok(codes(l.sent.a).includes(ControlCode.TerminateRequest));
});

Deno.test("magic-number loopback: an LCP wired to itself is declared looped back (§6.4)", () => {
  const side = { model: createLcp({ magic, loopbackLimit: 3 }) as NegotiationModel<unknown> };
  const log: NegotiationEffect[] = [];
  const queue: Uint8Array[] = [];
  const input = (i: NegotiationInput) => {
    const r = transition(side.model, i, 0);
    side.model = r.model;
    log.push(...r.effects);
    for (const e of r.effects) if (e.type === "send") queue.push(e.packet);
  };
  input({ type: "open" });
  input({ type: "up" });
  for (let i = 0; i < 100 && queue.length > 0; i++) {
    input({ type: "receive", packet: queue.shift()! });
  }
  assert.ok(log.some((e) => e.type === "failed" && e.reason === "loopback"));
  assert.ok(!log.some((e) => e.type === "this_layer_up"));
  // Our Configure-Request came back and was Nak'ed with a new number each round.
  const naks = log.filter((e) => e.type === "send" && e.packet[0] === ControlCode.ConfigureNak);
  assert.equal(naks.length, 3);
});

Deno.test("lost packets: retransmission with the same Identifier, then Opened", () => {
  const l = link(createLcp({ magic }), createLcp({ magic }));
  let dropped = 0;
  l.drop = (from) => from === "a" && dropped++ < 3;
  openBoth(l);
  assert.equal(l.sides.a.model.state, "Opened");
  assert.equal(l.sides.b.model.state, "Opened");
  const requests = l.sent.a.filter((p) => p[0] === ControlCode.ConfigureRequest);
  assert.ok(requests.length >= 2);
  assert.equal(requests[0][1], requests[1][1], "a retransmission keeps its Identifier");
  assert.ok(l.now >= 3000, "the Restart timer (3 s) fired");
});

Deno.test("all packets lost: Max-Configure Configure-Requests, then tlf in Stopped", () => {
  const l = link(createLcp({ magic }), createLcp({ magic }));
  l.drop = () => true;
  feed(l, "a", { type: "open" });
  feed(l, "a", { type: "up" });
  settle(l);
  const a = l.sides.a.model;
  assert.equal(l.sent.a.length, 10, "Max-Configure = 10 transmissions");
  assert.equal(a.state, "Stopped");
  assert.equal(types(l.sides.a.log).filter((t) => t === "this_layer_finished").length, 1);
  assert.equal(l.now, 30_000);
});

Deno.test("passive option: Configure-Request timeouts reach Stopped without tlf", () => {
  const l = link(
    createLcp({ magic, timers: { passive: true, maxConfigure: 3, restartMs: 100 } }),
    stub(null, () => "ack"),
  );
  l.drop = () => true;
  feed(l, "a", { type: "open" });
  feed(l, "a", { type: "up" });
  settle(l);
  assert.equal(l.sent.a.length, 3);
  assert.equal(l.sides.a.model.state, "Stopped");
  assert.ok(!types(l.sides.a.log).includes("this_layer_finished"));
});

Deno.test("Terminate handshake: Closing→Closed with tlf; the peer waits a Restart time in Stopping", () => {
  const l = link(createLcp({ magic }), createLcp({ magic }));
  openBoth(l);
  l.sides.a.log = [];
  l.sides.b.log = [];
  const closing = feed(l, "a", { type: "close", reason: "admin" });
  assert.deepEqual(types(closing), ["this_layer_down", "send", "arm_timer"]);
  assert.equal(l.sides.a.model.state, "Closing");
  const request = decodeControlPacket(l.queue[0].packet);
  assert.ok(request.ok);
  assert.equal(request.value.code, ControlCode.TerminateRequest);
  assert.equal(new TextDecoder().decode(request.value.data), "admin");
  const next = l.queue.shift()!;
  feed(l, next.to, { type: "receive", packet: next.packet });
  assert.equal(l.sides.b.model.state, "Stopping");
  assert.deepEqual(types(l.sides.b.log), ["this_layer_down", "arm_timer", "send"]);
  settle(l);
  assert.equal(l.sides.a.model.state, "Closed");
  assert.ok(types(l.sides.a.log).includes("this_layer_finished"));
  assert.equal(l.sides.b.model.state, "Stopped");
  assert.ok(types(l.sides.b.log).includes("this_layer_finished"));
  assert.equal(l.now, 3000, "the receiver of Terminate-Request waited one Restart time (zrc)");
});

Deno.test("Terminate-Request unanswered: Max-Terminate transmissions, then tlf in Closed", () => {
  const l = link(createLcp({ magic }), createLcp({ magic }));
  openBoth(l);
  l.drop = () => true;
  const before = l.sent.a.length;
  feed(l, "a", { type: "close" });
  settle(l);
  assert.equal(l.sent.a.length - before, 2);
  assert.equal(l.sides.a.model.state, "Closed");
});

Deno.test("stale timeouts are ignored", () => {
  let m = createLcp({ magic });
  m = transition(m, { type: "open" }, 0).model;
  m = transition(m, { type: "up" }, 0).model;
  const early = transition(m, { type: "timeout" }, 10);
  assert.deepEqual(early.effects, [{ type: "discard", reason: "stale timeout" }]);
  assert.equal(early.model.restartCount, m.restartCount);
  const due = transition(m, { type: "timeout" }, 3000);
  assert.equal(due.effects.filter((e) => e.type === "send").length, 1);
});

Deno.test("an illegal event is reported and changes nothing (§4.4)", () => {
  const m = createLcp({ magic });
  const r = transition(m, { type: "down" }, 0);
  assert.deepEqual(r.effects, [{ type: "illegal_event", state: "Initial", event: "Down" }]);
  assert.equal(r.model.state, "Initial");
});

function opened() {
  const l = link(createLcp({ magic }), createLcp({ magic }));
  openBoth(l);
  return l;
}

Deno.test("unknown code: Code-Reject carrying the packet; Code-Reject of it is RXJ+", () => {
  const l = opened();
  const effects = feed(l, "a", { type: "receive", packet: new Uint8Array([0x42, 7, 0, 6, 1, 2]) });
  const sent = effects.find((e) => e.type === "send")!;
  assert.ok(sent.type === "send");
  assert.equal(sent.packet[0], ControlCode.CodeReject);
  assert.deepEqual(sent.packet.subarray(4), new Uint8Array([0x42, 7, 0, 6, 1, 2]));
  assert.equal(l.sides.a.model.state, "Opened");
  const rxjPlus = feed(l, "a", {
    type: "receive",
    packet: new Uint8Array([7, 1, 0, 8, 12, 1, 0, 4]),
  });
  assert.deepEqual(rxjPlus, []);
  assert.equal(l.sides.a.model.state, "Opened");
});

Deno.test("Code-Reject of Configure-Request is catastrophic (RXJ-): Opened → Stopping", () => {
  const l = opened();
  const effects = feed(l, "a", {
    type: "receive",
    packet: new Uint8Array([7, 1, 0, 8, 1, 1, 0, 4]),
  });
  assert.deepEqual(types(effects), ["this_layer_down", "send", "arm_timer"]);
  assert.equal(l.sides.a.model.state, "Stopping");
});

Deno.test("Configure-Ack for another Identifier or with other options is discarded", () => {
  let m = createLcp({ magic: () => 0x01020304 });
  m = transition(m, { type: "open" }, 0).model;
  const up = transition(m, { type: "up" }, 0);
  m = up.model;
  const sent = up.effects.find((e) => e.type === "send")!;
  assert.ok(sent.type === "send");
  const wrongId = sent.packet.slice();
  wrongId[0] = ControlCode.ConfigureAck;
  wrongId[1] ^= 0xff;
  assert.equal(transition(m, { type: "receive", packet: wrongId }, 0).model.state, "Req-Sent");
  const wrongData = sent.packet.slice();
  wrongData[0] = ControlCode.ConfigureAck;
  wrongData[wrongData.length - 1] ^= 1;
  assert.equal(transition(m, { type: "receive", packet: wrongData }, 0).model.state, "Req-Sent");
  const ack = sent.packet.slice();
  ack[0] = ControlCode.ConfigureAck;
  assert.equal(transition(m, { type: "receive", packet: ack }, 0).model.state, "Ack-Rcvd");
});

Deno.test("a Configure-Request whose option runs past the packet is discarded silently (§6)", () => {
  let m = createLcp({ magic });
  m = transition(m, { type: "open" }, 0).model;
  m = transition(m, { type: "up" }, 0).model;
  const r = transition(m, { type: "receive", packet: new Uint8Array([1, 1, 0, 6, 1, 9]) }, 0);
  assert.deepEqual(types(r.effects), ["discard"]);
  assert.equal(r.model.state, "Req-Sent");
});

Deno.test("restart option: Open in Opened renegotiates (Down then Up)", () => {
  const l = link(createLcp({ magic, timers: { restartOption: true } }), createLcp({ magic }));
  openBoth(l);
  const effects = feed(l, "a", { type: "open" });
  assert.deepEqual(types(effects), ["this_layer_down", "send", "arm_timer"]);
  assert.equal(l.sides.a.model.state, "Req-Sent");
  settle(l);
  assert.equal(l.sides.a.model.state, "Opened");
});

const anyInput: fc.Arbitrary<NegotiationInput> = fc.oneof(
  fc.constantFrom<NegotiationInput>(
    { type: "up" },
    { type: "down" },
    { type: "open" },
    { type: "close" },
    { type: "timeout" },
  ),
  fc.record({
    type: fc.constant("receive" as const),
    packet: fc.tuple(fc.integer({ min: 1, max: 14 }), fc.uint8Array({ maxLength: 24 })).map(
      ([code, rest]) => {
        const p = new Uint8Array(4 + rest.length);
        p.set([code, rest[0] ?? 1, 0, p.length]);
        p.set(rest, 4);
        return p;
      },
    ),
  }),
  fc.record({ type: fc.constant("receive" as const), packet: fc.uint8Array({ maxLength: 24 }) }),
);

Deno.test("random inputs to LCP and IPCP: never throw, stay in declared states, timer only where it runs", () => {
  const timerStates = new Set(["Closing", "Stopping", "Req-Sent", "Ack-Rcvd", "Ack-Sent"]);
  fc.assert(fc.property(fc.boolean(), fc.array(anyInput, { maxLength: 40 }), (isLcp, inputs) => {
    let m: NegotiationModel<unknown> = isLcp
      ? createLcp({ magic, requireAuth: ["pap"], acceptAuth: ["chap"] }) as NegotiationModel<
        unknown
      >
      : createIpcp({
        role: "server",
        localAddress: "10.0.0.1",
        allocate: () => "10.0.0.2",
      }) as NegotiationModel<unknown>;
    let now = 0;
    for (const input of inputs) {
      now += 1000;
      m = transition(m, input, now).model;
      assert.ok(STATES.includes(m.state));
      assert.equal(m.timerDeadline !== null, timerStates.has(m.state), m.state);
      assert.ok(m.nextIdentifier >= 0 && m.nextIdentifier <= 255);
    }
  }));
});

Deno.test("every sent Configure-Request decodes to the options the policy asked", () => {
  const l = opened();
  for (const p of l.sent.a.filter((p) => p[0] === ControlCode.ConfigureRequest)) {
    const c = decodeControlPacket(p);
    assert.ok(c.ok);
    assert.ok(decodeOptions(c.value.data).ok);
  }
});
