/**
 * A TUN device (Linux `/dev/net/tun`, `Documentation/networking/tuntap.rst`):
 * the host's side of the IPv4 datagrams of calls the LTS terminates itself.
 * Each `read(2)` on the device gives one IP packet the kernel routes to it,
 * each `write(2)` hands the kernel one packet as if it had arrived on it.
 *
 * libc is bound with `Deno.dlopen` (needs `--allow-ffi`; Linux on x86_64 or
 * aarch64). The device is opened `O_NONBLOCK` and attached with the
 * `TUNSETIFF` ioctl as `IFF_TUN | IFF_NO_PI`: layer 3 packets, no
 * packet-information prefix. Receiving works as in `ffi_udp.ts`: read until
 * `EAGAIN` (at most {@link READS_PER_TURN} packets per turn), then wait for
 * readability with a `poll(2)` declared `nonblocking`, which Deno runs on a
 * blocking-pool thread, so the event loop goes on meanwhile. Closing writes
 * an `eventfd(2)` the poll also watches; the descriptors are closed once the
 * pending poll has returned, and `closed` resolves then.
 *
 * Buffer lifetime: a packet handed to {@link TunDevice.onPacket}'s callback
 * is a view of the device's one receive buffer, valid during the call only.
 *
 * What `openTun` does not do, because it is the operator's (or the test's)
 * business: give the interface an address, bring it up and route to it
 * (`ip addr add 100.64.0.1/16 dev lts0 && ip link set lts0 up`).
 *
 * @example
 * ```ts
 * import { openTun } from "./tun.ts";
 * // Without CAP_NET_ADMIN or --allow-ffi this is an error value, never a throw.
 * const tun = openTun("lts-doc0");
 * if (tun.ok) {
 *   tun.value.onPacket((packet) => console.log(`${packet.length} bytes`));
 *   tun.value.close();
 *   await tun.value.closed;
 * } else if (typeof tun.error !== "string") {
 *   throw new Error();
 * }
 * ```
 *
 * @module
 */

import { C, type Libc, openLibc } from "./_libc.ts";
import type { Result } from "./result.ts";

/** Packets read in one event-loop turn before the device yields to timers and other I/O. */
export const READS_PER_TURN = 64;

/** Bytes of the receive buffer: the largest IPv4 packet. */
const RECEIVE_BYTES = 65535;

/** What a device counts. */
export interface TunStats {
  /** Packets read from the device (the kernel routed them to it), with their bytes. */
  packetsIn: number;
  bytesIn: number;
  /** Packets written to the device (handed to the kernel), with their bytes. */
  packetsOut: number;
  bytesOut: number;
  /** Writes the kernel refused or took in part (the packet is dropped). */
  writeErrors: number;
  /** Failed reads other than "nothing to read"; reading stops at the first. */
  readErrors: number;
  /** Packets whose receiver threw (the device goes on reading). */
  receiverErrors: number;
}

/** Counters of a device that has done nothing yet. */
export function newTunStats(): TunStats {
  return {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    writeErrors: 0,
    readErrors: 0,
    receiverErrors: 0,
  };
}

/** An open TUN device. */
export interface TunDevice {
  /** The interface name the kernel gave (as asked, or filled in from a `%d` pattern). */
  readonly name: string;
  /** Hands one IP packet to the kernel; false (counted) when it refused it or the device is closed. */
  write(packet: Uint8Array): boolean;
  /**
   * Sets the receiver of the packets the kernel routes to the device and
   * starts reading; a packet is a view valid during the call only.
   */
  onPacket(callback: (packet: Uint8Array) => void): void;
  /** Stops reading at once and frees the device (the interface goes with it). */
  close(): void;
  /** Resolves once the descriptors are closed. */
  readonly closed: Promise<void>;
  readonly stats: Readonly<TunStats>;
}

/** open(2), ioctl(2) and linux/if_tun.h constants; `struct ifreq` is 40 bytes on LP64. */
export const TUN = {
  PATH: "/dev/net/tun",
  O_RDWR: 2,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  /** `_IOW('T', 202, int)`. */
  TUNSETIFF: 0x400454ca,
  IFF_TUN: 0x0001,
  IFF_NO_PI: 0x1000,
  /** Interface names are at most 15 bytes and a NUL (IFNAMSIZ). */
  IFNAMSIZ: 16,
  IFREQ_BYTES: 40,
  /** Offset of `ifr_flags` in `struct ifreq`, after `ifr_name`. */
  IFR_FLAGS: 16,
} as const;

/**
 * Opens the TUN device `name` (created if absent; `tun%d` lets the kernel
 * number it), layer 3 without packet information. Failures are errors, not
 * throws: no FFI permission, no `/dev/net/tun`, or no CAP_NET_ADMIN
 * ("Operation not permitted").
 *
 * @example
 * ```ts
 * import { openTun } from "./tun.ts";
 * const r = openTun("a-name-longer-than-15-bytes");
 * if (r.ok) throw new Error("IFNAMSIZ is 16");
 * ```
 */
