/**
 * Cross-check of the codec against a real decoder: packets of every message
 * type, built by this codec, are written to pcap and pcapng captures and
 * dissected by tshark; message types, Tunnel/Session IDs, Ns/Nr and the AVP
 * types must agree packet for packet, with no Malformed report.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { fieldsFor } from "../transport/_arbitraries.ts";
import type { Avp } from "../transport/avp.ts";
import { type AvpKey, MessageType, type MessageTypeName } from "../transport/avp_types.ts";
import { dataHeaderLength, writeDataHeader } from "../transport/header.ts";
import { buildAvps, decodeControl, encodeControl } from "../transport/message.ts";
import { MESSAGE_SPECS } from "../transport/message_specs.ts";
import { writePcap, writePcapng } from "../transport/pcap.ts";
import { describePacket } from "../transport/describe.ts";
import { type L2tpView, ltsView, tsharkL2tp } from "./_tshark.ts";

const secret = new TextEncoder().encode("xcheck");
const LAC = "192.0.2.1:1701";
const LNS = "198.51.100.2:1701";

function packets(): { payload: Uint8Array; expected: L2tpView }[] {
  const out: { payload: Uint8Array; expected: L2tpView }[] = [];
  let seed = 1;
  for (const type of Object.keys(MESSAGE_SPECS) as MessageTypeName[]) {
    for (const [i, fields] of fc.sample(fieldsFor(type), { numRuns: 12, seed: seed++ }).entries()) {
      const hide = i % 2 === 1 ? (Object.keys(fields) as AvpKey[]) : [];
      // 32473 is the enterprise number set aside for documentation (RFC 5612): no dissector claims it.
      const vendor: Avp = {
        vendorId: 32473,
        attributeType: 1,
        mandatory: false,
        hidden: false,
        value: new Uint8Array([1, 2]),
      };
      const avps = buildAvps(type, fields, { hide, extra: i % 3 === 0 ? [vendor] : [] });
      const address = { tunnelId: 1000 + i, sessionId: i * 7, ns: 65530 + i, nr: i };
      const payload = encodeControl(address, avps, { secret });
      const decoded = decodeControl(payload, { secret });
      assert.ok(decoded.ok && decoded.value.problems.length === 0, `${type} must be valid`);
      out.push({
        payload,
        expected: {
          messageType: MessageType[type],
          isControl: true,
          tunnelId: address.tunnelId,
          sessionId: address.sessionId,
          ns: address.ns & 0xffff,
          nr: address.nr,
          avps: avps.map((
            a,
          ) => (a.hidden
            ? "H"
            : a.vendorId
            ? `${a.vendorId}:${a.attributeType}`
            : String(a.attributeType))
          ),
        },
      });
    }
  }
  out.push({
    payload: encodeControl({ tunnelId: 4, sessionId: 0, ns: 9, nr: 65535 }, []),
    expected: {
      messageType: null,
      isControl: true,
      tunnelId: 4,
      sessionId: 0,
      ns: 9,
      nr: 65535,
      avps: [],
    },
  });
  const echo = [0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x12, 0x34, 0x56, 0x78];
  for (
    const h of [
      { tunnelId: 5, sessionId: 6 },
      { tunnelId: 5, sessionId: 6, withLength: true },
      { tunnelId: 5, sessionId: 6, withLength: true, ns: 77 },
      { tunnelId: 5, sessionId: 6, ns: 78, offsetSize: 2, priority: true },
    ]
  ) {
    const payload = new Uint8Array(dataHeaderLength(h) + echo.length);
    payload.set(echo, writeDataHeader(payload, h, echo.length));
    out.push({
      payload,
      expected: {
        messageType: null,
        isControl: false,
        tunnelId: 5,
        sessionId: 6,
        ns: h.ns ?? null,
        nr: h.ns === undefined ? null : 0,
        avps: [],
      },
    });
  }
  return out;
}

for (const [format, write] of [["pcap", writePcap], ["pcapng", writePcapng]] as const) {
  Deno.test(`tshark dissects every message type built by lts exactly as lts does (${format})`, async () => {
    const list = packets();
    const path = await Deno.makeTempFile({ suffix: `.${format}` });
    try {
      await Deno.writeFile(
        path,
        write(
          list.map((p, i) => ({
            src: i % 2 ? LNS : LAC,
            dst: i % 2 ? LAC : LNS,
            payload: p.payload,
            timeUs: i,
          })),
          {
            linkType: format === "pcap" ? "ethernet" : "raw",
          },
        ),
      );
      const rows = await tsharkL2tp(path);
      assert.equal(rows.length, list.length);
      rows.forEach(({ frame, malformed, ...got }, i) => {
        assert.equal(frame, i + 1);
        assert.equal(malformed, "", `frame ${i + 1} is Malformed for tshark`);
        assert.deepEqual(got, list[i].expected, `frame ${i + 1}`);
        assert.deepEqual(
          ltsView(describePacket(list[i].payload)),
          got,
          `lts decode, frame ${i + 1}`,
        );
      });
    } finally {
      await Deno.remove(path);
    }
  });
}

Deno.test("the cross-check can fail: tshark flags a broken AVP Length that lts also rejects", async () => {
  const good = encodeControl({ tunnelId: 1, sessionId: 0, ns: 0, nr: 0 }, buildAvps("HELLO", {}));
  const bad = new Uint8Array([...good, 0x80, 0x40, 0, 0, 0, 7]); // an AVP claiming 64 octets in 6
  bad[3] = bad.length;
  assert.equal(decodeControl(bad).ok, false);
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    await Deno.writeFile(path, writePcap([{ src: LAC, dst: LNS, payload: bad }]));
    const [row] = await tsharkL2tp(path);
    assert.notEqual(row.malformed, "", "tshark should report the packet as malformed");
  } finally {
    await Deno.remove(path);
  }
});
