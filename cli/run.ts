/**
 * `lts run`: the switch itself.
 *
 * @module
 */

import { getLogger, type LogLevel } from "@logtape/logtape";
import { SystemClock } from "../actors/clock.ts";
import { startLts } from "../actors/lts.ts";
import { MicrotaskScheduler } from "../actors/scheduler.ts";
import { ActorSystem } from "../actors/system.ts";
import { loadPolicyFile } from "../policies/mod.ts";
import { endpointKey } from "../transport/datagram.ts";
import { DenoUdpNetwork } from "../transport/udp.ts";
import { type Command, Exit, type Io, parse, UsageError } from "./command.ts";
import { type LogFormat, setupLogging, stopLogging } from "./log.ts";
import { untilSignal } from "./_runtime.ts";

const LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"];

/** `lts run`. */
export const runCommand: Command = {
  name: "run",
  summary: "run the tunnel switch with a policy file",
  usage: `lts run --config FILE [--log-level LEVEL] [--log-format pretty|json] [--duration SEC]

Starts the L2TP tunnel switch: accepts tunnels from the LACs the policy's
"lacs" admit, decides each call by its rules, re-originates it toward the
chosen upstream member, and switches PPP frames between the two legs. Prints
one line per listener, then logs to stderr. SIGINT or SIGTERM stop it: every
tunnel gets a StopCCN (result 6, shutting down).

Options:
  --config FILE        the policy (YAML); see README "Configuration"
  --log-level LEVEL    trace | debug | info | warning | error (default: the file's log.level, or info)
  --log-format FORMAT  pretty | json (default: the file's log.format, or pretty)
  --duration SEC       stop after this many seconds (tests, demos)`,
  async run(args: string[], io: Io): Promise<number> {
    const { values } = parse(args, {
      options: {
        config: { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        duration: { type: "string" },
      },
    });
    if (values.config === undefined) throw new UsageError("--config FILE is required");
    if (values["log-level"] !== undefined && !LEVELS.includes(values["log-level"])) {
      throw new UsageError(`--log-level is one of ${LEVELS.join(", ")}`);
    }
    if (values["log-format"] !== undefined && !["pretty", "json"].includes(values["log-format"])) {
      throw new UsageError("--log-format is pretty or json");
    }
    const loaded = await loadPolicyFile(values.config);
    if (!loaded.ok) {
      for (const e of loaded.error) io.err(e.toString());
      return Exit.Failure;
    }
    const policy = loaded.value;
    const config = policy.config;
    const level = (values["log-level"] ?? config.log.level) as LogLevel;
    const format =
      (values["log-format"] ?? (config.log.format === "json" ? "json" : "pretty")) as LogFormat;
    await setupLogging(level, format);
    const log = getLogger(["lts", "run"]);
    if (config.listen.length !== 1) {
      io.err("lts run: exactly one listen address is supported in this version");
      return Exit.Failure;
    }
    const bound = new DenoUdpNetwork({ maxPendingSends: 65536 }).bind(config.listen[0]);
    if (!bound.ok) {
      io.err(`lts run: cannot listen on ${endpointKey(config.listen[0])}: ${bound.error}`);
      await stopLogging();
      return Exit.Failure;
    }
    const socket = bound.value;
    const system = new ActorSystem({
      clock: new SystemClock(),
      scheduler: new MicrotaskScheduler(),
    });
    const lts = startLts({ system, socket, policy });
    io.out(`lts: listening on ${endpointKey(socket.local)} (L2TP)`);
    log.info("policy {file}: {rules} rules, {upstreams} upstreams", {
      file: values.config,
      rules: config.rules.length,
      upstreams: config.upstreams.size,
    });
    const duration = values.duration === undefined ? undefined : Number(values.duration) * 1000;
    await untilSignal(duration);
    log.info("stopping: {stats}", { stats: JSON.stringify(lts.stats) });
    lts.node.closeAll();
    const until = Date.now() + 2000;
    while (lts.node.tunnelCount > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    lts.node.shutdown();
    system.shutdown();
    socket.close();
    await socket.closed;
    await stopLogging();
    return Exit.Ok;
  },
};
