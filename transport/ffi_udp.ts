/**
 * A batched {@link DatagramNetwork} on the host's UDP stack: libc's
 * `recvmmsg(2)` and `sendmmsg(2)` through `Deno.dlopen` (needs `--allow-ffi`;
 * Linux on x86_64 or aarch64). It replaces `udp.ts` (`Deno.listenDatagram`,
 * one op and one promise per datagram) behind the same interface, so the
 * actors and the data plane do not know which one they run on.
 *
 * Receiving. A socket is non-blocking (`SOCK_NONBLOCK` at `socket(2)`, which
 * spares a variadic `fcntl(2)` call through FFI). Its loop calls `recvmmsg`
 * with `MSG_DONTWAIT` into 64 preallocated slots (one `mmsghdr`, `iovec`,
 * `sockaddr_in6` and 64 KiB buffer each, built once), hands each datagram to
 * the handler as a view of its slot, and repeats until the socket is empty or
 * 16 batches (1024 datagrams) have been handled in one turn. Then it waits
 * for readability with `poll(2)` declared `nonblocking`: Deno runs that call
 * on a blocking-pool thread and resolves a promise, so the event loop runs
 * timers, actors and other I/O meanwhile. Why this and not a Worker doing
 * blocking receives: a Worker would have to hand every datagram to this
 * thread (a copy or a shared ring plus a wake-up per batch), where the data
 * plane and the forwarding table live; the poll hop costs ~30 µs here, paid
 * once per turn, which under load is once per 1024 datagrams (~3%), and under
 * light load only adds that much latency. The wait is also the turn's yield:
 * a saturated socket still lets timers run every 1024 datagrams. Closing
 * writes an `eventfd(2)` that the poll also watches, so a pending poll ends at
 * once and the descriptor is closed only after it has.
 *
 * Control messages get a kernel queue of their own. Control and data share
 * the port (RFC 2661 §8.1: 1701); with one socket, a data plane near its limit
 * fills the receive queue and the kernel drops control messages with the
 * data, each drop costing the peer a §5.8 retransmission (1 s at first), and
 * the ones it keeps wait behind up to ~10,000 frames (64 B ones in 8 MiB). So
 * each bound address has two sockets in one SO_REUSEPORT group, and a classic
 * BPF program attached to the group queues each datagram with the T bit set
 * on the second. Each turn reads a batch of that socket before each data
 * batch, and ends early once it has handled control messages, so that the
 * actors (microtasks) get them at once. Where the kernel refuses SO_REUSEPORT
 * or the program, the socket works alone and `onError` is told once, at bind.
 *
 * Buffer lifetime (`datagram.ts`): a payload is a view of its slot, valid
 * during the handler call only; the slot is overwritten by the next batch.
 *
 * Sending. `send` copies the datagram into the socket's send arena (the one
 * copy a forwarded frame gets) and its `sockaddr` into the slot's name, and
 * returns; the queue is flushed with as few `sendmmsg` calls as it takes (at
 * most 1024 datagrams each) after each received batch, and in a microtask
 * for sends made elsewhere (timers, actors). A partial send goes on from
 * where it stopped; a datagram the kernel refuses is counted in `sendErrors`,
 * reported and skipped; `EAGAIN` (send buffer full) keeps the rest queued
 * until a `nonblocking` poll says the socket is writable. The queue is
 * bounded in datagrams and in bytes; past either bound `send` returns
 * `"dropped"`. Closing flushes what was accepted before it frees the port
 * (waiting up to 1 s for room if the send buffer is full).
 *
 * Socket buffers: `SO_RCVBUF`/`SO_SNDBUF` of 4 MiB by default, with the
 * `…FORCE` variants first so that root (`CAP_NET_ADMIN`) gets past
 * `net.core.rmem_max` (socket(7)); the kernel doubles the value for its
 * bookkeeping. A 4 MiB receive buffer holds ~20 ms of a saturated 1 Gbit/s
 * link, so short event-loop pauses (GC, a policy swap) no longer overflow it.
 *
 * IPv6: a socket bound to an IPv6 address is dual-stack when the host allows
 * (`net.ipv6.bindv6only` = 0, like `Deno.listenDatagram`); it sends to IPv4
 * endpoints as IPv4-mapped addresses and reports IPv4-mapped senders as IPv4.
 *
 * @example
 * ```ts
 * import { FfiUdpNetwork, isFfiAvailable } from "./ffi_udp.ts";
 *
 * if (isFfiAvailable()) {
 *   const net = new FfiUdpNetwork();
 *   const a = net.bind({ hostname: "127.0.0.1", port: 0 });
 *   const b = net.bind({ hostname: "127.0.0.1", port: 0 });
 *   if (!a.ok || !b.ok) throw new Error(a.ok ? (b.ok ? "" : b.error) : a.error);
 *   const got = Promise.withResolvers<number>();
 *   b.value.onReceive((payload) => got.resolve(payload[0]));
 *   a.value.send(new Uint8Array([42]), b.value.local);
 *   if ((await got.promise) !== 42) throw new Error("wrong byte");
 *   a.value.close();
 *   b.value.close();
 *   await Promise.all([a.value.closed, b.value.closed]);
 * }
 * ```
 *
 * @module
 */

