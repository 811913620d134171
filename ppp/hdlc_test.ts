import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DEFAULT_ACCM,
  encodeHdlc,
  fcs16,
  FCS16_GOOD,
  FCS16_INIT,
  HDLC_ESCAPE,
  HDLC_FLAG,
  HdlcDecoder,
} from "./hdlc.ts";

/** RFC 1662 Appendix C.1's bit-at-a-time FCS, to check the table-driven one against. */
function fcs16Bitwise(data: Uint8Array, fcs = FCS16_INIT): number {
  let v = fcs;
  for (const octet of data) {
    v ^= octet;
    for (let i = 0; i < 8; i++) v = v & 1 ? (v >>> 1) ^ 0x8408 : v >>> 1;
  }
  return v;
}

/** A PPP frame as a sender hands it to framing: at least Address and Control, or a Protocol. */
const frameArb = fc.uint8Array({ minLength: 2, maxLength: 300 });
const accmArb = fc.oneof(
  fc.constant(DEFAULT_ACCM),
  fc.constant(0),
  fc.integer({ min: 0, max: 0xffffffff }),
);

Deno.test("fcs16: the CRC-16/X.25 check value and the table of RFC 1662 Appendix C", () => {
  assert.equal(fcs16(new TextEncoder().encode("123456789")) ^ 0xffff, 0x906e);
  assert.equal(fcs16(new Uint8Array(0)), FCS16_INIT);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 0xffff }), (d, f) => {
      assert.equal(fcs16(d, f), fcs16Bitwise(d, f));
    }),
  );
});

Deno.test("fcs16: a frame followed by its complemented FCS, low octet first, checks as good (C.2)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
      const fcs = fcs16(data) ^ 0xffff;
      const withFcs = new Uint8Array([...data, fcs & 0xff, fcs >>> 8]);
      assert.equal(fcs16(withFcs), FCS16_GOOD);
    }),
  );
});

Deno.test("encodeHdlc: flags only at the ends, 7e 7d and ACCM characters escaped (§4.2, §7.1)", () => {
  fc.assert(
    fc.property(frameArb, accmArb, (frame, accm) => {
      const wire = encodeHdlc(frame, { accm });
      assert.equal(wire[0], HDLC_FLAG);
      assert.equal(wire.at(-1), HDLC_FLAG);
      const inner = wire.subarray(1, -1);
      assert.ok(!inner.includes(HDLC_FLAG));
      for (let i = 0; i < inner.length; i++) {
        const b = inner[i];
        if (b < 0x20) assert.equal((accm >>> b) & 1, 0, `0x${b.toString(16)} sent bare`);
        if (b === HDLC_ESCAPE) {
          const escaped = inner[++i] ^ 0x20;
          assert.ok(
            escaped === HDLC_FLAG || escaped === HDLC_ESCAPE ||
              (escaped < 0x20 && ((accm >>> escaped) & 1) === 1),
            `needless escape of 0x${escaped.toString(16)}`,
          );
        }
      }
    }),
  );
  // The default ACCM escapes all 32 control characters.
  assert.deepEqual(
    [...encodeHdlc(new Uint8Array([0x00, 0x11, 0x1f, 0x20]))].slice(1, 8),
    [0x7d, 0x20, 0x7d, 0x31, 0x7d, 0x3f, 0x20],
  );
});

Deno.test("HdlcDecoder: round trip of frame sequences cut into chunks anywhere", () => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { minLength: 1, maxLength: 8 }),
      accmArb,
      fc.array(fc.nat(), { maxLength: 10 }),
      (frames, accm, cuts) => {
        const parts = frames.map((f) => encodeHdlc(f, { accm }));
        const wire = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          wire.set(p, at);
          at += p.length;
        }
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const decoder = new HdlcDecoder();
        const got: Uint8Array[] = [];
        let from = 0;
        for (const to of [...points, wire.length]) {
          const r = decoder.push(wire.subarray(from, to));
          assert.deepEqual(r.errors, []);
          got.push(...r.frames);
          from = to;
        }
        assert.deepEqual(got, frames);
      },
    ),
  );
});

Deno.test("HdlcDecoder: one flag between frames is enough, and repeated flags are time fill (§4.1)", () => {
  const a = encodeHdlc(new Uint8Array([0xff, 0x03, 0xc0, 0x21]));
  const b = encodeHdlc(new Uint8Array([0xff, 0x03, 0x80, 0x21]));
  const shared = new Uint8Array([...a, ...b.subarray(1), HDLC_FLAG, HDLC_FLAG, HDLC_FLAG]);
  const r = new HdlcDecoder().push(shared);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.frames.map((f) => f[2]), [0xc0, 0x80]);
});

