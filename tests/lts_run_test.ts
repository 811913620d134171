/**
 * `lts run`, `lts check` and `lts explain` as an operator runs them: real
 * processes on loopback UDP, including a three-hop chain LAC → LTS → LTS → LNS.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function freePort(): number {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}

async function lts(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Starts a long-running lts command; resolves once it printed `ready` on stdout or stderr. */
async function start(args: string[], ready: RegExp) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const pump = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) add(chunk);
  };
  const done = Promise.all([
    pump(child.stdout, (s) => (stdout += s)),
    pump(child.stderr, (s) => (stderr += s)),
  ]);
  const until = Date.now() + 20_000;
  while (!ready.test(stdout + stderr)) {
    if (Date.now() > until) throw new Error(`not ready: ${stdout} ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await done;
      return { stdout, stderr };
    },
  };
}

Deno.test("lts check: ok exits 0; errors print file:line:col and exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/good.yaml`,
      `hostname: a\nlacs: [{ match: {} }]\nupstreams: { x: { members: [{ address: "127.0.0.1:1801" }] } }\nrules: [{ name: r, match: { domain: "x.example" }, forward: x }]\n`,
    );
    const good = await lts(["check", "--config", `${dir}/good.yaml`]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /ok — 1 rules, 1 upstreams/);
    await Deno.writeTextFile(
      `${dir}/bad.yaml`,
      `hostname: a\nlacs: [{ match: {} }]\nrules:\n  - { name: corp, match: { domain: "x.example" }, forward: isp-b }\nbogus: 1\n`,
    );
    const bad = await lts(["check", "--config", `${dir}/bad.yaml`]);
    assert.equal(bad.code, 1);
    const lines = bad.stderr.trim().split("\n");
    assert.ok(lines.length >= 2, bad.stderr);
    for (const l of lines) assert.match(l, /^.*bad\.yaml:\d+:\d+: /);
    assert.ok(lines.some((l) => /bad\.yaml:4:\d+: .*isp-b/.test(l)), bad.stderr);
    assert.ok(lines.some((l) => /bad\.yaml:5:1: .*bogus/.test(l)), bad.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lts explain prints the decision and why earlier rules missed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/p.yaml`,
      `hostname: a
lacs: [{ match: {} }]
upstreams:
  isp-a: { members: [{ address: "127.0.0.1:1801", priority: 2 }, { address: "127.0.0.1:1802", priority: 1 }] }
rules:
  - { name: by-number, match: { called_number: "^0900" }, reject: { result_code: 2, message: "premium" } }
  - { name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }
`,
    );
    const r = await lts([
      "explain",
      "--config",
      `${dir}/p.yaml`,
      "--user",
      "bob@isp-a.example",
      "--called",
      "0800",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    assert.equal(d.rule, "isp-a");
    assert.equal(d.action, "forward");
    assert.deepEqual(d.members, ["127.0.0.1:1802", "127.0.0.1:1801"]);
    assert.equal(d.missed[0].rule, "by-number");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("three processes: lts lac → lts run → lts lns switches calls with data; three hops through two switches", async () => {
  const dir = await Deno.makeTempDir();
  const ports = { lns: freePort(), a: freePort(), b: freePort() };
  const running: { stop(): Promise<{ stdout: string; stderr: string }> }[] = [];
  try {
    // Site B forwards isp-a to the LNS; site A forwards isp-a to site B (an LTS as an upstream member).
    await Deno.writeTextFile(
      `${dir}/b.yaml`,
      `hostname: lts-b
listen: ["127.0.0.1:${ports.b}"]
lacs: [{ match: { hostname: "lts-a" }, secret: "ab" }]
upstreams: { isp-a: { members: [{ address: "127.0.0.1:${ports.lns}", secret: "to-lns" }] } }
rules: [{ name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }]
`,
    );
    await Deno.writeTextFile(
      `${dir}/a.yaml`,
      `hostname: lts-a
listen: ["127.0.0.1:${ports.a}"]
lacs: [{ match: { hostname: "lts-lac" }, secret: "lac", hide_avps: true }]
upstreams: { site-b: { members: [{ address: "127.0.0.1:${ports.b}", secret: "ab" }] } }
rules: [{ name: isp-a, match: { domain: "isp-a.example" }, forward: site-b }]
`,
    );
    const lns = await start(
      ["lns", "--listen", `127.0.0.1:${ports.lns}`, "--secret", "to-lns"],
      /listening/,
    );
    running.push(lns);
    running.push(await start(["run", "--config", `${dir}/b.yaml`], /listening on/));
    running.push(await start(["run", "--config", `${dir}/a.yaml`], /listening on/));
    const lac = await lts([
      "lac",
      "--server",
      `127.0.0.1:${ports.a}`,
      "--secret",
      "lac",
      "--hide",
      "--tunnels",
      "2",
      "--sessions",
      "20",
      "--data-pps",
      "100",
      "--duration",
      "2",
    ]);
    assert.equal(lac.code, 0, lac.stdout + lac.stderr);
    const summary = JSON.parse(lac.stdout);
    assert.equal(summary.sessions_up, 20);
    assert.ok(
      summary.data_received >= summary.data_sent * 0.95 && summary.data_sent > 50,
      lac.stdout,
    );
    const out = await lns.stop();
    running.splice(running.indexOf(lns), 1);
    const lnsSummary = JSON.parse(out.stdout);
    assert.equal(lnsSummary.sessions.length, 20);
    // The LNS got each call from the last switch, with the LAC's user and numbers.
    for (const s of lnsSummary.sessions) {
      assert.equal(s.hostName, "lts-b");
      assert.match(s.proxyAuthenName, /^user\d+@isp-a\.example$/);
      assert.match(s.calledNumber, /^0800\d+$/);
    }
  } finally {
    for (const r of running) await r.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
