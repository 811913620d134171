import assert from "node:assert/strict";
import fc from "fast-check";
import { cidrContains, parseCidr, parseIp } from "./_net.ts";
import {
  compileGlob,
  compileNumberPattern,
  domainMatches,
  globMatches,
  parseDomainPattern,
  splitUserName,
} from "./patterns.ts";
import type { DomainPattern } from "./schema.ts";

Deno.test("splitUserName: suffix, prefix, both, several delimiters, none", () => {
  const realm = { suffix: ["@", "%"], prefix: ["/", "\\"] };
  const split = (n: string) => {
    const s = splitUserName(n, realm);
    return [s.user, s.domain];
  };
  assert.deepEqual(split("bob@ISP.Example."), ["bob", "isp.example"]);
  assert.deepEqual(split("bob%isp"), ["bob", "isp"]);
  assert.deepEqual(split("a@b%c"), ["a@b", "c"]); // the last suffix delimiter of any kind
  assert.deepEqual(split("CORP/bob"), ["bob", "corp"]);
  assert.deepEqual(split("corp\\bob/x"), ["bob/x", "corp"]); // the first prefix delimiter
  assert.deepEqual(split("corp\\bob@isp"), ["corp\\bob", "isp"]);
  assert.deepEqual(split("bob"), ["bob", undefined]);
  assert.deepEqual(split("/bob"), ["bob", undefined]);
  assert.deepEqual(splitUserName("corp/bob", { suffix: ["@"], prefix: [] }), {
    user: "corp/bob",
    domain: undefined,
  });
});

Deno.test("domain patterns: exact, below, any; bad ones explained", () => {
  const p = (t: string) => parseDomainPattern(t) as DomainPattern;
  assert.ok(domainMatches(p("ISP.example"), "isp.example"));
  assert.ok(!domainMatches(p("isp.example"), "a.isp.example"));
  assert.ok(domainMatches(p("*.isp.example"), "a.b.isp.example"));
  assert.ok(!domainMatches(p("*.isp.example"), "isp.example"));
  assert.ok(!domainMatches(p("*.isp.example"), "aisp.example"));
  assert.ok(domainMatches(p("*"), "x"));
  assert.equal(typeof parseDomainPattern("a..b"), "string");
  assert.equal(typeof parseDomainPattern("-a.b"), "string");
  assert.equal(typeof parseDomainPattern("a*.b"), "string");
});

Deno.test("globs: `*` spans dots; host globs are caseless, user globs are not", () => {
  const host = compileGlob("LAC-*.north", true);
  assert.ok(globMatches(host, "lac-1.2.north"));
  assert.ok(!globMatches(host, "lac-1.south"));
  assert.equal(host.prefix, "lac-");
  const user = compileGlob("Bob*", false);
  assert.ok(globMatches(user, "Bobby"));
  assert.ok(!globMatches(user, "bobby"));
  assert.ok(globMatches(compileGlob("a.b+c", true), "a.b+c")); // metacharacters are literal
  assert.ok(!globMatches(compileGlob("a.b", true), "axb"));
});

Deno.test("property: every string a number regex matches starts with its literal prefix", () => {
  const atom = fc.constantFrom("0", "8", "\\+", "\\d", ".", "[0-9]", "(08)", "(0|9)");
  const quant = fc.constantFrom("", "", "", "?", "*", "+", "{2}");
  const regex = fc.tuple(
    fc.boolean(),
    fc.array(fc.tuple(atom, quant), { maxLength: 5 }),
    fc.boolean(),
  )
    .map(([anchor, parts, alt]) =>
      (anchor ? "^" : "") + parts.map(([a, q]) => a + q).join("") + (alt ? "|^9" : "")
    );
  const text = fc.array(fc.constantFrom("0", "8", "9", "+"), { maxLength: 6 }).map((c) =>
    c.join("")
  );
  fc.assert(
    fc.property(regex, fc.array(text, { maxLength: 10 }), (source, texts) => {
      const p = compileNumberPattern(source);
      if (typeof p === "string") return;
      for (const t of texts) {
        if (p.regex.test(t)) assert.ok(t.startsWith(p.literalPrefix), `${source} ${t}`);
      }
    }),
    { numRuns: 2000 },
  );
  const prefix = (s: string) =>
    (compileNumberPattern(s) as { literalPrefix: string }).literalPrefix;
  assert.equal(prefix("^0800"), "0800");
  assert.equal(prefix("^\\+44\\d+"), "+44");
  assert.equal(prefix("^08?00"), "0");
  assert.equal(prefix("0800"), "");
  assert.equal(prefix("^0800|^0900"), "");
  assert.match(compileNumberPattern("^(") as string, /Invalid regular expression/);
});

Deno.test("IP and CIDR: IPv4, IPv6, mapped IPv4, host bits, bad input", () => {
  const c = (t: string) => {
    const r = parseCidr(t);
    if (typeof r === "string") throw new Error(r);
    return r;
  };
  const ip = (t: string) => parseIp(t)!;
  assert.ok(cidrContains(c("10.0.0.0/8"), ip("10.255.0.1")));
  assert.ok(!cidrContains(c("10.0.0.0/8"), ip("11.0.0.1")));
  assert.ok(cidrContains(c("0.0.0.0/0"), ip("1.2.3.4")));
  assert.ok(!cidrContains(c("0.0.0.0/0"), ip("::1")));
  assert.ok(cidrContains(c("192.0.2.1"), ip("192.0.2.1")));
  assert.ok(cidrContains(c("2001:db8::/32"), ip("2001:DB8:ffff::1")));
  assert.ok(!cidrContains(c("2001:db8::/33"), ip("2001:db8:8000::1")));
  assert.ok(cidrContains(c("2001:db8:0:0:8000::/65"), ip("2001:db8::8000:0:0:1")));
  assert.ok(cidrContains(c("10.0.0.0/8"), ip("::ffff:10.1.2.3")));
  assert.ok(cidrContains(c("::ffff:10.0.0.0/104"), ip("10.9.9.9")));
  assert.ok(cidrContains(c("::/0"), ip("fe80::1")));
  assert.equal(
    parseCidr("10.0.0.1/8"),
    '"10.0.0.1/8" has host bits set (did you mean "10.0.0.0/8"?)',
  );
  assert.equal(parseCidr("10.0.0.0/33"), 'prefix length "33" is not in 0..32');
  assert.equal(parseCidr("10.0.0.0/x"), 'prefix length "x" is not in 0..32');
  assert.equal(parseCidr("300.0.0.0/8"), '"300.0.0.0" is not an IPv4 or IPv6 address');
  assert.equal(
    parseCidr("::ffff:10.0.0.0/8"),
    "an IPv4-mapped prefix needs a length of at least 96, got 8",
  );
  assert.equal(parseIp("lac.example"), undefined);
});
