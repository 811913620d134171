/**
 * `lts decode`: prints one JSON object per L2TP packet, from hex or from a
 * capture file (pcap or pcapng).
 *
 * @module
 */

import { readCapture } from "../transport/pcap.ts";
import { describePacket, type PacketDescription } from "../transport/describe.ts";
import { L2TP_PORT } from "../transport/header.ts";
import { type Command, Exit, intOption, type Io, parse, UsageError } from "./command.ts";

const usage = `lts decode --hex HEX | --pcap FILE [--port N|any] [--secret S]

Prints one JSON object per L2TP packet on stdout:
  {"frame":1,"src":"127.0.0.1:1701","dst":"127.0.0.1:40000","type":"SCCRQ",
   "tunnelId":0,"sessionId":0,"ns":0,"nr":0,"length":110,"avps":[...],"errors":[]}
Malformed packets are printed with "errors" filled, and the exit code is 1; so
does a malformed frame in the capture (reported on stderr). Malformed AVPs
without the M bit, which a receiver ignores (RFC 2661 §7.1), are listed under
"warnings". Once a control message is seen on the port, later datagrams to or
from its two endpoints are decoded too (a responder may answer from
another port, RFC 2661 §8.1).

Options:
  --hex HEX      one L2TP datagram (UDP payload) in hex; spaces and colons allowed
  --pcap FILE    a capture (pcap or pcapng; Ethernet, Linux cooked SLL/SLL2, raw IP, BSD loopback)
  --port N|any   UDP port that carries L2TP in the capture (default ${L2TP_PORT}); "any" decodes every UDP datagram
  --secret S     tunnel shared secret, to reveal hidden AVPs (RFC 2661 §4.3)
  -h, --help     this text`;

/** One line of `lts decode` output. */
export type DecodedLine =
  & { frame: number; src: string | null; dst: string | null }
  & PacketDescription;

function parseHex(raw: string): Uint8Array {
  const clean = raw.replace(/[\s:]/g, "").replace(/^0x/i, "");
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) {
    throw new UsageError("--hex needs an even number of hex digits");
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** `lts decode`. */
export const decodeCommand: Command = {
  name: "decode",
  summary: "print L2TP packets from hex or a pcap/pcapng capture as JSON lines",
  usage,
  async run(args: string[], io: Io): Promise<number> {
    const { values } = parse(args, {
      options: {
        hex: { type: "string" },
        pcap: { type: "string" },
        port: { type: "string", default: String(L2TP_PORT) },
        secret: { type: "string" },
      },
    });
    if ((values.hex === undefined) === (values.pcap === undefined)) {
      throw new UsageError("give exactly one of --hex and --pcap");
    }
    const port = values.port === "any" ? null : intOption("port", values.port!, 1, 65535);
    const secret = values.secret === undefined
      ? undefined
      : new TextEncoder().encode(values.secret);
    let failed = false;
    const print = (line: DecodedLine) => {
      if (line.errors.length > 0) failed = true;
      io.out(JSON.stringify(line));
    };
    if (values.hex !== undefined) {
      print({
        frame: 1,
        src: null,
        dst: null,
        ...describePacket(parseHex(values.hex), { secret }),
      });
      return failed ? Exit.Failure : Exit.Ok;
    }
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(values.pcap!);
    } catch (e) {
      io.err(`lts decode: cannot read ${values.pcap}: ${e instanceof Error ? e.message : e}`);
      return Exit.Failure;
    }
    const capture = readCapture(bytes);
    if (!capture.ok) {
      io.err(`lts decode: ${values.pcap}: ${capture.error}`);
      return Exit.Failure;
    }
    // RFC 2661 §8.1: a responder may answer from another port, so once a control
    // message is seen on the port, datagrams to or from its endpoints are L2TP too.
    const endpoints = new Set<string>();
    for (const d of capture.value.datagrams) {
      const onPort = port === null || d.srcPort === port || d.dstPort === port;
      if (!onPort && !endpoints.has(d.src) && !endpoints.has(d.dst)) continue;
      const described = describePacket(d.payload, { secret });
      if (described.type !== null && described.type !== "DATA") endpoints.add(d.src).add(d.dst);
      print({ frame: d.frame, src: d.src, dst: d.dst, ...described });
    }
    for (const p of capture.value.problems) {
      io.err(`lts decode: frame ${p.frame}: ${p.kind}: ${p.reason}`);
      if (p.kind === "malformed") failed = true;
    }
    return failed ? Exit.Failure : Exit.Ok;
  },
};
