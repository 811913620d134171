/**
 * A short live UDP fuzz of `lts run` (see `tests/fuzz_live.ts`; the long run
 * is `deno task fuzz:live`).
 */
import assert from "node:assert/strict";
import { fuzzLive } from "./fuzz_live.ts";

Deno.test("live fuzz: hostile datagrams at a running switch; it keeps serving and forwarding, and counts every drop", async () => {
  const r = await fuzzLive({ seconds: 6, pps: 2000, sessions: 10, dataPps: 100, seed: 20261125 });
  const replay = `replay: deno task fuzz:live 6 2000 ${r.seed}; ${JSON.stringify(r)}`;
  assert.ok(r.sent >= 6 * 2000 * 0.9, replay);
  assert.ok(r.sources >= 64, replay);
  // The API answered throughout, and a LAC calling in during the fuzz got all its calls.
  assert.equal(r.statusAnswered, r.statusAsked, replay);
  assert.equal(r.newLac.sessions_up, 5, replay);
  // The established calls were never cleared, and their echoes kept coming back.
  assert.equal(r.switchedAfter, r.switchedBefore, replay);
  assert.equal(r.lac.sessions_up, 10, replay);
  assert.ok(r.lac.data_sent > 500, replay);
  assert.ok(r.loss < 0.02, `loss ${r.loss}; ${replay}`);
  // Drops are counted, by reason: most of what was sent never reached a tunnel or a call.
  assert.ok(r.dropsCounted >= r.sent * 0.5, replay);
  for (
    const reason of [
      "datagrams:short",
      "datagrams:bad_version",
      "datagrams:malformed",
      "datagrams:unknown_tunnel",
      "datagrams:wrong_peer",
      "datagrams:not_sccrq",
      "data:unknown_session",
    ]
  ) {
    assert.ok((r.dropsByReason[reason] ?? 0) > 0, `${reason} not counted; ${replay}`);
  }
});
