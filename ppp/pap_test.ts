import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AuthEffect,
  type AuthEvent,
  decodePap,
  encodePap,
  initPapAuthenticator,
  initPapPeer,
  type PapPacket,
  proxyFieldsFromPap,
  stepPapAuthenticator,
  stepPapPeer,
} from "./pap.ts";

const enc = new TextEncoder();
const USERS: Record<string, string> = { "alice@isp-a.example": "s3cret" };
const verify = (user: string, password: string) => USERS[user] === password;

function sent(effects: readonly AuthEffect[]): PapPacket[] {
  return effects.flatMap((e) => {
    if (e.type !== "send") return [];
    const d = decodePap(e.packet);
    assert.ok(d.ok);
    return [d.value];
  });
}

function outcomes(effects: readonly AuthEffect[]): AuthEffect[] {
  return effects.filter((e) => e.type === "authenticated" || e.type === "failed");
}

const request = (identifier: number, name: string, password: string) =>
  encodePap({
    type: "Authenticate-Request",
    identifier,
    peerId: enc.encode(name),
    password: enc.encode(password),
  });

Deno.test("Authenticate-Request layout: Peer-ID Length, Peer-ID, Passwd-Length, Password (RFC 1334 §2.2.1)", () => {
  assert.deepEqual(
    request(7, "ab", "xyz"),
    new Uint8Array([1, 7, 0, 11, 2, 0x61, 0x62, 3, 0x78, 0x79, 0x7a]),
  );
  assert.deepEqual(
    encodePap({ type: "Authenticate-Ack", identifier: 7, message: "ok" }),
    new Uint8Array([2, 7, 0, 7, 2, 0x6f, 0x6b]),
  );
});

Deno.test("decodePap: round trip, padding past Length ignored, malformed packets are errors", () => {
  const packet: PapPacket = {
    type: "Authenticate-Request",
    identifier: 200,
    peerId: enc.encode("bob"),
    password: new Uint8Array([0, 0xff]),
  };
  const padded = new Uint8Array([...encodePap(packet), 0xee, 0xee]);
  assert.deepEqual(decodePap(padded), { ok: true, value: packet });
  // An Ack without Msg-Length is an empty Message, as some authenticators send it.
  assert.deepEqual(decodePap(new Uint8Array([2, 1, 0, 4])), {
    ok: true,
    value: { type: "Authenticate-Ack", identifier: 1, message: "" },
  });
  const code = (b: number[]) => {
    const r = decodePap(new Uint8Array(b));
    return r.ok ? "ok" : r.error.code;
  };
  assert.equal(code([1, 1, 0]), "truncated");
  assert.equal(code([1, 1, 0, 3]), "bad_length");
  assert.equal(code([1, 1, 0, 9, 0]), "truncated");
  assert.equal(code([1, 1, 0, 5, 0]), "bad_length"); // no Passwd-Length
  assert.equal(code([1, 1, 0, 7, 0, 3, 0x61]), "bad_length"); // Password runs past Length
  assert.equal(code([2, 1, 0, 6, 5, 0x61]), "bad_length"); // Message runs past Length
  assert.equal(code([9, 1, 0, 4]), "unknown_message_type");
  assert.throws(
    () => encodePap({ type: "Authenticate-Ack", identifier: 1, message: "x".repeat(256) }),
    RangeError,
  );
});

Deno.test("decodePap never throws and never reads past the buffer on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const r = decodePap(bytes);
      if (r.ok && r.value.type === "Authenticate-Request") {
        // Everything decoded came from inside Length: encoding it again gives those bytes.
        const length = (bytes[2] << 8) | bytes[3];
        const again = encodePap(r.value);
        assert.ok(again.length <= length);
        assert.deepEqual(again.subarray(4), bytes.subarray(4, again.length));
      }
    }),
    { numRuns: 2000 },
  );
  // Well-formed headers with random bodies reach the field parsers more often.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3 }), fc.uint8Array({ maxLength: 40 }), (c, body) => {
      const length = 4 + body.length;
      decodePap(new Uint8Array([c, 1, length >> 8, length & 0xff, ...body]));
    }),
    { numRuns: 2000 },
  );
});

function startedAuthenticator(timeoutMs = 30_000) {
  const r = stepPapAuthenticator(initPapAuthenticator({ verify, timeoutMs }), {
    type: "start",
    now: 1000,
  });
  assert.deepEqual(r.effects, [{ type: "arm_timer", ms: timeoutMs }]);
  return r.state;
}

Deno.test("PAP authenticator: right password → Ack, authenticated, timer cancelled", () => {
  const s = startedAuthenticator();
  const r = stepPapAuthenticator(s, {
    type: "receive",
    packet: request(5, "alice@isp-a.example", "s3cret"),
    now: 1250,
  });
  assert.deepEqual(sent(r.effects), [
    { type: "Authenticate-Ack", identifier: 5, message: "Login ok" },
  ]);
  assert.ok(r.effects.some((e) => e.type === "cancel_timer"));
  assert.deepEqual(outcomes(r.effects), [
    { type: "authenticated", user: "alice@isp-a.example", elapsedMs: 250 },
  ]);
  assert.equal(r.state.phase, "authenticated");
  assert.deepEqual(r.state.exchange, {
    name: "alice@isp-a.example",
    password: enc.encode("s3cret"),
    identifier: 5,
  });
});

