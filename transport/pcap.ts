/**
 * Capture files: a reader that finds the UDP datagrams in a classic pcap or
 * pcapng file, and writers that wrap UDP datagrams in either format so that
 * tshark can cross-check what we send.
 *
 * Formats, cited by section name:
 * - classic pcap: draft-ietf-opsawg-pcap, "File Header" and "Packet Record";
 * - pcapng: draft-ietf-opsawg-pcapng, "General Block Structure", "Section
 *   Header Block", "Interface Description Block" (options `if_tsresol`,
 *   `if_tsoffset`), "Enhanced Packet Block", "Simple Packet Block" and, in
 *   the appendix, the obsolete "Packet Block";
 * - link-layer headers: the tcpdump.org LINKTYPE_ registry and its pages for
 *   LINKTYPE_LINUX_SLL and LINKTYPE_LINUX_SLL2;
 * - IPv4 (RFC 791), IPv6 and its extension headers (RFC 8200 §4), UDP and its
 *   checksum (RFC 768, RFC 8200 §8.1).
 *
 * The reader is pure and total: it never throws, never reads past the
 * buffer, and allocates only in proportion to what it has already checked
 * lies inside the buffer. Payloads are subarrays of the input, not copies.
 *
 * @module
 */

import { EncodeError } from "./avp.ts";
import { ok, type Result } from "./result.ts";

/** The container format a capture was read from. */
export type CaptureFormat = "pcap" | "pcapng";

/** One UDP datagram found in a capture. */
export interface UdpDatagram {
  /** 1-based index of the frame in the file, numbered as tshark numbers frames. */
  frame: number;
  /**
   * Capture time in microseconds since the Unix epoch (nanosecond stamps are
   * truncated); `null` for a pcapng Simple Packet Block, which has no stamp.
   */
  timeUs: number | null;
  /** Source as `"192.0.2.1:1701"` or `"[2001:db8::1]:1701"` (RFC 5952 form). */
  src: string;
  /** Destination, in the same form as {@link UdpDatagram.src}. */
  dst: string;
  /** UDP source port. */
  srcPort: number;
  /** UDP destination port. */
  dstPort: number;
  /** The UDP payload, as many octets as the UDP Length field says; a subarray of the input. */
  payload: Uint8Array;
}

/**
 * Why a frame gave no datagram although it looked like one could be there:
 * `malformed` when a header is inconsistent or cut short; `skipped` when the
 * frame is well formed but this reader does not decode it (IP fragments,
 * unsupported link types, frames cut by the capture's snapshot length).
 * Frames that simply carry something other than UDP over IP are neither.
 */
export interface FrameProblem {
  /**
   * 1-based frame index. When the file structure itself is damaged, this is
   * the number the next frame would have had, and reading stopped there.
   */
  frame: number;
  /** `malformed` or `skipped`, as described on {@link FrameProblem}. */
  kind: "malformed" | "skipped";
  /** Human-readable detail. */
  reason: string;
}

/** What {@link readCapture} found in a file it recognised. */
export interface Capture {
  /** The container format. */
  format: CaptureFormat;
  /** Every UDP-over-IP datagram, in file order. */
  datagrams: UdpDatagram[];
  /** Frames that were malformed or skipped, in file order. */
  problems: FrameProblem[];
}

/** A read capture, or why the bytes are not a capture file at all. */
export type CaptureResult = Result<Capture, string>;

/** One datagram for {@link writePcap} or {@link writePcapng}. */
export interface DatagramToWrite {
  /** Source as `"192.0.2.1:1701"` or `"[2001:db8::1]:1701"`; same family as `dst`. */
  src: string;
  /** Destination, in the same form as `src`. */
  dst: string;
  /** UDP payload; at most 65507 octets over IPv4, 65527 over IPv6. */
  payload: Uint8Array;
  /** Capture time in microseconds since the Unix epoch; 0 when absent. */
  timeUs?: number;
}

/** Options of {@link writePcap} and {@link writePcapng}. */
export interface WriteCaptureOptions {
  /** Link-layer framing: Ethernet II (LINKTYPE_ETHERNET, default) or raw IP (LINKTYPE_RAW). */
  linkType?: "ethernet" | "raw";
}

// LINKTYPE_ values (tcpdump.org link-layer header types registry).
const LINKTYPE_NULL = 0;
const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LOOP = 108;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_IPV4 = 228;
const LINKTYPE_IPV6 = 229;
const LINKTYPE_LINUX_SLL2 = 276;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
// 802.1Q C-tag, 802.1ad S-tag, and the pre-standard Q-in-Q tag.
const VLAN_ETHERTYPES = new Set([0x8100, 0x88a8, 0x9100]);
// BSD AF_INET6 differs per OS: NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30.
const BSD_AF_INET = 2;
const BSD_AF_INET6 = new Set([24, 28, 30]);

