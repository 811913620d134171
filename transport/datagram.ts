/**
 * The datagram layer the protocol actors send and receive UDP through. It is
 * injected: tests bind sockets on an in-memory network
 * (`transport/memory_network.ts`), production on real sockets
 * (`transport/udp.ts`), and a batched recvmmsg/sendmmsg backend can take their
 * place without touching the actors.
 *
 * Buffer lifetime, the one rule every user must keep: the `payload` a receive
 * handler is given is valid only for the duration of the call. Backends reuse
 * receive buffers, so a handler that keeps bytes past its return must copy
 * them (`payload.slice()`). The reverse holds for `send`: the backend is done
 * with the caller's bytes when `send` returns, so the caller may reuse its
 * buffer at once.
 *
 * Endpoints are IP literals, never DNS names: resolving names is a policy
 * concern, done once, before anything is bound or sent.
 *
 * @example
 * ```ts
 * import { endpointKey, parseEndpoint } from "./datagram.ts";
 * const r = parseEndpoint("[::1]:1701");
 * if (!r.ok || r.value.hostname !== "::1" || endpointKey(r.value) !== "[::1]:1701") {
 *   throw new Error("bad endpoint");
 * }
 * ```
 *
 * @module
 */

import type { Result } from "./result.ts";

/** A UDP address: an IPv4 or IPv6 literal and a port. */
export interface Endpoint {
  /** Dotted-quad IPv4 or IPv6 text without brackets, e.g. `"127.0.0.1"` or `"::1"`. */
  readonly hostname: string;
  /** 0–65535; 0 asks {@link DatagramNetwork.bind} for an ephemeral port. */
  readonly port: number;
}

/**
 * What {@link DatagramSocket.send} did with a datagram:
 * `"ok"` — accepted for transmission (UDP may still lose it);
 * `"dropped"` — refused (a send limit was reached or the destination is invalid), counted in
 * {@link DatagramStats.sendErrors};
 * `"closed"` — the socket is closed.
 */
export type DatagramSendResult = "ok" | "dropped" | "closed";

/**
 * Receives one datagram. `payload` is valid only during the call; copy what you keep.
 * `from` is immutable and may be kept. A handler must not throw: a backend
 * counts a throw as a receive error.
 */
export type DatagramHandler = (payload: Uint8Array, from: Endpoint) => void;

/** Counters every socket keeps. */
export interface DatagramStats {
  /** Datagrams accepted by `send` (it returned `"ok"`). */
  readonly sent: number;
  /** Sends refused (`"dropped"`) plus accepted sends that later failed. */
  readonly sendErrors: number;
  /** Datagrams handed to the receive handler. */
  readonly received: number;
  /** Datagrams that reached the socket but were discarded (receive queue full, socket closing). */
  readonly receiveDropped: number;
  /** Failed receives and handler throws. */
  readonly receiveErrors: number;
}

/** A bound UDP socket. */
export interface DatagramSocket {
  /** The bound address, with the actual port when port 0 was asked for. */
  readonly local: Endpoint;
  /** Queues one datagram; never throws and never blocks. The caller may reuse `payload` on return. */
  send(payload: Uint8Array, to: Endpoint): DatagramSendResult;
  /**
   * Sets the one receive handler, replacing any earlier one. Datagrams that
   * arrive before a handler is set wait in the backend's bounded receive queue.
   */
  onReceive(handler: DatagramHandler): void;
  /**
   * Stops receiving at once and frees the port (a backend may first finish
   * sends already accepted); idempotent. The handler is not called after `close`.
   */
  close(): void;
  /** Counters; a live view, read it when needed. */
  readonly stats: DatagramStats;
}

/** A place to bind sockets: the in-memory network in tests, the host's UDP stack in production. */
export interface DatagramNetwork {
  /** Binds `local`; port 0 picks a free ephemeral port. Never throws: failures are errors. */
  bind(local: Endpoint): Result<DatagramSocket, string>;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const PORT = /^\d{1,5}$/;

/**
 * The canonical text of an IP literal (`"::0001"` → `"::1"`), or `undefined` if
 * `hostname` is not an IPv4 or IPv6 literal. IPv6 zone ids are not supported.
 */
function canonicalHost(hostname: string): string | undefined {
  if (IPV4.test(hostname)) return hostname;
  if (!hostname.includes(":") || /[\[\]\/%@]/.test(hostname)) return undefined;
  try {
    // The WHATWG URL parser validates and compresses IPv6 text per RFC 5952.
    return new URL(`http://[${hostname}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/**
 * The text form of an endpoint, usable as a map key: `"127.0.0.1:1701"` or
 * `"[::1]:1701"`. Two canonical endpoints are equal exactly when their keys are.
 *
 * @example
 * ```ts
 * import { endpointKey } from "./datagram.ts";
 * if (endpointKey({ hostname: "10.0.0.1", port: 1701 }) !== "10.0.0.1:1701") throw new Error();
 * ```
 */
export function endpointKey(endpoint: Endpoint): string {
  return endpoint.hostname.includes(":")
    ? `[${endpoint.hostname}]:${endpoint.port}`
    : `${endpoint.hostname}:${endpoint.port}`;
}

/**
 * Parses `"a.b.c.d:port"` or `"[ipv6]:port"` into a canonical, frozen {@link Endpoint}.
 *
 * @example
 * ```ts
 * import { parseEndpoint } from "./datagram.ts";
 * const r = parseEndpoint("192.0.2.1:1701");
 * if (!r.ok || r.value.port !== 1701) throw new Error();
 * if (parseEndpoint("lns.example:1701").ok) throw new Error("names are not endpoints");
 * ```
 */
export function parseEndpoint(text: string): Result<Endpoint, string> {
  let host: string, port: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]:");
    if (close < 0) return { ok: false, error: `expected "[ipv6]:port", got "${text}"` };
    host = text.slice(1, close);
    port = text.slice(close + 2);
    if (!host.includes(":")) return { ok: false, error: `"${host}" is not an IPv6 address` };
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0 || text.indexOf(":") !== colon) {
      return { ok: false, error: `expected "ipv4:port" or "[ipv6]:port", got "${text}"` };
    }
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
    if (!IPV4.test(host)) return { ok: false, error: `"${host}" is not an IPv4 address` };
  }
  if (!PORT.test(port)) return { ok: false, error: `"${port}" is not a port number` };
  return normalizeEndpoint({ hostname: host, port: Number(port) });
}

/**
 * Checks an endpoint and returns it in canonical, frozen form, so that
 * {@link endpointKey} of equal addresses is equal.
 *
 * @example
 * ```ts
 * import { normalizeEndpoint } from "./datagram.ts";
 * const r = normalizeEndpoint({ hostname: "0:0::1", port: 9 });
 * if (!r.ok || r.value.hostname !== "::1") throw new Error();
 * ```
 */
export function normalizeEndpoint(endpoint: Endpoint): Result<Endpoint, string> {
  const { hostname, port } = endpoint;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return { ok: false, error: `port ${port} is not in 0..65535` };
  }
  const host = canonicalHost(hostname);
  if (host === undefined) {
    return { ok: false, error: `"${hostname}" is not an IPv4 or IPv6 address` };
  }
  return { ok: true, value: Object.freeze({ hostname: host, port }) };
}
