/**
 * The switching policy's types: the validated configuration that
 * `parse.ts` produces from YAML, the facts a call is judged on, and the
 * decisions the compiled matcher returns.
 *
 * Every pattern is held both as written (for `explain` and messages) and in
 * its checked form (a compiled RegExp, a parsed prefix), so compiling a
 * validated policy cannot fail.
 *
 * @module
 */

import type { Endpoint } from "../transport/datagram.ts";
import type { Cidr } from "./_net.ts";

/** Logging levels, as the logger (`@logtape/logtape`) names them. */
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;
/** A logging level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** How log records are written. */
export const LOG_FORMATS = ["text", "json"] as const;
/** A log format. */
export type LogFormat = typeof LOG_FORMATS[number];

/**
 * How an upstream group spreads sessions over its members:
 * `priority` — lowest `priority` first, the next only when it is down or full;
 * `round_robin` — in turn; `weighted` — in proportion to `weight`;
 * `least_sessions` — the member carrying the fewest sessions.
 */
export const STRATEGIES = ["priority", "round_robin", "weighted", "least_sessions"] as const;
/** An upstream strategy. */
export type Strategy = typeof STRATEGIES[number];

/** A glob: `*` stands for any run of characters. Host-name globs are caseless. */
export interface GlobPattern {
  readonly text: string;
  /** Whether it compares lower-cased text (host names) rather than text as written (user names). */
  readonly caseless: boolean;
  /** Text before the first `*` (lower-cased when caseless); the whole name when there is no `*`. */
  readonly prefix: string;
  /** Whether the pattern has no `*` (an exact name). */
  readonly exact: boolean;
  /** Anchored; tests lower-cased text when caseless. */
  readonly regex: RegExp;
}

/**
 * A realm (domain) pattern, DNS-style and case-insensitive:
 * `isp.example` (exact), `*.isp.example` (any name below it, not itself), `*` (any domain).
 */
export type DomainPattern =
  | { readonly kind: "exact"; readonly text: string; readonly name: string }
  | { readonly kind: "below"; readonly text: string; readonly suffix: string }
  | { readonly kind: "any"; readonly text: string };

/** A regular expression over a telephone number, with the literal text every match starts with. */
export interface NumberPattern {
  readonly text: string;
  readonly regex: RegExp;
  /** Non-empty when every match begins with it (`^0800…` → `"0800"`); used as an index key. */
  readonly literalPrefix: string;
}

/** The conditions of a rule; every condition given must hold. A list means "any of". */
export interface RuleMatch {
  /** The user part of the Proxy Authen Name (realm removed), a case-sensitive glob. */
  readonly user?: readonly GlobPattern[];
  /** The realm of the Proxy Authen Name. */
  readonly domain?: readonly DomainPattern[];
  /** The LAC's Host Name AVP. */
  readonly lacHostname?: readonly GlobPattern[];
  /** The LAC's IP address. */
  readonly lacAddress?: readonly Cidr[];
  /** Called Number AVP. */
  readonly calledNumber?: readonly NumberPattern[];
  /** Calling Number AVP. */
  readonly callingNumber?: readonly NumberPattern[];
}

/** What a rule does with a call it matches. */
export type RuleAction =
  | { readonly type: "forward"; readonly upstream: string }
  | {
    readonly type: "reject";
    /** CDN Result Code, RFC 2661 §4.4.2: 1..11. */
    readonly resultCode: number;
    /** General Error Code, RFC 2661 §4.4.2: 0..8. */
    readonly errorCode?: number;
    readonly message?: string;
  }
  /** The LTS is the LNS: PPP ends here, on the named terminate target. */
  | { readonly type: "terminate"; readonly target: string };

/** A local user of a terminate target: PAP password and CHAP secret. */
export interface TerminateUser {
  readonly name: string;
  readonly password: string;
}

/**
 * Where calls a `terminate` rule keeps end (`terminate:` in the policy): the
 * LTS is their LNS. PPP is negotiated, the user authenticated against these
 * users, an address given from the pool (RFC 1332), and the link kept alive
 * with LCP Echo (RFC 1661 §5.8).
 */
export interface TerminateTarget {
  readonly name: string;
  /** Authentication asked of the remote system, most wanted first. */
  readonly auth: readonly ("pap" | "chap")[];
  /** Users listed inline, then those of `usersFile` (loaded with the policy). */
  readonly users: readonly TerminateUser[];
  /** A users file (YAML, see `ppp/users.ts`), resolved against the policy file's folder. */
  readonly usersFile?: string;
  /** Anyone not listed logs in with any password. */
  readonly acceptAll: boolean;
  /** Addresses handed to clients: an inclusive range of IPv4 numbers, and the text as written. */
  readonly pool: { readonly first: number; readonly last: number; readonly text: string };
  /** Our own IPCP address. */
  readonly localAddress: string;
  /** Name servers offered (RFC 1877): primary, then secondary. */
  readonly dns: readonly string[];
  /** LCP Echo keepalive: seconds between requests and unanswered ones before the link is dead; null: off. */
  readonly echo: { readonly interval: number; readonly maxMissed: number } | null;
  /** Deliver IP packets to a TUN device on the host (root only). */
  readonly tun: boolean;
}

