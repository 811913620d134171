/**
 * YAML text → validated {@link PolicyConfig}, or every problem found, each
 * at the line and column of the node it concerns. Nothing half-valid is
 * returned: one error and the result is the error list.
 *
 * The walk reads yaml's node tree, not its plain-JS conversion, so that every
 * value keeps its source range.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Scalar,
} from "yaml";
import { type Endpoint, endpointKey, parseEndpoint } from "../transport/datagram.ts";
import type { Result } from "../transport/result.ts";
import { type Cidr, parseCidr } from "./_net.ts";
import { byPosition, PolicyError } from "./error.ts";
import { compileGlob, compileNumberPattern, parseDomainPattern } from "./patterns.ts";
import { readFlowItem } from "./_flow.ts";
import {
  DEFAULTS,
  type DomainPattern,
  type GlobPattern,
  type LacEntry,
  type Limits,
  LOG_FORMATS,
  LOG_LEVELS,
  type Member,
  type NumberPattern,
  type PolicyConfig,
  type RealmDelimiters,
  type Rule,
  type RuleAction,
  type RuleMatch,
  STRATEGIES,
  type TerminateTarget,
  type TerminateUser,
  type Upstream,
} from "./schema.ts";
import { parseIpv4, parseIpv4Range } from "../ppp/ip_pool.ts";

/**
 * Parses and validates a policy. Errors come back sorted by position.
 *
 * @example
 * ```ts
 * import { parsePolicy } from "./parse.ts";
 * const r = parsePolicy("hostname: lts-a\nlacs: [{ match: {} }]\nrules: [{ forward: isp-b }]\n", "lts.yaml");
 * if (r.ok || String(r.error[0]) !== 'lts.yaml:3:20: unknown upstream "isp-b" in rules[0]') {
 *   throw new Error(r.ok ? "accepted" : String(r.error[0]));
 * }
 * ```
 */
export function parsePolicy(text: string, fileName: string): Result<PolicyConfig, PolicyError[]> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const ctx = new Context(fileName, lineCounter, doc);
  if (doc.errors.length > 0) {
    for (const e of doc.errors) ctx.errorAt(e.pos[0], e.message.split("\n")[0]);
    return { ok: false, error: ctx.errors.sort(byPosition) };
  }
  const config = readPolicy(ctx, doc.contents);
  return ctx.errors.length > 0 || config === undefined
    ? { ok: false, error: ctx.errors.sort(byPosition) }
    : { ok: true, value: config };
}

/** The part of a policy outside `rules`, validated, and what its rules are checked against. */
export interface PolicyHead {
  /** The validated policy, with no rules. */
  readonly config: PolicyConfig;
  /** The upstream names a rule may `forward` to. */
  readonly upstreams: readonly string[];
  /** The terminate target names a rule may `terminate` on. */
  readonly terminate: readonly string[];
}

/**
 * Validates a policy whose `rules` has no value (the rules cut out of the
 * text, their lines left blank, so every other line keeps its number) as if
 * it had rules that are all valid, for the incremental loader. Undefined on any problem — the caller then parses
 * the whole file to report it — and when `rules` is not the top-level key
 * starting at offset `rulesAt`.
 *
 * @example
 * ```ts
 * import { parsePolicyHead } from "./parse.ts";
 * const text = "hostname: h\nlacs: []\nrules:\n\n";
 * if (parsePolicyHead(text, text.indexOf("rules"))?.terminate[0] !== "default") throw new Error();
 * ```
 */
export function parsePolicyHead(text: string, rulesAt: number): PolicyHead | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const root = doc.contents;
  if (doc.errors.length > 0 || !isMap(root)) return undefined;
  const at = root.items.findIndex((p) => isScalar(p.key) && p.key.value === "rules");
  const rules = root.items[at];
  const value = rules?.value as Value;
  if (
    rules === undefined || (rules.key as Scalar).range?.[0] !== rulesAt ||
    !(value === null || (isScalar(value) && value.value === null))
  ) return undefined;
  // Validated as if the key were absent: an empty `rules:` is an error, and the rules are not empty.
  root.items.splice(at, 1);
  const ctx = new Context("", lineCounter, doc);
  const read = readPolicyWithNames(ctx, root);
  if (read === undefined || ctx.errors.length > 0) return undefined;
  return { config: read.config, upstreams: read.upstreams, terminate: ctx.terminateNames };
}

/** A valid rule apart from its position: what the incremental loader keeps per rule text. */
export interface RuleOutcome {
  /** The name given, if any. */
  readonly name?: string;
  readonly match: RuleMatch;
  readonly action: RuleAction;
}

/**
 * Validates one item of a block-style `rules` list, given alone (`  - { … }`,
 * with the lines that continue it), against a policy's head. Undefined on any
 * problem: the caller then parses the whole file to report it.
 *
 * @example
 * ```ts
 * import { parsePolicyHead, parseRuleChunk } from "./parse.ts";
 * const text = "hostname: h\nlacs: []\nupstreams: { up: { members: [{ address: 192.0.2.1 }] } }\nrules:\n";
 * const head = parsePolicyHead(text, text.indexOf("rules"))!;
 * const rule = parseRuleChunk('  - { name: a, match: { domain: a.example }, forward: up }\n', head);
 * if (rule?.name !== "a" || rule.action.type !== "forward") throw new Error();
 * if (parseRuleChunk("  - { forward: down }\n", head) !== undefined) throw new Error();
 * ```
 */
