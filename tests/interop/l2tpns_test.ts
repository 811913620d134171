/**
 * Interop topology 2: `lts lac` → lts → l2tpns (Debian), each in its own
 * network namespace on port 1701. l2tpns authenticates PPP users only over
 * RADIUS, so `radius_responder.ts` runs beside it and accepts everyone; it
 * assigns addresses from its own pool (`/etc/l2tpns/ip_pool`, which it
 * always reads from there: a private mount namespace puts the test's folder
 * over `/etc/l2tpns` for l2tpns alone). l2tpns serves tunnels only once it
 * has elected itself cluster master, a few seconds after it starts.
 *
 * 1. NAS-initiated: `lts lac` places calls with proxy LCP and proxy
 *    authentication AVPs; lts switches them by realm to l2tpns. Tunnels and
 *    calls come up on both legs. l2tpns ignores the proxy AVPs and starts
 *    LCP afresh (its Configure-Request crosses lts unchanged); the test LAC
 *    does not answer it, so no RADIUS request is made.
 * 2. Client-initiated: `lts lac --client-initiated` runs a real PPP client.
 *    lts authenticates it (LCP, PAP) to learn the realm, then switches it
 *    with proxy AVPs; l2tpns ignores those and renegotiates LCP and PAP with
 *    the client through lts, asks RADIUS, and IPCP opens with an address
 *    from l2tpns's pool. Once with PAP, once with CHAP (RFC 1994), which
 *    l2tpns prefers: its RADIUS request then carries CHAP-Password and
 *    CHAP-Challenge, checked by the responder.
 *
 * Both exchanges are captured in the switch's namespace and checked: tshark
 * finds nothing malformed and no expert warning, and `lts decode` agrees.
 */
import assert from "node:assert/strict";
import type { PacketDescription } from "../../transport/describe.ts";
import { decodeHeader } from "../../transport/header.ts";
import type { UdpDatagram } from "../../transport/pcap.ts";
import {
  crossCheckCapture,
  failWithLogs,
  inNetns,
  readText,
  startCapture,
  waitFor,
  waitForCapture,
} from "./_capture.ts";
import { writeL2tpnsEtc } from "./_l2tpns.ts";
import { spawnIn, stopAll, switchTopology } from "./_netns.ts";
import { describeFrame } from "./pppd_standin.ts";

const NS = { lac: "lts-n-lac", sw: "lts-n-sw", lns: "lts-n-lns" };
const IP = { lac: "10.79.1.1", swLac: "10.79.1.2", swLns: "10.79.2.1", lns: "10.79.2.2" };
const SECRET = "lac-secret";
const L2TPNS_SECRET = "l2tpns-secret";
const RADIUS_SECRET = "radius-secret";
const PASSWORD = "user-pw";
const POOL = "10.101.0";
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const RADIUS = new URL("./radius_responder.ts", import.meta.url).pathname;
const PROBE_PORT = 17198;

