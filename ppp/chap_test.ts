import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import {
  type ChapAuthenticatorConfig,
  type ChapAuthenticatorState,
  type ChapPacket,
  chapResponse,
  decodeChap,
  encodeChap,
  initChapAuthenticator,
  initChapPeer,
  proxyFieldsFromChap,
  stepChapAuthenticator,
  stepChapPeer,
} from "./chap.ts";
import type { AuthEffect, AuthEvent } from "./pap.ts";

const enc = new TextEncoder();
const SECRETS: Record<string, string> = { "alice@isp-a.example": "s3cret" };

/** A deterministic `random`: 0, 1, 2, … across calls, so every Challenge differs. */
function counter(): (n: number) => Uint8Array {
  let next = 0;
  return (n) => Uint8Array.from({ length: n }, () => next++ & 0xff);
}

function config(extra: Partial<ChapAuthenticatorConfig> = {}): ChapAuthenticatorConfig {
  return { name: "lts", random: counter(), secretFor: (u) => SECRETS[u], ...extra };
}

function sent(effects: readonly AuthEffect[]): ChapPacket[] {
  return effects.flatMap((e) => {
    if (e.type !== "send") return [];
    const d = decodeChap(e.packet);
    assert.ok(d.ok);
    return [d.value];
  });
}

function outcomes(effects: readonly AuthEffect[]): AuthEffect[] {
  return effects.filter((e) => e.type === "authenticated" || e.type === "failed");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const response = (identifier: number, name: string, value: Uint8Array) =>
  encodeChap({ type: "Response", identifier, value, name: enc.encode(name) });

Deno.test("CHAP MD5 Response = MD5(Identifier ‖ secret ‖ Challenge), checked against node:crypto (RFC 1994 §4.1)", () => {
  const challenge = Uint8Array.from({ length: 16 }, (_, i) => i);
  const expected = createHash("md5").update(new Uint8Array([0x2a])).update("s3cret").update(
    challenge,
  ).digest("hex");
  assert.equal(expected, "b0d90921e9950abd1a7e76dc7a01bc64");
  assert.equal(hex(chapResponse(0x2a, "s3cret", challenge)), expected);
  // Identifier is one octet: 0x12a hashes as 0x2a.
  assert.equal(hex(chapResponse(0x12a, "s3cret", challenge)), expected);
});

Deno.test("CHAP packet layout: Value-Size, Value, Name; Success/Failure carry a Message (RFC 1994 §4)", () => {
  assert.deepEqual(
    encodeChap({
      type: "Challenge",
      identifier: 1,
      value: new Uint8Array([0xaa, 0xbb]),
      name: enc.encode("lts"),
    }),
    new Uint8Array([1, 1, 0, 10, 2, 0xaa, 0xbb, 0x6c, 0x74, 0x73]),
  );
  assert.deepEqual(
    encodeChap({ type: "Success", identifier: 9, message: "ok" }),
    new Uint8Array([3, 9, 0, 6, 0x6f, 0x6b]),
  );
  const code = (b: number[]) => {
    const r = decodeChap(new Uint8Array(b));
    return r.ok ? r.value.type : r.error.code;
  };
  assert.equal(code([1, 1, 0, 4]), "bad_length"); // no Value-Size
  assert.equal(code([2, 1, 0, 5, 0]), "bad_length"); // Value-Size 0
  assert.equal(code([2, 1, 0, 6, 5, 1]), "bad_length"); // Value past Length
  assert.equal(code([4, 1, 0, 4, 0xee]), "Failure"); // padding past Length ignored
  assert.equal(code([5, 1, 0, 4]), "unknown_message_type");
  assert.equal(code([3, 1, 0, 5]), "truncated");
  assert.throws(
    () =>
      encodeChap({
        type: "Response",
        identifier: 1,
        value: new Uint8Array(),
        name: enc.encode(""),
      }),
    RangeError,
  );
});

Deno.test("decodeChap never throws on random bytes and decodes only what Length covers", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const r = decodeChap(bytes);
      if (r.ok && (r.value.type === "Challenge" || r.value.type === "Response")) {
        const length = (bytes[2] << 8) | bytes[3];
        assert.deepEqual(encodeChap(r.value), bytes.subarray(0, length));
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: 40 }), (c, body) => {
      const length = 4 + body.length;
      decodeChap(new Uint8Array([c, 1, length >> 8, length & 0xff, ...body]));
    }),
    { numRuns: 2000 },
  );
});