export function parseRuleChunk(text: string, head: PolicyHead): RuleOutcome | undefined {
  const lineCounter = new LineCounter();
  let item: Value = readFlowItem(text);
  let doc: Document | undefined;
  if (item === undefined) {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    const root = doc.contents;
    if (doc.errors.length > 0 || !isSeq(root) || root.items.length !== 1) return undefined;
    item = root.items[0] as Value;
  }
  const ctx = new Context("", lineCounter, doc);
  ctx.terminateNames = head.terminate as string[];
  const read = readRule(ctx, item, 0, head.upstreams as string[], new Map());
  if (read === undefined || ctx.errors.length > 0) return undefined;
  const { match, action } = read.rule;
  return read.named ? { name: read.rule.name, match, action } : { match, action };
}

type Value = Node | null | undefined;

/** The keys found in a mapping, with their key and value nodes. */
type Fields = Map<string, { key: Scalar; value: Value }>;

class Context {
  readonly errors: PolicyError[] = [];
  /** Mappings that had an unknown key: a missing key there is likely the misspelt one. */
  readonly misspelt: WeakSet<Fields> = new WeakSet();
  /** Terminate targets declared, for rules naming one. */
  terminateNames: string[] = [];
  constructor(
    readonly file: string,
    readonly lines: LineCounter,
    /** The document nodes come from, to resolve aliases; none for `readFlowItem`'s, which has none. */
    readonly doc: Document | undefined,
  ) {}

  errorAt(offset: number, message: string): void {
    const { line, col } = this.lines.linePos(offset);
    this.errors.push(new PolicyError(this.file, line, col, message));
  }

  /** Reports at the node's first character; a missing node reports at the start of the file. */
  error(node: Value, message: string): undefined {
    this.errorAt(node?.range?.[0] ?? 0, message);
    return undefined;
  }

  /** Follows an alias (`*name`) to the node it names. */
  deref(node: Value): Value {
    return isAlias(node) && this.doc !== undefined ? (node.resolve(this.doc) as Value) : node;
  }

  /**
   * The fields of a mapping. Reports keys outside `known` (with a
   * suggestion), non-string keys and a value that is not a mapping.
   */
  fields(node: Value, where: string, known: readonly string[]): Fields | undefined {
    node = this.deref(node);
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) {
      return new Map();
    }
    if (!isMap(node)) return this.error(node, `${where} must be a mapping`);
    const fields: Fields = new Map();
    for (const pair of node.items) {
      const key = this.deref(pair.key as Value);
      if (!isScalar(key) || typeof key.value !== "string") {
        this.error(key, `keys in ${where} must be strings`);
        continue;
      }
      if (!known.includes(key.value)) {
        this.error(key, `unknown key "${key.value}" in ${where}${didYouMean(key.value, known)}`);
        this.misspelt.add(fields);
        continue;
      }
      fields.set(key.value, { key, value: this.deref(pair.value as Value) });
    }
    return fields;
  }

  string(value: Value, what: string): string | undefined {
    value = this.deref(value);
    if (!isScalar(value) || typeof value.value !== "string") {
      const got = isScalar(value) ? ` (got ${describe(value.value)}; quote it)` : "";
      return this.error(value, `${what} must be a string${isScalar(value) ? got : ""}`);
    }
    if (value.value === "") return this.error(value, `${what} must not be empty`);
    return value.value;
  }

  integer(value: Value, what: string, min: number, max: number): number | undefined {
    value = this.deref(value);
    if (!isScalar(value) || typeof value.value !== "number" || !Number.isInteger(value.value)) {
      return this.error(value, `${what} must be an integer in ${min}..${max}`);
    }
    if (value.value < min || value.value > max) {
      return this.error(value, `${what} must be in ${min}..${max}, got ${value.value}`);
    }
    return value.value;
  }

  boolean(value: Value, what: string): boolean | undefined {
    value = this.deref(value);
    if (!isScalar(value) || typeof value.value !== "boolean") {
      return this.error(value, `${what} must be true or false`);
    }
    return value.value;
  }

  oneOf<T extends string>(value: Value, what: string, choices: readonly T[]): T | undefined {
    const text = this.string(value, what);
    if (text === undefined) return undefined;
    if (!(choices as readonly string[]).includes(text)) {
      return this.error(
        value,
        `${what} must be one of ${choices.join(", ")}, got "${text}"${didYouMean(text, choices)}`,
      );
    }
    return text as T;
  }

  /** A string or a non-empty list of strings, each with its node. */
  strings(value: Value, what: string, allowEmpty = false): [string, Value][] | undefined {
    value = this.deref(value);
    if (!isSeq(value)) {
      const one = this.string(value, what);
      return one === undefined ? undefined : [[one, value]];
    }
    if (value.items.length === 0 && !allowEmpty) {
      return this.error(value, `${what} must not be an empty list`);
    }
    const out: [string, Value][] = [];
    let ok = true;
    for (const item of value.items as Value[]) {
      const one = this.string(item, what);
      if (one === undefined) ok = false;
      else out.push([one, this.deref(item)]);
    }
    return ok ? out : undefined;
  }

  /** Each string of `value` through `check` (an error message or the checked form). */
  patterns<T>(value: Value, what: string, check: (text: string) => T | string): T[] | undefined {
    const texts = this.strings(value, what);
    if (texts === undefined) return undefined;
    const out: T[] = [];
    for (const [text, node] of texts) {
      const checked = check(text);
      if (typeof checked === "string") this.error(node, `${what}: ${checked}`);
      else out.push(checked);
    }
    return out.length === texts.length ? out : undefined;
  }

  endpoint(value: Value, what: string, defaultPort?: number): Endpoint | undefined {
    const text = this.string(value, what);
    if (text === undefined) return undefined;
    const bare = defaultPort !== undefined && !/^\[.*\]:\d+$|^[^:]*:\d+$/.test(text);
    const withPort = !bare
      ? text
      : text.includes(":") && !text.startsWith("[")
      ? `[${text}]:${defaultPort}`
      : `${text}:${defaultPort}`;
    const r = parseEndpoint(withPort);
    return r.ok ? r.value : this.error(value, `${what}: ${r.error}`);
  }
}

