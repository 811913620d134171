/**
 * A stand-in for pppd, for the interop tests: the CI machines have no
 * `/dev/ppp`, so the real pppd that xl2tpd starts for each call exits at
 * once. This one speaks PPP in async HDLC framing (RFC 1662, `ppp/hdlc.ts`)
 * on the pty xl2tpd hands it, and runs lts's own PPP engine (`ppp/engine.ts`)
 * so the call comes up and LCP Echo keeps crossing it.
 *
 * It takes the command line pppd gets from xl2tpd (`/dev/pts/N passive
 * nodetach LOCAL:REMOTE file OPTIONS name NAME ...`) and reads the options
 * it understands from it and from `file`s:
 *
 * | option                                      | effect                                             |
 * | ------------------------------------------- | -------------------------------------------------- |
 * | `/dev/...` (first)                          | the tty to talk on (otherwise stdin and stdout)    |
 * | `require-pap`, `require-chap`, `auth`       | authenticator (`server`): checks the peer, assigns REMOTE |
 * | `name N`, `user N`, `password P`            | our name and secret (env `PPPD_STANDIN_NAME`, `PPPD_STANDIN_PASSWORD`) |
 * | `refuse-pap`, `refuse-chap`                 | what a client will not authenticate with           |
 * | `LOCAL:REMOTE`                              | a server's own address and the one it assigns      |
 * | `lcp-echo-interval S`, `lcp-echo-failure N` | LCP Echo keepalive (RFC 1661 §5.8)                 |
 * | `logfile F`                                 | where its JSON-lines log goes (default stderr)     |
 *
 * Anything else is ignored. As a server it accepts any user whose password
 * (PAP) or CHAP secret is `password`, or every user when none is given.
 * It exits 0 when the link had opened and then closed, 1 when it never
 * opened; SIGTERM or SIGHUP (xl2tpd's hang-up) closes the link first with an
 * LCP Terminate-Request.
 *
 * xl2tpd runs `/usr/sbin/pppd`; {@link pppdLauncher} writes a shell launcher
 * to bind-mount over it in a private mount namespace
 * (`unshare -m sh -c 'mount --bind LAUNCHER /usr/sbin/pppd && exec xl2tpd …'`),
 * so nothing outside that namespace changes.
 *
 * @example
 * ```ts
 * import { parsePppdArgs } from "./pppd_standin.ts";
 * const o = await parsePppdArgs(["/dev/pts/3", "passive", "10.0.0.1:10.0.0.2", "require-pap"]);
 * if (o.tty !== "/dev/pts/3" || o.role !== "server" || o.remote !== "10.0.0.2") throw new Error();
 * ```
 *
 * @module
 */

import {
  createEngine,
  type EngineConfig,
  type EngineEffect,
  type EngineInput,
  type EngineState,
  type EngineTimer,
  stepEngine,
} from "../../ppp/engine.ts";
import { ControlCode, decodeControlPacket, decodeFrame, PPP_LCP } from "../../ppp/frame.ts";
import { encodeHdlc, HdlcDecoder } from "../../ppp/hdlc.ts";
import { IpPool, parseIpv4 } from "../../ppp/ip_pool.ts";
import type { AuthProtocol } from "../../ppp/lcp.ts";

/** What the stand-in took from its command line and option files. */
export interface PppdOptions {
  /** The tty named first on the command line, as pppd takes it; stdin/stdout when absent. */
  tty?: string;
  /** `server` when asked to authenticate the peer, `client` otherwise. */
  role: "server" | "client";
  /** Protocols a server requires, most wanted first. */
  requireAuth: AuthProtocol[];
  /** Protocols a client refuses. */
  refuse: AuthProtocol[];
  name?: string;
  password?: string;
  local?: string;
  remote?: string;
  echoIntervalS: number;
  echoFailure: number;
  logfile?: string;
}

/** pppd options that take a value; their value is skipped when not used. */
const WITH_VALUE = new Set([
  "name",
  "user",
  "password",
  "file",
  "logfile",
  "lcp-echo-interval",
  "lcp-echo-failure",
  "ipparam",
  "plugin",
  "remotename",
  "mru",
  "mtu",
  "asyncmap",
  "connect",
  "disconnect",
  "lcp-restart",
  "lcp-max-configure",
  "ms-dns",
  "idle",
  "maxfail",
  "holdoff",
  "pppol2tp",
  "pppol2tp_tunnel_id",
  "pppol2tp_session_id",
]);