Deno.test("HdlcDecoder: garbage before a flag costs one error, then it is back in step", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 100 }).map((g) => g.filter((b) => b !== HDLC_FLAG)),
      fc.array(frameArb, { minLength: 1, maxLength: 4 }),
      (garbage, frames) => {
        fc.pre(garbage.length > 0);
        const decoder = new HdlcDecoder();
        const head = decoder.push(garbage);
        assert.deepEqual(head, { frames: [], errors: [] });
        const got: Uint8Array[] = [];
        const errors = [];
        for (const f of frames) {
          const r = decoder.push(encodeHdlc(f));
          got.push(...r.frames);
          errors.push(...r.errors);
        }
        assert.deepEqual(got, frames);
        // The garbage ended at the first frame's opening flag: rejected unless its FCS checks,
        // which a frame of random octets does 1 time in 65536.
        assert.ok(errors.length <= 1);
        for (const e of errors) assert.ok(["bad_fcs", "too_short", "aborted"].includes(e.code));
      },
    ),
  );
});

Deno.test("HdlcDecoder: a flipped bit is a bad FCS (FCS-16 catches every single-bit error)", () => {
  fc.assert(
    fc.property(frameArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (frame, pick, bit) => {
      const wire = encodeHdlc(frame, { accm: 0 });
      // Only octets that are neither escapes nor escaped, and stay plain data when flipped.
      const plain = [...wire.keys()].filter((i) =>
        i > 0 && i < wire.length - 1 && wire[i] !== HDLC_ESCAPE && wire[i - 1] !== HDLC_ESCAPE &&
        ![HDLC_FLAG, HDLC_ESCAPE].includes(wire[i] ^ (1 << bit))
      );
      fc.pre(plain.length > 0);
      const corrupt = wire.slice();
      corrupt[plain[pick % plain.length]] ^= 1 << bit;
      const r = new HdlcDecoder().push(corrupt);
      assert.deepEqual(r.frames, []);
      assert.deepEqual(r.errors.map((e) => e.code), ["bad_fcs"]);
    }),
  );
});

Deno.test("HdlcDecoder: abort sequence, short frames, and the size bound", () => {
  const good = encodeHdlc(new Uint8Array([0xff, 0x03, 0xc0, 0x21, 9]));
  const aborted = new HdlcDecoder().push(
    new Uint8Array([HDLC_FLAG, 0xff, 0x03, HDLC_ESCAPE, HDLC_FLAG, ...good.subarray(1)]),
  );
  assert.deepEqual(aborted.errors, [{ code: "aborted", length: 2 }]);
  assert.equal(aborted.frames.length, 1);

  const short = new HdlcDecoder().push(new Uint8Array([HDLC_FLAG, 1, 2, 3, HDLC_FLAG]));
  assert.deepEqual(short, { frames: [], errors: [{ code: "too_short", length: 3 }] });

  const decoder = new HdlcDecoder({ maxFrameOctets: 8 });
  const long = decoder.push(encodeHdlc(new Uint8Array(20).fill(0x41)));
  assert.deepEqual(long, { frames: [], errors: [{ code: "too_long", length: 9 }] });
  const fits = decoder.push(encodeHdlc(new Uint8Array(6).fill(0x41)));
  assert.deepEqual(fits.errors, []);
  assert.equal(fits.frames.length, 1);
  assert.throws(() => new HdlcDecoder({ maxFrameOctets: 3 }), RangeError);
});

Deno.test("HdlcDecoder: unescaped characters in the receive ACCM are deleted (§7.1)", () => {
  const frame = new Uint8Array([0xff, 0x03, 0xc0, 0x21, 0x11, 0x13]);
  const wire = encodeHdlc(frame); // 0x11 and 0x13 go escaped
  // A modem inserts XON/XOFF into the stream: dropped when flagged, kept as data otherwise.
  const noisy = new Uint8Array([wire[0], 0x11, ...wire.subarray(1, 4), 0x13, ...wire.subarray(4)]);
  const flagged = new HdlcDecoder({ receiveAccm: (1 << 0x11) | (1 << 0x13) }).push(noisy);
  assert.deepEqual(flagged.errors, []);
  assert.deepEqual(flagged.frames, [frame]);
  const unflagged = new HdlcDecoder().push(noisy);
  assert.deepEqual(unflagged.errors.map((e) => e.code), ["bad_fcs"]);
});
