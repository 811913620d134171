/**
 * Switching figures, printed as a Markdown table:
 *
 * 1. Switched-session setup rate: calls established on both legs per second
 *    through one `lts run` process. The LAC and the upstream LNS are
 *    `L2tpNode`s in this process, so the hooks time both legs: the LAC leg is
 *    up when the LAC has sent ICCN, the upstream leg when the LNS has received
 *    the switch's ICCN (after which the switch pairs the forwarding entries).
 *    Median of 3 runs, a fresh switch per run.
 * 2. Data frames per second through one `lts run` process on one core, with
 *    the simplest Deno UDP relay (`bench/switch/naive_relay.ts`) as the
 *    reference, both fed by the same C generator and counted by the same C
 *    sink (`bench/switch/udp_blast.c`, built into `bench/baseline/build/`).
 *    The generator sends L2TP data messages on 16 established switched
 *    sessions as fast as it can; the sink is bound to the upstream LNS's port
 *    (the LNS node's socket is closed once the sessions are up, with HELLO
 *    off so the upstream tunnel stays up) and checks that each frame arrives
 *    with the LNS-side Tunnel ID and Session ID. The generator→sink rate with
 *    nothing in between shows the generator is not the limit.
 *
 * CPU: on a machine with 2+ cores the bench re-executes itself pinned to CPU
 * 1 (`taskset`); the switch and the relay run pinned to CPU 0, so the switch
 * gets one core and everything else shares the other.
 *
 * Run: `tools/deno run -A bench/switch_bench.ts [--calls N] [--tunnels T] [--runs R] [--seconds S]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { SystemClock } from "../actors/clock.ts";
import { L2tpNode } from "../actors/l2tp_node.ts";
import type { SessionHandle } from "../actors/l2tp_types.ts";
import { MicrotaskScheduler } from "../actors/scheduler.ts";
import { ActorSystem } from "../actors/system.ts";
import { DenoUdpNetwork, type UdpSocket } from "../transport/udp.ts";
import { callFields, cpuSeconds, fmt, freeUdpPort, median, sleep, udpDrops } from "./_suite.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const RELAY = `${ROOT}bench/switch/naive_relay.ts`;
const BLAST_SRC = `${ROOT}bench/switch/udp_blast.c`;
const BLAST = `${ROOT}bench/baseline/build/udp_blast`;
const SWITCH_CPU = "0";
const OTHER_CPU = "1";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    calls: { type: "string", default: "2000" },
    tunnels: { type: "string", default: "10" },
    runs: { type: "string", default: "3" },
    seconds: { type: "string", default: "4" },
    sessions: { type: "string", default: "16" },
    "sessions-per-tunnel": { type: "string" },
  },
});
const CALLS = Number(opts.calls);
const TUNNELS = Number(opts.tunnels);
const RUNS = Number(opts.runs);
const SECONDS = Number(opts.seconds);
const DATA_SESSIONS = Number(opts.sessions);
const WARMUP = 1;
const PER_TUNNEL = opts["sessions-per-tunnel"];

// Once re-executed pinned, this process sees one CPU: the parent passes the count on.
const pinned = Deno.env.get("LTS_SWITCH_BENCH_CPUS");
const cpus = pinned ? Number(pinned) : navigator.hardwareConcurrency;
const canPin = pinned !== undefined || (cpus >= 2 && (await hasTaskset()));
if (canPin && pinned === undefined) {
  // Re-run pinned to the CPU the switch will not use.
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      OTHER_CPU,
      Deno.execPath(),
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      ...Deno.args,
    ],
    env: { LTS_SWITCH_BENCH_CPUS: `${cpus}` },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  Deno.exit((await child.status).code);
}

async function hasTaskset(): Promise<boolean> {
  try {
    return (await new Deno.Command("taskset", {
      args: ["-p", `${Deno.pid}`],
      stdout: "null",
      stderr: "null",
    })
      .output()).success;
  } catch {
    return false;
  }
}

/** A process pinned to the switch's CPU, started once a line of its stdout matches `ready`. */
interface Proc {
  child: Deno.ChildProcess;
  pid: number;
  stop(): Promise<string>;
}