/** Splits an options file into words as pppd does: `#` comments, double quotes. */
function optionWords(text: string): string[] {
  const words: string[] = [];
  for (const line of text.split("\n")) {
    for (const m of line.replace(/#.*/, "").matchAll(/"([^"]*)"|(\S+)/g)) words.push(m[1] ?? m[2]);
  }
  return words;
}

/** Reads pppd's command line (and the `file`s it names) into {@link PppdOptions}. */
export async function parsePppdArgs(
  args: readonly string[],
  env: { name?: string; password?: string } = {},
): Promise<PppdOptions> {
  const o: PppdOptions = {
    role: "client",
    requireAuth: [],
    refuse: [],
    name: env.name,
    password: env.password,
    echoIntervalS: 0,
    echoFailure: 0,
  };
  const words = [...args];
  if (words[0]?.startsWith("/dev/")) o.tty = words.shift();
  const take = async (list: string[]) => {
    for (let i = 0; i < list.length; i++) {
      const w = list[i];
      const value = WITH_VALUE.has(w) ? list[++i] : undefined;
      switch (w) {
        case "require-pap":
        case "require-chap": {
          const p = w === "require-pap" ? "pap" : "chap";
          o.role = "server";
          if (!o.requireAuth.includes(p)) o.requireAuth.push(p);
          break;
        }
        case "auth":
          o.role = "server";
          break;
        case "refuse-pap":
          o.refuse.push("pap");
          break;
        case "refuse-chap":
          o.refuse.push("chap");
          break;
        case "name":
        case "user":
          o.name = value;
          break;
        case "password":
          o.password = value;
          break;
        case "logfile":
          o.logfile = value;
          break;
        case "lcp-echo-interval":
          o.echoIntervalS = Number(value);
          break;
        case "lcp-echo-failure":
          o.echoFailure = Number(value);
          break;
        case "file":
          if (value !== undefined) await take(optionWords(await Deno.readTextFile(value)));
          break;
        default: {
          const m = /^([\d.]*):([\d.]*)$/.exec(w);
          if (m) {
            if (m[1]) o.local = m[1];
            if (m[2]) o.remote = m[2];
          }
        }
      }
    }
  };
  await take(words);
  if (o.role === "server" && o.requireAuth.length === 0) o.requireAuth.push("chap", "pap");
  return o;
}

/** The engine configuration the options ask for. */
export function engineConfigFor(o: PppdOptions): EngineConfig {
  const echo = o.echoIntervalS > 0
    ? { intervalMs: o.echoIntervalS * 1000, maxMissed: Math.max(1, o.echoFailure) }
    : undefined;
  if (o.role === "client") {
    const accept = (["chap", "pap"] as const).filter((p) => !o.refuse.includes(p));
    return {
      role: "client",
      name: o.name ?? "pppd",
      password: o.password ?? "pppd",
      acceptAuth: accept,
      echo,
    };
  }
  const password = o.password;
  const remote = parseIpv4(o.remote ?? "10.0.0.2") ?? 0x0a000002;
  return {
    role: "server",
    auth: o.requireAuth,
    name: o.name ?? "pppd",
    users: {
      verify: (_user, pw) => password === undefined || pw === password,
      secretFor: () => password,
      acceptAll: password === undefined,
    },
    localAddress: o.local ?? "10.0.0.1",
    pool: new IpPool({ first: remote, last: remote }),
    echo,
  };
}

const LCP_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(ControlCode).map(([k, v]) => [v, k]),
);

/** What the log says of a frame; `bad` names a decode error. */
export interface FrameSummary {
  protocol?: string;
  code?: string | number;
  id?: number;
  length?: number;
  bad?: string;
}

/**
 * A short description of a frame for the log: the protocol, and the Code
 * and Identifier of control packets (LCP's Code by name).
 */
export function describeFrame(frame: Uint8Array): FrameSummary {
  const f = decodeFrame(frame);
  if (!f.ok) return { bad: f.error.code };
  const protocol = `0x${f.value.protocol.toString(16).padStart(4, "0")}`;
  // Network-layer datagrams have protocol numbers below 0x4000 (RFC 1661 §2).
  if (f.value.protocol < 0x4000) return { protocol, length: f.value.payload.length };
  const p = decodeControlPacket(f.value.payload);
  if (!p.ok) return { protocol, bad: p.error.code };
  const code = f.value.protocol === PPP_LCP ? LCP_NAMES[p.value.code] : p.value.code;
  return { protocol, code: code ?? p.value.code, id: p.value.identifier };
}

/**
 * Writes an executable launcher into `dir` that runs this file with the Deno
 * running the caller, and returns its path; bind-mount it over `/usr/sbin/pppd`.
 */
export async function pppdLauncher(dir: string): Promise<string> {
  const script = new URL(import.meta.url).pathname;
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const path = `${dir}/pppd`;
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec ${quote(Deno.execPath())} run -A --no-prompt --config ${quote(config)} ` +
      `${quote(script)} "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

async function main(): Promise<number> {
  const o = await parsePppdArgs(Deno.args, {
    name: Deno.env.get("PPPD_STANDIN_NAME"),
    password: Deno.env.get("PPPD_STANDIN_PASSWORD"),
  });
  const logFile = o.logfile === undefined
    ? null
    : await Deno.open(o.logfile, { append: true, create: true });
  const encoder = new TextEncoder();
  const log = (event: string, fields: object = {}) => {
    const line = encoder.encode(
      JSON.stringify({ t: Date.now(), pid: Deno.pid, event, ...fields }) + "\n",
    );
    if (logFile) logFile.writeSync(line);
    else Deno.stderr.writeSync(line);
  };
  log("start", { args: Deno.args, role: o.role, name: o.name });

  let input: ReadableStream<Uint8Array>;
  let output: { write(p: Uint8Array): Promise<number> };
  if (o.tty !== undefined) {
    // pppd puts its tty in raw mode itself; xl2tpd hands it over cooked (echo, icrnl, onlcr).
    const stty = await new Deno.Command("stty", { args: ["-F", o.tty, "raw", "-echo"] }).output();
    if (stty.code !== 0) log("stty_failed", { code: stty.code });
    // Two handles: Deno serialises operations on one file, and a pending read would hold up writes.
    input = (await Deno.open(o.tty, { read: true })).readable;
    output = await Deno.open(o.tty, { write: true });
  } else {
    input = Deno.stdin.readable;
    output = Deno.stdout;
  }

  let state: EngineState = createEngine(engineConfigFor(o));
  const timers = new Map<EngineTimer, ReturnType<typeof setTimeout>>();
  const t0 = performance.now();
  const now = () => Math.round(performance.now() - t0);
  let writing = Promise.resolve();
  let opened = false;
  let done: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (done = resolve));

  const step = (i: EngineInput) => {
    const r = stepEngine(state, i);
    state = r.state;
    for (const e of r.effects) effect(e);
  };
  const effect = (e: EngineEffect) => {
    switch (e.type) {
      case "send": {
        const wire = encodeHdlc(e.frame);
        log("send", describeFrame(e.frame));
        writing = writing.then(async () => {
          for (let n = 0; n < wire.length;) n += await output.write(wire.subarray(n));
        }).catch((err) => log("write_failed", { error: String(err) }));
        return;
      }
      case "arm_timer": {
        clearTimeout(timers.get(e.timer));
        const timer = e.timer;
        timers.set(timer, setTimeout(() => step({ type: "timeout", timer, now: now() }), e.ms));
        return;
      }
      case "cancel_timer":
        clearTimeout(timers.get(e.timer));
        timers.delete(e.timer);
        return;
      case "phase":
        log("phase", { phase: e.phase });
        return;
      case "authenticated":
        log("authenticated", { user: e.user });
        return;
      case "opened":
        opened = true;
        log("opened", { address: e.address, dns: e.dns });
        return;
      case "failed":
        log("failed", { reason: e.reason });
        return;
      case "closed":
        log("closed");
        for (const t of timers.values()) clearTimeout(t);
        timers.clear();
        done(opened ? 0 : 1);
        return;
      default: {
        const never: never = e;
        throw new TypeError(`unknown effect ${JSON.stringify(never)}`);
      }
    }
  };

  const hangUp = (signal: Deno.Signal) => () => {
    log("signal", { signal });
    step({ type: "close", now: now() });
    // The peer may never acknowledge the Terminate-Request once the call is gone.
    setTimeout(() => done(opened ? 0 : 1), 1000);
  };
  for (const s of ["SIGTERM", "SIGHUP", "SIGINT"] as const) Deno.addSignalListener(s, hangUp(s));

  step({ type: "start", now: now() });
  const decoder = new HdlcDecoder();
  (async () => {
    for await (const chunk of input) {
      const { frames, errors } = decoder.push(chunk);
      for (const e of errors) log("hdlc_error", { ...e });
      for (const frame of frames) {
        log("receive", describeFrame(frame));
        step({ type: "frame", frame, now: now() });
      }
    }
    log("hangup", { why: "end of input" });
    done(opened ? 0 : 1);
  })().catch((err) => {
    // A pty whose master side closed reads as EIO: xl2tpd hung up.
    log("hangup", { why: String(err) });
    done(opened ? 0 : 1);
  });

  const code = await finished;
  await writing;
  log("exit", { code });
  return code;
}

if (import.meta.main) Deno.exit(await main());
