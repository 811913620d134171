import assert from "node:assert/strict";
import fc from "fast-check";
import { anyAddress, anyMessage, fieldsFor } from "./_arbitraries.ts";
import type { Avp } from "./avp.ts";
import {
  AVP_SPECS,
  AVP_SPECS_BY_KEY,
  type AvpKey,
  MessageType,
  type MessageTypeName,
} from "./avp_types.ts";
import { buildAvps, decodeControl, encodeControl, fieldsOf } from "./message.ts";
import { MESSAGE_SPECS } from "./message_specs.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const secret = new TextEncoder().encode("tunnel-secret");
const address = { tunnelId: 1, sessionId: 0, ns: 0, nr: 0 };

Deno.test("every message type round-trips: fields → bytes → fields, and bytes → message → bytes exactly", () => {
  for (const type of Object.keys(MESSAGE_SPECS) as MessageTypeName[]) {
    fc.assert(
      fc.property(fieldsFor(type), anyAddress, (fields, addr) => {
        const avps = buildAvps(type, fields);
        const bytes = encodeControl(addr, avps);
        const r = decodeControl(bytes);
        assert.ok(r.ok, type);
        assert.equal(r.value.type, type);
        assert.deepEqual(r.value.problems, []);
        assert.deepEqual(fieldsOf(r.value.avps), { messageType: MessageType[type], ...fields });
        assert.equal(r.value.header.ns, addr.ns);
        assert.equal(r.value.header.nr, addr.nr);
        assert.deepEqual(encodeControl(addr, r.value.avps), bytes);
      }),
      { numRuns: 60 },
    );
  }
});

Deno.test("every hideable AVP round-trips hidden with a Random Vector, exactly (§4.3)", () => {
  fc.assert(
    fc.property(anyMessage, anyAddress, fc.integer(), (msg, addr, seed) => {
      const hide = Object.keys(msg.fields) as AvpKey[];
      let x = seed;
      const random = (n: number) =>
        Uint8Array.from({ length: n }, () => (x = (x * 1103515245 + 12345) >>> 0) & 0xff);
      const avps = buildAvps(msg.type, msg.fields, { hide, random });
      const bytes = encodeControl(addr, avps, { secret });
      const r = decodeControl(bytes, { secret });
      assert.ok(r.ok);
      assert.deepEqual(r.value.problems, []);
      const { randomVector: _rv, ...fields } = fieldsOf(r.value.avps);
      assert.deepEqual(fields, { messageType: MessageType[msg.type], ...msg.fields });
      for (const avp of r.value.avps) {
        const spec = AVP_SPECS.get(avp.attributeType)!;
        assert.equal(avp.hidden, spec.hideable && hide.includes(spec.key));
      }
      assert.deepEqual(encodeControl(addr, r.value.avps, { secret }), bytes);
    }),
    { numRuns: 300 },
  );
});

Deno.test("a ZLB is a 12-octet control header with no AVPs (§5.8)", () => {
  const r = decodeControl(hex("c802 000c 0005 0000 0003 0007"));
  assert.ok(r.ok);
  assert.equal(r.value.type, "ZLB");
  assert.equal(r.value.messageTypeCode, null);
  assert.equal(r.value.header.nr, 7);
});

Deno.test("Message Type must be the first AVP (§4.4.1)", () => {
  const avps = buildAvps("HELLO", {});
  const host: Avp = {
    vendorId: 0,
    attributeType: 7,
    mandatory: true,
    hidden: false,
    value: new Uint8Array([65]),
  };
  const notFirst = decodeControl(encodeControl(address, [host, ...avps]));
  assert.ok(!notFirst.ok);
  assert.equal(notFirst.error.code, "message_type_not_first");
  const missing = decodeControl(encodeControl(address, [host]));
  assert.ok(!missing.ok);
  assert.equal(missing.error.code, "missing_message_type");
});

Deno.test("unknown Message Type: M=1 fails the tunnel, M=0 may be ignored (§4.4.1)", () => {
  const mandatory = decodeControl(hex("c802 0014 0001 0000 0000 0000 8008 0000 0000 0063"));
  assert.ok(!mandatory.ok);
  assert.equal(mandatory.error.code, "unknown_message_type");
  const optional = decodeControl(hex("c802 0014 0001 0000 0000 0000 0008 0000 0000 0063"));
  assert.ok(optional.ok);
  assert.equal(optional.value.type, "UNKNOWN");
});

