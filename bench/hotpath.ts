/**
 * Deterministic cost of the forwarding hot path (`L2tpNode`'s receive loop →
 * `decodeHeader` → `ForwardingTable.get` → `forwardData` → `socket.send`),
 * counted, not timed, so that a regression fails CI whatever else the
 * machine is doing. `tests/hotpath_budget_test.ts` checks these counts
 * against `bench/hotpath_budget.json`; `bench/all.ts` prints them.
 *
 *   tools/deno run -A --v8-flags=--expose-gc,--no-opt,--no-maglev,--no-sparkplug bench/hotpath.ts
 *
 * Per switched frame it counts:
 * - `sends`: `socket.send` calls (one: no actor hop, no second datagram);
 * - `copies`: sends whose bytes are not the received datagram's own buffer
 *   (zero: the header is rewritten in place, DESIGN.md data plane);
 * - `lookups`: `ForwardingTable.get` calls;
 * - `entryAccesses`: property reads and writes on the two forwarding entries
 *   (a `Proxy` counts them), the per-frame bookkeeping;
 * - `heapBytes`: bytes of JS heap allocated, measured with V8's optimizing
 *   tiers switched off (the flags above): the interpreter allocates every
 *   object the code asks for, so the figure is exact and repeatable, and it
 *   is what the code would cost if escape analysis did not remove it (with
 *   the optimizer on it is usually 0, but not deterministically so).
 *
 * Why counts and not instructions: `valgrind --tool=callgrind` on Deno takes
 * ~15 s for an empty `deno eval` on this machine (V8's start-up under
 * emulation), so two runs (with and without frames) miss the 30 s budget,
 * and the JIT's background compile threads make instruction totals vary.
 *
 * @module
 */

import { ManualClock } from "../actors/clock.ts";
import type { DataEntry } from "../actors/data_plane.ts";
import { L2tpNode } from "../actors/l2tp_node.ts";
import { ActorSystem } from "../actors/system.ts";
import type {
  DatagramHandler,
  DatagramSendResult,
  DatagramSocket,
  Endpoint,
} from "../transport/datagram.ts";

/** Per-frame counts of the forwarding hot path. */
export interface HotPathCounts {
  frames: number;
  sends: number;
  copies: number;
  lookups: number;
  entryAccesses: number;
  /** Bytes of JS heap allocated per frame; `null` without `--expose-gc`. */
  heapBytes: number | null;
}

/** A socket that records what is sent and lets the caller deliver datagrams. */
class CountingSocket implements DatagramSocket {
  readonly local: Endpoint = { hostname: "127.0.0.1", port: 1701 };
  readonly stats = { sent: 0, sendErrors: 0, received: 0, receiveDropped: 0, receiveErrors: 0 };
  handler: DatagramHandler = () => {};
  /** The buffer that every send must come from (zero copy). */
  expected: ArrayBufferLike | undefined;
  sends = 0;
  copies = 0;
  send(payload: Uint8Array, _to: Endpoint): DatagramSendResult {
    this.sends++;
    if (payload.buffer !== this.expected) this.copies++;
    return "ok";
  }
  onReceive(handler: DatagramHandler): void {
    this.handler = handler;
  }
  close(): void {}
}

/**
 * Switches `frames` data messages (`size` octets of UDP payload, 6-byte
 * header, round-robin over `sessions` switched sessions) through one
 * `L2tpNode` and returns the counts per frame.
 */
export function countHotPath(
  frames: number,
  options: { sessions?: number; size?: number } = {},
): HotPathCounts {
  const counted = forward(frames, { ...options, instrument: true });
  // The heap is measured on a second, uninstrumented node: the Proxy traps allocate too.
  const plain = forward(frames, { ...options, instrument: false });
  return { ...counted, heapBytes: plain.heapBytes };
}

function forward(
  frames: number,
  options: { sessions?: number; size?: number; instrument: boolean },
): HotPathCounts {
  const sessions = options.sessions ?? 16;
  const size = options.size ?? 64;
  const socket = new CountingSocket();
  const system = new ActorSystem({ clock: new ManualClock() });
  const node = new L2tpNode({
    system,
    socket,
    settings: { hostname: "hotpath", helloIntervalMs: 0 },
  });
  let lookups = 0;
  const table = node.forwarding;
  if (options.instrument) {
    const get = table.get.bind(table);
    // Counting wrapper on this instance only: the node takes no injected table.
    table.get = (tunnelId: number, sessionId: number) => {
      lookups++;
      return get(tunnelId, sessionId);
    };
  }
  let entryAccesses = 0;
  const counted = (entry: DataEntry): DataEntry =>
    options.instrument
      ? new Proxy(entry, {
        get(target, key, receiver) {
          entryAccesses++;
          return Reflect.get(target, key, receiver);
        },
        set(target, key, value, receiver) {
          entryAccesses++;
          return Reflect.set(target, key, value, receiver);
        },
      })
      : entry;
  const lac: Endpoint = { hostname: "127.0.0.2", port: 1701 };
  const lns: Endpoint = { hostname: "127.0.0.3", port: 1701 };
  const entry = (peer: Endpoint, peerTunnelId: number, peerSessionId: number): DataEntry => ({
    peer,
    peerTunnelId,
    peerSessionId,
    sequencing: false,
    ns: 0,
    receive: () => {},
    rxFrames: 0,
    txFrames: 0,
    rxBytes: 0,
    txBytes: 0,
  });
  const packets: Uint8Array[] = [];
  for (let s = 1; s <= sessions; s++) {
    const toLns = counted(entry(lns, 200, s));
    const fromLac = counted({ ...entry(lac, 100, s), forward: toLns });
    table.set(10, s, fromLac);
    table.set(20, s, counted({ ...entry(lac, 100, s), forward: fromLac }));
    // A data message (T=0, L=0, Ver 2), Tunnel ID 10, Session ID s, then PPP.
    const p = new Uint8Array(size);
    p.set([0x00, 0x02, 0, 10, s >> 8, s & 0xff, 0xff, 0x03, 0x00, 0x21]);
    packets.push(p);
  }
  const deliver = (n: number) => {
    for (let i = 0; i < n; i++) {
      const p = packets[i % sessions];
      // The receive path rewrites the IDs in place: restore the LAC-side ones.
      p[2] = 0, p[3] = 10, p[4] = (i % sessions + 1) >> 8, p[5] = (i % sessions + 1) & 0xff;
      socket.expected = p.buffer;
      socket.handler(p, lac);
    }
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  // Warm up: inline caches and feedback vectors are allocated on first calls.
  deliver(2 * sessions);
  socket.sends =
    socket.copies =
    lookups =
    entryAccesses =
      0;
  let heapBytes: number | null = null;
  if (gc !== undefined && !options.instrument) {
    gc();
    gc();
    const before = Deno.memoryUsage().heapUsed;
    deliver(frames);
    heapBytes = (Deno.memoryUsage().heapUsed - before) / frames;
  } else {
    deliver(frames);
  }
  const forwarded = node.counters.forwardedFrames - 2 * sessions;
  node.shutdown();
  system.shutdown();
  if (forwarded !== frames) throw new Error(`forwarded ${forwarded} of ${frames} frames`);
  return {
    frames,
    sends: socket.sends / frames,
    copies: socket.copies / frames,
    lookups: lookups / frames,
    entryAccesses: entryAccesses / frames,
    heapBytes,
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(countHotPath(Number(Deno.args[0] ?? 1000))));
}
