/**
 * Data-plane figures: frames per second switched through one `lts run`
 * process with `--data-plane ffi` (recvmmsg/sendmmsg, `transport/ffi_udp.ts`)
 * and `--data-plane deno` (`Deno.listenDatagram`), against a C relay doing
 * the same job (`bench/baseline/dp_relay.c`: recvmmsg, Tunnel ID/Session ID
 * rewrite from a hash table, sendmmsg) — all in one run, on one machine.
 *
 * Traffic: `bench/baseline/dp_blast.c` (C, one thread) sends RFC 2661 data
 * messages round-robin over the switched sessions as fast as it can and
 * counts what reaches the sink, which sits on the upstream LNS's port (the
 * LNS node's socket is closed once the sessions are up; upstream HELLO is
 * off) and checks every frame's rewritten IDs. Generator → sink with nothing
 * between is measured too, to show the generator is not the limit.
 *
 * Sessions: the LAC and the upstream LNS are `L2tpNode`s in this process;
 * 1 and 10,000 switched sessions (10 LAC tunnels for 10,000). Payloads: 64 and
 * 1,400 bytes of UDP payload.
 *
 * Control traffic vs forwarding: with the FFI backend and 10,000 sessions,
 * frames are offered at half of its saturated 64-byte rate, once alone and
 * once while the LAC opens 20 new tunnels and places 2,000 calls that the
 * policy rejects (SCCRQ/SCCRP/SCCCN, ICRQ/ICRP/ICCN, CDN, StopCCN); the figure
 * is the ratio of frames delivered with and without that load.
 *
 * CPU: with 2+ cores this bench re-executes itself pinned to CPU 0 with the
 * generator; lts and the C relay run pinned to CPU 1 (`taskset -c 1`).
 *
 * Run: `tools/deno task bench:dataplane [--runs 3] [--seconds 4] [--sessions 1,10000]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { SystemClock } from "../actors/clock.ts";
import { L2tpNode } from "../actors/l2tp_node.ts";
import type { SessionHandle } from "../actors/l2tp_types.ts";
import { MicrotaskScheduler } from "../actors/scheduler.ts";
import { ActorSystem } from "../actors/system.ts";
import { createDatagramNetwork } from "../transport/network_select.ts";
import type { UdpSocket } from "../transport/udp.ts";
import { callFields, cpuSeconds, fmt, freeUdpPort, median, sleep, udpDrops } from "./_suite.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const BUILD = `${ROOT}bench/baseline/build`;
const BLAST = `${BUILD}/dp_blast`;
const RELAY = `${BUILD}/dp_relay`;
const SWITCH_CPU = "1";
const OTHER_CPU = "0";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "3" },
    seconds: { type: "string", default: "4" },
    sessions: { type: "string", default: "1,10000" },
    sizes: { type: "string", default: "64,1400" },
  },
});
const RUNS = Number(opts.runs);
const SECONDS = Number(opts.seconds);
const WARMUP = 1;
const SESSIONS = opts.sessions!.split(",").map(Number);
const SIZES = opts.sizes!.split(",").map(Number);
const BACKENDS = ["ffi", "deno"] as const;
const PROFILE_DIR = Deno.env.get("LTS_BENCH_CPU_PROF");
type Backend = typeof BACKENDS[number];

const pinned = Deno.env.get("LTS_DATAPLANE_BENCH_CPUS");
const cpus = pinned ? Number(pinned) : navigator.hardwareConcurrency;
const canPin = pinned !== undefined || (cpus >= 2 && await succeeds("taskset", ["-p", "1"]));
if (canPin && pinned === undefined) {
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
    env: { LTS_DATAPLANE_BENCH_CPUS: `${cpus}` },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  Deno.exit((await child.status).code);
}

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/** A process pinned to the switch's CPU, returned once its stdout matches `ready`. */
interface Proc {
  pid: number;
  stop(): Promise<string>;
}