Deno.test("unknown AVP with M=1 is reported with error code 8; with M=0 it is skipped by its length (§4.1)", () => {
  const unknownM1: Avp = {
    vendorId: 0,
    attributeType: 99,
    mandatory: true,
    hidden: false,
    value: new Uint8Array(5),
  };
  const unknownM0: Avp = {
    vendorId: 4491,
    attributeType: 1,
    mandatory: false,
    hidden: false,
    value: new Uint8Array(3),
  };
  const icrq = buildAvps("ICRQ", { assignedSessionId: 4, callSerialNumber: 1 }, {
    extra: [unknownM0],
  });
  const skipped = decodeControl(encodeControl(address, icrq));
  assert.ok(skipped.ok);
  assert.deepEqual(skipped.value.problems, []);
  assert.equal(fieldsOf(skipped.value.avps).assignedSessionId, 4);
  assert.equal(skipped.value.avps.at(-1)!.vendorId, 4491);

  const withM1 = buildAvps("ICRQ", { assignedSessionId: 4, callSerialNumber: 1 }, {
    extra: [unknownM1],
  });
  const r = decodeControl(encodeControl(address, withM1));
  assert.ok(r.ok);
  assert.equal(r.value.scope, "session");
  assert.equal(r.value.problems.length, 1);
  assert.equal(r.value.problems[0].code, "unknown_mandatory_avp");
  assert.equal(r.value.problems[0].errorCode, 8);
  assert.equal(
    fieldsOf(r.value.avps).assignedSessionId,
    4,
    "the caller still needs the Session ID for its CDN",
  );
});

Deno.test("a missing required AVP is reported, naming the AVP and the section (§6)", () => {
  for (const type of Object.keys(MESSAGE_SPECS) as MessageTypeName[]) {
    const spec = MESSAGE_SPECS[type];
    for (const key of spec.required) {
      const fields = fc.sample(fieldsFor(type), { numRuns: 1, seed: 7 })[0];
      delete fields[key];
      const r = decodeControl(encodeControl(address, buildAvps(type, fields)));
      assert.ok(r.ok);
      const name = AVP_SPECS_BY_KEY.get(key)!.name;
      assert.deepEqual(
        r.value.problems.map((p) => p.code),
        ["missing_required_avp"],
        `${type} ${key}`,
      );
      assert.ok(
        r.value.problems[0].message.includes(name) &&
          r.value.problems[0].message.includes(spec.section),
      );
    }
  }
});

Deno.test("a known AVP with a wrong value length is reported with error code 2 (Length is wrong)", () => {
  const badTunnelId: Avp = {
    vendorId: 0,
    attributeType: 9,
    mandatory: true,
    hidden: false,
    value: new Uint8Array(3),
  };
  const avps = buildAvps("StopCCN", { resultCode: { resultCode: 1 } }, { extra: [badTunnelId] });
  const r = decodeControl(encodeControl(address, avps));
  assert.ok(r.ok);
  const codes = r.value.problems.map((p) => [p.code, p.errorCode]);
  assert.deepEqual(codes, [["bad_avp_value", 2], ["missing_required_avp", 0]]);
  assert.equal(fieldsOf(r.value.avps).assignedTunnelId, undefined);
});

Deno.test("Result Code: error code and UTF-8 message are optional fields (§4.4.2)", () => {
  const cases = [
    [{ resultCode: 2 }, "0008 0000 0001 0002"],
    [{ resultCode: 2, errorCode: 8 }, "000a 0000 0001 0002 0008"],
    [{ resultCode: 2, errorCode: 0, errorMessage: "né" }, "000d 0000 0001 0002 0000 6ec3a9"],
  ] as const;
  for (const [value, wire] of cases) {
    const bytes = encodeControl(
      address,
      buildAvps("CDN", { resultCode: value, assignedSessionId: 1 }),
    );
    const resultAvp = bytes.subarray(12 + 8, 12 + 8 + hex(wire).length);
    assert.deepEqual(resultAvp.subarray(2), hex(wire).subarray(2));
  }
});