const IPPROTO_HOPOPTS = 0;
const IPPROTO_UDP = 17;
const IPPROTO_ROUTING = 43;
const IPPROTO_FRAGMENT = 44;
const IPPROTO_DSTOPTS = 60;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAP_FILE_HEADER_LENGTH = 24;
const PCAP_RECORD_HEADER_LENGTH = 16;

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_IDB = 0x00000001;
const PCAPNG_PB = 0x00000002;
const PCAPNG_SPB = 0x00000003;
const PCAPNG_EPB = 0x00000006;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAPNG_OPT_ENDOFOPT = 0;
const PCAPNG_IF_TSRESOL = 9;
const PCAPNG_IF_TSOFFSET = 14;

const UDP_HEADER_LENGTH = 8;
const IPV4_HEADER_LENGTH = 20;
const IPV6_HEADER_LENGTH = 40;
const ETHERNET_HEADER_LENGTH = 14;
const MAX_IP_LENGTH = 0xffff;

// DataView rather than header.ts's get16: an out-of-bounds read throws instead
// of yielding NaN, so a missing bounds check cannot hide from the fuzz test.
const dataView = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const pad4 = (n: number) => (n + 3) & ~3;

// ---------------------------------------------------------------------------
// Reader

/**
 * Reads a classic pcap or pcapng capture and returns every UDP datagram
 * carried over IPv4 or IPv6, with the frames that could not be decoded.
 * Never throws. Fails only when the bytes do not start like a capture file;
 * damage later in the file ends the read with a {@link FrameProblem}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCapture, writePcap } from "./pcap.ts";
 *
 * const file = writePcap([
 *   { src: "192.0.2.1:1701", dst: "192.0.2.2:1701", payload: new Uint8Array([0xc8, 0x02]) },
 * ]);
 * const r = readCapture(file);
 * assert.ok(r.ok);
 * assert.equal(r.value.format, "pcap");
 * assert.equal(r.value.datagrams[0].src, "192.0.2.1:1701");
 * assert.deepEqual(r.value.datagrams[0].payload, new Uint8Array([0xc8, 0x02]));
 * ```
 */
export function readCapture(bytes: Uint8Array): CaptureResult {
  if (bytes.length < 4) return { ok: false, error: "too short to be a capture file" };
  const magic = dataView(bytes).getUint32(0, true);
  if (magic === PCAPNG_SHB) return readPcapng(bytes);
  for (const littleEndian of [true, false]) {
    const m = dataView(bytes).getUint32(0, littleEndian);
    if (m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS) {
      return readPcap(bytes, littleEndian, m === PCAP_MAGIC_NS);
    }
  }
  const first = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
  return { ok: false, error: `not a pcap or pcapng file: starts ${first.join(" ")}` };
}

/** Receives decoded frames and accumulates the results. */
class Collector {
  readonly datagrams: UdpDatagram[] = [];
  readonly problems: FrameProblem[] = [];

  problem(frame: number, kind: FrameProblem["kind"], reason: string): void {
    this.problems.push({ frame, kind, reason });
  }

  result(format: CaptureFormat): CaptureResult {
    return ok({ format, datagrams: this.datagrams, problems: this.problems });
  }
}

/** One captured frame, as the container hands it to the link-layer decoder. */
interface Frame {
  frame: number;
  timeUs: number | null;
  linkType: number;
  data: Uint8Array;
  /** Length of the frame on the wire; more than `data.length` when the snapshot length cut it. */
  originalLength: number;
}