async function startPinned(args: string[], ready: RegExp): Promise<Proc> {
  const cmd = canPin ? "taskset" : Deno.execPath();
  const full = canPin ? ["-c", SWITCH_CPU, Deno.execPath(), ...args] : args;
  const child = new Deno.Command(cmd, {
    args: full,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!ready.test(out)) {
    const { value, done } = await reader.read();
    if (done) {
      const err = await new Response(child.stderr).text();
      throw new Error(`${args.join(" ")} did not start: ${out}${err}`);
    }
    out += value;
  }
  let rest = "";
  const drainOut = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      rest += value;
    }
  })();
  let errText = "";
  const drainErr = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => void (errText += c) }),
  );
  return {
    child,
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, 5000);
      await child.status;
      clearTimeout(timer);
      await drainOut;
      await drainErr.catch(() => {});
      return rest + errText;
    },
  };
}

function policyYaml(ltsPort: number, lnsPort: number): string {
  return `hostname: lts-bench
listen: ["127.0.0.1:${ltsPort}"]
lacs: [{ match: {} }]
upstreams:
  isp:
${
    PER_TUNNEL
      ? `    sessions_per_tunnel: ${PER_TUNNEL}\n`
      : ""
  }    members: [{ address: "127.0.0.1:${lnsPort}", hello_interval: 0 }]
rules: [{ name: isp, match: { domain: "isp.example" }, forward: isp }]
`;
}

const LTS_ARGS = (config: string) => [
  "run",
  "-A",
  MAIN,
  "run",
  "--config",
  config,
  "--log-level",
  "warning",
];

/** The LAC and the LNS, in this process, around one switch process. */
interface Bed {
  lts: Proc;
  ltsPort: number;
  lnsPort: number;
  lac: L2tpNode;
  lns: L2tpNode;
  lnsSocket: UdpSocket;
  sockets: UdpSocket[];
  system: ActorSystem;
  lacUp: Map<string, { handle: SessionHandle; at: number }>;
  lnsUp: Map<string, { handle: SessionHandle; at: number }>;
  lnsFrames: { n: number };
  failed: { n: number };
  dir: string;
  close(): Promise<void>;
}