import { addressOf, C, type Libc, MMSG, openLibc, putPointer } from "./_libc.ts";
import {
  type DatagramHandler,
  type DatagramNetwork,
  type DatagramSendResult,
  type DatagramStats,
  type Endpoint,
  endpointKey,
  normalizeEndpoint,
} from "./datagram.ts";
import type { Result } from "./result.ts";
import { MAX_CONSECUTIVE_RECEIVE_ERRORS, type UdpSocket } from "./udp.ts";

/** Datagrams one `recvmmsg` call takes. */
export const RECEIVE_BATCH = 64;

/** Receive batches handled in one event-loop turn before the socket yields. */
const BATCHES_PER_TURN = 16;

/** Bytes of one receive slot: the largest UDP payload plus one, so truncation is seen. */
const SLOT_BYTES = 65536;

/**
 * Distance between receive slots: not a power of two, so that the headers of
 * 64 slots do not all fall into one L1 cache set.
 */
const SLOT_STRIDE = SLOT_BYTES + 256;

/** How long a closed socket waits for room in a full send buffer before dropping the rest. */
const CLOSE_SEND_GRACE_MS = 1000;

/** Options of {@link FfiUdpNetwork}. */
export interface FfiUdpNetworkOptions {
  /**
   * Bound of each socket's send queue (datagrams accepted, not yet handed to
   * the kernel); past it `send` returns `"dropped"`. Default 4096.
   */
  maxPendingSends?: number;
  /** Bound of the send queue in bytes (its arena). Default 4 MiB. */
  maxPendingBytes?: number;
  /** `SO_RCVBUF` and `SO_SNDBUF` asked for (socket(7)). Default 4 MiB. */
  socketBufferBytes?: number;
  /** Told of every failed send, failed receive and handler throw, after it is counted. */
  onError?: (error: unknown, socket: Endpoint) => void;
}

/**
 * True when this process may and can use {@link FfiUdpNetwork}: the "ffi"
 * permission is granted (checked without prompting), the platform is Linux on
 * x86_64 or aarch64, and `libc.so.6` opens.
 *
 * @example
 * ```ts
 * import { isFfiAvailable } from "./ffi_udp.ts";
 * if (typeof isFfiAvailable() !== "boolean") throw new Error();
 * ```
 */
export function isFfiAvailable(): boolean {
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  } catch {
    return false;
  }
  return openLibc().ok;
}

/**
 * Binds batched sockets on the host's UDP stack, IPv4 and IPv6.
 *
 * @example
 * ```ts
 * import { FfiUdpNetwork, isFfiAvailable } from "./ffi_udp.ts";
 * if (isFfiAvailable()) {
 *   const r = new FfiUdpNetwork().bind({ hostname: "192.0.2.1", port: 1701 });
 *   if (r.ok) throw new Error("192.0.2.1 should not be a local address");
 * }
 * ```
 */
export class FfiUdpNetwork implements DatagramNetwork {
  readonly #options: Required<Omit<FfiUdpNetworkOptions, "onError">>;
  readonly #onError: (error: unknown, socket: Endpoint) => void;

