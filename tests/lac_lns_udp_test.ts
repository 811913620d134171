/**
 * Over real UDP on loopback: `lts lac` against `lts lns`, each a subprocess,
 * 4 tunnels and 100 calls with a tunnel secret and hidden AVPs (RFC 2661
 * §4.3, §5.1.1), LCP echo on every call, and a clean teardown; then a LAC
 * whose secret differs from the LNS's, which must get no tunnel at all.
 */
import assert from "node:assert/strict";
import type { LacSummary } from "../cli/lac.ts";
import type { LnsSummary } from "../cli/lns.ts";

const MAIN = new URL("../main.ts", import.meta.url).href;

/** A free UDP port on loopback (the LNS may still lose a race for it; `startLns` retries). */
function freeUdpPort(): number {
  const probe = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

interface Lns {
  port: number;
  child: Deno.ChildProcess;
  /** Everything the LNS writes to stdout, once it has exited. */
  stdout: Promise<string>;
  /** Everything it writes to stderr, once it has exited. */
  stderr: Promise<string>;
}

/** Starts `lts lns` on a free port and resolves once its stderr says it is listening. */
async function startLns(args: string[]): Promise<Lns> {
  for (let attempt = 1;; attempt++) {
    const port = freeUdpPort();
    const child = new Deno.Command(Deno.execPath(), {
      // --duration is a backstop should this test die before its finally blocks run.
      args: [
        "run",
        "-A",
        MAIN,
        "lns",
        "--listen",
        `127.0.0.1:${port}`,
        "--duration",
        "120",
        ...args,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = new Response(child.stdout).text();
    let listening!: (up: boolean) => void;
    const up = new Promise<boolean>((resolve) => (listening = resolve));
    const stderr = (async () => {
      let text = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        if (text.includes(`lts lns: listening on 127.0.0.1:${port}`)) listening(true);
      }
      listening(false);
      return text;
    })();
    if (await up) return { port, child, stdout, stderr };
    const status = await child.status;
    const context = `lts lns exited ${status.code}: ${await stderr}`;
    await stdout;
    if (attempt === 3) throw new Error(context);
  }
}

/** Sends SIGTERM (the LNS then closes its tunnels and prints its summary) and waits for it. */
async function stopLns(lns: Lns): Promise<{ code: number; summary: LnsSummary; stderr: string }> {
  lns.child.kill("SIGTERM");
  const { code } = await lns.child.status;
  const out = await lns.stdout;
  const stderr = await lns.stderr;
  return { code, summary: JSON.parse(out), stderr };
}

/** Kills the LNS if it is still running and releases its pipes; for finally blocks. */
async function killLns(lns: Lns): Promise<void> {
  try {
    lns.child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
  await lns.child.status;
  await Promise.all([lns.stdout, lns.stderr]);
}

/** Runs `lts lac` to completion; the child is killed if this test fails while it runs. */
async function runLac(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "lac", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const { code, stdout, stderr } = await child.output();
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    return {
      code,
      summary: JSON.parse(out) as LacSummary,
      context: `lts lac ${code}: ${out}${err}`,
    };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited, the usual case.
    }
  }
}

Deno.test("lts lac against lts lns over UDP: 4 tunnels, 100 calls, secret and hidden AVPs, LCP echo, clean teardown", async () => {
  const lns = await startLns(["--secret", "loopback-s3cret", "--hide"]);
  try {
    const lac = await runLac([
      ...["--server", `127.0.0.1:${lns.port}`, "--secret", "loopback-s3cret", "--hide"],
      ...["--tunnels", "4", "--sessions", "100", "--data-pps", "200", "--duration", "2"],
      ...["--timeout", "30"],
    ]);
    const { code, summary: got, stderr } = await stopLns(lns);
    const context = `${lac.context}\nlts lns ${code}: ${stderr}`;

    assert.equal(lac.code, 0, context);
    assert.equal(lac.summary.tunnels_up, 4, context);
    assert.equal(lac.summary.sessions_up, 100, context);
    assert.equal(lac.summary.sessions_failed, 0, context);
    // The LAC cleared every call itself: no CDN came from the LNS.
    assert.deepEqual(lac.summary.result_codes, {}, context);

    // LCP echo: every Echo-Request the LNS got, it answered. Loopback UDP may still drop a
    // datagram under load, and replies still in flight at teardown are not counted, so the
    // cross-process counts are bounded rather than equal.
    assert.ok(lac.summary.data_sent > 0, context);
    assert.equal(got.data_sent, got.data_received, context);
    assert.ok(got.data_received <= lac.summary.data_sent, context);
    assert.ok(got.data_received >= 0.95 * lac.summary.data_sent, context);
    assert.ok(lac.summary.data_received <= got.data_sent, context);
    assert.ok(lac.summary.data_received >= 0.95 * got.data_sent, context);

    assert.equal(code, 0, context);
    assert.equal(got.tunnels.length, 4, context);
    assert.ok(
      got.tunnels.every((t) => t.hostName === "lts-lac" && t.peer.startsWith("127.0.0.1:")),
    );
    const tunnelIds = new Set(got.tunnels.map((t) => t.tunnelId));
    assert.equal(tunnelIds.size, 4);

    // Each call arrived with its hidden AVPs revealed: call n as the LAC numbered it.
    assert.equal(got.sessions.length, 100, context);
    const byUser = new Map(got.sessions.map((s) => [s.proxyAuthenName, s]));
    assert.equal(byUser.size, 100, "every Proxy Authen Name is distinct");
    for (let n = 1; n <= 100; n++) {
      const s = byUser.get(`user${n}@isp-a.example`);
      assert.ok(s, `call ${n} missing`);
      assert.equal(s.calledNumber, `0800${n}`);
      assert.equal(s.callingNumber, `0201${n}`);
      assert.equal(s.hostName, "lts-lac");
      assert.ok(tunnelIds.has(s.tunnelId));
      // The LAC's CDN, Result Code 3 (administrative), cleared it (§4.4.2).
      assert.deepEqual(s.closed, { resultCode: 3, by: "peer" });
    }
    // Calls go round-robin over the tunnels, and Session IDs are unique within a tunnel.
    for (const id of tunnelIds) {
      const onTunnel = got.sessions.filter((s) => s.tunnelId === id);
      assert.equal(onTunnel.length, 25);
      assert.equal(new Set(onTunnel.map((s) => s.sessionId)).size, 25);
    }
  } finally {
    await killLns(lns);
  }
});

Deno.test("lts lac with a secret the lts lns does not share: no tunnel on either side, exit 1", async () => {
  const lns = await startLns(["--secret", "secret-A"]);
  try {
    const lac = await runLac([
      ...["--server", `127.0.0.1:${lns.port}`, "--secret", "secret-B", "--hide"],
      ...["--tunnels", "2", "--sessions", "4", "--duration", "0", "--timeout", "30"],
    ]);
    const { code, summary: got, stderr } = await stopLns(lns);
    const context = `${lac.context}\nlts lns ${code}: ${stderr}`;

    assert.equal(lac.code, 1, context);
    assert.equal(lac.summary.tunnels_up, 0, context);
    assert.equal(lac.summary.sessions_up, 0, context);
    // Each call its tunnel never placed counts as failed, and lac does not wait out --timeout.
    assert.equal(lac.summary.sessions_failed, 4, context);
    assert.equal(lac.summary.data_received, 0, context);
    assert.equal(code, 0, context);
    assert.deepEqual(got.tunnels, [], context);
    assert.deepEqual(got.sessions, [], context);
    assert.equal(got.data_received, 0, context);
  } finally {
    await killLns(lns);
  }
});
