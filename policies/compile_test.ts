import assert from "node:assert/strict";
import fc from "fast-check";
import { type CompiledPolicy, formatPolicyErrors, loadPolicy } from "./mod.ts";
import { EXAMPLE } from "./parse_test.ts";

function load(text: string): CompiledPolicy {
  const r = loadPolicy(text, "lts.yaml");
  if (!r.ok) throw new Error(formatPolicyErrors(r.error));
  return r.value;
}

Deno.test("the example decides by realm, by number and LAC, and falls to default", () => {
  const p = load(EXAMPLE);
  const isp = p.decide({ user: "bob@ISP-A.Example." });
  assert.equal(isp.action, "forward");
  assert.equal(isp.rule, "isp-a");
  if (isp.action === "forward") {
    assert.equal(isp.upstream, "isp-a");
    assert.deepEqual(isp.members.map((m) => m.key), ["127.0.0.1:1801", "127.0.0.1:1802"]);
  }
  assert.equal(
    p.decide({ calledNumber: "0800123", lacHostname: "LAC-North-7" }).rule,
    "corp-by-number",
  );
  assert.equal(p.decide({ calledNumber: "0800123", lacHostname: "lac-south-7" }).rule, null);
  assert.deepEqual(p.decide({ user: "x@deep.sub.blocked.example" }), {
    rule: "blocked",
    action: "reject",
    resultCode: 2,
    message: "realm not served",
  });
  // "*.blocked.example" is below the name, not the name itself (DNS wildcard).
  assert.deepEqual(p.decide({ user: "x@blocked.example" }), {
    rule: null,
    action: "reject",
    resultCode: 2,
  });
  assert.equal(p.decide({ user: "bob" }).rule, null);
  assert.deepEqual(p.rules.map((r) => [r.rule.name, r.needsUser, r.indexedBy]), [
    ["isp-a", true, "domain"],
    ["corp-by-number", false, "lac_hostname"],
    ["blocked", true, "domain"],
  ]);
  assert.equal(p.needsUser, true);
});

Deno.test("decideEarly: decides at ICRQ only when no earlier rule looks at the user name", () => {
  const p = load(`hostname: h
lacs: [{ match: {} }]
rules:
  - { name: north-free, match: { lac_hostname: "north-*", called_number: "^0800" }, terminate: {} }
  - { name: realm, match: { domain: isp.example, lac_hostname: "north-*" }, terminate: {} }
  - { name: south, match: { lac_hostname: "south-*" }, reject: { result_code: 3 } }
  - { name: anyone, match: { user: "*" }, terminate: {} }
`);
  assert.equal(
    (p.decideEarly({ lacHostname: "north-1", calledNumber: "0800" }) as { rule: string }).rule,
    "north-free",
  );
  // "realm" could still match a north LAC's call once the name is known.
  assert.equal(p.decideEarly({ lacHostname: "north-1", calledNumber: "0900" }), "need_user");
  // ...but not a south LAC's: its conditions on the LAC already fail.
  assert.deepEqual(p.decideEarly({ lacHostname: "south-1" }), {
    rule: "south",
    action: "reject",
    resultCode: 3,
  });
  assert.equal(p.decideEarly({ lacHostname: "east-1" }), "need_user");
  const noUserRules = load(
    "hostname: h\nlacs: []\nrules: [{ match: { called_number: '^1' }, terminate: {} }]\n",
  );
  assert.equal(noUserRules.needsUser, false);
  assert.deepEqual(noUserRules.decideEarly({}), { rule: null, action: "reject", resultCode: 2 });
});

Deno.test("realm delimiters: suffix and prefix forms, configurable", () => {
  const p = load(`hostname: h
lacs: []
realm: { suffix: ["@"], prefix: ["/", "\\\\"] }
rules:
  - { name: corp, match: { domain: corp.example, user: "alice" }, terminate: {} }
  - { name: corp-any, match: { domain: corp.example }, reject: { result_code: 3 } }
  - { name: bare, match: { user: "*" }, reject: { result_code: 4 } }
`);
  assert.equal(p.decide({ user: "alice@corp.example" }).rule, "corp");
  assert.equal(p.decide({ user: "CORP.example/alice" }).rule, "corp");
  assert.equal(p.decide({ user: "corp.example\\alice" }).rule, "corp");
  assert.equal(p.decide({ user: "corp.example\\bob" }).rule, "corp-any");
  // The suffix form wins: the realm that routes is the outer one.
  assert.equal(p.decide({ user: "other\\alice@corp.example" }).rule, "corp-any");
  assert.equal(p.decide({ user: "alice" }).rule, "bare");
  assert.equal(p.decide({ user: "alice@" }).rule, "bare");
  assert.deepEqual(p.explain({ user: "corp.example/alice" }).domain, "corp.example");
  // With the default realm only "@" splits.
  const plain = load(
    "hostname: h\nlacs: []\nrules: [{ match: { domain: corp.example }, terminate: {} }]\n",
  );
  assert.equal(plain.decide({ user: "corp.example/alice" }).rule, null);
  assert.equal(plain.decide({ user: "a@b@corp.example" }).rule, "rules[0]");
});

