/**
 * lts against l2tpns (Debian) as a switch, in network namespaces like
 * `tests/interop/l2tpns_test.ts`: `lts lac --client-initiated --auth pap`
 * (ns lac) → switch (ns sw, 1701) → `lts lns --ppp --accept-all` (ns lns).
 * The switch is `lts run` (switching by realm), then l2tpns with
 * `setforward isp-a.example LNS 1701 SECRET` (it runs LCP and PAP itself,
 * asks RADIUS — `tests/interop/radius_responder.ts`, accept-all, beside it —
 * and forwards the session to the remote LNS from UDP 65432).
 *
 * Figures, for each switch, in one run:
 * - switched sessions/s: `lts lac` wall time to all PPP links at IPCP
 *   Opened (through the switch, upstream LNS assigning the address) for N
 *   and for 1 call; rate = (N − 1) ÷ (T(N) − T(1)), which cancels start-up;
 * - switched frames/s: LCP Echo-Requests offered by the LAC at a fixed rate
 *   for 5 s on the calls, answered by the upstream LNS; echo replies
 *   received per second, and the switch's CPU time per switched frame.
 *
 *   tools/deno run -A bench/l2tpns_bench.ts [--sessions 200] [--pps 20000]
 *
 * Needs root (ip netns) and l2tpns. Prints one JSON line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createTopology, sh, spawnIn, stopAll } from "../tests/interop/_netns.ts";
import { cpuSeconds, ROOT, sleep } from "./_suite.ts";

const NS = { lac: "lts-b-lac", sw: "lts-b-sw", lns: "lts-b-lns" };
const IP = { lac: "10.81.1.1", swLac: "10.81.1.2", swLns: "10.81.2.1", lns: "10.81.2.2" };
const SECRET = "lac-secret";
const RADIUS_SECRET = "radius-secret";
const PASSWORD = "user-pw";
const MAIN = `${ROOT}main.ts`;
const CONFIG = `${ROOT}deno.json`;
const RADIUS = `${ROOT}tests/interop/radius_responder.ts`;

/** Per switch. */
export interface SwitchFigures {
  setupPerS: number | null;
  framesPerS: number | null;
  cpuUsPerFrame: number | null;
  detail: string;
}

/** What the bench prints. */
export interface L2tpnsResult {
  sessions: number;
  pps: number;
  lts: SwitchFigures;
  l2tpns: SwitchFigures;
  notes: string[];
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sessions: { type: "string", default: "500" },
    pps: { type: "string", default: "20000" },
    keep: { type: "boolean", default: false },
    // l2tpns 2.4.1 answers the upstream LNS's SCCRP Challenge with MD5 over its *own* SCCRQ
    // challenge (l2tplac.c lac_calc_rlns_auth), so an LNS with a secret rejects its SCCCN
    // (StopCCN result 4). Without a secret on the upstream leg that step is skipped.
    "upstream-secret": { type: "string", default: "up-secret" },
  },
});
const SESSIONS = Number(values.sessions);
const PPS = Number(values.pps);
const UP_SECRET = values["upstream-secret"]!;

const readText = async (f: string) => {
  try {
    return await Deno.readTextFile(f);
  } catch {
    return "";
  }
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
  const text = new TextDecoder().decode(out.stdout);
  const line = text.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (line === undefined) {
    throw new Error(`lts lac printed no summary: ${new TextDecoder().decode(out.stderr)}`);
  }
  return { seconds, summary: JSON.parse(line) };
}

/** The PID of the process named `comm` in `netns`. */
async function pidIn(netns: string, comm: string): Promise<number | undefined> {
  for (const p of (await sh(`ip netns pids ${netns}`)).split("\n").filter((l) => l)) {
    const name = (await readText(`/proc/${p}/comm`)).trim();
    if (name === comm) return Number(p);
  }
  return undefined;
}

/** Setup and frames through the switch now running in NS.sw (process `comm`). */
async function measure(comm: string): Promise<SwitchFigures> {
  const one = await lac(["--sessions", "1", "--duration", "0"]);
  const many = await lac([
    ...["--sessions", `${SESSIONS}`, "--tunnels", "1", "--rate", "100000", "--duration", "0"],
  ]);
  const ok = (r: LacRun, n: number) => r.summary.ppp_up === n;
  const setupPerS = ok(one, 1) && ok(many, SESSIONS)
    ? (SESSIONS - 1) / (many.seconds - one.seconds)
    : null;
  const pid = await pidIn(NS.sw, comm);
  const cpu0 = pid ? cpuSeconds(pid) : NaN;
  const data = await lac([
    ...["--sessions", `${SESSIONS}`, "--rate", "100000", "--duration", "6"],
    ...["--data-pps", `${PPS}`],
  ]);
  const cpu = pid ? cpuSeconds(pid) - cpu0 : NaN;
  const received = data.summary.data_received as number;
  const sent = data.summary.data_sent as number;
  // Each echo crosses the switch twice (request up, reply down).
  const frames = sent + received;
  return {
    setupPerS,
    framesPerS: ok(data, SESSIONS) && received > 0 ? received / 6 : null,
    cpuUsPerFrame: Number.isNaN(cpu) || frames === 0 ? null : (cpu / frames) * 1e6,
    detail:
      `1 call ${one.seconds.toFixed(2)} s (ppp_up ${one.summary.ppp_up}); ${SESSIONS} calls ${
        many.seconds.toFixed(2)
      } s (ppp_up ${many.summary.ppp_up}, failures ${
        JSON.stringify(many.summary.ppp_failures)
      }); ` +
      `echo: ${sent} sent, ${received} answered in 6 s; switch CPU ${cpu.toFixed(2)} s`,
  };
}

