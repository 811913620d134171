import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Capture,
  type CaptureResult,
  type DatagramToWrite,
  readCapture,
  writePcap,
  writePcapng,
} from "./pcap.ts";

const hex = (s: string) =>
  Uint8Array.from((s.replace(/\s+/g, "").match(/../g) ?? []).map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

function expectCapture(r: CaptureResult): Capture {
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.value;
}

// A UDP datagram 192.0.2.1:1701 -> 192.0.2.2:1701 carrying one octet 0xab.
// Header checksums are left zero: the reader does not verify them.
const IPV4_UDP = hex(`
  4500 001d 0000 4000 4011 0000 c000 0201 c000 0202
  06a5 06a5 0009 0000 ab`);
// The same datagram between 2001:db8::1 and 2001:db8::2.
const IPV6_UDP = hex(`
  6000 0000 0009 1140
  2001 0db8 0000 0000 0000 0000 0000 0001
  2001 0db8 0000 0000 0000 0000 0000 0002
  06a5 06a5 0009 0000 ab`);
const ETHERNET_IPV4 = hex("0200 0000 0002 0200 0000 0001 0800");

/** A little-endian microsecond classic pcap of `frames` (draft-ietf-opsawg-pcap "File Header"). */
function pcapFile(linkType: number, frames: Uint8Array[], originalLengths: number[] = []) {
  const header = new Uint8Array(24);
  const v = new DataView(header.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 0xffff, true);
  v.setUint32(20, linkType, true);
  const records = frames.map((f, i) => {
    const r = new Uint8Array(16 + f.length);
    const rv = new DataView(r.buffer);
    rv.setUint32(0, 100 + i, true);
    rv.setUint32(8, f.length, true);
    rv.setUint32(12, originalLengths[i] ?? f.length, true);
    r.set(f, 16);
    return r;
  });
  return concat(header, ...records);
}

/** A pcapng block (draft-ietf-opsawg-pcapng "General Block Structure"), body padded to 4. */
function pcapngBlock(le: boolean, type: number, body: Uint8Array) {
  const total = 12 + ((body.length + 3) & ~3);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, total, le);
  out.set(body, 8);
  v.setUint32(total - 4, total, le);
  return out;
}

const single = (c: Capture) => {
  assert.deepEqual(c.problems, []);
  assert.equal(c.datagrams.length, 1);
  return c.datagrams[0];
};

// ---------------------------------------------------------------------------
// Hand-built vectors

Deno.test({
  name: "pcap: big-endian classic file with raw IP link type",
  permissions: "none",
  fn() {
    const file = concat(
      // magic, version 2.4, thiszone, sigfigs, snaplen 65535, LINKTYPE_RAW (101)
      hex("a1b2c3d4 0002 0004 00000000 00000000 0000ffff 00000065"),
      // 1 s + 2 µs, captured 29, original 29
      hex("00000001 00000002 0000001d 0000001d"),
      IPV4_UDP,
    );
    const c = expectCapture(readCapture(file));
    assert.equal(c.format, "pcap");
    assert.deepEqual(single(c), {
      frame: 1,
      timeUs: 1_000_002,
      src: "192.0.2.1:1701",
      dst: "192.0.2.2:1701",
      srcPort: 1701,
      dstPort: 1701,
      payload: hex("ab"),
    });
  },
});

Deno.test({
  name: "pcap: nanosecond magic, and IPv4 Total Length wins over Ethernet padding",
  permissions: "none",
  fn() {
    // Ethernet pads the 43-octet frame to 60 octets with zeros.
    const frame = concat(ETHERNET_IPV4, IPV4_UDP, new Uint8Array(60 - 14 - IPV4_UDP.length));
    const file = concat(
      hex("4d3cb2a1 0200 0400 00000000 00000000 ffff0000 01000000"),
      hex("01000000 15cd5b07 3c000000 3c000000"), // 1 s + 123456789 ns, 60 octets
      frame,
    );
    const d = single(expectCapture(readCapture(file)));
    assert.equal(d.timeUs, 1_123_456);
    assert.deepEqual(d.payload, hex("ab"));
  },
});

