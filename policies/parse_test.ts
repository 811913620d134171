import assert from "node:assert/strict";
import { formatPolicyErrors, loadPolicy, type PolicyConfig, PolicyError } from "./mod.ts";
import { parsePolicy } from "./parse.ts";

/** The example from the issue, verbatim. */
export const EXAMPLE = `hostname: lts-a                     # Host Name AVP on both legs
listen: ["127.0.0.1:1701"]
api: { listen: "127.0.0.1:9701" }
limits: { max_tunnels: 2000, max_sessions: 100000, sccrq_per_second: 200 }
lacs:                               # who may open tunnels here; first match wins
  - { match: { hostname: "lac-*" }, secret: "s3cret", hello_interval: 30 }
  - { match: { address: "127.0.0.0/8" } }          # no tunnel authentication
upstreams:
  isp-a:
    strategy: priority              # priority | round_robin | weighted | least_sessions
    sessions_per_tunnel: 500        # aggregation: sessions share upstream tunnels
    members:
      - { address: "127.0.0.1:1801", secret: "x", priority: 1, max_sessions: 20000 }
      - { address: "127.0.0.1:1802", secret: "x", priority: 2 }
rules:
  - { name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }
  - { name: corp-by-number, match: { called_number: "^0800", lac_hostname: "lac-north-*" }, forward: isp-a }
  - { name: blocked, match: { domain: "*.blocked.example" }, reject: { result_code: 2, message: "realm not served" } }
default: { reject: { result_code: 2 } }
`;

function parse(text: string): PolicyConfig {
  const r = parsePolicy(text, "lts.yaml");
  if (!r.ok) throw new Error(formatPolicyErrors(r.error));
  return r.value;
}

/** The `file:line:col: message` lines for a policy that must fail. */
function errors(text: string): string[] {
  const r = loadPolicy(text, "lts.yaml");
  assert.equal(r.ok, false, "policy was accepted");
  return r.ok ? [] : r.error.map(String);
}

const MINIMAL = "hostname: lts-a\nlacs: [{ match: {} }]\n";

Deno.test("the issue's example loads with every value in place", () => {
  const c = parse(EXAMPLE);
  assert.equal(c.hostname, "lts-a");
  assert.deepEqual(c.listen, [{ hostname: "127.0.0.1", port: 1701 }]);
  assert.deepEqual(c.api, { listen: { hostname: "127.0.0.1", port: 9701 } });
  assert.deepEqual(c.limits, { maxTunnels: 2000, maxSessions: 100000, sccrqPerSecond: 200 });
  assert.equal(c.lacs.length, 2);
  assert.deepEqual(c.lacs[0].admission, { secret: "s3cret", helloInterval: 30 });
  assert.equal(c.lacs[0].match.hostname?.[0].text, "lac-*");
  assert.equal(c.lacs[1].match.address?.[0].bits, 8);
  const isp = c.upstreams.get("isp-a")!;
  assert.equal(isp.strategy, "priority");
  assert.equal(isp.sessionsPerTunnel, 500);
  assert.deepEqual(isp.members.map((m) => [m.key, m.priority, m.maxSessions, m.secret]), [
    ["127.0.0.1:1801", 1, 20000, "x"],
    ["127.0.0.1:1802", 2, undefined, "x"],
  ]);
  assert.deepEqual(c.rules.map((r) => [r.name, r.action.type]), [
    ["isp-a", "forward"],
    ["corp-by-number", "forward"],
    ["blocked", "reject"],
  ]);
  assert.deepEqual(c.rules[2].action, {
    type: "reject",
    resultCode: 2,
    message: "realm not served",
  });
  assert.deepEqual(c.defaultAction, { type: "reject", resultCode: 2 });
  assert.equal(c.maxHops, 4);
  assert.deepEqual(c.realm, { suffix: ["@"], prefix: [] });
  assert.deepEqual(c.log, { level: "info", format: "text" });
});

Deno.test("defaults: listen, limits, log, max_hops, realm, default action, member settings", () => {
  const c = parse(MINIMAL + "upstreams: { u: { members: [{ address: 192.0.2.1 }] } }\n");
  assert.deepEqual(c.listen, [{ hostname: "0.0.0.0", port: 1701 }]);
  assert.equal(c.api, undefined);
  assert.deepEqual(c.limits, { maxTunnels: 1000, maxSessions: 50000, sccrqPerSecond: 100 });
  assert.deepEqual(c.defaultAction, { type: "reject", resultCode: 2 });
  const u = c.upstreams.get("u")!;
  assert.equal(u.strategy, "priority");
  assert.equal(u.sessionsPerTunnel, 1000);
  assert.deepEqual(
    { ...u.members[0] },
    {
      upstream: "u",
      index: 0,
      address: { hostname: "192.0.2.1", port: 1701 },
      key: "192.0.2.1:1701",
      priority: 1,
      weight: 1,
      hostname: "lts-a",
      helloInterval: 60,
      hideAvps: false,
    },
  );
});

