/**
 * A running `lts run` operated as an operator would: the HTTP API, hot reload
 * by file change and SIGHUP, and a graceful SIGTERM as the LAC sees it.
 */
import assert from "node:assert/strict";
import { parseExposition } from "../api/metrics.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function freePort(transport: "udp" | "tcp"): number {
  if (transport === "udp") {
    const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (s.addr as Deno.NetAddr).port;
    s.close();
    return port;
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function spawn(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const c of s.pipeThrough(new TextDecoderStream())) out += c;
  };
  const done = Promise.all([pump(child.stdout), pump(child.stderr)]);
  return {
    child,
    output: () => out,
    async until(re: RegExp, ms = 20_000) {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${re}: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async end() {
      const status = await child.status;
      await done;
      return { code: status.code, out };
    },
  };
}

async function waitFor(check: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("lts run: API, reload by file change and SIGHUP, graceful SIGTERM seen from the LAC", async () => {
  const dir = await Deno.makeTempDir();
  const ports = { lts: freePort("udp"), lns: freePort("udp"), api: freePort("tcp") };
  const policy = (rule: string) =>
    `hostname: lts-a
listen: ["127.0.0.1:${ports.lts}"]
api: { listen: "127.0.0.1:${ports.api}" }
lacs: [{ match: {} }]
upstreams: { isp-a: { members: [{ address: "127.0.0.1:${ports.lns}" }] } }
rules: [${rule}]
`;
  const file = `${dir}/lts.yaml`;
  await Deno.writeTextFile(
    file,
    policy('{ name: v1, match: { domain: "isp-a.example" }, forward: isp-a }'),
  );
  const procs: ReturnType<typeof spawn>[] = [];
  const api = (path: string, init?: RequestInit) =>
    fetch(`http://127.0.0.1:${ports.api}${path}`, init);
  try {
    const lns = spawn(["lns", "--listen", `127.0.0.1:${ports.lns}`]);
    procs.push(lns);
    await lns.until(/listening/);
    const lts = spawn(["run", "--config", file]);
    procs.push(lts);
    await lts.until(/API on http/);

    const status = await (await api("/status")).json();
    assert.equal(status.hostname, "lts-a");
    assert.equal(status.policyVersion, 1);

    const lac = spawn([
      "lac",
      "--server",
      `127.0.0.1:${ports.lts}`,
      "--sessions",
      "5",
      "--duration",
      "30",
      "--data-pps",
      "50",
    ]);
    procs.push(lac);
    await waitFor(async () => (await (await api("/status")).json()).sessions.switched === 5);
    const sessions = await (await api("/sessions?state=switched")).json();
    assert.equal(sessions.length, 5);
    assert.ok(
      sessions.every((s: { rule: string; policyVersion: number }) =>
        s.rule === "v1" && s.policyVersion === 1
      ),
    );
    const metrics = parseExposition(await (await api("/metrics")).text());
    assert.ok(metrics.has("lts_calls_switched_total"));

    // An invalid file: 422 with positions, nothing changes.
    await Deno.writeTextFile(
      `${dir}/bad.yaml`,
      "hostname: x\nlacs: []\nrules: [{ name: r, forward: nowhere }]\n",
    );
    await Deno.rename(`${dir}/bad.yaml`, file); // editors save by rename
    const bad = await api("/reload", { method: "POST" });
    assert.equal(bad.status, 422);
    const errors = (await bad.json()).errors;
    assert.ok(errors.length > 0 && errors[0].line > 0);
    assert.equal((await (await api("/policy")).json()).version, 1);

    // A good file: the watcher picks it up (saved by rename again).
    await Deno.writeTextFile(
      `${dir}/new.yaml`,
      policy('{ name: v2, match: { domain: "isp-a.example" }, forward: isp-a }'),
    );
    await Deno.rename(`${dir}/new.yaml`, file);
    await waitFor(async () => (await (await api("/policy")).json()).version === 2);
    // SIGHUP reloads too.
    lts.child.kill("SIGHUP");
    await waitFor(async () => (await (await api("/policy")).json()).version === 3);
    // Switched calls kept the version they were decided by.
    const after = await (await api("/sessions")).json();
    assert.ok(after.every((s: { policyVersion: number }) => s.policyVersion === 1));

    // Graceful stop: the LAC's calls get CDN result 3, then its tunnel a StopCCN.
    lts.child.kill("SIGTERM");
    const ended = await lts.end();
    procs.splice(procs.indexOf(lts), 1);
    assert.equal(ended.code, 0, ended.out);
    const lacEnd = await lac.end();
    procs.splice(procs.indexOf(lac), 1);
    const summary = JSON.parse(lacEnd.out.trim().split("\n").at(-1)!);
    assert.deepEqual(summary.result_codes, { "3": 5 });
  } finally {
    for (const p of procs) {
      try {
        p.child.kill("SIGKILL");
      } catch { /* gone */ }
      await p.end();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
