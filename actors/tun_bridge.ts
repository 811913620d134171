/**
 * The data plane of calls the LTS terminates itself on a `terminate` target
 * with `tun: true`: one TUN device per target (`transport/tun.ts`) and the
 * PPP links of its calls. An IPv4 packet the kernel routes to the device
 * goes to the link whose client holds its destination address (the address
 * IPCP assigned, RFC 1332 §3.3); an IPv4 datagram a link receives goes to
 * the device, if its source is that client's address (no spoofing, BCP 38).
 *
 * The bridge does no I/O of its own and keeps no timers: the switch actor
 * attaches a link when its IPCP opens and detaches it when the call ends.
 *
 * @example
 * ```ts
 * import { TunBridge } from "./tun_bridge.ts";
 * import type { TunDevice } from "../transport/tun.ts";
 *
 * let fromKernel: (packet: Uint8Array) => void = () => {};
 * const written: Uint8Array[] = [];
 * const device: TunDevice = {
 *   name: "lts-doc",
 *   write: (p) => written.push(p) > 0,
 *   onPacket: (cb) => void (fromKernel = cb),
 *   close: () => {},
 *   closed: Promise.resolve(),
 *   stats: { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, writeErrors: 0, readErrors: 0, receiverErrors: 0 },
 * };
 * const toClient: Uint8Array[] = [];
 * const bridge = new TunBridge(device);
 * bridge.attach("10.0.0.2", { sendIp: (p) => toClient.push(p.slice()) > 0 });
 * const packet = new Uint8Array(20);
 * packet[0] = 0x45;
 * packet.set([10, 0, 0, 2], 16); // destination
 * fromKernel(packet);
 * if (toClient.length !== 1) throw new Error();
 * ```
 *
 * @module
 */

import { formatIpv4, parseIpv4 } from "../ppp/ip_pool.ts";
import type { TunDevice } from "../transport/tun.ts";

/** What the bridge needs of a PPP link: `PppLink` is one. */
export interface IpLink {
  /** Sends an IPv4 datagram to the client; false when the link is not Open. */
  sendIp(packet: Uint8Array): boolean;
}

/** What a bridge counts. */
export interface TunBridgeStats {
  /** Packets from the device handed to a link. */
  toLinks: number;
  /** Packets from the device for an address no link holds. */
  noRoute: number;
  /** Packets from the device a link would not take (not Open). */
  linkRefused: number;
  /** Packets from the device that were no IPv4 (IPv6, runts). */
  notIpv4: number;
  /** Datagrams from links written to the device. */
  toDevice: number;
  /** Datagrams from links the device refused. */
  deviceRefused: number;
  /** Datagrams from a link whose source was not its client's address, or no IPv4. */
  spoofed: number;
}

/** The IPv4 header is at least 20 bytes (RFC 791 §3.1). */
const IPV4_MIN_HEADER = 20;