Deno.test({
  name: "pcapng: big-endian section, if_tsresol, skipped blocks, then a little-endian section",
  permissions: "none",
  fn() {
    const file = concat(
      // Section Header Block, big-endian: type, length 28, byte-order magic,
      // version 1.0, Section Length -1 (unknown), trailing length.
      hex("0a0d0d0a 0000001c 1a2b3c4d 0001 0000 ffffffff ffffffff 0000001c"),
      // Interface Description Block: LINKTYPE_RAW, snaplen 0, if_tsresol = 9
      // (nanoseconds), opt_endofopt.
      pcapngBlock(false, 1, hex("0065 0000 00000000 0009 0001 09000000 0000 0000")),
      // A Name Resolution Block (type 4) and an unknown type: skipped by length.
      pcapngBlock(false, 4, hex("0000 0000")),
      pcapngBlock(false, 0x0bad, hex("01020304 05")),
      // Enhanced Packet Block: interface 0, 1.5e9 ns, captured 29, original 29.
      pcapngBlock(false, 6, concat(hex("00000000 00000000 59682f00 0000001d 0000001d"), IPV4_UDP)),
      // A new little-endian section forgets the interfaces of the first.
      pcapngBlock(true, 0x0a0d0d0a, hex("4d3c2b1a 0100 0000 ffffffff ffffffff")),
      pcapngBlock(true, 1, hex("0100 0000 00000000")), // Ethernet, default µs resolution
      // Simple Packet Block: original length, then the frame.
      pcapngBlock(true, 3, concat(hex("2b000000"), ETHERNET_IPV4, IPV4_UDP)),
    );
    const c = expectCapture(readCapture(file));
    assert.equal(c.format, "pcapng");
    assert.deepEqual(c.problems, []);
    assert.deepEqual(
      c.datagrams.map((d) => [d.frame, d.timeUs, d.src, toHex(d.payload)]),
      [[1, 1_500_000, "192.0.2.1:1701", "ab"], [2, null, "192.0.2.1:1701", "ab"]],
    );
  },
});

Deno.test({
  name: "pcapng: if_tsresol in powers of two and if_tsoffset in seconds",
  permissions: "none",
  fn() {
    const file = concat(
      pcapngBlock(true, 0x0a0d0d0a, hex("4d3c2b1a 0100 0000 ffffffff ffffffff")),
      // LINKTYPE_IPV4, if_tsresol 0x8a (2^-10 s), if_tsoffset 100 s.
      pcapngBlock(true, 1, hex("e400 0000 00000000 0900 0100 8a000000 0e00 0800 6400000000000000")),
      // 512 ticks of 2^-10 s is 0.5 s.
      pcapngBlock(true, 6, concat(hex("00000000 00000000 00020000 1d000000 1d000000"), IPV4_UDP)),
    );
    assert.equal(single(expectCapture(readCapture(file))).timeUs, 100_500_000);
  },
});

Deno.test({
  name: "link types: Linux cooked SLL and SLL2",
  permissions: "none",
  fn() {
    // SLL: packet type 0 (to us), ARPHRD_ETHER, address length 6, address
    // padded to 8, protocol 0x0800.
    const sll = concat(hex("0000 0001 0006 0200 0000 0001 0000 0800"), IPV4_UDP);
    assert.equal(single(expectCapture(readCapture(pcapFile(113, [sll])))).src, "192.0.2.1:1701");
    // SLL2: protocol 0x86dd, reserved, interface index 2, ARPHRD_ETHER,
    // packet type 4 (outgoing), address length 6, address padded to 8.
    const sll2 = concat(hex("86dd 0000 00000002 0001 04 06 0200 0000 0001 0000"), IPV6_UDP);
    const d = single(expectCapture(readCapture(pcapFile(276, [sll2]))));
    assert.equal(d.src, "[2001:db8::1]:1701");
    assert.equal(d.dst, "[2001:db8::2]:1701");
    assert.deepEqual(d.payload, hex("ab"));
  },
});

