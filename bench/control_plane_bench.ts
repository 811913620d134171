/**
 * Control-plane figures, printed as a Markdown table:
 *
 * - tunnel and session setup rates between `lts lac` and `lts lns`, each a
 *   subprocess, over UDP on loopback (median of 3 runs, a fresh LNS per run);
 * - control-channel throughput of one tunnel on the seeded in-memory network
 *   (`tests/_l2tp_sim.ts`) at 0% and 5% loss, per simulated second and per
 *   wall-clock second of the simulation.
 *
 * Run: `tools/deno run -A bench/control_plane_bench.ts`
 *
 * @module
 */

import { simulation } from "../tests/_l2tp_sim.ts";
import type { LacSummary } from "../cli/lac.ts";
import { freeUdpPort, median } from "./_suite.ts";

const MAIN = new URL("../main.ts", import.meta.url).href;
const RUNS = 3;

/** The kernel's count of UDP datagrams dropped for a full socket receive buffer (Linux), or NaN. */
function udpRcvbufErrors(): number {
  try {
    const lines = Deno.readTextFileSync("/proc/net/snmp").split("\n").filter((l) =>
      l.startsWith("Udp:")
    );
    const names = lines[0].split(/\s+/);
    return Number(lines[1].split(/\s+/)[names.indexOf("RcvbufErrors")]);
  } catch {
    return NaN;
  }
}

/** Runs `lts lac` against a fresh `lts lns`; returns the LAC's summary and its wall time. */
async function lacAgainstLns(
  lacArgs: string[],
): Promise<LacSummary & { wallSeconds: number; rcvbufErrors: number }> {
  const port = freeUdpPort();
  const lns = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "lns", "--listen", `127.0.0.1:${port}`, "--duration", "600"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const reader = lns.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("listening on")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`lts lns did not start: ${text}`);
      text += value;
    }
    reader.releaseLock();
    const drained = lns.stderr.pipeTo(new WritableStream()).catch(() => {});
    const errorsBefore = udpRcvbufErrors();
    const started = performance.now();
    const lac = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "lac", "--server", `127.0.0.1:${port}`, ...lacArgs],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const wallSeconds = (performance.now() - started) / 1000;
    const rcvbufErrors = udpRcvbufErrors() - errorsBefore;
    lns.kill("SIGTERM");
    await lns.status;
    await drained;
    return { ...JSON.parse(new TextDecoder().decode(lac.stdout)), wallSeconds, rcvbufErrors };
  } finally {
    try {
      lns.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }
}

interface Row {
  figure: string;
  value: string;
  detail: string;
}

async function setupRates(): Promise<Row[]> {
  const rows: Row[] = [];
  // One call per tunnel so that the LAC's summary times the tunnels: the calls wait in their
  // tunnels until SCCRQ/SCCRP/SCCCN is done, and setup_seconds ends when the last call is up.
  for (const tunnels of [100, 1000]) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      runs.push(
        await lacAgainstLns([
          ...["--tunnels", `${tunnels}`, "--sessions", `${tunnels}`, "--rate", "1000000"],
          ...["--data-pps", "0", "--duration", "0", "--timeout", "60"],
        ]),
      );
    }
    rows.push({
      figure: `Tunnel setup, ${tunnels} tunnels opened at once (each with one call)`,
      value: `${Math.round(tunnels / median(runs.map((r) => r.setup_seconds)))} tunnels/s`,
      detail: `setup_seconds ${runs.map((r) => r.setup_seconds.toFixed(3)).join(", ")}; ` +
        `tunnels_up ${runs.map((r) => r.tunnels_up).join(", ")}; ` +
        `kernel UDP RcvbufErrors ${runs.map((r) => r.rcvbufErrors).join(", ")}`,
    });
  }
  for (const [t, n, rate] of [[10, 5000, 20000], [1, 5000, 5000], [1, 5000, 20000]]) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      runs.push(
        await lacAgainstLns([
          ...["--tunnels", `${t}`, "--sessions", `${n}`, "--rate", `${rate}`],
          ...["--data-pps", "0", "--duration", "0", "--timeout", "10"],
        ]),
      );
    }
    rows.push({
      figure: `Session setup, ${n} calls over ${t} tunnel${t > 1 ? "s" : ""} (--rate ${rate})`,
      value: `${median(runs.map((r) => r.setup_rate_per_s))} sessions/s`,
      detail: `setup_rate_per_s ${runs.map((r) => r.setup_rate_per_s).join(", ")}; ` +
        `sessions_up ${runs.map((r) => r.sessions_up).join(", ")}; ` +
        `kernel UDP RcvbufErrors ${runs.map((r) => r.rcvbufErrors).join(", ")}`,
    });
  }
  return rows;
}

