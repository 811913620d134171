import assert from "node:assert/strict";
import { fuzzCodec } from "./codec_fuzz.ts";

Deno.test("fuzz: 200k random and mutated datagrams through every decoder, no exception, bounded time", () => {
  const report = fuzzCodec(200_000, 20261125);
  assert.equal(report.decodedOk + report.rejected, 200_000);
  // Both outcomes must be exercised, or the mutations are not reaching the AVP decoder.
  assert.ok(report.decodedOk > 10_000, `only ${report.decodedOk} decoded`);
  assert.ok(report.rejected > 10_000, `only ${report.rejected} rejected`);
  // A hang guard, not a benchmark: one datagram must never take long.
  assert.ok(report.slowestMs < 250, `slowest datagram took ${report.slowestMs} ms`);
});