export function openTun(name: string): Result<TunDevice, string> {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length === 0 || nameBytes.length >= TUN.IFNAMSIZ || nameBytes.includes(0)) {
    return { ok: false, error: `TUN name "${name}": 1 to ${TUN.IFNAMSIZ - 1} bytes, no NUL` };
  }
  const where = `TUN ${name}`;
  const opened = openLibc();
  if (!opened.ok) return { ok: false, error: `${where}: ${opened.error}` };
  const libc = opened.value;
  const { fn } = libc;
  const path = new TextEncoder().encode(`${TUN.PATH}\0`);
  const fd = fn.open(path, TUN.O_RDWR | TUN.O_NONBLOCK | TUN.O_CLOEXEC);
  if (fd < 0) {
    return { ok: false, error: `${where}: open ${TUN.PATH}: ${libc.describe(libc.errno())}` };
  }
  const ifreq = new Uint8Array(TUN.IFREQ_BYTES);
  ifreq.set(nameBytes);
  new DataView(ifreq.buffer).setUint16(TUN.IFR_FLAGS, TUN.IFF_TUN | TUN.IFF_NO_PI, true);
  if (fn.ioctl(fd, BigInt(TUN.TUNSETIFF), ifreq) !== 0) {
    const text = libc.describe(libc.errno());
    fn.close(fd);
    return { ok: false, error: `${where}: TUNSETIFF: ${text}` };
  }
  const end = ifreq.indexOf(0);
  const actual = new TextDecoder().decode(ifreq.subarray(0, end < 0 ? TUN.IFNAMSIZ : end));
  const wake = fn.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC);
  if (wake < 0) {
    const text = libc.describe(libc.errno());
    fn.close(fd);
    return { ok: false, error: `${where}: eventfd: ${text}` };
  }
  return { ok: true, value: new Tun(libc, fd, wake, actual) };
}

class Tun implements TunDevice {
  readonly name: string;
  readonly closed: Promise<void>;
  readonly #libc: Libc;
  readonly #fd: number;
  readonly #wakeFd: number;
  readonly #stats: TunStats = newTunStats();
  readonly #buffer = new Uint8Array(RECEIVE_BYTES);
  readonly #pollFds = new Uint8Array(2 * C.POLLFD_BYTES);
  readonly #settled: () => void;
  #callback: ((packet: Uint8Array) => void) | undefined;
  #reading = false;
  #pollPending = false;
  #isClosed = false;
  #fdsClosed = false;

  constructor(libc: Libc, fd: number, wakeFd: number, name: string) {
    this.#libc = libc;
    this.#fd = fd;
    this.#wakeFd = wakeFd;
    this.name = name;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.#settled = resolve;
    const poll = new DataView(this.#pollFds.buffer);
    poll.setInt32(0, fd, true);
    poll.setInt16(4, C.POLLIN, true);
    poll.setInt32(8, wakeFd, true);
    poll.setInt16(12, C.POLLIN, true);
  }

  get stats(): Readonly<TunStats> {
    return this.#stats;
  }

  write(packet: Uint8Array): boolean {
    if (this.#isClosed) return false;
    const n = this.#libc.fn.write(this.#fd, packet, BigInt(packet.length));
    if (Number(n) !== packet.length) {
      this.#stats.writeErrors++;
      return false;
    }
    this.#stats.packetsOut++;
    this.#stats.bytesOut += packet.length;
    return true;
  }

  onPacket(callback: (packet: Uint8Array) => void): void {
    if (this.#isClosed) return;
    this.#callback = callback;
    if (!this.#reading) {
      this.#reading = true;
      // The loop catches nothing it could throw but a failed poll; it then ends like a read error.
      this.#readLoop().catch(() => this.#stats.readErrors++);
    }
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#callback = undefined;
    if (this.#pollPending) {
      // eventfd(2): adds 1 to its counter, which makes it readable and ends the poll.
      this.#libc.fn.write(this.#wakeFd, new Uint8Array(new BigUint64Array([1n]).buffer), 8n);
    }
    this.#finishIfIdle();
  }

  async #readLoop(): Promise<void> {
    try {
      while (!this.#isClosed) {
        if (!this.#readTurn()) break;
        if (this.#isClosed) break;
        this.#pollPending = true;
        // Readable, woken by close, or at once when the turn stopped on its budget.
        await this.#libc.fn.poll(this.#pollFds, 2n, -1);
        this.#pollPending = false;
      }
    } finally {
      this.#pollPending = false;
      this.#reading = false;
      this.#finishIfIdle();
    }
  }

  /** Reads up to {@link READS_PER_TURN} packets; false when the device is unusable. */
  #readTurn(): boolean {
    const { fn } = this.#libc;
    for (let i = 0; i < READS_PER_TURN && !this.#isClosed; i++) {
      const n = Number(fn.read(this.#fd, this.#buffer, BigInt(this.#buffer.length)));
      if (n < 0) {
        const errno = this.#libc.errno();
        if (errno === C.EAGAIN) return true;
        if (errno === C.EINTR) continue;
        this.#stats.readErrors++;
        // The interface was deleted under us (EBADFD, EIO…): nothing more will come.
        return false;
      }
      this.#stats.packetsIn++;
      this.#stats.bytesIn += n;
      try {
        this.#callback?.(this.#buffer.subarray(0, n));
      } catch {
        // A receiver that throws on one packet must not stop the device.
        this.#stats.receiverErrors++;
      }
    }
    return true;
  }

  #finishIfIdle(): void {
    if (!this.#isClosed || this.#pollPending || this.#fdsClosed) return;
    this.#fdsClosed = true;
    this.#libc.fn.close(this.#fd);
    this.#libc.fn.close(this.#wakeFd);
    this.#settled();
  }
}
