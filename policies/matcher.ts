/**
 * Rule conditions and the first-match index.
 *
 * The index keeps, for each kind of key a rule can be found by, a map from
 * key to the ascending list of rule indexes filed under it: exact realms,
 * realm suffixes (`*.isp.example`), exact LAC host names, literal prefixes of
 * LAC host-name globs and of anchored number regexes. A rule is filed under
 * one kind only, and only when every pattern of that condition yields a key;
 * the rest are scanned. Each rule in a candidate list still has its full
 * conditions checked, and the winner is the lowest index that matches across
 * all lists — so the result is the naive linear scan's, by construction.
 *
 * @module
 */

import { cidrContains, type IpAddress, parseIp } from "./_net.ts";
import { domainMatches, globMatches, splitUserName } from "./patterns.ts";
import type {
  CallFacts,
  DomainPattern,
  GlobPattern,
  NumberPattern,
  RealmDelimiters,
  Rule,
  RuleMatch,
} from "./schema.ts";

/** The facts of a call in the form conditions test them, computed once per call. */
export interface Facts {
  /** User part of the Proxy Authen Name, realm removed. */
  user: string | undefined;
  /** Normalized realm. */
  domain: string | undefined;
  /** Lower-cased LAC Host Name. */
  lacHostname: string | undefined;
  lacAddress: string | undefined;
  /** Parsed on first use; null when absent or not an IP literal. */
  ip: IpAddress | null | undefined;
  calledNumber: string | undefined;
  callingNumber: string | undefined;
}

/** Derives the tested facts from what the switch knows of a call. */
export function deriveFacts(call: CallFacts, realm: RealmDelimiters): Facts {
  const split = call.user === undefined ? undefined : splitUserName(call.user, realm);
  return {
    user: split?.user,
    domain: split?.domain,
    lacHostname: call.lacHostname?.toLowerCase(),
    lacAddress: call.lacAddress,
    ip: undefined,
    calledNumber: call.calledNumber,
    callingNumber: call.callingNumber,
  };
}

function ipOf(facts: Facts): IpAddress | null {
  if (facts.ip === undefined) {
    facts.ip = facts.lacAddress === undefined ? null : parseIp(facts.lacAddress) ?? null;
  }
  return facts.ip;
}

const anyGlob = (globs: readonly GlobPattern[], text: string) => {
  for (const g of globs) if (globMatches(g, text)) return true;
  return false;
};
const anyDomain = (patterns: readonly DomainPattern[], domain: string) => {
  for (const p of patterns) if (domainMatches(p, domain)) return true;
  return false;
};
const anyNumber = (patterns: readonly NumberPattern[], text: string) => {
  for (const p of patterns) if (p.regex.test(text)) return true;
  return false;
};

/** Whether the conditions that do not look at the user name hold. */
export function matchesWithoutUser(m: RuleMatch, f: Facts): boolean {
  if (m.lacHostname !== undefined) {
    if (f.lacHostname === undefined || !anyGlob(m.lacHostname, f.lacHostname)) return false;
  }
  if (m.lacAddress !== undefined) {
    const ip = ipOf(f);
    if (ip === null || !m.lacAddress.some((c) => cidrContains(c, ip))) return false;
  }
  if (m.calledNumber !== undefined) {
    if (f.calledNumber === undefined || !anyNumber(m.calledNumber, f.calledNumber)) return false;
  }
  if (m.callingNumber !== undefined) {
    if (f.callingNumber === undefined || !anyNumber(m.callingNumber, f.callingNumber)) {
      return false;
    }
  }
  return true;
}

/** Whether every condition of a rule holds. */
export function matches(m: RuleMatch, f: Facts): boolean {
  if (m.domain !== undefined) {
    if (f.domain === undefined || !anyDomain(m.domain, f.domain)) return false;
  }
  if (m.user !== undefined) {
    if (f.user === undefined || !anyGlob(m.user, f.user)) return false;
  }
  return matchesWithoutUser(m, f);
}

/** Whether a rule looks at the user name, so it cannot be judged before the name is known. */
export function needsUser(m: RuleMatch): boolean {
  return m.user !== undefined || m.domain !== undefined;
}

/** Why a rule does not match, one phrase per failed condition; empty when it matches. */
export function mismatches(m: RuleMatch, f: Facts): string[] {
  const out: string[] = [];
  const texts = (ps: readonly { text: string }[]) => ps.map((p) => `"${p.text}"`).join(" or ");
  const check = (
    name: string,
    value: string | undefined,
    patterns: readonly { text: string }[] | undefined,
    ok: (value: string) => boolean,
  ) => {
    if (patterns === undefined) return;
    if (value === undefined) out.push(`no ${name} (rule wants ${texts(patterns)})`);
    else if (!ok(value)) out.push(`${name} "${value}" is not ${texts(patterns)}`);
  };
  check("domain", f.domain, m.domain, (d) => anyDomain(m.domain!, d));
  check("user", f.user, m.user, (u) => anyGlob(m.user!, u));
  check("lac_hostname", f.lacHostname, m.lacHostname, (h) => anyGlob(m.lacHostname!, h));
  check("lac_address", f.lacAddress, m.lacAddress, () => {
    const ip = ipOf(f);
    return ip !== null && m.lacAddress!.some((c) => cidrContains(c, ip));
  });
  check("called_number", f.calledNumber, m.calledNumber, (n) => anyNumber(m.calledNumber!, n));
  check("calling_number", f.callingNumber, m.callingNumber, (n) => anyNumber(m.callingNumber!, n));
  return out;
}

/** The condition a rule is filed under in the index, or `scan`. */
export type IndexedBy = "domain" | "lac_hostname" | "called_number" | "calling_number" | "scan";

