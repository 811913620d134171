/**
 * Interop topology 1: xl2tpd LAC → lts → xl2tpd LNS, each in its own network
 * namespace on port 1701 as in production. The LAC xl2tpd opens a tunnel
 * with tunnel authentication and places a call; lts switches it by policy to
 * the upstream xl2tpd. Everything the switch sends and receives is captured
 * in its namespace and checked: tshark reports nothing malformed and no
 * expert warning, and `lts decode` agrees with tshark on every packet.
 *
 * Two runs. In the first the LAC's xl2tpd starts the real pppd, which cannot
 * run here (no /dev/ppp), so the LAC clears the call right after it comes up,
 * with CDN result 1, while the LNS's (the pppd stand-in, `pppd_standin.ts`,
 * bind-mounted over /usr/sbin/pppd) is still negotiating LCP: lts must carry
 * that CDN to the LNS. (Were both real, both xl2tpds would clear the call at
 * about the same time and there might be nothing left to carry.) In the
 * second both run the stand-in and PPP runs end to end through lts: LCP,
 * CHAP, IPCP, then LCP Echo both ways while the call stays up.
 */
import assert from "node:assert/strict";
import type { PacketDescription } from "../../transport/describe.ts";
import { decodeHeader } from "../../transport/header.ts";
import type { UdpDatagram } from "../../transport/pcap.ts";
import { crossCheckCapture, readText, startCapture, waitFor, waitForCapture } from "./_capture.ts";
import { spawnIn, stopAll, switchTopology } from "./_netns.ts";
import { describeFrame, pppdLauncher } from "./pppd_standin.ts";

const NS = { lac: "lts-t-lac", sw: "lts-t-sw", lns: "lts-t-lns" };
const IP = { lac: "10.77.1.1", swLac: "10.77.1.2", swLns: "10.77.2.1", lns: "10.77.2.2" };
const SECRET = "interop-secret";
const USER = "alice@isp-a.example";
const PPP_PASSWORD = "ppp-pw";
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const PROBE_PORT = 17199;

function topology(): Promise<() => Promise<void>> {
  return switchTopology(NS, IP, "t");
}

interface Run {
  dir: string;
  children: Deno.ChildProcess[];
  capture: string;
  stopCapture: () => Promise<void>;
  logs: { lts: string; lac: string; lns: string };
}

/** xl2tpd's configuration; with the stand-in the LNS asks for CHAP and the LAC has a user. */
function xl2tpdConf(dir: string, role: "lac" | "lns", standin: boolean): string {
  const common = `auth file = ${dir}/secrets\naccess control = no\n`;
  return role === "lns"
    ? `[global]\nlisten-addr = ${IP.lns}\nport = 1701\n${common}[lns default]\nip range = 10.99.0.2-10.99.0.20\n` +
      `local ip = 10.99.0.1\nhostname = xl2tpd-lns\nchallenge = yes\nhidden bit = yes\nlength bit = yes\n` +
      (standin
        ? "require chap = yes\nrequire authentication = yes\n"
        : "require authentication = no\n") +
      `pppoptfile = ${dir}/lns-ppp-options\n`
    : `[global]\nlisten-addr = ${IP.lac}\nport = 1701\n${common}[lac test]\nlns = ${IP.swLac}:1701\n` +
      `hostname = lac-xl2tpd\nchallenge = yes\nhidden bit = yes\nlength bit = yes\nredial = no\n` +
      (standin ? `name = ${USER}\n` : "") + `pppoptfile = ${dir}/lac-ppp-options\n`;
}

/**
 * Builds the topology, starts the capture in the switch's namespace, lts and
 * both xl2tpds, and places the call. `"ppp"`: both xl2tpds run the pppd
 * stand-in and authenticate with CHAP; `"lac-fails"`: the LAC's runs the real
 * pppd (which exits at once) and the LNS's the stand-in, without
 * authentication.
 */