Deno.test("the catalogue defines all 39 RFC 2661 AVPs, 0 to 39 but 20", () => {
  assert.deepEqual(
    [...AVP_SPECS.keys()].sort((a, b) => a - b),
    [...Array(40).keys()].filter((t) => t !== 20),
  );
});

Deno.test("random bytes and mutated valid messages never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      decodeControl(bytes);
      decodeControl(bytes, { secret });
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(anyMessage, fc.array(fc.tuple(fc.nat(), fc.nat(255))), (msg, flips) => {
      const bytes = encodeControl(
        address,
        buildAvps(msg.type, msg.fields, { hide: ["assignedSessionId"] }),
        { secret },
      );
      for (const [at, v] of flips) bytes[at % bytes.length] = v;
      decodeControl(bytes, { secret });
    }),
    { numRuns: 3000 },
  );
});

Deno.test("value layouts are the RFC's octets: capabilities, types, Call Errors, ACCM, Q.931, Proxy Authen ID (§4.4)", () => {
  const cases: [Parameters<typeof buildAvps>[1], string][] = [
    [
      { framingCapabilities: { synchronous: true, asynchronous: false } },
      "800a 0000 0003 00000001",
    ],
    [
      { framingCapabilities: { synchronous: false, asynchronous: true } },
      "800a 0000 0003 00000002",
    ],
    [{ bearerCapabilities: { digital: true, analog: false } }, "800a 0000 0004 00000001"],
    [{ bearerCapabilities: { digital: false, analog: true } }, "800a 0000 0004 00000002"],
    [{ framingType: { synchronous: true, asynchronous: false } }, "800a 0000 0013 00000001"],
    [{ protocolVersion: { version: 1, revision: 0 } }, "8008 0000 0002 0100"],
    [
      { q931CauseCode: { causeCode: 16, causeMsg: 69, advisory: "ok" } },
      "800b 0000 000c 0010 45 6f6b",
    ],
    [{ proxyAuthenId: 7 }, "0008 0000 0020 0007"],
    [
      { accm: { sendAccm: 0x01020304, receiveAccm: 0xa0b0c0d0 } },
      "8010 0000 0023 0000 01020304 a0b0c0d0",
    ],
    [
      {
        callErrors: {
          crcErrors: 1,
          framingErrors: 2,
          hardwareOverruns: 3,
          bufferOverruns: 4,
          timeoutErrors: 5,
          alignmentErrors: 0xffffffff,
        },
      },
      "8020 0000 0022 0000 00000001 00000002 00000003 00000004 00000005 ffffffff",
    ],
    [{ sequencingRequired: true }, "8006 0000 0027"],
  ];
  for (const [fields, wire] of cases) {
    const avps = buildAvps("HELLO", fields);
    const bytes = encodeControl(address, avps);
    assert.deepEqual(bytes.subarray(12 + 8), hex(wire), JSON.stringify(fields));
    assert.deepEqual(fieldsOf(decodeAvpsOf(bytes)), { messageType: 6, ...fields });
  }
});

function decodeAvpsOf(bytes: Uint8Array) {
  const r = decodeControl(bytes);
  assert.ok(r.ok);
  return r.value.avps;
}

Deno.test("a malformed AVP without the M bit is a warning and is ignored; with the M bit it is a problem (§7.1)", () => {
  const base = {
    protocolVersion: { version: 1, revision: 0 },
    hostName: "a",
    framingCapabilities: { synchronous: true, asynchronous: false },
    assignedTunnelId: 1,
  };
  const shortFirmware: Avp = {
    vendorId: 0,
    attributeType: 6,
    mandatory: false,
    hidden: false,
    value: new Uint8Array(3),
  };
  const r = decodeControl(
    encodeControl(address, buildAvps("SCCRQ", base, { extra: [shortFirmware] })),
  );
  assert.ok(r.ok);
  assert.deepEqual(r.value.problems, []);
  assert.deepEqual(r.value.warnings.map((w) => [w.code, w.attributeType]), [["bad_avp_value", 6]]);
  assert.equal(fieldsOf(r.value.avps).firmwareRevision, undefined);

  const mandatoryShort: Avp = { ...shortFirmware, mandatory: true };
  const r2 = decodeControl(
    encodeControl(address, buildAvps("SCCRQ", base, { extra: [mandatoryShort] })),
  );
  assert.ok(r2.ok);
  assert.deepEqual(r2.value.problems.map((p) => [p.code, p.errorCode]), [["bad_avp_value", 2]]);
});

