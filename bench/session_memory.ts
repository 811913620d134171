/**
 * Retained JS heap per switched session: the switch runs in this process
 * (`startLts`, the same code `lts run` starts, on a real UDP socket of the
 * FFI backend); `lts lac` and `lts lns` are child processes. Heap after
 * three forced GCs with no call, and again with N calls switched (both legs
 * up, one LCP echo round per call across the data plane).
 *
 *   tools/deno run -A --v8-flags=--expose-gc bench/session_memory.ts --sessions 10000
 *
 * `--heap-snapshot FILE` also writes a V8 heap snapshot once every call is
 * switched, for a look at what a session holds.
 *
 * Prints one JSON line: heap and RSS of this process before and after, per
 * session.
 *
 * @module
 */

import { parseArgs } from "node:util";
import v8 from "node:v8";
import { SystemClock } from "../actors/clock.ts";
import { startLts } from "../actors/lts.ts";
import { MicrotaskScheduler } from "../actors/scheduler.ts";
import { ActorSystem } from "../actors/system.ts";
import { formatPolicyErrors, loadPolicy } from "../policies/mod.ts";
import { createDatagramNetwork } from "../transport/network_select.ts";
import { freeUdpPort, lastJson, sleep, spawnLts, switchPolicy } from "./_suite.ts";

/** What one run measured. */
export interface SessionMemory {
  sessions: number;
  switched: number;
  heapIdleB: number;
  heapSwitchedB: number;
  heapPerSessionB: number;
  rssIdleKiB: number;
  rssSwitchedKiB: number;
  rssPerSessionB: number;
  setupSeconds: number;
  /** V8's committed heap and external (ArrayBuffer) memory with every call switched, bytes. */
  heapTotalSwitchedB: number;
  externalSwitchedB: number;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sessions: { type: "string", default: "10000" },
    tunnels: { type: "string", default: "10" },
    rate: { type: "string", default: "20000" },
    /** Writes a V8 heap snapshot with every call switched (open it in Chrome DevTools). */
    "heap-snapshot": { type: "string" },
  },
});

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc!();
  return Deno.memoryUsage().heapUsed;
}

async function run(): Promise<SessionMemory> {
  const sessions = Number(values.sessions);
  const lnsPort = freeUdpPort();
  const selected = createDatagramNetwork("auto", { maxPendingSends: 65536 });
  if (!selected.ok) throw new Error(selected.error);
  const bound = selected.value.network.bind({ hostname: "127.0.0.1", port: 0 });
  if (!bound.ok) throw new Error(bound.error);
  const socket = bound.value;
  const policy = loadPolicy(
    switchPolicy({ ltsPort: socket.local.port, lnsPort, maxSessions: sessions + 1000 }),
    "bench.yaml",
  );
  if (!policy.ok) throw new Error(formatPolicyErrors(policy.error));
  const system = new ActorSystem({ clock: new SystemClock(), scheduler: new MicrotaskScheduler() });
  const lts = startLts({ system, socket, policy: policy.value });
  const lns = spawnLts(["lns", "--listen", `127.0.0.1:${lnsPort}`, "--hello", "0"]);
  try {
    await lns.until(/listening on/);
    await sleep(300);
    const heapIdleB = heapAfterGc();
    const rssIdleKiB = Deno.memoryUsage().rss / 1024;
    // One LCP echo round per call, at most 20,000 frames/s in all (two cores are shared by the
    // LAC, the LNS and this process).
    const pps = Math.min(sessions, 20_000);
    const settle = Math.max(2.5, sessions / pps + 1.5);
    const lac = spawnLts([
      "lac",
      ...["--server", `127.0.0.1:${socket.local.port}`, "--tunnels", values.tunnels!],
      ...["--sessions", `${sessions}`, "--rate", values.rate!, "--data-pps", `${pps}`],
      ...["--duration", `${Math.ceil(sessions / 2000 + 25 + settle)}`, "--timeout", "180"],
    ]);
    const t0 = performance.now();
    const deadline = t0 + 240_000;
    while (lts.stats.switched < sessions && performance.now() < deadline) {
      if (/"sessions_up"/.test(lac.output())) break;
      await sleep(20);
    }
    const setupSeconds = (performance.now() - t0) / 1000;
    await sleep(settle * 1000); // one echo round per call
    const heapSwitchedB = heapAfterGc();
    const usage = Deno.memoryUsage();
    const rssSwitchedKiB = usage.rss / 1024;
    const switched = lts.stats.switched;
    if (values["heap-snapshot"]) v8.writeHeapSnapshot(values["heap-snapshot"]);
    const out = await lac.stop();
    lastJson(out.out);
    return {
      sessions,
      switched,
      heapIdleB,
      heapSwitchedB,
      heapPerSessionB: (heapSwitchedB - heapIdleB) / switched,
      rssIdleKiB,
      rssSwitchedKiB,
      rssPerSessionB: ((rssSwitchedKiB - rssIdleKiB) * 1024) / switched,
      setupSeconds,
      heapTotalSwitchedB: usage.heapTotal,
      externalSwitchedB: usage.external,
    };
  } finally {
    await lns.stop();
    lts.node.shutdown();
    system.shutdown();
    socket.close();
    await socket.closed;
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await run()));
  // Timers of the stopped switch may still be armed: leave at once.
  Deno.exit(0);
}
