/**
 * `GET /metrics`: the switch's counters in the Prometheus text exposition
 * format 0.0.4, and a strict parser of that format for tests and tools.
 *
 * Names start with `lts_`; counters end in `_total`; gauges hold current
 * counts. A family is always written with its `# HELP` and `# TYPE` lines,
 * even with no samples, so that a scrape names everything the switch counts.
 *
 * @module
 */

import type { MetricsView } from "../actors/control.ts";

/** The `Content-Type` of {@link renderMetrics}' output. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Prometheus metric types; the renderer writes only counters and gauges. */
export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

/** One sample of a family: its labels and value. */
export interface Sample {
  /** The sample's name: the family's, or for histograms and summaries one of their suffixes. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family as written or parsed. */
export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/** Families of `lts_tunnels` always written, so that a dashboard sees zeros rather than gaps. */
const TUNNEL_SERIES = [
  { role: "lac", state: "established" },
  { role: "lac", state: "establishing" },
  { role: "upstream", state: "established" },
  { role: "upstream", state: "establishing" },
] as const;

/**
 * Renders a {@link MetricsView} as Prometheus text exposition format 0.0.4.
 * Series with equal labels are summed, so the output never repeats a series.
 *
 * @example
 * ```ts
 * import { parseExposition, renderMetrics } from "./metrics.ts";
 * const text = renderMetrics({
 *   tunnels: [{ role: "lac", established: true, count: 2 }],
 *   sessions: [{ state: "switched", upstream: "isp-a", count: 5 }],
 *   rejectsByResultCode: { "2": 1 },
 *   callsTotal: 6, callsSwitchedTotal: 5, failoversTotal: 0, controlRetransmitsTotal: 3,
 *   dataForwardedFrames: 100, dataForwardedBytes: 6400,
 *   dataDropped: {}, datagramsDropped: { malformed: 1 }, mailboxDropsTotal: 0,
 *   tunnelAuthFailuresTotal: 0, limits: { max_tunnels: 1000 }, limitsReached: { max_tunnels: 0 },
 *   reloads: { ok: 1, failed: 0 }, policyVersion: 2,
 * });
 * if (!text.includes('lts_sessions{state="switched",upstream="isp-a"} 5\n')) throw new Error();
 * if (parseExposition(text).get("lts_policy_version")?.samples[0].value !== 2) throw new Error();
 * ```
 */
export function renderMetrics(m: MetricsView): string {
  const families: MetricFamily[] = [
    family("lts_tunnels", "gauge", "Tunnels now, by role (lac, upstream) and state.", [
      ...TUNNEL_SERIES.map((labels) => ({ labels, value: 0 })),
      ...m.tunnels.map((t) => ({
        labels: { role: t.role, state: t.established ? "established" : "establishing" },
        value: t.count,
      })),
    ]),
    family(
      "lts_sessions",
      "gauge",
      "Calls now, by state (placing, switched, terminating, terminated, closing) and upstream group (or terminate target).",
      m.sessions.map((s) => ({ labels: { state: s.state, upstream: s.upstream }, value: s.count })),
    ),
    family("lts_calls_total", "counter", "Incoming calls since start.", [{ value: m.callsTotal }]),
    family("lts_calls_switched_total", "counter", "Calls switched to an upstream member.", [
      { value: m.callsSwitchedTotal },
    ]),
    family(
      "lts_call_rejects_total",
      "counter",
      "Calls ended without being switched, by the CDN Result Code sent to the LAC.",
      byLabel("result_code", m.rejectsByResultCode),
    ),
    family(
      "lts_failovers_total",
      "counter",
      "Upstream members given up within a call for the next member.",
      [{ value: m.failoversTotal }],
    ),
    family(
      "lts_control_retransmits_total",
      "counter",
      "Control messages retransmitted (RFC 2661 section 5.8).",
      [{ value: m.controlRetransmitsTotal }],
    ),
    family("lts_data_forwarded_frames_total", "counter", "Data messages switched between legs.", [
      { value: m.dataForwardedFrames },
    ]),
    family(
      "lts_data_forwarded_bytes_total",
      "counter",
      "Octets of data messages switched between legs.",
      [{ value: m.dataForwardedBytes }],
    ),
    family(
      "lts_data_dropped_total",
      "counter",
      "Data messages dropped, by reason.",
      byLabel("reason", m.dataDropped),
    ),
    family(
      "lts_datagrams_dropped_total",
      "counter",
      "Datagrams dropped by the node before any tunnel, by reason.",
      byLabel("reason", m.datagramsDropped),
    ),
    family(
      "lts_mailbox_drops_total",
      "counter",
      "Messages dropped by full actor mailboxes.",
      [{ value: m.mailboxDropsTotal }],
    ),
    family(
      "lts_tunnel_auth_failures_total",
      "counter",
      "Tunnels ended with StopCCN result 4: the peer failed tunnel authentication or was not admitted.",
      [{ value: m.tunnelAuthFailuresTotal }],
    ),
    family(
      "lts_limit",
      "gauge",
      "Configured bounds, by limit (see lts_limit_reached_total).",
      byLabel("limit", m.limits),
    ),
    family(
      "lts_limit_reached_total",
      "counter",
      "Requests refused or datagrams dropped at a bound, by limit.",
      byLabel("limit", m.limitsReached),
    ),
    family("lts_policy_reloads_total", "counter", "Policy reloads, by outcome (ok, failed).", [
      { labels: { outcome: "ok" }, value: m.reloads.ok },
      { labels: { outcome: "failed" }, value: m.reloads.failed },
    ]),
    family("lts_policy_version", "gauge", "Version of the policy in force (1 at start).", [
      { value: m.policyVersion },
    ]),
  ];
  return families.map(formatFamily).join("");
}

function family(
  name: string,
  type: "counter" | "gauge",
  help: string,
  samples: { labels?: Record<string, string>; value: number }[],
): MetricFamily {
  const merged = new Map<string, Sample>();
  for (const s of samples) {
    const labels = s.labels ?? {};
    const key = seriesKey(name, labels);
    const seen = merged.get(key);
    if (seen === undefined) merged.set(key, { name, labels: { ...labels }, value: s.value });
    else seen.value += s.value;
  }
  return { name, help, type, samples: [...merged.values()] };
}

function byLabel(label: string, counts: Record<string, number>) {
  return Object.entries(counts).map(([value, count]) => ({
    labels: { [label]: value },
    value: count,
  }));
}

function formatFamily(f: MetricFamily): string {
  const lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`];
  for (const s of f.samples) {
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
    lines.push(
      `${s.name}${labels.length === 0 ? "" : `{${labels.join(",")}}`} ${formatValue(s.value)}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Label values escape backslash, double quote and line feed (format 0.0.4). */
function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return JSON.stringify([name, Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))]);
}