Deno.test("explain: the decision and why each earlier rule missed", () => {
  const p = load(EXAMPLE);
  const e = p.explain({
    user: "x@q.blocked.example",
    calledNumber: "0900",
    lacAddress: "10.0.0.1",
  });
  assert.equal(e.decision.rule, "blocked");
  assert.equal(e.user, "x");
  assert.equal(e.domain, "q.blocked.example");
  assert.deepEqual(e.missed, [
    { rule: "isp-a", index: 0, reasons: ['domain "q.blocked.example" is not "isp-a.example"'] },
    {
      rule: "corp-by-number",
      index: 1,
      reasons: [
        'no lac_hostname (rule wants "lac-north-*")',
        'called_number "0900" is not "^0800"',
      ],
    },
  ]);
  const cidr = load(
    "hostname: h\nlacs: []\nrules: [{ name: r, match: { lac_address: [10.0.0.0/8, '::1'] }, terminate: {} }]\n",
  );
  assert.deepEqual(cidr.explain({ lacAddress: "192.0.2.1" }).missed[0].reasons, [
    'lac_address "192.0.2.1" is not "10.0.0.0/8" or "::1"',
  ]);
  assert.equal(cidr.decide({ lacAddress: "::ffff:10.1.2.3" }).rule, "r");
  assert.equal(cidr.decide({ lacAddress: "0:0::1" }).rule, "r");
  assert.equal(cidr.decide({ lacAddress: "not-an-ip" }).rule, null);
});

Deno.test("members come in the strategy's order", () => {
  const p = load(`hostname: h
lacs: []
upstreams:
  p: { members: [{ address: 192.0.2.1, priority: 5 }, { address: 192.0.2.2, priority: 1 }, { address: 192.0.2.3, priority: 5 }] }
  w: { strategy: weighted, members: [{ address: 192.0.2.1, weight: 1 }, { address: 192.0.2.2, weight: 0 }, { address: 192.0.2.3, weight: 9 }] }
  r: { strategy: round_robin, members: [{ address: 192.0.2.3 }, { address: 192.0.2.1 }] }
rules:
  - { match: { called_number: "^1" }, forward: p }
  - { match: { called_number: "^2" }, forward: w }
  - { match: { called_number: "^3" }, forward: r }
`);
  const order = (n: string) => {
    const d = p.decide({ calledNumber: n });
    return d.action === "forward" ? d.members.map((m) => m.address.hostname.slice(-1)) : [];
  };
  assert.deepEqual(order("1"), ["2", "1", "3"]);
  assert.deepEqual(order("2"), ["3", "1"]);
  assert.deepEqual(order("3"), ["3", "1"]);
  // Decisions are built once: the same object every time.
  assert.equal(p.decide({ calledNumber: "1" }), p.decide({ calledNumber: "1" }));
});

Deno.test("admitLac: first match wins, deny refuses, no match refuses", () => {
  const p = load(`hostname: h
lacs:
  - { match: { address: "10.9.0.0/16" }, deny: true }
  - { match: { hostname: "lac-*", address: ["10.0.0.0/8", "2001:db8::/32"] }, secret: s, hide_avps: true, max_sessions: 9 }
  - { match: { hostname: "lac-*" }, secret: t, hello_interval: 30 }
  - { match: { address: "127.0.0.0/8" } }
`);
  assert.equal(p.admitLac({ hostname: "lac-1", address: "10.9.1.1" }), null);
  assert.deepEqual(p.admitLac({ hostname: "LAC-1", address: "10.1.1.1" }), {
    secret: "s",
    hideAvps: true,
    maxSessions: 9,
  });
  assert.deepEqual(p.admitLac({ hostname: "lac-1", address: "2001:db8::7" })?.secret, "s");
  assert.deepEqual(p.admitLac({ hostname: "lac-1", address: "192.0.2.1" }), {
    secret: "t",
    helloInterval: 30,
  });
  assert.deepEqual(p.admitLac({ hostname: "other", address: "127.0.0.5" }), {});
  assert.equal(p.admitLac({ hostname: "other", address: "192.0.2.1" }), null);
  assert.equal(p.admitLac({}), null);
  assert.equal(load("hostname: h\nlacs: []\n").admitLac({ hostname: "x" }), null);
});

