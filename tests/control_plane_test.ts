/**
 * The L2TP control plane end to end on the seeded in-memory network: a
 * LAC-role node places calls into an LNS-role node through tunnels, under
 * loss, duplication, reordering and delay, and everything is released after.
 */
import assert from "node:assert/strict";
import { simulation } from "./_l2tp_sim.ts";

const LAC = { hostname: "10.0.0.1", port: 1701 };
const LNS = { hostname: "10.0.0.2", port: 1701 };

Deno.test("10 tunnels × 100 calls under 10% loss, duplication, reordering and delay: all up, then all released", () => {
  const sim = simulation(20261125);
  sim.impair({
    loss: 0.1,
    duplicate: 0.05,
    reorder: 0.1,
    reorderDelayMs: 40,
    delayMs: 5,
    jitterMs: 10,
  });
  const secret = new TextEncoder().encode("sim-secret");
  const lns = sim.node(LNS, { settings: { hostname: "lns", secret, hideAvps: true } });
  const lac = sim.node(LAC, { settings: { hostname: "lac", secret, hideAvps: true } });
  const tunnels: number[] = [];
  for (let t = 0; t < 10; t++) {
    const id = lac.node.openTunnel(LNS);
    assert.ok(id.ok);
    tunnels.push(id.value);
    for (let c = 0; c < 100; c++) {
      lac.node.placeCall(id.value, {
        calledNumber: `0800${t}`,
        callingNumber: `02${t}${c}`,
        proxyAuthenName: `user${t}-${c}@isp-a.example`,
      });
    }
  }
  const settled = () => lac.recorder.sessionsUp.length + lac.recorder.sessionsClosed.length >= 1000;
  assert.ok(sim.runUntil(settled, 600_000), `only ${lac.recorder.sessionsUp.length} calls up`);
  assert.equal(lac.recorder.tunnelsUp.length, 10);
  assert.equal(
    lac.recorder.sessionsUp.length,
    1000,
    JSON.stringify(lac.recorder.sessionsClosed.slice(0, 3).map((c) => c.reason)),
  );
  assert.ok(sim.runUntil(() => lns.recorder.sessionsUp.length === 1000, 60_000));
  // Hidden AVPs were revealed on the LNS: every call arrived with its numbers and user.
  const users = new Set(lns.recorder.sessionsUp.map((s) => s.call.proxyAuthenName));
  assert.equal(users.size, 1000);
  assert.ok(lns.recorder.sessionsUp.every((s) => s.call.calledNumber?.startsWith("0800")));
  assert.equal(lac.node.forwarding.size, 1000);
  const wire = sim.network.totals();
  assert.ok(
    wire.lost > 100 && wire.duplicated > 50,
    `the network was not lossy: ${JSON.stringify(wire)}`,
  );
  assert.equal(lns.node.forwarding.size, 1000);

  // Tear down: half the calls from the LAC with CDN, then every tunnel with StopCCN.
  lac.recorder.sessionsUp.slice(0, 500).forEach((s) => s.disconnect({ resultCode: 3 }));
  assert.ok(sim.runUntil(() => lns.recorder.sessionsClosed.length === 500, 120_000));
  assert.ok(
    lns.recorder.sessionsClosed.every((c) =>
      c.reason.by === "peer" && c.reason.result.resultCode === 3
    ),
  );
  for (const id of tunnels) lac.node.closeTunnel(id);
  assert.ok(sim.runUntil(() => lac.node.tunnelCount === 0 && lns.node.tunnelCount === 0, 120_000));
  sim.scheduler.advance(60_000);
  assert.equal(lns.recorder.sessionsClosed.length, 1000);
  assert.equal(sim.system.actorCount, 0, "no actor left");
  assert.equal(lac.node.forwarding.size + lns.node.forwarding.size, 0, "no forwarding entry left");
  lac.node.socket.close();
  lns.node.socket.close();
  sim.scheduler.advance(1000);
  assert.equal(sim.clock.pendingTimers, 0, "no timer left");
});