/** A violation of the exposition format, with the 1-based line it is on. */
export class ExpositionError extends SyntaxError {
  constructor(readonly line: number, readonly reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = "ExpositionError";
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Go's ParseFloat as Prometheus accepts it, without hex floats. */
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf|NaN)$/;
const TYPES: readonly string[] = ["counter", "gauge", "histogram", "summary", "untyped"];
const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

/**
 * Parses Prometheus text exposition format 0.0.4 strictly, throwing an
 * {@link ExpositionError} at the first violation: a sample line is
 * `name{labels} value [timestamp]`; names match `[a-zA-Z_:][a-zA-Z0-9_:]*`;
 * every family has `# HELP` and `# TYPE` before its samples, and its lines
 * are contiguous; values are floats; no series appears twice; the text ends
 * with a line feed.
 *
 * @example
 * ```ts
 * import { parseExposition } from "./metrics.ts";
 * const f = parseExposition('# HELP x_total X.\n# TYPE x_total counter\nx_total{a="b\\\\"} 3\n');
 * if (f.get("x_total")?.samples[0].labels.a !== "b\\") throw new Error();
 * ```
 */
export function parseExposition(text: string): Map<string, MetricFamily> {
  if (text !== "" && !text.endsWith("\n")) {
    throw new ExpositionError(text.split("\n").length, "the last line does not end with \\n");
  }
  const families = new Map<string, MetricFamily>();
  const partial = new Map<string, { help?: string; type?: MetricType }>();
  const series = new Set<string>();
  let current: string | undefined;
  const lines = text.split("\n").slice(0, -1);
  const enter = (n: number, name: string) => {
    if (current !== name && (families.has(name) || partial.has(name))) {
      throw new ExpositionError(n, `lines of family ${name} are not contiguous`);
    }
    current = name;
  };
  lines.forEach((line, i) => {
    const n = i + 1;
    if (line.trim() === "") return;
    const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest = ""] = meta;
      if (!METRIC_NAME.test(name)) throw new ExpositionError(n, `bad metric name "${name}"`);
      if (families.has(name)) {
        throw new ExpositionError(n, `# ${kind} ${name} after its samples`);
      }
      enter(n, name);
      const p = partial.get(name) ?? {};
      partial.set(name, p);
      if (kind === "HELP") {
        if (p.help !== undefined) throw new ExpositionError(n, `second # HELP for ${name}`);
        p.help = unescapeHelp(n, rest);
      } else {
        if (p.type !== undefined) throw new ExpositionError(n, `second # TYPE for ${name}`);
        if (!TYPES.includes(rest.trim())) {
          throw new ExpositionError(n, `unknown type "${rest.trim()}"`);
        }
        p.type = rest.trim() as MetricType;
      }
      return;
    }
    if (line.startsWith("#")) return;
    const sample = parseSample(n, line);
    const owner = familyOf(sample.name, families, partial, current);
    if (owner === undefined) {
      if (families.has(sample.name)) {
        throw new ExpositionError(n, `lines of family ${sample.name} are not contiguous`);
      }
      throw new ExpositionError(n, `sample ${sample.name} without # HELP and # TYPE before it`);
    }
    enter(n, owner);
    let f = families.get(owner);
    if (f === undefined) {
      const p = partial.get(owner)!;
      if (p.help === undefined || p.type === undefined) {
        throw new ExpositionError(n, `sample ${sample.name} without # HELP and # TYPE before it`);
      }
      f = { name: owner, help: p.help, type: p.type, samples: [] };
      partial.delete(owner);
      families.set(owner, f);
    }
    const key = seriesKey(sample.name, sample.labels);
    if (series.has(key)) throw new ExpositionError(n, `duplicate series ${line.split(" ")[0]}`);
    series.add(key);
    f.samples.push(sample);
  });
  for (const [name, p] of partial) {
    if (p.help === undefined || p.type === undefined) {
      throw new ExpositionError(lines.length, `family ${name} lacks # HELP or # TYPE`);
    }
    families.set(name, { name, help: p.help, type: p.type, samples: [] });
  }
  return families;
}