function describe(v: unknown): string {
  return v === null ? "null" : `${typeof v} ${JSON.stringify(v)}`;
}

/** ` (did you mean "x"?)` when one choice is within a small edit distance. */
function didYouMean(word: string, choices: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of choices) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best === undefined ? "" : ` (did you mean "${best}"?)`;
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

const TOP_KEYS = [
  "hostname",
  "listen",
  "api",
  "limits",
  "log",
  "max_hops",
  "realm",
  "lacs",
  "upstreams",
  "terminate",
  "rules",
  "default",
] as const;

function readPolicy(ctx: Context, root: Value): PolicyConfig | undefined {
  return readPolicyWithNames(ctx, root)?.config;
}

/** The policy, and the upstream names its rules were checked against. */
function readPolicyWithNames(
  ctx: Context,
  root: Value,
): { config: PolicyConfig; upstreams: string[] } | undefined {
  if (root === null || root === undefined || (isScalar(root) && root.value === null)) {
    return ctx.error(root, "the policy is empty: it needs at least hostname and lacs");
  }
  const top = ctx.fields(root, "the policy", TOP_KEYS);
  if (top === undefined) return undefined;
  const hostnameField = top.get("hostname");
  const hostname = hostnameField === undefined
    ? ctx.error(root, 'missing key "hostname" (the Host Name AVP this switch sends)')
    : ctx.string(hostnameField.value, "hostname");
  const lacsField = top.get("lacs");
  if (lacsField === undefined) {
    ctx.error(
      root,
      'missing key "lacs" (which LACs may open tunnels; "- { match: {} }" admits any)',
    );
  }
  const realm = readRealm(ctx, top.get("realm")?.value);
  const listen = readListen(ctx, top.get("listen")?.value);
  const upstreams = readUpstreams(ctx, top.get("upstreams")?.value, hostname ?? "", listen);
  // Rules are checked against every upstream declared, valid or not, so that
  // one broken upstream is reported once, not again at each rule forwarding to it.
  const upstreamsNode = ctx.deref(top.get("upstreams")?.value);
  const names = upstreams === undefined
    ? undefined
    : isMap(upstreamsNode)
    ? upstreamsNode.items.map((p) => ctx.deref(p.key as Value))
      .flatMap((k) => isScalar(k) && typeof k.value === "string" ? [k.value] : [])
    : [];
  const terminate = readTerminateTargets(ctx, top.get("terminate")?.value);
  ctx.terminateNames = [...terminate.keys()];
  const config: PolicyConfig = {
    hostname: hostname ?? "",
    listen,
    api: readApi(ctx, top.get("api")?.value),
    limits: readLimits(ctx, top.get("limits")?.value),
    log: readLog(ctx, top.get("log")?.value),
    maxHops: top.has("max_hops")
      ? ctx.integer(top.get("max_hops")!.value, "max_hops", 1, 32) ?? DEFAULTS.maxHops
      : DEFAULTS.maxHops,
    realm,
    lacs: lacsField === undefined ? [] : readLacs(ctx, lacsField.value),
    upstreams: upstreams ?? new Map(),
    terminate,
    rules: readRules(ctx, top.get("rules")?.value, names),
    defaultAction: top.has("default")
      ? readAction(ctx, top.get("default")!.value, "default", names) ??
        DEFAULTS.defaultAction
      : DEFAULTS.defaultAction,
  };
  return ctx.errors.length === 0 ? { config, upstreams: names ?? [] } : undefined;
}

function readListen(ctx: Context, value: Value): Endpoint[] {
  if (value === undefined) {
    const listen = parseEndpoint(DEFAULTS.listen);
    if (!listen.ok) throw new TypeError(`bad built-in default listen: ${listen.error}`);
    return [listen.value];
  }
  const texts = ctx.strings(value, "listen") ?? [];
  const out: Endpoint[] = [];
  const seen = new Set<string>();
  for (const [, node] of texts) {
    const e = ctx.endpoint(node, "listen");
    if (e === undefined) continue;
    if (seen.has(endpointKey(e))) ctx.error(node, `listen: "${endpointKey(e)}" is listed twice`);
    seen.add(endpointKey(e));
    out.push(e);
  }
  return out;
}

