import assert from "node:assert/strict";
import { fuzzCodec, fuzzTarget, TARGET_NAMES } from "./codec_fuzz.ts";

Deno.test("fuzz: 200k random and mutated datagrams through every decoder, no exception, bounded time", () => {
  const report = fuzzCodec(200_000, 20261125);
  assert.equal(report.decodedOk + report.rejected, 200_000);
  // Both outcomes must be exercised, or the mutations are not reaching the AVP decoder.
  assert.ok(report.decodedOk > 10_000, `only ${report.decodedOk} decoded`);
  assert.ok(report.rejected > 10_000, `only ${report.rejected} rejected`);
  // A hang guard, not a benchmark: one datagram must never take long.
  assert.ok(report.slowestMs < 250, `slowest datagram took ${report.slowestMs} ms`);
});

/** Cases per target in CI: the long run (`deno task fuzz`) shares 1,000,000 among them. */
const CI_CASES: Record<string, number> = {
  "ppp-frame": 30_000,
  "ppp-engine": 20_000,
  "proxy-lcp": 5_000,
  pcap: 20_000,
  "policy-yaml": 4_000,
  "users-yaml": 2_000,
  exposition: 5_000,
  api: 4_000,
};

for (const name of TARGET_NAMES) {
  Deno.test(`fuzz ${name}: mutated and random inputs, no exception, both outcomes reached`, async () => {
    const cases = CI_CASES[name];
    assert.ok(cases !== undefined, `no CI share for ${name}`);
    const r = await fuzzTarget(name, cases, 20261125);
    assert.equal(r.accepted + r.rejected, cases);
    assert.ok(r.accepted > 0, `${name}: nothing accepted, the mutations miss the decoder`);
    assert.ok(r.rejected > 0, `${name}: nothing rejected, the mutations are too gentle`);
    assert.ok(r.slowestMs < 250, `${name}: slowest input took ${r.slowestMs} ms`);
  });
}