/** Runs `lts lac` in the LAC's namespace and returns its JSON summary. */
async function ltsLac(args: string[]): Promise<Record<string, unknown>> {
  const out = await inNetns(NS.lac, [
    ...[Deno.execPath(), "run", "-A", MAIN, "lac", "--server", `${IP.swLac}:1701`],
    ...["--hostname", "lac-north", "--secret", SECRET, "--user", "user{n}@isp-a.example"],
    ...["--password", PASSWORD, "--timeout", "20", ...args],
  ]).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  try {
    return { exit: out.code, ...JSON.parse(stdout) };
  } catch {
    throw new Error(`lts lac exit ${out.code}\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
}

/** The PPP frames in the L2TP data messages from `from` to `to`, with their summary. */
function pppOn(described: { d: UdpDatagram; p: PacketDescription }[], from: string, to: string) {
  return described.filter(({ d, p }) =>
    p.type === "DATA" && d.src.startsWith(`${from}:`) && d.dst.startsWith(`${to}:`)
  ).map(({ d }) => {
    const h = decodeHeader(d.payload);
    assert.ok(h.ok);
    const ppp = d.payload.slice(h.value.payloadOffset, h.value.messageLength);
    return { ppp, ...describeFrame(ppp) };
  });
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("lts lac → lts → l2tpns with a RADIUS responder: NAS- and client-initiated calls", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "lts-interop-l2tpns-" });
  const children: Deno.ChildProcess[] = [];
  const teardown = await switchTopology(NS, IP, "n");
  const logs = {
    lts: `${dir}/lts.log`,
    l2tpns: `${dir}/l2tpns.log`,
    radius: `${dir}/radius.log`,
  };
  const withLogs = failWithLogs(logs);
  try {
    await writeL2tpnsEtc({
      dir,
      secret: L2TPNS_SECRET,
      bind: IP.lns,
      radiusSecret: RADIUS_SECRET,
      authTypes: "chap,pap",
      radiusAccounting: true,
      clusterInterface: "n-lns",
    }, `${POOL}.0/24`);
    await Deno.writeTextFile(
      `${dir}/lts.yaml`,
      `hostname: lts-sw\nlisten: ["0.0.0.0:1701"]\n` +
        `lacs: [{ match: { hostname: "lac-*" }, secret: "${SECRET}" }]\n` +
        `upstreams: { l2tpns: { members: [{ address: "${IP.lns}:1701", secret: "${L2TPNS_SECRET}" }] } }\n` +
        `rules: [{ name: isp-a, match: { domain: "isp-a.example" }, forward: l2tpns }]\n` +
        `default: { reject: { result_code: 2 } }\n`,
    );
    spawnIn(children, NS.lns, [
      ...[Deno.execPath(), "run", "-A", "--config", CONFIG, RADIUS, "--secret", RADIUS_SECRET],
      ...["--password", PASSWORD, "--log", logs.radius],
    ], { log: `${dir}/radius.out` });
    spawnIn(children, NS.lns, ["l2tpns", "-c", "/etc/l2tpns/startup-config"], {
      log: logs.l2tpns,
      bind: [[`${dir}/etc`, "/etc/l2tpns"]],
    });
    spawnIn(children, NS.sw, [
      ...[Deno.execPath(), "run", "-A", MAIN, "run", "--config", `${dir}/lts.yaml`],
      ...["--log-level", "debug"],
    ], { log: logs.lts });
    await withLogs(waitFor(
      async () => (await readText(logs.lts)).includes("listening on"),
      20000,
      "lts to listen",
    ));
    await withLogs(waitFor(
      async () => (await readText(logs.radius)).split("listening").length === 3,
      20000,
      "the RADIUS responder",
    ));
    // l2tpns holds an election once no master has been heard for cluster_hb_timeout.
    await withLogs(waitFor(
      async () => (await readText(logs.l2tpns)).includes("I am declaring myself the master"),
      30000,
      "l2tpns to become cluster master",
    ));

    const capturing = async (name: string) =>
      await startCapture(`${dir}/${name}.pcapng`, {
        filter: "udp port 1701",
        children,
        probePort: PROBE_PORT,
        iface: "any",
        netns: NS.sw,
      });
    const accessRequests = async () =>
      (await readText(logs.radius)).split("\n").filter((l) => l.includes('"code":1,'))
        .map((l) => JSON.parse(l));

    await t.step(
      "NAS-initiated: tunnels and calls up on both legs; l2tpns starts LCP afresh",
      async () => {
        const stop = await capturing("nas");
        const summary = await withLogs(ltsLac(["--sessions", "2", "--duration", "2"]));
        await withLogs(waitForCapture(
          `${dir}/nas.pcapng`,
          { ports: [1701], ms: 5000, what: "the calls' end in the capture" },
          (all) =>
            all.some(({ d, p }) => p.type === "StopCCN" && d.src.startsWith(`${IP.lac}:`)) &&
            all.filter(({ d, p }) => p.type === "CDN" && d.dst.startsWith(`${IP.lns}:`)).length ===
              2,
        ));
        await stop();
        assert.equal(summary.exit, 0, JSON.stringify(summary));
        assert.equal(summary.tunnels_up, 1);
        assert.equal(summary.sessions_up, 2);
        assert.equal(summary.sessions_failed, 0);
        // LCP Echo from the test LAC crossed to l2tpns, which answers it.
        assert.ok((summary.data_received as number) > 0, JSON.stringify(summary));
        const l2tpnsLog = await readText(logs.l2tpns);
        assert.match(l2tpnsLog, new RegExp(`New tunnel from ${IP.swLns.replaceAll(".", "\\.")}:`));
        assert.equal(l2tpnsLog.match(/Received ICCN/g)?.length, 2);
        // l2tpns ignores proxy authentication: it never asked RADIUS about these users.
        assert.deepEqual(await accessRequests(), []);

        const described = await withLogs(
          crossCheckCapture(`${dir}/nas.pcapng`, { ports: [1701], secret: SECRET }),
        );
        const leg = (a: string, b: string) =>
          described.filter(({ d }) =>
            [d.src, d.dst].every((x) => x.startsWith(`${a}:`) || x.startsWith(`${b}:`))
          ).map(({ p }) => p);
        const lacLeg = leg(IP.lac, IP.swLac), lnsLeg = leg(IP.swLns, IP.lns);
        for (const type of ["SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CDN"]) {
          const trace = [lacLeg, lnsLeg].map((l) => l.map((p) => p.type).join(" ")).join("\n");
          assert.ok(lacLeg.some((p) => p.type === type), `LAC leg has no ${type}\n${trace}`);
          assert.ok(lnsLeg.some((p) => p.type === type), `l2tpns leg has no ${type}\n${trace}`);
        }
        // The test LAC closes its tunnel; lts keeps its upstream tunnel for the next calls.
        assert.ok(lacLeg.some((p) => p.type === "StopCCN"));
        assert.ok(!lnsLeg.some((p) => p.type === "StopCCN"));
        // The upstream ICCN carries the proxy LCP and proxy authentication AVPs (§4.4.5).
        const iccn = lnsLeg.find((p) => p.type === "ICCN")!;
        for (
          const name of ["Initial Received LCP CONFREQ", "Proxy Authen Type", "Proxy Authen Name"]
        ) {
          assert.ok(iccn.avps.some((a) => a.name === name), `upstream ICCN has ${name}`);
        }
        // l2tpns's own LCP Configure-Requests reach the LAC exactly as sent.
        const fromL2tpns = pppOn(described, IP.lns, IP.swLns).filter((x) =>
          x.code === "ConfigureRequest"
        );
        assert.ok(fromL2tpns.length >= 2, "l2tpns sent LCP Configure-Requests");
        const atLac = pppOn(described, IP.swLac, IP.lac).map((x) => hex(x.ppp));
        for (const x of fromL2tpns) assert.ok(atLac.includes(hex(x.ppp)), "crossed lts unchanged");
      },
    );

    await t.step(
      "client-initiated: PPP through lts reaches IPCP Opened with an l2tpns address",
      async () => {
        const stop = await capturing("client");
        const summary = await withLogs(
          ltsLac(["--client-initiated", "--auth", "pap", "--sessions", "1", "--duration", "2"]),
        );
        await withLogs(waitForCapture(
          `${dir}/client.pcapng`,
          { ports: [1701], ms: 5000, what: "the call's end in the capture" },
          (all) => all.some(({ d, p }) => p.type === "CDN" && d.dst.startsWith(`${IP.lns}:`)),
        ));
        await stop();
        assert.equal(summary.exit, 0, JSON.stringify(summary));
        assert.equal(summary.sessions_up, 1, JSON.stringify(summary));
        assert.equal(summary.ppp_up, 1, JSON.stringify(summary));
        const addresses = summary.addresses as string[];
        assert.equal(addresses.length, 1);
        assert.ok(
          addresses[0].startsWith(`${POOL}.`),
          `address ${addresses[0]} from l2tpns's pool`,
        );
        // l2tpns authenticated the user itself, over RADIUS, with the password the client sent.
        const requests = await accessRequests();
        assert.equal(requests.length, 1, JSON.stringify(requests));
        assert.equal(requests[0].user, "user1@isp-a.example");
        assert.equal(requests[0].auth, "pap");
        assert.equal(requests[0].password_ok, true);

        const described = await withLogs(
          crossCheckCapture(`${dir}/client.pcapng`, { ports: [1701], secret: SECRET }),
        );
        // lts authenticated the call first (its own LCP and PAP on the LAC leg only), then switched
        // it with proxy AVPs, which l2tpns ignores: it renegotiates LCP, and every PPP frame it
        // sends reaches the client unchanged, in order, and the client's answers reach l2tpns.
        const lnsIccn = described.find(({ d, p }) => p.type === "ICCN" && d.dst.startsWith(IP.lns));
        assert.ok(lnsIccn?.p.avps.some((a) => a.name === "Proxy Authen Name"));
        const fromL2tpns = pppOn(described, IP.lns, IP.swLns).map((x) => hex(x.ppp));
        const toClient = pppOn(described, IP.swLac, IP.lac).map((x) => hex(x.ppp));
        assert.ok(fromL2tpns.length > 0);
        const start = toClient.indexOf(fromL2tpns[0]);
        assert.ok(start > 0, "lts's own LCP came first, then l2tpns's");
        assert.deepEqual(toClient.slice(start, start + fromL2tpns.length), fromL2tpns);
        const lcpBefore = pppOn(described, IP.swLac, IP.lac).slice(0, start);
        assert.ok(lcpBefore.some((x) => x.code === "ConfigureRequest"), "lts ran LCP first");
        const fromClient = pppOn(described, IP.lac, IP.swLac).map((x) => hex(x.ppp));
        const toL2tpns = pppOn(described, IP.swLns, IP.lns).map((x) => hex(x.ppp));
        assert.deepEqual(toL2tpns, fromClient.slice(fromClient.length - toL2tpns.length));
        // The renegotiation: l2tpns's Configure-Request, acknowledged by the client; then PAP and
        // IPCP (protocols 0xc023 and 0x8021) between them.
        const kinds = pppOn(described, IP.lns, IP.swLns).map((x) => `${x.protocol}/${x.code}`);
        assert.ok(kinds.includes("0xc021/ConfigureRequest"), kinds.join(" "));
        assert.ok(kinds.some((k) => k.startsWith("0xc023/")), kinds.join(" "));
        assert.ok(kinds.some((k) => k.startsWith("0x8021/")), kinds.join(" "));
        assert.ok(
          pppOn(described, IP.swLns, IP.lns).some((x) => x.code === "ConfigureAck"),
          "the client acknowledged l2tpns's LCP through lts",
        );
        // No AVP lts decoded was malformed.
        for (const { d, p } of described) assert.deepEqual(p.warnings, [], `frame ${d.frame}`);
      },
    );

    await t.step(
      "client-initiated with CHAP: l2tpns checks the CHAP response over RADIUS, IPCP opens",
      async () => {
        const before = (await accessRequests()).length;
        const stop = await capturing("chap");
        const summary = await withLogs(
          ltsLac(["--client-initiated", "--auth", "chap", "--sessions", "1", "--duration", "2"]),
        );
        await withLogs(waitForCapture(
          `${dir}/chap.pcapng`,
          { ports: [1701], ms: 5000, what: "the call's end in the capture" },
          (all) => all.some(({ d, p }) => p.type === "CDN" && d.dst.startsWith(`${IP.lns}:`)),
        ));
        await stop();
        assert.equal(summary.exit, 0, JSON.stringify(summary));
        assert.equal(summary.ppp_up, 1, JSON.stringify(summary));
        const addresses = summary.addresses as string[];
        assert.equal(addresses.length, 1);
        assert.ok(
          addresses[0].startsWith(`${POOL}.`),
          `address ${addresses[0]} from l2tpns's pool`,
        );
        // The responder recomputed MD5(Identifier | secret | Challenge) from the CHAP-Password.
        const requests = (await accessRequests()).slice(before);
        assert.equal(requests.length, 1, JSON.stringify(requests));
        assert.equal(requests[0].user, "user1@isp-a.example");
        assert.equal(requests[0].auth, "chap");
        assert.equal(requests[0].password_ok, true);

        const described = await withLogs(
          crossCheckCapture(`${dir}/chap.pcapng`, { ports: [1701], secret: SECRET }),
        );
        // l2tpns challenged the client through lts (CHAP Challenge, code 1) and the client's
        // Response (code 2) reached it; l2tpns said Success (code 3).
        const fromL2tpns = pppOn(described, IP.lns, IP.swLns).map((x) => `${x.protocol}/${x.code}`);
        const toL2tpns = pppOn(described, IP.swLns, IP.lns).map((x) => `${x.protocol}/${x.code}`);
        assert.ok(fromL2tpns.includes("0xc223/1"), fromL2tpns.join(" "));
        assert.ok(toL2tpns.includes("0xc223/2"), toL2tpns.join(" "));
        assert.ok(fromL2tpns.includes("0xc223/3"), fromL2tpns.join(" "));
        assert.ok(!fromL2tpns.some((k) => k.startsWith("0xc023/")), "no PAP");
      },
    );
  } finally {
    await stopAll(children);
    await teardown();
    await Deno.remove(dir, { recursive: true });
  }
});