/** The family a sample name belongs to: the current one (allowing histogram/summary suffixes). */
function familyOf(
  sample: string,
  families: Map<string, MetricFamily>,
  partial: Map<string, { help?: string; type?: MetricType }>,
  current: string | undefined,
): string | undefined {
  if (current === undefined) return undefined;
  const type = families.get(current)?.type ?? partial.get(current)?.type;
  const suffixes = type === undefined ? [""] : SUFFIXES[type] ?? [""];
  return suffixes.some((s) => sample === current + s) ? current : undefined;
}

function parseSample(n: number, line: string): Sample {
  const nameMatch = /^[^\s{]+/.exec(line);
  if (nameMatch === null) throw new ExpositionError(n, "sample line without a metric name");
  const name = nameMatch[0];
  if (!METRIC_NAME.test(name)) throw new ExpositionError(n, `bad metric name "${name}"`);
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[pos] === "{") {
    pos++;
    for (;;) {
      while (line[pos] === " ") pos++;
      if (line[pos] === "}") break;
      const labelName = /^[^=\s]+/.exec(line.slice(pos))?.[0] ?? "";
      if (!LABEL_NAME.test(labelName) || labelName.startsWith("__")) {
        throw new ExpositionError(n, `bad label name "${labelName}"`);
      }
      if (Object.hasOwn(labels, labelName)) {
        throw new ExpositionError(n, `label ${labelName} given twice`);
      }
      pos += labelName.length;
      if (line[pos] !== "=" || line[pos + 1] !== '"') {
        throw new ExpositionError(n, `expected ="value" after label ${labelName}`);
      }
      pos += 2;
      let value = "";
      for (;;) {
        const c = line[pos++];
        if (c === undefined) throw new ExpositionError(n, `unterminated value of ${labelName}`);
        if (c === '"') break;
        if (c === "\\") {
          const e = line[pos++];
          if (e === "n") value += "\n";
          else if (e === "\\" || e === '"') value += e;
          else throw new ExpositionError(n, `bad escape \\${e ?? ""} in ${labelName}`);
        } else value += c;
      }
      labels[labelName] = value;
      while (line[pos] === " ") pos++;
      if (line[pos] === ",") pos++;
      else if (line[pos] !== "}") throw new ExpositionError(n, "expected , or } after a label");
    }
    pos++;
  }
  if (line[pos] !== " ") throw new ExpositionError(n, "expected a space before the value");
  const fields = line.slice(pos).trim().split(/ +/);
  if (fields.length > 2) throw new ExpositionError(n, "trailing text after the timestamp");
  const [raw, timestamp] = fields;
  if (!FLOAT.test(raw)) throw new ExpositionError(n, `value "${raw}" is not a float`);
  if (timestamp !== undefined && !/^-?\d+$/.test(timestamp)) {
    throw new ExpositionError(n, `timestamp "${timestamp}" is not an integer`);
  }
  const value = /inf$/i.test(raw) ? (raw.startsWith("-") ? -Infinity : Infinity) : Number(raw);
  return { name, labels, value };
}

function unescapeHelp(n: number, text: string): string {
  return text.replace(/\\(.?)/g, (_, e: string) => {
    if (e === "n") return "\n";
    if (e === "\\") return "\\";
    throw new ExpositionError(n, `bad escape \\${e} in # HELP`);
  });
}
