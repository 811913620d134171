/**
 * Assembles an L2TP Tunnel Switch: one node on the switch's socket (an LNS
 * toward LACs, a LAC toward upstream LNSes), the switch actor, and the
 * policy in force. Used by `lts run` and by the end-to-end tests.
 *
 * @module
 */

import type { CompiledPolicy } from "../policies/compile.ts";
import type { DatagramSocket } from "../transport/datagram.ts";
import { L2tpNode } from "./l2tp_node.ts";
import {
  type PolicyHolder,
  switchActor,
  switchHooks,
  type SwitchMsg,
  type SwitchStats,
} from "./switch_actor.ts";
import type { ActorRef, ActorSystem } from "./system.ts";
import { StopCcnResult } from "../transport/avp_types.ts";

/** A running switch. */
export interface Lts {
  node: L2tpNode;
  switch: ActorRef<SwitchMsg>;
  stats: SwitchStats;
  policy: PolicyHolder;
}

/** Options of {@link startLts}. */
export interface LtsOptions {
  system: ActorSystem;
  socket: DatagramSocket;
  policy: CompiledPolicy;
  randomBytes?: (n: number) => Uint8Array;
  seed?: number;
  /** Hold time of a failed upstream member, ms (default 30 s). */
  memberHoldDownMs?: number;
  /** Idle upstream tunnels close after this long, ms (default 60 s). */
  idleTunnelMs?: number;
}

/** Starts a switch on `socket` with `policy`. */
export function startLts(options: LtsOptions): Lts {
  const holder: PolicyHolder = { policy: options.policy, version: 1 };
  const stats: SwitchStats = {
    calls: 0,
    switched: 0,
    rejected: 0,
    failed: 0,
    failovers: 0,
    active: 0,
    pending: 0,
    framesBeforeSwitch: 0,
    eventsLost: 0,
  };
  const started: { ref?: ActorRef<SwitchMsg> } = {};
  const config = options.policy.config;
  const node = new L2tpNode({
    system: options.system,
    socket: options.socket,
    settings: { hostname: config.hostname },
    maxTunnels: config.limits.maxTunnels,
    sccrqPerSecond: config.limits.sccrqPerSecond,
    randomBytes: options.randomBytes,
    seed: options.seed,
    hooks: switchHooks(() => started.ref, stats),
    // Who may open tunnels here: the first `lacs` entry that matches (policy in force now).
    admit: ({ from, hostName }) => {
      const admission = holder.policy.admitLac({ hostname: hostName, address: from.hostname });
      if (admission === null) {
        return {
          accept: false,
          resultCode: StopCcnResult.NotAuthorized,
          message: "LAC not allowed by policy",
        };
      }
      return {
        accept: true,
        settings: {
          secret: admission.secret === undefined
            ? undefined
            : new TextEncoder().encode(admission.secret),
          hideAvps: admission.hideAvps,
          ...(admission.helloInterval === undefined
            ? {}
            : { helloIntervalMs: admission.helloInterval * 1000 }),
          ...(admission.maxSessions === undefined ? {} : { maxSessions: admission.maxSessions }),
        },
      };
    },
  });
  const switchRef = options.system.spawn(
    switchActor({
      node: () => node,
      policy: holder,
      stats,
      memberHoldDownMs: options.memberHoldDownMs,
      idleTunnelMs: options.idleTunnelMs,
    }),
    { capacity: 65536 },
  );
  started.ref = switchRef;
  return { node, switch: switchRef, stats, policy: holder };
}
