import assert from "node:assert/strict";
import fc from "fast-check";
import type { MetricsView } from "../actors/control.ts";
import { ExpositionError, parseExposition, renderMetrics } from "./metrics.ts";

const none = { permissions: "none" } as const;

function view(overrides: Partial<MetricsView> = {}): MetricsView {
  return {
    tunnels: [
      { role: "lac", established: true, count: 3 },
      { role: "upstream", established: false, count: 1 },
    ],
    sessions: [
      { state: "switched", upstream: "isp-a", count: 7 },
      { state: "placing", upstream: "isp-b", count: 2 },
    ],
    rejectsByResultCode: { "2": 4, "4": 1 },
    callsTotal: 14,
    callsSwitchedTotal: 9,
    failoversTotal: 2,
    controlRetransmitsTotal: 11,
    dataForwardedFrames: 123456,
    dataForwardedBytes: 9876543210,
    dataDropped: { unknown_session: 5, before_switch: 1 },
    datagramsDropped: { malformed: 3 },
    mailboxDropsTotal: 0,
    tunnelAuthFailuresTotal: 6,
    limits: { max_tunnels: 1000, sccrq_per_second: 100 },
    limitsReached: { max_tunnels: 2, sccrq_per_second: 40 },
    reloads: { ok: 2, failed: 1 },
    policyVersion: 3,
    ...overrides,
  };
}

/** The value of the one series of `family` with exactly `labels`. */
function value(
  families: ReturnType<typeof parseExposition>,
  family: string,
  labels: Record<string, string> = {},
): number | undefined {
  return families.get(family)?.samples.find((s) => {
    const keys = Object.keys(s.labels);
    return keys.length === Object.keys(labels).length &&
      keys.every((k) => s.labels[k] === labels[k]);
  })?.value;
}

Deno.test("renderMetrics: every family, typed, with the view's values", none, () => {
  const f = parseExposition(renderMetrics(view()));
  const expected: [string, "counter" | "gauge"][] = [
    ["lts_tunnels", "gauge"],
    ["lts_sessions", "gauge"],
    ["lts_calls_total", "counter"],
    ["lts_calls_switched_total", "counter"],
    ["lts_call_rejects_total", "counter"],
    ["lts_failovers_total", "counter"],
    ["lts_control_retransmits_total", "counter"],
    ["lts_data_forwarded_frames_total", "counter"],
    ["lts_data_forwarded_bytes_total", "counter"],
    ["lts_data_dropped_total", "counter"],
    ["lts_datagrams_dropped_total", "counter"],
    ["lts_mailbox_drops_total", "counter"],
    ["lts_tunnel_auth_failures_total", "counter"],
    ["lts_limit", "gauge"],
    ["lts_limit_reached_total", "counter"],
    ["lts_policy_reloads_total", "counter"],
    ["lts_policy_version", "gauge"],
  ];
  assert.deepEqual([...f.keys()], expected.map(([name]) => name));
  for (const [name, type] of expected) {
    assert.equal(f.get(name)!.type, type, name);
    assert.notEqual(f.get(name)!.help, "", name);
    if (type === "counter") assert.match(name, /_total$/);
  }
  assert.equal(value(f, "lts_tunnels", { role: "lac", state: "established" }), 3);
  assert.equal(value(f, "lts_tunnels", { role: "lac", state: "establishing" }), 0);
  assert.equal(value(f, "lts_tunnels", { role: "upstream", state: "establishing" }), 1);
  assert.equal(value(f, "lts_tunnels", { role: "upstream", state: "established" }), 0);
  assert.equal(value(f, "lts_sessions", { state: "switched", upstream: "isp-a" }), 7);
  assert.equal(value(f, "lts_sessions", { state: "placing", upstream: "isp-b" }), 2);
  assert.equal(value(f, "lts_calls_total"), 14);
  assert.equal(value(f, "lts_tunnel_auth_failures_total"), 6);
  assert.equal(value(f, "lts_limit", { limit: "sccrq_per_second" }), 100);
  assert.equal(value(f, "lts_limit_reached_total", { limit: "sccrq_per_second" }), 40);
  assert.equal(value(f, "lts_calls_switched_total"), 9);
  assert.equal(value(f, "lts_call_rejects_total", { result_code: "2" }), 4);
  assert.equal(value(f, "lts_call_rejects_total", { result_code: "4" }), 1);
  assert.equal(value(f, "lts_failovers_total"), 2);
  assert.equal(value(f, "lts_control_retransmits_total"), 11);
  assert.equal(value(f, "lts_data_forwarded_frames_total"), 123456);
  assert.equal(value(f, "lts_data_forwarded_bytes_total"), 9876543210);
  assert.equal(value(f, "lts_data_dropped_total", { reason: "unknown_session" }), 5);
  assert.equal(value(f, "lts_data_dropped_total", { reason: "before_switch" }), 1);
  assert.equal(value(f, "lts_datagrams_dropped_total", { reason: "malformed" }), 3);
  assert.equal(value(f, "lts_mailbox_drops_total"), 0);
  assert.equal(value(f, "lts_policy_reloads_total", { outcome: "ok" }), 2);
  assert.equal(value(f, "lts_policy_reloads_total", { outcome: "failed" }), 1);
  assert.equal(value(f, "lts_policy_version"), 3);
});

