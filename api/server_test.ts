import assert from "node:assert/strict";
import type {
  LtsControl,
  MetricsView,
  PolicyView,
  ReloadOutcome,
  SessionView,
  StatusView,
  TunnelView,
} from "../actors/control.ts";
import { SwitchBusyError } from "../actors/control.ts";
import { UsageError } from "../cli/command.ts";
import { statusCommand } from "../cli/status.ts";
import { EXPOSITION_CONTENT_TYPE, parseExposition } from "./metrics.ts";
import { type ApiOptions, type ApiServer, MAX_BODY_BYTES, startApi } from "./server.ts";

const STATUS: StatusView = {
  hostname: "lts-a",
  uptimeSeconds: 93784,
  policyVersion: 3,
  draining: false,
  tunnels: { lac: 1, upstream: 1 },
  sessions: { placing: 1, switched: 1, terminating: 0, terminated: 0, closing: 0 },
  calls: { total: 10, switched: 8, rejected: 1, failed: 1, failovers: 2, terminated: 0 },
};

const TUNNELS: TunnelView[] = [
  {
    tunnelId: 11,
    peerTunnelId: 501,
    peer: "192.0.2.1:1701",
    peerHostName: "lac-north-1",
    role: "lac",
    established: true,
    sessions: 2,
  },
  {
    tunnelId: 12,
    peerTunnelId: null,
    peer: "198.51.100.7:1701",
    peerHostName: null,
    role: "upstream",
    established: false,
    sessions: 0,
    upstream: "isp-a",
    member: "198.51.100.7:1701",
    draining: false,
  },
];

function leg(tunnelId: number, sessionId: number, peer: string) {
  return {
    tunnelId,
    sessionId,
    peer,
    peerHostName: null,
    rxFrames: 40,
    txFrames: 41,
    rxBytes: 4000,
    txBytes: 4100,
  };
}

const SESSIONS: SessionView[] = [
  {
    id: 1,
    state: "switched",
    user: "alice@isp-a.example",
    calledNumber: "0800123",
    callingNumber: null,
    rule: "isp-a",
    upstream: "isp-a",
    member: "198.51.100.7:1701",
    policyVersion: 3,
    ageMs: 3_723_000,
    incoming: leg(11, 21, "192.0.2.1:1701"),
    outgoing: leg(12, 22, "198.51.100.7:1701"),
  },
  {
    id: 2,
    state: "placing",
    user: "evil\x1b[31m@isp-b.example",
    calledNumber: null,
    callingNumber: null,
    rule: null,
    upstream: null,
    member: null,
    policyVersion: 3,
    ageMs: 500,
    incoming: leg(11, 23, "192.0.2.1:1701"),
    outgoing: null,
  },
];

const POLICY: PolicyView = {
  version: 3,
  source: "lts.yaml",
  loadedAt: "2024-01-02T03:04:05.000Z",
  rules: 4,
  upstreams: ["isp-a", "isp-b"],
  reloads: { ok: 2, failed: 1 },
};

const METRICS: MetricsView = {
  tunnels: [{ role: "lac", established: true, count: 1 }],
  sessions: [{ state: "switched", upstream: 'isp-"a"', count: 1 }],
  rejectsByResultCode: { "2": 1 },
  callsTotal: 10,
  callsSwitchedTotal: 8,
  failoversTotal: 2,
  controlRetransmitsTotal: 5,
  dataForwardedFrames: 80,
  dataForwardedBytes: 8000,
  dataDropped: { before_switch: 1 },
  datagramsDropped: {},
  mailboxDropsTotal: 0,
  tunnelAuthFailuresTotal: 0,
  limits: { max_tunnels: 1000 },
  limitsReached: { max_tunnels: 0 },
  reloads: { ok: 2, failed: 1 },
  policyVersion: 3,
};

/** A scripted {@link LtsControl} that records what it was asked. */
class FakeControl implements LtsControl {
  calls: string[] = [];
  filters: ({ user?: string; upstream?: string; state?: string } | undefined)[] = [];
  disconnected: number[] = [];
  reloadOutcome: ReloadOutcome = { ok: true, version: 4 };
  failing = new Set<string>();
  /** Held open by a test to keep a request in flight. */
  statusGate: Promise<void> = Promise.resolve();

