/**
 * lts against l2tpns (Debian) as a switch, in network namespaces like
 * `tests/interop/l2tpns_test.ts`: `lts lac --client-initiated --auth pap`
 * (ns lac) → switch (ns sw, 1701) → `lts lns --ppp --accept-all` (ns lns).
 * The switch is `lts run` (switching by realm), then l2tpns with
 * `setforward isp-a.example LNS 1701 SECRET` (it runs LCP and PAP itself,
 * asks RADIUS — `tests/interop/radius_responder.ts`, accept-all, beside it —
 * and forwards the session to the remote LNS from UDP 65432). Each switch
 * gets a fresh `lts lns`; every tunnel on both legs is authenticated with
 * the same secret (RFC 2661 §5.1.1), because l2tpns answers the remote LNS's
 * challenge with its global `l2tp_secret`, not with the `setforward` secret
 * (README, Interoperability): with two different secrets the LNS refuses
 * its SCCCN with StopCCN result 4 and no call is ever forwarded.
 *
 * Figures, for each switch, in one run:
 * - switched sessions/s: `lts lac` wall time to all PPP links at IPCP
 *   Opened with an address from the upstream LNS's pool (so IPCP ran with
 *   the LNS, through the switch) for N and for 1 call;
 *   rate = (N − 1) ÷ (T(N) − T(1)), which cancels start-up; and the switch
 *   process's CPU time per switched session over the same difference;
 * - switched frames/s: LCP Echo-Requests offered by the LAC at --pps for
 *   6 s on N calls, counted where they end: requests that reached the LNS
 *   (its `echo_requests`) plus the replies the LAC got, at most one per
 *   such request (a switch answering echoes itself adds nothing), ÷ 6 s;
 *   and the switch's CPU time per switched frame: its CPU time over the
 *   echo run minus that over the N-call setup run (same calls, no echoes).
 *
 * CPU times are the switch process's user + system time from /proc (its
 * threads included; not the RADIUS responder's). On a shared machine
 * where neither switch gets a whole core, the wall-clock rates measure the
 * LAC and LNS processes and the neighbours as much as the switch: compare
 * the CPU times per session and per frame (`ratios`: l2tpns's ÷ lts's,
 * above 1 when lts is cheaper), and read the rates alongside.
 *
 *   tools/deno run -A bench/l2tpns_bench.ts [--sessions 2000] [--pps 20000] [--keep]
 *     [--cpu-prof DIR]
 *
 * `--cpu-prof DIR` writes a V8 CPU profile of the lts switch (`lts run`) into DIR.
 *
 * Needs root (ip netns) and l2tpns. Prints one JSON line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { LnsSummary } from "../cli/lns.ts";
import { writeL2tpnsEtc } from "../tests/interop/_l2tpns.ts";
import { sh, spawnIn, stopAll, switchTopology } from "../tests/interop/_netns.ts";
import { ROOT, sleep } from "./_suite.ts";

const NS = { lac: "lts-b-lac", sw: "lts-b-sw", lns: "lts-b-lns" };
const IP = { lac: "10.81.1.1", swLac: "10.81.1.2", swLns: "10.81.2.1", lns: "10.81.2.2" };
/** The tunnel secret on both legs (l2tpns's `l2tp_secret` and its `setforward` secret alike). */
const SECRET = "lac-secret";
const RADIUS_SECRET = "radius-secret";
const PASSWORD = "user-pw";
/** The upstream LNS's pool: a client address from it proves IPCP ran with the LNS. */
const LNS_POOL = { range: "10.102.0.1-10.102.255.250", prefix: "10.102." };
const ECHO_SECONDS = 6;
const MAIN = `${ROOT}main.ts`;
const CONFIG = `${ROOT}deno.json`;
const RADIUS = `${ROOT}tests/interop/radius_responder.ts`;

/** Per switch. */
export interface SwitchFigures {
  /** Calls to IPCP Opened with the LNS per second, through this switch. */
  setupPerS: number | null;
  /** CPU time of the switch process per switched session, ms. */
  cpuMsPerSession: number | null;
  /** LCP echo frames switched per second, both directions, counted at the far ends. */
  framesPerS: number | null;
  /** CPU time of the switch process per switched frame, µs. */
  cpuUsPerFrame: number | null;
  detail: string;
}

