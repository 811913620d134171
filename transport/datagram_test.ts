import assert from "node:assert/strict";
import fc from "fast-check";
import { type Endpoint, endpointKey, normalizeEndpoint, parseEndpoint } from "./datagram.ts";

function parsed(text: string): Endpoint {
  const r = parseEndpoint(text);
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.value;
}

Deno.test("parseEndpoint reads IPv4 and bracketed IPv6 endpoints", () => {
  assert.deepEqual(parsed("127.0.0.1:1701"), { hostname: "127.0.0.1", port: 1701 });
  assert.deepEqual(parsed("[::1]:1701"), { hostname: "::1", port: 1701 });
  assert.deepEqual(parsed("[2001:db8::7]:0"), { hostname: "2001:db8::7", port: 0 });
  assert.deepEqual(parsed("255.255.255.255:65535"), { hostname: "255.255.255.255", port: 65535 });
  assert.ok(Object.isFrozen(parsed("10.0.0.1:1")));
});

Deno.test("parseEndpoint canonicalises IPv6 text, so equal addresses have equal keys", () => {
  assert.equal(parsed("[0:0:0:0:0:0:0:1]:9").hostname, "::1");
  assert.equal(parsed("[2001:DB8:0::0001]:9").hostname, "2001:db8::1");
  assert.equal(endpointKey(parsed("[::0001]:1701")), endpointKey(parsed("[::1]:1701")));
});

Deno.test("parseEndpoint refuses malformed text with a reason, never a throw", () => {
  for (
    const bad of [
      "",
      "127.0.0.1",
      "127.0.0.1:",
      "127.0.0.1:65536",
      "127.0.0.1:-1",
      "127.0.0.1:+5",
      "127.0.0.1:1701x",
      "256.0.0.1:1",
      "01.2.3.4:1",
      "1.2.3:1",
      "localhost:1701",
      "lns.example.net:1701",
      "::1:1701",
      "[::1]",
      "[::1]1701",
      "[1::2::3]:1",
      "[1.2.3.4]:1",
      "[fe80::1%eth0]:1",
      "[]:1",
    ]
  ) {
    const r = parseEndpoint(bad);
    assert.equal(r.ok, false, `accepted ${JSON.stringify(bad)}`);
    assert.ok(!r.ok && r.error.length > 0);
  }
});

Deno.test("normalizeEndpoint checks port range and address form", () => {
  assert.deepEqual(normalizeEndpoint({ hostname: "0:0::1", port: 9 }), {
    ok: true,
    value: { hostname: "::1", port: 9 },
  });
  for (const port of [-1, 65536, 1.5, NaN]) {
    assert.equal(normalizeEndpoint({ hostname: "127.0.0.1", port }).ok, false, `port ${port}`);
  }
  assert.equal(normalizeEndpoint({ hostname: "example.com", port: 1 }).ok, false);
  assert.equal(normalizeEndpoint({ hostname: "[::1]", port: 1 }).ok, false);
});

Deno.test("endpointKey brackets IPv6 only", () => {
  assert.equal(endpointKey({ hostname: "192.0.2.1", port: 1701 }), "192.0.2.1:1701");
  assert.equal(endpointKey({ hostname: "2001:db8::1", port: 1701 }), "[2001:db8::1]:1701");
});

Deno.test("parseEndpoint(endpointKey(e)) returns e for every canonical endpoint", () => {
  const port = fc.integer({ min: 0, max: 65535 });
  const v4 = fc.ipV4().map((hostname) => ({ hostname, port: 0 }));
  const v6 = fc.ipV6().map((hostname) => ({ hostname, port: 0 }));
  fc.assert(
    fc.property(fc.oneof(v4, v6), port, (host, p) => {
      const canonical = normalizeEndpoint({ hostname: host.hostname, port: p });
      assert.ok(canonical.ok, canonical.ok ? "" : canonical.error);
      assert.deepEqual(parseEndpoint(endpointKey(canonical.value)), canonical);
    }),
  );
});