// ---- property: the compiled matcher equals a naive linear scan -----------------------------
// The oracle below is written from the policy's documented semantics, sharing no code with the
// matcher: realm split at the last "@", DNS-style realm patterns, caseless host globs,
// case-sensitive user globs, number regexes, CIDR prefixes.

interface RuleSpec {
  name: string;
  match: Record<string, string[]>;
  terminate?: Record<never, never>;
  reject?: { result_code: number };
}

const label = fc.constantFrom("a", "b", "X");
const domainName = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join("."));
const domainPattern = fc.oneof(
  { weight: 5, arbitrary: domainName },
  { weight: 3, arbitrary: domainName.map((d) => `*.${d}`) },
  { weight: 1, arbitrary: fc.constant("*") },
);
const hostChars = fc.constantFrom("lac-", "n", "S", ".");
const hostName = fc.array(hostChars, { minLength: 1, maxLength: 3 }).map((cs) => cs.join(""));
const hostGlob = fc.tuple(hostName, fc.integer({ min: -1, max: 4 })).map(([h, star]) =>
  star < 0 || star > h.length ? h : h.slice(0, star) + "*" + h.slice(star)
);
const userName = fc.constantFrom("bob", "Bob", "alice", "b");
const userGlob = fc.constantFrom("bob", "b*", "*", "*e", "Bob");
const number = fc.array(fc.constantFrom("0", "8", "9"), { minLength: 0, maxLength: 4 })
  .map((ds) => ds.join(""));
const numberPattern = fc.oneof(
  number.map((n) => `^${n}`),
  number.map((n) => `^${n}$`),
  number.filter((n) => n !== ""),
  fc.constantFrom("^0?8", "^(08|09)", "^0800|^0900", "\\d+9$", "^0[89]", "^08+0", "^\\+4"),
);
const v4 = fc.constantFrom("10.0.0.1", "10.0.1.200", "10.1.0.1", "192.0.2.7", "127.0.0.1");
const v6 = fc.constantFrom("2001:db8::1", "2001:db8:1::5", "::1", "fe80::1");
const cidr = fc.constantFrom(
  "10.0.0.0/8",
  "10.0.0.0/16",
  "10.0.1.0/24",
  "10.0.1.128/25",
  "0.0.0.0/0",
  "10.0.0.1",
  "192.0.2.0/24",
  "2001:db8::/32",
  "2001:db8:1::/48",
  "::1/128",
  "::/0",
);
const list = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: 1, maxLength: 2 });
const condition = fc.oneof(
  list(domainPattern).map((ps) => ["domain", ps] as const),
  list(userGlob).map((ps) => ["user", ps] as const),
  list(hostGlob).map((ps) => ["lac_hostname", ps] as const),
  list(cidr).map((ps) => ["lac_address", ps] as const),
  list(numberPattern).map((ps) => ["called_number", ps] as const),
  list(numberPattern).map((ps) => ["calling_number", ps] as const),
);
// One or two conditions per rule (rarely none), so that random calls match often enough to matter.
const ruleMatch = fc.oneof(
  { weight: 1, arbitrary: fc.constant([]) },
  { weight: 12, arbitrary: fc.array(condition, { minLength: 1, maxLength: 2 }) },
).map((cs): Record<string, string[]> => Object.fromEntries(cs));
const rules = fc.array(ruleMatch, { minLength: 0, maxLength: 25 }).map((ms) =>
  ms.map((match, i): RuleSpec =>
    i % 2 === 0 ? { name: `r${i}`, match, terminate: {} } : {
      name: `r${i}`,
      match,
      reject: { result_code: 1 + (i % 11) },
    }
  )
);
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const fullUser = fc.tuple(userName, optional(domainName), fc.boolean()).map(([u, d, dot]) =>
  d === undefined ? u : `${u}@${d}${dot ? "." : ""}`
);
const call = fc.record({
  user: optional(fullUser),
  lacHostname: optional(hostName),
  lacAddress: optional(fc.oneof(v4, v6)),
  calledNumber: optional(number),
  callingNumber: optional(number),
});
type Call = typeof call extends fc.Arbitrary<infer T> ? T : never;

function policyText(specs: RuleSpec[]): string {
  // JSON is YAML: the policy is written as one flow mapping.
  return JSON.stringify({ hostname: "h", lacs: [], rules: specs });
}

function globMatch(pattern: string, text: string): boolean {
  if (pattern === "") return text === "";
  if (pattern[0] === "*") {
    for (let i = 0; i <= text.length; i++) {
      if (globMatch(pattern.slice(1), text.slice(i))) return true;
    }
    return false;
  }
  return text !== "" && pattern[0] === text[0] && globMatch(pattern.slice(1), text.slice(1));
}