Deno.test("PAP authenticator: wrong password → Nak and failure; a repeated request is Nak'd again", () => {
  const s = startedAuthenticator();
  const r = stepPapAuthenticator(s, {
    type: "receive",
    packet: request(5, "alice@isp-a.example", "guess"),
    now: 1001,
  });
  assert.deepEqual(sent(r.effects), [
    { type: "Authenticate-Nak", identifier: 5, message: "Login incorrect" },
  ]);
  assert.deepEqual(outcomes(r.effects), [
    { type: "failed", reason: "bad_credentials", elapsedMs: 1 },
  ]);
  assert.equal(r.state.exchange, undefined);
  // RFC 1334 §2.2.1: the same reply Code, and no second outcome — not even for the right password.
  const again = stepPapAuthenticator(r.state, {
    type: "receive",
    packet: request(6, "alice@isp-a.example", "s3cret"),
    now: 1002,
  });
  assert.deepEqual(sent(again.effects).map((p) => [p.type, p.identifier]), [
    ["Authenticate-Nak", 6],
  ]);
  assert.deepEqual(outcomes(again.effects), []);
});

Deno.test("PAP authenticator: a duplicate request after success is Acked again, with no new outcome", () => {
  const ok = stepPapAuthenticator(startedAuthenticator(), {
    type: "receive",
    packet: request(1, "alice@isp-a.example", "s3cret"),
    now: 1001,
  }).state;
  const dup = stepPapAuthenticator(ok, {
    type: "receive",
    packet: request(2, "alice@isp-a.example", "s3cret"),
    now: 1002,
  });
  assert.deepEqual(sent(dup.effects).map((p) => [p.type, p.identifier]), [["Authenticate-Ack", 2]]);
  assert.deepEqual(outcomes(dup.effects), []);
  assert.equal(dup.state, ok);
});

Deno.test("PAP authenticator: no request in time → failure; a late request is then Nak'd", () => {
  const s = startedAuthenticator(5000);
  const t = stepPapAuthenticator(s, { type: "timeout", now: 6000 });
  assert.deepEqual(t.effects, [{ type: "failed", reason: "timeout", elapsedMs: 5000 }]);
  assert.equal(t.state.phase, "failed");
  assert.deepEqual(stepPapAuthenticator(t.state, { type: "timeout", now: 7000 }).effects, []);
  const late = stepPapAuthenticator(t.state, {
    type: "receive",
    packet: request(1, "alice@isp-a.example", "s3cret"),
    now: 7000,
  });
  assert.deepEqual(sent(late.effects).map((p) => p.type), ["Authenticate-Nak"]);
});

Deno.test("PAP authenticator: requests before start, garbage and Acks are silently discarded", () => {
  const initial = initPapAuthenticator({ verify });
  const early = stepPapAuthenticator(initial, {
    type: "receive",
    packet: request(1, "alice@isp-a.example", "s3cret"),
    now: 0,
  });
  assert.deepEqual(early.effects, []);
  assert.equal(early.state, initial);
  const s = startedAuthenticator();
  for (
    const packet of [
      new Uint8Array([1, 2, 3]),
      encodePap({ type: "Authenticate-Ack", identifier: 1, message: "" }),
    ]
  ) {
    const r = stepPapAuthenticator(s, { type: "receive", packet, now: 1001 });
    assert.deepEqual(r.effects, []);
    assert.equal(r.state, s);
  }
});

Deno.test("PAP authenticator: a Peer-ID or password that is not UTF-8 is Nak'd without calling verify", () => {
  let called = false;
  const s = stepPapAuthenticator(
    initPapAuthenticator({ verify: () => (called = true) }),
    { type: "start", now: 0 },
  ).state;
  const packet = encodePap({
    type: "Authenticate-Request",
    identifier: 1,
    peerId: new Uint8Array([0xff, 0xfe]),
    password: enc.encode("x"),
  });
  const r = stepPapAuthenticator(s, { type: "receive", packet, now: 1 });
  assert.equal(called, false);
  assert.deepEqual(sent(r.effects).map((p) => p.type), ["Authenticate-Nak"]);
});

/** Runs `events` through a fresh peer and returns every effect. */
function runPeer(config: Parameters<typeof initPapPeer>[0], events: AuthEvent[]) {
  let s = initPapPeer(config);
  const effects: AuthEffect[] = [];
  for (const e of events) {
    const r = stepPapPeer(s, e);
    s = r.state;
    effects.push(...r.effects);
  }
  return { state: s, effects };
}