Deno.test({
  name: "link types: Ethernet with an 802.1ad S-tag and an 802.1Q C-tag",
  permissions: "none",
  fn() {
    const frame = concat(hex("0200 0000 0002 0200 0000 0001 88a8 0064 8100 00c8 0800"), IPV4_UDP);
    const d = single(expectCapture(readCapture(pcapFile(1, [frame]))));
    assert.equal(d.dst, "192.0.2.2:1701");
    assert.deepEqual(d.payload, hex("ab"));
  },
});

Deno.test({
  name: "link types: BSD null in either byte order, and raw IPv4/IPv6 link types",
  permissions: "none",
  fn() {
    const file = pcapFile(0, [
      concat(hex("02000000"), IPV4_UDP), // AF_INET, little-endian host
      concat(hex("0000001e"), IPV6_UDP), // Darwin AF_INET6 (30), big-endian host
      concat(hex("07000000"), IPV4_UDP), // some other family: not IP, not a problem
    ]);
    const c = expectCapture(readCapture(file));
    assert.deepEqual(c.problems, []);
    assert.deepEqual(c.datagrams.map((d) => [d.frame, d.src]), [
      [1, "192.0.2.1:1701"],
      [2, "[2001:db8::1]:1701"],
    ]);
    assert.equal(single(expectCapture(readCapture(pcapFile(228, [IPV4_UDP])))).frame, 1);
    assert.equal(single(expectCapture(readCapture(pcapFile(229, [IPV6_UDP])))).frame, 1);
  },
});

Deno.test({
  name: "IPv4: options are skipped by IHL",
  permissions: "none",
  fn() {
    // IHL 6: a Router Alert option (RFC 2113), total length 33.
    const packet = hex(`
      4600 0021 0000 4000 4011 0000 c000 0201 c000 0202 9404 0000
      06a5 06a5 0009 0000 ab`);
    assert.deepEqual(
      single(expectCapture(readCapture(pcapFile(101, [packet])))).payload,
      hex("ab"),
    );
  },
});

Deno.test({
  name: "IPv6: Hop-by-Hop, Destination Options and atomic Fragment headers are skipped",
  permissions: "none",
  fn() {
    const packet = hex(`
      6000 0000 0029 0040
      2001 0db8 0000 0000 0000 0000 0000 0001
      2001 0db8 0000 0000 0000 0000 0000 0002
      3c00 0502 0000 0100
      2c01 0000 0000 0000 0000 0000 0000 0000
      1100 0000 0000 0001
      06a5 06a5 0009 0000 ab`);
    // Hop-by-Hop (Router Alert, PadN) -> Destination Options (16 octets of
    // padding) -> Fragment (offset 0, M clear: RFC 6946 atomic) -> UDP.
    const d = single(expectCapture(readCapture(pcapFile(101, [packet]))));
    assert.equal(d.src, "[2001:db8::1]:1701");
    assert.deepEqual(d.payload, hex("ab"));
  },
});

Deno.test({
  name: "fragments: IPv4 first and later pieces, and IPv6 fragments, are skipped",
  permissions: "none",
  fn() {
    const first = hex("4500 001d 0001 2000 4011 0000 c000 0201 c000 0202 06a5 06a5 0011 0000 ab");
    const later = hex("4500 0015 0001 0001 4011 0000 c000 0201 c000 0202 cd");
    const v6 = hex(`
      6000 0000 0010 2c40
      2001 0db8 0000 0000 0000 0000 0000 0001
      2001 0db8 0000 0000 0000 0000 0000 0002
      1100 0008 0000 0007 cdcd cdcd cdcd cdcd`);
    const c = expectCapture(readCapture(pcapFile(101, [first, later, v6])));
    assert.deepEqual(c.datagrams, []);
    assert.deepEqual(c.problems, [
      { frame: 1, kind: "skipped", reason: "IPv4 fragment (offset 0, more fragments 1)" },
      { frame: 2, kind: "skipped", reason: "IPv4 fragment (offset 8, more fragments 0)" },
      { frame: 3, kind: "skipped", reason: "IPv6 fragment (offset 8, more fragments 0)" },
    ]);
  },
});

