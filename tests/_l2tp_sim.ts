/**
 * A deterministic L2TP test bed: nodes on a seeded in-memory network, driven
 * by a manual clock and a seeded scheduler, with a recorder of what the
 * applications saw.
 *
 * @module
 */

import { L2tpNode, type L2tpNodeOptions } from "../actors/l2tp_node.ts";
import type { CloseReason, SessionHandle, TunnelInfo } from "../actors/l2tp_types.ts";
import { Prng } from "../actors/prng.ts";
import { testSystem } from "../actors/testing.ts";
import type { DatagramSocket, Endpoint } from "../transport/datagram.ts";
import { type LinkImpairments, MemoryNetwork } from "../transport/memory_network.ts";
import { type ControlMessage, decodeControl } from "../transport/message.ts";

/** What one node's application saw. */
export class Recorder {
  tunnelsUp: TunnelInfo[] = [];
  tunnelsClosed: { tunnel: TunnelInfo; reason: CloseReason }[] = [];
  sessionsUp: SessionHandle[] = [];
  sessionsClosed: { session: SessionHandle; reason: CloseReason }[] = [];
  frames: { session: SessionHandle; frame: Uint8Array }[] = [];
  /** Every datagram the node received, copied, in order. */
  wire: Uint8Array[] = [];
  hooks = {
    tunnelEstablished: (t: TunnelInfo) => void this.tunnelsUp.push(t),
    tunnelClosed: (tunnel: TunnelInfo, reason: CloseReason) =>
      void this.tunnelsClosed.push({ tunnel, reason }),
    sessionEstablished: (s: SessionHandle) => void this.sessionsUp.push(s),
    sessionClosed: (session: SessionHandle, reason: CloseReason) =>
      void this.sessionsClosed.push({ session, reason }),
    frame: (session: SessionHandle, frame: Uint8Array) =>
      void this.frames.push({ session, frame: frame.slice() }),
  };
}

/** A test bed; `node()` adds a node at an address. */
export function simulation(seed: number) {
  const { system, clock, scheduler } = testSystem({ seed });
  const network = new MemoryNetwork({ clock, seed });
  const prng = new Prng(seed ^ 0x1234567);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => prng.nextInt(256));
  let nodes = 0;
  return {
    system,
    clock,
    scheduler,
    network,
    node(
      address: Endpoint,
      options: Partial<Omit<L2tpNodeOptions, "system" | "socket">> & {
        settings: L2tpNodeOptions["settings"];
      },
    ): { node: L2tpNode; recorder: Recorder; address: Endpoint } {
      const bound = network.bind(address);
      if (!bound.ok) throw new Error(bound.error);
      const recorder = new Recorder();
      const socket = bound.value;
      // A tap: the node's receive handler, behind one that keeps a copy of each datagram.
      const tapped: DatagramSocket = {
        get local() {
          return socket.local;
        },
        send: (payload, to) => socket.send(payload, to),
        onReceive: (handler) =>
          socket.onReceive((payload, from) => {
            recorder.wire.push(payload.slice());
            handler(payload, from);
          }),
        close: () => socket.close(),
        get stats() {
          return socket.stats;
        },
      };
      const node = new L2tpNode({
        system,
        socket: tapped,
        randomBytes,
        seed: seed + ++nodes,
        ...options,
        hooks: { ...recorder.hooks, ...options.hooks },
      });
      return { node, recorder, address };
    },
    impair(link: Partial<LinkImpairments>) {
      network.setLink("*", "*", link);
    },
    /**
     * Runs the simulation, a millisecond at a time, while `p` (an answer
     * from the switch's runtime, which needs the actors to run) settles;
     * throws when it has not after 1,000 steps.
     */
    async settle<T>(p: Promise<T>): Promise<T> {
      let done = false;
      let value: T;
      p.then((v) => {
        done = true;
        value = v;
      });
      for (let i = 0; i < 1000 && !done; i++) {
        scheduler.advance(1);
        await Promise.resolve();
      }
      if (!done) throw new Error("the runtime did not answer");
      return value!;
    },
    /** Advances simulated time in steps until `done()` or `limitMs` has passed; returns whether done. */
    runUntil(done: () => boolean, limitMs: number, stepMs = 50): boolean {
      const until = clock.now() + limitMs;
      while (!done()) {
        if (clock.now() >= until) return false;
        scheduler.advance(stepMs);
      }
      return true;
    },
  };
}

/** Control messages among `wire`, decoded (with `secret`), in order; ZLBs included. */
export function controlMessages(wire: Uint8Array[], secret?: Uint8Array): ControlMessage[] {
  const out: ControlMessage[] = [];
  for (const packet of wire) {
    if ((packet[0] & 0x80) === 0) continue;
    const m = decodeControl(packet, { secret });
    if (m.ok) out.push(m.value);
  }
  return out;
}
