/**
 * Mutation fuzzer for every decoder of untrusted input. Seeds come from the
 * encoders and fast-check arbitraries (valid messages, files, requests); each
 * case mutates one (bit flips, byte writes, truncation, extension, corrupted
 * Length fields, splices) or is random bytes. Seeded, so a failing seed
 * replays exactly. The targets:
 *
 * | target        | decoders                                                                  |
 * | ------------- | ------------------------------------------------------------------------- |
 * | `l2tp`        | L2TP header, control messages, AVPs, hidden AVPs, `describePacket`        |
 * | `ppp-frame`   | PPP frame, control packet, options, PAP, CHAP (`ppp/frame.ts`, …)         |
 * | `ppp-engine`  | the PPP engine (LCP, PAP, CHAP, IPCP option handling) in every phase      |
 * | `proxy-lcp`   | proxy LCP AVPs as an LNS seeds LCP from them (RFC 2661 §4.4.5)            |
 * | `pcap`        | pcap and pcapng files (`transport/pcap.ts`)                               |
 * | `policy-yaml` | the policy file (`policies/parse.ts`); errors must name line and column   |
 * | `users-yaml`  | the PPP users file (`ppp/users.ts`)                                       |
 * | `exposition`  | the Prometheus text parser (`api/metrics.ts`); only `ExpositionError`     |
 * | `api`         | HTTP API requests: methods, paths, queries, headers, bodies (`api/server.ts`) |
 *
 * Run long with `deno task fuzz [cases] [seed]` (default 1,000,000 cases
 * over all targets).
 *
 * @module
 */

import fc from "fast-check";
import type { LtsControl, MetricsView } from "../actors/control.ts";
import { ExpositionError, parseExposition, renderMetrics } from "../api/metrics.ts";
import { apiHandler } from "../api/server.ts";
import { parsePolicy } from "../policies/parse.ts";
import { decodeChap } from "../ppp/chap.ts";
import { createEngine, type EngineState, stepEngine } from "../ppp/engine.ts";
import { decodeControlPacket, decodeFrame, decodeOptions } from "../ppp/frame.ts";
import { IpPool } from "../ppp/ip_pool.ts";
import { decodePap } from "../ppp/pap.ts";
import { confreqOptions } from "../ppp/proxy.ts";
import { LocalUsers, parseUsers } from "../ppp/users.ts";
import { anyAddress, anyMessage } from "../transport/_arbitraries.ts";
import type { AvpKey } from "../transport/avp_types.ts";
import { describePacket } from "../transport/describe.ts";
import { dataHeaderLength, decodeHeader, writeDataHeader } from "../transport/header.ts";
import { buildAvps, decodeControl, encodeControl } from "../transport/message.ts";
import { readCapture, writePcap, writePcapng } from "../transport/pcap.ts";

/** What a fuzz run did. */
export interface FuzzReport {
  cases: number;
  decodedOk: number;
  rejected: number;
  slowestMs: number;
  elapsedMs: number;
}

/** The secret the corpus hides AVPs with. */
export const SECRET = new TextEncoder().encode("fuzz-secret");

