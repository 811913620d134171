/**
 * Secrets stay secret: with tunnel secrets, hidden AVPs, PAP and CHAP proxy
 * authentication and an API token in use, and logging at debug level in JSON,
 * no secret, password or token appears in `lts run`'s log, in any API answer
 * or in `/metrics` — and a LAC with the wrong secret is logged with its
 * address. Real processes on loopback.
 */
import assert from "node:assert/strict";
import { freePort, lacSummary, spawnLts } from "./_processes.ts";

const LAC_SECRET = "lac-S3cr3t-x9";
const LNS_SECRET = "lns-S3cr3t-y8";
const PASSWORD = "pw-P4ssw0rd-q6";
const TOKEN = "api-T0ken-z7";

/** Every way a secret could be written: as text, hex, base64, or a JSON list of its octets. */
function forms(secret: string): string[] {
  const bytes = new TextEncoder().encode(secret);
  return [
    secret,
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""),
    btoa(secret),
    Array.from(bytes).join(","),
    Array.from(bytes).join(", "),
  ];
}

function assertNoSecrets(where: string, text: string): void {
  for (const secret of [LAC_SECRET, LNS_SECRET, PASSWORD, TOKEN]) {
    for (const form of forms(secret)) {
      assert.ok(!text.includes(form), `${where} shows ${secret} (as ${form})`);
    }
  }
}

Deno.test("no secret, password or token in the debug log, the API or /metrics; a failed LAC is logged with its address", async () => {
  const dir = await Deno.makeTempDir();
  const ports = { lts: freePort("udp"), lns: freePort("udp"), api: freePort("tcp") };
  const procs: ReturnType<typeof spawnLts>[] = [];
  try {
    await Deno.writeTextFile(`${dir}/token`, `${TOKEN}\n`);
    await Deno.writeTextFile(
      `${dir}/lts.yaml`,
      `hostname: lts-a
listen: ["127.0.0.1:${ports.lts}"]
api: { listen: "127.0.0.1:${ports.api}", token_file: "${dir}/token" }
lacs: [{ match: { hostname: "lts-lac" }, secret: "${LAC_SECRET}", hide_avps: true }]
upstreams: { isp-a: { members: [{ address: "127.0.0.1:${ports.lns}", secret: "${LNS_SECRET}", hide_avps: true }] } }
rules: [{ name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }]
`,
    );
    const lns = spawnLts([
      "lns",
      "--listen",
      `127.0.0.1:${ports.lns}`,
      "--secret",
      LNS_SECRET,
      "--hide",
    ]);
    procs.push(lns);
    await lns.until(/listening/);
    const lts = spawnLts([
      "run",
      "--config",
      `${dir}/lts.yaml`,
      "--log-level",
      "debug",
      "--log-format",
      "json",
    ]);
    procs.push(lts);
    await lts.until(/API on http/);
    const lac = (auth: string, secret: string, duration: number) =>
      spawnLts([
        "lac",
        "--server",
        `127.0.0.1:${ports.lts}`,
        "--secret",
        secret,
        "--hide",
        "--sessions",
        "2",
        "--proxy-auth",
        auth,
        "--password",
        PASSWORD,
        "--duration",
        String(duration),
        "--timeout",
        "10",
      ]);
    const pap = lac("pap", LAC_SECRET, 6);
    const chap = lac("chap", LAC_SECRET, 6);
    procs.push(pap, chap);
    const headers = { authorization: `Bearer ${TOKEN}` };
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${ports.api}${path}`, { headers });
      assert.equal(res.status, 200, path);
      return await res.text();
    };
    const until = Date.now() + 20_000;
    while (JSON.parse(await get("/status")).sessions.switched < 4) {
      assert.ok(Date.now() < until, "calls up");
      await new Promise((r) => setTimeout(r, 50));
    }
    const answers: Record<string, string> = {};
    for (const path of ["/status", "/tunnels", "/sessions", "/policy", "/metrics"]) {
      answers[path] = await get(path);
    }
    assert.match(answers["/sessions"], /u(ser)?\d+@isp-a\.example/, "calls are listed");
    for (const [path, text] of Object.entries(answers)) assertNoSecrets(`GET ${path}`, text);

    // A LAC with the wrong secret: refused, and the refusal is logged with its address.
    const wrong = lac("pap", "not-the-secret", 0);
    const wrongEnd = await wrong.end();
    assert.equal(lacSummary(wrongEnd.out).sessions_up, 0);
    for (const p of [pap, chap]) assert.equal((await p.end()).code, 0, p.output());

    lts.kill("SIGTERM");
    const { code, out } = await lts.end();
    procs.splice(procs.indexOf(lts), 1);
    assert.equal(code, 0);
    const records = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    assert.ok(records.some((r) => r.level === "DEBUG"), "debug records were written");
    assert.ok(
      records.some((r) =>
        /^WARN/.test(r.level) && /authentication failed/.test(r.message) &&
        /^127\.0\.0\.1:\d+$/.test(r.properties?.peer)
      ),
      "the failed LAC is logged with its address",
    );
    assertNoSecrets("the log", out);
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    for (const p of procs) await p.end();
    await Deno.remove(dir, { recursive: true });
  }
});
