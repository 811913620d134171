/**
 * l2tpns (Debian) as the switch, `lts lns` upstream: `lts lac
 * --client-initiated` → l2tpns + RADIUS → two `lts lns --ppp`, one
 * per `setforward` realm, each in network namespaces like
 * `l2tpns_test.ts`. l2tpns runs LCP and PAP with the client, asks RADIUS,
 * then opens a tunnel to the remote LNS and forwards the call.
 *
 * What it pins down (README, Interoperability, l2tpns): l2tpns challenges
 * the remote LNS and checks its SCCRP with the `setforward` secret, but
 * answers the LNS's challenge in SCCCN with its global `l2tp_secret`. So
 * - isp-a, `setforward … 1701 S` with `l2tp_secret S`: the tunnel comes up
 *   under strict RFC 2661 §5.1.1 authentication, the call reaches IPCP
 *   Opened with an address from the LNS's pool, and LCP echoes cross l2tpns
 *   to the LNS and back (counted at the LNS);
 * - isp-b, `setforward … 1702 T` with T ≠ S: the LNS refuses the SCCCN
 *   (StopCCN result 4, "wrong Challenge Response in SCCCN") and no call
 *   reaches it.
 * A burst of calls makes ICCNs wait for room in l2tpns's control window
 * (4): the LAC's client starts when the call is up on its side, which is
 * once its ICCN is on the wire, so l2tpns drops no Configure-Request that
 * overtook an ICCN ("ignoring ConfigReq in state Starting").
 */
import assert from "node:assert/strict";
import type { LnsSummary } from "../../cli/lns.ts";
import { failWithLogs, inNetns, readText, waitFor } from "./_capture.ts";
import { writeL2tpnsEtc } from "./_l2tpns.ts";
import { spawnIn, stopAll, switchTopology } from "./_netns.ts";

const NS = { lac: "lts-f-lac", sw: "lts-f-sw", lns: "lts-f-lns" };
const IP = { lac: "10.84.1.1", swLac: "10.84.1.2", swLns: "10.84.2.1", lns: "10.84.2.2" };
const SECRET = "lac-secret";
const OTHER_SECRET = "other-secret";
const RADIUS_SECRET = "radius-secret";
const PASSWORD = "user-pw";
const LNS_A_POOL = "10.103.0";
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const RADIUS = new URL("./radius_responder.ts", import.meta.url).pathname;

/** Runs `lts lac` for `realm` in the LAC's namespace and returns its JSON summary. */
async function ltsLac(realm: string, args: string[]): Promise<Record<string, unknown>> {
  const out = await inNetns(NS.lac, [
    ...[Deno.execPath(), "run", "-A", MAIN, "lac", "--server", `${IP.swLac}:1701`],
    ...["--hostname", "lac-north", "--secret", SECRET, "--user", `user{n}@${realm}`],
    ...["--password", PASSWORD, "--client-initiated", "--auth", "pap", ...args],
  ]).output();
  const stdout = new TextDecoder().decode(out.stdout);
  try {
    return JSON.parse(stdout);
  } catch {
    throw new Error(`lts lac: ${stdout}\n${new TextDecoder().decode(out.stderr)}`);
  }
}