Deno.test("PAP peer: sends the request on start and is authenticated by the matching Ack", () => {
  const start = runPeer({ name: "alice@isp-a.example", password: "s3cret", firstIdentifier: 42 }, [
    { type: "start", now: 0 },
  ]);
  assert.deepEqual(sent(start.effects), [{
    type: "Authenticate-Request",
    identifier: 42,
    peerId: enc.encode("alice@isp-a.example"),
    password: enc.encode("s3cret"),
  }]);
  assert.equal(start.effects[0].type === "send" && start.effects[0].protocol, 0xc023);
  assert.deepEqual(start.effects[1], { type: "arm_timer", ms: 3000 });
  const r = stepPapPeer(start.state, {
    type: "receive",
    packet: encodePap({ type: "Authenticate-Ack", identifier: 42, message: "welcome" }),
    now: 20,
  });
  assert.deepEqual(r.effects, [
    { type: "cancel_timer" },
    { type: "authenticated", user: "alice@isp-a.example", elapsedMs: 20 },
  ]);
});

Deno.test("PAP peer: a Nak is failure with the authenticator's message", () => {
  const r = runPeer({ name: "a", password: "b" }, [
    { type: "start", now: 0 },
    {
      type: "receive",
      packet: encodePap({ type: "Authenticate-Nak", identifier: 1, message: "Login incorrect" }),
      now: 5,
    },
  ]);
  assert.deepEqual(outcomes(r.effects), [
    { type: "failed", reason: "rejected", message: "Login incorrect", elapsedMs: 5 },
  ]);
  assert.equal(r.state.phase, "failed");
});

Deno.test("PAP peer: Ack or Nak with another Identifier is ignored", () => {
  const r = runPeer({ name: "a", password: "b", firstIdentifier: 10 }, [{ type: "start", now: 0 }]);
  for (const type of ["Authenticate-Ack", "Authenticate-Nak"] as const) {
    const x = stepPapPeer(r.state, {
      type: "receive",
      packet: encodePap({ type, identifier: 11, message: "" }),
      now: 1,
    });
    assert.deepEqual(x.effects, []);
    assert.equal(x.state, r.state);
  }
});

Deno.test("PAP peer: retransmits N times with a new Identifier each, then fails", () => {
  const N = 3;
  const events: AuthEvent[] = [{ type: "start", now: 0 }];
  for (let i = 1; i <= N + 1; i++) events.push({ type: "timeout", now: i * 1000 });
  const r = runPeer({ name: "a", password: "b", restartMs: 1000, maxRetransmits: N }, events);
  const requests = sent(r.effects);
  assert.equal(requests.length, 1 + N);
  assert.deepEqual(requests.map((p) => p.identifier), [1, 2, 3, 4]);
  assert.deepEqual(outcomes(r.effects), [{ type: "failed", reason: "timeout", elapsedMs: 4000 }]);
  // The last request's Ack, arriving too late, changes nothing.
  const late = stepPapPeer(r.state, {
    type: "receive",
    packet: encodePap({ type: "Authenticate-Ack", identifier: 4, message: "" }),
    now: 4001,
  });
  assert.deepEqual(late.effects, []);
});

Deno.test("PAP peer: the Identifier wraps at 255, and an Ack for an older request is ignored", () => {
  const r = runPeer({ name: "a", password: "b", firstIdentifier: 255 }, [
    { type: "start", now: 0 },
    { type: "timeout", now: 3000 },
  ]);
  assert.deepEqual(sent(r.effects).map((p) => p.identifier), [255, 0]);
  const old = stepPapPeer(r.state, {
    type: "receive",
    packet: encodePap({ type: "Authenticate-Ack", identifier: 255, message: "" }),
    now: 3001,
  });
  assert.deepEqual(old.effects, []);
});

Deno.test("PAP peer and authenticator talk to each other; proxy fields carry what was Acked", () => {
  let peer = initPapPeer({ name: "alice@isp-a.example", password: "s3cret" });
  let auth = initPapAuthenticator({ verify });
  const toAuth: Uint8Array[] = [];
  const toPeer: Uint8Array[] = [];
  const collect = (effects: readonly AuthEffect[], into: Uint8Array[]) => {
    for (const e of effects) if (e.type === "send") into.push(e.packet);
  };
  let r = stepPapAuthenticator(auth, { type: "start", now: 0 });
  auth = r.state;
  const p = stepPapPeer(peer, { type: "start", now: 0 });
  peer = p.state;
  collect(p.effects, toAuth);
  r = stepPapAuthenticator(auth, { type: "receive", packet: toAuth[0], now: 1 });
  auth = r.state;
  collect(r.effects, toPeer);
  const done = stepPapPeer(peer, { type: "receive", packet: toPeer[0], now: 2 });
  assert.equal(done.state.phase, "authenticated");
  assert.ok(auth.exchange);
  assert.deepEqual(proxyFieldsFromPap(auth.exchange), {
    proxyAuthenType: 3,
    proxyAuthenName: "alice@isp-a.example",
    proxyAuthenId: 1,
    proxyAuthenResponse: enc.encode("s3cret"),
  });
});

Deno.test("PAP peer refuses a name that does not fit Peer-ID Length", () => {
  assert.throws(() => initPapPeer({ name: "x".repeat(256), password: "b" }), RangeError);
});