/** What the bench prints. */
export interface L2tpnsResult {
  sessions: number;
  pps: number;
  lts: SwitchFigures;
  l2tpns: SwitchFigures;
  /** lts ÷ l2tpns for the rates, l2tpns ÷ lts for CPU costs: above 1 means lts is ahead. */
  ratios: {
    setupPerS: number | null;
    cpuPerSession: number | null;
    framesPerS: number | null;
    cpuPerFrame: number | null;
  };
  notes: string[];
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sessions: { type: "string", default: "2000" },
    pps: { type: "string", default: "20000" },
    keep: { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
  },
});
const SESSIONS = Number(values.sessions);
const PPS = Number(values.pps);

const readText = async (f: string) => {
  try {
    return await Deno.readTextFile(f);
  } catch {
    return "";
  }
};

/** The last JSON object line of `text`, if any. */
const lastJson = (text: string) => {
  const line = text.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  return line === undefined ? undefined : JSON.parse(line);
};

async function waitFor(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = performance.now() + ms;
  while (!(await ok())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface LacRun {
  seconds: number;
  summary: Record<string, unknown>;
}

async function lac(args: string[]): Promise<LacRun> {
  const t0 = performance.now();
  const out = await new Deno.Command("ip", {
    args: [
      ...["netns", "exec", NS.lac, Deno.execPath(), "run", "-A", MAIN, "lac"],
      ...["--server", `${IP.swLac}:1701`, "--hostname", "lac-north", "--secret", SECRET],
      ...["--user", "user{n}@isp-a.example", "--password", PASSWORD, "--client-initiated"],
      ...["--auth", "pap", "--timeout", "60", ...args],
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  const summary = lastJson(new TextDecoder().decode(out.stdout));
  if (summary === undefined) {
    throw new Error(`lts lac printed no summary: ${new TextDecoder().decode(out.stderr)}`);
  }
  return { seconds, summary };
}

interface CpuTimes {
  user: number;
  system: number;
}

/** User and system CPU seconds of `pid` (all its threads), from /proc; NaN when it is gone. */
function cpuTimes(pid: number | undefined): CpuTimes {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/** The PID of the process named `comm` in `netns`. */
async function pidIn(netns: string, comm: string): Promise<number | undefined> {
  for (const p of (await sh(`ip netns pids ${netns}`)).split("\n").filter((l) => l)) {
    const name = (await readText(`/proc/${p}/comm`)).trim();
    if (name === comm) return Number(p);
  }
  return undefined;
}

/** Starts the upstream `lts lns`; the result stops it and returns its summary. */
async function startLns(log: string): Promise<() => Promise<LnsSummary | undefined>> {
  const children: Deno.ChildProcess[] = [];
  spawnIn(children, NS.lns, [
    ...[Deno.execPath(), "run", "-A", MAIN, "lns", "--listen", `${IP.lns}:1701`],
    ...["--secret", SECRET, "--ppp", "--accept-all", "--auth", "pap,chap"],
    ...["--pool", LNS_POOL.range, "--hello", "0"],
  ], { log });
  await waitFor("lts lns", 20_000, async () => (await readText(log)).includes("listening"));
  return async () => {
    // It closes its tunnels (StopCCN, acknowledged) before it prints the summary.
    await stopAll(children, 20_000);
    return lastJson(await readText(log));
  };
}

/**
 * Setup and frames through the switch now running in NS.sw (process `comm`), to the LNS
 * whose `stopLns` ends this measurement.
 */
async function measure(
  comm: string,
  stopLns: () => Promise<LnsSummary | undefined>,
): Promise<SwitchFigures> {
  const pid = await pidIn(NS.sw, comm);
  const setup = ["--rate", "100000", "--duration", "0", "--data-pps", "0"];
  // Brings the upstream tunnel up, so that neither timed run includes it.
  const warm = await lac(["--sessions", "1", ...setup]);
  if (warm.summary.ppp_up !== 1) throw new Error(`warm-up call: ${JSON.stringify(warm.summary)}`);
  const t0 = cpuTimes(pid);
  const one = await lac(["--sessions", "1", ...setup]);
  const t1 = cpuTimes(pid);
  const many = await lac(["--sessions", `${SESSIONS}`, "--tunnels", "1", ...setup]);
  const t2 = cpuTimes(pid);
  const data = await lac([
    ...["--sessions", `${SESSIONS}`, "--rate", "100000", "--duration", `${ECHO_SECONDS}`],
    ...["--data-pps", `${PPS}`],
  ]);
  const t3 = cpuTimes(pid);
  const lns = await stopLns();
  // Up through the switch means IPCP Opened with the LNS: an address from its pool.
  const viaLns = (r: LacRun) =>
    (r.summary.addresses as string[]).filter((a) => a.startsWith(LNS_POOL.prefix)).length;
  // ppp_up counts IPCP Opened events: a call whose PPP renegotiated (an LCP restart) counts twice.
  const ok = (r: LacRun, n: number) =>
    r.summary.sessions_up === n && r.summary.ppp_failed === 0 &&
    (r.summary.ppp_up as number) >= n && viaLns(r) === (r.summary.addresses as string[]).length;
  const setupOk = ok(one, 1) && ok(many, SESSIONS);
  const dataOk = ok(data, SESSIONS);
  const replies = data.summary.data_received as number;
  const sent = data.summary.data_sent as number;
  // The LNS also counts Echo-Requests the switch itself sent it (l2tpns does, on its legs).
  const up = Math.min(lns?.echo_requests ?? 0, sent);
  const frames = up + Math.min(replies, up);
  // (b − a) − (d − c) per kind: the N-call run less the 1-call run cancels start-up; the echo
  // run less the N-call run leaves the echoes.
  const diff = (a: CpuTimes, b: CpuTimes, c: CpuTimes, d: CpuTimes) => ({
    user: (b.user - a.user) - (d.user - c.user),
    system: (b.system - a.system) - (d.system - c.system),
  });
  const perSession = diff(t1, t2, t0, t1);
  const perEcho = diff(t2, t3, t1, t2);
  const total = (t: CpuTimes) => t.user + t.system;
  const usable = (x: number) => Number.isFinite(x) && x > 0;
  const split = (t: CpuTimes, per: number, unit: string) =>
    `user ${(t.user / per).toFixed(2)} + system ${(t.system / per).toFixed(2)} ${unit}`;
  return {
    setupPerS: setupOk ? (SESSIONS - 1) / (many.seconds - one.seconds) : null,
    cpuMsPerSession: setupOk && usable(total(perSession))
      ? (total(perSession) / (SESSIONS - 1)) * 1e3
      : null,
    framesPerS: dataOk && frames > 0 ? frames / ECHO_SECONDS : null,
    cpuUsPerFrame: dataOk && frames > 0 && usable(total(perEcho))
      ? (total(perEcho) / frames) * 1e6
      : null,
    detail: `1 call ${one.seconds.toFixed(2)} s (ppp_up ${one.summary.ppp_up}); ` +
      `${SESSIONS} calls ${many.seconds.toFixed(2)} s (ppp_up ${many.summary.ppp_up}, ` +
      `${viaLns(many)} with an LNS address, failures ${
        JSON.stringify(many.summary.ppp_failures)
      }); echo run: ${sent} sent by the LAC, ${lns?.echo_requests} Echo-Requests at the LNS, ` +
      `${replies} replies back, ppp_up ${data.summary.ppp_up}; LNS ppp_up ${
        lns?.ppp_up ?? "?"
      } over the 4 runs; switch CPU per session ${
        split(perSession, (SESSIONS - 1) / 1e3, "ms")
      }, per frame ${split(perEcho, frames / 1e6, "µs")}`,
  };
}

const ratio = (a: number | null, b: number | null) =>
  a === null || b === null || b === 0 ? null : a / b;

async function main(): Promise<L2tpnsResult> {
  const dir = await Deno.makeTempDir({ prefix: "lts-l2tpns-bench-" });
  const children: Deno.ChildProcess[] = [];
  const notes: string[] = [];
  const teardown = await switchTopology(NS, IP, "n");
  const none: SwitchFigures = {
    setupPerS: null,
    cpuMsPerSession: null,
    framesPerS: null,
    cpuUsPerFrame: null,
    detail: "",
  };
  let ltsFigures = none, l2tpnsFigures = none;
  try {
    // lts as the switch.
    await Deno.writeTextFile(
      `${dir}/lts.yaml`,
      `hostname: lts-sw\nlisten: ["0.0.0.0:1701"]\n` +
        `limits: { max_tunnels: 1000, max_sessions: 50000, sccrq_per_second: 1000 }\n` +
        `lacs: [{ match: { hostname: "lac-*" }, secret: "${SECRET}" }]\n` +
        `upstreams: { up: { members: [{ address: "${IP.lns}:1701", secret: "${SECRET}", ` +
        `hello_interval: 0 }] } }\n` +
        `rules: [{ name: isp-a, match: { domain: "isp-a.example" }, forward: up }]\n` +
        `default: { reject: { result_code: 2 } }\n`,
    );
    const ltsChildren: Deno.ChildProcess[] = [];
    const stopLtsLns = await startLns(`${dir}/lns-lts.log`);
    spawnIn(ltsChildren, NS.sw, [
      ...[Deno.execPath(), "run", "-A"],
      ...(values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] : []),
      ...[MAIN, "run", "--config", `${dir}/lts.yaml`],
      ...["--log-level", "error"],
    ], { log: `${dir}/lts.log` });
    try {
      await waitFor("lts run", 20_000, async () => {
        const log = await readText(`${dir}/lts.log`);
        if (/error|invalid/i.test(log) && !log.includes("listening")) throw new Error(log);
        return log.includes("listening on");
      });
      ltsFigures = await measure("deno", stopLtsLns);
    } catch (e) {
      notes.push(`lts run as the switch failed: ${(e as Error).message.slice(0, 600)}`);
    } finally {
      await stopLtsLns();
      await stopAll(ltsChildren, 10_000);
    }

    // l2tpns as the switch.
    await writeL2tpnsEtc({
      dir,
      // Also the secret of its SCCCN Challenge Response to the remote LNS (see the module doc).
      secret: SECRET,
      bind: IP.swLac,
      bindRemoteLns: IP.swLns,
      radiusSecret: RADIUS_SECRET,
      authTypes: "pap",
      clusterInterface: "n-sw2",
      forwards: [{ realm: "isp-a.example", address: IP.lns, port: 1701, secret: SECRET }],
    }, "10.101.0.0/22");
    const stopL2tpnsLns = await startLns(`${dir}/lns-l2tpns.log`);
    spawnIn(children, NS.sw, [
      ...[Deno.execPath(), "run", "-A", "--config", CONFIG, RADIUS, "--secret", RADIUS_SECRET],
      ...["--password", PASSWORD, "--log", `${dir}/radius.log`],
    ], { log: `${dir}/radius.out` });
    spawnIn(children, NS.sw, ["l2tpns", "-c", "/etc/l2tpns/startup-config"], {
      log: `${dir}/l2tpns.log`,
      bind: [[`${dir}/etc`, "/etc/l2tpns"]],
    });
    try {
      await waitFor(
        "l2tpns to become cluster master",
        30_000,
        async () =>
          (await readText(`${dir}/l2tpns.log`)).includes("I am declaring myself the master"),
      );
      l2tpnsFigures = await measure("l2tpns", stopL2tpnsLns);
      const log = await readText(`${dir}/l2tpns.log`);
      const count = (text: string) => log.split(text).length - 1;
      // Each is a 3 s wait for a PPP retransmission, which would not be l2tpns's own cost.
      notes.push(
        `l2tpns log: ${count("ignoring ConfigReq in state Starting")} Configure-Requests ` +
          `dropped before ICCN, ${count("No ACK for LCP ConfigReq")} LCP restarts, ` +
          `${count("Create New tunnel to REMOTE LNS")} tunnels and ` +
          `${count("Open New session to REMOTE LNS")} sessions opened to the LNS`,
      );
      if (l2tpnsFigures.setupPerS === null) {
        notes.push(
          `l2tpns setforward did not bring the calls to IPCP Opened with the LNS: ${l2tpnsFigures.detail}; ` +
            `last lines of its log: ${log.split("\n").slice(-15).join(" ⏎ ").slice(0, 1500)}`,
        );
      }
    } catch (e) {
      notes.push(
        `l2tpns as the switch failed: ${(e as Error).message.slice(0, 300)}; log: ${
          (await readText(`${dir}/l2tpns.log`)).split("\n").slice(-15).join(" ⏎ ").slice(0, 1500)
        }`,
      );
    } finally {
      await stopL2tpnsLns();
    }
  } finally {
    await stopAll(children);
    await teardown();
    if (!values.keep) await Deno.remove(dir, { recursive: true });
    else notes.push(`logs kept in ${dir}`);
  }
  const lts = ltsFigures, l2tpns = l2tpnsFigures;
  return {
    sessions: SESSIONS,
    pps: PPS,
    lts,
    l2tpns,
    ratios: {
      setupPerS: ratio(lts.setupPerS, l2tpns.setupPerS),
      cpuPerSession: ratio(l2tpns.cpuMsPerSession, lts.cpuMsPerSession),
      framesPerS: ratio(lts.framesPerS, l2tpns.framesPerS),
      cpuPerFrame: ratio(l2tpns.cpuUsPerFrame, lts.cpuUsPerFrame),
    },
    notes,
  };
}

if (import.meta.main) console.log(JSON.stringify(await main()));