async function start(
  dir: string,
  children: Deno.ChildProcess[],
  mode: "ppp" | "lac-fails",
): Promise<Run> {
  const standin = mode === "ppp";
  await Deno.writeTextFile(`${dir}/secrets`, `* * ${SECRET}\n`);
  for (const role of ["lac", "lns"] as const) {
    await Deno.writeTextFile(`${dir}/${role}.conf`, xl2tpdConf(dir, role, standin));
    // pppd options the stand-in reads: the CHAP secret, a 1 s LCP Echo, its own log.
    const options = standin
      ? `password ${PPP_PASSWORD}\nlcp-echo-interval 1\nlcp-echo-failure 4\nlogfile ${dir}/${role}-ppp.log\n`
      : "noauth\n";
    await Deno.writeTextFile(`${dir}/${role}-ppp-options`, options);
  }
  await Deno.writeTextFile(
    `${dir}/lts.yaml`,
    `hostname: lts-sw\nlisten: ["0.0.0.0:1701"]\n` +
      `lacs: [{ match: { hostname: "lac-*" }, secret: "${SECRET}" }]\n` +
      `upstreams: { xl2tpd: { members: [{ address: "${IP.lns}:1701", secret: "${SECRET}" }] } }\n` +
      `rules: []\ndefault: { forward: xl2tpd }\n`,
  );
  const capture = `${dir}/switch.pcapng`;
  const stopCapture = await startCapture(capture, {
    filter: "udp port 1701",
    children,
    probePort: PROBE_PORT,
    iface: "any",
    netns: NS.sw,
  });
  const lts = spawnIn(children, NS.sw, [
    ...[Deno.execPath(), "run", "-A", MAIN, "run", "--config", `${dir}/lts.yaml`],
    ...["--log-level", "debug"],
  ], { log: `${dir}/lts.log` });
  await waitFor(async () => (await readText(lts)).includes("listening on"), 20000, "lts to listen");
  const launcher = await pppdLauncher(dir);
  const xl2tpd = (role: "lac" | "lns") =>
    spawnIn(children, NS[role], [
      ...["xl2tpd", "-D", "-c", `${dir}/${role}.conf`],
      ...["-p", `${dir}/${role}.pid`, "-C", `${dir}/${role}.ctrl`],
    ], {
      log: `${dir}/${role}.log`,
      bind: standin || role === "lns" ? [[launcher, "/usr/sbin/pppd"]] : [],
    });
  const lns = xl2tpd("lns");
  const lac = xl2tpd("lac");
  for (const [log, what] of [[lns, "the LNS xl2tpd"], [lac, "the LAC xl2tpd"]]) {
    await waitFor(async () => (await readText(log)).includes("Listening on"), 5000, what);
  }
  // Writing before xl2tpd has made its control FIFO would create a plain file it never reads.
  await waitFor(
    async () => (await Deno.stat(`${dir}/lac.ctrl`).catch(() => null))?.isFifo === true,
    5000,
    "the FIFO",
  );
  await Deno.writeTextFile(`${dir}/lac.ctrl`, "c test\n");
  return { dir, children, capture, stopCapture, logs: { lts, lac, lns } };
}

/** Adds every log of the run to a failure. */
async function withLogs<T>(run: Run, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    const names = ["lts", "lac", "lns", "lac-ppp", "lns-ppp"];
    const logs = await Promise.all(names.map((n) => readText(`${run.dir}/${n}.log`)));
    const text = names.map((n, i) => `--- ${n}:\n${logs[i]}`).join("\n");
    throw new Error(`${(e as Error).message}\n${text}`, { cause: e });
  }
}