function readApi(ctx: Context, value: Value): PolicyConfig["api"] {
  if (value === undefined) return undefined;
  const f = ctx.fields(value, "api", ["listen", "token_file"]);
  if (f === undefined) return undefined;
  const listenField = f.get("listen");
  if (listenField === undefined) return ctx.error(value, 'missing key "listen" in api');
  const listen = ctx.endpoint(listenField.value, "api.listen");
  const tokenFile = f.has("token_file")
    ? ctx.string(f.get("token_file")!.value, "api.token_file")
    : undefined;
  if (listen === undefined) return undefined;
  return tokenFile === undefined ? { listen } : { listen, tokenFile };
}

function readLimits(ctx: Context, value: Value): Limits {
  const f = ctx.fields(value, "limits", ["max_tunnels", "max_sessions", "sccrq_per_second"]);
  const d = DEFAULTS.limits;
  const get = (key: string, min: number, max: number, dflt: number) =>
    f?.has(key) ? ctx.integer(f.get(key)!.value, `limits.${key}`, min, max) ?? dflt : dflt;
  return {
    // Each tunnel holds one 16-bit Tunnel ID (RFC 2661 §3.1), 0 excluded.
    maxTunnels: get("max_tunnels", 1, 65535, d.maxTunnels),
    maxSessions: get("max_sessions", 1, 10_000_000, d.maxSessions),
    sccrqPerSecond: get("sccrq_per_second", 1, 1_000_000, d.sccrqPerSecond),
  };
}

function readLog(ctx: Context, value: Value): PolicyConfig["log"] {
  const f = ctx.fields(value, "log", ["level", "format"]);
  return {
    level: (f?.has("level") ? ctx.oneOf(f.get("level")!.value, "log.level", LOG_LEVELS) : null) ??
      DEFAULTS.log.level,
    format:
      (f?.has("format") ? ctx.oneOf(f.get("format")!.value, "log.format", LOG_FORMATS) : null) ??
        DEFAULTS.log.format,
  };
}

function readRealm(ctx: Context, value: Value): RealmDelimiters {
  const f = ctx.fields(value, "realm", ["suffix", "prefix"]);
  const list = (key: "suffix" | "prefix") =>
    f?.has(key)
      ? (ctx.strings(f.get(key)!.value, `realm.${key}`, true) ?? [])
      : DEFAULTS.realm[key].map((d): [string, Value] => [d, undefined]);
  const suffix = list("suffix");
  const prefix = list("prefix");
  for (const [d, node] of prefix) {
    if (suffix.some(([s]) => s === d)) {
      ctx.error(node, `realm delimiter "${d}" cannot be both a suffix and a prefix`);
    }
  }
  return { suffix: suffix.map(([d]) => d), prefix: prefix.map(([d]) => d) };
}

const LAC_KEYS = ["match", "secret", "hello_interval", "hide_avps", "max_sessions", "deny"];

function readLacs(ctx: Context, value: Value): LacEntry[] {
  value = ctx.deref(value);
  if (!isSeq(value)) {
    ctx.error(value, "lacs must be a list of { match, secret, … } entries");
    return [];
  }
  const out: LacEntry[] = [];
  (value.items as Value[]).forEach((item, index) => {
    const where = `lacs[${index}]`;
    const f = ctx.fields(item, where, LAC_KEYS);
    if (f === undefined) return;
    const m = ctx.fields(f.get("match")?.value, `${where}.match`, ["hostname", "address"]);
    const match: LacEntry["match"] = {
      ...(m?.has("hostname")
        ? { hostname: ctx.patterns(m.get("hostname")!.value, `${where}.match.hostname`, glob) }
        : {}),
      ...(m?.has("address")
        ? { address: ctx.patterns(m.get("address")!.value, `${where}.match.address`, parseCidr) }
        : {}),
    };
    const deny = f.has("deny") ? ctx.boolean(f.get("deny")!.value, `${where}.deny`) : false;
    if (deny) {
      for (const key of f.keys()) {
        if (key !== "match" && key !== "deny") {
          ctx.error(f.get(key)!.key, `${where}: a deny entry takes only "match", not "${key}"`);
        }
      }
    }
    const secret = f.has("secret")
      ? ctx.string(f.get("secret")!.value, `${where}.secret`)
      : undefined;
    const helloInterval = f.has("hello_interval")
      ? ctx.integer(f.get("hello_interval")!.value, `${where}.hello_interval`, 0, 3600)
      : undefined;
    const hideAvps = f.has("hide_avps")
      ? ctx.boolean(f.get("hide_avps")!.value, `${where}.hide_avps`)
      : undefined;
    if (hideAvps && !f.has("secret")) {
      ctx.error(f.get("hide_avps")!.key, `${where}: hide_avps needs a secret (RFC 2661 §4.3)`);
    }
    const maxSessions = f.has("max_sessions")
      ? ctx.integer(f.get("max_sessions")!.value, `${where}.max_sessions`, 1, 10_000_000)
      : undefined;
    out.push({
      index,
      match: match as LacEntry["match"],
      deny: deny ?? false,
      admission: Object.freeze({
        ...(secret === undefined ? {} : { secret }),
        ...(helloInterval === undefined ? {} : { helloInterval }),
        ...(hideAvps === undefined ? {} : { hideAvps }),
        ...(maxSessions === undefined ? {} : { maxSessions }),
      }),
    });
  });
  return out;
}