async function startPinned(cmd: string, args: string[], ready: RegExp): Promise<Proc> {
  const child = new Deno.Command(canPin ? "taskset" : cmd, {
    args: canPin ? ["-c", SWITCH_CPU, cmd, ...args] : args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const outDone = (async () => {
    for await (const c of child.stdout.pipeThrough(new TextDecoderStream())) out += c;
  })();
  const errText = new Response(child.stderr).text();
  const until = performance.now() + 20_000;
  while (!ready.test(out)) {
    if (performance.now() > until) {
      child.kill("SIGKILL");
      throw new Error(`${cmd} ${args.join(" ")} did not start: ${out}${await errText}`);
    }
    await sleep(10);
  }
  return {
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
      }, 10_000);
      await child.status;
      clearTimeout(timer);
      await outDone;
      return out + (await errText);
    },
  };
}

async function build(): Promise<void> {
  await Deno.mkdir(BUILD, { recursive: true });
  for (const name of ["dp_blast", "dp_relay"]) {
    const cc = await new Deno.Command("cc", {
      args: ["-O2", "-Wall", "-o", `${BUILD}/${name}`, `${ROOT}bench/baseline/${name}.c`],
      stderr: "inherit",
    }).output();
    if (!cc.success) throw new Error(`cc failed to build bench/baseline/${name}.c`);
  }
}

interface Blast {
  sent: number;
  received: number;
  rate_pps: number;
  offered_pps: number;
  wrong_ids: number;
  tail_s: number;
}

interface BlastResult extends Blast {
  cpu: number;
  /** CPU time of the relay process per frame it delivered, in µs: robust to a shared core. */
  cpuPerFrameUs: number;
  drops: number;
}

