/**
 * Operations: policy reload time at 10,000 rules, reloads under traffic, and
 * startup to listening.
 *
 *   tools/deno run -A bench/reload_bench.ts [--skip-startup] [--rate 5000] [--seconds 5]
 *     [--slice-ms N]
 *
 * 1. Reload: a 10,000-rule policy (70% exact realms `isp-N.example` spread
 *    over four upstreams, 10% `*.rN.example` globs, 10% `^0800N` called
 *    numbers, 10% `^\+44N` calling numbers) is written to a file and
 *    `LtsRuntime.reload()` is timed end to end (read file → parse → validate
 *    → compile → "policy" message to the switch actor → reply) with a
 *    `PolicyLoader` kept across reloads, as `lts run` does: alternating with a
 *    copy where one rule changed (median of 10 after one warm-up), and with
 *    version 2, where every rule changed (median of 6). Then the full
 *    `loadPolicy(text)` alone (what every reload cost before) and the swap
 *    alone (`reload()` with a `load` that returns an already compiled policy).
 * 2. Under traffic: lts runs in a Worker (its own thread and event loop, as
 *    in `lts run`); the LAC and four LNSes run on the main thread, so a stall
 *    of lts does not pause the traffic source. 20 calls are switched, then
 *    LCP Echo-Requests are sent round-robin at a paced total rate and the
 *    LNSes answer them. Phases, back to back in one run: A (no reloads);
 *    B (reload every 500 ms, alternating two 10k-rule versions that differ in
 *    every rule but keep the calls' realms on the same upstreams); B1 (the
 *    same with two versions that differ in one rule); B0 (as B, but each
 *    reload a full parse in a Worker, `loadPolicyFileOffThread`: the way
 *    before `PolicyLoader`, for comparison under the same load); C (the same
 *    reloads of a 200-rule policy, a control). `--slice-ms` sets the lts
 *    loader's slice. Each request carries its sequence number; loss = sent −
 *    replied, by phase of sending; kernel drops are read from /proc/net/udp.
 * 3. Startup: `deno run -A main.ts run --config small.yaml` and the bundle
 *    (`deno bundle --platform deno`), time from spawn to "listening on" on
 *    stdout, median of 10 after one warm-up.
 *
 * @module
 */

import { SystemClock } from "../actors/clock.ts";
import { L2tpNode } from "../actors/l2tp_node.ts";
import type { SessionHandle } from "../actors/l2tp_types.ts";
import { LtsRuntime, startLts } from "../actors/lts.ts";
import { MicrotaskScheduler } from "../actors/scheduler.ts";
import { ActorSystem } from "../actors/system.ts";
import {
  type CompiledPolicy,
  formatPolicyErrors,
  loadPolicy,
  loadPolicyFileOffThread,
  PolicyLoader,
} from "../policies/mod.ts";
import { echoReply, echoRequest, LcpCode, lcpCode } from "../ppp/echo.ts";
import { proxyFields } from "../ppp/proxy.ts";
import { DenoUdpNetwork, type UdpSocket } from "../transport/udp.ts";
import { udpDrops } from "./_suite.ts";