// draft-ietf-opsawg-pcap "File Header": magic, version 2.4, two reserved
// words, SnapLen, LinkType; then "Packet Record"s of timestamp (seconds,
// micro- or nanoseconds), Captured Packet Length, Original Packet Length, data.
function readPcap(bytes: Uint8Array, le: boolean, nanoseconds: boolean): CaptureResult {
  if (bytes.length < PCAP_FILE_HEADER_LENGTH) {
    return { ok: false, error: "truncated pcap file header" };
  }
  const v = dataView(bytes);
  // The upper bits of the LinkType word carry the FCS length; the type is the low 16 bits.
  const linkType = v.getUint32(20, le) & 0xffff;
  const out = new Collector();
  let at = PCAP_FILE_HEADER_LENGTH;
  let frame = 0;
  while (at < bytes.length) {
    frame++;
    const left = bytes.length - at;
    if (left < PCAP_RECORD_HEADER_LENGTH) {
      out.problem(
        frame,
        "malformed",
        `truncated record header: ${left} octets at the end of the file`,
      );
      break;
    }
    const seconds = v.getUint32(at, le);
    const fraction = v.getUint32(at + 4, le);
    const capturedLength = v.getUint32(at + 8, le);
    const originalLength = v.getUint32(at + 12, le);
    const start = at + PCAP_RECORD_HEADER_LENGTH;
    if (capturedLength > bytes.length - start) {
      out.problem(
        frame,
        "malformed",
        `truncated record: captured length ${capturedLength} exceeds the ${
          bytes.length - start
        } octets left in the file`,
      );
      break;
    }
    decodeFrame(out, {
      frame,
      timeUs: seconds * 1e6 + (nanoseconds ? Math.floor(fraction / 1000) : fraction),
      linkType,
      data: bytes.subarray(start, start + capturedLength),
      originalLength,
    });
    at = start + capturedLength;
  }
  return out.result("pcap");
}

/** What an Interface Description Block says that packet blocks need. */
interface PcapngInterface {
  linkType: number;
  snapLength: number;
  /** Converts a 64-bit timestamp in this interface's units to microseconds. */
  toMicroseconds: (ticks: bigint) => number;
}

// draft-ietf-opsawg-pcapng "General Block Structure": Block Type, Block Total
// Length, body, Block Total Length again; lengths are multiples of 4. A
// Section Header Block sets the byte order of every block up to the next one
// and starts a new list of interfaces.
function readPcapng(bytes: Uint8Array): CaptureResult {
  const v = dataView(bytes);
  const out = new Collector();
  let le = true;
  let interfaces: PcapngInterface[] = [];
  let frame = 0;
  let at = 0;
  const damaged = (reason: string) =>
    out.problem(frame + 1, "malformed", `offset ${at}: ${reason}`);
  while (at < bytes.length) {
    const left = bytes.length - at;
    if (left < 12) {
      damaged(`${left} octets at the end of the file are too short for a block`);
      break;
    }
    // The Section Header Block type reads the same in both byte orders.
    const type = v.getUint32(at, le);
    if (type === PCAPNG_SHB) {
      if (left < 28) {
        damaged("truncated Section Header Block");
        break;
      }
      const byteOrderMagic = v.getUint32(at + 8, true);
      if (byteOrderMagic === PCAPNG_BYTE_ORDER_MAGIC) le = true;
      else if (byteOrderMagic === 0x4d3c2b1a) le = false;
      else {
        damaged(`bad byte-order magic 0x${byteOrderMagic.toString(16)}`);
        break;
      }
      const major = v.getUint16(at + 12, le);
      if (major !== 1) {
        damaged(`unsupported pcapng major version ${major}`);
        break;
      }
      interfaces = [];
    }
    const total = v.getUint32(at + 4, le);
    if (total < 12 || total % 4 !== 0 || total > left) {
      damaged(`block total length ${total} is not a multiple of 4 between 12 and ${left}`);
      break;
    }
    if (v.getUint32(at + total - 4, le) !== total) {
      damaged(`trailing block total length differs from the leading ${total}`);
      break;
    }
    const body = bytes.subarray(at + 8, at + total - 4);
    const bv = dataView(body);
    switch (type) {
      case PCAPNG_IDB: {
        if (body.length < 8) {
          damaged("truncated Interface Description Block");
          return out.result("pcapng");
        }
        interfaces.push(readInterface(body, bv, le));
        break;
      }
      case PCAPNG_EPB:
      case PCAPNG_PB: {
        frame++;
        if (body.length < 20) {
          out.problem(frame, "malformed", "packet block body shorter than its 20 fixed octets");
          break;
        }
        // The obsolete Packet Block has a 16-bit Interface ID and a drops count
        // where the Enhanced Packet Block has a 32-bit Interface ID.
        const interfaceId = type === PCAPNG_EPB ? bv.getUint32(0, le) : bv.getUint16(0, le);
        const capturedLength = bv.getUint32(12, le);
        if (capturedLength > body.length - 20) {
          out.problem(
            frame,
            "malformed",
            `captured length ${capturedLength} exceeds the ${body.length - 20} octets of the block`,
          );
          break;
        }
        const iface = interfaces[interfaceId];
        if (iface === undefined) {
          out.problem(
            frame,
            "malformed",
            `no Interface Description Block for interface ${interfaceId}`,
          );
          break;
        }
        const ticks = (BigInt(bv.getUint32(4, le)) << 32n) | BigInt(bv.getUint32(8, le));
        decodeFrame(out, {
          frame,
          timeUs: iface.toMicroseconds(ticks),
          linkType: iface.linkType,
          data: body.subarray(20, 20 + capturedLength),
          originalLength: bv.getUint32(16, le),
        });
        break;
      }
      case PCAPNG_SPB: {
        frame++;
        const iface = interfaces[0];
        if (body.length < 4) {
          out.problem(frame, "malformed", "Simple Packet Block without an Original Packet Length");
          break;
        }
        if (iface === undefined) {
          out.problem(
            frame,
            "malformed",
            "Simple Packet Block before any Interface Description Block",
          );
          break;
        }
        // "Simple Packet Block": the captured length is implied by the block
        // length, the original length and the interface's SnapLen.
        const originalLength = bv.getUint32(0, le);
        let capturedLength = Math.min(originalLength, body.length - 4);
        if (iface.snapLength !== 0) capturedLength = Math.min(capturedLength, iface.snapLength);
        decodeFrame(out, {
          frame,
          timeUs: null,
          linkType: iface.linkType,
          data: body.subarray(4, 4 + capturedLength),
          originalLength,
        });
        break;
      }
      default:
        // Section Header (already handled) and every other block: skipped by its length.
        break;
    }
    at += total;
  }
  return out.result("pcapng");
}