Deno.test("every optional key an operator expects is read", () => {
  const c = parse(`
hostname: lts-a
listen: ["127.0.0.1:1701", "[::1]:1701"]
api: { listen: "[::1]:9701", token_file: /etc/lts/token }
log: { level: debug, format: json }
max_hops: 2
realm: { suffix: ["@", "%"], prefix: ["/", "\\\\"] }
lacs:
  - { match: { address: "10.9.0.0/16" }, deny: true }
  - { match: { hostname: [lac-1, "lac-2*"], address: ["10.0.0.0/8", "2001:db8::/32"] },
      secret: s, hide_avps: true, max_sessions: 500, hello_interval: 0 }
upstreams:
  u:
    strategy: weighted
    secret: shared
    hostname: lts-to-u
    hello_interval: 10
    members:
      - { address: "[2001:db8::1]:1801", weight: 3 }
      - { address: 192.0.2.2, weight: 0, secret: own, hostname: other, hello_interval: 5,
          hide_avps: true }
rules:
  - { name: t, match: { user: "test-*", calling_number: "^\\\\+44" }, terminate: {} }
  - { match: { lac_address: "10.1.0.0/16" }, reject: { result_code: 6, error_code: 0, message: m } }
  - { name: last, forward: u }
default: { terminate: }
`);
  assert.deepEqual(c.listen.map((e) => e.hostname), ["127.0.0.1", "::1"]);
  assert.deepEqual(c.api, { listen: { hostname: "::1", port: 9701 }, tokenFile: "/etc/lts/token" });
  assert.deepEqual(c.log, { level: "debug", format: "json" });
  assert.equal(c.maxHops, 2);
  assert.deepEqual(c.realm, { suffix: ["@", "%"], prefix: ["/", "\\"] });
  assert.equal(c.lacs[0].deny, true);
  assert.deepEqual(c.lacs[1].admission, {
    secret: "s",
    hideAvps: true,
    maxSessions: 500,
    helloInterval: 0,
  });
  const [a, b] = c.upstreams.get("u")!.members;
  assert.deepEqual([a.key, a.weight, a.secret, a.hostname, a.helloInterval, a.hideAvps], [
    "[2001:db8::1]:1801",
    3,
    "shared",
    "lts-to-u",
    10,
    false,
  ]);
  assert.deepEqual([b.key, b.weight, b.secret, b.hostname, b.helloInterval, b.hideAvps], [
    "192.0.2.2:1701",
    0,
    "own",
    "other",
    5,
    true,
  ]);
  assert.equal(c.rules[0].match.callingNumber?.[0].literalPrefix, "+44");
  assert.equal(c.rules[1].name, "rules[1]");
  assert.deepEqual(c.rules[1].action, {
    type: "reject",
    resultCode: 6,
    errorCode: 0,
    message: "m",
  });
  assert.deepEqual(c.rules[2].match, {});
  assert.deepEqual(c.defaultAction, { type: "terminate", target: "default" });
});

Deno.test("aliases resolve: a secret defined once", () => {
  const c = parse(`hostname: h
lacs: [{ match: {}, secret: &s "k3y" }]
upstreams: { u: { members: [{ address: 192.0.2.1, secret: *s }] } }
`);
  assert.equal(c.upstreams.get("u")!.members[0].secret, "k3y");
});