async function blast(
  target: number,
  sink: number,
  size: number,
  pairsFile: string,
  pid?: number,
  pps = 0,
): Promise<BlastResult> {
  const cpu0 = pid ? cpuSeconds(pid) : NaN;
  const drops0 = udpDrops([target]);
  const t0 = performance.now();
  const out = await new Deno.Command(BLAST, {
    args: [`${target}`, `${sink}`, `${size}`, `${SECONDS}`, `${WARMUP}`, pairsFile, `${pps}`],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const wall = (performance.now() - t0) / 1000;
  if (!out.success) throw new Error("dp_blast failed");
  const r: Blast = JSON.parse(new TextDecoder().decode(out.stdout));
  const used = pid ? cpuSeconds(pid) - cpu0 : NaN;
  return {
    ...r,
    cpu: used / wall,
    cpuPerFrameUs: (used / r.received) * 1e6,
    drops: target === sink ? 0 : udpDrops([target]) - drops0,
  };
}

const policy = (ltsPort: number, lnsPort: number) =>
  `hostname: lts-bench
listen: ["127.0.0.1:${ltsPort}"]
lacs: [{ match: {} }]
upstreams:
  isp:
    members: [{ address: "127.0.0.1:${lnsPort}", hello_interval: 0 }]
rules: [{ name: isp, match: { domain: "isp.example" }, forward: isp }]
`;

const REJECTED_DOMAIN = "no.example";
const isRejected = (s: SessionHandle) =>
  s.call.proxyAuthenName?.endsWith(`@${REJECTED_DOMAIN}`) ?? false;

/** `lts run` with `backend`, the LAC and LNS nodes here, and `sessions` switched calls up. */
interface Bed {
  lts: Proc;
  ltsPort: number;
  lnsPort: number;
  lac: L2tpNode;
  pairsFile: string;
  rejected: { n: number };
  close(): Promise<void>;
}

async function startBed(backend: Backend, sessions: number): Promise<Bed> {
  const dir = await Deno.makeTempDir({ prefix: "lts-dataplane-bench-" });
  const selected = createDatagramNetwork("auto", { maxPendingSends: 65536 });
  if (!selected.ok) throw new Error(selected.error);
  const network = selected.value.network;
  const bind = () => {
    const r = network.bind({ hostname: "127.0.0.1", port: 0 });
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  const system = new ActorSystem({ clock: new SystemClock(), scheduler: new MicrotaskScheduler() });
  const lnsSocket = bind();
  const lacSocket = bind();
  const sockets: UdpSocket[] = [lnsSocket, lacSocket];
  const lacUp = new Map<string, SessionHandle>();
  const lnsUp = new Map<string, SessionHandle>();
  const rejected = { n: 0 };
  let lnsFrames = 0;
  const lns = new L2tpNode({
    system,
    socket: lnsSocket,
    settings: { hostname: "bench-lns", helloIntervalMs: 0 },
    hooks: {
      sessionEstablished: (s) => void lnsUp.set(s.call.proxyAuthenName ?? "?", s),
      frame: () => void lnsFrames++,
    },
  });
  const lac = new L2tpNode({
    system,
    socket: lacSocket,
    settings: { hostname: "bench-lac", helloIntervalMs: 0 },
    maxTunnels: 10_000,
    hooks: {
      sessionEstablished: (s) => {
        if (!isRejected(s)) lacUp.set(s.call.proxyAuthenName ?? "?", s);
      },
      // The switch decides after ICCN (the proxy AVPs), so a rejected call may first be up.
      callNotPlaced: () => void rejected.n++,
      sessionClosed: (s) => void (isRejected(s) && rejected.n++),
    },
  });
  const ltsPort = freeUdpPort();
  await Deno.writeTextFile(`${dir}/policy.yaml`, policy(ltsPort, lnsSocket.local.port));
  const lts = await startPinned(
    Deno.execPath(),
    [
      "run",
      "-A",
      // LTS_BENCH_CPU_PROF=DIR writes a V8 CPU profile of each lts run into DIR.
      ...(PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : []),
      MAIN,
      "run",
      "--config",
      `${dir}/policy.yaml`,
      "--log-level",
      "warning",
      "--data-plane",
      backend,
    ],
    new RegExp(`data plane ${backend}`),
  );
  const close = async () => {
    await lts.stop();
    lac.shutdown();
    lns.shutdown();
    system.shutdown();
    for (const s of sockets) s.close();
    await Promise.all(sockets.map((s) => s.closed));
  };
  try {
    const tunnels = Math.min(10, sessions);
    const ids: number[] = [];
    for (let i = 0; i < tunnels; i++) {
      const id = lac.openTunnel({ hostname: "127.0.0.1", port: ltsPort });
      if (!id.ok) throw new Error(id.error);
      ids.push(id.value);
    }
    for (let n = 1; n <= sessions; n++) {
      while (!lac.placeCall(ids[(n - 1) % ids.length], callFields(n, "isp.example"))) {
        await sleep(1);
      }
    }
    const deadline = performance.now() + 60_000;
    while (lnsUp.size < sessions && performance.now() < deadline) await sleep(10);
    if (lnsUp.size < sessions) throw new Error(`only ${lnsUp.size}/${sessions} sessions came up`);
    while (lacUp.size < sessions && performance.now() < deadline) await sleep(10);
    const lines: string[] = [];
    for (const [user, handle] of lacUp) {
      const entry = lac.forwarding.get(handle.tunnel.tunnelId, handle.sessionId)!;
      const up = lnsUp.get(user)!;
      lines.push(
        `${entry.peerTunnelId}:${entry.peerSessionId}>${up.tunnel.tunnelId}:${up.sessionId}`,
      );
    }
    // One frame per session end to end proves every forwarding entry is paired.
    // In steps of 200, so that no socket's receive buffer overflows on the way.
    const ppp = new Uint8Array([0xff, 0x03, 0x00, 0x21, 0x45, 0, 0, 20]);
    const handles = [...lacUp.values()];
    const until = performance.now() + 20_000;
    for (let i = 0; i < handles.length && performance.now() < until; i += 200) {
      for (const handle of handles.slice(i, i + 200)) handle.sendFrame(ppp);
      while (lnsFrames < Math.min(i + 200, sessions) && performance.now() < until) await sleep(2);
    }
    if (lnsFrames < sessions) throw new Error(`${lnsFrames}/${sessions} frames crossed`);
    await sleep(1500); // the last acknowledgements, then the sink takes the LNS's port
    lnsSocket.close();
    await lnsSocket.closed;
    const pairsFile = `${dir}/pairs.txt`;
    await Deno.writeTextFile(pairsFile, lines.join("\n") + "\n");
    return {
      lts,
      ltsPort,
      lnsPort: lnsSocket.local.port,
      lac,
      pairsFile,
      rejected,
      async close() {
        await close();
        await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}

interface Row {
  figure: string;
  value: string;
  detail: string;
}

/** Median-by-rate run, and the row describing it. */
function describe(
  figure: string,
  rs: BlastResult[],
  c?: { rate: number; cpuPerFrameUs: number },
): Row {
  const m = rs.find((r) => r.rate_pps === median(rs.map((x) => x.rate_pps)))!;
  const loss = (100 * (m.sent - m.received)) / m.sent;
  const us = median(rs.map((r) => r.cpuPerFrameUs));
  return {
    figure,
    value: `${fmt(m.rate_pps)} frames/s` +
      (c === undefined ? "" : ` (${(m.rate_pps / c.rate).toFixed(2)}× C)`) +
      (Number.isNaN(us) ? "" : `; ${us.toFixed(2)} µs CPU/frame`) +
      (c === undefined || Number.isNaN(us) ? "" : ` (C's ${(c.cpuPerFrameUs / us).toFixed(2)}×)`),
    detail: `runs ${rs.map((r) => fmt(r.rate_pps)).join(", ")}; offered ${fmt(m.offered_pps)}/s; ` +
      `loss ${loss.toFixed(1)}%` +
      (Number.isNaN(m.cpu)
        ? ""
        : `, ${fmt(m.drops)} in its receive queue; CPU ${Math.round(m.cpu * 100)}%`) +
      (m.wrong_ids ? `; ${fmt(m.wrong_ids)} WRONG IDs` : ""),
  };
}

/** Control load: `tunnels` new LAC tunnels, `calls` calls the policy rejects; resolves when all ended. */
async function controlLoad(bed: Bed, tunnels: number, calls: number): Promise<number> {
  const t0 = performance.now();
  const before = bed.rejected.n;
  const ids: number[] = [];
  for (let i = 0; i < tunnels; i++) {
    const id = bed.lac.openTunnel({ hostname: "127.0.0.1", port: bed.ltsPort });
    if (!id.ok) throw new Error(id.error);
    ids.push(id.value);
  }
  for (let n = 1; n <= calls; n++) {
    while (
      !bed.lac.placeCall(ids[(n - 1) % ids.length], callFields(100_000 + n, REJECTED_DOMAIN))
    ) {
      await sleep(1);
    }
  }
  const deadline = performance.now() + 30_000;
  while (bed.rejected.n - before < calls && performance.now() < deadline) await sleep(5);
  for (const id of ids) bed.lac.closeTunnel(id);
  return (bed.rejected.n - before) / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  await build();
  const rows: Row[] = [];
  const started = performance.now();
  for (const sessions of SESSIONS) {
    const results = new Map<string, BlastResult[]>();
    const add = (k: string, r: BlastResult) => results.set(k, [...(results.get(k) ?? []), r]);
    let pairsFile = "";
    let pairsDir = "";
    let control: Row[] = [];
    for (const backend of BACKENDS) {
      const bed = await startBed(backend, sessions);
      try {
        for (let round = 0; round < RUNS; round++) {
          for (const size of SIZES) {
            add(
              `${backend} ${size}`,
              await blast(bed.ltsPort, bed.lnsPort, size, bed.pairsFile, bed.lts.pid),
            );
          }
        }
        if (backend === "ffi" && sessions === Math.max(...SESSIONS)) {
          control = await controlRows(bed, results.get(`ffi ${SIZES[0]}`)!, sessions);
        }
        // Keep one pairs file for the C relay and the direct run.
        pairsDir = await Deno.makeTempDir({ prefix: "lts-dataplane-pairs-" });
        pairsFile = `${pairsDir}/pairs.txt`;
        await Deno.copyFile(bed.pairsFile, pairsFile);
      } finally {
        await bed.close();
      }
    }
    const relayPort = freeUdpPort();
    const sinkPort = freeUdpPort();
    const relay = await startPinned(RELAY, [`${relayPort}`, `${sinkPort}`, pairsFile], /listening/);
    try {
      for (let round = 0; round < RUNS; round++) {
        for (const size of SIZES) {
          add(`c ${size}`, await blast(relayPort, sinkPort, size, pairsFile, relay.pid));
        }
      }
    } finally {
      await relay.stop();
    }
    // Generator → sink: the sink expects the IDs the generator sends.
    const identity = `${pairsDir}/identity.txt`;
    await Deno.writeTextFile(
      identity,
      (await Deno.readTextFile(pairsFile)).split("\n").filter((l) => l).map((l) => {
        const to = l.split(">")[1];
        return `${to}>${to}`;
      }).join("\n") + "\n",
    );
    for (const size of SIZES) {
      add(`direct ${size}`, await blast(sinkPort, sinkPort, size, identity));
    }
    await Deno.remove(pairsDir, { recursive: true });
    for (const size of SIZES) {
      const cs = results.get(`c ${size}`)!;
      const c = {
        rate: median(cs.map((r) => r.rate_pps)),
        cpuPerFrameUs: median(cs.map((r) => r.cpuPerFrameUs)),
      };
      const label = `${fmt(sessions)} session${sessions === 1 ? "" : "s"}, ${size} B`;
      rows.push(describe(`${label}: generator → sink direct`, results.get(`direct ${size}`)!));
      rows.push(describe(`${label}: C relay (recvmmsg/sendmmsg)`, results.get(`c ${size}`)!));
      rows.push(describe(`${label}: lts --data-plane ffi`, results.get(`ffi ${size}`)!, c));
      rows.push(describe(`${label}: lts --data-plane deno`, results.get(`deno ${size}`)!, c));
    }
    rows.push(...control);
  }
  const machine = `${new Date().toISOString().slice(0, 10)}, nproc ${cpus}, CPU "${cpuModel()}", ` +
    `Deno ${Deno.version.deno}, ${
      canPin ? `lts/relay on CPU ${SWITCH_CPU}, the rest on CPU ${OTHER_CPU}` : "not pinned"
    }`;
  console.log(`Data plane — ${machine}; ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
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
}

/** Forwarding at half the saturated rate, alone and under a burst of control traffic. */
async function controlRows(bed: Bed, saturated: BlastResult[], sessions: number): Promise<Row[]> {
  const size = SIZES[0];
  const pps = Math.round(median(saturated.map((r) => r.rate_pps)) / 2 / 1000) * 1000;
  const alone = await blast(bed.ltsPort, bed.lnsPort, size, bed.pairsFile, bed.lts.pid, pps);
  const loaded = blast(bed.ltsPort, bed.lnsPort, size, bed.pairsFile, bed.lts.pid, pps);
  await sleep(WARMUP * 1000); // the load falls inside the measured window
  const callsPerS = await controlLoad(bed, 20, 2000);
  const withLoad = await loaded;
  const share = (r: BlastResult) => r.received / r.sent;
  return [{
    figure: `${fmt(sessions)} sessions, ${size} B at ${fmt(pps)}/s, under control load ÷ alone`,
    value: `${(share(withLoad) / share(alone)).toFixed(3)}`,
    detail:
      `delivered ${(100 * share(alone)).toFixed(2)}% alone, ${
        (100 * share(withLoad)).toFixed(2)
      }% while 20 tunnels + 2,000 rejected calls ran (${fmt(callsPerS)} calls/s); ` +
      `ffi backend; CPU ${Math.round(alone.cpu * 100)}% → ${Math.round(withLoad.cpu * 100)}%`,
  }];
}

function cpuModel(): string {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  } catch {
    return "?";
  }
}

await main();
