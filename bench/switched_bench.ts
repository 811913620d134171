/**
 * Switched-session setup rate and memory, with real processes on loopback:
 * `lts lac` → `lts run` → `lts lns`, one trial per invocation.
 *
 *   tools/deno run -A bench/switched_bench.ts --sessions 10000 --tunnels 10 --rate 20000
 *
 * Both legs: a call counts once the switch has paired it (its upstream ICCN
 * is sent and both forwarding entries are programmed), read from the
 * switch's `lts_calls_switched_total` in `/metrics`, polled every 20 ms. The
 * rate is calls ÷ (first poll that saw all of them − last poll that saw
 * none), which errs low by at most two poll intervals. `lts lac`'s own
 * `setup_rate_per_s` (LAC leg only: the switch answers ICCN before it places
 * the call upstream) is reported beside it.
 *
 * Memory: VmRSS of the `lts run` process once it is listening and idle, and
 * again once every call is switched and the data plane has carried one LCP
 * echo round per call; the difference ÷ calls is the resident cost of a
 * switched session (its two session actors, two forwarding entries, the
 * call record, and the share of tunnels and buffers).
 *
 * Prints one JSON line. `LTS_BENCH_CPU_PROF=DIR` writes a V8 CPU profile of
 * the switch (`--cpu-prof`) into DIR.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  cpuSeconds,
  freeTcpPort,
  freeUdpPort,
  lastJson,
  rssKiB,
  sleep,
  spawnLts,
  switchedTotal,
  switchPolicy,
} from "./_suite.ts";

/** What one trial measured. */
export interface SwitchedTrial {
  sessions: number;
  tunnels: number;
  rate: number;
  switched: number;
  /** Calls ÷ seconds, both legs up (switch's counter). */
  switchedPerS: number;
  switchedSeconds: number;
  /** `lts lac`'s setup_rate_per_s (LAC leg). */
  lacRatePerS: number;
  lacSessionsUp: number;
  lacFailed: number;
  /** CDN Result Codes the LAC got, with counts. */
  resultCodes: Record<string, number>;
  rssIdleKiB: number;
  rssSwitchedKiB: number;
  /** (RSS with every call switched − idle RSS) ÷ calls, in bytes. */
  rssPerSessionB: number;
  upstreamTunnels: number;
  /**
   * CPU time (user + system) the switch spent from the first call to the
   * last one switched, ÷ calls, in µs: the capacity figure that does not
   * depend on what else shares the machine (1e6 ÷ this = calls/s on one core).
   */
  switchCpuPerCallUs: number;
}

/** The LAC's data rate cap, frames/s over all calls. */
const DATA_PPS = 20_000;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sessions: { type: "string", default: "10000" },
    tunnels: { type: "string", default: "10" },
    rate: { type: "string", default: "20000" },
    "sessions-per-tunnel": { type: "string", default: "1000" },
    "lts-cpu": { type: "string" },
    "data-plane": { type: "string", default: "ffi" },
    /** Seconds to wait, once every call is switched, before the RSS reading (≥ 2.5). */
    settle: { type: "string", default: "2.5" },
    /** The switch's --log-level; its last lines go to stderr when calls were left unswitched. */
    "lts-log-level": { type: "string", default: "error" },
    /** V8 flags for the switch, e.g. `--max-semi-space-size=1`. */
    "lts-v8-flags": { type: "string" },
  },
});