Deno.test("xl2tpd LAC → lts → xl2tpd LNS in network namespaces: switched, the early CDN carried across", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lts-interop-switch-" });
  const children: Deno.ChildProcess[] = [];
  const teardown = await topology();
  try {
    const run = await start(dir, children, "lac-fails");
    // Both legs come up; the LAC's pppd fails and its xl2tpd sends CDN 1, which lts must carry to
    // the LNS (the CDN can even arrive before the upstream leg is up: lts carries it on then too).
    const ended = async (log: string) => /Connection closed|disconnected/.test(await readText(log));
    await withLogs(
      run,
      waitFor(
        async () => (await ended(run.logs.lac)) && (await ended(run.logs.lns)),
        15000,
        "both xl2tpds to see the call end",
      ),
    );
    // tshark writes packets a little after they pass: wait for the CDN on both legs.
    await withLogs(
      run,
      waitForCapture(
        run.capture,
        { ports: [1701], ms: 5000, what: "the CDN on both legs in the capture" },
        (all) =>
          [IP.lac, IP.lns].every((peer) =>
            all.some(({ d, p }) =>
              p.type === "CDN" && [d.src, d.dst].some((x) => x.startsWith(peer))
            )
          ),
      ),
    );
    await run.stopCapture();

    const described = await crossCheckCapture(run.capture, { ports: [1701], secret: SECRET });
    const leg = (a: string, b: string) =>
      described.filter(({ d }) => [d.src, d.dst].every((x) => x.startsWith(a) || x.startsWith(b)));
    const lacLeg = leg(IP.lac, IP.swLac);
    const lnsLeg = leg(IP.swLns, IP.lns);
    const types = (xs: typeof lacLeg) => xs.map((x) => x.p.type);
    for (const t of ["SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CDN"]) {
      assert.ok(types(lacLeg).includes(t), `LAC leg has no ${t}: ${types(lacLeg).join(" ")}`);
      assert.ok(types(lnsLeg).includes(t), `LNS leg has no ${t}: ${types(lnsLeg).join(" ")}`);
    }
    // The upstream call carries what the LAC's carried (Calling/Called Number, when sent).
    const numbers = (xs: typeof lacLeg) =>
      xs.find((x) => x.p.type === "ICRQ")!.p.avps.filter((a) => a.type === 21 || a.type === 22).map(
        (a) => [a.type, a.value],
      );
    assert.deepEqual(numbers(lnsLeg), numbers(lacLeg));
    // The LAC's early CDN crossed the switch with its Result Code; the LNS sent none of its own.
    const trace = described.filter(({ p }) => p.type !== "DATA").map(({ d, p }) =>
      `${d.timeUs} ${d.src} → ${d.dst} ${p.type} ${
        p.avps.filter((a) => a.name === "Result Code" || a.name === "Assigned Session ID").map((
          a,
        ) => `${a.name}=${JSON.stringify(a.value)}`).join(" ")
      }`
    ).join("\n");
    const cdns = described.filter(({ p }) => p.type === "CDN");
    assert.deepEqual(cdns.map(({ d }) => [d.src, d.dst]), [
      [`${IP.lac}:1701`, `${IP.swLac}:1701`],
      [`${IP.swLns}:1701`, `${IP.lns}:1701`],
    ], trace);
    const [first, carried] = cdns;
    const result = (x: typeof first) => x.p.avps.find((a) => a.name === "Result Code")!.value;
    assert.deepEqual(result(first), { resultCode: 1, errorCode: 0 }, trace);
    assert.deepEqual(result(carried), result(first), trace);
  } finally {
    await stopAll(children);
    await teardown();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The LCP packets of the L2TP data messages on one leg, `from` one address. */
function lcpOn(
  described: { d: UdpDatagram; p: PacketDescription }[],
  from: string,
  to: string,
) {
  return described.filter(({ d, p }) =>
    p.type === "DATA" && d.src.startsWith(from) && d.dst.startsWith(to)
  ).map(({ d }) => {
    const h = decodeHeader(d.payload);
    assert.ok(h.ok);
    const frame = d.payload.slice(h.value.payloadOffset, h.value.messageLength);
    return { frame: d.frame, ppp: frame, ...describeFrame(frame) };
  }).filter((x) => x.protocol === "0xc021");
}

Deno.test("xl2tpd LAC → lts → xl2tpd LNS with pppd stand-ins: PPP opens end to end and LCP Echo crosses both ways", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lts-interop-ppp-" });
  const children: Deno.ChildProcess[] = [];
  const teardown = await topology();
  try {
    const run = await start(dir, children, "ppp");
    const lacPpp = `${dir}/lac-ppp.log`, lnsPpp = `${dir}/lns-ppp.log`;
    const events = async (log: string) =>
      (await readText(log)).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    const repliesAfterOpen = async (log: string) => {
      const e = await events(log);
      const opened = e.findIndex((x) => x.event === "opened");
      return opened < 0
        ? 0
        : e.slice(opened).filter((x) => x.event === "receive" && x.code === "EchoReply").length;
    };
    // Each side sends an Echo-Request a second; three answered on each side is the call working.
    await withLogs(
      run,
      waitFor(
        async () => (await repliesAfterOpen(lacPpp)) >= 3 && (await repliesAfterOpen(lnsPpp)) >= 3,
        20000,
        "LCP Echo-Replies on both sides",
      ),
    );
    // tshark writes packets a little after they pass: wait until three Echo-Requests each way
    // are in the file on both legs.
    const legs = [[IP.lac, IP.swLac], [IP.swLns, IP.lns], [IP.lns, IP.swLns], [IP.swLac, IP.lac]];
    await withLogs(
      run,
      waitForCapture(
        run.capture,
        { ports: [1701], ms: 5000, what: "the echoes in the capture" },
        (all) =>
          legs.every(([from, to]) =>
            lcpOn(all, from, to).filter((x) => x.code === "EchoRequest").length >= 3
          ),
      ),
    );
    await run.stopCapture();
    const lac = await events(lacPpp), lns = await events(lnsPpp);
    // The client authenticated with CHAP and took the address the LNS assigns.
    assert.deepEqual(lac.find((x) => x.event === "opened")?.address, "10.99.0.2");
    assert.ok(lns.some((x) => x.event === "authenticated" && x.user === USER));
    // Nothing ended the call while the echoes ran.
    for (const e of [...lac, ...lns]) {
      assert.ok(!["failed", "closed", "hangup"].includes(e.event), JSON.stringify(e));
    }
    const xl2tpdLogs = (await readText(run.logs.lac)) + (await readText(run.logs.lns));
    assert.doesNotMatch(xl2tpdLogs, /disconnected|Connection closed|exited for call/);

    const described = await crossCheckCapture(run.capture, { ports: [1701], secret: SECRET });
    assert.ok(!described.some(({ p }) => p.type === "CDN" || p.type === "StopCCN"));
    // Every LCP packet the LAC's pppd sent crossed lts unchanged, in order, and so did the LNS's.
    const fromLac = lcpOn(described, IP.lac, IP.swLac), toLns = lcpOn(described, IP.swLns, IP.lns);
    const fromLns = lcpOn(described, IP.lns, IP.swLns), toLac = lcpOn(described, IP.swLac, IP.lac);
    // (The capture may stop with a packet or two between the legs.)
    for (const [sent, forwarded] of [[fromLac, toLns], [fromLns, toLac]]) {
      assert.ok(forwarded.length >= sent.length - 2, `${forwarded.length} of ${sent.length}`);
      assert.deepEqual(
        forwarded.map((x) => x.ppp),
        sent.slice(0, forwarded.length).map((x) => x.ppp),
      );
    }
    // Echo-Requests each way, each answered by an Echo-Reply with its Identifier on the far leg.
    for (const [requests, replies] of [[fromLac, fromLns], [fromLns, fromLac]]) {
      const asked = requests.filter((x) => x.code === "EchoRequest");
      assert.ok(asked.length >= 3, `${asked.length} Echo-Requests`);
      const answered = replies.filter((x) => x.code === "EchoReply").map((x) => x.id);
      for (const r of asked.slice(0, 3)) assert.ok(answered.includes(r.id), `Echo ${r.id}`);
    }
    // tshark reads the same LCP Echo packets in the L2TP data messages.
    const tshark = await new Deno.Command("tshark", {
      args: [
        ...[
          "-r",
          run.capture,
          "-d",
          "udp.port==1701,l2tp",
          "-Y",
          "lcp && (ppp.code == 9 || ppp.code == 10)",
        ],
        ...["-T", "fields", "-e", "frame.number", "-e", "ppp.code", "-e", "ppp.identifier"],
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    const echoes = new TextDecoder().decode(tshark.stdout).trim().split("\n").map((l) =>
      l.split("\t").map(Number)
    );
    const ours = [...fromLac, ...toLns, ...fromLns, ...toLac]
      .filter((x) => x.code === "EchoRequest" || x.code === "EchoReply")
      .map((x) => [x.frame, x.code === "EchoRequest" ? 9 : 10, x.id as number])
      .sort((a, b) => a[0] - b[0]);
    assert.deepEqual(echoes, ours);
  } finally {
    await stopAll(children);
    await teardown();
    await Deno.remove(dir, { recursive: true });
  }
});