Deno.test({
  name: "problems: malformed headers, snapshot-cut frames, non-UDP and unknown link types",
  permissions: "none",
  fn() {
    const badUdpLength = IPV4_UDP.slice();
    badUdpLength[25] = 0x20; // UDP Length 32 beyond the 9 octets of IP payload
    const icmp = IPV4_UDP.slice();
    icmp[9] = 1;
    const c = expectCapture(readCapture(pcapFile(101, [
      badUdpLength,
      IPV4_UDP.subarray(0, 25),
      IPV4_UDP.subarray(0, 25),
      IPV4_UDP,
      icmp,
      hex("45"),
    ], [29, 25, 29, 80])));
    assert.deepEqual(c.problems.map((p) => [p.frame, p.kind]), [
      [1, "malformed"],
      [2, "malformed"], // Total Length 29, yet the frame was 25 octets on the wire
      [3, "skipped"], // captured 25 of 29: the snapshot length cut it
      [6, "malformed"],
    ]);
    // Captured short of the original length, but the IP packet is whole.
    assert.deepEqual(c.datagrams.map((d) => d.frame), [4]);
    const unknown = expectCapture(readCapture(pcapFile(147, [IPV4_UDP])));
    assert.deepEqual(unknown.problems, [{
      frame: 1,
      kind: "skipped",
      reason: "unsupported link type 147",
    }]);
  },
});

Deno.test({
  name: "damaged files: not a capture, truncated record, bad block lengths",
  permissions: "none",
  fn() {
    assert.equal(readCapture(hex("")).ok, false);
    assert.equal(readCapture(hex("00112233 44556677")).ok, false);
    assert.equal(readCapture(hex("d4c3b2a1 0200")).ok, false);

    const file = pcapFile(101, [IPV4_UDP, IPV4_UDP]);
    const cut = expectCapture(readCapture(file.subarray(0, file.length - 1)));
    assert.equal(cut.datagrams.length, 1);
    assert.deepEqual(cut.problems.map((p) => [p.frame, p.kind]), [[2, "malformed"]]);

    const ng = writePcapng([{ src: "192.0.2.1:1", dst: "192.0.2.2:2", payload: hex("00") }]);
    const badTrailer = ng.slice();
    badTrailer[badTrailer.length - 4] ^= 4;
    const notMultipleOf4 = ng.slice();
    notMultipleOf4[28 + 20 + 4] += 1; // first EPB's leading length
    for (const damaged of [badTrailer, notMultipleOf4, ng.subarray(0, ng.length - 4)]) {
      const c = expectCapture(readCapture(damaged));
      assert.deepEqual(c.datagrams, []);
      assert.deepEqual(c.problems.map((p) => [p.frame, p.kind]), [[1, "malformed"]]);
    }
  },
});

// ---------------------------------------------------------------------------
// Writer -> reader round trip

const port = fc.integer({ min: 0, max: 0xffff });
const endpointPair = fc.oneof(
  fc.tuple(fc.ipV4(), fc.ipV4(), port, port).map(([a, b, p, q]) => ({
    src: `${a}:${p}`,
    dst: `${b}:${q}`,
  })),
  fc.tuple(fc.ipV6(), fc.ipV6(), port, port).map(([a, b, p, q]) => ({
    src: `[${a}]:${p}`,
    dst: `[${b}]:${q}`,
  })),
);
const datagram: fc.Arbitrary<DatagramToWrite> = fc.record({
  endpoints: endpointPair,
  payload: fc.uint8Array({ maxLength: 1500 }),
  timeUs: fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
}).map(({ endpoints, payload, timeUs }) => ({ ...endpoints, payload, timeUs }));

/**
 * The text form the reader must produce: IPv4 as written, IPv6 in RFC 5952
 * form. WHATWG URL serialises IPv6 as RFC 5952 does except that it keeps
 * IPv4-mapped addresses in hex, which RFC 5952 §5 writes dotted.
 */