/** One switching rule. */
export interface Rule {
  /** As written, or `rules[i]` (0-based) when the rule has no name. */
  readonly name: string;
  /** Position of the rule in `rules`. */
  readonly index: number;
  readonly match: RuleMatch;
  readonly action: RuleAction;
}

/** A LAC admission entry (`lacs:`). */
export interface LacEntry {
  readonly index: number;
  readonly match: {
    readonly hostname?: readonly GlobPattern[];
    readonly address?: readonly Cidr[];
  };
  /** `deny: true` refuses the LACs it matches. */
  readonly deny: boolean;
  readonly admission: LacAdmission;
}

/** What an admitted LAC gets. */
export interface LacAdmission {
  /** Tunnel authentication secret (RFC 2661 §5.1.1); absent: no tunnel authentication. */
  readonly secret?: string;
  /** Seconds of silence before a HELLO (RFC 2661 §6.5); 0 disables HELLO. */
  readonly helloInterval?: number;
  /** Hide AVPs sent to this LAC (RFC 2661 §4.3); needs a secret. */
  readonly hideAvps?: boolean;
  /** Most sessions one tunnel from this LAC may carry; an ICRQ beyond it gets CDN result 4. */
  readonly maxSessions?: number;
}

/** One LNS of an upstream group. */
export interface Member {
  /** The upstream group's name. */
  readonly upstream: string;
  /** Position in the group's `members` list. */
  readonly index: number;
  readonly address: Endpoint;
  /** `address` as a map key (`endpointKey`). */
  readonly key: string;
  readonly secret?: string;
  /** Lower is preferred (strategy `priority`). */
  readonly priority: number;
  /** Share of sessions (strategy `weighted`); 0 drains the member. */
  readonly weight: number;
  readonly maxSessions?: number;
  /** Host Name AVP sent to this LNS. */
  readonly hostname: string;
  readonly helloInterval: number;
  readonly hideAvps: boolean;
}

/** A member as a decision names it. */
export type MemberRef = Member;

/** An upstream group of LNSes. */
export interface Upstream {
  readonly name: string;
  readonly strategy: Strategy;
  /** Sessions aggregated on one upstream tunnel before another is opened. */
  readonly sessionsPerTunnel: number;
  readonly members: readonly Member[];
}

/** Global limits, each with the behaviour past it stated by the actor that enforces it. */
export interface Limits {
  readonly maxTunnels: number;
  readonly maxSessions: number;
  readonly sccrqPerSecond: number;
}

/** How the user name is split into user and realm. */
export interface RealmDelimiters {
  /** `user@domain`: the realm follows the last such delimiter. */
  readonly suffix: readonly string[];
  /** `domain/user`, `domain\user`: the realm precedes the first such delimiter. */
  readonly prefix: readonly string[];
}

/** A validated policy. */
export interface PolicyConfig {
  /** Host Name AVP sent on both legs unless a member overrides it. */
  readonly hostname: string;
  readonly listen: readonly Endpoint[];
  readonly api?: { readonly listen: Endpoint; readonly tokenFile?: string };
  readonly limits: Limits;
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  /** Most L2TP switches a call may cross when switches are chained. */
  readonly maxHops: number;
  readonly realm: RealmDelimiters;
  readonly lacs: readonly LacEntry[];
  readonly upstreams: ReadonlyMap<string, Upstream>;
  /** Terminate targets by name; `default` is built in unless declared. */
  readonly terminate: ReadonlyMap<string, TerminateTarget>;
  readonly rules: readonly Rule[];
  readonly defaultAction: RuleAction;
}

/** What is known of a call when it is judged. All fields are optional: a missing fact fails every condition on it. */
export interface CallFacts {
  /** The full Proxy Authen Name, realm included. */
  readonly user?: string;
  /** The LAC's Host Name AVP. */
  readonly lacHostname?: string;
  /** The LAC's IP address (a literal, no port). */
  readonly lacAddress?: string;
  readonly calledNumber?: string;
  readonly callingNumber?: string;
}

/** The outcome for a call. `rule` is the matching rule's name, or null for `default`. */
export type Decision =
  | {
    readonly rule: string | null;
    readonly action: "forward";
    readonly upstream: string;
    /** Candidates in the order the strategy prefers them, ignoring live health and load. */
    readonly members: readonly MemberRef[];
  }
  | {
    readonly rule: string | null;
    readonly action: "reject";
    readonly resultCode: number;
    readonly errorCode?: number;
    readonly message?: string;
  }
  | { readonly rule: string | null; readonly action: "terminate"; readonly target: string };

/** Defaults applied by the parser; documented here so operators find them in one place. */
export const DEFAULTS = {
  listen: "0.0.0.0:1701",
  lnsPort: 1701,
  limits: { maxTunnels: 1000, maxSessions: 50_000, sccrqPerSecond: 100 },
  log: { level: "info", format: "text" },
  maxHops: 4,
  realm: { suffix: ["@"], prefix: [] as string[] },
  strategy: "priority",
  sessionsPerTunnel: 1000,
  priority: 1,
  weight: 1,
  helloInterval: 60,
  defaultAction: { type: "reject", resultCode: 2 },
  /** A terminate target's settings when not given; `terminate: {}` names the target `default`. */
  terminate: {
    target: "default",
    auth: ["chap", "pap"],
    pool: "100.64.0.2-100.64.255.254",
    localAddress: "100.64.0.1",
    echo: { interval: 30, maxMissed: 3 },
  },
} as const;