Deno.test("a hidden AVP that cannot be revealed is weighed by its M bit, never fails the message", () => {
  const rv: Avp = {
    vendorId: 0,
    attributeType: 36,
    mandatory: true,
    hidden: false,
    value: new Uint8Array(16),
  };
  const bogus = (mandatory: boolean): Avp => ({
    vendorId: 0,
    attributeType: 30,
    mandatory,
    hidden: true,
    concealed: true,
    value: hex("ffff00112233"),
  });
  const fields = { txConnectSpeed: 1, framingType: { synchronous: true, asynchronous: false } };
  for (const mandatory of [false, true]) {
    const r = decodeControl(
      encodeControl(address, buildAvps("ICCN", fields, { extra: [rv, bogus(mandatory)] })),
      { secret },
    );
    assert.ok(r.ok);
    assert.equal((mandatory ? r.value.problems : r.value.warnings).length, 1);
    assert.equal((mandatory ? r.value.warnings : r.value.problems).length, 0);
  }
});

Deno.test("AVPs the RFC forbids hiding, a 3-octet Result Code and a non-zero Proxy Authen ID high octet are malformed", () => {
  const rv: Avp = {
    vendorId: 0,
    attributeType: 36,
    mandatory: true,
    hidden: false,
    value: new Uint8Array(16),
  };
  const hiddenHost: Avp = {
    vendorId: 0,
    attributeType: 7,
    mandatory: true,
    hidden: true,
    value: new TextEncoder().encode("h"),
  };
  const sccrq = buildAvps("SCCRQ", {
    protocolVersion: { version: 1, revision: 0 },
    framingCapabilities: { synchronous: true, asynchronous: false },
    assignedTunnelId: 1,
  }, { extra: [rv, hiddenHost] });
  const r = decodeControl(encodeControl(address, sccrq, { secret }), { secret });
  assert.ok(r.ok);
  assert.ok(
    r.value.problems.some((p) => p.attributeType === 7 && /MUST NOT be hidden/.test(p.message)),
  );

  const result3: Avp = {
    vendorId: 0,
    attributeType: 1,
    mandatory: true,
    hidden: false,
    value: new Uint8Array(3),
  };
  const cdn = decodeControl(
    encodeControl(address, buildAvps("CDN", { assignedSessionId: 1 }, { extra: [result3] })),
  );
  assert.ok(cdn.ok);
  assert.equal(
    cdn.value.problems.filter((p) => p.code === "bad_avp_value" && p.attributeType === 1).length,
    1,
  );

  const id: Avp = {
    vendorId: 0,
    attributeType: 32,
    mandatory: false,
    hidden: false,
    value: hex("0107"),
  };
  const iccn = decodeControl(
    encodeControl(
      address,
      buildAvps("ICCN", {
        txConnectSpeed: 1,
        framingType: { synchronous: true, asynchronous: false },
      }, { extra: [id] }),
    ),
  );
  assert.ok(iccn.ok);
  assert.deepEqual(iccn.value.warnings.map((w) => w.attributeType), [32]);
  assert.equal(fieldsOf(iccn.value.avps).proxyAuthenId, undefined);
});

Deno.test("octet strings that are not UTF-8 read losslessly, one character per octet", () => {
  const name: Avp = {
    vendorId: 0,
    attributeType: 30,
    mandatory: false,
    hidden: false,
    value: hex("e9ff41"),
  };
  const f = fieldsOf([name]);
  assert.equal(f.proxyAuthenName, "\u00e9\u00ff\u0041");
  const bom: Avp = { ...name, value: hex("efbbbf41") };
  assert.equal(fieldsOf([bom]).proxyAuthenName, "\ufeffA");
});

Deno.test("encoding a control message over 65535 octets throws instead of wrapping the Length", () => {
  const big: Avp = {
    vendorId: 0,
    attributeType: 37,
    mandatory: false,
    hidden: false,
    value: new Uint8Array(1000),
  };
  assert.throws(
    () => encodeControl(address, buildAvps("HELLO", {}, { extra: Array(70).fill(big) })),
    /Length/,
  );
});