  /** Throws a `RangeError` for a bad option; binding reports a missing FFI as an error. */
  constructor(options: FfiUdpNetworkOptions = {}) {
    const positive = (name: string, value: number, min: number) => {
      if (!Number.isInteger(value) || value < min) {
        throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
      }
      return value;
    };
    this.#options = {
      maxPendingSends: positive("maxPendingSends", options.maxPendingSends ?? 4096, 1),
      maxPendingBytes: positive("maxPendingBytes", options.maxPendingBytes ?? 4 << 20, 65536),
      socketBufferBytes: positive("socketBufferBytes", options.socketBufferBytes ?? 4 << 20, 1),
    };
    this.#onError = options.onError ?? (() => {});
  }

  /** Binds `local` (port 0 for an ephemeral port); failures, permissions included, are errors. */
  bind(local: Endpoint): Result<UdpSocket, string> {
    const checked = normalizeEndpoint(local);
    if (!checked.ok) return checked;
    const where = `bind ${endpointKey(checked.value)}`;
    let libc: Libc;
    try {
      const opened = openLibc();
      if (!opened.ok) return { ok: false, error: `${where}: ${opened.error}` };
      libc = opened.value;
    } catch (error) {
      // dlopen without --allow-ffi throws a permission error.
      return { ok: false, error: `${where}: ${message(error)}` };
    }
    const { fn } = libc;
    const family = checked.value.hostname.includes(":") ? C.AF_INET6 : C.AF_INET;
    const fd = fn.socket(family, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
    if (fd < 0) return { ok: false, error: `${where}: socket: ${libc.describe(libc.errno())}` };
    const fail = (what: string): Result<UdpSocket, string> => {
      const text = libc.describe(libc.errno());
      fn.close(fd);
      return { ok: false, error: `${where}: ${what}${text}` };
    };
    const bufferBytes = this.#options.socketBufferBytes;
    setBufferSize(libc, fd, C.SO_RCVBUFFORCE, C.SO_RCVBUF, bufferBytes);
    setBufferSize(libc, fd, C.SO_SNDBUFFORCE, C.SO_SNDBUF, bufferBytes);
    const name = new Uint8Array(C.SOCKADDR_BYTES);
    const nameLength = encodeSockaddr(checked.value, family, name);
    if (fn.bind(fd, name, nameLength) !== 0) return fail("");
    const length = new Uint32Array([C.SOCKADDR_BYTES]);
    if (fn.getsockname(fd, name, new Uint8Array(length.buffer)) !== 0) {
      return fail("getsockname: ");
    }
    const bound = decodeSockaddr(new DataView(name.buffer), 0);
    if (bound === undefined) return fail("getsockname: ");
    const wake = fn.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC);
    if (wake < 0) return fail("eventfd: ");
    const control = openControlSocket(libc, fd, {
      family,
      name,
      nameLength: length[0],
      bufferBytes,
    });
    if (!control.ok) {
      this.#onError(
        new Error(`${where}: control messages share the data receive queue: ${control.error}`),
        bound,
      );
    }
    return {
      ok: true,
      value: new FfiUdpSocket(libc, { fd, controlFd: control.ok ? control.value : -1, wake }, {
        family,
        local: bound,
        options: this.#options,
        onError: this.#onError,
      }),
    };
  }
}

/** Asks for `bytes` with the privileged option first, then the capped one (socket(7)). */
function setBufferSize(libc: Libc, fd: number, force: number, plain: number, bytes: number): void {
  const value = new Uint8Array(new Int32Array([bytes]).buffer);
  if (libc.fn.setsockopt(fd, C.SOL_SOCKET, force, value, 4) !== 0) {
    libc.fn.setsockopt(fd, C.SOL_SOCKET, plain, value, 4);
  }
}

/**
 * Classic BPF run by the kernel on each datagram for the port's SO_REUSEPORT
 * group, with the UDP payload at offset 0 (`reuseport_select_sock`); it
 * returns the index of the socket to queue the datagram on, in the order the
 * sockets joined: 0 the data socket, 1 the control socket. It returns the T
 * bit (RFC 2661 §3.1: the top bit of the first byte). An empty datagram makes
 * the load fail, which returns 0: data.
 */
const CONTROL_STEERING = [
  [C.BPF_LD_B_ABS, 0],
  [C.BPF_AND_K, 0x80],
  [C.BPF_RSH_K, 7],
  [C.BPF_RET_A, 0],
] as const;

/**
 * Opens a second socket on `fd`'s address for control messages only, so that
 * data filling `fd`'s receive queue never makes the kernel drop a control
 * message (each drop costs the peer an RFC 2661 §5.8 retransmission, 1 s at
 * first) nor queues one behind thousands of data frames. The two sockets
 * form an SO_REUSEPORT group (socket(7)) steered by {@link CONTROL_STEERING}.
 *
 * `fd` was bound without SO_REUSEPORT, so a busy port still fails with
 * `EADDRINUSE` and port 0 still gets a port no other group shares; it turns
 * the option on only now, for the control socket to join. From then on
 * another socket of the same user that sets SO_REUSEPORT can bind the port
 * too: on the same address the program never picks it (its index is 2 or
 * more), so it receives nothing; on a more specific address (127.0.0.1 where
 * we bound 0.0.0.0) it takes that address's datagrams, as any socket there
 * would. Only a process of our own user can do either. On failure `fd` is
 * left as it was.
 */