const glob = (text: string): GlobPattern => compileGlob(text, true);
const userGlob = (text: string): GlobPattern => compileGlob(text, false);

const UPSTREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const UPSTREAM_KEYS = [
  "strategy",
  "sessions_per_tunnel",
  "members",
  "secret",
  "hostname",
  "hello_interval",
  "hide_avps",
];
const MEMBER_KEYS = [
  "address",
  "secret",
  "priority",
  "weight",
  "max_sessions",
  "hostname",
  "hello_interval",
  "hide_avps",
];

/** Settings an upstream gives its members unless a member sets its own. */
interface MemberDefaults {
  secret?: string;
  hostname: string;
  helloInterval: number;
  hideAvps: boolean;
}

function readUpstreams(
  ctx: Context,
  value: Value,
  hostname: string,
  listen: readonly Endpoint[],
): Map<string, Upstream> | undefined {
  value = ctx.deref(value);
  if (value === undefined || value === null) return new Map();
  if (!isMap(value)) {
    return ctx.error(value, "upstreams must be a mapping of name → { members, … }");
  }
  const out = new Map<string, Upstream>();
  for (const pair of value.items) {
    const key = ctx.deref(pair.key as Value);
    if (!isScalar(key) || typeof key.value !== "string" || !UPSTREAM_NAME.test(key.value)) {
      ctx.error(key, "an upstream name must be a string of letters, digits, '_', '.', '-'");
      continue;
    }
    const name = key.value;
    const where = `upstream "${name}"`;
    const f = ctx.fields(pair.value as Value, where, UPSTREAM_KEYS);
    if (f === undefined) continue;
    const strategy = f.has("strategy")
      ? ctx.oneOf(f.get("strategy")!.value, `${where}: strategy`, STRATEGIES)
      : DEFAULTS.strategy;
    const sessionsPerTunnel = f.has("sessions_per_tunnel")
      ? ctx.integer(f.get("sessions_per_tunnel")!.value, `${where}: sessions_per_tunnel`, 1, 65535)
      : DEFAULTS.sessionsPerTunnel;
    const defaults = readMemberSettings(ctx, f, where, {
      hostname,
      helloInterval: DEFAULTS.helloInterval,
      hideAvps: false,
    });
    const membersField = f.get("members");
    const membersNode = membersField?.value;
    if (membersField === undefined || !isSeq(membersNode) || membersNode.items.length === 0) {
      ctx.error(
        membersField === undefined ? ctx.deref(pair.value as Value) ?? key : membersNode ?? key,
        `${where} has no members (give "members: [{ address: … }]")`,
      );
      continue;
    }
    const members: Member[] = [];
    const seen = new Set<string>();
    (membersNode.items as Value[]).forEach((item, index) => {
      const mWhere = `${where} members[${index}]`;
      const m = ctx.fields(item, mWhere, MEMBER_KEYS);
      if (m === undefined) return;
      const addressField = m.get("address");
      if (addressField === undefined) {
        return void ctx.error(item, `missing key "address" in ${mWhere}`);
      }
      const address = ctx.endpoint(addressField.value, `${mWhere}: address`, DEFAULTS.lnsPort);
      if (address !== undefined) {
        // A member that is one of our own listen addresses would switch calls back to us.
        if (listen.some((l) => endpointKey(l) === endpointKey(address))) {
          ctx.error(
            addressField.value,
            `${mWhere}: ${endpointKey(address)} is one of our own listen addresses (a loop)`,
          );
        }
        if (seen.has(endpointKey(address))) {
          ctx.error(addressField.value, `${where}: member ${endpointKey(address)} is listed twice`);
        }
        seen.add(endpointKey(address));
      }
      const own = readMemberSettings(ctx, m, mWhere, defaults);
      const priority = m.has("priority")
        ? ctx.integer(m.get("priority")!.value, `${mWhere}: priority`, 0, 65535)
        : DEFAULTS.priority;
      const weight = m.has("weight")
        ? ctx.integer(m.get("weight")!.value, `${mWhere}: weight`, 0, 1_000_000)
        : DEFAULTS.weight;
      const maxSessions = m.has("max_sessions")
        ? ctx.integer(m.get("max_sessions")!.value, `${mWhere}: max_sessions`, 1, 10_000_000)
        : undefined;
      if (address === undefined || priority === undefined || weight === undefined) return;
      members.push(Object.freeze({
        upstream: name,
        index,
        address,
        key: endpointKey(address),
        ...(own.secret === undefined ? {} : { secret: own.secret }),
        priority,
        weight,
        ...(maxSessions === undefined ? {} : { maxSessions }),
        hostname: own.hostname,
        helloInterval: own.helloInterval,
        hideAvps: own.hideAvps,
      }));
    });
    if (strategy === "weighted" && members.length > 0 && members.every((m) => m.weight === 0)) {
      ctx.error(membersNode, `${where}: every member has weight 0, so it can carry no session`);
    }
    if (strategy === undefined || sessionsPerTunnel === undefined) continue;
    out.set(name, { name, strategy, sessionsPerTunnel, members });
  }
  return out;
}

