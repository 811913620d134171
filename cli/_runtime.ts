/**
 * Starts an L2TP node on a real UDP socket for the CLI tools, and stops it
 * gracefully: StopCCN to every peer, a short wait for acknowledgements, then
 * actors, timers and socket released.
 *
 * @module
 */

import { SystemClock } from "../actors/clock.ts";
import { L2tpNode, type L2tpNodeOptions } from "../actors/l2tp_node.ts";
import { MicrotaskScheduler } from "../actors/scheduler.ts";
import { ActorSystem } from "../actors/system.ts";
import { type Endpoint, parseEndpoint } from "../transport/datagram.ts";
import {
  createDatagramNetwork,
  DATA_PLANE_KINDS,
  type DataPlaneKind,
} from "../transport/network_select.ts";
import type { UdpSocket } from "../transport/udp.ts";
import { UsageError } from "./command.ts";

/** A node on a UDP socket, with what it takes to stop it. */
export interface RunningNode {
  node: L2tpNode;
  system: ActorSystem;
  socket: UdpSocket;
  /** The socket layer in use (see `transport/network_select.ts`). */
  dataPlane: "ffi" | "deno";
  /** Closes every tunnel with StopCCN, waits up to `graceMs` for them to end, then frees everything. */
  stop(graceMs?: number): Promise<void>;
}

/** Parses `HOST:PORT` for an option, or raises a usage error naming it. */
export function endpointOption(name: string, raw: string): Endpoint {
  const r = parseEndpoint(raw);
  if (!r.ok) throw new UsageError(`--${name}: ${r.error}`);
  return r.value;
}

/** Checks `--data-plane`, or raises a usage error listing what it accepts. */
export function dataPlaneOption(raw: string): DataPlaneKind {
  const kind = DATA_PLANE_KINDS.find((k) => k === raw);
  if (kind === undefined) {
    throw new UsageError(`--data-plane is one of ${DATA_PLANE_KINDS.join(", ")}`);
  }
  return kind;
}

/**
 * Binds `listen` and starts a node on it, on the socket layer `dataPlane`
 * asks for (default `"auto"`: the batched FFI backend when permitted).
 */
export function startNode(
  listen: Endpoint,
  options: Omit<L2tpNodeOptions, "system" | "socket"> & { dataPlane?: DataPlaneKind },
): RunningNode {
  const { dataPlane = "auto", ...nodeOptions } = options;
  const selected = createDatagramNetwork(dataPlane, { maxPendingSends: 65536 });
  if (!selected.ok) throw new Error(`--data-plane ${dataPlane}: ${selected.error}`);
  const bound = selected.value.network.bind(listen);
  if (!bound.ok) throw new Error(`cannot bind ${listen.hostname}:${listen.port}: ${bound.error}`);
  const socket = bound.value;
  const system = new ActorSystem({ clock: new SystemClock(), scheduler: new MicrotaskScheduler() });
  const node = new L2tpNode({ ...nodeOptions, system, socket });
  return {
    node,
    system,
    socket,
    dataPlane: selected.value.kind,
    async stop(graceMs = 2000) {
      node.closeAll();
      const until = Date.now() + graceMs;
      while (node.tunnelCount > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
      }
      node.shutdown();
      system.shutdown();
      socket.close();
      await socket.closed;
    },
  };
}

/** Resolves on SIGINT or SIGTERM, or after `ms` when given; removes its listeners. */
export function untilSignal(ms?: number): Promise<void> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      for (const s of signals) Deno.removeSignalListener(s, done);
      if (timer !== undefined) clearTimeout(timer);
      resolve();
    };
    for (const s of signals) Deno.addSignalListener(s, done);
    if (ms !== undefined) timer = setTimeout(done, ms);
  });
}
