/**
 * The production {@link DatagramNetwork}: real UDP sockets from
 * `Deno.listenDatagram` (needs `--unstable-net`, which `deno.json` enables, and
 * `--allow-net`).
 *
 * Each socket runs one receive loop into one reused 64 KiB buffer, so the
 * buffer-lifetime rule of `datagram.ts` is real here: a handler that keeps a
 * payload must copy it. The loop never throws out: failed receives and handler
 * throws are counted and passed to `onError`.
 *
 * `send` queues the datagram in a bounded per-socket outbox and returns at
 * once; a send loop puts the outbox on the wire one datagram at a time, in
 * order, counting failures (never an unhandled rejection). Deno's send reads
 * the bytes after `send` returns, so they are copied into the outbox, which
 * keeps the caller free to reuse its buffer (a batched sendmmsg backend can
 * send synchronously and skip the copy).
 *
 * @example
 * ```ts
 * import { DenoUdpNetwork } from "./udp.ts";
 *
 * const net = new DenoUdpNetwork();
 * const a = net.bind({ hostname: "127.0.0.1", port: 0 });
 * const b = net.bind({ hostname: "127.0.0.1", port: 0 });
 * if (!a.ok || !b.ok) throw new Error(a.ok ? (b.ok ? "" : b.error) : a.error);
 * const got = Promise.withResolvers<number>();
 * b.value.onReceive((payload) => got.resolve(payload[0]));
 * a.value.send(new Uint8Array([42]), b.value.local);
 * if ((await got.promise) !== 42) throw new Error("wrong byte");
 * a.value.close();
 * b.value.close();
 * await Promise.all([a.value.closed, b.value.closed]);
 * ```
 *
 * @module
 */

import {
  type DatagramHandler,
  type DatagramNetwork,
  type DatagramSendResult,
  type DatagramSocket,
  type DatagramStats,
  type Endpoint,
  endpointKey,
  normalizeEndpoint,
} from "./datagram.ts";
import type { Result } from "./result.ts";

/** Options of {@link DenoUdpNetwork}. */
export interface DenoUdpNetworkOptions {
  /**
   * Bound of each socket's outbox of accepted, not yet completed sends; past
   * it `send` returns `"dropped"`. Default 1024.
   */
  maxPendingSends?: number;
  /** Told of every failed send, failed receive and handler throw, after it is counted. */
  onError?: (error: unknown, socket: Endpoint) => void;
}

/** A socket bound by {@link DenoUdpNetwork}. */
export interface UdpSocket extends DatagramSocket {
  /** Resolves once the socket is closed, every accepted send has settled and its loops have exited. */
  readonly closed: Promise<void>;
  /** Sends accepted and not yet settled. */
  readonly pendingSends: number;
}

/**
 * Failed receives in a row after which the loop gives up and closes the
 * socket: a socket that cannot receive is broken, and retrying would spin.
 */
export const MAX_CONSECUTIVE_RECEIVE_ERRORS = 100;

/** Largest UDP payload plus one, so no datagram is silently truncated. */
const RECEIVE_BUFFER_BYTES = 65536;

/**
 * Binds sockets on the host's UDP stack, IPv4 and IPv6.
 *
 * @example
 * ```ts
 * import { DenoUdpNetwork } from "./udp.ts";
 * const r = new DenoUdpNetwork().bind({ hostname: "192.0.2.1", port: 1701 });
 * if (r.ok) throw new Error("192.0.2.1 should not be a local address");
 * ```
 */
export class DenoUdpNetwork implements DatagramNetwork {
  readonly #maxPendingSends: number;
  readonly #onError: (error: unknown, socket: Endpoint) => void;

  constructor(options: DenoUdpNetworkOptions = {}) {
    const max = options.maxPendingSends ?? 1024;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`maxPendingSends must be an integer >= 1, got ${max}`);
    }
    this.#maxPendingSends = max;
    this.#onError = options.onError ?? (() => {});
  }

  /** Binds `local` (port 0 for an ephemeral port); bind failures, permissions included, are errors. */
  bind(local: Endpoint): Result<UdpSocket, string> {
    const checked = normalizeEndpoint(local);
    if (!checked.ok) return checked;
    let conn: Deno.DatagramConn;
    try {
      conn = Deno.listenDatagram({ transport: "udp", ...checked.value });
    } catch (error) {
      return { ok: false, error: `bind ${endpointKey(checked.value)}: ${message(error)}` };
    }
    const addr = conn.addr as Deno.NetAddr;
    const bound = normalizeEndpoint({ hostname: addr.hostname, port: addr.port });
    if (!bound.ok) {
      conn.close();
      return { ok: false, error: `bind ${endpointKey(checked.value)}: ${bound.error}` };
    }
    return {
      ok: true,
      value: new DenoUdpSocket(conn, bound.value, this.#maxPendingSends, this.#onError),
    };
  }
}

interface Outgoing {
  payload: Uint8Array;
  to: Deno.NetAddr;
}

class DenoUdpSocket implements UdpSocket {
  readonly local: Endpoint;
  readonly closed: Promise<void>;
  readonly #conn: Deno.DatagramConn;
  readonly #maxPendingSends: number;
  readonly #onError: (error: unknown, socket: Endpoint) => void;
  readonly #stats = { sent: 0, sendErrors: 0, received: 0, receiveDropped: 0, receiveErrors: 0 };
  readonly #settled: () => void;
  #handler: DatagramHandler | undefined;
  #receiving = false;
  /** Accepted sends, oldest first; the head is on the wire while `#sending`. */
  #outbox: Outgoing[] = [];
  #outboxHead = 0;
  #sending = false;
  #isClosed = false;
  #connClosed = false;
  #lastFrom: Endpoint | undefined;
  readonly #addresses = new WeakMap<Endpoint, Deno.NetAddr>();