  /** Calls that answer as a switch whose mailbox is full. */
  busy = new Set<string>();

  #call(name: string): void {
    this.calls.push(name);
    if (this.failing.has(name)) throw new Error(`${name} exploded`);
    if (this.busy.has(name)) throw new SwitchBusyError();
  }
  async status(): Promise<StatusView> {
    this.#call("status");
    await this.statusGate;
    return STATUS;
  }
  tunnels(): Promise<TunnelView[]> {
    this.#call("tunnels");
    return Promise.resolve(TUNNELS);
  }
  sessions(filter?: { user?: string; upstream?: string; state?: string }): Promise<SessionView[]> {
    this.#call("sessions");
    this.filters.push(filter);
    return Promise.resolve(SESSIONS);
  }
  policy(): PolicyView {
    this.#call("policy");
    return POLICY;
  }
  metrics(): Promise<MetricsView> {
    return Promise.resolve().then(() => {
      this.#call("metrics");
      return METRICS;
    });
  }
  reload(): Promise<ReloadOutcome> {
    this.#call("reload");
    return Promise.resolve(this.reloadOutcome);
  }
  drain(): void {
    this.#call("drain");
  }
  disconnect(id: number): Promise<boolean> {
    this.#call("disconnect");
    this.disconnected.push(id);
    return Promise.resolve(id === 1);
  }
}

/** Runs `fn` against a server on a free loopback port, and always shuts it down. */
async function withApi(
  fn: (api: { url: string; control: FakeControl; server: ApiServer }) => Promise<void>,
  options: ApiOptions = {},
): Promise<void> {
  const control = new FakeControl();
  const server = startApi(control, { listen: { hostname: "127.0.0.1", port: 0 }, ...options });
  try {
    await fn({ url: `http://127.0.0.1:${server.addr.port}`, control, server });
  } finally {
    await server.shutdown();
  }
}

/** A request whose body is always read, so that no response stream is left open. */
async function call(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; text: string; body: unknown }> {
  const res = await fetch(url, init);
  const text = await res.text();
  const json = res.headers.get("content-type") === "application/json";
  return { status: res.status, headers: res.headers, text, body: json ? JSON.parse(text) : text };
}

/**
 * Writes `raw` on a fresh TCP connection and returns the response: its head and as many body
 * bytes as its Content-Length says (the server may keep the connection open, e.g. after a 413
 * it answered before the body came).
 */
async function rawHttp(port: number, raw: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const bytes = new TextEncoder().encode(raw);
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    let text = "";
    const decoder = new TextDecoder();
    const buf = new Uint8Array(65536);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      text += decoder.decode(buf.subarray(0, n), { stream: true });
      const end = text.indexOf("\r\n\r\n");
      const length = /^content-length: *(\d+)/im.exec(text.slice(0, end));
      if (end >= 0 && length !== null && text.length >= end + 4 + Number(length[1])) break;
    }
    return text;
  } finally {
    conn.close();
  }
}