const LAC = { hostname: "10.0.0.1", port: 1701 };
const LNS = { hostname: "10.0.0.2", port: 1701 };
/** A control header with no AVPs: 12 octets, T bit set (§5.8). */
const isZlb = (packet: Uint8Array) => (packet[0] & 0x80) !== 0 && packet.length === 12;

interface ChannelRun {
  simSeconds: number;
  wallSeconds: number;
  messages: number;
  zlbs: number;
  lost: number;
}

/**
 * One tunnel, `calls` incoming calls with at most `outstanding` in setup at a time (each call
 * is ICRQ, ICRP, ICCN plus acknowledgements), on links with `delayMs` one way and `loss`.
 */
function channelRun(
  seed: number,
  options: { loss: number; calls: number; outstanding: number; window: number },
): ChannelRun {
  const sim = simulation(seed);
  sim.impair({ loss: options.loss, delayMs: 10 });
  const settings = { hostname: "bench", receiveWindowSize: options.window };
  const lns = sim.node(LNS, { settings });
  const lac = sim.node(LAC, { settings });
  const tunnel = lac.node.openTunnel(LNS);
  if (!tunnel.ok) throw new Error(tunnel.error);
  if (!sim.runUntil(() => lns.recorder.tunnelsUp.length === 1, 120_000, 10)) {
    throw new Error("tunnel did not come up");
  }
  const wireBefore = lac.recorder.wire.length + lns.recorder.wire.length;
  const lostBefore = sim.network.totals().lost;
  const simStart = sim.clock.now();
  const wallStart = performance.now();
  let placed = 0;
  const settled = () => lac.recorder.sessionsUp.length + lac.recorder.sessionsClosed.length;
  const done = () => lns.recorder.sessionsUp.length >= options.calls;
  const limit = simStart + 3_600_000;
  while (!done() && sim.clock.now() < limit) {
    while (placed < options.calls && placed - settled() < options.outstanding) {
      lac.node.placeCall(tunnel.value, { calledNumber: `${placed++}` });
    }
    sim.scheduler.advance(10);
  }
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const simSeconds = (sim.clock.now() - simStart) / 1000;
  if (!done()) throw new Error(`only ${lns.recorder.sessionsUp.length} calls up`);
  const wire = [...lac.recorder.wire, ...lns.recorder.wire].slice(wireBefore);
  const zlbs = wire.filter(isZlb).length;
  const lost = sim.network.totals().lost - lostBefore;
  sim.system.shutdown();
  lac.node.socket.close();
  lns.node.socket.close();
  return { simSeconds, wallSeconds, messages: wire.length - zlbs, zlbs, lost };
}

function channelThroughput(): Row[] {
  const calls = 1000;
  const rows: Row[] = [];
  for (const [loss, window] of [[0, 16], [0.05, 16], [0.05, 64]]) {
    const runs = [1, 2, 3].map((seed) =>
      channelRun(20261125 + seed, { loss, calls, outstanding: 64, window })
    );
    const perSim = runs.map((r) => r.messages / r.simSeconds);
    const perWall = runs.map((r) => (r.messages + r.zlbs) / r.wallSeconds);
    const m = runs[perSim.indexOf(median(perSim))];
    rows.push({
      figure: `Control channel, 1 tunnel, ${calls} calls, ${loss * 100}% loss, RWS ${window}`,
      value: `${Math.round(median(perSim))} msgs/sim-s (${
        Math.round(calls / m.simSeconds)
      } calls/sim-s)`,
      detail: `${m.messages} messages + ${m.zlbs} ZLBs delivered, ${m.lost} lost, in ` +
        `${m.simSeconds.toFixed(1)} sim-s; simulation runs at ${
          Math.round(median(perWall))
        } datagrams/wall-s`,
    });
  }
  return rows;
}

if (import.meta.main) {
  const rows = [...channelThroughput(), ...await setupRates()];
  console.log("| Figure | Measured (median of 3) | Detail |");
  console.log("| --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.figure} | **${r.value}** | ${r.detail} |`);
}