async function trial(): Promise<SwitchedTrial> {
  const sessions = Number(values.sessions);
  const tunnels = Number(values.tunnels);
  const rate = Number(values.rate);
  const perTunnel = Number(values["sessions-per-tunnel"]);
  const dir = await Deno.makeTempDir({ prefix: "lts-switched-bench-" });
  const ltsPort = freeUdpPort(), lnsPort = freeUdpPort(), apiPort = freeTcpPort();
  await Deno.writeTextFile(
    `${dir}/policy.yaml`,
    switchPolicy({ ltsPort, lnsPort, apiPort, maxSessions: sessions + 1000 }).replace(
      "hello_interval: 0 }] }",
      `hello_interval: 0 }], sessions_per_tunnel: ${perTunnel} }`,
    ),
  );
  const lns = spawnLts(["lns", "--listen", `127.0.0.1:${lnsPort}`, "--hello", "0"]);
  const lts = spawnLts([
    "run",
    "--config",
    `${dir}/policy.yaml`,
    "--log-level",
    values["lts-log-level"]!,
    "--data-plane",
    values["data-plane"]!,
    // LTS_BENCH_CPU_PROF=DIR writes a V8 CPU profile of the switch into DIR.
  ], {
    cpu: values["lts-cpu"],
    cpuProfDir: Deno.env.get("LTS_BENCH_CPU_PROF"),
    v8Flags: values["lts-v8-flags"],
  });
  try {
    await lns.until(/listening on/);
    await lts.until(/API on/);
    await sleep(500);
    const rssIdleKiB = rssKiB(lts.pid);
    // The LAC holds the calls long enough for the readings below; it echoes once per call.
    // Data: one LCP echo round per call before the RSS reading, at most DATA_PPS frames/s in all
    // (the LAC, the switch and the LNS share two cores: 1 frame/s per call at 100,000 calls
    // would be 100,000 echo rounds a second, enough to starve setup of CPU).
    const pps = Math.min(sessions, DATA_PPS);
    const settle = Math.max(2.5, Number(values.settle), sessions / pps + 1.5);
    const hold = Math.ceil(sessions / 2000 + 20 + settle);
    const lac = spawnLts([
      "lac",
      ...["--server", `127.0.0.1:${ltsPort}`, "--tunnels", `${tunnels}`],
      ...["--sessions", `${sessions}`, "--rate", `${rate}`, "--data-pps", `${pps}`],
      ...["--duration", `${hold}`, "--timeout", "120"],
    ]);
    let lastZero = performance.now();
    let cpuAtZero = cpuSeconds(lts.pid);
    let cpuAtAll = NaN;
    let allAt = 0;
    let seen = 0;
    const deadline = performance.now() + 180_000;
    while (performance.now() < deadline) {
      const t = performance.now();
      seen = await switchedTotal(apiPort);
      if (seen === 0) {
        lastZero = t;
        cpuAtZero = cpuSeconds(lts.pid);
      }
      if (seen >= sessions) {
        allAt = performance.now();
        cpuAtAll = cpuSeconds(lts.pid);
        break;
      }
      if (/"sessions_up"/.test(lac.output())) break; // the LAC gave up (timeout)
      await sleep(20);
    }
    // One echo round per call crosses both legs before the memory reading.
    await sleep(settle * 1000);
    const rssSwitchedKiB = rssKiB(lts.pid);
    const metrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    const upstreamTunnels = Number(
      /^lts_tunnels\{role="upstream",state="established"\} (\d+)/m.exec(metrics)?.[1] ?? 0,
    );
    const lacOut = await lac.stop();
    if (seen < sessions) {
      console.error(`${seen} of ${sessions} switched; the switch's last lines:`);
      console.error(lts.output().split("\n").slice(-40).join("\n"));
    }
    const summary = lastJson<{
      sessions_up: number;
      sessions_failed: number;
      setup_rate_per_s: number;
      result_codes: Record<string, number>;
    }>(lacOut.out);
    const switchedSeconds = allAt > 0 ? (allAt - lastZero) / 1000 : NaN;
    return {
      sessions,
      tunnels,
      rate,
      switched: seen,
      switchedPerS: sessions / switchedSeconds,
      switchedSeconds,
      lacRatePerS: summary.setup_rate_per_s,
      lacSessionsUp: summary.sessions_up,
      lacFailed: summary.sessions_failed,
      resultCodes: summary.result_codes,
      rssIdleKiB,
      rssSwitchedKiB,
      rssPerSessionB: ((rssSwitchedKiB - rssIdleKiB) * 1024) / sessions,
      upstreamTunnels,
      switchCpuPerCallUs: ((cpuAtAll - cpuAtZero) * 1e6) / sessions,
    };
  } finally {
    await lts.stop();
    await lns.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) console.log(JSON.stringify(await trial()));
