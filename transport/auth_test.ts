import assert from "node:assert/strict";
import { challengeResponse, verifyChallengeResponse } from "./auth.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const secret = new TextEncoder().encode("s3cret");
const challenge = new Uint8Array([1, 2, 3, 4]);

// Expected digests from Python hashlib: MD5(type octet ‖ "s3cret" ‖ 01020304), RFC 2661 §4.2/§5.1.1.
Deno.test("Challenge Response uses octet 2 in SCCRP and 3 in SCCCN", () => {
  assert.deepEqual(
    challengeResponse("SCCRP", secret, challenge),
    hex("fe8ecd355f4c9992a90ea047365555b9"),
  );
  assert.deepEqual(
    challengeResponse("SCCCN", secret, challenge),
    hex("ddc1f37cc79772b5d41601ba688a8197"),
  );
});

Deno.test("verifyChallengeResponse accepts the right response and rejects others", () => {
  const good = challengeResponse("SCCCN", secret, challenge);
  assert.equal(verifyChallengeResponse("SCCCN", secret, challenge, good), true);
  assert.equal(verifyChallengeResponse("SCCRP", secret, challenge, good), false);
  assert.equal(
    verifyChallengeResponse("SCCCN", new TextEncoder().encode("other"), challenge, good),
    false,
  );
  assert.equal(verifyChallengeResponse("SCCCN", secret, challenge, good.subarray(0, 15)), false);
});
