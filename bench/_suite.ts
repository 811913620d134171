/**
 * Helpers shared by the `bench:all` suite's parts: processes, /proc readings,
 * ports and the policy of a switch in front of one upstream.
 *
 * @module
 */

import { proxyFields } from "../ppp/proxy.ts";
import type { AvpFields } from "../transport/message.ts";
import { freePort, spawnProcess } from "../tests/_processes.ts";

export const ROOT = new URL("..", import.meta.url).pathname;
export const MAIN = `${ROOT}main.ts`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** The `p`-quantile (0–1) of `xs`, nearest rank. */
export function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

/** A free UDP port on 127.0.0.1 (released before it is returned). */
export const freeUdpPort = (): number => freePort("udp");

/** A free TCP port on 127.0.0.1 (released before it is returned). */
export const freeTcpPort = (): number => freePort("tcp");

/**
 * The fields of the benches' call number `n` from a LAC: numbers, bearer and
 * framing, and PAP proxy authentication of `user{n}@domain`.
 */
export const callFields = (n: number, domain: string): AvpFields => ({
  callingNumber: `0201${n}`,
  calledNumber: `0800${n}`,
  bearerType: { digital: true, analog: false },
  framingType: { synchronous: true, asynchronous: false },
  txConnectSpeed: 100_000_000,
  ...proxyFields("pap", { name: `user${n}@${domain}`, password: "pw", id: n & 0xff }, {
    clientMagic: (0x10000000 + n) >>> 0,
    lacMagic: 0x4c414301,
  }),
});

/** VmRSS of a process, in KiB. */
export function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
}

/** User + system CPU seconds of a process (all its threads). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Kernel receive-buffer drops of the IPv4 UDP sockets by local port, from
 * /proc/net/udp, summed over every socket on a port (lts's FFI backend binds
 * two on its port: data and control). Empty where there is no /proc.
 */
export function udpDropsByPort(): Map<number, number> {
  const byPort = new Map<number, number>();
  try {
    for (const line of Deno.readTextFileSync("/proc/net/udp").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13) continue;
      const port = parseInt(f[1].split(":")[1], 16);
      byPort.set(port, (byPort.get(port) ?? 0) + Number(f[f.length - 1]));
    }
  } catch {
    // Not Linux.
  }
  return byPort;
}

/** {@link udpDropsByPort} summed over `ports`. */
export function udpDrops(ports: number[]): number {
  const byPort = udpDropsByPort();
  return ports.reduce((n, p) => n + (byPort.get(p) ?? 0), 0);
}

/** Busy and total jiffies of all CPUs, from /proc/stat. */
export function cpuJiffies(): { busy: number; total: number } {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4];
  return { busy: total - idle, total };
}

/** 1-minute load average. */
export function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

/** A child process with its stdout and stderr collected. */
export interface Child {
  readonly pid: number;
  output(): string;
  until(re: RegExp, ms?: number): Promise<void>;
  /** SIGTERM (SIGKILL after 10 s) unless `wait`, then the exit code and output. */
  stop(wait?: boolean): Promise<{ code: number; out: string }>;
}

/** Spawns `cmd args`, optionally pinned to `cpu` with taskset. */
export function spawn(cmd: string, args: string[], cpu?: string): Child {
  const p = cpu === undefined
    ? spawnProcess(cmd, args)
    : spawnProcess("taskset", ["-c", cpu, cmd, ...args]);
  return {
    pid: p.pid,
    output: p.output,
    until: p.until,
    async stop(wait = false) {
      if (!wait) p.kill("SIGTERM");
      const timer = setTimeout(() => p.kill("SIGKILL"), wait ? 600_000 : 10_000);
      const r = await p.end();
      clearTimeout(timer);
      return r;
    },
  };
}

/** `lts ARGS…` as a child (`deno run -A main.ts ARGS…`). */
export function spawnLts(
  args: string[],
  options: { cpu?: string; v8Flags?: string; cpuProfDir?: string } = {},
): Child {
  return spawn(Deno.execPath(), [
    "run",
    "-A",
    ...(options.v8Flags ? [`--v8-flags=${options.v8Flags}`] : []),
    ...(options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : []),
    MAIN,
    ...args,
  ], options.cpu);
}

/** The last JSON line a process printed. */
export { lastJson } from "../tests/_processes.ts";

/** `lts_calls_switched_total` from the API's `/metrics`. */
export async function switchedTotal(apiPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
  return Number(/^lts_calls_switched_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

/**
 * A switch policy: every LAC admitted, realm `domain` forwarded to one
 * upstream member at `lnsPort` (no HELLO), limits raised for `maxSessions`.
 */
export function switchPolicy(options: {
  ltsPort: number;
  lnsPort: number;
  apiPort?: number;
  maxSessions?: number;
  domain?: string;
  extra?: string;
}): string {
  const max = options.maxSessions ?? 50_000;
  return [
    "hostname: lts-bench",
    `listen: ["127.0.0.1:${options.ltsPort}"]`,
    ...(options.apiPort ? [`api: { listen: "127.0.0.1:${options.apiPort}" }`] : []),
    `limits: { max_tunnels: 10000, max_sessions: ${max}, sccrq_per_second: 10000 }`,
    "lacs: [{ match: {} }]",
    "upstreams:",
    `  isp: { members: [{ address: "127.0.0.1:${options.lnsPort}", hello_interval: 0 }] }`,
    ...(options.extra ? [options.extra] : []),
    `rules: [{ name: isp, match: { domain: "${
      options.domain ?? "isp-a.example"
    }" }, forward: isp }]`,
    "",
  ].join("\n");
}