// "Interface Description Block": LinkType (16), Reserved (16), SnapLen (32),
// options. Malformed options end the option list rather than the file.
function readInterface(body: Uint8Array, bv: DataView, le: boolean): PcapngInterface {
  let tsresol = 6;
  let offsetSeconds = 0n;
  let at = 8;
  while (at + 4 <= body.length) {
    const code = bv.getUint16(at, le);
    const length = bv.getUint16(at + 2, le);
    if (code === PCAPNG_OPT_ENDOFOPT || length > body.length - at - 4) break;
    if (code === PCAPNG_IF_TSRESOL && length >= 1) tsresol = body[at + 4];
    if (code === PCAPNG_IF_TSOFFSET && length === 8) offsetSeconds = bv.getBigInt64(at + 4, le);
    at += 4 + pad4(length);
  }
  // if_tsresol: bit 7 clear means units of 10^-n seconds, set means 2^-n.
  const exponent = BigInt(tsresol & 0x7f);
  const offsetUs = offsetSeconds * 1_000_000n;
  let convert: (ticks: bigint) => bigint;
  if (tsresol & 0x80) convert = (t) => (t * 1_000_000n) >> exponent;
  else if (exponent >= 6n) {
    const divisor = 10n ** (exponent - 6n);
    convert = (t) => t / divisor;
  } else {
    const factor = 10n ** (6n - exponent);
    convert = (t) => t * factor;
  }
  return {
    linkType: bv.getUint16(0, le),
    snapLength: bv.getUint32(4, le),
    toMicroseconds: (ticks) => Number(convert(ticks) + offsetUs),
  };
}

/** Where the network-layer packet starts, or why the frame has none we read. */
type NetworkLayer =
  | { etherType: number; at: number }
  | { kind: FrameProblem["kind"]; reason: string };

function networkLayer(linkType: number, data: Uint8Array): NetworkLayer {
  const v = dataView(data);
  const truncated = (what: string) => ({ kind: "malformed" as const, reason: `truncated ${what}` });
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      // Ethernet II: destination, source, EtherType; each VLAN tag inserts a
      // 16-bit TCI and a further EtherType (IEEE 802.1Q, 802.1ad).
      if (data.length < ETHERNET_HEADER_LENGTH) return truncated("Ethernet header");
      let etherType = v.getUint16(12);
      let at = ETHERNET_HEADER_LENGTH;
      while (VLAN_ETHERTYPES.has(etherType)) {
        if (data.length - at < 4) return truncated("VLAN tag");
        etherType = v.getUint16(at + 2);
        at += 4;
      }
      return { etherType, at };
    }
    case LINKTYPE_LINUX_SLL:
      // Packet type (2), ARPHRD_ type (2), address length (2), address (8), protocol (2).
      if (data.length < 16) return truncated("Linux cooked (SLL) header");
      return { etherType: v.getUint16(14), at: 16 };
    case LINKTYPE_LINUX_SLL2:
      // Protocol (2), reserved (2), interface index (4), ARPHRD_ type (2),
      // packet type (1), address length (1), address (8).
      if (data.length < 20) return truncated("Linux cooked (SLL2) header");
      return { etherType: v.getUint16(0), at: 20 };
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      // A 4-octet address family: host byte order of the capturing machine
      // for NULL, network order for LOOP. The family fits in one octet, so the
      // smaller of the two readings is the right one.
      if (data.length < 4) return truncated("loopback header");
      const family = Math.min(v.getUint32(0, true), v.getUint32(0, false));
      if (family === BSD_AF_INET) return { etherType: ETHERTYPE_IPV4, at: 4 };
      if (BSD_AF_INET6.has(family)) return { etherType: ETHERTYPE_IPV6, at: 4 };
      return { etherType: -1, at: 4 };
    }
    case LINKTYPE_RAW: {
      if (data.length < 1) return truncated("raw IP packet");
      const version = data[0] >> 4;
      if (version === 4) return { etherType: ETHERTYPE_IPV4, at: 0 };
      if (version === 6) return { etherType: ETHERTYPE_IPV6, at: 0 };
      return { kind: "malformed", reason: `raw IP packet with IP version ${version}` };
    }
    case LINKTYPE_IPV4:
      return { etherType: ETHERTYPE_IPV4, at: 0 };
    case LINKTYPE_IPV6:
      return { etherType: ETHERTYPE_IPV6, at: 0 };
    default:
      return { kind: "skipped", reason: `unsupported link type ${linkType}` };
  }
}