Deno.test("renderMetrics: empty labelled families keep HELP and TYPE", none, () => {
  const text = renderMetrics(view({
    sessions: [],
    tunnels: [],
    rejectsByResultCode: {},
    dataDropped: {},
    datagramsDropped: {},
  }));
  const f = parseExposition(text);
  assert.deepEqual(f.get("lts_sessions")!.samples, []);
  assert.deepEqual(f.get("lts_call_rejects_total")!.samples, []);
  assert.equal(f.get("lts_tunnels")!.samples.length, 4);
  assert.match(text, /^# HELP lts_sessions .+\n# TYPE lts_sessions gauge\n# HELP lts_calls_total/m);
});

Deno.test("renderMetrics: label values escape backslash, double quote and newline", none, () => {
  const nasty = 'a"b\\c\nd';
  const text = renderMetrics(view({
    datagramsDropped: { [nasty]: 1 },
    sessions: [{ state: "switched", upstream: 'isp}{,="', count: 2 }],
  }));
  assert.ok(text.includes('lts_datagrams_dropped_total{reason="a\\"b\\\\c\\nd"} 1\n'), text);
  const f = parseExposition(text);
  assert.equal(value(f, "lts_datagrams_dropped_total", { reason: nasty }), 1);
  assert.equal(value(f, "lts_sessions", { state: "switched", upstream: 'isp}{,="' }), 2);
  for (const line of text.split("\n").slice(0, -1)) assert.ok(!line.includes("\r"));
});

Deno.test("renderMetrics: equal series are summed, never repeated", none, () => {
  const f = parseExposition(renderMetrics(view({
    tunnels: [
      { role: "lac", established: true, count: 2 },
      { role: "lac", established: true, count: 5 },
    ],
    sessions: [
      { state: "switched", upstream: "isp-a", count: 1 },
      { state: "switched", upstream: "isp-a", count: 4 },
    ],
  })));
  assert.equal(value(f, "lts_tunnels", { role: "lac", state: "established" }), 7);
  assert.equal(f.get("lts_sessions")!.samples.length, 1);
  assert.equal(value(f, "lts_sessions", { state: "switched", upstream: "isp-a" }), 5);
});

Deno.test("renderMetrics: non-finite values use the format's spelling", none, () => {
  const text = renderMetrics(view({ policyVersion: NaN, callsTotal: Infinity }));
  assert.match(text, /^lts_policy_version NaN$/m);
  assert.match(text, /^lts_calls_total \+Inf$/m);
  const f = parseExposition(text);
  assert.ok(Number.isNaN(value(f, "lts_policy_version")));
  assert.equal(value(f, "lts_calls_total"), Infinity);
});

Deno.test(
  "renderMetrics: any reason and upstream text round-trips through the parser",
  none,
  () => {
    const counts = fc.dictionary(fc.string({ unit: "grapheme-composite" }), fc.nat());
    fc.assert(
      fc.property(
        counts,
        fc.array(fc.record({ state: fc.string(), upstream: fc.string(), count: fc.nat() })),
        (dropped, sessions) => {
          const f = parseExposition(renderMetrics(view({ dataDropped: dropped, sessions })));
          for (const [reason, n] of Object.entries(dropped)) {
            assert.equal(value(f, "lts_data_dropped_total", { reason }), n);
          }
          const sums = new Map<string, number>();
          for (const s of sessions) {
            const key = JSON.stringify([s.state, s.upstream]);
            sums.set(key, (sums.get(key) ?? 0) + s.count);
          }
          assert.equal(f.get("lts_sessions")!.samples.length, sums.size);
          for (const [key, n] of sums) {
            const [state, upstream] = JSON.parse(key);
            assert.equal(value(f, "lts_sessions", { state, upstream }), n);
          }
        },
      ),
    );
  },
);

Deno.test("parseExposition: accepts what Prometheus accepts", none, () => {
  const f = parseExposition(
    [
      "# A free comment",
      "# HELP h A histogram, with an escaped \\\\ and \\n in its help.",
      "# TYPE h histogram",
      'h_bucket{le="1"} 1',
      'h_bucket{le="+Inf",} 2 1700000000000',
      "h_sum 3.5e0",
      "h_count 2",
      "",
      "# TYPE g gauge",
      "# HELP g A gauge.",
      "g -Inf",
      "",
    ].join("\n"),
  );
  assert.equal(f.get("h")!.help, "A histogram, with an escaped \\ and \n in its help.");
  assert.equal(f.get("h")!.samples.length, 4);
  assert.equal(f.get("h")!.samples[1].labels.le, "+Inf");
  assert.equal(f.get("g")!.samples[0].value, -Infinity);
  assert.equal(parseExposition("").size, 0);
});

Deno.test("parseExposition: rejects each violation with its line", none, () => {
  const ok = "# HELP a_total A.\n# TYPE a_total counter\n";
  const cases: [string, string, number][] = [
    [ok + "a_total 1", "does not end with", 3],
    ["a_total 1\n", "without # HELP and # TYPE", 1],
    ["# HELP a_total A.\na_total 1\n", "without # HELP and # TYPE", 2],
    ["# TYPE a_total counter\na_total 1\n", "without # HELP and # TYPE", 2],
    [ok + "a_total 1\na_total 2\n", "duplicate series", 4],
    [ok + 'a_total{x="1",y="2"} 1\na_total{y="2",x="1"} 2\n', "duplicate series", 4],
    [ok + "a_total one\n", "is not a float", 3],
    [ok + "a_total\n", "expected a space", 3],
    [ok + "a_total 1 2 3\n", "trailing text", 3],
    [ok + "a_total 1 soon\n", "timestamp", 3],
    [ok + 'a_total{x="1} 1\n', "unterminated", 3],
    [ok + 'a_total{x="\\t"} 1\n', "bad escape", 3],
    [ok + 'a_total{x="1",x="2"} 1\n', "given twice", 3],
    [ok + 'a_total{1x="1"} 1\n', "bad label name", 3],
    [ok + 'a_total{__name__="1"} 1\n', "bad label name", 3],
    [ok + 'a_total{x="1" y="2"} 1\n', "expected , or }", 3],
    [ok + "b_total 1\n", "without # HELP and # TYPE", 3],
    ["# HELP 1a A.\n", "bad metric name", 1],
    [ok + "# TYPE a_total gauge\n", "second # TYPE", 3],
    [ok + "# HELP a_total B.\n", "second # HELP", 3],
    ["# HELP a A.\n# TYPE a countr\n", "unknown type", 2],
    [ok + "a_total 1\n# HELP a_total again\n", "after its samples", 4],
    [
      ok + 'a_total 1\n# HELP b B.\n# TYPE b gauge\nb 1\na_total{x="1"} 2\n',
      "not contiguous",
      7,
    ],
    [ok + "# HELP b B.\n# TYPE b gauge\n# TYPE a_total counter\n", "not contiguous", 5],
    ["# HELP a A.\n", "lacks # HELP or # TYPE", 1],
  ];
  for (const [text, reason, line] of cases) {
    const err = failure(text);
    assert.ok(err.reason.includes(reason), `${JSON.stringify(text)}: ${err.message}`);
    assert.equal(err.line, line, `${JSON.stringify(text)}: ${err.message}`);
  }
});

function failure(text: string): ExpositionError {
  try {
    parseExposition(text);
  } catch (e) {
    if (e instanceof ExpositionError) return e;
    throw e;
  }
  assert.fail(`accepted ${JSON.stringify(text)}`);
}
