/**
 * Interop topology 1: xl2tpd LAC → lts → xl2tpd LNS, each in its own network
 * namespace on port 1701 as in production. The LAC xl2tpd opens a tunnel
 * with tunnel authentication and places a call; lts switches it by policy to
 * the upstream xl2tpd. pppd cannot run here (no /dev/ppp), so one of the
 * xl2tpds clears the call right after it comes up, with CDN result 1 —
 * whichever pppd fails first: lts must carry that CDN to the other side.
 * Everything the switch sends and receives is captured in its namespace and
 * checked twice: tshark reports nothing malformed, and `lts decode` agrees
 * with tshark on every packet.
 */
import assert from "node:assert/strict";
import { describePacket } from "../../transport/describe.ts";
import { readCapture } from "../../transport/pcap.ts";
import { ltsView, tsharkL2tp } from "../_tshark.ts";
import { readText, startCapture, waitFor } from "./_capture.ts";

const NS = { lac: "lts-t-lac", sw: "lts-t-sw", lns: "lts-t-lns" };
const IP = { lac: "10.77.1.1", swLac: "10.77.1.2", swLns: "10.77.2.1", lns: "10.77.2.2" };
const SECRET = "interop-secret";
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const PROBE_PORT = 17199;

async function sh(script: string): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`${script}\n${new TextDecoder().decode(out.stderr)}`);
}

async function teardown(): Promise<void> {
  for (const ns of Object.values(NS)) await sh(`ip netns del ${ns} 2>/dev/null || true`);
}

async function topology(): Promise<void> {
  await teardown();
  const lines = Object.values(NS).map((ns) => `ip netns add ${ns} && ip -n ${ns} link set lo up`);
  lines.push(
    "ip link add t-lac type veth peer name t-sw1",
    "ip link add t-sw2 type veth peer name t-lns",
    `ip link set t-lac netns ${NS.lac}`,
    `ip link set t-sw1 netns ${NS.sw}`,
    `ip link set t-sw2 netns ${NS.sw}`,
    `ip link set t-lns netns ${NS.lns}`,
    `ip -n ${NS.lac} addr add ${IP.lac}/24 dev t-lac && ip -n ${NS.lac} link set t-lac up`,
    `ip -n ${NS.sw} addr add ${IP.swLac}/24 dev t-sw1 && ip -n ${NS.sw} link set t-sw1 up`,
    `ip -n ${NS.sw} addr add ${IP.swLns}/24 dev t-sw2 && ip -n ${NS.sw} link set t-sw2 up`,
    `ip -n ${NS.lns} addr add ${IP.lns}/24 dev t-lns && ip -n ${NS.lns} link set t-lns up`,
  );
  await sh(lines.join(" && "));
}

function xl2tpdConf(dir: string, role: "lac" | "lns"): string {
  const common = `auth file = ${dir}/secrets\\naccess control = no\\n`.replaceAll("\\n", "\n");
  return role === "lns"
    ? `[global]\nlisten-addr = ${IP.lns}\nport = 1701\n${common}[lns default]\nip range = 10.99.0.2-10.99.0.20\n` +
      `local ip = 10.99.0.1\nhostname = xl2tpd-lns\nchallenge = yes\nhidden bit = yes\nlength bit = yes\n` +
      `require authentication = no\npppoptfile = ${dir}/ppp-options\n`
    : `[global]\nlisten-addr = ${IP.lac}\nport = 1701\n${common}[lac test]\nlns = ${IP.swLac}:1701\n` +
      `hostname = lac-xl2tpd\nchallenge = yes\nhidden bit = yes\nlength bit = yes\nredial = no\n` +
      `pppoptfile = ${dir}/ppp-options\n`;
}