function decodeFrame(out: Collector, f: Frame): void {
  const l3 = networkLayer(f.linkType, f.data);
  if ("reason" in l3) return report(out, f, l3.kind, l3.reason);
  if (l3.etherType === ETHERTYPE_IPV4) decodeIpv4(out, f, l3.at);
  else if (l3.etherType === ETHERTYPE_IPV6) decodeIpv6(out, f, l3.at);
}

// A header cut short is malformed, unless the capture's snapshot length cut it.
function report(out: Collector, f: Frame, kind: FrameProblem["kind"], reason: string): void {
  if (kind === "malformed" && f.data.length < f.originalLength) {
    out.problem(
      f.frame,
      "skipped",
      `captured ${f.data.length} of ${f.originalLength} octets (snapshot length): ${reason}`,
    );
  } else {
    out.problem(f.frame, kind, reason);
  }
}

// RFC 791 §3.1: Version/IHL, TOS, Total Length, Identification, Flags/Fragment
// Offset, TTL, Protocol, Header Checksum, Source, Destination, options.
function decodeIpv4(out: Collector, f: Frame, at: number): void {
  const data = f.data;
  const v = dataView(data);
  const left = data.length - at;
  if (left < IPV4_HEADER_LENGTH) return report(out, f, "malformed", "truncated IPv4 header");
  const version = data[at] >> 4;
  if (version !== 4) return report(out, f, "malformed", `IP version ${version} in an IPv4 frame`);
  const headerLength = (data[at] & 0x0f) * 4;
  if (headerLength < IPV4_HEADER_LENGTH) {
    return report(out, f, "malformed", `IPv4 header length ${headerLength} below 20`);
  }
  if (headerLength > left) return report(out, f, "malformed", "truncated IPv4 options");
  // Total Length bounds the packet: Ethernet pads short frames to 60 octets.
  const totalLength = v.getUint16(at + 2);
  if (totalLength < headerLength) {
    return report(out, f, "malformed", `IPv4 total length ${totalLength} below header length`);
  }
  if (totalLength > left) {
    return report(out, f, "malformed", `IPv4 total length ${totalLength} exceeds ${left} octets`);
  }
  const flagsAndOffset = v.getUint16(at + 6);
  const moreFragments = (flagsAndOffset & 0x2000) !== 0;
  const fragmentOffset = (flagsAndOffset & 0x1fff) * 8;
  if (moreFragments || fragmentOffset !== 0) {
    return report(
      out,
      f,
      "skipped",
      `IPv4 fragment (offset ${fragmentOffset}, more fragments ${moreFragments ? 1 : 0})`,
    );
  }
  if (data[at + 9] !== IPPROTO_UDP) return;
  decodeUdp(
    out,
    f,
    at + headerLength,
    at + totalLength,
    formatIpv4(data.subarray(at + 12, at + 16)),
    formatIpv4(data.subarray(at + 16, at + 20)),
  );
}

