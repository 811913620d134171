/**
 * A validated policy compiled for the switch: every decision is built once,
 * rules are filed in the first-match index, and judging a call allocates
 * only the derived facts.
 *
 * @module
 */

import { cidrContains, parseIp } from "./_net.ts";
import {
  deriveFacts,
  type IndexedBy,
  matches,
  matchesWithoutUser,
  mismatches,
  needsUser,
  RuleIndex,
} from "./matcher.ts";
import { globMatches } from "./patterns.ts";
import type {
  CallFacts,
  Decision,
  LacAdmission,
  Member,
  PolicyConfig,
  Rule,
  RuleAction,
  Upstream,
} from "./schema.ts";

/** A rule with what the compiler learned of it. */
export interface CompiledRule {
  readonly rule: Rule;
  /** Whether it looks at the user name (`user`, `domain`): decidable only once the name is known. */
  readonly needsUser: boolean;
  /** Which index it is found through; `scan` rules are tried for every call. */
  readonly indexedBy: IndexedBy;
}

/** A rule passed over on the way to the decision, and why. */
export interface RuleMiss {
  readonly rule: string;
  readonly index: number;
  /** One phrase per condition that failed. */
  readonly reasons: readonly string[];
}

/** What `lts explain` shows: the decision, the facts as tested, and every rule passed over. */
export interface Explanation {
  readonly decision: Decision;
  /** The user part and realm the Proxy Authen Name was split into. */
  readonly user?: string;
  readonly domain?: string;
  readonly missed: readonly RuleMiss[];
}

/** The LAC facts {@link CompiledPolicy.admitLac} judges. */
export interface LacFacts {
  /** Host Name AVP of the SCCRQ. */
  readonly hostname?: string;
  /** Source IP literal of the SCCRQ. */
  readonly address?: string;
}

/**
 * A policy ready to judge calls. Immutable: a reload builds a new one.
 *
 * @example
 * ```ts
 * import { loadPolicy } from "./mod.ts";
 * const r = loadPolicy(
 *   `hostname: lts-a
 * lacs: [{ match: { hostname: "lac-*" }, secret: s3cret }]
 * upstreams: { isp-a: { members: [{ address: "192.0.2.1" }] } }
 * rules:
 *   - { name: isp-a, match: { domain: isp-a.example }, forward: isp-a }
 *   - { name: free, match: { called_number: "^0800" }, terminate: {} }
 * `,
 *   "lts.yaml",
 * );
 * if (!r.ok) throw new Error(r.error.join("\n"));
 * const policy = r.value;
 * const d = policy.decide({ user: "bob@ISP-A.example" });
 * if (d.action !== "forward" || d.members[0].key !== "192.0.2.1:1701") throw new Error();
 * if (policy.decideEarly({ calledNumber: "0800123" }) !== "need_user") throw new Error();
 * if (policy.admitLac({ hostname: "lac-1", address: "10.0.0.1" })?.secret !== "s3cret") {
 *   throw new Error();
 * }
 * ```
 */
export class CompiledPolicy {
  /** The validated configuration it was compiled from. */
  readonly config: PolicyConfig;
  /** The rules in order. */
  readonly rules: readonly CompiledRule[];
  /** Whether any rule looks at the user name; when false every call is decidable at ICRQ. */
  readonly needsUser: boolean;
  readonly #index: RuleIndex;
  /** Per rule, then `default` last: built once, returned by reference. */
  readonly #decisions: readonly Decision[];
  /** Indexes of rules that look at the user name, ascending. */
  readonly #userRules: readonly number[];

