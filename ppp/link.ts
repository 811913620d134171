/**
 * A PPP link: the pure {@link stepEngine} of `engine.ts` wired to a host that
 * sends frames, keeps timers and hears the outcome. The same driver runs the
 * LNS side of a locally terminated call in the switch actor, `lts lns`, and
 * the client of `lts lac --client-initiated`; each host gives its own timers
 * (actor timers, or `setTimeout`) through {@link LinkHost.arm}.
 *
 * IPv4 datagrams (RFC 1332 §2, protocol 0x0021) on an Open link do not go
 * through the engine: they are counted and handed to {@link LinkHost.ip},
 * the data plane of a terminated session (a TUN device, or nothing).
 *
 * @example
 * ```ts
 * import { type LinkEvent, PppLink } from "./link.ts";
 * import { IpPool } from "./ip_pool.ts";
 * import { LocalUsers } from "./users.ts";
 *
 * const wire: [PppLink, Uint8Array][] = [];
 * const events: LinkEvent[] = [];
 * const host = (to: () => PppLink, seen?: LinkEvent[]) => ({
 *   send: (frame: Uint8Array) => void wire.push([to(), frame]),
 *   now: () => 0,
 *   arm: () => () => {},
 *   event: (e: LinkEvent) => void seen?.push(e),
 * });
 * const server: PppLink = new PppLink({
 *   role: "server",
 *   auth: "chap",
 *   users: new LocalUsers([{ name: "alice", password: "pw" }]),
 *   localAddress: "192.0.2.1",
 *   pool: new IpPool({ first: 0x0a000001, last: 0x0a000001 }),
 * }, host(() => client));
 * const client: PppLink = new PppLink(
 *   { role: "client", name: "alice", password: "pw" },
 *   host(() => server, events),
 * );
 * server.start();
 * client.start();
 * while (wire.length > 0) {
 *   const [to, frame] = wire.shift()!;
 *   to.receive(frame);
 * }
 * if (!events.some((e) => e.type === "opened" && e.address === "10.0.0.1")) throw new Error();
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
  type Phase,
  stepEngine,
} from "./engine.ts";
import { decodeFrame, encodeFrame, PPP_IP } from "./frame.ts";

/** What a link tells its host: the outcome effects of the engine. */
export type LinkEvent = Extract<
  EngineEffect,
  { type: "authenticated" | "opened" | "failed" | "closed" | "phase" }
>;

/** What a link needs from where it runs. */
export interface LinkHost {
  /** Sends one PPP frame to the peer (on the L2TP session). */
  send(frame: Uint8Array): void;
  /** The time in ms on any epoch (the injected clock). */
  now(): number;
  /**
   * Arms a timer that calls `fire` after `ms`; returns a function that cancels
   * it. The link cancels a timer before arming it again.
   */
  arm(name: EngineTimer, ms: number, fire: () => void): () => void;
  /** An outcome: authenticated, opened, failed, closed, a phase change. */
  event(event: LinkEvent): void;
  /** An IPv4 datagram received on the Open link; valid only during the call. */
  ip?(packet: Uint8Array): void;
}

/** What a link counts. */
export interface LinkCounters {
  /** IPv4 datagrams received and sent on the Open link, with their bytes. */
  ipPacketsIn: number;
  ipBytesIn: number;
  ipPacketsOut: number;
  ipBytesOut: number;
  /** IPv4 datagrams received before IPCP was Opened (RFC 1661 §3.5: discarded). */
  ipDropped: number;
}

/** One PPP link driven by a {@link LinkHost}. */
export class PppLink {
  #state: EngineState;
  #host: LinkHost;
  #cancels = new Map<EngineTimer, () => void>();
  /** Bumped on every arm, so a timer that fires after it was replaced is ignored. */
  #generation = new Map<EngineTimer, number>();
  #opened = false;
  #abandoned = false;
  #address: string | undefined;
  readonly counters: LinkCounters = {
    ipPacketsIn: 0,
    ipBytesIn: 0,
    ipPacketsOut: 0,
    ipBytesOut: 0,
    ipDropped: 0,
  };

  /** @throws {RangeError} as {@link createEngine} does for a config it cannot run. */
  constructor(config: EngineConfig, host: LinkHost) {
    this.#state = createEngine(config);
    this.#host = host;
  }

  /** The engine's state (phase, user, LCP and IPCP models). */
  get state(): EngineState {
    return this.#state;
  }

