/**
 * Real `lts` processes on loopback for the live tests (fuzz, floods,
 * secrets): spawn one, wait for a line, read its memory, talk to its API.
 *
 * @module
 */

import { parseExposition } from "../api/metrics.ts";
import type { LacSummary } from "../cli/lac.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A free port on 127.0.0.1 (UDP or TCP), released before it is returned. */
export function freePort(transport: "udp" | "tcp"): number {
  if (transport === "udp") {
    const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (s.addr as Deno.NetAddr).port;
    s.close();
    return port;
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A running `lts` subcommand with its output collected. */
export interface LtsProcess {
  readonly pid: number;
  /** stdout and stderr so far, interleaved as they came. */
  output(): string;
  /** Waits until the output matches `re`. */
  until(re: RegExp, ms?: number): Promise<void>;
  /** Waits for the exit (after a signal, or by itself). */
  end(): Promise<{ code: number; out: string }>;
  /** Sends `signal` unless it has exited. */
  kill(signal?: Deno.Signal): void;
}

/** Starts `lts ARGS…` (`deno run -A main.ts ARGS…`). */
export function spawnLts(args: string[]): LtsProcess {
  return spawnProcess(Deno.execPath(), ["run", "-A", MAIN, ...args]);
}

/** Starts `cmd args` with stdout and stderr collected (the benches use it too). */
export function spawnProcess(cmd: string, args: string[]): LtsProcess {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const c of s.pipeThrough(new TextDecoderStream())) out += c;
  };
  const done = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  return {
    pid: child.pid,
    output: () => out,
    async until(re: RegExp, ms = 30_000) {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (exited) throw new Error(`${cmd} exited before ${re}: ${out}`);
        if (Date.now() > end) throw new Error(`timed out waiting for ${re}: ${out}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async end() {
      const s = await status;
      await done;
      return { code: s.code, out };
    },
    kill(signal: Deno.Signal = "SIGTERM") {
      if (exited) return;
      try {
        child.kill(signal);
      } catch { /* gone meanwhile */ }
    },
  };
}

/** Resident set size now and at its peak, in KiB, from /proc/PID/status (Linux). */
export async function memoryOf(pid: number): Promise<{ rssKiB: number; peakKiB: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssKiB: field("VmRSS"), peakKiB: field("VmHWM") };
}

/** GET on the API at `port`, as JSON. */
export async function apiJson<T>(port: number, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return await res.json() as T;
}

/** `GET /metrics` as a map from `name{labels}` (labels sorted) to value. */
export async function apiMetrics(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const families = parseExposition(await res.text());
  const out = new Map<string, number>();
  for (const f of families.values()) {
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${v}`).join(",");
      out.set(labels === "" ? s.name : `${s.name}{${labels}}`, s.value);
    }
  }
  return out;
}

/** The sum of every series of `family` in a {@link apiMetrics} map. */
export function familySum(metrics: Map<string, number>, family: string): number {
  let sum = 0;
  for (const [key, value] of metrics) {
    if (key === family || key.startsWith(`${family}{`)) sum += value;
  }
  return sum;
}

/** The last JSON line a process printed: the summary of `lts lac` and `lts lns`. */
export function lastJson<T>(out: string): T {
  const line = out.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (line === undefined) throw new Error(`no JSON summary in: ${out.slice(-2000)}`);
  return JSON.parse(line) as T;
}

/** The `lts lac` summary: its last stdout line (cli/lac.ts says what it holds). */
export type { LacSummary };

/** Parses the summary `lts lac` prints last. */
export function lacSummary(out: string): LacSummary {
  return lastJson<LacSummary>(out);
}