  /** Compiles a validated configuration; it cannot fail. */
  constructor(config: PolicyConfig) {
    this.config = config;
    this.#index = new RuleIndex(config.rules);
    this.rules = config.rules.map((rule, i) =>
      Object.freeze({ rule, needsUser: needsUser(rule.match), indexedBy: this.#index.indexedBy[i] })
    );
    this.#userRules = this.rules.filter((r) => r.needsUser).map((r) => r.rule.index);
    this.needsUser = this.#userRules.length > 0;
    // Each upstream's candidate order, worked out once and shared by its rules' decisions.
    const members = new Map<string, readonly Member[]>();
    for (const [name, upstream] of config.upstreams) {
      members.set(name, Object.freeze(candidates(upstream)));
    }
    this.#decisions = [
      ...config.rules.map((r) => decisionFor(r.name, r.action, members)),
      decisionFor(null, config.defaultAction, members),
    ];
  }

  /** The first rule's decision for a call, or `default`'s when no rule matches. */
  decide(call: CallFacts): Decision {
    return this.#decisions[this.#index.first(deriveFacts(call, this.config.realm))];
  }

  /**
   * The decision for a call whose user name is not known yet (at ICRQ), or
   * `"need_user"` when a rule that looks at the user name could still match
   * before the rule that matches now. A decision returned here is the one
   * {@link decide} gives for the same call with any user name.
   */
  decideEarly(call: Omit<CallFacts, "user">): Decision | "need_user" {
    const facts = deriveFacts({ ...call, user: undefined }, this.config.realm);
    // With no user name every user rule fails, so this is the first other rule that matches.
    const best = this.#index.first(facts);
    const userRules = this.#userRules;
    for (let i = 0; i < userRules.length && userRules[i] < best; i++) {
      if (matchesWithoutUser(this.config.rules[userRules[i]].match, facts)) return "need_user";
    }
    return this.#decisions[best];
  }

  /** The decision by a plain linear scan, with the reasons each earlier rule did not match. */
  explain(call: CallFacts): Explanation {
    const facts = deriveFacts(call, this.config.realm);
    const missed: RuleMiss[] = [];
    const rules = this.config.rules;
    let winner = rules.length;
    for (const rule of rules) {
      if (matches(rule.match, facts)) {
        winner = rule.index;
        break;
      }
      missed.push({ rule: rule.name, index: rule.index, reasons: mismatches(rule.match, facts) });
    }
    return {
      decision: this.#decisions[winner],
      ...(facts.user === undefined ? {} : { user: facts.user }),
      ...(facts.domain === undefined ? {} : { domain: facts.domain }),
      missed,
    };
  }

  /**
   * What the first `lacs` entry matching a LAC grants, or null when no
   * entry admits it (none matches, or the first match is `deny`): the SCCRQ is then refused.
   */
  admitLac(lac: LacFacts): LacAdmission | null {
    const hostname = lac.hostname?.toLowerCase();
    const ip = lac.address === undefined ? undefined : parseIp(lac.address);
    for (const entry of this.config.lacs) {
      const { hostname: globs, address } = entry.match;
      if (globs !== undefined) {
        if (hostname === undefined || !globs.some((g) => globMatches(g, hostname))) continue;
      }
      if (address !== undefined) {
        if (ip === undefined || !address.some((c) => cidrContains(c, ip))) continue;
      }
      return entry.deny ? null : entry.admission;
    }
    return null;
  }
}

/**
 * Compiles a validated configuration (from `parsePolicy`).
 *
 * @example
 * ```ts
 * import { compilePolicy, parsePolicy } from "./mod.ts";
 * const parsed = parsePolicy("hostname: h\nlacs: []\n", "p.yaml");
 * if (!parsed.ok) throw new Error();
 * const d = compilePolicy(parsed.value).decide({});
 * if (d.action !== "reject" || d.rule !== null || d.resultCode !== 2) throw new Error();
 * ```
 */
export function compilePolicy(config: PolicyConfig): CompiledPolicy {
  return new CompiledPolicy(config);
}

function decisionFor(
  rule: string | null,
  action: RuleAction,
  members: ReadonlyMap<string, readonly Member[]>,
): Decision {
  switch (action.type) {
    case "forward":
      return Object.freeze({
        rule,
        action: "forward",
        upstream: action.upstream,
        members: members.get(action.upstream)!,
      });
    case "reject":
      return Object.freeze({
        rule,
        action: "reject",
        resultCode: action.resultCode,
        ...(action.errorCode === undefined ? {} : { errorCode: action.errorCode }),
        ...(action.message === undefined ? {} : { message: action.message }),
      });
    case "terminate":
      return Object.freeze({ rule, action: "terminate", target: action.target });
    default: {
      const never: never = action;
      throw new TypeError(`unknown action ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Members in the order the strategy prefers them before live state is known:
 * `priority` by priority (ties in listed order); `weighted` by weight, heaviest
 * first, without drained (weight 0) members; `round_robin` and
 * `least_sessions` as listed — their choice is made by the upstream pool from
 * its turn counter or session counts.
 */
function candidates(upstream: Upstream): Member[] {
  const listed = [...upstream.members];
  switch (upstream.strategy) {
    case "priority":
      return listed.sort((a, b) => a.priority - b.priority || a.index - b.index);
    case "weighted":
      return listed.filter((m) => m.weight > 0).sort((a, b) =>
        b.weight - a.weight || a.index - b.index
      );
    case "round_robin":
    case "least_sessions":
      return listed;
    default: {
      const never: never = upstream.strategy;
      throw new TypeError(`unknown strategy ${never}`);
    }
  }
}