  constructor(
    conn: Deno.DatagramConn,
    local: Endpoint,
    maxPendingSends: number,
    onError: (error: unknown, socket: Endpoint) => void,
  ) {
    this.#conn = conn;
    this.local = local;
    this.#maxPendingSends = maxPendingSends;
    this.#onError = onError;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.#settled = resolve;
  }

  get stats(): DatagramStats {
    return this.#stats;
  }

  get pendingSends(): number {
    return this.#outbox.length - this.#outboxHead;
  }

  send(payload: Uint8Array, to: Endpoint): DatagramSendResult {
    if (this.#isClosed) return "closed";
    const addr = this.#addressOf(to);
    if (addr === undefined || this.pendingSends >= this.#maxPendingSends) {
      this.#stats.sendErrors++;
      return "dropped";
    }
    this.#outbox.push({ payload: payload.slice(), to: addr });
    this.#stats.sent++;
    if (!this.#sending) {
      this.#sending = true;
      this.#sendLoop().catch((error) => this.#report(error));
    }
    return "ok";
  }

  onReceive(handler: DatagramHandler): void {
    if (this.#isClosed) return;
    this.#handler = handler;
    // The loop starts with the first handler, so datagrams arriving before it
    // wait in the kernel's socket buffer, as on the in-memory network.
    if (!this.#receiving) {
      this.#receiving = true;
      this.#receiveLoop().catch((error) => this.#report(error));
    }
  }

  /**
   * Stops receiving at once; sends already accepted still go out, in order,
   * and the port is freed after them (a StopCCN sent just before close must
   * not be lost, as it would not be with a blocking sendto).
   */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#handler = undefined;
    if (!this.#sending) this.#closeConn();
    this.#settleIfIdle();
  }

  /**
   * One send on the wire at a time: Deno completes concurrent send ops in no
   * fixed order, and the data plane must not reorder a session's frames.
   */
  async #sendLoop(): Promise<void> {
    try {
      while (this.#outboxHead < this.#outbox.length) {
        const { payload, to } = this.#outbox[this.#outboxHead];
        try {
          await this.#conn.send(payload, to);
        } catch (error) {
          this.#stats.sendErrors++;
          this.#report(error);
        }
        this.#outboxHead++;
        // Drop sent entries now and then, so a never-empty outbox does not grow.
        if (this.#outboxHead >= 32 && 2 * this.#outboxHead >= this.#outbox.length) {
          this.#outbox = this.#outbox.slice(this.#outboxHead);
          this.#outboxHead = 0;
        }
      }
    } finally {
      this.#outbox = [];
      this.#outboxHead = 0;
      this.#sending = false;
      if (this.#isClosed) this.#closeConn();
      this.#settleIfIdle();
    }
  }

  async #receiveLoop(): Promise<void> {
    const buffer = new Uint8Array(RECEIVE_BUFFER_BYTES);
    let errorsInARow = 0;
    try {
      while (!this.#isClosed) {
        let datagram: [Uint8Array, Deno.Addr];
        try {
          datagram = await this.#conn.receive(buffer);
        } catch (error) {
          if (this.#isClosed) return;
          this.#stats.receiveErrors++;
          this.#report(error);
          if (++errorsInARow >= MAX_CONSECUTIVE_RECEIVE_ERRORS) {
            this.close();
            return;
          }
          continue;
        }
        errorsInARow = 0;
        const handler = this.#handler;
        if (handler === undefined) {
          // Closed while this datagram was being received.
          this.#stats.receiveDropped++;
          continue;
        }
        const [payload, addr] = datagram;
        this.#stats.received++;
        try {
          handler(payload, this.#endpointOf(addr as Deno.NetAddr));
        } catch (error) {
          this.#stats.receiveErrors++;
          this.#report(error);
        }
      }
    } finally {
      this.#receiving = false;
      this.#settleIfIdle();
    }
  }

  /**
   * The address to send to, or undefined for an endpoint that is no IP
   * literal or has port 0 (`datagram.ts`: a name must never reach a
   * resolver here). Cached per frozen endpoint, as the data plane's are.
   */
  #addressOf(to: Endpoint): Deno.NetAddr | undefined {
    const cached = this.#addresses.get(to);
    if (cached !== undefined) return cached;
    const checked = normalizeEndpoint(to);
    if (!checked.ok || checked.value.port === 0) return undefined;
    const addr: Deno.NetAddr = { transport: "udp", ...checked.value };
    if (Object.isFrozen(to)) this.#addresses.set(to, addr);
    return addr;
  }

  /** Reuses the last sender's frozen endpoint while the peer stays the same, as it mostly does. */
  #endpointOf(addr: Deno.NetAddr): Endpoint {
    const last = this.#lastFrom;
    if (last !== undefined && last.port === addr.port && last.hostname === addr.hostname) {
      return last;
    }
    return this.#lastFrom = Object.freeze({ hostname: addr.hostname, port: addr.port });
  }

  #closeConn(): void {
    if (this.#connClosed) return;
    this.#connClosed = true;
    try {
      // Rejects the pending receive, which ends the receive loop.
      this.#conn.close();
    } catch (error) {
      // Only a resource already gone can throw here; gone is what we wanted.
      this.#report(error);
    }
  }

  #settleIfIdle(): void {
    if (this.#connClosed && !this.#receiving && !this.#sending) this.#settled();
  }

  #report(error: unknown): void {
    try {
      this.#onError(error, this.local);
    } catch {
      // The error hook must not break the loop that called it.
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