// RFC 8200 §3 fixed header, then the extension headers of §4 up to UDP.
function decodeIpv6(out: Collector, f: Frame, at: number): void {
  const data = f.data;
  const v = dataView(data);
  if (data.length - at < IPV6_HEADER_LENGTH) {
    return report(out, f, "malformed", "truncated IPv6 header");
  }
  const version = data[at] >> 4;
  if (version !== 6) return report(out, f, "malformed", `IP version ${version} in an IPv6 frame`);
  const payloadLength = v.getUint16(at + 4);
  const end = at + IPV6_HEADER_LENGTH + payloadLength;
  if (end > data.length) {
    return report(
      out,
      f,
      "malformed",
      `IPv6 payload length ${payloadLength} exceeds ${
        data.length - at - IPV6_HEADER_LENGTH
      } octets`,
    );
  }
  let next = data[at + 6];
  let p = at + IPV6_HEADER_LENGTH;
  for (;;) {
    switch (next) {
      case IPPROTO_HOPOPTS:
      case IPPROTO_ROUTING:
      case IPPROTO_DSTOPTS: {
        // §4.3, §4.4, §4.6: Next Header, Hdr Ext Len in 8-octet units beyond the first 8.
        if (end - p < 8) {
          return report(out, f, "malformed", `truncated IPv6 extension header ${next}`);
        }
        const length = (data[p + 1] + 1) * 8;
        if (length > end - p) {
          return report(out, f, "malformed", `IPv6 extension header ${next} overruns the payload`);
        }
        next = data[p];
        p += length;
        break;
      }
      case IPPROTO_FRAGMENT: {
        // §4.5: Next Header, reserved, Fragment Offset (13 bits) | Res | M, Identification.
        // An atomic fragment (offset 0, M clear; RFC 6946) is a whole packet.
        if (end - p < 8) return report(out, f, "malformed", "truncated IPv6 Fragment header");
        const offsetAndFlags = v.getUint16(p + 2);
        const moreFragments = (offsetAndFlags & 1) !== 0;
        const fragmentOffset = offsetAndFlags & 0xfff8;
        if (moreFragments || fragmentOffset !== 0) {
          return report(
            out,
            f,
            "skipped",
            `IPv6 fragment (offset ${fragmentOffset}, more fragments ${moreFragments ? 1 : 0})`,
          );
        }
        next = data[p];
        p += 8;
        break;
      }
      case IPPROTO_UDP:
        return decodeUdp(
          out,
          f,
          p,
          end,
          `[${formatIpv6(data.subarray(at + 8, at + 24))}]`,
          `[${formatIpv6(data.subarray(at + 24, at + 40))}]`,
        );
      default:
        return;
    }
  }
}

// RFC 768: Source Port, Destination Port, Length (header included), Checksum.
function decodeUdp(
  out: Collector,
  f: Frame,
  at: number,
  end: number,
  srcHost: string,
  dstHost: string,
): void {
  const data = f.data;
  const v = dataView(data);
  if (end - at < UDP_HEADER_LENGTH) return report(out, f, "malformed", "truncated UDP header");
  const length = v.getUint16(at + 4);
  if (length < UDP_HEADER_LENGTH) {
    return report(out, f, "malformed", `UDP length ${length} below 8`);
  }
  if (length > end - at) {
    return report(
      out,
      f,
      "malformed",
      `UDP length ${length} exceeds ${end - at} octets of IP payload`,
    );
  }
  const srcPort = v.getUint16(at);
  const dstPort = v.getUint16(at + 2);
  out.datagrams.push({
    frame: f.frame,
    timeUs: f.timeUs,
    src: `${srcHost}:${srcPort}`,
    dst: `${dstHost}:${dstPort}`,
    srcPort,
    dstPort,
    payload: data.subarray(at + UDP_HEADER_LENGTH, at + length),
  });
}

function formatIpv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