interface TrieNode {
  readonly children: Map<number, TrieNode>;
  /** Rules whose prefix ends here, ascending. */
  rules: number[] | undefined;
}

/**
 * Literal prefixes → ascending rule indexes, as a trie on UTF-16 code units:
 * a lookup walks the text once, without slicing, and stops at the first code
 * unit no prefix continues with.
 */
class PrefixIndex {
  readonly #root: TrieNode = { children: new Map(), rules: undefined };

  add(prefix: string, rule: number): void {
    let node = this.#root;
    for (let i = 0; i < prefix.length; i++) {
      const c = prefix.charCodeAt(i);
      let next = node.children.get(c);
      if (next === undefined) {
        node.children.set(c, next = { children: new Map(), rules: undefined });
      }
      node = next;
    }
    if (node.rules === undefined) node.rules = [rule];
    else if (node.rules[node.rules.length - 1] !== rule) node.rules.push(rule);
  }

  first(text: string, best: number, rules: readonly Rule[], f: Facts): number {
    let node: TrieNode | undefined = this.#root;
    for (let i = 0; i < text.length; i++) {
      node = node.children.get(text.charCodeAt(i));
      if (node === undefined) break;
      if (node.rules !== undefined) best = firstMatch(node.rules, best, rules, f);
    }
    return best;
  }
}

function push(map: Map<string, number[]>, key: string, rule: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [rule]);
  else if (list[list.length - 1] !== rule) list.push(rule);
}

/** The lowest index in `list` below `best` whose rule matches, else `best`. */
function firstMatch(
  list: readonly number[] | undefined,
  best: number,
  rules: readonly Rule[],
  f: Facts,
): number {
  if (list === undefined) return best;
  for (let i = 0; i < list.length; i++) {
    const r = list[i];
    if (r >= best) break;
    if (matches(rules[r].match, f)) return r;
  }
  return best;
}

/**
 * First-match lookup over a rule list. Rules are added in order, once.
 *
 * @example
 * ```ts
 * import { RuleIndex, deriveFacts } from "./matcher.ts";
 * import { parseDomainPattern } from "./patterns.ts";
 * import type { DomainPattern, Rule } from "./schema.ts";
 * const domain = [parseDomainPattern("isp.example") as DomainPattern];
 * const rules: Rule[] = [{ name: "a", index: 0, match: { domain }, action: { type: "terminate", target: "default" } }];
 * const index = new RuleIndex(rules);
 * const realm = { suffix: ["@"], prefix: [] };
 * if (index.first(deriveFacts({ user: "bob@ISP.example" }, realm)) !== 0) throw new Error();
 * if (index.first(deriveFacts({ user: "bob" }, realm)) !== 1) throw new Error();
 * ```
 */
export class RuleIndex {
  readonly #rules: readonly Rule[];
  readonly #scan: number[] = [];
  readonly #domainExact = new Map<string, number[]>();
  readonly #domainBelow = new Map<string, number[]>();
  readonly #lacExact = new Map<string, number[]>();
  readonly #lacPrefix = new PrefixIndex();
  readonly #calledPrefix = new PrefixIndex();
  readonly #callingPrefix = new PrefixIndex();
  /** Per rule, where it is filed. */
  readonly indexedBy: readonly IndexedBy[];

  /** Files every rule; rule `i` must have `index === i`. */
  constructor(rules: readonly Rule[]) {
    this.#rules = rules;
    this.indexedBy = rules.map((rule, i) => this.#file(rule.match, i));
  }

  #file(m: RuleMatch, i: number): IndexedBy {
    if (m.domain !== undefined && m.domain.every((p) => p.kind !== "any")) {
      for (const p of m.domain) {
        if (p.kind === "exact") push(this.#domainExact, p.name, i);
        else if (p.kind === "below") push(this.#domainBelow, p.suffix, i);
      }
      return "domain";
    }
    if (m.lacHostname !== undefined && m.lacHostname.every((g) => g.prefix !== "")) {
      for (const g of m.lacHostname) {
        if (g.exact) push(this.#lacExact, g.prefix, i);
        else this.#lacPrefix.add(g.prefix, i);
      }
      return "lac_hostname";
    }
    if (m.calledNumber?.every((p) => p.literalPrefix !== "")) {
      for (const p of m.calledNumber) this.#calledPrefix.add(p.literalPrefix, i);
      return "called_number";
    }
    if (m.callingNumber?.every((p) => p.literalPrefix !== "")) {
      for (const p of m.callingNumber) this.#callingPrefix.add(p.literalPrefix, i);
      return "calling_number";
    }
    this.#scan.push(i);
    return "scan";
  }

  /** The index of the first rule that matches, or the rule count when none does. */
  first(f: Facts): number {
    const rules = this.#rules;
    let best = firstMatch(this.#scan, rules.length, rules, f);
    const domain = f.domain;
    if (domain !== undefined) {
      best = firstMatch(this.#domainExact.get(domain), best, rules, f);
      if (this.#domainBelow.size > 0) {
        for (let dot = domain.indexOf("."); dot >= 0; dot = domain.indexOf(".", dot + 1)) {
          best = firstMatch(this.#domainBelow.get(domain.slice(dot + 1)), best, rules, f);
        }
      }
    }
    if (f.lacHostname !== undefined) {
      best = firstMatch(this.#lacExact.get(f.lacHostname), best, rules, f);
      best = this.#lacPrefix.first(f.lacHostname, best, rules, f);
    }
    if (f.calledNumber !== undefined) {
      best = this.#calledPrefix.first(f.calledNumber, best, rules, f);
    }
    if (f.callingNumber !== undefined) {
      best = this.#callingPrefix.first(f.callingNumber, best, rules, f);
    }
    return best;
  }
}