/** A seeded source of numbers in [0, 1) (xorshift32): the fuzzers' only randomness. */
export function xorshift(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

/** Valid datagrams to mutate: control messages of every type (some with hidden AVPs) and data messages. */
export function corpus(seed: number): Uint8Array[] {
  const samples = fc.sample(fc.tuple(anyMessage, anyAddress, fc.boolean()), { numRuns: 300, seed });
  const out: Uint8Array[] = samples.map(([msg, address, hideAll]) => {
    const hide = hideAll ? (Object.keys(msg.fields) as AvpKey[]) : [];
    return encodeControl(address, buildAvps(msg.type, msg.fields, { hide }), { secret: SECRET });
  });
  for (
    const h of [{ tunnelId: 1, sessionId: 2 }, {
      tunnelId: 3,
      sessionId: 4,
      withLength: true,
      ns: 9,
      offsetSize: 4,
    }]
  ) {
    const pkt = new Uint8Array(dataHeaderLength(h) + 20);
    writeDataHeader(pkt, h, 20);
    out.push(pkt);
  }
  return out;
}

/**
 * A mutation of `base`: one to four rounds of bit flips, byte writes,
 * truncation, extension, a corrupted header Length or AVP Length, or a splice.
 */
export function mutate(base: Uint8Array, rnd: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(rnd() * n);
  let b = base.slice();
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    switch (pick(7)) {
      case 0: // bit flip
        if (b.length) b[pick(b.length)] ^= 1 << pick(8);
        break;
      case 1: // byte write
        if (b.length) b[pick(b.length)] = pick(256);
        break;
      case 2: // truncate
        b = b.subarray(0, pick(b.length + 1));
        break;
      case 3: { // extend with random octets
        const ext = new Uint8Array(b.length + 1 + pick(40));
        ext.set(b);
        for (let i = b.length; i < ext.length; i++) ext[i] = pick(256);
        b = ext;
        break;
      }
      case 4: // header Length field
        if (b.length >= 4) {
          b[2] = pick(256);
          b[3] = pick(256);
        }
        break;
      case 5: { // an AVP Length field (10 bits) somewhere past the header
        if (b.length > 14) {
          const at = 12 + pick(b.length - 13);
          b[at] = (b[at] & 0xfc) | pick(4);
          b[at + 1] = pick(256);
        }
        break;
      }
      default: { // splice two halves
        const cut = pick(b.length + 1);
        const tail = b.slice(pick(b.length + 1));
        const s = new Uint8Array(cut + tail.length);
        s.set(b.subarray(0, cut));
        s.set(tail, cut);
        b = s;
      }
    }
  }
  return b;
}

/**
 * Runs `cases` datagrams through every decoder; throws on the first decoder
 * exception, naming the seed and case so it replays.
 */
export function fuzzCodec(cases: number, seed: number): FuzzReport {
  const rnd = xorshift(seed);
  const seeds = corpus(seed);
  const report: FuzzReport = { cases, decodedOk: 0, rejected: 0, slowestMs: 0, elapsedMs: 0 };
  const start = performance.now();
  for (let i = 0; i < cases; i++) {
    let pkt: Uint8Array;
    if (rnd() < 0.2) {
      pkt = new Uint8Array(Math.floor(rnd() * 120));
      for (let j = 0; j < pkt.length; j++) pkt[j] = Math.floor(rnd() * 256);
      if (pkt.length > 1 && rnd() < 0.5) pkt[1] = 2; // get past the version check
    } else {
      pkt = mutate(seeds[Math.floor(rnd() * seeds.length)], rnd);
    }
    const t0 = performance.now();
    try {
      decodeHeader(pkt);
      const r = decodeControl(pkt, rnd() < 0.5 ? { secret: SECRET } : {});
      describePacket(pkt, { secret: SECRET });
      if (r.ok) report.decodedOk++;
      else report.rejected++;
    } catch (e) {
      const hex = Array.from(pkt, (x) => x.toString(16).padStart(2, "0")).join("");
      throw new Error(`decoder threw on case ${i} of seed ${seed}: ${hex}`, { cause: e });
    }
    report.slowestMs = Math.max(report.slowestMs, performance.now() - t0);
  }
  report.elapsedMs = performance.now() - start;
  return report;
}

// ---- the other targets ----

/** What one target did in a {@link fuzzAll} run. */
export interface TargetReport {
  cases: number;
  /** Inputs the decoder accepted, and those it refused with an error value. */
  accepted: number;
  rejected: number;
  slowestMs: number;
}

/** A decoder under fuzz: its seed inputs, and one case (which throws only on a bug). */
interface Target {
  seeds(seed: number): Uint8Array[];
  /** Feeds one input; returns whether the decoder accepted it. */
  run(input: Uint8Array, rnd: () => number): boolean | Promise<boolean>;
}

const utf8 = new TextEncoder();
const lenient = new TextDecoder();