function ipBits(ip: string): string {
  if (ip.includes(":")) {
    const [h, t] = ip.split("::");
    const hs = h ? h.split(":") : [];
    const ts = t === undefined ? [] : t ? t.split(":") : [];
    const groups = [...hs, ...Array(8 - hs.length - ts.length).fill("0"), ...ts];
    return "6" + groups.map((g) => parseInt(g, 16).toString(2).padStart(16, "0")).join("");
  }
  return "4" + ip.split(".").map((o) => Number(o).toString(2).padStart(8, "0")).join("");
}

function cidrMatch(c: string, ip: string): boolean {
  const [addr, len] = c.split("/");
  const net = ipBits(addr);
  const bits = len === undefined ? net.length - 1 : Number(len);
  const host = ipBits(ip);
  return net[0] === host[0] && net.slice(0, bits + 1) === host.slice(0, bits + 1);
}

function oracle(specs: RuleSpec[], c: Call): string | null {
  let user: string | undefined, domain: string | undefined;
  if (c.user !== undefined) {
    const at = c.user.lastIndexOf("@");
    user = at < 0 ? c.user : c.user.slice(0, at);
    const d = at < 0 ? "" : c.user.slice(at + 1).toLowerCase().replace(/\.$/, "");
    domain = d === "" ? undefined : d;
  }
  const host = c.lacHostname?.toLowerCase();
  const holds: Record<string, (p: string) => boolean> = {
    domain: (p) =>
      domain !== undefined &&
      (p === "*" || (p.startsWith("*.")
        ? domain.endsWith("." + p.slice(2).toLowerCase())
        : domain === p.toLowerCase())),
    user: (p) => user !== undefined && globMatch(p, user),
    lac_hostname: (p) => host !== undefined && globMatch(p.toLowerCase(), host),
    lac_address: (p) => c.lacAddress !== undefined && cidrMatch(p, c.lacAddress),
    called_number: (p) => c.calledNumber !== undefined && new RegExp(p, "u").test(c.calledNumber),
    calling_number: (p) =>
      c.callingNumber !== undefined && new RegExp(p, "u").test(c.callingNumber),
  };
  for (const spec of specs) {
    if (Object.entries(spec.match).every(([key, ps]) => ps.some(holds[key]))) return spec.name;
  }
  return null;
}

Deno.test("property: decide equals a naive linear scan on random rules and calls", () => {
  fc.assert(
    fc.property(rules, fc.array(call, { minLength: 1, maxLength: 20 }), (specs, calls) => {
      const p = load(policyText(specs));
      for (const c of calls) {
        const expected = oracle(specs, c);
        const d = p.decide(c);
        assert.equal(d.rule, expected, JSON.stringify(c));
        assert.equal(p.explain(c).decision, d);
        assert.equal(
          p.explain(c).missed.length,
          expected === null ? specs.length : Number(expected.slice(1)),
        );
      }
    }),
    { numRuns: 400 },
  );
});

Deno.test("property: a decision from decideEarly is the decision for any user name", () => {
  fc.assert(
    fc.property(rules, call, fc.array(optional(fullUser), { maxLength: 8 }), (specs, c, users) => {
      const p = load(policyText(specs));
      const { user: _, ...early } = c;
      const d = p.decideEarly(early);
      if (d === "need_user") {
        // Only when a rule looking at the user name could still match first.
        assert.ok(specs.some((s) => s.match.user !== undefined || s.match.domain !== undefined));
        return;
      }
      assert.equal(d, p.decide(early));
      for (const user of users) assert.equal(p.decide({ ...early, user }), d);
    }),
    { numRuns: 400 },
  );
});

Deno.test("the index is used: exact and suffix realms, host names and number prefixes", () => {
  const p = load(policyText([
    { name: "r0", match: { domain: ["a.example", "*.b.example"] }, terminate: {} },
    { name: "r1", match: { lac_hostname: ["lac-1", "north-*"] }, terminate: {} },
    { name: "r2", match: { called_number: ["^0800", "^\\+44"] }, terminate: {} },
    { name: "r3", match: { calling_number: ["^1"] }, terminate: {} },
    { name: "r4", match: { domain: ["*"] }, terminate: {} },
    { name: "r5", match: { called_number: ["0800"] }, terminate: {} },
  ]));
  assert.deepEqual(p.rules.map((r) => r.indexedBy), [
    "domain",
    "lac_hostname",
    "called_number",
    "calling_number",
    "scan",
    "scan",
  ]);
});
