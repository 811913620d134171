/**
 * The switch's limits as an operator configures and watches them: each one
 * named in `/metrics` (`lts_limit`) with the times it was reached
 * (`lts_limit_reached_total`), `lacs[].max_sessions` held at its bound, and
 * `limits.max_sessions` not leaking to half-open calls, on the seeded
 * in-memory network.
 */
import assert from "node:assert/strict";
import { SwitchBusyError } from "../actors/control.ts";
import { LtsRuntime, startLts } from "../actors/lts.ts";
import { loadPolicy } from "../policies/mod.ts";
import { SESSION_SETUP_TIMEOUT_MS } from "../actors/session_actor.ts";
import { fieldsOf } from "../transport/message.ts";
import { simulation } from "./_l2tp_sim.ts";
import { rawPeer } from "./_raw_peer.ts";

const LTS = { hostname: "10.1.0.1", port: 1701 };
const LNS = { hostname: "10.3.0.1", port: 1701 };
const secret = (s: string) => new TextEncoder().encode(s);

const POLICY = `
hostname: lts-a
listen: ["10.1.0.1:1701"]
limits: { max_tunnels: 50, max_sessions: 100, sccrq_per_second: 10 }
lacs:
  - { match: { hostname: "small-*" }, secret: "s", max_sessions: 3 }
  - { match: { hostname: "big-*" }, secret: "s" }
upstreams: { isp-a: { members: [{ address: "10.3.0.1:1701" }] } }
rules: [{ name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }]
`;

function call(n: number) {
  return {
    proxyAuthenType: 3,
    proxyAuthenName: `u${n}@isp-a.example`,
    proxyAuthenId: 1,
    proxyAuthenResponse: new Uint8Array([1]),
    calledNumber: `0800${n}`,
  };
}

Deno.test("lacs[].max_sessions: a tunnel from that LAC carries that many calls, the next get CDN 4; counted in /metrics", async () => {
  const sim = simulation(41);
  const policy = loadPolicy(POLICY, "lts.yaml");
  assert.ok(policy.ok);
  const bound = sim.network.bind(LTS);
  assert.ok(bound.ok);
  const lts = startLts({ system: sim.system, socket: bound.value, policy: policy.value, seed: 41 });
  const runtime = new LtsRuntime(lts, {
    system: sim.system,
    source: "lts.yaml",
    load: () => Promise.resolve(policy),
  });
  sim.node(LNS, { settings: { hostname: "lns" } });
  const small = sim.node({ hostname: "10.2.0.1", port: 1701 }, {
    settings: { hostname: "small-1", secret: secret("s") },
  });
  const big = sim.node({ hostname: "10.2.0.2", port: 1701 }, {
    settings: { hostname: "big-1", secret: secret("s") },
  });
  const ts = small.node.openTunnel(LTS);
  const tb = big.node.openTunnel(LTS);
  assert.ok(ts.ok && tb.ok);
  for (let i = 0; i < 5; i++) {
    small.node.placeCall(ts.value, call(i));
    big.node.placeCall(tb.value, call(10 + i));
  }
  assert.ok(
    sim.runUntil(
      () => lts.stats.switched === 3 + 5 && small.recorder.sessionsClosed.length === 2,
      30_000,
    ),
    JSON.stringify(lts.stats),
  );
  assert.equal(small.recorder.sessionsUp.length, 3);
  assert.equal(big.recorder.sessionsUp.length, 5, "another LAC's tunnels are not bound by it");
  assert.ok(small.recorder.sessionsClosed.every((c) => c.reason.result.resultCode === 4));

  const pending = runtime.metrics();
  sim.scheduler.advance(10);
  const m = await pending;
  assert.equal(m.limitsReached.tunnel_max_sessions, 2);
  assert.deepEqual(
    [m.limits.max_tunnels, m.limits.max_sessions, m.limits.sccrq_per_second],
    [50, 100, 10],
  );
  for (const name of ["tunnel_mailbox", "switch_mailbox", "control_backlog", "auth_failures"]) {
    assert.ok(m.limits[name] > 0, `lts_limit{limit="${name}"} is there`);
    assert.equal(m.limitsReached[name], 0, `${name} was not reached`);
  }
  // Session mailboxes have no counter of their own: their drops are in lts_mailbox_drops_total.
  assert.ok(m.limits.session_mailbox > 0);
  assert.equal(m.mailboxDropsTotal, 0);
});

