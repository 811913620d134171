import assert from "node:assert/strict";
import fc from "fast-check";
import { echoReply, echoRequest, lcpCode } from "./echo.ts";

Deno.test("Echo-Request layout: ff 03 c0 21 09 id length magic (RFC 1661 §5.8)", () => {
  assert.deepEqual(
    echoRequest(5, 0x01020304, new Uint8Array([0xaa])),
    new Uint8Array([0xff, 0x03, 0xc0, 0x21, 0x09, 0x05, 0x00, 0x09, 0x01, 0x02, 0x03, 0x04, 0xaa]),
  );
});

Deno.test("Echo-Reply keeps Identifier and data, puts our Magic-Number, works without ff 03", () => {
  const reply = echoReply(echoRequest(9, 1, new Uint8Array([1, 2])), 0xdeadbeef)!;
  assert.deepEqual(
    reply,
    new Uint8Array([0xff, 0x03, 0xc0, 0x21, 0x0a, 0x09, 0x00, 0x0a, 0xde, 0xad, 0xbe, 0xef, 1, 2]),
  );
  const compressed = echoRequest(3, 1).subarray(2);
  assert.equal(lcpCode(echoReply(compressed, 2)!), 10);
});

Deno.test("lcpCode and echoReply never throw and refuse what is not an Echo-Request", () => {
  assert.equal(
    echoReply(new Uint8Array([0xff, 0x03, 0x00, 0x21, 9, 1, 0, 8, 0, 0, 0, 0]), 1),
    null,
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
    lcpCode(b);
    const r = echoReply(b, 1);
    if (r !== null) assert.equal(lcpCode(r), 10);
  }));
});