const RULES = 10_000;
const UPSTREAMS = 4;
const CALLS = 20;
/** The control case of phase C: the same reloads with a policy that loads in a few ms. */
const SMALL_RULES = 200;
const DENO = new URL("../tools/deno", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
const WorkerScope = (globalThis as any).WorkerGlobalScope;
const inWorker = WorkerScope !== undefined && self instanceof WorkerScope;

/** The realms of the switched calls: exact-realm rules near the top of the file. */
function callRealmIndexes(): number[] {
  const out: number[] = [];
  for (let i = 0; out.length < CALLS; i++) if (i % 20 < 14) out.push(i);
  return out;
}

/**
 * A 10,000-rule policy. Version 1 and 2 differ in where rules ≥ 200 forward
 * (and in their names); rules < 200, which the calls use, are the same.
 */
export function bigPolicy(
  ltsPort: number,
  lnsPorts: number[],
  version: 1 | 2,
  rules = RULES,
): string {
  return bigPolicyLines(ltsPort, lnsPorts, version, rules).join("\n");
}

/**
 * Version 1 with one rule edited (rule 5000, or the middle one, forwards to
 * the next upstream): the operator's common reload.
 */
export function bigPolicyOneChanged(ltsPort: number, lnsPorts: number[], rules = RULES): string {
  const lines = bigPolicyLines(ltsPort, lnsPorts, 1, rules);
  const at = lines.indexOf("rules:") + 1 + Math.floor(rules / 2);
  lines[at] = lines[at].replace(
    /forward: up-(\d)/,
    (_, u) => `forward: up-${(+u + 1) % UPSTREAMS}`,
  );
  return lines.join("\n");
}

function bigPolicyLines(
  ltsPort: number,
  lnsPorts: number[],
  version: 1 | 2,
  rules: number,
): string[] {
  const lines = [
    "hostname: lts-bench",
    `listen: ["127.0.0.1:${ltsPort}"]`,
    "lacs:",
    '  - { match: { hostname: "lac-*" } }',
    "upstreams:",
  ];
  for (let u = 0; u < UPSTREAMS; u++) {
    lines.push(`  up-${u}:`, "    members:");
    lines.push(`      - { address: "127.0.0.1:${lnsPorts[u]}" }`);
  }
  lines.push("rules:");
  for (let i = 0; i < rules; i++) {
    const k = i % 20;
    const up = i < 200 ? i % UPSTREAMS : (i + version) % UPSTREAMS;
    const match = k < 14
      ? `domain: "isp-${i}.example"`
      : k < 16
      ? `domain: "*.r${i}.example"`
      : k < 18
      ? `called_number: "^0800${i}"`
      : `calling_number: "^\\\\+44${i}"`;
    lines.push(`  - { name: v${version}-rule-${i}, match: { ${match} }, forward: up-${up} }`);
  }
  lines.push('default: { reject: { result_code: 2, message: "no route" } }', "");
  return lines;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f1 = (x: number) => x.toFixed(1);

function mustLoad(text: string, name: string): CompiledPolicy {
  const r = loadPolicy(text, name);
  if (!r.ok) throw new Error(formatPolicyErrors(r.error));
  return r.value;
}

function newSystem(): ActorSystem {
  return new ActorSystem({ clock: new SystemClock(), scheduler: new MicrotaskScheduler() });
}

// ---------------------------------------------------------------------------------------------
// The worker: one lts, driven by messages from the main thread.

type ToWorker =
  | { type: "bind" }
  | { type: "start"; path: string; sliceMs?: number }
  /** `full`: as lts did before `PolicyLoader`, a full parse in a Worker (`loadPolicyFileOffThread`). */
  | { type: "reload"; path: string; full?: boolean }
  | { type: "metrics" }
  | { type: "stop" };

if (inWorker) {
  const system = newSystem();
  const bound = new DenoUdpNetwork({ maxPendingSends: 65536 }).bind({
    hostname: "127.0.0.1",
    port: 0,
  });
  if (!bound.ok) throw new Error(bound.error);
  const socket = bound.value;
  let path = "";
  let full = false;
  let runtime: LtsRuntime | undefined;
  const scope = self as unknown as {
    postMessage(m: unknown): void;
    onmessage: (e: MessageEvent<ToWorker>) => void;
    close(): void;
  };
  const post = (m: unknown) => scope.postMessage(m);
  scope.onmessage = async (e: MessageEvent<ToWorker>) => {
    const m = e.data;
    if (m.type === "bind") return post({ type: "bound", port: socket.local.port });
    if (m.type === "start") {
      path = m.path;
      // As lts run does: one loader for the start and every reload.
      const loader = new PolicyLoader(m.sliceMs === undefined ? {} : { sliceMs: m.sliceMs });
      const first = await loader.load(path);
      if (!first.ok) throw new Error(formatPolicyErrors(first.error));
      const lts = startLts({ system, socket, policy: first.value });
      runtime = new LtsRuntime(lts, {
        system,
        source: path,
        load: () => full ? loadPolicyFileOffThread(path) : loader.load(path),
      });
      return post({ type: "started" });
    }
    if (m.type === "reload") {
      path = m.path;
      full = m.full === true;
      const t0 = performance.now();
      const r = await runtime!.reload();
      const ms = performance.now() - t0;
      return post({ type: "reloaded", ms, ok: r.ok, version: r.ok ? r.version : -1 });
    }
    if (m.type === "metrics") {
      const v = await runtime!.metrics();
      return post({
        type: "metrics",
        forwarded: v.dataForwardedFrames,
        dataDropped: v.dataDropped,
        datagramsDropped: v.datagramsDropped,
        mailboxDrops: v.mailboxDropsTotal,
        policyVersion: v.policyVersion,
        pendingSends: socket.pendingSends,
        stats: socket.stats,
      });
    }
    if (m.type === "stop") {
      await runtime!.stop(2000);
      system.shutdown();
      socket.close();
      await socket.closed;
      post({ type: "stopped" });
      scope.close();
    }
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Reload time, in this process, no traffic.

async function reloadTimes(dir: string) {
  const network = new DenoUdpNetwork();
  const socket = network.bind({ hostname: "127.0.0.1", port: 0 });
  if (!socket.ok) throw new Error(socket.error);
  const lnsPorts = [1701, 1702, 1703, 1704].map((p) => p + 20000);
  const port = socket.value.local.port;
  const texts = [
    bigPolicy(port, lnsPorts, 1),
    bigPolicy(port, lnsPorts, 2),
    bigPolicyOneChanged(port, lnsPorts),
  ];
  const paths = [`${dir}/v1.yaml`, `${dir}/v2.yaml`, `${dir}/v1b.yaml`];
  for (let i = 0; i < 3; i++) await Deno.writeTextFile(paths[i], texts[i]);
  const system = newSystem();
  const loader = new PolicyLoader();
  const t0 = performance.now();
  const first = await loader.load(paths[0]);
  const cold = performance.now() - t0;
  if (!first.ok) throw new Error(formatPolicyErrors(first.error));
  const lts = startLts({ system, socket: socket.value, policy: first.value });
  let path = paths[0];
  let precompiled: CompiledPolicy | undefined;
  const runtime = new LtsRuntime(lts, {
    system,
    source: "bench",
    load: () => precompiled ? Promise.resolve({ ok: true, value: precompiled }) : loader.load(path),
  });
  /** Reloads alternating between two files; the first reload is a warm-up. */
  const timeReloads = async (a: string, b: string, n: number) => {
    const xs: number[] = [];
    for (let i = 0; i <= n; i++) {
      path = i % 2 === 0 ? a : b;
      const t0 = performance.now();
      const r = await runtime.reload();
      if (!r.ok) throw new Error(JSON.stringify(r.errors.slice(0, 3)));
      if (i > 0) xs.push(performance.now() - t0);
    }
    return xs;
  };
  const one = await timeReloads(paths[2], paths[0], 10);
  const all = await timeReloads(paths[1], paths[0], 6);
  const load: number[] = [];
  const read: number[] = [];
  const swap: number[] = [];
  for (let i = 0; i <= 6; i++) {
    const t0 = performance.now();
    const text = await Deno.readTextFile(paths[i % 2]);
    const t1 = performance.now();
    const p = mustLoad(text, paths[i % 2]);
    const t2 = performance.now();
    if (i > 0) read.push(t1 - t0), load.push(t2 - t1);
    precompiled = p;
    const t3 = performance.now();
    await runtime.reload();
    if (i > 0) swap.push(performance.now() - t3);
    precompiled = undefined;
  }
  await runtime.stop(500);
  system.shutdown();
  socket.value.close();
  await socket.value.closed;
  return {
    bytes: texts[0].length,
    cold,
    one: median(one),
    oneMax: Math.max(...one),
    all: median(all),
    allMax: Math.max(...all),
    read: median(read),
    load: median(load),
    loadMax: Math.max(...load),
    swap: median(swap),
    paths,
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Reloads under traffic.

interface TrafficResult {
  rate: number;
  seconds: number;
  phases: {
    name: string;
    sent: number;
    replied: number;
    late: number;
    rttP50: number;
    rttP99: number;
    rttMax: number;
    worstGap: number;
    kernelDrops: number;
    ltsDrops: number;
  }[];
  reloadMs: number[];
  reloadWorstGaps: number[];
  smallReloadMs: number[];
  smallWorstGaps: number[];
  oneReloadMs: number[];
  oneWorstGaps: number[];
  fullReloadMs: number[];
  fullWorstGaps: number[];
  sendRefused: number;
  metrics: Record<string, unknown>;
}

async function underTraffic(
  dir: string,
  rate: number,
  seconds: number,
  sliceMs?: number,
): Promise<TrafficResult> {
  const worker = new Worker(import.meta.url, { type: "module" });
  const waiters: ((m: Record<string, unknown>) => void)[] = [];
  worker.onmessage = (e) => waiters.shift()!(e.data);
  const ask = (m: ToWorker) =>
    new Promise<Record<string, unknown>>((resolve) => {
      waiters.push(resolve);
      worker.postMessage(m);
    });

  const network = new DenoUdpNetwork({ maxPendingSends: 65536 });
  const sockets: UdpSocket[] = [];
  const bind = () => {
    const r = network.bind({ hostname: "127.0.0.1", port: 0 });
    if (!r.ok) throw new Error(r.error);
    sockets.push(r.value);
    return r.value;
  };
  const system = newSystem();
  const lnsPorts: number[] = [];
  const landed = new Set<string>();
  for (let u = 0; u < UPSTREAMS; u++) {
    const socket = bind();
    new L2tpNode({
      system,
      socket,
      settings: { hostname: `lns-${u}` },
      hooks: {
        sessionEstablished: (s) => void landed.add(s.call.proxyAuthenName ?? "?"),
        frame: (s, frame) => void s.sendFrame(echoReply(frame, 0x4c4e5301) ?? frame),
      },
    });
    lnsPorts.push(socket.local.port);
  }
  const ltsPort = (await ask({ type: "bind" })).port as number;
  const paths = [`${dir}/t1.yaml`, `${dir}/t2.yaml`];
  await Deno.writeTextFile(paths[0], bigPolicy(ltsPort, lnsPorts, 1));
  await Deno.writeTextFile(paths[1], bigPolicy(ltsPort, lnsPorts, 2));
  const onePaths = [`${dir}/t1.yaml`, `${dir}/t1b.yaml`];
  await Deno.writeTextFile(onePaths[1], bigPolicyOneChanged(ltsPort, lnsPorts));
  const smallPaths = [`${dir}/s1.yaml`, `${dir}/s2.yaml`];
  await Deno.writeTextFile(smallPaths[0], bigPolicy(ltsPort, lnsPorts, 1, SMALL_RULES));
  await Deno.writeTextFile(smallPaths[1], bigPolicy(ltsPort, lnsPorts, 2, SMALL_RULES));
  await ask({ type: "start", path: paths[0], sliceMs });

  // Sequence numbers: send and reply times, by sequence number.
  const capacity = Math.ceil(rate * (seconds * 5 + 20)) + 1000;
  const sentAt = new Float64Array(capacity);
  const gotAt = new Float64Array(capacity);
  const up: SessionHandle[] = [];
  const lacSocket = bind();
  const lac = new L2tpNode({
    system,
    socket: lacSocket,
    settings: { hostname: "lac-bench-1" },
    hooks: {
      sessionEstablished: (s) => void up.push(s),
      frame: (_s, frame) => {
        if (lcpCode(frame) !== LcpCode.EchoReply || frame.length < 16) return;
        const seq = new DataView(frame.buffer, frame.byteOffset).getUint32(12);
        if (seq < capacity && gotAt[seq] === 0) gotAt[seq] = performance.now();
      },
    },
  });
  const tunnel = lac.openTunnel({ hostname: "127.0.0.1", port: ltsPort });
  if (!tunnel.ok) throw new Error(tunnel.error);
  const realms = callRealmIndexes();
  realms.forEach((r, n) =>
    lac.placeCall(tunnel.value, {
      callingNumber: `0201${n}`,
      calledNumber: "0900123456",
      ...proxyFields("chap", {
        name: `u${n}@isp-${r}.example`,
        password: "pw",
        id: n,
        challenge: crypto.getRandomValues(new Uint8Array(16)),
      }, { clientMagic: 0x1000 + n, lacMagic: 0x4c414301 }),
    })
  );
  const until = Date.now() + 10_000;
  while ((up.length < CALLS || landed.size < CALLS) && Date.now() < until) await sleep(10);
  if (up.length < CALLS || landed.size < CALLS) {
    throw new Error(`only ${up.length} calls up, ${landed.size} landed`);
  }

  // Paced sender: every tick, send what the rate says is due (bursts capped).
  let seq = 0;
  let sendRefused = 0;
  let sending = true;
  const t0 = performance.now();
  const data = new Uint8Array(4);
  const sender = (async () => {
    while (sending && seq < capacity) {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      for (let n = 0; seq < due && n < 200; n++) {
        new DataView(data.buffer).setUint32(0, seq);
        sentAt[seq] = performance.now();
        if (!up[seq % CALLS].sendFrame(echoRequest(seq, 0x4c414301, data))) sendRefused++;
        seq++;
      }
      await sleep(1);
    }
  })();

  const allPorts = [ltsPort, lacSocket.local.port, ...lnsPorts];
  await sleep(1000); // warm-up
  const marks: { name: string; from: number; to: number; drops: number; ltsDrops: number }[] = [];
  const windows: { start: number; end: number }[] = [];
  const reloadMs: number[] = [];
  const smallWindows: { start: number; end: number }[] = [];
  const smallReloadMs: number[] = [];
  const oneWindows: { start: number; end: number }[] = [];
  const oneReloadMs: number[] = [];
  const fullWindows: { start: number; end: number }[] = [];
  const fullReloadMs: number[] = [];
  const phase = async (
    name: string,
    reloadPaths: string[],
    w: typeof windows,
    ms: number[],
    full = false,
  ) => {
    const a = seq;
    const k0 = udpDrops(allPorts);
    const l0 = udpDrops([ltsPort]);
    const phaseStart = performance.now();
    for (let i = 0; i < reloadPaths.length; i++) {
      await sleep(Math.max(0, phaseStart + 250 + i * 500 - performance.now()));
      const start = performance.now();
      const r = await ask({ type: "reload", path: reloadPaths[i], full });
      if (!r.ok) throw new Error("reload failed");
      w.push({ start, end: performance.now() });
      ms.push(r.ms as number);
    }
    await sleep(Math.max(0, phaseStart + seconds * 1000 - performance.now()));
    marks.push({
      name,
      from: a,
      to: seq,
      drops: udpDrops(allPorts) - k0,
      ltsDrops: udpDrops([ltsPort]) - l0,
    });
  };
  const alternate = (ps: string[]) =>
    Array.from({ length: seconds * 2 }, (_, i) => ps[(i + 1) % 2]);
  await phase("A: no reload", [], [], []);
  await phase(
    `B: reload ${RULES} rules, all changed, every 500 ms`,
    alternate(paths),
    windows,
    reloadMs,
  );
  await phase(
    `B1: reload ${RULES} rules, one changed, every 500 ms`,
    alternate(onePaths),
    oneWindows,
    oneReloadMs,
  );
  await phase(
    `B0: as B, the way before (full parse in a Worker, \`loadPolicyFileOffThread\`)`,
    alternate(paths),
    fullWindows,
    fullReloadMs,
    true,
  );
  await phase(
    `C: reload ${SMALL_RULES} rules every 500 ms`,
    alternate(smallPaths),
    smallWindows,
    smallReloadMs,
  );
  sending = false;
  await sender;
  await sleep(500); // let the last replies come back
  const metrics = await ask({ type: "metrics" });

  // Reply arrival times, sorted, for gaps.
  const arrivals: number[] = [];
  for (let s = 0; s < seq; s++) if (gotAt[s] > 0) arrivals.push(gotAt[s]);
  arrivals.sort((x, y) => x - y);
  /** Largest gap between consecutive replies ending in [from, to] (and, if `inside`, starting there). */
  const worstGapIn = (from: number, to: number, inside = false) => {
    let worst = 0;
    for (let i = 1; i < arrivals.length; i++) {
      if (arrivals[i] < from || (inside && arrivals[i - 1] < from)) continue;
      if (arrivals[i - 1] > to) break;
      worst = Math.max(worst, arrivals[i] - arrivals[i - 1]);
    }
    return worst;
  };
  const phases = marks.map((m) => {
    let replied = 0;
    let late = 0;
    const rtts: number[] = [];
    for (let s = m.from; s < m.to; s++) {
      if (gotAt[s] === 0) continue;
      replied++;
      const rtt = gotAt[s] - sentAt[s];
      rtts.push(rtt);
      if (rtt > 100) late++;
    }
    rtts.sort((x, y) => x - y);
    return {
      name: m.name,
      sent: m.to - m.from,
      replied,
      late,
      rttP50: rtts[Math.floor(rtts.length * 0.5)] ?? NaN,
      rttP99: rtts[Math.floor(rtts.length * 0.99)] ?? NaN,
      rttMax: rtts[rtts.length - 1] ?? NaN,
      worstGap: worstGapIn(sentAt[m.from], sentAt[m.to - 1], true),
      kernelDrops: m.drops,
      ltsDrops: m.ltsDrops,
    };
  });
  const reloadWorstGaps = windows.map((w) => worstGapIn(w.start, w.end + 100));
  const smallWorstGaps = smallWindows.map((w) => worstGapIn(w.start, w.end + 100));
  const oneWorstGaps = oneWindows.map((w) => worstGapIn(w.start, w.end + 100));
  const fullWorstGaps = fullWindows.map((w) => worstGapIn(w.start, w.end + 100));

  await ask({ type: "stop" });
  lac.closeAll();
  const end = Date.now() + 2000;
  while (lac.tunnelCount > 0 && Date.now() < end) await sleep(20);
  system.shutdown();
  for (const s of sockets) s.close();
  await Promise.all(sockets.map((s) => s.closed));
  return {
    rate,
    seconds,
    phases,
    reloadMs,
    reloadWorstGaps,
    smallReloadMs,
    smallWorstGaps,
    oneReloadMs,
    oneWorstGaps,
    fullReloadMs,
    fullWorstGaps,
    sendRefused,
    metrics,
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Startup to listening.

async function timeToListening(cmd: string, args: string[], cwd: string): Promise<number> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "null" }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let ms = NaN;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
    if (seen.includes("listening on")) {
      ms = performance.now() - t0;
      break;
    }
  }
  child.kill("SIGTERM");
  await reader.cancel();
  await child.status;
  if (Number.isNaN(ms)) throw new Error(`no "listening on" from ${cmd} ${args.join(" ")}: ${seen}`);
  return ms;
}

async function startupTimes(dir: string) {
  const config = `${dir}/small.yaml`;
  await Deno.writeTextFile(
    config,
    `hostname: lts-small
listen: ["127.0.0.1:0"]
lacs: [{ match: { hostname: "lac-*" }, secret: "s" }]
upstreams:
  isp: { members: [{ address: "127.0.0.1:21701" }] }
rules:
  - { name: isp, match: { domain: "isp.example" }, forward: isp }
`,
  );
  const bundle = `${dir}/lts.js`;
  const tb = performance.now();
  const b = await new Deno.Command(DENO, {
    args: ["bundle", "--platform", "deno", "-o", bundle, "main.ts"],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  const bundleMs = performance.now() - tb;
  if (!b.success) throw new Error(new TextDecoder().decode(b.stderr));
  const cases = [
    {
      name: "source",
      cmd: DENO,
      args: ["run", "-A", "main.ts", "run", "--config", config, "--duration", "20"],
      cwd: ROOT,
    },
    {
      name: "bundle",
      cmd: DENO,
      args: ["run", "-A", "--unstable-net", bundle, "run", "--config", config, "--duration", "20"],
      cwd: dir,
    },
  ];
  const out: { name: string; median: number; min: number; max: number; first: number }[] = [];
  for (const c of cases) {
    const first = await timeToListening(c.cmd, c.args, c.cwd);
    const xs: number[] = [];
    for (let i = 0; i < 10; i++) xs.push(await timeToListening(c.cmd, c.args, c.cwd));
    out.push({
      name: c.name,
      median: median(xs),
      min: Math.min(...xs),
      max: Math.max(...xs),
      first,
    });
  }
  // Baseline: the runtime alone, spawn to exit of an empty program.
  const xs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await new Deno.Command(DENO, { args: ["eval", "0"], cwd: dir, stdout: "null" }).output();
    xs.push(performance.now() - t0);
  }
  return { cases: out, bundleMs, bundleBytes: (await Deno.stat(bundle)).size, evalMs: median(xs) };
}

// ---------------------------------------------------------------------------------------------

if (import.meta.main && !inWorker) {
  const args = Deno.args;
  const opt = (name: string, d: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const rate = opt("rate", 5000);
  const seconds = opt("seconds", 5);
  const dir = await Deno.makeTempDir({ prefix: "lts-reload-bench-" });
  const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1];
  console.log(
    `# lts operations bench — ${new Date().toISOString().slice(0, 10)}, ` +
      `${navigator.hardwareConcurrency} CPUs (${cpu}), Deno ${Deno.version.deno}\n`,
  );

  const r = await reloadTimes(dir);
  console.log(`## Reload of ${RULES} rules (${(r.bytes / 1024).toFixed(0)} KiB YAML)\n`);
  console.log("| step | median of 10 (ms) | max (ms) |");
  console.log("| --- | ---: | ---: |");
  console.log(
    `| \`runtime.reload()\` end to end (\`PolicyLoader\`), one rule changed | ${f1(r.one)} | ${
      f1(r.oneMax)
    } |`,
  );
  console.log(
    `| \`runtime.reload()\` end to end (\`PolicyLoader\`), all rules changed (6 runs) | ${
      f1(r.all)
    } | ${f1(r.allMax)} |`,
  );
  console.log(
    `| first load, nothing kept (\`PolicyLoader\`, not in the medians) | ${f1(r.cold)} | |`,
  );
  console.log(`| read file | ${f1(r.read)} | |`);
  console.log(
    `| full \`loadPolicy\` (parse, validate, compile; 6 runs) | ${f1(r.load)} | ${f1(r.loadMax)} |`,
  );
  console.log(`| swap (message to switch actor → reply) | ${r.swap.toFixed(3)} | |\n`);

  const sliceMs = args.includes("--slice-ms") ? opt("slice-ms", 2) : undefined;
  const t = await underTraffic(dir, rate, seconds, sliceMs);
  console.log(
    `## Under traffic: ${CALLS} switched calls, ${rate} LCP Echo-Requests/s total, ` +
      `${seconds} s per phase\n`,
  );
  console.log(
    "| phase | sent | replied | lost | loss | RTT p50 / p99 / max (ms) | worst reply gap (ms) | kernel drops (all / lts socket) |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |");
  for (const p of t.phases) {
    const lost = p.sent - p.replied;
    console.log(
      `| ${p.name} | ${p.sent} | ${p.replied} | ${lost} | ${(100 * lost / p.sent).toFixed(2)}% | ${
        f1(p.rttP50)
      } / ${f1(p.rttP99)} / ${f1(p.rttMax)} | ${
        f1(p.worstGap)
      } | ${p.kernelDrops} / ${p.ltsDrops} |`,
    );
  }
  console.log(
    `\nReloads under traffic (in the lts worker): ${t.reloadMs.length}, ` +
      `median ${f1(median(t.reloadMs))} ms, max ${f1(Math.max(...t.reloadMs))} ms; ` +
      `worst gap between replies in a reload window: median ${
        f1(median(t.reloadWorstGaps))
      } ms, max ${f1(Math.max(...t.reloadWorstGaps))} ms`,
  );
  console.log(
    `One-rule reloads under traffic: ${t.oneReloadMs.length}, ` +
      `median ${f1(median(t.oneReloadMs))} ms, max ${f1(Math.max(...t.oneReloadMs))} ms; ` +
      `worst gap between replies in a reload window: median ${f1(median(t.oneWorstGaps))} ms, max ${
        f1(Math.max(...t.oneWorstGaps))
      } ms`,
  );
  console.log(
    `Full off-thread reloads under traffic (B0): ${t.fullReloadMs.length}, ` +
      `median ${f1(median(t.fullReloadMs))} ms, max ${f1(Math.max(...t.fullReloadMs))} ms; ` +
      `worst gap between replies in a reload window: median ${
        f1(median(t.fullWorstGaps))
      } ms, max ${f1(Math.max(...t.fullWorstGaps))} ms`,
  );
  console.log(
    `LAC sendFrame refused: ${t.sendRefused}; lts metrics: ${JSON.stringify(t.metrics)}\n`,
  );

  if (!args.includes("--skip-startup")) {
    const s = await startupTimes(dir);
    console.log('## Startup to "listening on" (spawn → stdout line), 10 runs after one warm-up\n');
    console.log("| how | median (ms) | min (ms) | max (ms) | first, unmeasured (ms) |");
    console.log("| --- | ---: | ---: | ---: | ---: |");
    for (const c of s.cases) {
      console.log(`| ${c.name} | ${f1(c.median)} | ${f1(c.min)} | ${f1(c.max)} | ${f1(c.first)} |`);
    }
    console.log(`| \`deno eval 0\` (spawn → exit, baseline) | ${f1(s.evalMs)} | | | |`);
    console.log(
      `\nbundle: ${(s.bundleBytes / 1024).toFixed(0)} KiB, built in ${
        (s.bundleMs / 1000).toFixed(1)
      } s`,
    );
  }
  await Deno.remove(dir, { recursive: true });
}
