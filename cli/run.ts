/**
 * `lts run`: the switch itself.
 *
 * @module
 */

import { getLogger, type LogLevel } from "@logtape/logtape";
import { SystemClock } from "../actors/clock.ts";
import { LtsRuntime, startLts } from "../actors/lts.ts";
import { type ApiServer, startApi } from "../api/server.ts";
import { MicrotaskScheduler } from "../actors/scheduler.ts";
import { ActorSystem } from "../actors/system.ts";
import { PolicyLoader } from "../policies/mod.ts";
import { endpointKey } from "../transport/datagram.ts";
import { createDatagramNetwork } from "../transport/network_select.ts";
import { type Command, Exit, type Io, parse, UsageError } from "./command.ts";
import { type LogFormat, setupLogging, stopLogging } from "./log.ts";
import { dataPlaneOption, untilSignal } from "./_runtime.ts";

const LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"];

/** `lts run`. */
export const runCommand: Command = {
  name: "run",
  summary: "run the tunnel switch with a policy file",
  usage:
    `lts run --config FILE [--data-plane ffi|deno|auto] [--log-level LEVEL] [--log-format pretty|json] [--duration SEC]

Starts the L2TP tunnel switch: accepts tunnels from the LACs the policy's
"lacs" admit, decides each call by its rules, re-originates it toward the
chosen upstream member, and switches PPP frames between the two legs. Prints
one line per listener, then logs to stderr.

With "api: { listen: 127.0.0.1:9701 }" in the policy it serves the HTTP API
(GET /status /tunnels /sessions /policy /metrics, POST /reload /drain,
DELETE /sessions/ID; see README); "lts status" reads it.

The policy reloads when the file changes, on SIGHUP, and on POST /reload: new
calls follow the new version at once, switched calls keep running; an invalid
file changes nothing and its errors are logged as file:line:col.

SIGINT or SIGTERM stop it gracefully: no new calls, CDN (result 3) on both
legs of every call, StopCCN on every tunnel, up to 5 s for acknowledgements,
exit 0. A second signal exits at once.

Options:
  --config FILE        the policy (YAML); see README "Configuration"
  --data-plane KIND    the UDP socket layer: ffi (batched recvmmsg/sendmmsg through libc; needs
                       --allow-ffi), deno (Deno.listenDatagram), or auto (ffi when permitted;
                       the default). The choice is printed at start.
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
        "data-plane": { type: "string", default: "auto" },
      },
    });
    if (values.config === undefined) throw new UsageError("--config FILE is required");
    const dataPlane = dataPlaneOption(values["data-plane"]!);
    if (values["log-level"] !== undefined && !LEVELS.includes(values["log-level"])) {
      throw new UsageError(`--log-level is one of ${LEVELS.join(", ")}`);
    }
    if (values["log-format"] !== undefined && !["pretty", "json"].includes(values["log-format"])) {
      throw new UsageError("--log-format is pretty or json");
    }
    // Kept across reloads: a reload parses only the rules whose text changed.
    const loader = new PolicyLoader();
    const loaded = await loader.load(values.config);
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
    const selected = createDatagramNetwork(dataPlane, { maxPendingSends: 65536 });
    if (!selected.ok) {
      io.err(`lts run: --data-plane ${dataPlane}: ${selected.error}`);
      await stopLogging();
      return Exit.Failure;
    }
    const bound = selected.value.network.bind(config.listen[0]);
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
    // Reloads parse in slices (or a big full parse in a Worker): the data plane never stalls long.
    const runtime = new LtsRuntime(lts, {
      system,
      source: values.config,
      load: () => loader.load(values.config!),
    });
    io.out(`lts: listening on ${endpointKey(socket.local)} (L2TP)`);
    io.out(`lts: data plane ${selected.value.kind}: ${selected.value.reason}`);
    log.info("data plane {kind}: {reason}", { ...selected.value, network: undefined });
    // The HTTP API: only when the policy names api.listen (keep it on 127.0.0.1 unless a token guards it).
    let api: ApiServer | undefined;
    if (config.api !== undefined) {
      let token: string | undefined;
      if (config.api.tokenFile !== undefined) {
        try {
          token = (await Deno.readTextFile(config.api.tokenFile)).trim();
          if (token === "") throw new Error("the file is empty");
        } catch (e) {
          io.err(
            `lts run: cannot read api.token_file ${config.api.tokenFile}: ${(e as Error).message}`,
          );
          return Exit.Failure;
        }
      }
      try {
        api = startApi(runtime, { listen: config.api.listen, token });
      } catch (e) {
        io.err(
          `lts run: cannot serve the API on ${endpointKey(config.api.listen)}: ${
            (e as Error).message
          }`,
        );
        return Exit.Failure;
      }
      io.out(`lts: API on http://${endpointKey(config.api.listen)}/status`);
    }
    log.info("policy {file}: {rules} rules, {upstreams} upstreams", {
      file: values.config,
      rules: config.rules.length,
      upstreams: config.upstreams.size,
    });
    const watcher = watchPolicy(values.config, () => void runtime.reload());
    const onHup = () => {
      log.info("SIGHUP: reloading {file}", { file: values.config });
      void runtime.reload();
    };
    Deno.addSignalListener("SIGHUP", onHup);
    const duration = values.duration === undefined ? undefined : Number(values.duration) * 1000;
    await untilSignal(duration);
    // A second signal while stopping exits at once.
    const hurry = () => Deno.exit(Exit.Failure);
    Deno.addSignalListener("SIGINT", hurry);
    Deno.addSignalListener("SIGTERM", hurry);
    log.info("stopping: CDN to every call, StopCCN to every tunnel; {stats}", {
      stats: JSON.stringify(lts.stats),
    });
    await runtime.stop(5000);
    await api?.shutdown();
    Deno.removeSignalListener("SIGHUP", onHup);
    Deno.removeSignalListener("SIGINT", hurry);
    Deno.removeSignalListener("SIGTERM", hurry);
    watcher.close();
    lts.node.shutdown();
    system.shutdown();
    socket.close();
    await socket.closed;
    await stopLogging();
    return Exit.Ok;
  },
};

/**
 * Watches the policy file's directory (editors often save by writing a new
 * file and renaming it over the old one) and calls `reload` 200 ms after the
 * last change to the file.
 */
export function watchPolicy(path: string, reload: () => void): { close(): void } {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const dir = abs.slice(0, abs.lastIndexOf("/")) || "/";
  const name = abs.slice(abs.lastIndexOf("/") + 1);
  const watcher = Deno.watchFs(dir, { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  (async () => {
    try {
      for await (const event of watcher) {
        if (!event.paths.some((p) => p.slice(p.lastIndexOf("/") + 1) === name)) continue;
        if (timer !== undefined) clearTimeout(timer);
        timer = setTimeout(() => {
          timer = undefined;
          reload();
        }, 200);
      }
    } catch {
      // closed
    }
  })();
  return {
    close() {
      if (timer !== undefined) clearTimeout(timer);
      watcher.close();
    },
  };
}