Deno.test("half-open calls (ICRQ, never ICCN) give back their place under limits.max_sessions after the setup timeout", () => {
  const sim = simulation(42);
  const policy = loadPolicy(
    POLICY.replace("max_sessions: 100,", "max_sessions: 4,").replace(
      '{ match: { hostname: "big-*" }, secret: "s" }',
      '{ match: { hostname: "raw" } }',
    ),
    "lts.yaml",
  );
  assert.ok(policy.ok, policy.ok ? "" : policy.error.join("\n"));
  const bound = sim.network.bind(LTS);
  assert.ok(bound.ok);
  const lts = startLts({ system: sim.system, socket: bound.value, policy: policy.value, seed: 42 });
  sim.node(LNS, { settings: { hostname: "lns" } });
  const peer = rawPeer(sim, { hostname: "10.2.0.9", port: 1701 }, LTS);
  assert.ok(peer.establish(9));
  for (let i = 1; i <= 10; i++) peer.send("ICRQ", { assignedSessionId: i, callSerialNumber: i });
  sim.scheduler.advance(1_000);
  assert.equal(lts.stats.pending, 4, "the limit holds the half-open calls it admitted");
  const cdn4 = () =>
    peer.received.filter((m) => m.type === "CDN" && fieldsOf(m.avps).resultCode?.resultCode === 4)
      .length;
  assert.equal(cdn4(), 6);
  assert.equal(lts.stats.maxSessionsRejected, 6, "counted as refusals at limits.max_sessions");
  sim.scheduler.advance(SESSION_SETUP_TIMEOUT_MS + 2_000);
  assert.equal(lts.stats.pending, 0);
  assert.equal(lts.node.tunnels()[0].sessionCount, 0);
  // The places are free again.
  for (let i = 11; i <= 14; i++) peer.send("ICRQ", { assignedSessionId: i, callSerialNumber: i });
  sim.scheduler.advance(1_000);
  assert.equal(lts.stats.pending, 4);
  assert.equal(cdn4(), 6);
});

Deno.test("at the switch mailbox bound, API reads are refused with SwitchBusyError (HTTP 503) and a reload still goes through", async () => {
  const sim = simulation(43);
  const policy = loadPolicy(POLICY, "lts.yaml");
  assert.ok(policy.ok);
  const bound = sim.network.bind(LTS);
  assert.ok(bound.ok);
  const lts = startLts({
    system: sim.system,
    socket: bound.value,
    policy: policy.value,
    seed: 43,
    switchMailbox: 2,
  });
  const runtime = new LtsRuntime(lts, {
    system: sim.system,
    source: "lts.yaml",
    load: () => Promise.resolve(policy),
  });
  // The switch runs when the scheduler does: until then the first two requests fill its mailbox.
  const first = [runtime.status(), runtime.sessions()];
  await assert.rejects(runtime.status(), SwitchBusyError);
  await assert.rejects(runtime.metrics(), SwitchBusyError);
  // A reload is an operator's change, not a read: it takes the reserved lane (its request
  // reaches the switch once the policy is loaded: a turn of the event loop, with the switch not
  // run yet and its mailbox still full).
  const reloaded = runtime.reload();
  await new Promise((r) => setTimeout(r, 0));
  const outcome = await sim.settle(reloaded);
  assert.ok(outcome.ok && outcome.version === 2, JSON.stringify(outcome));
  await sim.settle(Promise.all(first));
  // Once the switch has caught up, reads are answered again.
  assert.equal((await sim.settle(runtime.status())).policyVersion, 2);
});
