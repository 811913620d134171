import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import {
  accessRequestFor,
  answer,
  decodeRadius,
  encodeRadius,
  hideUserPassword,
  packetAuthenticator,
  RadiusAttribute,
  RadiusCode,
  revealUserPassword,
} from "./radius_responder.ts";

const secret = new TextEncoder().encode("radius-s3cret");

Deno.test("User-Password hides and reveals (RFC 2865 §5.2), for passwords up to 128 octets", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 120 }).filter((s) => !s.includes("\0")),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      (password, authenticator) => {
        fc.pre(new TextEncoder().encode(password).length <= 128);
        const hidden = hideUserPassword(password, authenticator, secret);
        assert.equal(hidden.length % 16, 0);
        assert.equal(revealUserPassword(hidden, authenticator, secret), password);
      },
    ),
  );
  assert.equal(revealUserPassword(new Uint8Array(15), new Uint8Array(16), secret), null);
});

Deno.test("Access-Request → Access-Accept with the Response Authenticator of RFC 2865 §3", () => {
  const request = accessRequestFor({ identifier: 42, user: "u@isp", password: "pw", secret });
  const reply = answer(request, { secret, framedIp: "10.1.2.3", password: "pw" });
  assert.ok(reply);
  assert.deepEqual(
    { user: reply.log.user, auth: reply.log.auth, password_ok: reply.log.password_ok },
    { user: "u@isp", auth: "pap", password_ok: true },
  );
  const accept = decodeRadius(reply.packet)!;
  assert.equal(accept.code, RadiusCode.AccessAccept);
  assert.equal(accept.identifier, 42);
  // MD5(Code+ID+Length+RequestAuth+Attributes+Secret), computed by hand.
  const expected = createHash("md5")
    .update(reply.packet.subarray(0, 4))
    .update(request.subarray(4, 20))
    .update(reply.packet.subarray(20))
    .update(secret)
    .digest();
  assert.deepEqual(accept.authenticator, new Uint8Array(expected));
  const framed = accept.attributes.find((a) => a.type === RadiusAttribute.FramedIpAddress);
  assert.deepEqual(framed?.value, new Uint8Array([10, 1, 2, 3]));
});

Deno.test("Accounting-Request: answered when its authenticator checks (RFC 2866 §3), else dropped", () => {
  const base = {
    code: RadiusCode.AccountingRequest,
    identifier: 9,
    authenticator: new Uint8Array(16),
    attributes: [{ type: RadiusAttribute.AcctStatusType, value: new Uint8Array([0, 0, 0, 1]) }],
  };
  const authenticator = packetAuthenticator(base, new Uint8Array(16), secret);
  const good = encodeRadius({ ...base, authenticator });
  const reply = answer(good, { secret });
  assert.equal(reply?.packet[0], RadiusCode.AccountingResponse);
  assert.equal(reply?.log.status, 1);
  assert.equal(answer(good, { secret: new TextEncoder().encode("wrong") }), null);
});

Deno.test("decodeRadius refuses short packets and attributes past the Length", () => {
  assert.equal(decodeRadius(new Uint8Array(19)), null);
  const p = accessRequestFor({ identifier: 1, user: "a", password: "b", secret });
  assert.equal(decodeRadius(p.subarray(0, p.length - 1)), null);
  const bad = p.slice();
  bad[21] = 200; // User-Name length beyond the packet
  assert.equal(decodeRadius(bad), null);
});
