/**
 * Reads L2TP packets as tshark dissects them, in the shape the cross-checks
 * compare with lts's own decoding.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { PacketDescription } from "../transport/describe.ts";

/** What both decoders must agree on for one packet. */
export interface L2tpView {
  messageType: number | null; // null: ZLB or data
  isControl: boolean;
  tunnelId: number;
  sessionId: number;
  ns: number | null;
  nr: number | null;
  avps: string[]; // Attribute Type, "vendor:type" for vendor AVPs, "H" for hidden ones (tshark does not name those)
}

const FIELDS = [
  "frame.number",
  "l2tp.type",
  "l2tp.avp.message_type",
  "l2tp.tunnel",
  "l2tp.session",
  "l2tp.Ns",
  "l2tp.Nr",
  "l2tp.avp.type",
  "l2tp.avp.vendor_id",
  "l2tp.avp.hidden",
  "_ws.malformed",
];

/** tshark's view of every L2TP frame in a capture, with its Malformed report ("" when none). */
export async function tsharkL2tp(
  path: string,
  ports: number[] = [1701],
): Promise<(L2tpView & { frame: number; malformed: string })[]> {
  const args = [
    "-r",
    path,
    "-T",
    "fields",
    "-E",
    "separator=/t",
    "-E",
    "aggregator=,",
    "-E",
    "occurrence=a",
  ];
  for (const p of ports) args.push("-d", `udp.port==${p},l2tp`);
  args.push("-Y", "l2tp");
  for (const f of FIELDS) args.push("-e", f);
  const { code, stdout, stderr } = await new Deno.Command("tshark", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const text = new TextDecoder().decode(stdout);
  if (text === "") return [];
  // Empty trailing fields end a line in tabs, so only the final newline may go.
  return text.replace(/\n$/, "").split("\n").map((line) => {
    const row = line.split("\t");
    assert.equal(row.length, FIELDS.length, `tshark row ${JSON.stringify(row)}`);
    const [frame, type, messageType, tunnel, session, ns, nr, types, vendors, hiddens, malformed] =
      row;
    const visible = types ? types.split(",") : [];
    const vendorIds = vendors ? vendors.split(",") : [];
    const avps = (hiddens ? hiddens.split(",") : []).map((h) => {
      if (h === "1") return "H";
      const t = visible.shift()!, v = vendorIds.shift()!;
      return v === "0" ? t : `${v}:${t}`;
    });
    const num = (s: string) => (s === "" ? null : Number(s));
    return {
      frame: Number(frame),
      messageType: num(messageType.split(",")[0]),
      isControl: type === "1",
      tunnelId: Number(tunnel),
      sessionId: Number(session),
      ns: num(ns),
      nr: num(nr),
      avps,
      malformed,
    };
  });
}

/** lts's view of a packet, from `describePacket`, in the same shape. */
export function ltsView(d: PacketDescription): L2tpView {
  return {
    messageType: d.type === "DATA" || d.type === "ZLB" ? null : (d.avps[0]?.value as number),
    isControl: d.type !== "DATA",
    tunnelId: d.tunnelId!,
    sessionId: d.sessionId!,
    ns: d.ns,
    nr: d.nr,
    avps: d.avps.map((
      a,
    ) => (a.hidden ? "H" : a.vendorId === 0 ? String(a.type) : `${a.vendorId}:${a.type}`)),
  };
}