Deno.test("GET /status, /tunnels, /policy answer the control's views as JSON", async () => {
  await withApi(async ({ url }) => {
    for (
      const [path, expected] of [["/status", STATUS], ["/tunnels", TUNNELS], [
        "/policy",
        POLICY,
      ]] as const
    ) {
      const r = await call(url + path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.deepEqual(r.body, expected);
    }
  });
});

Deno.test("GET /sessions passes the filter through", async () => {
  await withApi(async ({ url, control }) => {
    const all = await call(`${url}/sessions`);
    assert.equal(all.status, 200);
    assert.deepEqual(all.body, SESSIONS);
    const some = await call(
      `${url}/sessions?user=alice%40isp-a.example&upstream=isp-a&state=switched`,
    );
    assert.equal(some.status, 200);
    assert.deepEqual(control.filters, [
      {},
      { user: "alice@isp-a.example", upstream: "isp-a", state: "switched" },
    ]);
  });
});

Deno.test("GET /sessions rejects bad queries with 400 and never asks the control", async () => {
  await withApi(async ({ url, control }) => {
    for (
      const [query, says] of [
        ["state=up", "state must be one of placing, switched, terminating, terminated, closing"],
        ["state=", "empty"],
        ["user=", "empty"],
        ["usr=alice", 'unknown query parameter "usr"'],
        ["user=a&user=b", "more than once"],
        ["state=placing&limit=5", 'unknown query parameter "limit"'],
      ]
    ) {
      const r = await call(`${url}/sessions?${query}`);
      assert.equal(r.status, 400, query);
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.match((r.body as { error: string }).error, new RegExp(RegExp.escape(says)), query);
    }
    assert.deepEqual(control.calls, []);
  });
});

Deno.test("query parameters on other routes are 400, not ignored", async () => {
  await withApi(async ({ url }) => {
    assert.equal((await call(`${url}/status?verbose=1`)).status, 400);
    assert.equal((await call(`${url}/metrics?x`)).status, 400);
    assert.equal((await call(`${url}/drain?now=1`, { method: "POST" })).status, 400);
  });
});

Deno.test("GET /metrics is valid Prometheus text with the control's values", async () => {
  await withApi(async ({ url }) => {
    const r = await call(`${url}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), EXPOSITION_CONTENT_TYPE);
    const families = parseExposition(r.text);
    assert.equal(families.get("lts_calls_total")!.samples[0].value, 10);
    assert.equal(families.get("lts_policy_version")!.samples[0].value, 3);
    assert.deepEqual(families.get("lts_sessions")!.samples[0].labels, {
      state: "switched",
      upstream: 'isp-"a"',
    });
    assert.ok(r.text.includes('upstream="isp-\\"a\\""'));
  });
});

Deno.test("POST /reload: 200 with the version, 422 with the policy errors", async () => {
  await withApi(async ({ url, control }) => {
    const ok = await call(`${url}/reload`, { method: "POST" });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { version: 4 });
    control.reloadOutcome = { ok: true, version: 4, unchanged: true };
    assert.deepEqual((await call(`${url}/reload`, { method: "POST" })).body, {
      version: 4,
      unchanged: true,
    });
    const errors = [{ file: "lts.yaml", line: 7, col: 3, message: 'unknown key "rulez"' }];
    control.reloadOutcome = { ok: false, errors };
    const bad = await call(`${url}/reload`, { method: "POST", body: "{}" });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.body, { errors });
    assert.deepEqual(control.calls, ["reload", "reload", "reload"]);
  });
});

Deno.test("POST /drain answers 202 and drains", async () => {
  await withApi(async ({ url, control }) => {
    const r = await call(`${url}/drain`, { method: "POST" });
    assert.equal(r.status, 202);
    assert.deepEqual(r.body, { draining: true });
    assert.deepEqual(control.calls, ["drain"]);
  });
});

Deno.test("DELETE /sessions/{id}: 204, 404 for no such call, 400 for a bad id", async () => {
  await withApi(async ({ url, control }) => {
    const done = await call(`${url}/sessions/1`, { method: "DELETE" });
    assert.equal(done.status, 204);
    assert.equal(done.text, "");
    const missing = await call(`${url}/sessions/42`, { method: "DELETE" });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: "no call 42" });
    assert.deepEqual(control.disconnected, [1, 42]);
    for (const id of ["0", "-1", "1.5", "abc", "01", "1e3", "", "99999999999999999999", "%201"]) {
      const r = await call(`${url}/sessions/${id}`, { method: "DELETE" });
      assert.equal(r.status, 400, `id "${id}"`);
      assert.match((r.body as { error: string }).error, /positive integer/);
    }
    assert.deepEqual(control.disconnected, [1, 42]);
  });
});

Deno.test("a wrong method on a known path is 405 with Allow", async () => {
  await withApi(async ({ url, control }) => {
    for (
      const [method, path, allow] of [
        ["POST", "/status", "GET"],
        ["DELETE", "/tunnels", "GET"],
        ["PUT", "/sessions", "GET"],
        ["POST", "/policy", "GET"],
        ["POST", "/metrics", "GET"],
        ["GET", "/reload", "POST"],
        ["DELETE", "/drain", "POST"],
        ["GET", "/sessions/1", "DELETE"],
        ["PATCH", "/sessions/1", "DELETE"],
      ]
    ) {
      const r = await call(url + path, { method });
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get("allow"), allow, `${method} ${path}`);
      assert.match((r.body as { error: string }).error, /not allowed/);
    }
    assert.deepEqual(control.calls, []);
  });
});

Deno.test("an unknown path is 404 JSON", async () => {
  await withApi(async ({ url }) => {
    for (const path of ["/", "/statuses", "/status/", "/sessions/1/legs", "/x".repeat(500)]) {
      const r = await call(url + path);
      assert.equal(r.status, 404, path);
      assert.ok((r.body as { error: string }).error.length < 100);
    }
  });
});

Deno.test("a body on GET is ignored", async () => {
  await withApi(async ({ server }) => {
    const body = '{"ignored":true}';
    const response = await rawHttp(
      server.addr.port,
      `GET /status HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );
    assert.match(response, /^HTTP\/1\.1 200 /);
    assert.ok(response.includes('"hostname":"lts-a"'));
  });
});

Deno.test("POST bodies up to 64 KiB are read and dropped; larger ones are 413", async () => {
  await withApi(async ({ url, server, control }) => {
    const limit = new Uint8Array(MAX_BODY_BYTES);
    assert.equal((await call(`${url}/drain`, { method: "POST", body: limit })).status, 202);
    const over = new Uint8Array(MAX_BODY_BYTES + 1);
    const r = await call(`${url}/reload`, { method: "POST", body: over });
    assert.equal(r.status, 413);
    assert.match((r.body as { error: string }).error, /over 65536 bytes/);
    // Chunked, so that only counting the bytes can tell.
    const stream = ReadableStream.from([new Uint8Array(40_000), new Uint8Array(40_000)]);
    const chunked = await call(`${url}/reload`, { method: "POST", body: stream });
    assert.equal(chunked.status, 413);
    // A Content-Length over the limit is refused before any body arrives.
    const declared = await rawHttp(
      server.addr.port,
      "POST /reload HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000000\r\nconnection: close\r\n\r\n",
    );
    assert.match(declared, /^HTTP\/1\.1 413 /);
    assert.deepEqual(control.calls, ["drain"]);
  });
});

Deno.test("a garbled request gets an HTTP error, and the server keeps serving", async () => {
  await withApi(async ({ url, server }) => {
    const garbage = await rawHttp(server.addr.port, "\x00\x01 nonsense\r\n\r\n");
    assert.ok(garbage === "" || /^HTTP\/1\.1 4\d\d /.test(garbage), garbage);
    assert.equal((await call(`${url}/status`)).status, 200);
  });
});

Deno.test("a throwing control is a logged 500 JSON, and the server keeps serving", async () => {
  await withApi(async ({ url, control }) => {
    control.failing = new Set(["status", "policy", "metrics", "drain", "disconnect"]);
    for (
      const [method, path] of [
        ["GET", "/status"],
        ["GET", "/policy"],
        ["GET", "/metrics"],
        ["POST", "/drain"],
        ["DELETE", "/sessions/1"],
      ]
    ) {
      const r = await call(url + path, { method });
      assert.equal(r.status, 500, path);
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.match((r.body as { error: string }).error, /internal error/);
      assert.ok(!r.text.includes("exploded"), "the error's text stays in the log");
    }
    assert.equal((await call(`${url}/tunnels`)).status, 200);
  });
});

Deno.test("a switch too busy to answer (its mailbox full) is a 503 with Retry-After, not a 500", async () => {
  await withApi(async ({ url, control }) => {
    control.busy = new Set(["status", "metrics"]);
    for (const path of ["/status", "/metrics"]) {
      const r = await call(url + path);
      assert.equal(r.status, 503, path);
      assert.equal(r.headers.get("retry-after"), "1");
      assert.match((r.body as { error: string }).error, /busy/);
    }
    assert.equal((await call(`${url}/tunnels`)).status, 200);
  });
});

Deno.test("with a token every route but GET /metrics needs Authorization: Bearer", async () => {
  await withApi(async ({ url, control }) => {
    for (
      const authorization of [
        undefined,
        "Bearer wrong",
        "Bearer s3cret-but-longer",
        "Bearer s3cre",
        "Basic czNjcmV0",
        "Bearer",
        "s3cret",
      ]
    ) {
      for (
        const [method, path] of [
          ["GET", "/status"],
          ["GET", "/tunnels"],
          ["GET", "/sessions"],
          ["GET", "/policy"],
          ["POST", "/reload"],
          ["POST", "/drain"],
          ["DELETE", "/sessions/1"],
          ["POST", "/metrics"],
          ["GET", "/nope"],
        ]
      ) {
        const headers: Record<string, string> = authorization === undefined
          ? {}
          : { authorization };
        const r = await call(url + path, { method, headers });
        assert.equal(r.status, 401, `${authorization} ${path}`);
        assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer\b/);
        assert.equal(r.headers.get("content-type"), "application/json");
      }
    }
    const posted = await call(`${url}/drain`, { method: "POST", body: "x" });
    assert.equal(posted.status, 401);
    assert.deepEqual(control.calls, []);
    const ok = await call(`${url}/status`, { headers: { authorization: "Bearer s3cret" } });
    assert.equal(ok.status, 200);
    const caseless = await call(`${url}/tunnels`, { headers: { authorization: "bearer s3cret" } });
    assert.equal(caseless.status, 200);
    const unknown = await call(`${url}/nope`, { headers: { authorization: "Bearer s3cret" } });
    assert.equal(unknown.status, 404);
    // A scrape needs no token; a wrong one does not matter there either.
    assert.equal((await call(`${url}/metrics`)).status, 200);
    const scraped = await call(`${url}/metrics`, { headers: { authorization: "Bearer wrong" } });
    assert.equal(scraped.status, 200);
    assert.deepEqual(control.calls, ["status", "tunnels", "metrics", "metrics"]);
  }, { token: "s3cret" });
});