async function startBed(): Promise<Bed> {
  const dir = await Deno.makeTempDir({ prefix: "lts-switch-bench-" });
  const network = new DenoUdpNetwork({ maxPendingSends: 65536 });
  const bind = () => {
    const r = network.bind({ hostname: "127.0.0.1", port: 0 });
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  const system = new ActorSystem({ clock: new SystemClock(), scheduler: new MicrotaskScheduler() });
  const lnsSocket = bind();
  const lacSocket = bind();
  const lacUp = new Map<string, { handle: SessionHandle; at: number }>();
  const lnsUp = new Map<string, { handle: SessionHandle; at: number }>();
  const lnsFrames = { n: 0 };
  const failed = { n: 0 };
  const lns = new L2tpNode({
    system,
    socket: lnsSocket,
    settings: { hostname: "bench-lns", helloIntervalMs: 0 },
    hooks: {
      sessionEstablished: (s) =>
        void lnsUp.set(s.call.proxyAuthenName ?? "?", { handle: s, at: performance.now() }),
      frame: () => void lnsFrames.n++,
    },
  });
  const lac = new L2tpNode({
    system,
    socket: lacSocket,
    settings: { hostname: "bench-lac", helloIntervalMs: 0 },
    hooks: {
      sessionEstablished: (s) =>
        void lacUp.set(s.call.proxyAuthenName ?? "?", { handle: s, at: performance.now() }),
      callNotPlaced: () => void failed.n++,
      sessionClosed: (s) => {
        if (!lacUp.has(s.call.proxyAuthenName ?? "?")) failed.n++;
      },
    },
  });
  const ltsPort = freeUdpPort();
  const config = `${dir}/policy.yaml`;
  await Deno.writeTextFile(config, policyYaml(ltsPort, lnsSocket.local.port));
  const lts = await startPinned(LTS_ARGS(config), /listening on/);
  const sockets = [lnsSocket, lacSocket];
  return {
    lts,
    ltsPort,
    lnsPort: lnsSocket.local.port,
    lac,
    lns,
    lnsSocket,
    sockets,
    system,
    lacUp,
    lnsUp,
    lnsFrames,
    failed,
    dir,
    async close() {
      await lts.stop();
      lac.shutdown();
      lns.shutdown();
      system.shutdown();
      for (const s of sockets) s.close();
      await Promise.all(sockets.map((s) => s.closed));
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Opens `tunnels` tunnels to the switch and places `calls` calls round-robin, as fast as accepted. */
async function placeCalls(bed: Bed, tunnels: number, calls: number): Promise<number> {
  const ids: number[] = [];
  for (let i = 0; i < tunnels; i++) {
    const id = bed.lac.openTunnel({ hostname: "127.0.0.1", port: bed.ltsPort });
    if (!id.ok) throw new Error(id.error);
    ids.push(id.value);
  }
  const t0 = performance.now();
  for (let n = 1; n <= calls; n++) {
    // Refused while the tunnel's mailbox is full: back off.
    while (!bed.lac.placeCall(ids[(n - 1) % ids.length], callFields(n, "isp.example"))) {
      await sleep(1);
    }
  }
  return t0;
}

interface SetupRun {
  bothLegsPerS: number;
  lacLegPerS: number;
  bothSeconds: number;
  lacUp: number;
  lnsUp: number;
  failed: number;
  ltsCpu: number;
  benchCpu: number;
}

async function setupRun(): Promise<SetupRun> {
  const bed = await startBed();
  try {
    const cpu0 = cpuSeconds(bed.lts.pid);
    const own0 = cpuSeconds(Deno.pid);
    const w0 = performance.now();
    const t0 = await placeCalls(bed, TUNNELS, CALLS);
    const deadline = performance.now() + 30_000;
    while (
      bed.lnsUp.size + bed.failed.n < CALLS && performance.now() < deadline
    ) await sleep(2);
    const w1 = performance.now();
    const ltsCpu = (cpuSeconds(bed.lts.pid) - cpu0) / ((w1 - w0) / 1000);
    const benchCpu = (cpuSeconds(Deno.pid) - own0) / ((w1 - w0) / 1000);
    const lastLns = Math.max(...[...bed.lnsUp.values()].map((v) => v.at));
    const lastLac = Math.max(...[...bed.lacUp.values()].map((v) => v.at));
    return {
      bothLegsPerS: bed.lnsUp.size / ((lastLns - t0) / 1000),
      lacLegPerS: bed.lacUp.size / ((lastLac - t0) / 1000),
      bothSeconds: (lastLns - t0) / 1000,
      lacUp: bed.lacUp.size,
      lnsUp: bed.lnsUp.size,
      failed: bed.failed.n,
      ltsCpu,
      benchCpu,
    };
  } finally {
    await bed.close();
  }
}

interface Blast {
  sent: number;
  received: number;
  in_window: number;
  window_s: number;
  rate_pps: number;
  offered_pps: number;
  wrong_ids: number;
  not_data: number;
  tail_s: number;
}

interface BlastResult extends Blast {
  cpu: number;
  relayDrops: number;
}

/** Runs the generator+sink for SECONDS; `cpuPid` is the relay process whose CPU share is reported. */
async function blast(
  target: number,
  sink: number,
  size: number,
  pairs: string,
  cpuPid?: number,
  pps = 0,
): Promise<BlastResult> {
  const cpu0 = cpuPid ? cpuSeconds(cpuPid) : NaN;
  const drops0 = udpDrops([target]);
  const t0 = performance.now();
  const out = await new Deno.Command(BLAST, {
    args: [`${target}`, `${sink}`, `${size}`, `${SECONDS}`, `${WARMUP}`, pairs, `${pps}`],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const wall = (performance.now() - t0) / 1000;
  if (!out.success) throw new Error("udp_blast failed");
  const r: Blast = JSON.parse(new TextDecoder().decode(out.stdout));
  const cpu = cpuPid ? (cpuSeconds(cpuPid) - cpu0) / wall : NaN;
  return { ...r, cpu, relayDrops: target === sink ? 0 : udpDrops([target]) - drops0 };
}

async function buildBlast(): Promise<void> {
  await Deno.mkdir(`${ROOT}bench/baseline/build`, { recursive: true });
  const cc = await new Deno.Command("cc", {
    args: ["-O2", "-Wall", "-o", BLAST, BLAST_SRC],
    stderr: "inherit",
  }).output();
  if (!cc.success) throw new Error("cc failed to build bench/switch/udp_blast.c");
}

interface Row {
  figure: string;
  value: string;
  detail: string;
}

async function setupRows(): Promise<Row[]> {
  const runs: SetupRun[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await setupRun());
  const list = (f: (r: SetupRun) => string) => runs.map(f).join(", ");
  return [
    {
      figure: `Switched-session setup, ${CALLS} calls over ${TUNNELS} LAC tunnels, both legs up`,
      value: `${fmt(median(runs.map((r) => r.bothLegsPerS)))} sessions/s`,
      detail:
        `${list((r) => fmt(r.bothLegsPerS))} /s (${
          list((r) => r.bothSeconds.toFixed(2))
        } s); up on LNS ${list((r) => `${r.lnsUp}`)}; failed ${list((r) => `${r.failed}`)}; ` +
        `CPU: lts ${list((r) => `${Math.round(r.ltsCpu * 100)}%`)}, LAC+LNS ${
          list((r) => `${Math.round(r.benchCpu * 100)}%`)
        }`,
    },
    {
      figure: "  same runs, LAC leg only (LAC sent ICCN)",
      value: `${fmt(median(runs.map((r) => r.lacLegPerS)))} sessions/s`,
      detail: `${list((r) => fmt(r.lacLegPerS))} /s; up on LAC ${list((r) => `${r.lacUp}`)}`,
    },
  ];
}

async function dataRows(): Promise<Row[]> {
  const bed = await startBed();
  let relay: Proc | undefined;
  try {
    const tunnels = Math.min(4, DATA_SESSIONS);
    await placeCalls(bed, tunnels, DATA_SESSIONS);
    const deadline = performance.now() + 10_000;
    while (bed.lnsUp.size < DATA_SESSIONS && performance.now() < deadline) await sleep(5);
    if (bed.lnsUp.size < DATA_SESSIONS) {
      throw new Error(`only ${bed.lnsUp.size}/${DATA_SESSIONS} switched sessions came up`);
    }
    // IDs: what the LAC sends with (the switch's Tunnel/Session ID) and what the LNS should see.
    const ltsSide: string[] = [];
    const lnsSide: string[] = [];
    for (const [user, { handle }] of bed.lacUp) {
      const entry = bed.lac.forwarding.get(handle.tunnel.tunnelId, handle.sessionId)!;
      const up = bed.lnsUp.get(user)!.handle;
      ltsSide.push(
        `${entry.peerTunnelId}:${entry.peerSessionId}>${up.tunnel.tunnelId}:${up.sessionId}`,
      );
      lnsSide.push(`${up.tunnel.tunnelId}:${up.sessionId}>${up.tunnel.tunnelId}:${up.sessionId}`);
    }
    // One frame per session end to end proves the forwarding entries are paired.
    const ppp = new Uint8Array([0xff, 0x03, 0x00, 0x21, 0x45, 0, 0, 20]);
    for (const { handle } of bed.lacUp.values()) handle.sendFrame(ppp);
    const until = performance.now() + 3000;
    while (bed.lnsFrames.n < DATA_SESSIONS && performance.now() < until) await sleep(5);
    if (bed.lnsFrames.n < DATA_SESSIONS) throw new Error("frames do not cross the switch");
    // Let the last control messages be acknowledged, then hand the LNS's port to the sink.
    await sleep(1500);
    bed.lnsSocket.close();
    await bed.lnsSocket.closed;
    const relayPort = freeUdpPort();
    relay = await startPinned(["run", "-A", RELAY, `${relayPort}`, `${bed.lnsPort}`], /listening/);
    const sizes = [64, 1400];
    const results = new Map<string, BlastResult[]>();
    const add = (k: string, r: BlastResult) => results.set(k, [...(results.get(k) ?? []), r]);
    for (let round = 0; round < RUNS; round++) {
      for (const size of sizes) {
        add(`direct ${size}`, await blast(bed.lnsPort, bed.lnsPort, size, lnsSide.join(",")));
        add(
          `lts ${size}`,
          await blast(bed.ltsPort, bed.lnsPort, size, ltsSide.join(","), bed.lts.pid),
        );
        add(
          `relay ${size}`,
          await blast(relayPort, bed.lnsPort, size, lnsSide.join(","), relay.pid),
        );
      }
    }
    const rows: Row[] = [];
    for (const size of sizes) {
      const med = (k: string) => {
        const rs = results.get(`${k} ${size}`)!;
        return rs.find((r) => r.rate_pps === median(rs.map((x) => x.rate_pps)))!;
      };
      const describe = (k: string, who: string) => {
        const rs = results.get(`${k} ${size}`)!;
        const m = med(k);
        const lost = m.sent - m.received;
        return {
          figure: `${who}, ${size}-byte UDP payloads`,
          value: `${fmt(m.rate_pps)} frames/s`,
          detail: `runs ${
            rs.map((r) => fmt(r.rate_pps)).join(", ")
          }; offered ${fmt(m.offered_pps)}/s; ` +
            `received ${fmt(m.received)} of ${fmt(m.sent)} sent (loss ${
              (100 * lost / m.sent).toFixed(1)
            }%` +
            (k === "direct" ? "" : `, ${fmt(m.relayDrops)} in its socket's receive queue`) +
            `)` +
            (k === "direct" ? "" : `; CPU ${Math.round(m.cpu * 100)}%`) +
            (m.wrong_ids ? `; ${fmt(m.wrong_ids)} with wrong IDs` : "") +
            (m.tail_s > 0.05
              ? `; drained ${m.tail_s.toFixed(2)} s after the generator stopped`
              : ""),
        };
      };
      const lts = med("lts").rate_pps;
      const ref = med("relay").rate_pps;
      rows.push(describe("direct", "Generator → sink, nothing between"));
      rows.push(describe("relay", "Naive Deno UDP relay (receive/send loop)"));
      rows.push(describe("lts", "lts run, 16 switched sessions"));
      rows.push({
        figure: `lts ÷ naive relay, ${size}-byte`,
        value: `${(lts / ref).toFixed(2)}`,
        detail: "",
      });
      // Below saturation: both at 75% of the switch's median rate, to show the loss there.
      const pps = Math.round((0.75 * lts) / 1000) * 1000;
      for (
        const [who, port, pairs, pid] of [
          ["lts run", bed.ltsPort, ltsSide, bed.lts.pid],
          ["Naive relay", relayPort, lnsSide, relay.pid],
        ] as const
      ) {
        const r = await blast(port, bed.lnsPort, size, pairs.join(","), pid, pps);
        const lost = r.sent - r.received;
        rows.push({
          figure: `${who}, ${size}-byte, offered ${fmt(pps)}/s (75% of lts's rate)`,
          value: `loss ${(100 * lost / r.sent).toFixed(2)}%`,
          detail: `received ${fmt(r.received)} of ${fmt(r.sent)} (${fmt(r.rate_pps)}/s); ` +
            `${fmt(r.relayDrops)} dropped in its socket's receive queue; CPU ${
              Math.round(r.cpu * 100)
            }%` + (r.wrong_ids ? `; ${fmt(r.wrong_ids)} with wrong IDs` : ""),
        });
      }
    }
    return rows;
  } finally {
    await relay?.stop();
    await bed.close();
  }
}

function describeMachine(): string {
  let model = "?";
  try {
    model = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  } catch {
    // Not Linux.
  }
  return `${
    new Date().toISOString().slice(0, 10)
  }, nproc ${cpus}, CPU "${model}", Deno ${Deno.version.deno} ` +
    `(V8 ${Deno.version.v8}), ${
      canPin ? "switch/relay pinned to CPU 0, the rest to CPU 1" : "not pinned"
    }`;
}

await buildBlast();
const machine = describeMachine();
const started = performance.now();
const rows = [...await setupRows(), ...await dataRows()];
console.log(`Switching — ${machine}; ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
const header: Row = { figure: "Figure", value: "Measured (median)", detail: "Runs and notes" };
const width = (k: keyof Row) => Math.max(...[header, ...rows].map((r) => r[k].length));
const line = (r: Row) =>
  `| ${r.figure.padEnd(width("figure"))} | ${r.value.padEnd(width("value"))} | ${
    r.detail.padEnd(width("detail"))
  } |`;
console.log(line(header));
console.log(
  `| ${"-".repeat(width("figure"))} | ${"-".repeat(width("value"))} | ${
    "-".repeat(width("detail"))
  } |`,
);
for (const r of rows) console.log(line(r));