Deno.test("errors: each names the offending node's line and column", () => {
  const cases: [string, string][] = [
    // unknown top-level key, with a suggestion
    [
      MINIMAL + "lisen: [a]\n",
      'lts.yaml:3:1: unknown key "lisen" in the policy (did you mean "listen"?)',
    ],
    // unknown nested key in a flow mapping
    [
      "hostname: h\nlacs:\n  - { match: {}, secet: x }\n",
      'lts.yaml:3:18: unknown key "secet" in lacs[0] (did you mean "secret"?)',
    ],
    // wrong type: a number where a string belongs
    [
      "hostname: 5\nlacs: []\n",
      "lts.yaml:1:11: hostname must be a string (got number 5; quote it)",
    ],
    // an unquoted number: YAML reads 0800 as 800
    [
      MINIMAL + "rules:\n  - { match: { called_number: 0800 }, terminate: {} }\n",
      "lts.yaml:4:31: rules[0]: called_number must be a string (got number 800; quote it)",
    ],
    // range: port
    [
      'hostname: h\nlacs: []\nlisten: ["1.2.3.4:70000"]\n',
      "lts.yaml:3:10: listen: port 70000 is not in 0..65535",
    ],
    // range: CDN result code
    [
      MINIMAL + "rules:\n  - name: r\n    reject: { result_code: 12 }\n",
      'lts.yaml:5:28: rule "r": result_code must be in 1..11, got 12',
    ],
    // range: limits
    [
      MINIMAL + "limits:\n  max_tunnels: 0\n",
      "lts.yaml:4:16: limits.max_tunnels must be in 1..65535, got 0",
    ],
    // reference to an undeclared upstream
    [
      MINIMAL + "upstreams:\n  isp-a: { members: [{ address: 192.0.2.1 }] }\nrules:\n" +
      "  - name: corp\n    forward: isp-b\n",
      'lts.yaml:7:14: unknown upstream "isp-b" in rule "corp" (did you mean "isp-a"?)',
    ],
    // a regex that does not compile
    [
      MINIMAL + 'rules:\n  - { match: { calling_number: "^(0" }, terminate: {} }\n',
      "lts.yaml:4:32: rules[0]: calling_number: Invalid regular expression: /^(0/u: Unterminated group",
    ],
    // a CIDR that does not parse
    [
      MINIMAL +
      "rules:\n  - match:\n      lac_address: [10.0.0.0/8, 10.0.0.0/33]\n    terminate: {}\n",
      'lts.yaml:5:33: rules[0]: lac_address: prefix length "33" is not in 0..32',
    ],
    [
      "hostname: h\nlacs:\n  - match: { address: fe80::1/10 }\n",
      'lts.yaml:3:23: lacs[0].match.address: "fe80::1/10" has host bits set (did you mean "fe80::/10"?)',
    ],
    // duplicate rule names
    [
      MINIMAL + "rules:\n  - { name: a, terminate: {} }\n  - { name: a, terminate: {} }\n",
      'lts.yaml:5:13: duplicate rule name "a" (first used on line 4)',
    ],
    // an upstream with no members
    [
      MINIMAL + "upstreams:\n  isp-a:\n    members: []\n",
      'lts.yaml:5:14: upstream "isp-a" has no members (give "members: [{ address: … }]")',
    ],
    [
      MINIMAL + "upstreams:\n  isp-a: { strategy: priority }\n",
      'lts.yaml:4:10: upstream "isp-a" has no members (give "members: [{ address: … }]")',
    ],
    // an enum value
    [
      MINIMAL +
      "upstreams:\n  u:\n    strategy: round-robin\n    members: [{ address: 192.0.2.1 }]\n",
      'lts.yaml:5:15: upstream "u": strategy must be one of priority, round_robin, weighted, ' +
      'least_sessions, got "round-robin" (did you mean "round_robin"?)',
    ],
    // a domain glob in the wrong place
    [
      MINIMAL + "rules: [{ match: { domain: a.*.example }, terminate: {} }]\n",
      'lts.yaml:3:28: rules[0]: domain: "a.*.example": "*" may only stand alone or as the first ' +
      'label ("*.example.net")',
    ],
    // two actions
    [
      MINIMAL + "rules: [{ name: x, terminate: {}, reject: {} }]\n",
      'lts.yaml:3:35: rule "x" needs exactly one action: forward, reject or terminate (got terminate ' +
      "and reject)",
    ],
    // no action
    [
      MINIMAL + "rules:\n  - name: x\n",
      'lts.yaml:4:5: rule "x" needs exactly one action: forward, reject or terminate',
    ],
    // hiding without a secret
    [
      "hostname: h\nlacs:\n  - { match: {}, hide_avps: true }\n",
      "lts.yaml:3:18: lacs[0]: hide_avps needs a secret (RFC 2661 §4.3)",
    ],
    // YAML syntax
    [
      "hostname: h\nlacs: [\n",
      "lts.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ],
    ["hostname: h\nhostname: i\nlacs: []\n", "lts.yaml:2:1: Map keys must be unique"],
    // missing required keys
    ["lacs: []\n", 'lts.yaml:1:1: missing key "hostname" (the Host Name AVP this switch sends)'],
    ["", "lts.yaml:1:1: the policy is empty: it needs at least hostname and lacs"],
  ];
  assert.deepEqual(cases.map(([text]) => errors(text)), cases.map(([, expected]) => [expected]));
});

Deno.test("lts check: every error in the file is reported, in file order", () => {
  const text = `hostname: lts-a
lacs:
  - { match: { hostname: "lac-*" }, secet: x }
upstreams:
  isp-a: { strategy: priority, members: [] }
rules:
  - { name: corp, match: { domain: "*.x", called_number: "[" }, forward: isp-b }
  - { name: corp, match: { lac_address: "10.0.0.0/40" }, reject: { result_code: 0 } }
default: { reject: { message: 5 } }
`;
  const r = loadPolicy(text, "lts.yaml");
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.ok(r.error.every((e) => e instanceof PolicyError && e instanceof SyntaxError));
  assert.equal(
    formatPolicyErrors(r.error),
    [
      'lts.yaml:3:37: unknown key "secet" in lacs[0] (did you mean "secret"?)',
      'lts.yaml:5:41: upstream "isp-a" has no members (give "members: [{ address: … }]")',
      'lts.yaml:7:58: rule "corp": called_number: Invalid regular expression: /[/u: Unterminated ' +
      "character class",
      'lts.yaml:7:74: unknown upstream "isp-b" in rule "corp" (did you mean "isp-a"?)',
      'lts.yaml:8:13: duplicate rule name "corp" (first used on line 7)',
      'lts.yaml:8:41: rule "corp": lac_address: prefix length "40" is not in 0..32',
      'lts.yaml:8:81: rule "corp": result_code must be in 1..11, got 0',
      "lts.yaml:9:31: default: message must be a string (got number 5; quote it)",
    ].join("\n"),
  );
  const [first] = r.error;
  assert.deepEqual([first.file, first.line, first.col], ["lts.yaml", 3, 37]);
});

Deno.test("more checks: weights, duplicate members and listeners, deny entries, realm", () => {
  assert.deepEqual(
    errors(
      MINIMAL +
        "upstreams:\n  u:\n    strategy: weighted\n    members:\n      - { address: 192.0.2.1, weight: 0 }\n" +
        "      - { address: '192.0.2.1:1701', weight: 0 }\n",
    ),
    [
      'lts.yaml:7:7: upstream "u": every member has weight 0, so it can carry no session',
      'lts.yaml:8:20: upstream "u": member 192.0.2.1:1701 is listed twice',
    ],
  );
  assert.deepEqual(errors(MINIMAL + 'listen: ["[::1]:1701", "[0::1]:1701"]\n'), [
    'lts.yaml:3:24: listen: "[::1]:1701" is listed twice',
  ]);
  assert.deepEqual(errors("hostname: h\nlacs: [{ match: {}, deny: true, secret: s }]\n"), [
    'lts.yaml:2:33: lacs[0]: a deny entry takes only "match", not "secret"',
  ]);
  assert.deepEqual(errors(MINIMAL + "realm: { suffix: ['@', '/'], prefix: ['/'] }\n"), [
    'lts.yaml:3:39: realm delimiter "/" cannot be both a suffix and a prefix',
  ]);
  assert.deepEqual(errors("hostname: h\n"), [
    'lts.yaml:1:1: missing key "lacs" (which LACs may open tunnels; "- { match: {} }" admits any)',
  ]);
  assert.deepEqual(errors(MINIMAL + "max_hops: 0\nlog: { level: verbose }\n"), [
    "lts.yaml:3:11: max_hops must be in 1..32, got 0",
    'lts.yaml:4:15: log.level must be one of trace, debug, info, warning, error, fatal, got "verbose"',
  ]);
});

Deno.test("loadPolicyFile reads a file, and reports an unreadable one without a position", async () => {
  const { loadPolicyFile } = await import("./mod.ts");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/lts.yaml`, EXAMPLE);
    const r = await loadPolicyFile(`${dir}/lts.yaml`);
    assert.ok(r.ok);
    const missing = await loadPolicyFile(`${dir}/nope.yaml`);
    assert.equal(missing.ok, false);
    if (!missing.ok) {
      assert.equal(missing.error.length, 1);
      assert.equal(missing.error[0].line, 0);
      assert.match(String(missing.error[0]), /^\/.*nope\.yaml: cannot read: /);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an upstream member that is one of our own listen addresses is refused (a loop)", () => {
  const text = [
    "hostname: a",
    'listen: ["127.0.0.1:1701"]',
    "lacs: [{ match: {} }]",
    "upstreams:",
    '  self: { members: [{ address: "127.0.0.1:1701" }] }',
  ].join("\n");
  const r = parsePolicy(text, "loop.yaml");
  assert.ok(!r.ok);
  assert.deepEqual(r.error.map(String), [
    'loop.yaml:5:32: upstream "self" members[0]: 127.0.0.1:1701 is one of our own listen addresses (a loop)',
  ]);
});