  /** The link phase (RFC 1661 §3.2). */
  get phase(): Phase {
    return this.#state.phase;
  }

  /** IPCP is Opened: IPv4 datagrams flow. */
  get opened(): boolean {
    return this.#opened && !this.#state.finished;
  }

  /** The address of the `opened` event: the client's, as assigned or as received. */
  get address(): string | undefined {
    return this.#address;
  }

  /** The link is Dead and takes no more input. */
  get finished(): boolean {
    return this.#state.finished;
  }

  /** The L2TP session is up: LCP starts (or, proxied, IPCP). */
  start(): void {
    this.#step({ type: "start", now: this.#host.now() });
  }

  /** A PPP frame from the peer; the link copies what it keeps. */
  receive(frame: Uint8Array): void {
    if (this.#state.finished) return;
    // The data path: IPv4 on an Open link skips the engine (a value copy per step).
    const decoded = decodeFrame(frame);
    if (decoded.ok && decoded.value.protocol === PPP_IP) {
      if (!this.opened) {
        this.counters.ipDropped++;
        return;
      }
      this.counters.ipPacketsIn++;
      this.counters.ipBytesIn += decoded.value.payload.length;
      this.#host.ip?.(decoded.value.payload);
      return;
    }
    this.#step({ type: "frame", frame, now: this.#host.now() });
  }

  /** Sends an IPv4 datagram on the Open link; false when it is not Open. */
  sendIp(packet: Uint8Array): boolean {
    if (!this.opened) return false;
    this.counters.ipPacketsOut++;
    this.counters.ipBytesOut += packet.length;
    this.#host.send(encodeFrame(PPP_IP, packet, this.#state.compression));
    return true;
  }

  /** Ends the link: LCP Terminate-Request, then `closed` (or at once before start). */
  close(): void {
    this.#step({ type: "close", now: this.#host.now() });
  }

  /**
   * The session under the link is gone: gives the address back and stops
   * every timer, with no word to the peer and no more events.
   */
  abandon(): void {
    if (this.#abandoned) return;
    this.#abandoned = true;
    if (!this.#state.finished) {
      // `close` releases the pool address; what it would send and say is dropped.
      const { state } = stepEngine(this.#state, { type: "close", now: this.#host.now() });
      this.#state = { ...state, finished: true, phase: "dead" };
    }
    for (const cancel of this.#cancels.values()) cancel();
    this.#cancels.clear();
  }

  /** {@link abandon} was called. */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  #step(input: EngineInput): void {
    if (this.#state.finished) return;
    const { state, effects } = stepEngine(this.#state, input);
    this.#state = state;
    for (const e of effects) {
      switch (e.type) {
        case "send":
          this.#host.send(e.frame);
          break;
        case "arm_timer":
          this.#arm(e.timer, e.ms);
          break;
        case "cancel_timer":
          this.#cancel(e.timer);
          break;
        case "opened":
          this.#opened = true;
          this.#address = e.address;
          this.#host.event(e);
          break;
        case "closed":
          for (const cancel of this.#cancels.values()) cancel();
          this.#cancels.clear();
          this.#host.event(e);
          break;
        default:
          this.#host.event(e);
      }
    }
  }

  #arm(name: EngineTimer, ms: number): void {
    this.#cancel(name);
    const generation = (this.#generation.get(name) ?? 0) + 1;
    this.#generation.set(name, generation);
    this.#cancels.set(
      name,
      this.#host.arm(name, ms, () => {
        if (this.#generation.get(name) !== generation) return;
        this.#cancels.delete(name);
        this.#step({ type: "timeout", timer: name, now: this.#host.now() });
      }),
    );
  }

  #cancel(name: EngineTimer): void {
    const cancel = this.#cancels.get(name);
    if (cancel === undefined) return;
    this.#cancels.delete(name);
    this.#generation.set(name, (this.#generation.get(name) ?? 0) + 1);
    cancel();
  }
}

/**
 * Timers on the wall clock (`setTimeout`), for links outside an actor
 * (`lts lac`, `lts lns`).
 *
 * @example
 * ```ts
 * import { wallClockArm } from "./link.ts";
 * const cancel = wallClockArm("lcp", 10_000, () => {
 *   throw new Error("cancelled timers do not fire");
 * });
 * cancel();
 * ```
 */
export function wallClockArm(_name: EngineTimer, ms: number, fire: () => void): () => void {
  const handle = setTimeout(fire, ms);
  return () => clearTimeout(handle);
}
