import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeControlPacket,
  decodeFrame,
  decodeOptions,
  encodeControlPacket,
  encodeFrame,
  encodeOptions,
  PPP_IP,
  PPP_IPCP,
  PPP_LCP,
} from "./frame.ts";

Deno.test("decodeFrame: ff 03 and two-octet Protocol; ACFC; PFC (RFC 1661 §6.5, §6.6)", () => {
  const full = decodeFrame(new Uint8Array([0xff, 0x03, 0x80, 0x21, 1, 2]));
  assert.ok(full.ok);
  assert.deepEqual(full.value, {
    protocol: PPP_IPCP,
    payload: new Uint8Array([1, 2]),
    acfc: false,
    pfc: false,
  });
  const compressed = decodeFrame(new Uint8Array([0x21, 0x45]));
  assert.ok(compressed.ok);
  assert.deepEqual(compressed.value, {
    protocol: PPP_IP,
    payload: new Uint8Array([0x45]),
    acfc: true,
    pfc: true,
  });
});

Deno.test("decodeFrame refuses an even last Protocol octet and short frames", () => {
  const even = decodeFrame(new Uint8Array([0xff, 0x03, 0x80, 0x20]));
  assert.ok(!even.ok);
  assert.equal(even.error.code, "bad_protocol");
  assert.equal(even.error.offset, 3);
  for (const b of [[], [0xff, 0x03], [0xff, 0x03, 0xc0], [0x80]]) {
    const r = decodeFrame(new Uint8Array(b));
    assert.ok(!r.ok);
    assert.equal(r.error.code, "truncated");
  }
});

Deno.test("encodeFrame applies ACFC and PFC, but never to LCP", () => {
  assert.deepEqual(
    encodeFrame(PPP_IP, new Uint8Array([9]), { acfc: true, pfc: true }),
    new Uint8Array([0x21, 9]),
  );
  assert.deepEqual(
    encodeFrame(PPP_IPCP, new Uint8Array([9]), { pfc: true }),
    new Uint8Array([0xff, 3, 0x80, 0x21, 9]),
  );
  assert.deepEqual(
    encodeFrame(PPP_LCP, new Uint8Array([9]), { acfc: true, pfc: true }),
    new Uint8Array([0xff, 3, 0xc0, 0x21, 9]),
  );
});

Deno.test("frames round-trip for every valid protocol and compression", () => {
  const protocol = fc.tuple(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0x7f }))
    .map(([hi, lo]) => (hi << 9) | (lo << 1) | 1);
  fc.assert(
    fc.property(
      protocol,
      fc.uint8Array({ maxLength: 20 }),
      fc.boolean(),
      fc.boolean(),
      (p, payload, acfc, pfc) => {
        const r = decodeFrame(encodeFrame(p, payload, { acfc, pfc }));
        assert.ok(r.ok);
        assert.equal(r.value.protocol, p);
        assert.deepEqual(r.value.payload, payload);
      },
    ),
  );
});

Deno.test("control packets: padding beyond Length dropped; bad Length refused", () => {
  const r = decodeControlPacket(new Uint8Array([1, 9, 0, 6, 7, 2, 0, 0]));
  assert.ok(r.ok);
  assert.deepEqual(r.value, { code: 1, identifier: 9, data: new Uint8Array([7, 2]) });
  assert.deepEqual(encodeControlPacket(r.value), new Uint8Array([1, 9, 0, 6, 7, 2]));
  const short = decodeControlPacket(new Uint8Array([1, 9, 0, 3]));
  assert.ok(!short.ok);
  assert.equal(short.error.code, "bad_length");
  const long = decodeControlPacket(new Uint8Array([1, 9, 0, 9, 0]));
  assert.ok(!long.ok);
  assert.equal(long.error.code, "truncated");
});

Deno.test("options: Length below 2 or past the end fails the list", () => {
  const good = decodeOptions(new Uint8Array([1, 4, 5, 0xdc, 7, 2]));
  assert.ok(good.ok);
  assert.deepEqual(good.value, [{ type: 1, data: new Uint8Array([5, 0xdc]) }, {
    type: 7,
    data: new Uint8Array(0),
  }]);
  assert.deepEqual(encodeOptions(good.value), new Uint8Array([1, 4, 5, 0xdc, 7, 2]));
  for (
    const [bytes, code] of [[[1, 1], "bad_option_length"], [[1, 5, 0, 0], "bad_option_length"], [[
      7,
    ], "truncated"]] as const
  ) {
    const r = decodeOptions(new Uint8Array(bytes));
    assert.ok(!r.ok);
    assert.equal(r.error.code, code);
  }
  assert.throws(() => encodeOptions([{ type: 1, data: new Uint8Array(254) }]), RangeError);
});

Deno.test("random bytes never make a decoder throw or read past the buffer", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const f = decodeFrame(bytes);
      if (f.ok) {
        assert.ok(
          f.value.payload.byteOffset + f.value.payload.length <= bytes.byteOffset + bytes.length,
        );
      }
      const c = decodeControlPacket(bytes);
      if (c.ok) assert.ok(4 + c.value.data.length <= bytes.length);
      const o = decodeOptions(bytes);
      if (o.ok) {
        assert.equal(o.value.reduce((n, x) => n + 2 + x.data.length, 0), bytes.length);
        assert.deepEqual(encodeOptions(o.value), bytes);
      }
    }),
    { numRuns: 2000 },
  );
});
