import assert from "node:assert/strict";
import fc from "fast-check";
import { dataHeaderLength, decodeHeader, writeControlHeader, writeDataHeader } from "./header.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));

// Golden vectors laid out from the figure in RFC 2661 §3.1.
Deno.test("control header: T=L=S=1, Ver=2 encodes as c8 02 (RFC 2661 §3.1)", () => {
  const out = new Uint8Array(12);
  writeControlHeader(out, { tunnelId: 0x1234, sessionId: 0x5678, ns: 0xfffe, nr: 1, length: 12 });
  assert.deepEqual(out, hex("c802 000c 1234 5678 fffe 0001"));
  const r = decodeHeader(out);
  assert.ok(r.ok);
  assert.deepEqual(r.value, {
    isControl: true,
    priority: false,
    length: 12,
    tunnelId: 0x1234,
    sessionId: 0x5678,
    ns: 0xfffe,
    nr: 1,
    offsetSize: null,
    payloadOffset: 12,
    messageLength: 12,
  });
});

Deno.test("data header: minimal form is 6 octets with only Ver=2", () => {
  const out = new Uint8Array(8);
  const n = writeDataHeader(out, { tunnelId: 7, sessionId: 9 }, 2);
  assert.equal(n, 6);
  assert.deepEqual(out.subarray(0, 6), hex("0002 0007 0009"));
});

Deno.test("data header: L, S, O and P bits place Length, Ns/Nr and Offset Size as §3.1 draws them", () => {
  const fields = {
    tunnelId: 1,
    sessionId: 2,
    withLength: true,
    ns: 5,
    offsetSize: 3,
    priority: true,
  };
  const out = new Uint8Array(dataHeaderLength(fields) + 4);
  const n = writeDataHeader(out, fields, 4);
  // 0x4b02 = L(0x4000) | S(0x0800) | O(0x0200) | P(0x0100) | Ver 2
  assert.deepEqual(out.subarray(0, n), hex("4b02 0015 0001 0002 0005 0000 0003 000000"));
  const r = decodeHeader(out);
  assert.ok(r.ok);
  assert.equal(r.value.isControl, false);
  assert.equal(r.value.priority, true);
  assert.equal(r.value.ns, 5);
  assert.equal(r.value.offsetSize, 3);
  assert.equal(r.value.payloadOffset, n);
  assert.equal(r.value.messageLength, 21);
});

Deno.test("header: Ver=1 (L2F) and Ver=3 (L2TPv3) are rejected as bad_version", () => {
  for (const [ver, word] of [[1, "L2F"], [3, "L2TPv3"]] as const) {
    const pkt = hex("c800 000c 0001 0000 0000 0000");
    pkt[1] = ver;
    const r = decodeHeader(pkt);
    assert.ok(!r.ok);
    assert.equal(r.error.code, "bad_version");
    assert.match(r.error.message, new RegExp(word));
  }
});

Deno.test("header: control messages without L or S, or with O or P, are rejected (§3.1)", () => {
  for (const flags of ["8802", "c002", "ca02", "c902"]) {
    const r = decodeHeader(hex(flags + "000c 0001 0000 0000 0000"));
    assert.ok(!r.ok, flags);
    assert.equal(r.error.code, "bad_control_bits");
  }
});

Deno.test("header: Length beyond the datagram or inside the header is bad_length", () => {
  const long = decodeHeader(hex("c802 0020 0001 0000 0000 0000"));
  assert.ok(!long.ok);
  assert.equal(long.error.code, "bad_length");
  const short = decodeHeader(hex("c802 0008 0001 0000 0000 0000"));
  assert.ok(!short.ok);
  assert.equal(short.error.code, "bad_length");
});

Deno.test("header: Length shorter than the datagram limits the message (trailing octets ignored)", () => {
  const r = decodeHeader(hex("c802 000c 0001 0000 0000 0000 dead"));
  assert.ok(r.ok);
  assert.equal(r.value.messageLength, 12);
});

Deno.test("header: Offset Size past the message is bad_offset", () => {
  const r = decodeHeader(hex("0202 0001 0002 00ff 00"));
  assert.ok(!r.ok);
  assert.equal(r.error.code, "bad_offset");
});

Deno.test("header: every truncation of a valid header fails cleanly as truncated", () => {
  const full = hex("4b02 0015 0001 0002 0005 0000 0003 000000 01020304");
  for (let n = 0; n < 14; n++) {
    const r = decodeHeader(full.subarray(0, n));
    assert.ok(!r.ok, `prefix ${n}`);
  }
});

Deno.test("header: random bytes never throw and ok results stay inside the datagram", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      const r = decodeHeader(bytes);
      if (r.ok) {
        assert.ok(r.value.payloadOffset <= r.value.messageLength);
        assert.ok(r.value.messageLength <= bytes.length);
      }
    }),
    { numRuns: 5000 },
  );
});

Deno.test("data header round trip: any field combination decodes to what was written", () => {
  fc.assert(
    fc.property(
      fc.record({
        tunnelId: fc.integer({ min: 0, max: 0xffff }),
        sessionId: fc.integer({ min: 0, max: 0xffff }),
        withLength: fc.boolean(),
        ns: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
        offsetSize: fc.option(fc.integer({ min: 0, max: 16 }), { nil: undefined }),
        priority: fc.boolean(),
      }),
      fc.uint8Array({ maxLength: 64 }),
      (h, payload) => {
        const out = new Uint8Array(dataHeaderLength(h) + payload.length);
        const n = writeDataHeader(out, h, payload.length);
        out.set(payload, n);
        const r = decodeHeader(out);
        assert.ok(r.ok);
        assert.equal(r.value.tunnelId, h.tunnelId);
        assert.equal(r.value.sessionId, h.sessionId);
        assert.equal(r.value.ns, h.ns ?? null);
        assert.equal(r.value.offsetSize, h.offsetSize ?? null);
        assert.equal(r.value.priority, h.priority);
        assert.deepEqual(out.subarray(r.value.payloadOffset, r.value.messageLength), payload);
      },
    ),
  );
});