/** PPP frames of whole links (server and client, PAP and CHAP), and the engine states they passed through. */
function pppLinks(): { frames: Uint8Array[]; states: EngineState[] } {
  const frames: Uint8Array[] = [];
  const states: EngineState[] = [];
  for (const auth of ["pap", "chap"] as const) {
    let server = createEngine({
      role: "server",
      auth,
      users: new LocalUsers([{ name: "alice", password: "pw" }]),
      localAddress: "192.0.2.1",
      pool: new IpPool({ first: 0x0a000001, last: 0x0a000004 }),
      dns: { primary: "192.0.2.53" },
      magic: () => 0x11111111,
      random: (n) => new Uint8Array(n).fill(7),
    });
    let client = createEngine({
      role: "client",
      name: "alice",
      password: "pw",
      magic: () => 0x22222222,
    });
    const wire: [0 | 1, Uint8Array][] = [];
    const feed = (side: 0 | 1, input: Parameters<typeof stepEngine>[1]) => {
      const r = stepEngine(side === 0 ? server : client, input);
      if (side === 0) server = r.state;
      else client = r.state;
      states.push(r.state);
      for (const e of r.effects) if (e.type === "send") wire.push([side === 0 ? 1 : 0, e.frame]);
    };
    feed(0, { type: "start", now: 0 });
    feed(1, { type: "start", now: 0 });
    while (wire.length > 0) {
      const [to, frame] = wire.shift()!;
      frames.push(frame);
      feed(to, { type: "frame", frame, now: 0 });
    }
  }
  return { frames, states };
}

let links: ReturnType<typeof pppLinks> | undefined;
const ppp = () => (links ??= pppLinks());

/** Seed policies: every key the schema knows, in block and flow style. */
const POLICIES = [
  `hostname: lts-a
listen: ["127.0.0.1:1701"]
api: { listen: "127.0.0.1:9701", token_file: /etc/lts/token }
limits: { max_tunnels: 2000, max_sessions: 100000, sccrq_per_second: 200 }
log: { level: debug, format: json }
max_hops: 3
realm: { suffix: ["@", "%"], prefix: ["/"] }
lacs:
  - { match: { hostname: "lac-*", address: ["10.0.0.0/8", "2001:db8::/32"] }, secret: s3cret, hello_interval: 30, hide_avps: true, max_sessions: 500 }
  - { match: { address: 192.0.2.0/24 }, deny: true }
upstreams:
  isp-a:
    strategy: weighted
    sessions_per_tunnel: 500
    secret: x
    members:
      - { address: "127.0.0.1:1801", priority: 1, weight: 3, max_sessions: 20000 }
      - { address: "[2001:db8::2]:1701", priority: 2, hostname: lts-b, hide_avps: true }
rules:
  - { name: isp-a, match: { domain: ["isp-a.example", "*.isp-a.example"], user: "a*" }, forward: isp-a }
  - { name: corp, match: { called_number: "^0800", calling_number: "^02", lac_hostname: "lac-n*", lac_address: 10.1.0.0/16 }, forward: isp-a }
  - { name: no, match: { domain: "*.blocked.example" }, reject: { result_code: 2, error_code: 0, message: "realm not served" } }
default: { reject: { result_code: 4 } }
`,
  "hostname: x\nlacs: [{ match: {} }]\nrules: []\n",
  "hostname: &h a\nlacs:\n  - match: { hostname: *h }\nrules:\n  - name: t\n    match: { domain: x.example }\n    terminate: {}\n",
];

const USERS = [
  'users:\n  - { name: alice, password: pw }\n  - { name: bob, password: "s e c" }\naccept_all: false\n',
  "accept_all: true\nusers: []\n",
];

/** Structural edits of YAML text, beyond what byte mutations reach. */
const YAML_TOKENS = [
  "{",
  "}",
  "[",
  "]",
  ": ",
  "- ",
  "\n",
  "  ",
  "&a ",
  "*a",
  "<<: *a\n",
  "!!binary ",
  "!!str ",
  "? ",
  "|\n",
  ">-\n",
  "'",
  '"',
  "#",
  "~",
  "null",
  "1e999",
  "-0",
  "0x1F",
  "2001:db8::/129",
  "999.1.1.1:99999",
  "*.",
  "^(a+)+$",
  "\u0000",
  "\ufeff",
  "---\n",
  "...\n",
  "%YAML 1.2\n",
];

