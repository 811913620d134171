/**
 * Policy decision time at 10 and 10,000 rules.
 *
 *   tools/deno run -A bench/policy_bench.ts      # median ns/decision over 31 rounds
 *   tools/deno bench -A bench/policy_bench.ts    # Deno.bench table
 *
 * The rule mix is what an operator's file looks like grown large: 70% exact
 * realms, 10% realm globs (`*.rN.example`), 10% LAC host-name globs
 * (`lac-N-*`), 10% anchored number regexes (`^0800N`, `^\+44N`). All of these
 * are found through the index. A third case adds 100 unanchored number
 * regexes (`N99$`), which only a scan can judge, to show what each scanned
 * rule costs. Calls are a fixed, seeded mix that hits rules spread over the
 * whole file and misses to `default`.
 *
 * @module
 */

import {
  type CallFacts,
  type CompiledPolicy,
  formatPolicyErrors,
  loadPolicy,
} from "../policies/mod.ts";

function policyFor(ruleCount: number, scanned = 0): CompiledPolicy {
  const rules = [];
  for (let i = 0; i < scanned; i++) {
    rules.push({ name: `scan-${i}`, match: { calling_number: `${i}99$` }, forward: "isp" });
  }
  for (let i = 0; i < ruleCount - scanned; i++) {
    const k = i % 20;
    const match = k < 14
      ? { domain: `isp-${i}.example` }
      : k < 16
      ? { domain: `*.r${i}.example` }
      : k < 18
      ? { lac_hostname: `lac-${i}-*` }
      : k < 19
      ? { called_number: `^0800${i}` }
      : { calling_number: `^\\+44${i}` };
    rules.push({ name: `rule-${i}`, match, forward: "isp" });
  }
  const text = JSON.stringify({
    hostname: "lts-bench",
    lacs: [{ match: {} }],
    upstreams: { isp: { members: [{ address: "192.0.2.1" }, { address: "192.0.2.2" }] } },
    rules,
  });
  const r = loadPolicy(text, "bench.yaml");
  if (!r.ok) throw new Error(formatPolicyErrors(r.error));
  return r.value;
}

/** A seeded mix of calls: realm hits, glob hits, LAC hits, number hits and misses. */
function callsFor(ruleCount: number): CallFacts[] {
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % ruleCount;
  const calls: CallFacts[] = [];
  for (let i = 0; i < 1000; i++) {
    const n = next();
    const base = { lacHostname: "lac-x-1", calledNumber: "0900123", callingNumber: "5551234" };
    switch (i % 5) {
      case 0:
        calls.push({ ...base, user: `u${i}@isp-${n}.example` });
        break;
      case 1:
        calls.push({ ...base, user: `u${i}@pop.r${n}.example` });
        break;
      case 2:
        calls.push({ ...base, user: `u${i}@unknown.example`, lacHostname: `lac-${n}-3` });
        break;
      case 3:
        calls.push({ ...base, user: `u${i}`, calledNumber: `0800${n}` });
        break;
      default:
        calls.push({ ...base, user: `u${i}@nowhere.example` });
    }
  }
  return calls;
}

const cases = [
  { name: "10 rules", policy: policyFor(10), calls: callsFor(10) },
  { name: "10,000 rules", policy: policyFor(10_000), calls: callsFor(10_000) },
  {
    name: "10,000 rules, 100 of them scanned",
    policy: policyFor(10_000, 100),
    calls: callsFor(9_900),
  },
];

let sink = 0;
for (const { name, policy, calls } of cases) {
  Deno.bench(`decide, ${name} (1000 calls per iteration)`, () => {
    for (const c of calls) sink += policy.decide(c).rule === null ? 0 : 1;
  });
}

if (import.meta.main) {
  const rounds = 31;
  for (const { name, policy, calls } of cases) {
    for (let w = 0; w < 200; w++) for (const c of calls) sink += policy.decide(c).rule ? 1 : 0;
    const perCall: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      for (let rep = 0; rep < 20; rep++) {
        for (const c of calls) sink += policy.decide(c).rule ? 1 : 0;
      }
      perCall.push(((performance.now() - start) * 1e6) / (20 * calls.length));
    }
    perCall.sort((a, b) => a - b);
    const scanned = policy.rules.filter((r) => r.indexedBy === "scan").length;
    console.log(
      `${name} (${scanned} scanned): decide median ${perCall[rounds >> 1].toFixed(0)} ns/call ` +
        `(min ${perCall[0].toFixed(0)}, max ${perCall[rounds - 1].toFixed(0)})`,
    );
  }
  if (sink < 0) console.log(sink);
}
