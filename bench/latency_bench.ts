/**
 * Control-plane latency while the data plane is loaded: `lts run`
 * (`--data-plane ffi`, pinned to CPU 1) switches 1,000 sessions whose frames
 * come from `bench/baseline/dp_blast.c` at 80% of the rate lts forwards when
 * saturated (measured first, in the same run); meanwhile a LAC in this
 * process opens tunnels and places calls one at a time and times them:
 *
 * - SCCRQ→SCCCN, LAC leg: `openTunnel` until the LAC has sent SCCCN;
 * - ICRQ→ICCN, both legs: `placeCall` (ICRQ) until the upstream LNS has the
 *   switch's ICCN (pooled upstream tunnel);
 * - the same with a new upstream tunnel for each call (an upstream group
 *   with `sessions_per_tunnel: 1`): ICRQ, then the switch's SCCRQ→SCCCN and
 *   ICRQ→ICCN upstream, until the LNS has the ICCN.
 *
 * The same probes run once with no data traffic; the figures are p50/p99
 * and the loaded ÷ unloaded ratio of each. Kernel drops per socket
 * (/proc/net/udp) say where data and control messages were lost: a control
 * message lost costs its probe an RFC 2661 §5.8 retransmission (1 s).
 *
 *   tools/deno run -A bench/latency_bench.ts [--probes 200] [--load 0.8]
 *
 * Prints one JSON line.
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
import {
  callFields,
  cpuSeconds,
  freeUdpPort,
  quantile,
  ROOT,
  sleep,
  spawnLts,
  udpDropsByPort,
} from "./_suite.ts";

const BLAST = `${ROOT}bench/baseline/build/dp_blast`;
const DATA_SESSIONS = 1000;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    probes: { type: "string", default: "200" },
    load: { type: "string", default: "0.8" },
    "lts-cpu": { type: "string", default: "1" },
  },
});
const PROBES = Number(values.probes);
const TUNNEL_PROBES = Math.max(10, Math.round(PROBES / 4));

/** p50/p99/max in ms of one probe kind. */
export interface Quantiles {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** What the bench measured. */
export interface LatencyResult {
  saturatedPps: number;
  offeredPps: number;
  deliveredShare: number;
  ltsCpuLoaded: number;
  unloaded: Record<ProbeKind, Quantiles>;
  loaded: Record<ProbeKind, Quantiles>;
  /**
   * Datagrams the kernel dropped for a full receive buffer (/proc/net/udp)
   * during the loaded probes, per port: lts's (both its sockets, data and
   * control), the data sink's (`dp_blast`), the probing LAC's and the probed
   * LNS's.
   */
  loadedDrops: Record<DropSocket, number>;
  /** The same over the whole loaded data run (30 s), and what `dp_blast` counted of it. */
  loadDrops: Record<DropSocket, number>;
  load: { sent: number; received: number; sendErrors: number };
  /**
   * lts's drops in each second of the loaded data run, and the seconds the
   * loaded probes started and ended in: when the loss falls outside the
   * probes, it is not what the probes saw.
   */
  ltsDropsPerSecond: number[];
  probeSeconds: [number, number];
}

type DropSocket = "lts" | "sink" | "lac" | "lns";

type ProbeKind = "tunnel" | "call" | "callNewTunnel";

async function main(): Promise<LatencyResult> {
  await Deno.mkdir(`${ROOT}bench/baseline/build`, { recursive: true });
  const cc = await new Deno.Command("cc", {
    args: ["-O2", "-o", BLAST, `${ROOT}bench/baseline/dp_blast.c`],
  }).output();
  if (!cc.success) throw new Error("cc dp_blast.c failed");
  const dir = await Deno.makeTempDir({ prefix: "lts-latency-bench-" });
  const selected = createDatagramNetwork("auto", { maxPendingSends: 65536 });
  if (!selected.ok) throw new Error(selected.error);
  const bind = () => {
    const r = selected.value.network.bind({ hostname: "127.0.0.1", port: 0 });
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  const system = new ActorSystem({ clock: new SystemClock(), scheduler: new MicrotaskScheduler() });
  const dataLns = bind(), probeLns = bind(), lacSocket = bind();
  const sockets: UdpSocket[] = [dataLns, probeLns, lacSocket];
  const lacUp = new Map<string, SessionHandle>();
  const dataUp = new Map<string, SessionHandle>();
  let dataFrames = 0;
  const waiting = new Map<string, () => void>();
  const probeTunnelsUp: (() => void)[] = [];
  const tunnelWaiters = new Map<number, () => void>();
  const node = (
    socket: UdpSocket,
    name: string,
    hooks: ConstructorParameters<typeof L2tpNode>[0]["hooks"],
  ) =>
    new L2tpNode({
      system,
      socket,
      settings: { hostname: name, helloIntervalMs: 0 },
      maxTunnels: 10_000,
      hooks,
    });
  const nodes = [
    node(dataLns, "data-lns", {
      sessionEstablished: (s) => void dataUp.set(s.call.proxyAuthenName ?? "?", s),
      frame: () => void dataFrames++,
    }),
    node(probeLns, "probe-lns", {
      tunnelEstablished: () => probeTunnelsUp.shift()?.(),
      sessionEstablished: (s) => waiting.get(s.call.proxyAuthenName ?? "?")?.(),
    }),
  ];
  const lac = node(lacSocket, "bench-lac", {
    tunnelEstablished: (t) => tunnelWaiters.get(t.tunnelId)?.(),
    sessionEstablished: (s) => void lacUp.set(s.call.proxyAuthenName ?? "?", s),
  });
  nodes.push(lac);
  const ltsPort = freeUdpPort();
  const member = (port: number) => `[{ address: "127.0.0.1:${port}", hello_interval: 0 }]`;
  await Deno.writeTextFile(
    `${dir}/policy.yaml`,
    [
      "hostname: lts-bench",
      `listen: ["127.0.0.1:${ltsPort}"]`,
      "limits: { max_tunnels: 10000, max_sessions: 50000, sccrq_per_second: 10000 }",
      "lacs: [{ match: {} }]",
      "upstreams:",
      `  data: { members: ${member(dataLns.local.port)} }`,
      `  probe: { members: ${member(probeLns.local.port)} }`,
      `  fresh: { members: ${member(probeLns.local.port)}, sessions_per_tunnel: 1 }`,
      "rules:",
      '  - { name: data, match: { domain: "data.example" }, forward: data }',
      '  - { name: probe, match: { domain: "probe.example" }, forward: probe }',
      '  - { name: fresh, match: { domain: "fresh.example" }, forward: fresh }',
      "",
    ].join("\n"),
  );
  const lts = spawnLts([
    "run",
    "--config",
    `${dir}/policy.yaml`,
    "--log-level",
    "error",
    "--data-plane",
    "ffi",
  ], { cpu: values["lts-cpu"] });
  const server = { hostname: "127.0.0.1", port: ltsPort };
  const openTunnel = async (): Promise<number> => {
    const id = lac.openTunnel(server);
    if (!id.ok) throw new Error(id.error);
    await new Promise<void>((resolve) => tunnelWaiters.set(id.value, resolve));
    tunnelWaiters.delete(id.value);
    return id.value;
  };
  try {
    await lts.until(/data plane ffi/);
    // 1,000 data sessions over 4 LAC tunnels.
    const dataTunnels = await Promise.all([0, 1, 2, 3].map(() => openTunnel()));
    for (let n = 1; n <= DATA_SESSIONS; n++) {
      while (!lac.placeCall(dataTunnels[n % 4], callFields(n, "data.example"))) await sleep(1);
    }
    const deadline = performance.now() + 60_000;
    while (
      (dataUp.size < DATA_SESSIONS || lacUp.size < DATA_SESSIONS) && performance.now() < deadline
    ) await sleep(10);
    if (dataUp.size < DATA_SESSIONS) throw new Error(`${dataUp.size} data sessions up`);
    const pairs: string[] = [];
    const ppp = new Uint8Array([0xff, 0x03, 0x00, 0x21, 0x45, 0, 0, 20]);
    for (const [user, handle] of lacUp) {
      const entry = lac.forwarding.get(handle.tunnel.tunnelId, handle.sessionId)!;
      const up = dataUp.get(user)!;
      pairs.push(
        `${entry.peerTunnelId}:${entry.peerSessionId}>${up.tunnel.tunnelId}:${up.sessionId}`,
      );
      handle.sendFrame(ppp);
    }
    while (dataFrames < DATA_SESSIONS && performance.now() < deadline) await sleep(5);
    await sleep(1000);
    const sinkPort = dataLns.local.port;
    dataLns.close();
    await dataLns.closed;
    await Deno.writeTextFile(`${dir}/pairs.txt`, pairs.join("\n") + "\n");
    const blast = (seconds: number, pps: number) =>
      new Deno.Command(BLAST, {
        args: [`${ltsPort}`, `${sinkPort}`, "64", `${seconds}`, "1", `${dir}/pairs.txt`, `${pps}`],
        stdout: "piped",
      }).output().then((o) => {
        if (!o.success) throw new Error("dp_blast failed");
        return JSON.parse(new TextDecoder().decode(o.stdout)) as {
          sent: number;
          received: number;
          rate_pps: number;
          send_errors: number;
        };
      });

    // One warm-up call per upstream group, so the pooled upstream tunnel exists.
    const probeTunnel = await openTunnel();
    let n = 1_000_000;
    const timeCall = async (domain: string): Promise<number> => {
      const user = `user${++n}@${domain}`;
      const t0 = performance.now();
      const up = new Promise<void>((resolve) => waiting.set(user, resolve));
      while (!lac.placeCall(probeTunnel, callFields(n, domain))) await sleep(1);
      await up;
      waiting.delete(user);
      return performance.now() - t0;
    };
    await timeCall("probe.example");
    await timeCall("fresh.example");
    const probeRound = async (): Promise<Record<ProbeKind, Quantiles>> => {
      const times: Record<ProbeKind, number[]> = { tunnel: [], call: [], callNewTunnel: [] };
      for (let i = 0; i < TUNNEL_PROBES; i++) {
        const t0 = performance.now();
        const id = await openTunnel();
        times.tunnel.push(performance.now() - t0);
        lac.closeTunnel(id);
      }
      for (let i = 0; i < PROBES; i++) times.call.push(await timeCall("probe.example"));
      for (let i = 0; i < TUNNEL_PROBES; i++) {
        times.callNewTunnel.push(await timeCall("fresh.example"));
      }
      const q = (xs: number[]) => ({
        n: xs.length,
        p50: quantile(xs, 0.5),
        p99: quantile(xs, 0.99),
        max: Math.max(...xs),
      });
      return {
        tunnel: q(times.tunnel),
        call: q(times.call),
        callNewTunnel: q(times.callNewTunnel),
      };
    };
    const unloaded = await probeRound();
    const saturated = await blast(4, 0);
    const offeredPps = Math.round(saturated.rate_pps * Number(values.load));
    const dropPorts: Record<DropSocket, number> = {
      lts: ltsPort,
      sink: sinkPort,
      lac: lacSocket.local.port,
      lns: probeLns.local.port,
    };
    const dropsBefore = udpDrops(dropPorts);
    const cpu0 = cpuSeconds(lts.pid);
    const t0 = performance.now();
    // The loaded run lasts as long as the unloaded probes took, three times over, to be safe.
    const loadedBlast = blast(30, offeredPps);
    const ltsDropsPerSecond: number[] = [];
    let lastLtsDrops = dropsBefore.lts;
    const sampler = setInterval(() => {
      const now = udpDrops(dropPorts).lts;
      ltsDropsPerSecond.push(now - lastLtsDrops);
      lastLtsDrops = now;
    }, 1000);
    await sleep(1500);
    const drops0 = udpDrops(dropPorts);
    const probesFrom = (performance.now() - t0) / 1000;
    const loaded = await probeRound();
    const drops1 = udpDrops(dropPorts);
    const probeSeconds = (performance.now() - t0) / 1000;
    const background = await loadedBlast;
    clearInterval(sampler);
    const dropsAfter = udpDrops(dropPorts);
    const ltsCpuLoaded = (cpuSeconds(lts.pid) - cpu0) / ((performance.now() - t0) / 1000);
    if (probeSeconds > 29) throw new Error(`probes took ${probeSeconds} s, past the data load`);
    return {
      saturatedPps: saturated.rate_pps,
      offeredPps,
      deliveredShare: background.received / background.sent,
      ltsCpuLoaded,
      unloaded,
      loaded,
      loadedDrops: dropsBetween(drops0, drops1),
      loadDrops: dropsBetween(dropsBefore, dropsAfter),
      load: {
        sent: background.sent,
        received: background.received,
        sendErrors: background.send_errors,
      },
      ltsDropsPerSecond,
      probeSeconds: [Math.floor(probesFrom), Math.ceil(probeSeconds)],
    };
  } finally {
    await lts.stop();
    for (const x of nodes) x.shutdown();
    system.shutdown();
    for (const s of sockets) s.close();
    await Promise.all(sockets.map((s) => s.closed));
    await Deno.remove(dir, { recursive: true });
  }
}

/** Kernel receive-buffer drops of the IPv4 UDP sockets bound to `ports` (/proc/net/udp). */
function udpDrops(ports: Record<DropSocket, number>): Record<DropSocket, number> {
  const byPort = udpDropsByPort();
  const at = (port: number) => byPort.get(port) ?? 0;
  return { lts: at(ports.lts), sink: at(ports.sink), lac: at(ports.lac), lns: at(ports.lns) };
}

function dropsBetween(
  before: Record<DropSocket, number>,
  after: Record<DropSocket, number>,
): Record<DropSocket, number> {
  return {
    lts: after.lts - before.lts,
    sink: after.sink - before.sink,
    lac: after.lac - before.lac,
    lns: after.lns - before.lns,
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(await main()));
  Deno.exit(0);
}
