/**
 * SCCRQ and ICRQ floods at ten times `limits.sccrq_per_second` against a
 * running switch with established calls (see `tests/flood.ts`; the long run
 * is `deno task flood`).
 */
import assert from "node:assert/strict";
import { flood } from "./flood.ts";

Deno.test("floods: SCCRQs and ICRQs at 10x the SCCRQ rate limit; the limits hold, established calls lose under 1%, memory stays bounded", async () => {
  const o = {
    seconds: 8,
    sccrqPerSecond: 20,
    factor: 10,
    maxSessions: 30,
    maxSessionsPerTunnel: 2,
    sessions: 10,
    dataPps: 200,
  };
  const r = await flood(o);
  const report = JSON.stringify(r);
  assert.ok(r.sources >= 128, report);
  // Offered: ten times the limit. Handled: the bucket's burst (one second's worth) and its rate.
  assert.ok(r.sccrq.offeredPerSecond >= o.sccrqPerSecond * o.factor * 0.9, report);
  const bound = (o.sccrqPerSecond * (r.seconds + 1 + 1)) / r.seconds;
  assert.ok(r.sccrq.handledPerSecond <= bound, `SCCRQs handled past the limit: ${report}`);
  assert.ok(r.sccrq.handledPerSecond >= o.sccrqPerSecond * 0.5, report);
  assert.ok(r.sccrq.rateLimited > 0 && r.limitsReached.sccrq_per_second > 0, report);
  // ICRQs: every one answered; accepted only up to limits.max_sessions, the rest CDN result 4.
  // 16 flooding tunnels of 2 sessions each exceed the 20 free places, so both bounds are met.
  assert.ok(r.icrq.offeredPerSecond >= o.sccrqPerSecond * o.factor * 0.5, report);
  assert.ok(r.icrq.answeredPerSecond >= r.icrq.offeredPerSecond * 0.9, report);
  assert.ok(r.icrq.accepted <= o.maxSessions - o.sessions, report);
  assert.ok(r.icrq.refusedGlobal > 0, report);
  assert.ok(r.limitsReached.tunnel_max_sessions > 0, report);
  // The established calls: all still switched, echoes back with under 1% loss.
  assert.equal(r.switchedAfter, o.sessions, report);
  assert.equal(r.lac.sessions_up, o.sessions, report);
  assert.ok(r.lac.data_sent > 1000, report);
  assert.ok(r.loss < 0.01, `loss ${r.loss}: ${report}`);
  // Memory: no state beyond the limits, so the resident set grows by a bounded amount.
  assert.ok(r.peakRssKiB - r.rssBeforeKiB < 64 * 1024, report);
});