function started(extra: Partial<ChapAuthenticatorConfig> = {}) {
  const r = stepChapAuthenticator(initChapAuthenticator(config(extra)), {
    type: "start",
    now: 100,
  });
  const [challenge] = sent(r.effects);
  assert.equal(challenge.type, "Challenge");
  return { state: r.state, effects: r.effects, challenge };
}

function answer(state: ChapAuthenticatorState, name: string, secret: string, now = 150) {
  return stepChapAuthenticator(state, {
    type: "receive",
    packet: response(
      state.identifier,
      name,
      chapResponse(state.identifier, secret, state.challenge),
    ),
    now,
  });
}

Deno.test("CHAP authenticator: sends a Challenge of random bytes with its Name and arms the timer", () => {
  const { effects, challenge } = started({ challengeLength: 8, firstIdentifier: 77 });
  assert.deepEqual(challenge, {
    type: "Challenge",
    identifier: 77,
    value: new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]),
    name: enc.encode("lts"),
  });
  assert.equal(effects[0].type === "send" && effects[0].protocol, 0xc223);
  assert.deepEqual(effects[1], { type: "arm_timer", ms: 3000 });
});

Deno.test("CHAP authenticator: right secret → Success and authenticated; proxy fields are the exchange", () => {
  const { state } = started();
  const r = answer(state, "alice@isp-a.example", "s3cret");
  assert.deepEqual(sent(r.effects), [
    { type: "Success", identifier: 1, message: "Access granted" },
  ]);
  assert.ok(r.effects.some((e) => e.type === "cancel_timer"));
  assert.deepEqual(outcomes(r.effects), [
    { type: "authenticated", user: "alice@isp-a.example", elapsedMs: 50 },
  ]);
  assert.ok(r.state.exchange);
  const expected = createHash("md5").update(new Uint8Array([1])).update("s3cret").update(
    state.challenge,
  ).digest();
  assert.deepEqual(proxyFieldsFromChap(r.state.exchange), {
    proxyAuthenType: 2,
    proxyAuthenName: "alice@isp-a.example",
    proxyAuthenChallenge: state.challenge,
    proxyAuthenId: 1,
    proxyAuthenResponse: new Uint8Array(expected),
  });
});

Deno.test("CHAP authenticator: wrong secret or unknown user → Failure and failed", () => {
  for (const [name, secret] of [["alice@isp-a.example", "guess"], ["mallory", "s3cret"]]) {
    const { state } = started();
    const r = answer(state, name, secret);
    assert.deepEqual(sent(r.effects), [{
      type: "Failure",
      identifier: 1,
      message: "Access denied",
    }]);
    assert.deepEqual(outcomes(r.effects), [
      { type: "failed", reason: "bad_credentials", elapsedMs: 50 },
    ]);
    assert.equal(r.state.exchange, undefined);
  }
  // A Response Value of the wrong size is a wrong Response, not an exception.
  const { state } = started();
  const short = stepChapAuthenticator(state, {
    type: "receive",
    packet: response(1, "alice@isp-a.example", new Uint8Array([1, 2, 3])),
    now: 101,
  });
  assert.equal(short.state.phase, "failed");
});

Deno.test("CHAP authenticator: acceptUnknown lets unlisted names in but still checks listed ones", () => {
  const unknown = answer(started({ acceptUnknown: true }).state, "anyone", "whatever");
  assert.equal(unknown.state.phase, "authenticated");
  const listed = answer(started({ acceptUnknown: true }).state, "alice@isp-a.example", "guess");
  assert.equal(listed.state.phase, "failed");
});

Deno.test("CHAP authenticator: a Response with another Identifier is ignored", () => {
  const { state } = started();
  const value = chapResponse(2, "s3cret", state.challenge);
  const r = stepChapAuthenticator(state, {
    type: "receive",
    packet: response(2, "alice@isp-a.example", value),
    now: 101,
  });
  assert.deepEqual(r.effects, []);
  assert.equal(r.state, state);
});

