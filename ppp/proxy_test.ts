import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { confreqOptions, proxyFields } from "./proxy.ts";

Deno.test("CONFREQ options: MRU, Magic-Number and the Authentication-Protocol the LAC asked for", () => {
  assert.deepEqual(
    confreqOptions({ mru: 1500, magic: 0x01020304 }),
    new Uint8Array([1, 4, 5, 220, 5, 6, 1, 2, 3, 4]),
  );
  assert.deepEqual(
    confreqOptions({ mru: 1492, magic: 1, auth: "chap" }).subarray(10),
    new Uint8Array([3, 5, 0xc2, 0x23, 5]),
  );
  assert.deepEqual(
    confreqOptions({ mru: 1492, magic: 1, auth: "pap" }).subarray(10),
    new Uint8Array([3, 4, 0xc0, 0x23]),
  );
});

Deno.test("proxy CHAP response is MD5(Identifier ‖ password ‖ challenge) (RFC 1994 §4.1)", () => {
  const challenge = new Uint8Array(16).fill(7);
  const f = proxyFields("chap", { name: "bob", password: "pw", id: 42, challenge }, {
    clientMagic: 1,
    lacMagic: 2,
  });
  const expected = createHash("md5").update(new Uint8Array([42])).update("pw").update(challenge)
    .digest();
  assert.deepEqual(f.proxyAuthenResponse, new Uint8Array(expected));
  assert.equal(f.proxyAuthenType, 2);
  assert.equal(f.proxyAuthenId, 42);
});

Deno.test("proxy PAP carries the name and password; none carries type 4 only", () => {
  const pap = proxyFields("pap", { name: "a@b", password: "pw", id: 1 }, {
    clientMagic: 1,
    lacMagic: 2,
  });
  assert.deepEqual(pap.proxyAuthenResponse, new TextEncoder().encode("pw"));
  const none = proxyFields("none", { name: "a@b", password: "pw", id: 1 }, {
    clientMagic: 1,
    lacMagic: 2,
  });
  assert.equal(none.proxyAuthenType, 4);
  assert.equal(none.proxyAuthenName, undefined);
});