function l2tpnsConfig(dir: string): string {
  return [
    "set debug 3",
    `set pid_file "${dir}/l2tpns.pid"`,
    `set l2tp_secret "${SECRET}"`,
    `set bind_address ${IP.swLac}`,
    `set bind_address_remotelns ${IP.swLns}`,
    "set cli_bind_address 127.0.0.1",
    "set primary_dns 10.0.0.1",
    "set primary_radius 127.0.0.1",
    `set radius_secret "${RADIUS_SECRET}"`,
    `set radius_authtypes "pap"`,
    "set radius_accounting no",
    "set send_garp no",
    "set cluster_interface n-sw2",
    "set cluster_hb_timeout 31",
    `setforward isp-a.example ${IP.lns} 1701 ${UP_SECRET || '""'}`,
    "",
  ].join("\n");
}

async function main(): Promise<L2tpnsResult> {
  const dir = await Deno.makeTempDir({ prefix: "lts-l2tpns-bench-" });
  const children: Deno.ChildProcess[] = [];
  const notes: string[] = [];
  const teardown = await createTopology(Object.values(NS), [
    [{ netns: NS.lac, name: "n-lac", address: IP.lac }, {
      netns: NS.sw,
      name: "n-sw1",
      address: IP.swLac,
    }],
    [{ netns: NS.sw, name: "n-sw2", address: IP.swLns }, {
      netns: NS.lns,
      name: "n-lns",
      address: IP.lns,
    }],
  ]);
  const none: SwitchFigures = {
    setupPerS: null,
    framesPerS: null,
    cpuUsPerFrame: null,
    detail: "",
  };
  let ltsFigures = none, l2tpnsFigures = none;
  try {
    spawnIn(children, NS.lns, [
      ...[Deno.execPath(), "run", "-A", MAIN, "lns", "--listen", `${IP.lns}:1701`],
      ...(UP_SECRET ? ["--secret", UP_SECRET] : []),
      ...["--ppp", "--accept-all", "--auth", "pap,chap"],
      ...["--pool", "10.102.0.1-10.102.3.250", "--hello", "0"],
    ], { log: `${dir}/lns.log` });
    await waitFor(
      "lts lns",
      20_000,
      async () => (await readText(`${dir}/lns.log`)).includes("listening"),
    );

    // lts as the switch.
    await Deno.writeTextFile(
      `${dir}/lts.yaml`,
      `hostname: lts-sw\nlisten: ["0.0.0.0:1701"]\n` +
        `limits: { max_tunnels: 1000, max_sessions: 50000, sccrq_per_second: 1000 }\n` +
        `lacs: [{ match: { hostname: "lac-*" }, secret: "${SECRET}" }]\n` +
        `upstreams: { up: { members: [{ address: "${IP.lns}:1701", ${
          UP_SECRET ? `secret: "${UP_SECRET}", ` : ""
        }hello_interval: 0 }] } }\n` +
        `rules: [{ name: isp-a, match: { domain: "isp-a.example" }, forward: up }]\n` +
        `default: { reject: { result_code: 2 } }\n`,
    );
    const ltsChildren: Deno.ChildProcess[] = [];
    spawnIn(ltsChildren, NS.sw, [
      ...[Deno.execPath(), "run", "-A", MAIN, "run", "--config", `${dir}/lts.yaml`],
      ...["--log-level", "error"],
    ], { log: `${dir}/lts.log` });
    try {
      await waitFor("lts run", 20_000, async () => {
        const log = await readText(`${dir}/lts.log`);
        if (/error|invalid/i.test(log) && !log.includes("listening")) throw new Error(log);
        return log.includes("listening on");
      });
      ltsFigures = await measure("deno");
    } catch (e) {
      notes.push(`lts run as the switch failed: ${(e as Error).message.slice(0, 600)}`);
    } finally {
      await stopAll(ltsChildren);
    }

    // l2tpns as the switch.
    await Deno.mkdir(`${dir}/etc`);
    await Deno.writeTextFile(`${dir}/etc/startup-config`, l2tpnsConfig(dir));
    await Deno.writeTextFile(`${dir}/etc/ip_pool`, "10.101.0.0/22\n");
    await Deno.writeTextFile(`${dir}/etc/users`, "");
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
      l2tpnsFigures = await measure("l2tpns");
      const log = await readText(`${dir}/l2tpns.log`);
      notes.push(
        `l2tpns log: ${(log.match(/remote LNS|REMOTE LNS|Forward/gi) ?? []).length} lines about ` +
          `the remote LNS; ${(log.match(/Received ICCN|ICCN/g) ?? []).length} mentions of ICCN`,
      );
      if (l2tpnsFigures.setupPerS === null) {
        notes.push(
          `l2tpns setforward did not bring the calls to IPCP Opened: ${l2tpnsFigures.detail}; ` +
            `last lines of its log: ${log.split("\n").slice(-15).join(" ⏎ ").slice(0, 1500)}`,
        );
      }
    } catch (e) {
      notes.push(
        `l2tpns as the switch failed: ${(e as Error).message.slice(0, 300)}; log: ${
          (await readText(`${dir}/l2tpns.log`)).split("\n").slice(-15).join(" ⏎ ").slice(0, 1500)
        }`,
      );
    }
  } finally {
    await stopAll(children);
    await teardown();
    if (!values.keep) await Deno.remove(dir, { recursive: true });
    else notes.push(`logs kept in ${dir}`);
  }
  return { sessions: SESSIONS, pps: PPS, lts: ltsFigures, l2tpns: l2tpnsFigures, notes };
}

if (import.meta.main) console.log(JSON.stringify(await main()));