Deno.test("CHAP authenticator: repeated Responses get the same Code again, and no second outcome", () => {
  const { state } = started();
  const good = answer(state, "alice@isp-a.example", "s3cret");
  const dup = answer(good.state, "alice@isp-a.example", "s3cret", 200);
  assert.deepEqual(sent(dup.effects).map((p) => p.type), ["Success"]);
  assert.deepEqual(outcomes(dup.effects), []);
  // §4.1: the same Code for that Challenge, even when the repeat has the right secret.
  const bad = answer(started().state, "alice@isp-a.example", "guess");
  const retry = answer(bad.state, "alice@isp-a.example", "s3cret", 200);
  assert.deepEqual(sent(retry.effects).map((p) => p.type), ["Failure"]);
  assert.deepEqual(outcomes(retry.effects), []);
});

Deno.test("CHAP authenticator: re-challenges on timeout with a new Identifier and Value, then fails", () => {
  const N = 2;
  let { state, effects } = started({ maxRetransmits: N, restartMs: 500 });
  const all = [...effects];
  for (let i = 1; i <= N + 1; i++) {
    const r = stepChapAuthenticator(state, { type: "timeout", now: 100 + i * 500 });
    state = r.state;
    all.push(...r.effects);
  }
  const challenges = sent(all);
  assert.equal(challenges.length, 1 + N);
  assert.deepEqual(challenges.map((c) => c.identifier), [1, 2, 3]);
  const values = challenges.map((c) => (c.type === "Challenge" ? hex(c.value) : ""));
  assert.equal(new Set(values).size, values.length);
  assert.deepEqual(outcomes(all), [{ type: "failed", reason: "timeout", elapsedMs: 1500 }]);
  assert.equal(state.phase, "failed");
});

Deno.test("CHAP authenticator: after a re-challenge only the new Challenge's Response counts", () => {
  const first = started();
  const old = first.state;
  const again = stepChapAuthenticator(old, { type: "timeout", now: 3100 }).state;
  const stale = stepChapAuthenticator(again, {
    type: "receive",
    packet: response(
      old.identifier,
      "alice@isp-a.example",
      chapResponse(old.identifier, "s3cret", old.challenge),
    ),
    now: 3101,
  });
  assert.deepEqual(stale.effects, []);
  assert.equal(answer(again, "alice@isp-a.example", "s3cret", 3102).state.phase, "authenticated");
});

Deno.test("CHAP authenticator ignores Responses before start and its own kinds of packet", () => {
  const initial = initChapAuthenticator(config());
  assert.deepEqual(
    stepChapAuthenticator(initial, {
      type: "receive",
      packet: response(0, "alice@isp-a.example", new Uint8Array(16)),
      now: 0,
    }).effects,
    [],
  );
  const { state } = started();
  const success = encodeChap({ type: "Success", identifier: 1, message: "" });
  assert.deepEqual(
    stepChapAuthenticator(state, { type: "receive", packet: success, now: 1 }).effects,
    [],
  );
  assert.throws(() => initChapAuthenticator(config({ challengeLength: 0 })), RangeError);
});

function runPeer(events: AuthEvent[], timeoutMs?: number) {
  let s = initChapPeer({ name: "alice@isp-a.example", secret: "s3cret", timeoutMs });
  const effects: AuthEffect[] = [];
  for (const e of events) {
    const r = stepChapPeer(s, e);
    s = r.state;
    effects.push(...r.effects);
  }
  return { state: s, effects };
}

const challenge = (identifier: number, value = new Uint8Array([1, 2, 3])) =>
  encodeChap({ type: "Challenge", identifier, value, name: enc.encode("lts") });

Deno.test("CHAP peer: answers a Challenge with its Name and MD5 Response; Success authenticates", () => {
  const r = runPeer([
    { type: "start", now: 0 },
    { type: "receive", packet: challenge(9), now: 1 },
  ]);
  assert.deepEqual(sent(r.effects), [{
    type: "Response",
    identifier: 9,
    value: chapResponse(9, "s3cret", new Uint8Array([1, 2, 3])),
    name: enc.encode("alice@isp-a.example"),
  }]);
  const ok = stepChapPeer(r.state, {
    type: "receive",
    packet: encodeChap({ type: "Success", identifier: 9, message: "" }),
    now: 3,
  });
  assert.deepEqual(ok.effects, [
    { type: "cancel_timer" },
    { type: "authenticated", user: "alice@isp-a.example", elapsedMs: 3 },
  ]);
});

