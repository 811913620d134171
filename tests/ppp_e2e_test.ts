/**
 * PPP end to end through real processes on loopback UDP: `lts lac
 * --client-initiated` (a PPP client per call, no proxy AVPs) → `lts run`
 * (authenticates the user over PPP, switches by domain with proxy LCP and
 * proxy authentication, or terminates the call itself) → `lts lns --ppp`
 * (accepts the proxy authentication and goes straight to IPCP).
 */
import assert from "node:assert/strict";
import {
  apiJson,
  freePort,
  type LacSummary,
  lacSummary,
  lastJson,
  spawnLts,
} from "./_processes.ts";
import type { SessionView } from "../actors/control.ts";

/** `lts lac --server 127.0.0.1:PORT --client-initiated ARGS…`, run to its end. */
async function clientLac(
  port: number,
  args: string[],
): Promise<{ code: number; summary: LacSummary; out: string }> {
  const { code, out } = await spawnLts([
    "lac",
    "--server",
    `127.0.0.1:${port}`,
    "--client-initiated",
    ...args,
  ]).end();
  return { code, summary: lacSummary(out), out };
}

/** What `lts lns --ppp` prints when it stops (the parts these tests read). */
interface LnsPppSummary {
  ppp_up: number;
  sessions: { proxyAuthenName: string; ppp: { user: string | null; proxied: boolean } }[];
}

Deno.test("client-initiated calls: lts authenticates over PPP, switches by domain, the LNS accepts the proxy authentication; a terminate rule brings IPCP up here", async () => {
  const dir = await Deno.makeTempDir();
  const ports = { lts: freePort("udp"), lns: freePort("udp"), api: freePort("tcp") };
  await Deno.writeTextFile(
    `${dir}/users.yaml`,
    'users:\n  - { name: "dave@local.example", password: "pw2" }\n',
  );
  await Deno.writeTextFile(
    `${dir}/lts.yaml`,
    `hostname: lts-t
listen: ["127.0.0.1:${ports.lts}"]
api: { listen: "127.0.0.1:${ports.api}" }
lacs: [{ match: {} }]
upstreams: { isp-a: { members: [{ address: "127.0.0.1:${ports.lns}" }] } }
terminate:
  local:
    users: [{ name: "carol@local.example", password: "wonderland" }]
    users_file: users.yaml
    pool: 10.77.0.10-10.77.0.20
    local_address: 10.77.0.1
rules:
  - { name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }
  - { name: local, match: { domain: "local.example" }, terminate: local }
`,
  );
  const lns = spawnLts([
    "lns",
    "--listen",
    `127.0.0.1:${ports.lns}`,
    "--ppp",
    "--accept-all",
    "--pool",
    "10.64.0.2-10.64.0.200",
  ]);
  const run = spawnLts(["run", "--config", `${dir}/lts.yaml`]);
  try {
    await lns.until(/listening/);
    await run.until(/listening on/);
    // Switched: 5 client-initiated calls of isp-a.example users.
    const a = await clientLac(ports.lts, ["--sessions", "5", "--duration", "1"]);
    assert.equal(a.code, 0, a.out);
    assert.equal(a.summary.sessions_up, 5);
    assert.equal(a.summary.ppp_up, 5, a.out);
    for (const address of a.summary.addresses) assert.match(address, /^10\.64\.0\.\d+$/);

    // Terminated here: one user listed inline (CHAP), one from the users file (PAP only).
    const carol = await clientLac(ports.lts, [
      "--user",
      "carol@local.example",
      "--password",
      "wonderland",
      "--duration",
      "2",
    ]);
    assert.equal(carol.code, 0, carol.out);
    assert.deepEqual(carol.summary.addresses, ["10.77.0.10"]);
    const dave = clientLac(ports.lts, [
      "--auth",
      "pap",
      "--user",
      "dave@local.example",
      "--password",
      "pw2",
      "--duration",
      "3",
    ]);
    // While dave's call is held, the API shows it terminated with its address.
    let seen: SessionView | undefined;
    for (let i = 0; i < 100 && seen === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const views = await apiJson<SessionView[]>(ports.api, "/sessions?state=terminated");
      seen = views.find((v) => v.user === "dave@local.example");
    }
    assert.ok(seen, "dave's call in GET /sessions?state=terminated");
    assert.equal(seen.terminate?.target, "local");
    assert.match(seen.terminate?.address ?? "", /^10\.77\.0\.\d+$/);
    const d = await dave;
    assert.equal(d.code, 0, d.out);
    assert.equal(d.summary.ppp_up, 1);

    // A wrong password: CHAP Failure, then the call is cleared with CDN result 2.
    const bad = await clientLac(ports.lts, [
      "--user",
      "carol@local.example",
      "--password",
      "guess",
      "--timeout",
      "10",
    ]);
    assert.equal(bad.code, 1);
    assert.equal(bad.summary.ppp_up, 0);
    assert.equal(bad.summary.ppp_failed, 1, bad.out);
    assert.equal(bad.summary.result_codes["2"], 1, bad.out);
  } finally {
    run.kill();
    lns.kill();
    await run.end();
    const { out } = await lns.end();
    await Deno.remove(dir, { recursive: true });
    // The LNS saw each switched call with the user lts learnt, and took its proxy authentication.
    const summary = lastJson<LnsPppSummary>(out);
    assert.equal(summary.ppp_up, 5, out);
    assert.equal(summary.sessions.length, 5);
    for (const s of summary.sessions) {
      assert.match(s.proxyAuthenName, /^user\d@isp-a\.example$/);
      assert.equal(s.ppp.proxied, true, JSON.stringify(s));
      assert.equal(s.ppp.user, s.proxyAuthenName);
    }
  }
});

Deno.test("an LNS that ignores the proxy AVPs and renegotiates LCP and authentication: the frames pass through lts and PPP comes up", async () => {
  const dir = await Deno.makeTempDir();
  const ports = { lts: freePort("udp"), lns: freePort("udp") };
  await Deno.writeTextFile(
    `${dir}/lts.yaml`,
    `hostname: lts-t
listen: ["127.0.0.1:${ports.lts}"]
lacs: [{ match: {} }]
upstreams: { isp-a: { members: [{ address: "127.0.0.1:${ports.lns}" }] } }
rules: [{ name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }]
`,
  );
  await Deno.writeTextFile(
    `${dir}/users.yaml`,
    'users:\n  - { name: "user1@isp-a.example", password: "secret" }\n  - { name: "user2@isp-a.example", password: "secret" }\n',
  );
  const lns = spawnLts([
    "lns",
    "--listen",
    `127.0.0.1:${ports.lns}`,
    "--ppp",
    "--users",
    `${dir}/users.yaml`,
    "--ignore-proxy",
  ]);
  const run = spawnLts(["run", "--config", `${dir}/lts.yaml`]);
  try {
    await lns.until(/listening/);
    await run.until(/listening on/);
    const a = await clientLac(ports.lts, ["--sessions", "2", "--duration", "1"]);
    assert.equal(a.code, 0, a.out);
    assert.equal(a.summary.ppp_up, 2, a.out);
  } finally {
    run.kill();
    lns.kill();
    await run.end();
    const { out } = await lns.end();
    await Deno.remove(dir, { recursive: true });
    const summary = lastJson<LnsPppSummary>(out);
    assert.equal(summary.ppp_up, 2, out);
    // The LNS authenticated each user itself, over a second LCP negotiation that crossed lts.
    for (const s of summary.sessions) {
      assert.equal(s.ppp.proxied, false);
      assert.equal(s.ppp.user, s.proxyAuthenName);
    }
  }
});
