/**
 * The policy's pattern languages — host-name globs, DNS-style realm patterns,
 * number regexes — and the split of a Proxy Authen Name into user and realm.
 *
 * @module
 */

import type { DomainPattern, GlobPattern, NumberPattern, RealmDelimiters } from "./schema.ts";

/**
 * Compiles a glob where `*` matches any run of characters (dots included).
 * `caseless` globs (host names) are lower-cased here and must be tested
 * against lower-cased text ({@link globMatches} does that), so that the exact
 * and prefix indexes and the regex agree on what "case-insensitive" means.
 *
 * @example
 * ```ts
 * import { compileGlob } from "./patterns.ts";
 * const g = compileGlob("lac-*", true);
 * if (!g.regex.test("lac-north-1") || g.prefix !== "lac-" || g.exact) throw new Error();
 * ```
 */
export function compileGlob(text: string, caseless: boolean): GlobPattern {
  const folded = caseless ? text.toLowerCase() : text;
  const source = folded.split("*").map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, "\\$&"))
    .join("[^]*");
  const star = folded.indexOf("*");
  return {
    text,
    caseless,
    prefix: star < 0 ? folded : folded.slice(0, star),
    exact: star < 0,
    regex: new RegExp(`^${source}$`, "u"),
  };
}

/**
 * Tests a glob against text that is already lower-cased when the glob is caseless.
 *
 * @example
 * ```ts
 * import { compileGlob, globMatches } from "./patterns.ts";
 * if (!globMatches(compileGlob("LAC-*", true), "lac-7")) throw new Error();
 * ```
 */
export function globMatches(glob: GlobPattern, folded: string): boolean {
  return glob.exact ? folded === glob.prefix : glob.regex.test(folded);
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Parses a realm pattern: `name`, `*.name` or `*`. Returns an error message
 * when it is not one. Names are lower-cased and a trailing dot is dropped.
 *
 * @example
 * ```ts
 * import { parseDomainPattern } from "./patterns.ts";
 * const p = parseDomainPattern("*.Blocked.Example.");
 * if (typeof p === "string" || p.kind !== "below" || p.suffix !== "blocked.example") {
 *   throw new Error();
 * }
 * ```
 */
export function parseDomainPattern(text: string): DomainPattern | string {
  if (text === "*") return { kind: "any", text };
  const below = text.startsWith("*.");
  const name = normalizeDomain(below ? text.slice(2) : text);
  if (name.includes("*")) {
    return `"${text}": "*" may only stand alone or as the first label ("*.example.net")`;
  }
  const bad = name.split(".").find((label) => !LABEL.test(label));
  if (bad !== undefined) {
    return `"${text}" is not a domain name (label "${bad}": letters, digits, "-", "_"; 1..63 characters)`;
  }
  return below ? { kind: "below", text, suffix: name } : { kind: "exact", text, name };
}

/** Lower-case, without a trailing dot: the form realms are compared in. */
export function normalizeDomain(domain: string): string {
  const lower = domain.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** Whether a normalized realm matches a pattern. */
export function domainMatches(pattern: DomainPattern, domain: string): boolean {
  switch (pattern.kind) {
    case "exact":
      return domain === pattern.name;
    case "below":
      return domain.length > pattern.suffix.length + 1 && domain.endsWith(pattern.suffix) &&
        domain.charCodeAt(domain.length - pattern.suffix.length - 1) === 46; // "."
    case "any":
      return true;
    default: {
      const never: never = pattern;
      throw new TypeError(`unknown domain pattern ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Compiles a number regex (JavaScript syntax, `u` flag), or returns the
 * compiler's message. The literal prefix is what every match must begin
 * with; it is found only where that is certain (an `^` anchor, no `|`).
 *
 * @example
 * ```ts
 * import { compileNumberPattern } from "./patterns.ts";
 * const p = compileNumberPattern("^0800[0-9]+$");
 * if (typeof p === "string" || p.literalPrefix !== "0800") throw new Error();
 * if (typeof compileNumberPattern("^08?00") === "string") throw new Error();
 * ```
 */
export function compileNumberPattern(text: string): NumberPattern | string {
  let regex: RegExp;
  try {
    regex = new RegExp(text, "u");
  } catch (e) {
    return (e as Error).message;
  }
  return { text, regex, literalPrefix: literalPrefix(text) };
}

function literalPrefix(source: string): string {
  if (!source.startsWith("^") || source.includes("|")) return "";
  let prefix = "";
  let i = 1;
  while (i < source.length) {
    const c = source[i];
    let step = 1;
    if (c === "\\" && /^[^A-Za-z0-9]$/.test(source[i + 1] ?? "a")) step = 2; // "\+" is a literal "+"
    else if (/[\\^$.|?*+()[\]{}]/.test(c)) break;
    // A quantifier makes the character before it optional or repeated: not certain.
    if (/[?*+{]/.test(source[i + step] ?? "")) break;
    prefix += source[i + step - 1];
    i += step;
  }
  return prefix;
}

/** A Proxy Authen Name split into user and realm. */
export interface SplitName {
  readonly user: string;
  /** Normalized realm, or undefined when the name has none. */
  readonly domain: string | undefined;
}

/**
 * Splits a user name into user and realm. A suffix delimiter wins over a
 * prefix one: `corp\bob@isp.example` is user `corp\bob` in realm `isp.example`,
 * since the outer realm is the one that routes. The realm follows the last
 * suffix delimiter, or precedes the first prefix delimiter. An empty realm is no realm.
 *
 * @example
 * ```ts
 * import { splitUserName } from "./patterns.ts";
 * const realm = { suffix: ["@"], prefix: ["/", "\\"] };
 * const a = splitUserName("bob@ISP.example", realm);
 * const b = splitUserName("corp\\alice", realm);
 * if (a.user !== "bob" || a.domain !== "isp.example") throw new Error();
 * if (b.user !== "alice" || b.domain !== "corp") throw new Error();
 * ```
 */
export function splitUserName(name: string, realm: RealmDelimiters): SplitName {
  let at = -1;
  let width = 0;
  for (const d of realm.suffix) {
    const i = name.lastIndexOf(d);
    if (i > at) {
      at = i;
      width = d.length;
    }
  }
  if (at >= 0) {
    const domain = name.slice(at + width);
    return { user: name.slice(0, at), domain: domain === "" ? undefined : normalizeDomain(domain) };
  }
  let first = name.length;
  for (const d of realm.prefix) {
    const i = name.indexOf(d);
    if (i >= 0 && i < first) {
      first = i;
      width = d.length;
    }
  }
  if (first < name.length) {
    const domain = name.slice(0, first);
    return {
      user: name.slice(first + width),
      domain: domain === "" ? undefined : normalizeDomain(domain),
    };
  }
  return { user: name, domain: undefined };
}