function openControlSocket(
  libc: Libc,
  fd: number,
  options: { family: number; name: Uint8Array; nameLength: number; bufferBytes: number },
): Result<number, string> {
  const { fn } = libc;
  const flag = (on: boolean) => new Uint8Array(new Int32Array([on ? 1 : 0]).buffer);
  if (fn.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEPORT, flag(true), 4) !== 0) {
    return { ok: false, error: `SO_REUSEPORT: ${libc.describe(libc.errno())}` };
  }
  const control = fn.socket(options.family, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
  const fail = (what: string): Result<number, string> => {
    const text = libc.describe(libc.errno());
    if (control >= 0) fn.close(control);
    fn.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEPORT, flag(false), 4);
    return { ok: false, error: `${what}: ${text}` };
  };
  if (control < 0) return fail("socket");
  if (fn.setsockopt(control, C.SOL_SOCKET, C.SO_REUSEPORT, flag(true), 4) !== 0) {
    return fail("SO_REUSEPORT");
  }
  setBufferSize(libc, control, C.SO_RCVBUFFORCE, C.SO_RCVBUF, options.bufferBytes);
  if (fn.bind(control, options.name, options.nameLength) !== 0) return fail("bind");
  const filter = new Uint8Array(CONTROL_STEERING.length * C.SOCK_FILTER_BYTES);
  const view = new DataView(filter.buffer);
  CONTROL_STEERING.forEach(([code, k], i) => {
    view.setUint16(i * C.SOCK_FILTER_BYTES, code, true);
    view.setUint32(i * C.SOCK_FILTER_BYTES + 4, k, true);
  });
  const program = new Uint32Array(C.SOCK_FPROG_BYTES / 4);
  program[0] = CONTROL_STEERING.length;
  putPointer(program, 2, addressOf(filter));
  const programBytes = new Uint8Array(program.buffer);
  if (
    fn.setsockopt(
      control,
      C.SOL_SOCKET,
      C.SO_ATTACH_REUSEPORT_CBPF,
      programBytes,
      C.SOCK_FPROG_BYTES,
    ) !== 0
  ) return fail("SO_ATTACH_REUSEPORT_CBPF");
  return { ok: true, value: control };
}

/** A destination's `sockaddr`, built once per frozen endpoint object. */
interface Destination {
  readonly name: Uint8Array;
  readonly length: number;
}

class FfiUdpSocket implements UdpSocket {
  readonly local: Endpoint;
  readonly closed: Promise<void>;
  readonly #libc: Libc;
  readonly #fd: number;
  /** The socket that gets the control messages ({@link openControlSocket}), or -1: `#fd` gets all. */
  readonly #controlFd: number;
  readonly #wakeFd: number;
  readonly #family: number;
  readonly #onError: (error: unknown, socket: Endpoint) => void;
  readonly #stats = { sent: 0, sendErrors: 0, received: 0, receiveDropped: 0, receiveErrors: 0 };
  readonly #settled: () => void;
  #handler: DatagramHandler | undefined;
  #isClosed = false;
  #fdsClosed = false;

  // Receive side: slots built once, reused by every batch.
  readonly #rxHeaders = new Uint8Array(RECEIVE_BATCH * C.MMSGHDR_BYTES);
  readonly #rxWords = new Uint32Array(this.#rxHeaders.buffer);
  readonly #rxNames = new Uint8Array(RECEIVE_BATCH * 32);
  readonly #rxNamesView = new DataView(this.#rxNames.buffer);
  readonly #rxIovecs = new Uint8Array(RECEIVE_BATCH * C.IOVEC_BYTES);
  readonly #rxBuffers = new Uint8Array(RECEIVE_BATCH * SLOT_STRIDE);
  readonly #rxSlots: Uint8Array[] = [];
  readonly #rxPollFds = new Uint8Array(3 * C.POLLFD_BYTES);
  readonly #rxPollCount: bigint;
  #receiving = false;
  #rxPollPending = false;
  #receiveErrorsInARow = 0;
  /** Senders by address, so a datagram from a known peer allocates no endpoint. */
  #senders = new Map<number | string, Endpoint>();

  // Send side: a queue of [#txHead, #txTail) slots whose bytes sit in the arena.
  readonly #txCapacity: number;
  readonly #txHeaders: Uint8Array;
  readonly #txWords: Uint32Array;
  readonly #txNames: Uint8Array;
  readonly #txIovecs: Uint32Array;
  readonly #txArena: Uint8Array;
  readonly #txArenaAddress: number;
  readonly #txOffsets: Uint32Array;
  readonly #txLengths: Uint32Array;
  readonly #txPollFds = new Uint8Array(C.POLLFD_BYTES);
  #txHead = 0;
  #txTail = 0;
  #txArenaUsed = 0;
  #txPollPending = false;
  #flushQueued = false;
  #closedAt = 0;
  /** `sockaddr`s of frozen endpoints; a mutable endpoint object is encoded per send. */
  readonly #destinations = new WeakMap<Endpoint, Destination>();