function readMemberSettings(
  ctx: Context,
  f: Fields,
  where: string,
  inherited: MemberDefaults,
): MemberDefaults {
  const secret = f.has("secret")
    ? ctx.string(f.get("secret")!.value, `${where}: secret`)
    : inherited.secret;
  const hideAvps = f.has("hide_avps")
    ? ctx.boolean(f.get("hide_avps")!.value, `${where}: hide_avps`) ?? false
    : inherited.hideAvps;
  if (hideAvps && f.has("hide_avps") && secret === undefined) {
    ctx.error(f.get("hide_avps")!.key, `${where}: hide_avps needs a secret (RFC 2661 §4.3)`);
  }
  return {
    ...(secret === undefined ? {} : { secret }),
    hostname: f.has("hostname")
      ? ctx.string(f.get("hostname")!.value, `${where}: hostname`) ?? inherited.hostname
      : inherited.hostname,
    helloInterval: f.has("hello_interval")
      ? ctx.integer(f.get("hello_interval")!.value, `${where}: hello_interval`, 0, 3600) ??
        inherited.helloInterval
      : inherited.helloInterval,
    hideAvps,
  };
}

const TERMINATE_KEYS = [
  "auth",
  "users",
  "users_file",
  "accept_all",
  "pool",
  "local_address",
  "dns",
  "echo",
  "tun",
];

/** The built-in target `default`: no users, so nobody logs in until it is declared. */
function builtInTarget(): TerminateTarget {
  const pool = parseIpv4Range(DEFAULTS.terminate.pool);
  if (!pool.ok) throw new TypeError(`bad built-in pool: ${pool.error}`);
  return {
    name: DEFAULTS.terminate.target,
    auth: DEFAULTS.terminate.auth,
    users: [],
    acceptAll: false,
    pool: { ...pool.value, text: DEFAULTS.terminate.pool },
    localAddress: DEFAULTS.terminate.localAddress,
    dns: [],
    echo: DEFAULTS.terminate.echo,
    tun: false,
  };
}

function readTerminateTargets(ctx: Context, value: Value): Map<string, TerminateTarget> {
  const out = new Map<string, TerminateTarget>();
  value = ctx.deref(value);
  if (value !== undefined && value !== null && !(isScalar(value) && value.value === null)) {
    if (!isMap(value)) {
      ctx.error(value, "terminate must be a mapping of name → { users, pool, … }");
    } else {
      for (const pair of value.items) {
        const key = ctx.deref(pair.key as Value);
        if (!isScalar(key) || typeof key.value !== "string" || !/^[\w.-]+$/.test(key.value)) {
          ctx.error(
            key,
            "a terminate target name must be a string of letters, digits, '_', '.', '-'",
          );
          continue;
        }
        const target = readTerminateTarget(ctx, key.value, pair.value as Value);
        if (target !== undefined) out.set(key.value, target);
      }
    }
  }
  if (!out.has(DEFAULTS.terminate.target)) out.set(DEFAULTS.terminate.target, builtInTarget());
  return out;
}