function mutateText(base: Uint8Array, rnd: () => number): Uint8Array {
  if (rnd() < 0.5) return mutate(base, rnd);
  const lines = lenient.decode(base).split("\n");
  const pick = (n: number) => Math.floor(rnd() * n);
  for (let r = 1 + pick(3); r > 0; r--) {
    const at = pick(lines.length);
    switch (pick(5)) {
      case 0:
        lines.splice(at, 1);
        break;
      case 1:
        lines.splice(at, 0, lines[pick(lines.length)] ?? "");
        break;
      case 2:
        lines[at] = " ".repeat(pick(6)) + (lines[at] ?? "").trimStart();
        break;
      default: {
        const line = lines[at] ?? "";
        const cut = pick(line.length + 1);
        lines[at] = line.slice(0, cut) + YAML_TOKENS[pick(YAML_TOKENS.length)] +
          line.slice(cut + (rnd() < 0.5 ? 0 : pick(4)));
      }
    }
  }
  return utf8.encode(lines.join("\n"));
}

const SAMPLE_METRICS: MetricsView = {
  tunnels: [{ role: "lac", established: true, count: 2 }],
  sessions: [{ state: "switched", upstream: 'isp-"a"\\\n', count: 5 }],
  rejectsByResultCode: { "2": 1 },
  callsTotal: 6,
  callsSwitchedTotal: 5,
  failoversTotal: 0,
  controlRetransmitsTotal: 3,
  dataForwardedFrames: 100,
  dataForwardedBytes: 6400,
  dataDropped: { unknown_session: 1 },
  datagramsDropped: { malformed: 1 },
  mailboxDropsTotal: 0,
  tunnelAuthFailuresTotal: 0,
  limits: { max_tunnels: 1000, sccrq_per_second: Infinity },
  limitsReached: { max_tunnels: 0 },
  reloads: { ok: 1, failed: 0 },
  policyVersion: 2,
};

/** A switch that answers every API call at once, so that only the request handling is fuzzed. */
const FAKE_CONTROL: LtsControl = {
  status: () =>
    Promise.resolve({
      hostname: "lts-a",
      uptimeSeconds: 1,
      policyVersion: 1,
      draining: false,
      tunnels: { lac: 0, upstream: 0 },
      sessions: { placing: 0, switched: 0, terminating: 0, terminated: 0, closing: 0 },
      calls: { total: 0, switched: 0, rejected: 0, failed: 0, failovers: 0, terminated: 0 },
    }),
  tunnels: () => Promise.resolve([]),
  sessions: () => Promise.resolve([]),
  policy: () => ({
    version: 1,
    source: "lts.yaml",
    loadedAt: new Date(0).toISOString(),
    rules: 0,
    upstreams: [],
    reloads: { ok: 0, failed: 0 },
  }),
  metrics: () => Promise.resolve(SAMPLE_METRICS),
  reload: () => Promise.resolve({ ok: true, version: 2 }),
  drain: () => {},
  disconnect: (id) => Promise.resolve(id === 1),
};

const API_TOKEN = "fuzz-token";
const API_STATUSES = new Set([200, 202, 204, 400, 401, 404, 405, 413, 422]);
const METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "TRACE", "get", "X"];

/** An API request as bytes: `METHOD PATH\nHEADER: VALUE\n…\n\nBODY`, so byte mutations reach every part. */
const anyRequest = fc.record({
  method: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("GET", "POST", "DELETE") },
    fc.constantFrom(...METHODS),
  ),
  path: fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        "/status",
        "/tunnels",
        "/sessions",
        "/sessions?user=u1&state=switched",
        "/sessions?state=nope&state=x",
        "/policy",
        "/metrics",
        "/reload",
        "/drain",
        "/sessions/1",
        "/sessions/99999999999999999999",
        "/sessions/%2e%2e",
        "//status",
        "/status/",
      ),
    },
    fc.webPath(),
  ),
  query: fc.oneof(
    { weight: 3, arbitrary: fc.constant([] as [string, string][]) },
    fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), {
      maxLength: 3,
    }),
  ),
  authorization: fc.oneof(
    { weight: 4, arbitrary: fc.constant(`Bearer ${API_TOKEN}`) },
    fc.constantFrom("", `bearer  ${API_TOKEN} `, "Bearer", "Basic eA==", `Bearer ${API_TOKEN}x`),
  ),
  body: fc.oneof(fc.constant(""), fc.string({ maxLength: 64 }), fc.json()),
});

type ApiRequest = typeof anyRequest extends fc.Arbitrary<infer T> ? T : never;