Deno.test("CHAP peer: Failure is failed with the message; mismatched Identifiers are ignored", () => {
  const r = runPeer([
    { type: "start", now: 0 },
    { type: "receive", packet: challenge(9), now: 1 },
    {
      type: "receive",
      packet: encodeChap({ type: "Success", identifier: 8, message: "" }),
      now: 2,
    },
    {
      type: "receive",
      packet: encodeChap({ type: "Failure", identifier: 10, message: "" }),
      now: 2,
    },
  ]);
  assert.deepEqual(outcomes(r.effects), []);
  const bad = stepChapPeer(r.state, {
    type: "receive",
    packet: encodeChap({ type: "Failure", identifier: 9, message: "Access denied" }),
    now: 4,
  });
  assert.deepEqual(outcomes(bad.effects), [
    { type: "failed", reason: "rejected", message: "Access denied", elapsedMs: 4 },
  ]);
  assert.deepEqual(
    stepChapPeer(bad.state, { type: "receive", packet: challenge(11), now: 5 }).effects,
    [],
  );
});

Deno.test("CHAP peer: times out without a Challenge; ignores Challenges before start", () => {
  const r = runPeer([
    { type: "receive", packet: challenge(1), now: 0 },
    { type: "start", now: 0 },
    { type: "timeout", now: 5000 },
  ], 5000);
  assert.deepEqual(r.effects, [
    { type: "arm_timer", ms: 5000 },
    { type: "failed", reason: "timeout", elapsedMs: 5000 },
  ]);
});

Deno.test("CHAP peer: answers a rechallenge after Success, and its Failure ends the link", () => {
  const r = runPeer([
    { type: "start", now: 0 },
    { type: "receive", packet: challenge(1), now: 1 },
    {
      type: "receive",
      packet: encodeChap({ type: "Success", identifier: 1, message: "" }),
      now: 2,
    },
    { type: "receive", packet: challenge(2, new Uint8Array([7])), now: 60_000 },
    {
      type: "receive",
      packet: encodeChap({ type: "Success", identifier: 2, message: "" }),
      now: 60_001,
    },
  ]);
  assert.deepEqual(sent(r.effects).map((p) => p.identifier), [1, 2]);
  assert.equal(outcomes(r.effects).length, 1);
  const fail = stepChapPeer(r.state, {
    type: "receive",
    packet: encodeChap({ type: "Failure", identifier: 2, message: "" }),
    now: 60_002,
  });
  assert.equal(fail.state.phase, "failed");
  assert.throws(() => initChapPeer({ name: "a", secret: "" }), RangeError);
});

Deno.test("CHAP peer and authenticator talk to each other, for any secret and challenge length", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 255 }),
      fc.boolean(),
      (secret, challengeLength, right) => {
        let auth = initChapAuthenticator({
          name: "lts",
          random: counter(),
          challengeLength,
          secretFor: (u) => (u === "bob" ? secret : undefined),
        });
        let peer = initChapPeer({ name: "bob", secret: right ? secret : secret + "x" });
        let a = stepChapAuthenticator(auth, { type: "start", now: 0 });
        auth = a.state;
        peer = stepChapPeer(peer, { type: "start", now: 0 }).state;
        const p = stepChapPeer(peer, { type: "receive", packet: sendOf(a.effects), now: 1 });
        a = stepChapAuthenticator(auth, { type: "receive", packet: sendOf(p.effects), now: 2 });
        const done = stepChapPeer(p.state, { type: "receive", packet: sendOf(a.effects), now: 3 });
        const want = right ? "authenticated" : "failed";
        assert.equal(a.state.phase, want);
        assert.equal(done.state.phase, want);
      },
    ),
    { numRuns: 200 },
  );
});

function sendOf(effects: readonly AuthEffect[]): Uint8Array {
  const e = effects.find((e) => e.type === "send");
  assert.ok(e?.type === "send");
  return e.packet;
}