  constructor(
    libc: Libc,
    fds: { fd: number; controlFd: number; wake: number },
    settings: {
      family: number;
      local: Endpoint;
      options: Required<Omit<FfiUdpNetworkOptions, "onError">>;
      onError: (error: unknown, socket: Endpoint) => void;
    },
  ) {
    const { fd, controlFd, wake: wakeFd } = fds;
    const { options } = settings;
    this.#libc = libc;
    this.#fd = fd;
    this.#controlFd = controlFd;
    this.#wakeFd = wakeFd;
    this.#family = settings.family;
    this.local = settings.local;
    this.#onError = settings.onError;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.#settled = resolve;

    // recvmmsg(2) slots: msg_name → a sockaddr_in6, msg_iov → one iovec → a 64 KiB buffer.
    const names = addressOf(this.#rxNames);
    const iovecs = addressOf(this.#rxIovecs);
    const buffers = addressOf(this.#rxBuffers);
    const iovWords = new Uint32Array(this.#rxIovecs.buffer);
    for (let i = 0; i < RECEIVE_BATCH; i++) {
      const h = i * (C.MMSGHDR_BYTES / 4);
      putPointer(this.#rxWords, h + MMSG.name, names + i * 32);
      this.#rxWords[h + MMSG.namelen] = C.SOCKADDR_BYTES;
      putPointer(this.#rxWords, h + MMSG.iov, iovecs + i * C.IOVEC_BYTES);
      this.#rxWords[h + MMSG.iovlen] = 1;
      putPointer(iovWords, i * 4, buffers + i * SLOT_STRIDE);
      iovWords[i * 4 + 2] = SLOT_BYTES;
      this.#rxSlots.push(this.#rxBuffers.subarray(i * SLOT_STRIDE, i * SLOT_STRIDE + SLOT_BYTES));
    }
    const pollWords = new DataView(this.#rxPollFds.buffer);
    pollWords.setInt32(0, fd, true);
    pollWords.setInt16(4, C.POLLIN, true);
    pollWords.setInt32(8, wakeFd, true);
    pollWords.setInt16(12, C.POLLIN, true);
    pollWords.setInt32(16, controlFd, true);
    pollWords.setInt16(20, C.POLLIN, true);
    this.#rxPollCount = controlFd < 0 ? 2n : 3n;
    const txPoll = new DataView(this.#txPollFds.buffer);
    txPoll.setInt32(0, fd, true);
    txPoll.setInt16(4, C.POLLOUT, true);

    // sendmmsg(2) slots: the same shape; each send fills in one slot's iovec and name.
    const capacity = this.#txCapacity = options.maxPendingSends;
    this.#txHeaders = new Uint8Array(capacity * C.MMSGHDR_BYTES);
    this.#txWords = new Uint32Array(this.#txHeaders.buffer);
    this.#txNames = new Uint8Array(capacity * 32);
    this.#txIovecs = new Uint32Array(capacity * (C.IOVEC_BYTES / 4));
    this.#txArena = new Uint8Array(options.maxPendingBytes);
    this.#txArenaAddress = addressOf(this.#txArena);
    this.#txOffsets = new Uint32Array(capacity);
    this.#txLengths = new Uint32Array(capacity);
    const txNames = addressOf(this.#txNames);
    const txIovecs = addressOf(new Uint8Array(this.#txIovecs.buffer));
    for (let i = 0; i < capacity; i++) {
      const h = i * (C.MMSGHDR_BYTES / 4);
      putPointer(this.#txWords, h + MMSG.name, txNames + i * 32);
      putPointer(this.#txWords, h + MMSG.iov, txIovecs + i * C.IOVEC_BYTES);
      this.#txWords[h + MMSG.iovlen] = 1;
    }
  }

  get stats(): DatagramStats {
    return this.#stats;
  }

  /** Datagrams accepted by `send` and not yet handed to the kernel. */
  get pendingSends(): number {
    return this.#txTail - this.#txHead;
  }

  send(payload: Uint8Array, to: Endpoint): DatagramSendResult {
    if (this.#isClosed) return "closed";
    const destination = this.#destinationOf(to);
    const length = payload.length;
    if (destination === undefined) {
      this.#stats.sendErrors++;
      this.#report(new Error(`send to ${describe(to)}: not an address this socket can reach`));
      return "dropped";
    }
    if (
      (this.#txTail === this.#txCapacity || this.#txArenaUsed + length > this.#txArena.length) &&
      !this.#compact(length)
    ) {
      this.#stats.sendErrors++;
      return "dropped";
    }
    const slot = this.#txTail++;
    const offset = this.#txArenaUsed;
    this.#txArena.set(payload, offset);
    // Keep each datagram 8-byte aligned in the arena.
    this.#txArenaUsed = offset + ((length + 7) & ~7);
    this.#txOffsets[slot] = offset;
    this.#txLengths[slot] = length;
    const iov = slot * 4;
    putPointer(this.#txIovecs, iov, this.#txArenaAddress + offset);
    this.#txIovecs[iov + 2] = length;
    this.#txNames.set(destination.name, slot * 32);
    this.#txWords[slot * (C.MMSGHDR_BYTES / 4) + MMSG.namelen] = destination.length;
    this.#stats.sent++;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
    return "ok";
  }

  onReceive(handler: DatagramHandler): void {
    if (this.#isClosed) return;
    this.#handler = handler;
    // The loop starts with the first handler, so datagrams arriving before it
    // wait in the kernel's socket buffer, as on the other backends.
    if (!this.#receiving) {
      this.#receiving = true;
      this.#receiveLoop().catch((error) => this.#report(error));
    }
  }

  /**
   * Stops receiving at once; sends already accepted go out first (up to 1 s
   * of waiting for room), then the port is freed and `closed` resolves.
   */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#closedAt = performance.now();
    this.#handler = undefined;
    this.#flush();
    if (this.#rxPollPending) {
      // eventfd(2): adds 1 to its counter, which makes it readable and ends the poll.
      this.#libc.fn.write(this.#wakeFd, new Uint8Array(new BigUint64Array([1n]).buffer), 8n);
    }
    this.#finishIfIdle();
  }

  readonly #flushTask = () => {
    this.#flushQueued = false;
    this.#flush();
  };

  async #receiveLoop(): Promise<void> {
    const { fn } = this.#libc;
    try {
      while (!this.#isClosed) {
        this.#receiveTurn();
        if (this.#isClosed) break;
        this.#rxPollPending = true;
        // Readable, woken by close, or at once when the turn stopped on its budget.
        await fn.poll(this.#rxPollFds, this.#rxPollCount, -1);
        this.#rxPollPending = false;
      }
    } finally {
      this.#rxPollPending = false;
      this.#receiving = false;
      this.#finishIfIdle();
    }
  }

  /**
   * Up to {@link BATCHES_PER_TURN} data batches, until both sockets are
   * empty, each after a batch of the control socket's. A turn that handled
   * control messages ends after that data batch: the actors they went to run
   * in microtasks, that is when the turn ends, and a full turn (1024 frames)
   * would hold them back for milliseconds at each hop of a handshake. The
   * data batch in between keeps a control flood from starving the data plane.
   */
  #receiveTurn(): void {
    for (let batch = 0; batch < BATCHES_PER_TURN && !this.#isClosed; batch++) {
      const control = this.#controlFd < 0 ? 0 : this.#receiveBatch(this.#controlFd);
      if (this.#isClosed) return;
      const data = this.#receiveBatch(this.#fd);
      if (control > 0 || (control === 0 && data >= 0 && data < RECEIVE_BATCH)) return;
    }
  }

  /**
   * One `recvmmsg` on `fd`, handled and followed by a flush of the sends it
   * caused. Returns the datagrams read (0: `fd` is empty), or -1 after an
   * error worth another try.
   */
  #receiveBatch(fd: number): number {
    const n = this.#libc.fn.recvmmsg(fd, this.#rxHeaders, RECEIVE_BATCH, C.MSG_DONTWAIT, null);
    if (n < 0) {
      const errno = this.#libc.errno();
      if (errno === C.EAGAIN) return 0;
      if (errno !== C.EINTR) {
        this.#stats.receiveErrors++;
        this.#report(new Error(`recvmmsg: ${this.#libc.describe(errno)}`));
        if (++this.#receiveErrorsInARow >= MAX_CONSECUTIVE_RECEIVE_ERRORS) this.close();
      }
      return -1;
    }
    this.#receiveErrorsInARow = 0;
    this.#dispatch(n);
    this.#flush();
    return n;
  }

  #dispatch(n: number): void {
    const words = this.#rxWords;
    for (let i = 0; i < n; i++) {
      const h = i * (C.MMSGHDR_BYTES / 4);
      const handler = this.#handler;
      if (handler === undefined) {
        // Closed by an earlier handler of this batch.
        this.#stats.receiveDropped += n - i;
        for (let j = i; j < n; j++) words[j * (C.MMSGHDR_BYTES / 4) + MMSG.namelen] = 32;
        return;
      }
      const length = words[h + MMSG.len];
      const from = this.#senderOf(i, words[h + MMSG.namelen]);
      // recvmmsg overwrote msg_namelen with the sender's; give the next call the full size.
      words[h + MMSG.namelen] = C.SOCKADDR_BYTES;
      if ((words[h + MMSG.flags] & C.MSG_TRUNC) !== 0 || from === undefined) {
        this.#stats.receiveErrors++;
        continue;
      }
      this.#stats.received++;
      try {
        handler(this.#rxSlots[i].subarray(0, length), from);
      } catch (error) {
        this.#stats.receiveErrors++;
        this.#report(error);
      }
    }
  }

  /** The endpoint of slot `i`'s sender, one frozen object per address. */
  #senderOf(i: number, nameLength: number): Endpoint | undefined {
    const view = this.#rxNamesView;
    const at = i * 32;
    const family = view.getUint16(at, true);
    const port = view.getUint16(at + 2);
    let key: number | string;
    if (family === C.AF_INET && nameLength >= 16) {
      key = view.getUint32(at + 4) * 65536 + port;
    } else if (family === C.AF_INET6 && nameLength >= 24) {
      key = isV4Mapped(view, at + 8)
        ? view.getUint32(at + 20) * 65536 + port
        : `${view.getBigUint64(at + 8)}:${view.getBigUint64(at + 16)}:${port}`;
    } else {
      return undefined;
    }
    const known = this.#senders.get(key);
    if (known !== undefined) return known;
    const endpoint = decodeSockaddr(view, at);
    if (endpoint === undefined) return undefined;
    // A bound on memory: a flood from many spoofed sources must not grow this forever.
    if (this.#senders.size >= 65536) this.#senders.clear();
    this.#senders.set(key, endpoint);
    return endpoint;
  }

  #destinationOf(to: Endpoint): Destination | undefined {
    const cached = this.#destinations.get(to);
    if (cached !== undefined) return cached;
    // Port 0 is no destination (udp(7): the kernel refuses it).
    if (to.port === 0) return undefined;
    const name = new Uint8Array(32);
    const length = encodeSockaddr(to, this.#family, name);
    if (length === 0) return undefined;
    const destination = { name, length };
    if (Object.isFrozen(to)) this.#destinations.set(to, destination);
    return destination;
  }

  /** Hands the queue to the kernel, as far as it takes it; never throws. */
  #flush(): void {
    if (this.#fdsClosed) return;
    const { fn } = this.#libc;
    while (this.#txHead < this.#txTail) {
      const head = this.#txHead;
      const count = Math.min(this.#txTail - head, C.UIO_MAXIOV);
      const headers = head === 0
        ? this.#txHeaders
        : this.#txHeaders.subarray(head * C.MMSGHDR_BYTES);
      const n = fn.sendmmsg(this.#fd, headers, count, C.MSG_DONTWAIT);
      if (n > 0) {
        this.#txHead += n;
        continue;
      }
      const errno = this.#libc.errno();
      if (errno === C.EINTR) continue;
      if (errno === C.EAGAIN) {
        this.#waitWritable();
        return;
      }
      // sendmmsg stops at the first datagram that fails and reports its error
      // when it is the first of the call (sendmmsg(2)): count it, skip it, go on.
      this.#stats.sendErrors++;
      this.#report(new Error(`sendmmsg: ${this.#libc.describe(errno)}`));
      this.#txHead++;
    }
    this.#txHead = this.#txTail = this.#txArenaUsed = 0;
  }

  /** Moves the queued slots to the front to make room for `length` more bytes; false if none. */
  #compact(length: number): boolean {
    const head = this.#txHead;
    if (head === 0) return false;
    const tail = this.#txTail;
    const base = head < tail ? this.#txOffsets[head] : this.#txArenaUsed;
    if (this.#txArenaUsed - base + length > this.#txArena.length) return false;
    this.#txArena.copyWithin(0, base, this.#txArenaUsed);
    this.#txArenaUsed -= base;
    for (let from = head, to = 0; from < tail; from++, to++) {
      const offset = this.#txOffsets[from] - base;
      this.#txOffsets[to] = offset;
      this.#txLengths[to] = this.#txLengths[from];
      putPointer(this.#txIovecs, to * 4, this.#txArenaAddress + offset);
      this.#txIovecs[to * 4 + 2] = this.#txLengths[from];
      this.#txNames.copyWithin(to * 32, from * 32, from * 32 + 32);
      this.#txWords[to * (C.MMSGHDR_BYTES / 4) + MMSG.namelen] =
        this.#txWords[from * (C.MMSGHDR_BYTES / 4) + MMSG.namelen];
    }
    this.#txTail = tail - head;
    this.#txHead = 0;
    return true;
  }

  /** Waits on a blocking-pool thread until the socket can take more, then flushes. */
  #waitWritable(): void {
    if (this.#txPollPending) return;
    this.#txPollPending = true;
    this.#libc.fn.poll(this.#txPollFds, 1n, CLOSE_SEND_GRACE_MS).then(() => {
      this.#txPollPending = false;
      this.#flush();
      if (
        this.#isClosed && this.#txHead < this.#txTail &&
        performance.now() - this.#closedAt >= CLOSE_SEND_GRACE_MS
      ) {
        this.#stats.sendErrors += this.#txTail - this.#txHead;
        this.#txHead = this.#txTail = this.#txArenaUsed = 0;
      }
      this.#finishIfIdle();
    });
  }

  /** Closes the descriptors once closed, no poll uses them and no send waits. */
  #finishIfIdle(): void {
    if (!this.#isClosed || this.#fdsClosed || this.#rxPollPending || this.#txPollPending) return;
    if (this.#txHead < this.#txTail) return;
    this.#fdsClosed = true;
    this.#libc.fn.close(this.#fd);
    if (this.#controlFd >= 0) this.#libc.fn.close(this.#controlFd);
    this.#libc.fn.close(this.#wakeFd);
    this.#senders.clear();
    this.#settled();
  }

  #report(error: unknown): void {
    try {
      this.#onError(error, this.local);
    } catch {
      // The error hook must not break the loop that called it.
    }
  }
}

function isV4Mapped(view: DataView, at: number): boolean {
  return view.getUint32(at) === 0 && view.getUint32(at + 4) === 0 &&
    view.getUint32(at + 8) === 0xffff;
}

/**
 * Writes `endpoint` as a `sockaddr_in` (family `AF_INET`) or `sockaddr_in6`
 * (ip(7), ipv6(7)); an IPv4 endpoint on an IPv6 socket becomes IPv4-mapped.
 * Returns the length written, or 0 when the endpoint is not an address of
 * that family or its port is out of range.
 */
function encodeSockaddr(endpoint: Endpoint, family: number, out: Uint8Array): number {
  const { hostname, port } = endpoint;
  if (!Number.isInteger(port) || port < 0 || port > 65535) return 0;
  if (typeof hostname !== "string") return 0;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.fill(0, 0, C.SOCKADDR_BYTES);
  view.setUint16(0, family, true);
  view.setUint16(2, port);
  if (family === C.AF_INET) {
    return parseIpv4(hostname, out, 4) ? 16 : 0;
  }
  if (hostname.includes(":")) {
    if (!parseIpv6(hostname, out, 8)) return 0;
  } else {
    // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2)
    if (!parseIpv4(hostname, out, 20)) return 0;
    out[18] = out[19] = 0xff;
  }
  return C.SOCKADDR_BYTES;
}

/** Reads the `sockaddr_in`/`sockaddr_in6` at `at`; IPv4-mapped IPv6 comes back as IPv4. */
function decodeSockaddr(view: DataView, at: number): Endpoint | undefined {
  const family = view.getUint16(at, true);
  const port = view.getUint16(at + 2);
  let hostname: string;
  if (family === C.AF_INET || (family === C.AF_INET6 && isV4Mapped(view, at + 8))) {
    const a = family === C.AF_INET ? at + 4 : at + 20;
    hostname = `${view.getUint8(a)}.${view.getUint8(a + 1)}.${view.getUint8(a + 2)}.${
      view.getUint8(a + 3)
    }`;
  } else if (family === C.AF_INET6) {
    const groups: string[] = [];
    for (let g = 0; g < 8; g++) groups.push(view.getUint16(at + 8 + 2 * g).toString(16));
    hostname = groups.join(":");
  } else {
    return undefined;
  }
  const r = normalizeEndpoint({ hostname, port });
  return r.ok ? r.value : undefined;
}

function parseIpv4(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return false;
    const n = Number(parts[i]);
    if (n > 255) return false;
    out[at + i] = n;
  }
  return true;
}

/** Parses IPv6 text (RFC 4291 §2.2, with an optional dotted IPv4 tail) into 16 bytes. */
function parseIpv6(text: string, out: Uint8Array, at: number): boolean {
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const words = (part: string): number[] | undefined => {
    if (part === "") return [];
    const result: number[] = [];
    const groups = part.split(":");
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes(".")) {
        const v4 = new Uint8Array(4);
        if (!parseIpv4(g, v4, 0)) return undefined;
        result.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        result.push(parseInt(g, 16));
      } else {
        return undefined;
      }
    }
    return result;
  };
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  if (head === undefined || tail === undefined) return false;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return false;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[at + 2 * i] = all[i] >> 8;
    out[at + 2 * i + 1] = all[i] & 0xff;
  }
  return true;
}

function describe(endpoint: Endpoint): string {
  return `${endpoint.hostname}:${endpoint.port}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