function requestBytes(r: ApiRequest): Uint8Array {
  const q = r.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  const path = q === "" ? r.path : `${r.path}${r.path.includes("?") ? "&" : "?"}${q}`;
  return utf8.encode(`${r.method} ${path}\nauthorization: ${r.authorization}\n\n${r.body}`);
}

const api = apiHandler(FAKE_CONTROL, { token: API_TOKEN });

/** Turns (mutated) request bytes into a Request, or null when no Request can carry them. */
function toRequest(input: Uint8Array): Request | null {
  const text = lenient.decode(input);
  const [head, ...rest] = text.split("\n\n");
  const [first, ...headerLines] = head.split("\n");
  const [method, ...pathParts] = first.split(" ");
  const headers = new Headers();
  try {
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const body = rest.join("\n\n");
    const bodyless = ["GET", "HEAD"].includes(method.toUpperCase());
    return new Request(
      `http://127.0.0.1${pathParts.join(" ").startsWith("/") ? "" : "/"}${pathParts.join(" ")}`,
      {
        method,
        headers,
        body: bodyless || body === "" ? undefined : body,
      },
    );
  } catch {
    return null; // a method, header or URL no HTTP client could send
  }
}

const TARGETS: Record<string, Target> = {
  "ppp-frame": {
    seeds: () => ppp().frames,
    run(input) {
      const frame = decodeFrame(input);
      if (!frame.ok) return false;
      const packet = decodeControlPacket(frame.value.payload);
      decodePap(frame.value.payload);
      decodeChap(frame.value.payload);
      if (!packet.ok) return false;
      return decodeOptions(packet.value.data).ok;
    },
  },
  "ppp-engine": {
    seeds: () => ppp().frames,
    run(input, rnd) {
      const states = ppp().states;
      const state = states[Math.floor(rnd() * states.length)];
      const step = stepEngine(state, { type: "frame", frame: input, now: 1 });
      return step.effects.length > 0;
    },
  },
  "proxy-lcp": {
    seeds: () => [
      confreqOptions({ mru: 1500, magic: 0x01020304, auth: "chap" }),
      confreqOptions({ mru: 1400, magic: 7, auth: "pap" }),
      confreqOptions({ mru: 1500, magic: 9 }),
    ],
    run(input, rnd) {
      const other = confreqOptions({ mru: 1500, magic: 3, auth: rnd() < 0.5 ? "pap" : "chap" });
      const [lastSent, lastReceived] = rnd() < 0.5 ? [input, other] : [other, input];
      const engine = createEngine({
        role: "server",
        auth: ["chap", "pap"],
        users: new LocalUsers([], { acceptAll: true }),
        localAddress: "192.0.2.1",
        pool: { allocate: () => "192.0.2.2", release: () => {} },
        proxied: { lastSent, lastReceived, user: "alice" },
        magic: () => 5,
      });
      // Accepted: the proxy LCP was taken and LCP did not start over.
      return stepEngine(engine, { type: "start", now: 0 }).state.phase !== "establish";
    },
  },
  pcap: {
    seeds: (seed) => {
      const payloads = corpus(seed).slice(0, 6);
      const datagrams = payloads.map((payload, i) => ({
        src: i % 2 ? "192.0.2.1:1701" : "[2001:db8::1]:1701",
        dst: i % 2 ? "192.0.2.2:1701" : "[2001:db8::2]:1701",
        payload,
        timeUs: i * 1000,
      }));
      const v4 = datagrams.filter((_, i) => i % 2);
      return [
        writePcap(v4),
        writePcap(v4, { linkType: "raw" }),
        writePcapng(datagrams),
        writePcapng(datagrams.slice(0, 1), { linkType: "raw" }),
      ];
    },
    run: (input) => readCapture(input).ok,
  },
  "policy-yaml": {
    seeds: () => POLICIES.map((p) => utf8.encode(p)),
    run(input) {
      const r = parsePolicy(lenient.decode(input), "fuzz.yaml");
      if (r.ok) return true;
      for (const e of r.error) {
        if (!(e.line >= 1 && e.col >= 1)) throw new Error(`error without a position: ${e}`);
      }
      return false;
    },
  },
  "users-yaml": {
    seeds: () => USERS.map((u) => utf8.encode(u)),
    run: (input) => parseUsers(lenient.decode(input), "users.yaml").ok,
  },
  exposition: {
    seeds: () => [utf8.encode(renderMetrics(SAMPLE_METRICS))],
    run(input) {
      try {
        parseExposition(lenient.decode(input));
        return true;
      } catch (e) {
        if (e instanceof ExpositionError) return false;
        throw e;
      }
    },
  },
  api: {
    seeds: (seed) => fc.sample(anyRequest, { numRuns: 200, seed }).map(requestBytes),
    async run(input) {
      const request = toRequest(input);
      if (request === null) return false;
      const response = await api(request);
      const body = await response.text();
      if (!API_STATUSES.has(response.status)) {
        throw new Error(`status ${response.status} for ${request.method} ${request.url}: ${body}`);
      }
      const json = response.headers.get("content-type") === "application/json";
      if (json) JSON.parse(body);
      else if (response.status !== 204 && !request.url.includes("/metrics")) {
        throw new Error(`not JSON: ${request.method} ${request.url}`);
      }
      return response.status < 400;
    },
  },
};

