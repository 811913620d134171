/**
 * What an L2TP node does under abuse, on the seeded in-memory network with
 * the manual clock: repeated tunnel authentication failures block an address
 * (RFC 2661 §5.1.1), half-open tunnels and sessions are reclaimed after their
 * timeouts, and every per-node bound (tunnels, sessions per tunnel, tunnel
 * mailbox, control backlog) holds at its value and is counted.
 */
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { SESSION_SETUP_TIMEOUT_MS } from "../actors/session_actor.ts";
import { fieldsOf } from "../transport/message.ts";
import { retransmissionCycleMs } from "../transport/reliable_channel.ts";
import { simulation } from "./_l2tp_sim.ts";
import { IDENTITY, rawPeer } from "./_raw_peer.ts";

const LNS = { hostname: "10.0.0.2", port: 1701 };
const text = (s: string) => new TextEncoder().encode(s);
/** Collects the `lts.*` log records at debug level while `fn` runs. */
async function withLogs(fn: (records: LogRecord[]) => void | Promise<void>): Promise<void> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (r: LogRecord) => void records.push(r) },
    loggers: [
      { category: ["lts"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await fn(records);
  } finally {
    await reset();
  }
}

Deno.test("tunnel authentication failures: StopCCN result 4 and a log line with the address; repeated ones block the address for the hold time", async () => {
  await withLogs((records) => {
    const sim = simulation(301);
    const block = { failures: 3, windowMs: 60_000, holdMs: 120_000 };
    const lns = sim.node(LNS, {
      settings: { hostname: "lns", secret: text("right") },
      authFailureBlock: block,
    });
    const honest = sim.node({ hostname: "10.0.0.7", port: 1701 }, {
      settings: { hostname: "honest", secret: text("right") },
    });
    // A guesser answers the LNS's challenge with a wrong Challenge Response in its SCCCN.
    for (let i = 0; i < block.failures - 1; i++) {
      const guess = rawPeer(sim, { hostname: "10.0.0.66", port: 2000 + i }, LNS);
      guess.send("SCCRQ", { ...IDENTITY, assignedTunnelId: 1 });
      sim.scheduler.advance(20);
      assert.ok(guess.received.some((m) => m.type === "SCCRP"));
      guess.send("SCCCN", { challengeResponse: new Uint8Array(16) });
      sim.scheduler.advance(1_000);
      const stop = guess.received.find((m) => m.type === "StopCCN");
      assert.equal(stop && fieldsOf(stop.avps).resultCode?.resultCode, 4);
    }
    const lines = records.filter((r) =>
      r.level === "warning" && /^10\.0\.0\.66:200\d$/.test(String(r.properties.peer)) &&
      /authentication failed/.test(String(r.rawMessage))
    );
    assert.equal(lines.length, block.failures - 1, "one log line per failure, with the address");
    // A LAC with the wrong secret that challenges us finds our answer wrong and sends StopCCN
    // result 4 itself: that counts as a failure of its address too.
    const guesser = sim.node({ hostname: "10.0.0.66", port: 1701 }, {
      settings: { hostname: "guesser", secret: text("wrong") },
    });
    assert.ok(guesser.node.openTunnel(LNS).ok);
    sim.scheduler.advance(5_000);
    assert.equal(lns.node.counters.authFailures, block.failures);
    assert.equal(lns.recorder.tunnelsUp.length, 0);
    assert.ok(records.some((r) => r.properties.address === "10.0.0.66"), "the block is logged");

    // Blocked: its next SCCRQ (and every retransmission) is dropped before any state exists.
    const actorsBefore = sim.system.actorCount;
    const tunnelsBefore = lns.node.tunnelCount; // the failed ones, held for a cycle (§5.7)
    assert.ok(guesser.node.openTunnel(LNS).ok);
    sim.scheduler.advance(1_000);
    assert.equal(lns.node.tunnelCount, tunnelsBefore);
    assert.equal(sim.system.actorCount, actorsBefore + 1, "only the guesser's own tunnel actor");
    sim.scheduler.advance(30_000);
    const dropped = lns.node.counters.sccrqAuthBlocked;
    assert.ok(dropped >= 5, `SCCRQ and its retransmissions dropped (${dropped})`);
    assert.equal(lns.node.counters.authFailures, block.failures, "no new tunnel was tried");

    // Another address is not affected.
    const t = honest.node.openTunnel(LNS);
    assert.ok(t.ok);
    assert.ok(sim.runUntil(() => honest.recorder.tunnelsUp.length === 1, 5_000));

    // After the hold time the address may try again (and fail again, being still wrong).
    sim.scheduler.advance(block.holdMs - 35_000);
    assert.ok(guesser.node.openTunnel(LNS).ok);
    sim.scheduler.advance(5_000);
    assert.equal(lns.node.counters.authFailures, block.failures + 1);
    assert.equal(lns.node.counters.sccrqAuthBlocked, dropped);
  });
});

Deno.test("an address spread over many failures stays below the block: the window slides", () => {
  const sim = simulation(302);
  const block = { failures: 3, windowMs: 10_000, holdMs: 60_000 };
  const lns = sim.node(LNS, {
    settings: { hostname: "lns", secret: text("right") },
    authFailureBlock: block,
  });
  const lac = sim.node({ hostname: "10.0.0.5", port: 1701 }, {
    settings: { hostname: "typo", secret: text("wrong") },
  });
  for (let i = 0; i < 6; i++) {
    assert.ok(lac.node.openTunnel(LNS).ok);
    sim.scheduler.advance(6_000); // two failures per window at most
  }
  assert.equal(lns.node.counters.authFailures, 6);
  assert.equal(lns.node.counters.sccrqAuthBlocked, 0);
});

Deno.test("half-open tunnels (SCCRQ, never SCCCN) are reclaimed within two retransmission cycles: no actors, IDs or keys left", () => {
  const sim = simulation(303);
  const maxTunnels = 40;
  const lns = sim.node(LNS, { settings: { hostname: "lns" }, maxTunnels });
  // The same peers, with the same Assigned Tunnel ID, each round: a key left behind would make
  // the next round's SCCRQs look like retransmissions for tunnels that no longer exist.
  const flood = () => {
    const peers = Array.from(
      { length: maxTunnels },
      (_, i) => rawPeer(sim, { hostname: `10.9.0.${i + 1}`, port: 1701 }, LNS),
    );
    for (const peer of peers) peer.send("SCCRQ", { ...IDENTITY, assignedTunnelId: 1 });
    sim.scheduler.advance(50);
    for (const peer of peers) peer.close();
  };
  flood();
  assert.equal(lns.node.tunnelCount, maxTunnels);
  assert.equal(sim.system.actorCount, maxTunnels);
  assert.equal(lns.node.tunnels().filter((t) => t.established).length, 0);
  // The peers are gone: setup gives up after one cycle, its StopCCN after at most one more.
  const reclaimMs = 2 * retransmissionCycleMs() + 1_000;
  sim.scheduler.advance(reclaimMs);
  assert.equal(lns.node.tunnelCount, 0);
  assert.equal(lns.node.tunnels().length, 0);
  assert.equal(sim.system.actorCount, 0);
  assert.equal(lns.recorder.tunnelsUp.length, 0);
  // Every Tunnel ID came back: the next round fills the table again without hitting the limit.
  flood();
  assert.equal(lns.node.tunnelCount, maxTunnels);
  assert.equal(lns.node.counters.sccrqRetransmits, 0);
  assert.equal(lns.node.counters.tunnelLimit, 0);
  sim.scheduler.advance(reclaimMs);
  assert.equal(sim.system.actorCount, 0);
});

Deno.test("half-open sessions (ICRQ, never ICCN) are reclaimed after the setup timeout; ICRQs past max_sessions get CDN 4 and are counted", () => {
  const sim = simulation(304);
  const maxSessions = 10;
  const lns = sim.node(LNS, { settings: { hostname: "lns", maxSessions } });
  const peer = rawPeer(sim, { hostname: "10.0.0.9", port: 1701 }, LNS);
  assert.ok(peer.establish(77));
  assert.equal(lns.recorder.tunnelsUp.length, 1);
  const calls = 3 * maxSessions;
  for (let i = 1; i <= calls; i++) peer.send("ICRQ", { assignedSessionId: i, callSerialNumber: i });
  sim.scheduler.advance(2_000);
  const tunnel = lns.node.tunnels()[0];
  assert.equal(tunnel.sessionCount, maxSessions);
  assert.equal(sim.system.actorCount, 1 + maxSessions);
  assert.equal(lns.node.counters.sessionLimit, calls - maxSessions);
  const cdns = peer.received.filter((m) => m.type === "CDN").map((m) => fieldsOf(m.avps));
  assert.equal(cdns.length, calls - maxSessions);
  assert.ok(cdns.every((f) => f.resultCode?.resultCode === 4), JSON.stringify(cdns));
  assert.equal(peer.received.filter((m) => m.type === "ICRP").length, maxSessions);
  // No ICCN ever comes: the sessions give up, with a CDN each, and leave nothing behind.
  sim.scheduler.advance(SESSION_SETUP_TIMEOUT_MS + 2_000);
  assert.equal(tunnel.sessionCount, 0);
  assert.equal(sim.system.actorCount, 1, "only the tunnel actor");
  assert.equal(lns.node.forwarding.size, 0);
  assert.equal(peer.received.filter((m) => m.type === "CDN").length, calls);
  assert.equal(lns.recorder.sessionsUp.length, 0);
  // The tunnel itself stays up, and its Session IDs are free again.
  assert.ok(tunnel.established);
  for (let i = 1; i <= maxSessions; i++) {
    peer.send("ICRQ", { assignedSessionId: 1000 + i, callSerialNumber: 1000 + i });
  }
  sim.scheduler.advance(2_000);
  assert.equal(tunnel.sessionCount, maxSessions);
  assert.equal(lns.node.counters.sessionLimit, calls - maxSessions);
});

Deno.test("tunnel mailbox: datagrams beyond its bound are dropped and counted; the tunnel survives", () => {
  const sim = simulation(305);
  const tunnelMailbox = 8;
  const lns = sim.node(LNS, { settings: { hostname: "lns" }, tunnelMailbox });
  const peer = rawPeer(sim, { hostname: "10.0.0.9", port: 1701 }, LNS);
  assert.ok(peer.establish(5));
  assert.equal(lns.node.limits.tunnelMailbox, tunnelMailbox);
  // One burst, all delivered before the tunnel actor runs once: HELLOs, each in sequence.
  const burst = 50;
  for (let i = 0; i < burst; i++) peer.send("HELLO", {});
  sim.scheduler.advance(100);
  const full = lns.node.counters.tunnelMailboxFull;
  assert.ok(full > 0 && full <= burst - tunnelMailbox, `dropped ${full}`);
  // What was dropped is out of sequence for the channel now, but the tunnel lives on.
  assert.equal(lns.node.tunnelCount, 1);
  assert.ok(lns.node.tunnels()[0].established);
});

Deno.test("control backlog: what cannot be queued is refused at the bound and counted; the backlog never passes it", () => {
  const sim = simulation(306);
  const maxBacklog = 8;
  const LAC = { hostname: "10.0.0.1", port: 1701 };
  let notPlaced = 0;
  const lac = sim.node(LAC, {
    settings: { hostname: "lac", maxBacklog },
    hooks: { callNotPlaced: () => void notPlaced++ },
  });
  const lns = sim.node(LNS, { settings: { hostname: "lns", receiveWindowSize: 1 } });
  const t = lac.node.openTunnel(LNS);
  assert.ok(t.ok);
  assert.ok(sim.runUntil(() => lac.recorder.tunnelsUp.length === 1, 5_000));
  assert.equal(lns.recorder.tunnelsUp.length, 1);
  // The LNS goes silent: nothing is acknowledged, the LAC's window of one stays shut, and its
  // ICRQs pile up in the channel's queue (64), then in the tunnel's backlog.
  sim.network.partition(LNS, LAC);
  const calls = 120;
  for (let i = 0; i < calls; i++) {
    assert.ok(lac.node.placeCall(t.value, {}, { context: i }));
    sim.scheduler.advance(1);
  }
  sim.scheduler.advance(100);
  const live = lac.node.tunnels()[0].sessionCount;
  assert.ok(notPlaced > 0, "calls were refused once the backlog was half full");
  assert.ok(lac.node.counters.channelFull >= notPlaced);
  assert.ok(live <= 1 + 64 + maxBacklog, `${live} calls wait, more than the queues hold`);
  assert.equal(live + notPlaced + lac.recorder.sessionsClosed.length, calls);
});