Deno.test("xl2tpd LAC → lts → xl2tpd LNS in network namespaces: switched, the early CDN carried across", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lts-interop-switch-" });
  const children: Deno.ChildProcess[] = [];
  try {
    await topology();
    await Deno.writeTextFile(`${dir}/secrets`, `* * ${SECRET}\n`);
    await Deno.writeTextFile(`${dir}/ppp-options`, "noauth\n");
    await Deno.writeTextFile(`${dir}/lns.conf`, xl2tpdConf(dir, "lns"));
    await Deno.writeTextFile(`${dir}/lac.conf`, xl2tpdConf(dir, "lac"));
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
    const spawnLogged = (ns: string, argv: string[], log: string) => {
      const child = new Deno.Command("ip", {
        args: ["netns", "exec", ns, "bash", "-c", `exec ${argv.join(" ")} >${log} 2>&1`],
        stdout: "null",
        stderr: "null",
      }).spawn();
      children.push(child);
      return log;
    };
    const ltsLog = spawnLogged(NS.sw, [
      Deno.execPath(),
      "run",
      "-A",
      MAIN,
      "run",
      "--config",
      `${dir}/lts.yaml`,
      "--log-level",
      "debug",
    ], `${dir}/lts.log`);
    await waitFor(
      async () => (await readText(ltsLog)).includes("listening on"),
      20000,
      "lts to listen",
    );
    const xl2tpd = (role: "lac" | "lns") =>
      spawnLogged(NS[role], [
        "xl2tpd",
        "-D",
        "-c",
        `${dir}/${role}.conf`,
        "-p",
        `${dir}/${role}.pid`,
        "-C",
        `${dir}/${role}.ctrl`,
      ], `${dir}/${role}.log`);
    const lnsLog = xl2tpd("lns");
    const lacLog = xl2tpd("lac");
    await waitFor(
      async () => (await readText(lnsLog)).includes("Listening on"),
      5000,
      "the LNS xl2tpd",
    );
    await waitFor(
      async () => (await readText(lacLog)).includes("Listening on"),
      5000,
      "the LAC xl2tpd",
    );
    await waitFor(
      async () => (await Deno.stat(`${dir}/lac.ctrl`).catch(() => null))?.isFifo === true,
      5000,
      "the FIFO",
    );
    await Deno.writeTextFile(`${dir}/lac.ctrl`, "c test\n");
    // Both legs come up; one pppd fails and its xl2tpd sends CDN 1, which lts must carry across
    // (the CDN can even arrive before the upstream leg is up: lts carries it on then as well).
    const ended = async (log: string) => /Connection closed|disconnected/.test(await readText(log));
    await waitFor(
      async () => (await ended(lacLog)) && (await ended(lnsLog)),
      15000,
      "both xl2tpds to see the call end",
    ).catch(async (e) => {
      const logs = [ltsLog, lacLog, lnsLog].map(readText);
      const [lts, lac, lns] = await Promise.all(logs);
      throw new Error(`${e.message}\nlts:\n${lts}\nLAC:\n${lac}\nLNS:\n${lns}`);
    });
    await new Promise((r) => setTimeout(r, 500)); // the last acknowledgements
    await stopCapture();

    const read = readCapture(await Deno.readFile(capture));
    assert.ok(read.ok, read.ok ? "" : read.error);
    const datagrams = read.value.datagrams.filter((d) => d.dstPort === 1701 || d.srcPort === 1701);
    const secret = new TextEncoder().encode(SECRET);
    const described = datagrams.map((d) => ({ d, p: describePacket(d.payload, { secret }) }));
    for (const { d, p } of described) {
      assert.deepEqual(p.errors, [], `${d.src} → ${d.dst} ${p.type}`);
    }
    const leg = (a: string, b: string) =>
      described.filter(({ d }) => [d.src, d.dst].every((x) => x.startsWith(a) || x.startsWith(b)))
        .map(({ d, p }) => ({ d, p }));
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
    // The early CDN crossed the switch with its Result Code.
    const cdns = described.filter(({ p }) => p.type === "CDN");
    const first = cdns[0];
    const firstFromLac = first.d.src.startsWith(IP.lac);
    const carried = cdns.find((
      { d },
    ) => (firstFromLac ? d.dst.startsWith(IP.lns) : d.dst.startsWith(IP.lac)));
    assert.ok(carried, "lts carried the CDN to the other side");
    const result = (x: typeof first) => x.p.avps.find((a) => a.name === "Result Code")!.value;
    assert.deepEqual(result(carried!), result(first));
    // tshark agrees with lts on every packet, and finds nothing malformed.
    const byTshark = await tsharkL2tp(capture, [1701]);
    const l2tpFrames = new Set(datagrams.map((d) => d.frame));
    const t = byTshark.filter((x) => l2tpFrames.has(x.frame));
    assert.equal(t.length, datagrams.length);
    for (const [i, { frame, malformed, ...view }] of t.entries()) {
      assert.equal(malformed, "", `frame ${frame}`);
      assert.deepEqual(ltsView(describePacket(datagrams[i].payload)), view, `frame ${frame}`);
    }
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
    await teardown();
    await Deno.remove(dir, { recursive: true });
  }
});