function readTerminateTarget(
  ctx: Context,
  name: string,
  value: Value,
): TerminateTarget | undefined {
  const where = `terminate "${name}"`;
  const f = ctx.fields(value, where, TERMINATE_KEYS);
  if (f === undefined) return undefined;
  const errors = ctx.errors.length;
  const field = (key: string) => f.get(key)?.value;
  let auth: ("pap" | "chap")[] = [...DEFAULTS.terminate.auth];
  if (f.has("auth")) {
    const given = ctx.strings(field("auth"), `${where}: auth`) ?? [];
    auth = [];
    for (const [text, node] of given) {
      if (text !== "pap" && text !== "chap") {
        ctx.error(node, `${where}: auth is pap or chap, not "${text}" (MS-CHAP is not supported)`);
      } else if (auth.includes(text)) ctx.error(node, `${where}: auth lists "${text}" twice`);
      else auth.push(text);
    }
  }
  const users: TerminateUser[] = [];
  const usersNode = ctx.deref(field("users"));
  if (f.has("users") && !(isScalar(usersNode) && usersNode.value === null)) {
    if (!isSeq(usersNode)) {
      ctx.error(usersNode, `${where}: users must be a list of { name, password }`);
    } else {
      (usersNode.items as Value[]).forEach((item, i) => {
        const u = ctx.fields(item, `${where}: users[${i}]`, ["name", "password"]);
        if (u === undefined) return;
        if (!u.has("name") || !u.has("password")) {
          return void ctx.error(item, `${where}: users[${i}] needs name and password`);
        }
        const userName = ctx.string(u.get("name")!.value, `${where}: users[${i}].name`);
        const password = ctx.string(u.get("password")!.value, `${where}: users[${i}].password`);
        // PAP carries each in one octet of length (RFC 1334 §2.2.1).
        for (
          const [text, node] of [[userName, u.get("name")!.value], [
            password,
            u.get("password")!.value,
          ]] as const
        ) {
          if (
            text !== undefined && (text.length === 0 || new TextEncoder().encode(text).length > 255)
          ) {
            ctx.error(node, `${where}: users[${i}]: a name or password is 1 to 255 bytes`);
          }
        }
        if (userName !== undefined && password !== undefined) {
          users.push({ name: userName, password });
        }
      });
    }
  }
  const usersFile = f.has("users_file")
    ? ctx.string(field("users_file"), `${where}: users_file`)
    : undefined;
  const acceptAll = f.has("accept_all")
    ? ctx.boolean(field("accept_all"), `${where}: accept_all`) ?? false
    : false;
  const poolText = f.has("pool")
    ? ctx.string(field("pool"), `${where}: pool`)
    : DEFAULTS.terminate.pool;
  let pool: TerminateTarget["pool"] | undefined;
  if (poolText !== undefined) {
    const r = parseIpv4Range(poolText);
    if (r.ok) pool = { ...r.value, text: poolText };
    else ctx.error(field("pool"), `${where}: pool: ${r.error}`);
  }
  const localAddress = f.has("local_address")
    ? ctx.string(field("local_address"), `${where}: local_address`)
    : DEFAULTS.terminate.localAddress;
  if (localAddress !== undefined) {
    const n = parseIpv4(localAddress);
    if (n === undefined) {
      ctx.error(
        field("local_address"),
        `${where}: local_address "${localAddress}" is not an IPv4 address`,
      );
    } else if (pool !== undefined && n >= pool.first && n <= pool.last) {
      ctx.error(
        field("local_address") ?? field("pool"),
        `${where}: local_address ${localAddress} is inside the pool`,
      );
    }
  }
  const dns: string[] = [];
  if (f.has("dns")) {
    for (const [text, node] of ctx.strings(field("dns"), `${where}: dns`) ?? []) {
      if (parseIpv4(text) === undefined) {
        ctx.error(node, `${where}: dns "${text}" is not an IPv4 address`);
      } else dns.push(text);
    }
    if (dns.length > 2) {
      ctx.error(field("dns"), `${where}: dns lists at most a primary and a secondary (RFC 1877)`);
    }
  }
  let echo: TerminateTarget["echo"] = DEFAULTS.terminate.echo;
  if (f.has("echo")) {
    const e = ctx.fields(field("echo"), `${where}: echo`, ["interval", "max_missed"]);
    const interval = e?.has("interval")
      ? ctx.integer(e.get("interval")!.value, `${where}: echo.interval`, 0, 3600)
      : DEFAULTS.terminate.echo.interval;
    const maxMissed = e?.has("max_missed")
      ? ctx.integer(e.get("max_missed")!.value, `${where}: echo.max_missed`, 1, 100)
      : DEFAULTS.terminate.echo.maxMissed;
    echo = interval === 0 || interval === undefined || maxMissed === undefined
      ? null
      : { interval, maxMissed };
  }
  const tun = f.has("tun") ? ctx.boolean(field("tun"), `${where}: tun`) ?? false : false;
  if (ctx.errors.length > errors || pool === undefined || localAddress === undefined) {
    return undefined;
  }
  return {
    name,
    auth,
    users,
    ...(usersFile === undefined ? {} : { usersFile }),
    acceptAll,
    pool,
    localAddress,
    dns,
    echo,
    tun,
  };
}

const RULE_KEYS = ["name", "match", "forward", "reject", "terminate"];
const MATCH_KEYS = [
  "user",
  "domain",
  "lac_hostname",
  "lac_address",
  "called_number",
  "calling_number",
];

function readRules(ctx: Context, value: Value, upstreams: string[] | undefined): Rule[] {
  value = ctx.deref(value);
  if (value === undefined || value === null) return [];
  if (!isSeq(value)) {
    ctx.error(value, "rules must be a list of { name, match, forward | reject | terminate }");
    return [];
  }
  const out: Rule[] = [];
  const names = new Map<string, Value>();
  (value.items as Value[]).forEach((item, index) => {
    const read = readRule(ctx, item, index, upstreams, names);
    if (read !== undefined) out.push(read.rule);
  });
  return out;
}

/** One item of `rules`; `names` holds the names seen so far, to report duplicates. */
function readRule(
  ctx: Context,
  item: Value,
  index: number,
  upstreams: string[] | undefined,
  names: Map<string, Value>,
): { rule: Rule; named: boolean } | undefined {
  const f = ctx.fields(item, `rules[${index}]`, RULE_KEYS);
  if (f === undefined) return undefined;
  let name = `rules[${index}]`;
  if (f.has("name")) {
    const nameNode = f.get("name")!.value;
    const given = ctx.string(nameNode, `rules[${index}].name`);
    if (given !== undefined) {
      const first = names.get(given);
      if (first !== undefined) {
        const { line } = ctx.lines.linePos(first?.range?.[0] ?? 0);
        ctx.error(nameNode, `duplicate rule name "${given}" (first used on line ${line})`);
      }
      names.set(given, nameNode);
      name = given;
    }
  }
  const where = f.has("name") ? `rule "${name}"` : name;
  const match = readMatch(ctx, f.get("match")?.value, where);
  const action = readAction(ctx, item, where, upstreams, f);
  return match !== undefined && action !== undefined
    ? { rule: { name, index, match, action }, named: f.has("name") }
    : undefined;
}