/** A bridge between one TUN device and the PPP links of one terminate target. */
export class TunBridge {
  readonly #device: TunDevice;
  /** Links by their client's IPv4 address as a number. */
  readonly #links = new Map<number, IpLink>();
  readonly #stats: TunBridgeStats = {
    toLinks: 0,
    noRoute: 0,
    linkRefused: 0,
    notIpv4: 0,
    toDevice: 0,
    deviceRefused: 0,
    spoofed: 0,
  };

  /** Takes the device's packets from now on; the bridge owns the device. */
  constructor(device: TunDevice) {
    this.#device = device;
    device.onPacket((packet) => this.#fromDevice(packet));
  }

  /** The device's interface name. */
  get name(): string {
    return this.#device.name;
  }

  get stats(): Readonly<TunBridgeStats> {
    return this.#stats;
  }

  /** Links attached now. */
  get size(): number {
    return this.#links.size;
  }

  /**
   * Routes packets for `address` to `link`: call it when the link's IPCP is
   * Opened, with the address it assigned. A link attached before for the
   * same address is replaced (the pool gives an address to one call at a
   * time). Throws a `RangeError` when `address` is no dotted IPv4 address.
   */
  attach(address: string, link: IpLink): void {
    this.#links.set(this.#key(address), link);
  }

  /**
   * Stops routing to `address`: call it when the call ends. With `link`,
   * only if that link still holds the address, so the late end of an old
   * call does not cut off the new one.
   */
  detach(address: string, link?: IpLink): void {
    const key = this.#key(address);
    if (link === undefined || this.#links.get(key) === link) this.#links.delete(key);
  }

  /**
   * An IPv4 datagram a link received (`LinkHost.ip`): written to the device
   * when its source is `from`, the link's client address; dropped and
   * counted otherwise. Returns whether it was written.
   */
  deliver(packet: Uint8Array, from: string): boolean {
    const source = ipv4Address(packet, 12);
    if (source === undefined || source !== parseIpv4(from)) {
      this.#stats.spoofed++;
      return false;
    }
    if (!this.#device.write(packet)) {
      this.#stats.deviceRefused++;
      return false;
    }
    this.#stats.toDevice++;
    return true;
  }

  /** Closes the device; the links stay up but their datagrams go nowhere. */
  close(): void {
    this.#links.clear();
    this.#device.close();
  }

  #fromDevice(packet: Uint8Array): void {
    const destination = ipv4Address(packet, 16);
    if (destination === undefined) {
      this.#stats.notIpv4++;
      return;
    }
    const link = this.#links.get(destination);
    if (link === undefined) {
      this.#stats.noRoute++;
      return;
    }
    if (link.sendIp(packet)) this.#stats.toLinks++;
    else this.#stats.linkRefused++;
  }

  #key(address: string): number {
    const n = parseIpv4(address);
    if (n === undefined) throw new RangeError(`not an IPv4 address: "${address}"`);
    return n;
  }
}

/** The IPv4 address at `offset` of an IPv4 packet, as a number; undefined for anything else. */
function ipv4Address(packet: Uint8Array, offset: number): number | undefined {
  if (packet.length < IPV4_MIN_HEADER || packet[0] >> 4 !== 4) return undefined;
  return ((packet[offset] << 24) | (packet[offset + 1] << 16) | (packet[offset + 2] << 8) |
    packet[offset + 3]) >>> 0;
}

/**
 * The interface name of a terminate target's TUN device: `lts-` and the
 * target's name when that fits in 15 bytes (IFNAMSIZ), else `lts-` and 11
 * hex digits of a hash of the name (FNV-1a), so that long names stay apart.
 *
 * @example
 * ```ts
 * import { tunNameFor } from "./tun_bridge.ts";
 * if (tunNameFor("local") !== "lts-local") throw new Error();
 * if (tunNameFor("a-very-long-target-name").length !== 15) throw new Error();
 * ```
 */
export function tunNameFor(target: string): string {
  const plain = `lts-${target}`;
  if (new TextEncoder().encode(plain).length <= 15) return plain;
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(target)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `lts-${hash.toString(16).padStart(16, "0").slice(0, 11)}`;
}

/**
 * The commands that give a target's TUN device its addresses and routes:
 * the target's `local_address` on the device, up, and a route for its pool
 * (as the fewest CIDR blocks covering the range exactly). For the operator
 * to run (or a start-up script), and for `lts run` to log.
 *
 * @example
 * ```ts
 * import { tunSetupCommands } from "./tun_bridge.ts";
 * const c = tunSetupCommands("lts-local", { localAddress: "10.200.0.1", pool: { first: 0x0ac80008, last: 0x0ac8000f } });
 * if (c.at(-1) !== "ip route replace 10.200.0.8/29 dev lts-local") throw new Error(c.join("\n"));
 * ```
 */
export function tunSetupCommands(
  name: string,
  target: { localAddress: string; pool: { first: number; last: number } },
): string[] {
  return [
    `ip addr replace ${target.localAddress}/32 dev ${name}`,
    `ip link set ${name} up`,
    ...rangeToCidrs(target.pool.first, target.pool.last).map((cidr) =>
      `ip route replace ${cidr} dev ${name}`
    ),
  ];
}

/** The fewest CIDR blocks that cover `[first, last]` exactly. */
export function rangeToCidrs(first: number, last: number): string[] {
  const out: string[] = [];
  let at = first;
  while (at <= last) {
    // The largest block aligned at `at` that does not pass `last`.
    let size = 1;
    while (size < 2 ** 32 && at % (size * 2) === 0 && at + size * 2 - 1 <= last) size *= 2;
    out.push(`${formatIpv4(at)}/${32 - Math.log2(size)}`);
    at += size;
  }
  return out;
}