/** Share of a {@link fuzzAll} run per target, by how much each decoder has to explore. */
const WEIGHTS: Record<string, number> = {
  l2tp: 40,
  "ppp-frame": 12,
  "ppp-engine": 12,
  "proxy-lcp": 4,
  pcap: 10,
  "policy-yaml": 8,
  "users-yaml": 3,
  exposition: 4,
  api: 7,
};

/** Names of the targets {@link fuzzTarget} knows (`l2tp` is {@link fuzzCodec}). */
export const TARGET_NAMES: readonly string[] = Object.keys(TARGETS);

/**
 * Runs `cases` inputs through one target; throws on the first exception (or
 * broken invariant), naming the target, seed and case so it replays.
 */
export async function fuzzTarget(name: string, cases: number, seed: number): Promise<TargetReport> {
  const target = TARGETS[name];
  if (target === undefined) throw new RangeError(`no fuzz target ${name}`);
  const rnd = xorshift(seed);
  const seeds = target.seeds(seed);
  const report: TargetReport = { cases, accepted: 0, rejected: 0, slowestMs: 0 };
  for (let i = 0; i < cases; i++) {
    let input: Uint8Array;
    if (rnd() < 0.1) {
      input = Uint8Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256));
    } else {
      const base = seeds[Math.floor(rnd() * seeds.length)];
      input = name.endsWith("-yaml") || name === "api" || name === "exposition"
        ? mutateText(base, rnd)
        : mutate(base, rnd);
    }
    const t0 = performance.now();
    try {
      if (await target.run(input, rnd)) report.accepted++;
      else report.rejected++;
    } catch (e) {
      const hex = Array.from(input, (x) => x.toString(16).padStart(2, "0")).join("");
      throw new Error(`${name} threw on case ${i} of seed ${seed}: ${hex}`, { cause: e });
    }
    report.slowestMs = Math.max(report.slowestMs, performance.now() - t0);
  }
  return report;
}

/** Runs `cases` inputs over every target, shared by {@link WEIGHTS}. */
export async function fuzzAll(
  cases: number,
  seed: number,
): Promise<
  { cases: number; crashes: number; elapsedMs: number; targets: Record<string, TargetReport> }
> {
  const start = performance.now();
  const total = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);
  const targets: Record<string, TargetReport> = {};
  let run = 0;
  for (const [name, weight] of Object.entries(WEIGHTS)) {
    const n = Math.round((cases * weight) / total);
    if (name === "l2tp") {
      const r = fuzzCodec(n, seed);
      targets[name] = {
        cases: n,
        accepted: r.decodedOk,
        rejected: r.rejected,
        slowestMs: r.slowestMs,
      };
    } else {
      targets[name] = await fuzzTarget(name, n, seed);
    }
    run += n;
  }
  return { cases: run, crashes: 0, elapsedMs: performance.now() - start, targets };
}

if (import.meta.main) {
  const cases = Number(Deno.args[0] ?? 1_000_000);
  const seed = Number(Deno.args[1] ?? Date.now() % 0x7fffffff);
  console.log(JSON.stringify({ seed, ...(await fuzzAll(cases, seed)) }));
}