function readMatch(ctx: Context, value: Value, where: string): RuleMatch | undefined {
  const f = ctx.fields(value, `${where}: match`, MATCH_KEYS);
  if (f === undefined) return undefined;
  const errors = ctx.errors.length;
  const read = <T>(key: string, check: (text: string) => T | string): T[] | undefined =>
    f.has(key) ? ctx.patterns(f.get(key)!.value, `${where}: ${key}`, check) : undefined;
  const match: {
    -readonly [K in keyof RuleMatch]: RuleMatch[K];
  } = {};
  const user = read<GlobPattern>("user", userGlob);
  const domain = read<DomainPattern>("domain", parseDomainPattern);
  const lacHostname = read<GlobPattern>("lac_hostname", glob);
  const lacAddress = read<Cidr>("lac_address", parseCidr);
  const calledNumber = read<NumberPattern>("called_number", compileNumberPattern);
  const callingNumber = read<NumberPattern>("calling_number", compileNumberPattern);
  if (user) match.user = user;
  if (domain) match.domain = domain;
  if (lacHostname) match.lacHostname = lacHostname;
  if (lacAddress) match.lacAddress = lacAddress;
  if (calledNumber) match.calledNumber = calledNumber;
  if (callingNumber) match.callingNumber = callingNumber;
  return ctx.errors.length === errors ? match : undefined;
}

/**
 * Reads the one action of a rule (`f`: its fields) or of `default` (`node`: the
 * mapping holding only the action).
 */
function readAction(
  ctx: Context,
  node: Value,
  where: string,
  upstreams: string[] | undefined,
  fields?: Fields,
): RuleAction | undefined {
  const f = fields ?? ctx.fields(node, where, ["forward", "reject", "terminate"]);
  if (f === undefined) return undefined;
  const given = ["forward", "reject", "terminate"].filter((k) => f.has(k))
    .sort((a, b) => (f.get(a)!.key.range?.[0] ?? 0) - (f.get(b)!.key.range?.[0] ?? 0));
  if (given.length === 0 && ctx.misspelt.has(f)) return undefined;
  if (given.length !== 1) {
    const at = given.length > 1 ? f.get(given[1])!.key : ctx.deref(node);
    return ctx.error(
      at,
      `${where} needs exactly one action: forward, reject or terminate${
        given.length > 1 ? ` (got ${given.join(" and ")})` : ""
      }`,
    );
  }
  const { value } = f.get(given[0])!;
  switch (given[0]) {
    case "forward": {
      const name = ctx.string(value, `${where}: forward`);
      if (name === undefined || upstreams === undefined) return undefined;
      if (!upstreams.includes(name)) {
        return ctx.error(
          value,
          `unknown upstream "${name}" in ${where}${didYouMean(name, upstreams)}`,
        );
      }
      return { type: "forward", upstream: name };
    }
    case "reject": {
      const r = ctx.fields(value, `${where}: reject`, ["result_code", "error_code", "message"]);
      if (r === undefined) return undefined;
      // CDN Result Codes, RFC 2661 §4.4.2: 1..11; General Error Codes 0..8.
      const resultCode = r.has("result_code")
        ? ctx.integer(r.get("result_code")!.value, `${where}: result_code`, 1, 11)
        : DEFAULTS.defaultAction.resultCode;
      const errorCode = r.has("error_code")
        ? ctx.integer(r.get("error_code")!.value, `${where}: error_code`, 0, 8)
        : undefined;
      const message = r.has("message")
        ? ctx.string(r.get("message")!.value, `${where}: message`)
        : undefined;
      if (resultCode === undefined) return undefined;
      return {
        type: "reject",
        resultCode,
        ...(errorCode === undefined ? {} : { errorCode }),
        ...(message === undefined ? {} : { message }),
      };
    }
    case "terminate": {
      // `terminate: NAME`; an empty `terminate:` or `terminate: {}` names the target "default".
      const node = ctx.deref(value);
      if (node === null || node === undefined || (isScalar(node) && node.value === null)) {
        return { type: "terminate", target: DEFAULTS.terminate.target };
      }
      if (isMap(node)) {
        const t = ctx.fields(node, `${where}: terminate`, []);
        return t === undefined
          ? undefined
          : { type: "terminate", target: DEFAULTS.terminate.target };
      }
      const name = ctx.string(node, `${where}: terminate`);
      if (name === undefined) return undefined;
      if (!ctx.terminateNames.includes(name)) {
        return ctx.error(
          node,
          `unknown terminate target "${name}" in ${where}${didYouMean(name, ctx.terminateNames)}`,
        );
      }
      return { type: "terminate", target: name };
    }
  }
  return undefined;
}