Deno.test("l2tpns setforward → lts lns: its SCCCN answers with l2tp_secret, not the setforward secret", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lts-interop-l2tpns-forward-" });
  const children: Deno.ChildProcess[] = [];
  const lnsChildren: Deno.ChildProcess[] = [];
  const teardown = await switchTopology(NS, IP, "f");
  const logs = {
    lnsA: `${dir}/lns-a.log`,
    lnsB: `${dir}/lns-b.log`,
    l2tpns: `${dir}/l2tpns.log`,
  };
  const withLogs = failWithLogs(logs);
  try {
    await writeL2tpnsEtc({
      dir,
      secret: SECRET,
      bind: IP.swLac,
      bindRemoteLns: IP.swLns,
      radiusSecret: RADIUS_SECRET,
      authTypes: "pap",
      clusterInterface: "f-sw2",
      debug: 4, // it logs the Error String of the StopCCN it gets
      forwards: [
        { realm: "isp-a.example", address: IP.lns, port: 1701, secret: SECRET },
        { realm: "isp-b.example", address: IP.lns, port: 1702, secret: OTHER_SECRET },
      ],
    }, "10.101.0.0/24");
    for (
      const [port, secret, pool, log] of [
        [1701, SECRET, `${LNS_A_POOL}.2-${LNS_A_POOL}.250`, logs.lnsA],
        [1702, OTHER_SECRET, "10.104.0.2-10.104.0.250", logs.lnsB],
      ] as const
    ) {
      spawnIn(lnsChildren, NS.lns, [
        ...[Deno.execPath(), "run", "-A", MAIN, "lns", "--listen", `${IP.lns}:${port}`],
        ...["--secret", secret, "--ppp", "--accept-all", "--auth", "pap", "--pool", pool],
      ], { log });
    }
    spawnIn(children, NS.sw, [
      ...[Deno.execPath(), "run", "-A", "--config", CONFIG, RADIUS, "--secret", RADIUS_SECRET],
      ...["--password", PASSWORD, "--log", `${dir}/radius.log`],
    ], { log: `${dir}/radius.out` });
    spawnIn(children, NS.sw, ["l2tpns", "-c", "/etc/l2tpns/startup-config"], {
      log: logs.l2tpns,
      bind: [[`${dir}/etc`, "/etc/l2tpns"]],
    });
    await withLogs(waitFor(
      async () =>
        (await readText(logs.lnsA)).includes("listening") &&
        (await readText(logs.lnsB)).includes("listening") &&
        (await readText(logs.l2tpns)).includes("I am declaring myself the master"),
      30_000,
      "both lts lns and l2tpns as cluster master",
    ));

    const [a, b] = await withLogs(Promise.all([
      ltsLac("isp-a.example", ["--duration", "1", "--data-pps", "50", "--timeout", "15"]),
      ltsLac("isp-b.example", ["--duration", "0", "--timeout", "6"]),
    ]));
    await stopAll(lnsChildren, 10_000);
    const summaryOf = async (log: string) => {
      const line = (await readText(log)).split("\n").filter((l) => l.startsWith("{")).at(-1);
      assert.ok(line, `no summary in ${log}`);
      return JSON.parse(line) as LnsSummary;
    };
    const [lnsA, lnsB] = [await summaryOf(logs.lnsA), await summaryOf(logs.lnsB)];
    const l2tpnsLog = await readText(logs.l2tpns);
    // Assertion failures carry the logs.
    await withLogs(
      Promise.resolve().then(() => {
        // isp-a: through l2tpns to LNS A, IPCP with LNS A.
        assert.equal(a.ppp_up, 1, JSON.stringify(a));
        assert.ok((a.addresses as string[])[0]?.startsWith(`${LNS_A_POOL}.`), JSON.stringify(a));
        assert.equal(lnsA.ppp_up, 1, JSON.stringify(lnsA));
        assert.equal(lnsA.tunnels.length, 1, JSON.stringify(lnsA));
        const sent = a.data_sent as number;
        assert.ok(sent > 0 && a.data_received === sent, JSON.stringify(a));
        assert.ok(lnsA.echo_requests >= sent, JSON.stringify(lnsA));
        // isp-b: l2tpns's SCCCN was refused, so no tunnel and no call reached LNS B.
        assert.equal(b.ppp_up, 0, JSON.stringify(b));
        assert.equal(lnsB.tunnels.length, 0, JSON.stringify(lnsB));
        assert.equal(lnsB.sessions.length, 0, JSON.stringify(lnsB));
        assert.match(l2tpnsLog, /Error String: wrong Challenge Response in SCCCN/);
        assert.doesNotMatch(l2tpnsLog, /ignoring ConfigReq in state Starting/);
      }),
    );
  } finally {
    await stopAll(lnsChildren);
    await stopAll(children);
    await teardown();
    await Deno.remove(dir, { recursive: true });
  }
});
