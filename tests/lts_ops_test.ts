/**
 * Operating a running switch: hot reload (in-process and by file change and
 * SIGHUP on a real process), drain, graceful stop as a LAC sees it.
 */
import assert from "node:assert/strict";
import { LtsRuntime, startLts } from "../actors/lts.ts";
import { loadPolicy } from "../policies/mod.ts";
import { simulation } from "./_l2tp_sim.ts";

const LTS = { hostname: "10.1.0.1", port: 1701 };
const LAC = { hostname: "10.2.0.1", port: 1701 };
const A = { hostname: "10.3.0.1", port: 1701 };
const B = { hostname: "10.4.0.1", port: 1701 };

const v1 = `
hostname: lts-a
lacs: [{ match: {} }]
upstreams:
  a: { members: [{ address: "10.3.0.1:1701" }] }
  b: { members: [{ address: "10.4.0.1:1701" }] }
rules: [{ name: to-a, match: { domain: "isp.example" }, forward: a }]
`;
// Version 2: upstream "a" is gone, the realm now goes to "b".
const v2 = `
hostname: lts-a
lacs: [{ match: {} }]
upstreams:
  b: { members: [{ address: "10.4.0.1:1701" }] }
rules: [{ name: to-b, match: { domain: "isp.example" }, forward: b }]
`;

function bed(seed: number) {
  const sim = simulation(seed);
  let text = v1;
  const policy = loadPolicy(text, "lts.yaml");
  assert.ok(policy.ok);
  const bound = sim.network.bind(LTS);
  assert.ok(bound.ok);
  const lts = startLts({ system: sim.system, socket: bound.value, policy: policy.value, seed });
  const runtime = new LtsRuntime(lts, {
    system: sim.system,
    source: "lts.yaml",
    load: () => Promise.resolve(loadPolicy(text, "lts.yaml")),
  });
  const a = sim.node(A, { settings: { hostname: "lns-a" } });
  const b = sim.node(B, { settings: { hostname: "lns-b" } });
  const lac = sim.node(LAC, { settings: { hostname: "lac" } });
  const t = lac.node.openTunnel(LTS);
  assert.ok(t.ok);
  return { sim, lts, runtime, a, b, lac, tunnel: t.value, setText: (s: string) => (text = s) };
}

Deno.test("reload: new calls follow the new rules, switched calls stay on their version; a bad file changes nothing", async () => {
  const { sim, lts, runtime, a, b, lac, tunnel, setText } = bed(1);
  lac.node.placeCall(tunnel, { proxyAuthenName: "old@isp.example" });
  assert.ok(sim.runUntil(() => lts.stats.switched === 1, 30_000));
  // An invalid file: errors with positions, version unchanged.
  setText(
    "hostname: x\nlacs: [{ match: {} }]\nrules: [{ name: r, match: { domain: x }, forward: nowhere }]\n",
  );
  const bad = await sim.settle(runtime.reload());
  assert.ok(!bad.ok);
  assert.ok(bad.errors.length > 0 && bad.errors.every((e) => e.line > 0 && e.col > 0));
  assert.equal(runtime.policy().version, 1);
  // A good one.
  setText(v2);
  const good = await sim.settle(runtime.reload());
  assert.deepEqual(good, { ok: true, version: 2 });
  lac.node.placeCall(tunnel, { proxyAuthenName: "new@isp.example" });
  assert.ok(sim.runUntil(() => lts.stats.switched === 2, 30_000));
  assert.equal(a.recorder.sessionsUp.length, 1);
  assert.equal(b.recorder.sessionsUp.length, 1);
  const sessions = await sim.settle(runtime.sessions());
  const byUser = new Map(sessions.map((s) => [s.user, s]));
  assert.equal(byUser.get("old@isp.example")?.policyVersion, 1);
  assert.equal(byUser.get("old@isp.example")?.state, "switched");
  assert.equal(byUser.get("new@isp.example")?.policyVersion, 2);
  // The member of the removed upstream "a" drains: its tunnel stays for the old call.
  const tunnels = await sim.settle(runtime.tunnels());
  const toA = tunnels.find((t) => t.member === "10.3.0.1:1701");
  assert.equal(toA?.draining, true);
  assert.equal(toA?.sessions, 1);
  assert.equal(runtime.policy().reloads.failed, 1);
  assert.equal(runtime.policy().reloads.ok, 1);
  // Frames still cross the old call.
  const old = lac.recorder.sessionsUp.find((s) => s.call.proxyAuthenName === "old@isp.example")!;
  assert.ok(old.sendFrame(new Uint8Array([0xff, 3, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0])));
  sim.scheduler.advance(10);
  assert.equal(a.recorder.frames.length, 1);
});

Deno.test("drain: no new calls (CDN 4), existing ones go on", async () => {
  const { sim, lts, runtime, lac, tunnel } = bed(2);
  lac.node.placeCall(tunnel, { proxyAuthenName: "first@isp.example" });
  assert.ok(sim.runUntil(() => lts.stats.switched === 1, 30_000));
  runtime.drain();
  lac.node.placeCall(tunnel, { proxyAuthenName: "second@isp.example" });
  assert.ok(sim.runUntil(() => lac.recorder.sessionsClosed.length === 1, 30_000));
  assert.equal(lac.recorder.sessionsClosed[0].reason.result.resultCode, 4);
  const status = await sim.settle(runtime.status());
  assert.equal(status.draining, true);
  assert.equal(status.sessions.switched, 1);
});

Deno.test("graceful stop as the LAC sees it: CDN result 3 on its calls, then StopCCN", async () => {
  const { sim, lts, runtime, a, lac, tunnel } = bed(3);
  lac.node.placeCall(tunnel, { proxyAuthenName: "x@isp.example" });
  lac.node.placeCall(tunnel, { proxyAuthenName: "y@isp.example" });
  assert.ok(sim.runUntil(() => lts.stats.switched === 2, 30_000));
  const stopping = runtime.stop(5000);
  let stopped = false;
  stopping.then(() => (stopped = true));
  for (let i = 0; i < 200 && !stopped; i++) {
    sim.scheduler.advance(50);
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.ok(stopped);
  assert.equal(lac.recorder.sessionsClosed.length, 2);
  assert.ok(
    lac.recorder.sessionsClosed.every((c) =>
      c.reason.result.resultCode === 3 && c.reason.by === "peer"
    ),
  );
  assert.ok(a.recorder.sessionsClosed.every((c) => c.reason.result.resultCode === 3));
  assert.equal(lac.recorder.tunnelsClosed.length, 1);
  assert.equal(lac.recorder.tunnelsClosed[0].reason.result.resultCode, 6, "StopCCN: shutting down");
  assert.equal(lts.node.tunnelCount, 0);
});