// RFC 5952 §4: lower-case hex, no leading zeros, "::" for the first longest
// run of two or more zero groups; §5: IPv4-mapped addresses in dotted form.
function formatIpv6(b: Uint8Array): string {
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return `::ffff:${formatIpv4(b.subarray(12, 16))}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

// ---------------------------------------------------------------------------
// Writers

/**
 * Writes datagrams as a classic pcap file: little-endian, microsecond
 * stamps, one Ethernet II (default) or raw IP frame each, IPv4 or IPv6 by the
 * form of the addresses, with correct IPv4 header and UDP checksums.
 * Throws {@link EncodeError} on a malformed address, mixed address families,
 * an oversized payload or a bad timestamp.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writePcap } from "./pcap.ts";
 *
 * const file = writePcap(
 *   [{ src: "[2001:db8::1]:1701", dst: "[2001:db8::2]:1701", payload: new Uint8Array(4) }],
 *   { linkType: "raw" },
 * );
 * // File header, record header, IPv6 header, UDP header, payload.
 * assert.equal(file.length, 24 + 16 + 40 + 8 + 4);
 * ```
 */
export function writePcap(
  datagrams: readonly DatagramToWrite[],
  options: WriteCaptureOptions = {},
): Uint8Array {
  const ethernet = (options.linkType ?? "ethernet") === "ethernet";
  const frames = datagrams.map((d) => ({ data: buildFrame(d, ethernet), timeUs: timeOf(d) }));
  const size = frames.reduce((n, fr) => n + PCAP_RECORD_HEADER_LENGTH + fr.data.length, 0);
  const out = new Uint8Array(PCAP_FILE_HEADER_LENGTH + size);
  const v = dataView(out);
  v.setUint32(0, PCAP_MAGIC_US, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 0x40000, true); // SnapLen: the libpcap default of 262144
  v.setUint32(20, ethernet ? LINKTYPE_ETHERNET : LINKTYPE_RAW, true);
  let at = PCAP_FILE_HEADER_LENGTH;
  for (const { data, timeUs } of frames) {
    if (timeUs >= 2 ** 32 * 1e6) throw new EncodeError(`timeUs ${timeUs} beyond 32-bit seconds`);
    v.setUint32(at, Math.floor(timeUs / 1e6), true);
    v.setUint32(at + 4, timeUs % 1e6, true);
    v.setUint32(at + 8, data.length, true);
    v.setUint32(at + 12, data.length, true);
    out.set(data, at + PCAP_RECORD_HEADER_LENGTH);
    at += PCAP_RECORD_HEADER_LENGTH + data.length;
  }
  return out;
}

/**
 * Writes datagrams as a pcapng file: one little-endian Section Header Block,
 * one Interface Description Block (microsecond stamps, the default
 * `if_tsresol`), and an Enhanced Packet Block per datagram. Frames are built
 * and validated as in {@link writePcap}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCapture, writePcapng } from "./pcap.ts";
 *
 * const file = writePcapng([
 *   { src: "192.0.2.1:1701", dst: "192.0.2.2:1702", payload: new Uint8Array(3), timeUs: 1_500_000 },
 * ]);
 * const r = readCapture(file);
 * assert.ok(r.ok);
 * assert.equal(r.value.format, "pcapng");
 * assert.equal(r.value.datagrams[0].timeUs, 1_500_000);
 * assert.equal(r.value.datagrams[0].dstPort, 1702);
 * ```
 */
export function writePcapng(
  datagrams: readonly DatagramToWrite[],
  options: WriteCaptureOptions = {},
): Uint8Array {
  const ethernet = (options.linkType ?? "ethernet") === "ethernet";
  const frames = datagrams.map((d) => ({ data: buildFrame(d, ethernet), timeUs: timeOf(d) }));
  const SHB_LENGTH = 28;
  const IDB_LENGTH = 20;
  const EPB_FIXED_LENGTH = 32;
  const size = frames.reduce((n, fr) => n + EPB_FIXED_LENGTH + pad4(fr.data.length), 0);
  const out = new Uint8Array(SHB_LENGTH + IDB_LENGTH + size);
  const v = dataView(out);
  const block = (at: number, type: number, total: number) => {
    v.setUint32(at, type, true);
    v.setUint32(at + 4, total, true);
    v.setUint32(at + total - 4, total, true);
  };
  block(0, PCAPNG_SHB, SHB_LENGTH);
  v.setUint32(8, PCAPNG_BYTE_ORDER_MAGIC, true);
  v.setUint16(12, 1, true);
  v.setUint16(14, 0, true);
  v.setBigInt64(16, -1n, true); // Section Length: not specified
  block(SHB_LENGTH, PCAPNG_IDB, IDB_LENGTH);
  v.setUint16(SHB_LENGTH + 8, ethernet ? LINKTYPE_ETHERNET : LINKTYPE_RAW, true);
  v.setUint32(SHB_LENGTH + 12, 0, true); // SnapLen 0: no limit
  let at = SHB_LENGTH + IDB_LENGTH;
  for (const { data, timeUs } of frames) {
    const total = EPB_FIXED_LENGTH + pad4(data.length);
    block(at, PCAPNG_EPB, total);
    v.setUint32(at + 8, 0, true); // Interface ID
    v.setUint32(at + 12, Math.floor(timeUs / 2 ** 32), true);
    v.setUint32(at + 16, timeUs % 2 ** 32, true);
    v.setUint32(at + 20, data.length, true);
    v.setUint32(at + 24, data.length, true);
    out.set(data, at + 28);
    at += total;
  }
  return out;
}

function timeOf(d: DatagramToWrite): number {
  const t = d.timeUs ?? 0;
  if (!Number.isSafeInteger(t) || t < 0) {
    throw new EncodeError(`timeUs must be a non-negative safe integer, got ${t}`);
  }
  return t;
}

// Locally administered unicast MACs: the writer has no real link to describe.
const SRC_MAC = [0x02, 0, 0, 0, 0, 0x01];
const DST_MAC = [0x02, 0, 0, 0, 0, 0x02];

function buildFrame(d: DatagramToWrite, ethernet: boolean): Uint8Array {
  const src = parseEndpoint(d.src);
  const dst = parseEndpoint(d.dst);
  if (src.address.length !== dst.address.length) {
    throw new EncodeError(`mixed address families: ${d.src} -> ${d.dst}`);
  }
  const ipv6 = src.address.length === 16;
  const ipHeaderLength = ipv6 ? IPV6_HEADER_LENGTH : IPV4_HEADER_LENGTH;
  const udpLength = UDP_HEADER_LENGTH + d.payload.length;
  const maxUdpLength = ipv6 ? MAX_IP_LENGTH : MAX_IP_LENGTH - IPV4_HEADER_LENGTH;
  if (udpLength > maxUdpLength) {
    throw new EncodeError(
      `payload of ${d.payload.length} octets exceeds ${maxUdpLength - UDP_HEADER_LENGTH}`,
    );
  }
  const l2 = ethernet ? ETHERNET_HEADER_LENGTH : 0;
  const out = new Uint8Array(l2 + ipHeaderLength + udpLength);
  const v = dataView(out);
  if (ethernet) {
    out.set(DST_MAC, 0);
    out.set(SRC_MAC, 6);
    v.setUint16(12, ipv6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
  }
  const ip = l2;
  if (ipv6) {
    out[ip] = 0x60;
    v.setUint16(ip + 4, udpLength);
    out[ip + 6] = IPPROTO_UDP;
    out[ip + 7] = 64; // Hop Limit
    out.set(src.address, ip + 8);
    out.set(dst.address, ip + 24);
  } else {
    out[ip] = 0x45;
    v.setUint16(ip + 2, IPV4_HEADER_LENGTH + udpLength);
    v.setUint16(ip + 6, 0x4000); // DF, so Identification 0 is fine (RFC 6864 §4.1)
    out[ip + 8] = 64; // TTL
    out[ip + 9] = IPPROTO_UDP;
    out.set(src.address, ip + 12);
    out.set(dst.address, ip + 16);
    v.setUint16(ip + 10, ~onesComplementSum(out, ip, ip + IPV4_HEADER_LENGTH, 0) & 0xffff);
  }
  const udp = ip + ipHeaderLength;
  v.setUint16(udp, src.port);
  v.setUint16(udp + 2, dst.port);
  v.setUint16(udp + 4, udpLength);
  out.set(d.payload, udp + UDP_HEADER_LENGTH);
  // Pseudo-header (RFC 768; RFC 8200 §8.1): addresses, protocol, UDP length.
  let sum = onesComplementSum(src.address, 0, src.address.length, IPPROTO_UDP + udpLength);
  sum = onesComplementSum(dst.address, 0, dst.address.length, sum);
  sum = onesComplementSum(out, udp, udp + udpLength, sum);
  // A computed zero is sent as all ones: zero means "no checksum" (RFC 768).
  v.setUint16(udp + 6, ~sum & 0xffff || 0xffff);
  return out;
}

/** Folded 16-bit ones' complement sum of big-endian words in `b[start, end)`, plus `acc`. */
function onesComplementSum(b: Uint8Array, start: number, end: number, acc: number): number {
  let sum = acc;
  for (let i = start; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if ((end - start) % 2 === 1) sum += b[end - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function parseEndpoint(s: string): { address: Uint8Array; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : -1;
  const address = m ? (m[1] !== undefined ? parseIpv6(m[1]) : parseIpv4(m[2])) : null;
  if (address === null || port > 0xffff) {
    throw new EncodeError(`not an "a.b.c.d:port" or "[v6]:port" endpoint: ${JSON.stringify(s)}`);
  }
  return { address, port };
}

function parseIpv4(s: string): Uint8Array | null {
  if (!/^\d{1,3}(?:\.\d{1,3}){3}$/.test(s)) return null;
  const parts = s.split(".").map(Number);
  if (parts.some((x) => x > 255)) return null;
  return Uint8Array.from(parts);
}

// RFC 4291 §2.2 text forms: eight groups, one "::" for a run of zero groups,
// and an optional dotted IPv4 tail.
function parseIpv6(s: string): Uint8Array | null {
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (h: string, dottedTail: boolean): number[] | null => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (const [i, part] of parts.entries()) {
      if (dottedTail && i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const compressed = halves.length === 2;
  const head = groupsOf(halves[0], !compressed);
  const tail = compressed ? groupsOf(halves[1], true) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (compressed ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}