function canonical(endpoint: string): string {
  if (!endpoint.startsWith("[")) return endpoint;
  const [, host, p] = /^(\[.*\]):(\d+)$/.exec(endpoint)!;
  let h = new URL(`http://${host}/`).hostname;
  const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(h);
  if (mapped) {
    const [a, b] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
    h = `[::ffff:${a >> 8}.${a & 0xff}.${b >> 8}.${b & 0xff}]`;
  }
  return `${h}:${p}`;
}

for (const format of ["pcap", "pcapng"] as const) {
  for (const linkType of ["ethernet", "raw"] as const) {
    Deno.test({
      name: `round trip: ${format} over ${linkType}, IPv4 and IPv6, random datagrams`,
      permissions: "none",
      fn() {
        const write = format === "pcap" ? writePcap : writePcapng;
        fc.assert(
          fc.property(fc.array(datagram, { maxLength: 8 }), (datagrams) => {
            const fitsPcap = datagrams.every((d) => (d.timeUs ?? 0) < 2 ** 32 * 1e6);
            fc.pre(format === "pcapng" || fitsPcap);
            const file = write(datagrams, { linkType });
            const c = expectCapture(readCapture(file));
            assert.equal(c.format, format);
            assert.deepEqual(c.problems, []);
            assert.deepEqual(
              c.datagrams.map((d) => ({ ...d, payload: toHex(d.payload) })),
              datagrams.map((d, i) => ({
                frame: i + 1,
                timeUs: d.timeUs ?? 0,
                src: canonical(d.src),
                dst: canonical(d.dst),
                srcPort: Number(d.src.slice(d.src.lastIndexOf(":") + 1)),
                dstPort: Number(d.dst.slice(d.dst.lastIndexOf(":") + 1)),
                payload: toHex(d.payload),
              })),
            );
            for (const d of c.datagrams) assert.equal(d.payload.buffer, file.buffer);
            // The reader's text forms are valid writer input for the same bytes.
            assert.deepEqual(
              write(c.datagrams.map((d) => ({ ...d, timeUs: d.timeUs ?? undefined })), {
                linkType,
              }),
              file,
            );
          }),
          { numRuns: 200 },
        );
      },
    });
  }
}

Deno.test({
  name: "writer: rejects malformed endpoints, mixed families, oversized payloads, bad times",
  permissions: "none",
  fn() {
    const payload = new Uint8Array(0);
    const bad: DatagramToWrite[] = [
      { src: "192.0.2.1", dst: "192.0.2.2:1", payload },
      { src: "192.0.2.256:1", dst: "192.0.2.2:1", payload },
      { src: "192.0.2.1:65536", dst: "192.0.2.2:1", payload },
      { src: "[1::2::3]:1", dst: "[::1]:1", payload },
      { src: "[1:2:3:4:5:6:7:8:9]:1", dst: "[::1]:1", payload },
      { src: "[1.2.3.4::1]:1", dst: "[::1]:1", payload },
      { src: "[::1..2.3]:1", dst: "[::1]:1", payload },
      { src: "192.0.2.1:1", dst: "[::1]:1", payload },
      { src: "192.0.2.1:1", dst: "192.0.2.2:1", payload: new Uint8Array(65508) },
      { src: "[::1]:1", dst: "[::1]:1", payload: new Uint8Array(65528) },
      { src: "192.0.2.1:1", dst: "192.0.2.2:1", payload, timeUs: -1 },
      { src: "192.0.2.1:1", dst: "192.0.2.2:1", payload, timeUs: 0.5 },
    ];
    for (const d of bad) assert.throws(() => writePcapng([d]), { name: "EncodeError" }, d.src);
    assert.throws(
      () => writePcap([{ src: "192.0.2.1:1", dst: "192.0.2.2:1", payload, timeUs: 2 ** 32 * 1e6 }]),
      { name: "EncodeError" },
    );
    // The largest payloads fit.
    writePcap([{ src: "192.0.2.1:1", dst: "192.0.2.2:1", payload: new Uint8Array(65507) }]);
    writePcap([{ src: "[::1]:1", dst: "[::1]:1", payload: new Uint8Array(65527) }]);
  },
});