Deno.test("metricsNeedToken puts GET /metrics behind the token too", async () => {
  await withApi(async ({ url }) => {
    assert.equal((await call(`${url}/metrics`)).status, 401);
    const wrong = await call(`${url}/metrics`, { headers: { authorization: "Bearer s3creT" } });
    assert.equal(wrong.status, 401);
    const ok = await call(`${url}/metrics`, { headers: { authorization: "Bearer s3cret" } });
    assert.equal(ok.status, 200);
  }, { token: "s3cret", metricsNeedToken: true });
});

Deno.test("requests run concurrently: one slow call does not hold the others", async () => {
  await withApi(async ({ url, control }) => {
    let open!: () => void;
    control.statusGate = new Promise((resolve) => open = resolve);
    const slow = call(`${url}/status`);
    const others = await Promise.all([
      ...Array.from({ length: 8 }, () => call(`${url}/tunnels`)),
      ...Array.from({ length: 8 }, (_, i) => call(`${url}/sessions?state=switched&user=u${i}`)),
      call(`${url}/metrics`),
      call(`${url}/policy`),
    ]);
    assert.ok(others.every((r) => r.status === 200));
    assert.equal(control.filters.length, 8);
    open();
    assert.deepEqual((await slow).body, STATUS);
  });
});

Deno.test("shutdown waits for requests in flight, then refuses connections", async () => {
  const control = new FakeControl();
  let listened: Deno.NetAddr | undefined;
  const server = startApi(control, { listen: { port: 0 }, onListen: (a) => listened = a });
  assert.equal(server.addr.hostname, "127.0.0.1");
  assert.notEqual(server.addr.port, 0);
  assert.deepEqual(listened, server.addr);
  let open!: () => void;
  control.statusGate = new Promise((resolve) => open = resolve);
  const inFlight = call(`http://127.0.0.1:${server.addr.port}/status`);
  while (control.calls.length === 0) await new Promise((r) => setTimeout(r, 1));
  const stopped = server.shutdown();
  assert.equal(server.shutdown(), stopped, "shutdown is idempotent");
  open();
  assert.equal((await inFlight).status, 200);
  await stopped;
  await assert.rejects(
    () => Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("startApi throws when the address is taken", async () => {
  await withApi(({ server }) => {
    assert.throws(
      () => startApi(new FakeControl(), { listen: { port: server.addr.port } }),
      Deno.errors.AddrInUse,
    );
    return Promise.resolve();
  });
});

/** Runs `lts status` with `args`, capturing its output. */
async function status(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await statusCommand.run(args, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out, err };
}

Deno.test("lts status prints tables of tunnels and calls", async () => {
  await withApi(async ({ server }) => {
    const r = await status(["--api", `127.0.0.1:${server.addr.port}`]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.deepEqual(r.err, []);
    const text = r.out.join("\n");
    assert.match(text, /^lts-a: up 1d 02:03:04, policy version 3, accepting calls$/m);
    assert.match(
      text,
      /calls since start: 10, 8 switched, 0 terminated here, 1 rejected, 1 failed, 2 failovers/,
    );
    assert.match(text, /^TUNNEL +PEER TUNNEL +ROLE +PEER +HOST NAME +STATE +CALLS +UPSTREAM$/m);
    assert.match(text, /^11 +501 +lac +192\.0\.2\.1:1701 +lac-north-1 +established +2 +-$/m);
    assert.match(text, /^12 +- +upstream .* establishing +0 +isp-a 198\.51\.100\.7:1701$/m);
    assert.match(
      text,
      /^1 +switched +alice@isp-a\.example +isp-a +isp-a .* 01:02:03 +11\/21 +12\/22/m,
    );
    assert.match(text, /^2 +placing +evil\?\[31m@isp-b\.example +- +- +- +00:00:00 +11\/23 +-/m);
    assert.ok(!text.includes("\x1b"), "control characters from the wire do not reach the terminal");
  });
});

Deno.test("lts status --json prints the three views as one JSON line", async () => {
  await withApi(async ({ server }) => {
    const r = await status(["--api", `127.0.0.1:${server.addr.port}`, "--json"]);
    assert.equal(r.code, 0);
    assert.equal(r.out.length, 1);
    assert.deepEqual(JSON.parse(r.out[0]), {
      status: STATUS,
      tunnels: TUNNELS,
      sessions: SESSIONS,
    });
  });
});

Deno.test("lts status sends the token from --token-file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/token`, "s3cret\n");
    await Deno.writeTextFile(`${dir}/wrong`, "nope\n");
    await Deno.writeTextFile(`${dir}/empty`, "\n");
    await withApi(async ({ server }) => {
      const api = `127.0.0.1:${server.addr.port}`;
      const ok = await status(["--api", api, "--token-file", `${dir}/token`, "--json"]);
      assert.equal(ok.code, 0, ok.err.join("\n"));
      const without = await status(["--api", api]);
      assert.equal(without.code, 1);
      assert.match(without.err[0], /wants a bearer token; give --token-file/);
      const wrong = await status(["--api", api, "--token-file", `${dir}/wrong`]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.err[0], /the one given is wrong/);
      const empty = await status(["--api", api, "--token-file", `${dir}/empty`]);
      assert.equal(empty.code, 1);
      assert.match(empty.err[0], /is empty/);
      const missing = await status(["--api", api, "--token-file", `${dir}/absent`]);
      assert.equal(missing.code, 1);
      assert.match(missing.err[0], /cannot read --token-file/);
    }, { token: "s3cret" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lts status exits 1 with a clear message when the API is unreachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const r = await status(["--api", `127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  assert.deepEqual(r.out, []);
  assert.equal(r.err.length, 1);
  assert.match(
    r.err[0],
    new RegExp(`^lts status: cannot reach the API at http://127\\.0\\.0\\.1:${port}`),
  );
});

Deno.test("lts status reports an API error answer and exits 1", async () => {
  await withApi(async ({ server, control }) => {
    control.failing.add("tunnels");
    const r = await status(["--api", `127.0.0.1:${server.addr.port}`]);
    assert.equal(r.code, 1);
    assert.match(r.err[0], /GET http:\/\/127\.0\.0\.1:\d+\/tunnels: HTTP 500 internal error/);
  });
});

Deno.test("lts status rejects a bad --api as a usage error", async () => {
  await assert.rejects(() => status(["--api", "localhost"]), UsageError);
  await assert.rejects(() => status(["--bogus"]), UsageError);
});
