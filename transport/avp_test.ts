import assert from "node:assert/strict";
import fc from "fast-check";
import { type Avp, decodeAvps, encodeAvps } from "./avp.ts";
import { AvpType } from "./avp_types.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const text = (s: string) => new TextEncoder().encode(s);
const secret = text("s3cret");
const randomVector = Uint8Array.from({ length: 16 }, (_, i) => i);
const rvAvp: Avp = {
  vendorId: 0,
  attributeType: AvpType.RandomVector,
  mandatory: true,
  hidden: false,
  value: randomVector,
};

// Golden vectors computed from RFC 2661 §4.3 with an independent MD5 (Python hashlib):
// c(1) = subformat XOR MD5(type ‖ "s3cret" ‖ 00..0f).
Deno.test("hidden AVP, one block: Called Number '5551234' with 7 octets of padding (§4.3)", () => {
  const called: Avp = {
    vendorId: 0,
    attributeType: AvpType.CalledNumber,
    mandatory: true,
    hidden: true,
    value: text("5551234"),
    padding: new Uint8Array(7).fill(0xaa),
  };
  const bytes = encodeAvps([rvAvp, called], { secret });
  assert.deepEqual(bytes.subarray(22), hex("c016 0000 0015 cb5197620538f55ebcece999dc6e2f73"));
  const r = decodeAvps(bytes, { secret });
  assert.ok(r.ok);
  assert.deepEqual(r.value[1].value, text("5551234"));
  assert.deepEqual(r.value[1].padding, new Uint8Array(7).fill(0xaa));
});

Deno.test("hidden AVP, three blocks chained with MD5(secret ‖ c(i-1)) (§4.3)", () => {
  const name = text("alice.with.a.long.name@isp-a.example.net");
  const avp: Avp = {
    vendorId: 0,
    attributeType: AvpType.ProxyAuthenName,
    mandatory: false,
    hidden: true,
    value: name,
  };
  const bytes = encodeAvps([rvAvp, avp], { secret });
  assert.deepEqual(
    bytes.subarray(22 + 6),
    hex("e65f13a374f15273489114e74314c1c4a55b70a85ac1f56c6b4675c7150c4111fe173a8955bfbdf5eea1"),
  );
  const r = decodeAvps(bytes, { secret });
  assert.ok(r.ok);
  assert.deepEqual(r.value[1].value, name);
});

Deno.test("hidden AVP without a secret stays concealed and re-encodes byte for byte", () => {
  const avp: Avp = {
    vendorId: 0,
    attributeType: AvpType.CallingNumber,
    mandatory: true,
    hidden: true,
    value: text("0123"),
  };
  const bytes = encodeAvps([rvAvp, avp], { secret });
  const r = decodeAvps(bytes);
  assert.ok(r.ok);
  assert.equal(r.value[1].concealed, true);
  assert.deepEqual(encodeAvps(r.value), bytes);
});

Deno.test("hidden AVP before any Random Vector stays concealed, with the reason (§4.3)", () => {
  const bytes = hex("c00c 0000 0015 0102 0304 0506");
  const r = decodeAvps(bytes, { secret });
  assert.ok(r.ok);
  assert.equal(r.value[0].concealed, true);
  assert.match(r.value[0].unrevealable!, /Random Vector/);
});

Deno.test("hidden AVP under the wrong secret is unrevealable or reveals other octets, never the value", () => {
  const name = text("5551234");
  let unrevealable = 0;
  for (let i = 0; i < 50; i++) {
    const avp: Avp = {
      vendorId: 0,
      attributeType: AvpType.CalledNumber,
      mandatory: true,
      hidden: true,
      value: name,
    };
    const rv = { ...rvAvp, value: Uint8Array.from({ length: 16 }, (_, j) => (i * 31 + j) & 0xff) };
    const r = decodeAvps(encodeAvps([rv, avp], { secret }), { secret: text("wrong") });
    assert.ok(r.ok);
    if (r.value[1].unrevealable) unrevealable++;
    else assert.notDeepEqual(r.value[1].value, name);
  }
  // The Original Length check catches most wrong secrets (it must fit in the 7 octets there are).
  assert.ok(unrevealable > 40, `only ${unrevealable} of 50 caught`);
});

Deno.test("hidden AVP uses the Random Vector most closely preceding it (§4.4.1)", () => {
  const rv2: Avp = { ...rvAvp, value: new Uint8Array(16).fill(9) };
  const a: Avp = {
    vendorId: 0,
    attributeType: AvpType.CalledNumber,
    mandatory: true,
    hidden: true,
    value: text("1"),
  };
  const b: Avp = {
    vendorId: 0,
    attributeType: AvpType.CallingNumber,
    mandatory: true,
    hidden: true,
    value: text("2"),
  };
  const bytes = encodeAvps([rvAvp, a, rv2, b], { secret });
  const r = decodeAvps(bytes, { secret });
  assert.ok(r.ok);
  assert.deepEqual(r.value[1].value, text("1"));
  assert.deepEqual(r.value[3].value, text("2"));
  // The same AVP hidden under the first vector enciphers differently: the second one was used.
  const underFirst = encodeAvps([rvAvp, b], { secret }).subarray(22);
  assert.notDeepEqual(bytes.subarray(bytes.length - underFirst.length), underFirst);
});

Deno.test("AVP Length under 6 or past the body is avp_length", () => {
  for (const bad of ["8005 0000 0000", "8010 0000 0000 00", "80"]) {
    const r = decodeAvps(hex(bad));
    assert.ok(!r.ok, bad);
    assert.equal(r.error.code, "avp_length");
  }
});

Deno.test("a reserved flag bit marks the AVP unrecognized (§4.1)", () => {
  const r = decodeAvps(hex("8408 0000 0007 0102"));
  assert.ok(r.ok);
  assert.equal(r.value[0].reservedBits, true);
});

Deno.test("vendor AVPs keep their Vendor ID and are never read as IETF ones", () => {
  const r = decodeAvps(hex("0008 0009 0007 4142"));
  assert.ok(r.ok);
  assert.equal(r.value[0].vendorId, 9);
  assert.equal(r.value[0].attributeType, 7);
  assert.deepEqual(encodeAvps(r.value), hex("0008 0009 0007 4142"));
});

Deno.test("any AVP list with random hiding round-trips byte for byte", () => {
  const anyAvp = fc.record({
    vendorId: fc.constantFrom(0, 0, 0, 9, 311),
    attributeType: fc.integer({ min: 0, max: 60 }).filter((t) => t !== AvpType.RandomVector),
    mandatory: fc.boolean(),
    hidden: fc.boolean(),
    value: fc.uint8Array({ maxLength: 100 }),
    padding: fc.uint8Array({ maxLength: 20 }),
  });
  fc.assert(
    fc.property(fc.array(anyAvp, { maxLength: 8 }), (list) => {
      const avps: Avp[] = [
        rvAvp,
        ...list.map((a) => (a.hidden ? a : { ...a, padding: undefined })),
      ];
      const bytes = encodeAvps(avps, { secret });
      const r = decodeAvps(bytes, { secret });
      assert.ok(r.ok);
      assert.equal(r.value.length, avps.length);
      r.value.forEach((got, i) => {
        assert.deepEqual(got.value, avps[i].value);
        assert.equal(got.hidden, avps[i].hidden);
        assert.equal(got.vendorId, avps[i].vendorId);
      });
      assert.deepEqual(encodeAvps(r.value, { secret }), bytes);
    }),
  );
});