// ---------------------------------------------------------------------------
// Cross-checks with Wireshark's tools

async function run(command: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(command, { args, stdin: "null" })
    .output();
  const text = new TextDecoder();
  assert.equal(code, 0, `${command} ${args.join(" ")}: ${text.decode(stderr)}`);
  return text.decode(stdout);
}

async function withTempFile<T>(suffix: string, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ prefix: "lts-pcap-", suffix });
  try {
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

/**
 * tshark prints IPv6 as glibc inet_ntop does, which also writes the deprecated
 * IPv4-compatible form `::a.b.c.d` dotted; RFC 5952 §5 (and our reader)
 * keeps mixed notation for IPv4-mapped addresses only.
 */
function fromInetNtop(field: string): string {
  const compatible = /^::(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(field);
  if (!compatible) return field;
  const [a, b, c, d] = compatible.slice(1).map(Number);
  return `::${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/** `"[::1]:7"` -> `["::1", "7"]`, as tshark prints address and port. */
const splitEndpoint = (e: string) => {
  const colon = e.lastIndexOf(":");
  return [e.slice(0, colon).replace(/^\[|\]$/g, ""), e.slice(colon + 1)];
};

const TSHARK_CHECKS = ["-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"];

const DATAGRAM_FIELDS = [
  "frame.number",
  "frame.time_epoch",
  "ip.src",
  "ipv6.src",
  "ip.dst",
  "ipv6.dst",
  "udp.srcport",
  "udp.dstport",
  "udp.length",
  "udp.checksum.status",
  "ip.checksum.status",
  "data.data",
  "_ws.malformed",
  "_ws.expert.severity", // last: popped off each row and checked apart
];

// Expert Info severities (epan/proto.h): only Chat and Note are no complaint.
const PI_WARN = 0x00600000;

for (const format of ["pcap", "pcapng"] as const) {
  for (const linkType of ["ethernet", "raw"] as const) {
    Deno.test(`tshark: reads our ${format} over ${linkType} with good checksums, no warnings`, async () => {
      // One tshark run per case: each starts in about a second.
      await fc.assert(
        fc.asyncProperty(
          fc.array(datagram, { minLength: 1, maxLength: 16 }),
          async (datagrams) => {
            const ds = datagrams.map((d) => ({
              ...d,
              timeUs: (d.timeUs ?? 0) % (2 ** 32 * 1e6), // classic pcap has 32-bit seconds
            }));
            const file = (format === "pcap" ? writePcap : writePcapng)(ds, { linkType });
            const fields = await withTempFile(`.${format}`, async (path) => {
              await Deno.writeFile(path, file);
              // Decode every port as plain data, so that a random payload on a
              // well-known port is not judged by that port's dissector.
              return await run("tshark", [
                "-n",
                "-r",
                path,
                ...TSHARK_CHECKS,
                "-d",
                "udp.port==0-65535,data",
                "-T",
                "fields",
                "-E",
                "separator=|",
                "-E",
                "aggregator=,",
                ...DATAGRAM_FIELDS.flatMap((f) => ["-e", f]),
              ]);
            });
            const rows = fields.trimEnd().split("\n").map((line) =>
              line.split("|").map(fromInetNtop)
            );
            // Random ports may earn Chat notes such as "Possible traceroute"; nothing worse.
            const severities = rows.map((row) => row.pop()!).flatMap((s) => s ? s.split(",") : []);
            assert.ok(
              severities.every((s) => Number(s) < PI_WARN),
              `expert severities ${severities}`,
            );
            assert.deepEqual(
              rows,
              ds.map((d, i) => {
                const v6 = d.src.startsWith("[");
                const [src, srcPort] = splitEndpoint(canonical(d.src));
                const [dst, dstPort] = splitEndpoint(canonical(d.dst));
                return [
                  String(i + 1),
                  `${Math.floor(d.timeUs / 1e6)}.${String(d.timeUs % 1e6).padStart(6, "0")}000`,
                  v6 ? "" : src,
                  v6 ? src : "",
                  v6 ? "" : dst,
                  v6 ? dst : "",
                  srcPort,
                  dstPort,
                  String(d.payload.length + 8),
                  "1", // UDP checksum: Good
                  v6 ? "" : "1", // IPv4 header checksum: Good
                  toHex(d.payload),
                  "", // not malformed
                ];
              }),
            );
          },
        ),
        { numRuns: 4 },
      );
    });
  }
}

Deno.test("tshark: an L2TP ZLB ACK we write on port 1701 dissects as L2TP without complaint", async () => {
  const zlb = hex("c802 000c 0001 0000 0003 0002"); // RFC 2661 §5.8: header only, Ns 3, Nr 2
  const file = writePcap([
    { src: "192.0.2.1:1701", dst: "192.0.2.2:1701", payload: zlb },
    { src: "[2001:db8::1]:1701", dst: "[2001:db8::2]:1701", payload: zlb },
  ]);
  const out = await withTempFile(".pcap", async (path) => {
    await Deno.writeFile(path, file);
    return await run("tshark", [
      "-n",
      "-r",
      path,
      ...TSHARK_CHECKS,
      "-T",
      "fields",
      "-E",
      "separator=|",
      ...["frame.protocols", "l2tp.tunnel", "l2tp.Ns", "l2tp.Nr", "_ws.expert"]
        .flatMap((f) => ["-e", f]),
    ]);
  });
  assert.deepEqual(out.trimEnd().split("\n"), [
    "eth:ethertype:ip:udp:l2tp|1|3|2|",
    "eth:ethertype:ipv6:udp:l2tp|1|3|2|",
  ]);
});

/** A text2pcap hex dump ("offset  byte byte ...", 16 octets a line) of each payload. */
function hexDump(payloads: Uint8Array[]): string {
  return payloads.map((p) => {
    const lines = [];
    for (let at = 0; at < p.length; at += 16) {
      const bytes = Array.from(p.subarray(at, at + 16), (x) => x.toString(16).padStart(2, "0"));
      lines.push(`${at.toString(16).padStart(6, "0")}  ${bytes.join(" ")}`);
    }
    return lines.join("\n") + "\n";
  }).join("\n");
}

Deno.test("text2pcap: captures it generates read back with the same payloads", async () => {
  const payloads = [
    hex("c802 000c 0001 0000 0003 0002"),
    Uint8Array.from({ length: 300 }, (_, i) => i & 0xff),
    hex("ff"),
  ];
  const cases = [
    { args: ["-F", "pcap", "-4", "192.0.2.1,192.0.2.2"], format: "pcap", src: "192.0.2.1" },
    { args: ["-6", "2001:db8::1,2001:db8::2"], format: "pcapng", src: "[2001:db8::1]" },
    {
      args: ["-F", "pcap", "-l", "101", "-4", "10.1.2.3,10.3.2.1"],
      format: "pcap",
      src: "10.1.2.3",
    },
  ];
  for (const { args, format, src } of cases) {
    await withTempFile(".txt", (dump) =>
      withTempFile(`.${format}`, async (capture) => {
        await Deno.writeTextFile(dump, hexDump(payloads));
        await run("text2pcap", ["-q", ...args, "-u", "1702,1701", dump, capture]);
        const c = expectCapture(readCapture(await Deno.readFile(capture)));
        assert.equal(c.format, format);
        assert.deepEqual(c.problems, []);
        assert.deepEqual(
          c.datagrams.map((d) => [d.frame, d.src, d.dstPort, toHex(d.payload)]),
          payloads.map((p, i) => [i + 1, `${src}:1702`, 1701, toHex(p)]),
        );
      }));
  }
});

// ---------------------------------------------------------------------------
// Fuzz: the reader is total and stays inside its input

const seeds: Uint8Array[] = [
  writePcap([
    { src: "192.0.2.1:1701", dst: "192.0.2.2:1701", payload: hex("c802000c00010000") },
    { src: "[2001:db8::1]:1701", dst: "[2001:db8::2]:1701", payload: hex("0002000100020304") },
  ]),
  writePcap(
    [{ src: "192.0.2.1:1701", dst: "192.0.2.2:1701", payload: hex("00") }],
    { linkType: "raw" },
  ),
  writePcapng([
    { src: "192.0.2.1:1701", dst: "192.0.2.2:1701", payload: hex("c802000c00010000") },
    { src: "[::1]:1", dst: "[::2]:2", payload: hex("0102") },
  ]),
  writePcapng([{ src: "[::1]:1", dst: "[::2]:2", payload: hex("01") }], { linkType: "raw" }),
  pcapFile(113, [concat(hex("0000 0001 0006 0200 0000 0001 0000 0800"), IPV4_UDP)]),
  pcapFile(276, [concat(hex("86dd 0000 00000002 0001 04 06 0200 0000 0001 0000"), IPV6_UDP)]),
  pcapFile(0, [concat(hex("0000001e"), IPV6_UDP), concat(hex("02000000"), IPV4_UDP)]),
  pcapFile(1, [concat(hex("0200 0000 0002 0200 0000 0001 8100 00c8 0800"), IPV4_UDP)]),
  concat(
    hex("0a0d0d0a 0000001c 1a2b3c4d 0001 0000 ffffffff ffffffff 0000001c"),
    pcapngBlock(false, 1, hex("0065 0000 00000000 0009 0001 09000000 0000 0000")),
    pcapngBlock(false, 6, concat(hex("00000000 00000000 59682f00 0000001d 0000001d"), IPV4_UDP)),
    pcapngBlock(false, 3, concat(hex("0000001d"), IPV4_UDP)),
  ),
];

const interesting32 = [0, 1, 3, 4, 11, 12, 0x7f, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

/** Bit flips, truncations, and overwrites of length-like fields with edge values. */
type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; at: number }
  | { kind: "word"; at: number; value: number; le: boolean; width: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("word" as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...interesting32), fc.nat({ max: 0xffffffff })),
    le: fc.boolean(),
    width: fc.constantFrom(1, 2, 4),
  }),
);

function mutate(seed: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = seed.slice();
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === "flip") b[at] ^= 1 << m.bit;
    else if (m.kind === "truncate") b = b.subarray(0, at);
    else {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const width = Math.min(m.width, b.length - at);
      if (width === 4) v.setUint32(at, m.value, m.le);
      else if (width >= 2) v.setUint16(at, m.value & 0xffff, m.le);
      else v.setUint8(at, m.value & 0xff);
    }
  }
  return b;
}

function checkTotal(bytes: Uint8Array): void {
  const r = readCapture(bytes);
  if (!r.ok) {
    assert.equal(typeof r.error, "string");
    return;
  }
  let lastFrame = 0;
  for (const d of r.value.datagrams) {
    assert.equal(d.payload.buffer, bytes.buffer);
    assert.ok(d.payload.byteOffset >= bytes.byteOffset);
    assert.ok(d.payload.byteOffset + d.payload.length <= bytes.byteOffset + bytes.length);
    assert.ok(d.frame > lastFrame);
    lastFrame = d.frame;
  }
  // Every frame and every problem consumed at least a record header of the file.
  assert.ok(r.value.datagrams.length + r.value.problems.length <= bytes.length / 12 + 1);
}

Deno.test({
  name: "fuzz: 50k random and mutated inputs never throw and stay inside the buffer",
  permissions: "none",
  fn() {
    const started = performance.now();
    const headers = [
      hex("d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000"),
      hex("a1b23c4d 0002 0004 00000000 00000000 0000ffff 00000071"),
      hex("0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffff ffffffff 1c000000"),
    ];
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), checkTotal), { numRuns: 10_000 });
    fc.assert(
      fc.property(
        fc.constantFrom(...headers),
        fc.uint8Array({ maxLength: 256 }),
        (h, body) => checkTotal(concat(h, body)),
      ),
      { numRuns: 10_000 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (seed, mutations) => checkTotal(mutate(seed, mutations)),
      ),
      { numRuns: 30_000 },
    );
    // A hang guard, not a benchmark.
    assert.ok(performance.now() - started < 20_000);
  },
});
