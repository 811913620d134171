/**
 * Interop topology 3: xl2tpd LAC → lts, which terminates the call itself
 * (a `terminate:` target), each in its own network namespace on port 1701.
 * The LAC's xl2tpd opens a tunnel with tunnel authentication and places a
 * call through its control pipe; the pppd stand-in (`pppd_standin.ts`)
 * bind-mounted over /usr/sbin/pppd is the PPP client, with the user's name
 * and password as pppd options. xl2tpd sends no proxy AVPs, so lts first
 * authenticates the user over PPP to learn the realm; its terminate rule
 * then takes that LCP and authentication as proxy (they check out against
 * the target's users) and goes on to IPCP, handing out an address from the
 * pool; LCP Echo then runs both ways. Hanging the
 * call up from xl2tpd (`h CALL`) sends a CDN, disconnecting the LAC (`d`) a
 * StopCCN; lts acknowledges both and forgets the call.
 *
 * Everything lts sends and receives is captured in its namespace and
 * checked: tshark finds nothing malformed and no expert warning, and
 * `lts decode` agrees with tshark on every packet.
 */
import assert from "node:assert/strict";
import type { SessionView, TunnelView } from "../../actors/control.ts";
import { decodeHeader } from "../../transport/header.ts";
import type { PacketDescription } from "../../transport/describe.ts";
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
import { createTopology, spawnIn, stopAll } from "./_netns.ts";
import { describeFrame, pppdLauncher } from "./pppd_standin.ts";

const NS = { lac: "lts-x-lac", sw: "lts-x-sw" };
const IP = { lac: "10.78.1.1", sw: "10.78.1.2" };
const SECRET = "terminate-secret";
const USER = "alice@local.example";
const PPP_PASSWORD = "alice-pw";
const POOL = { first: "10.200.0.10", last: "10.200.0.20", local: "10.200.0.1" };
const API_PORT = 18080;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const PROBE_PORT = 17197;

/** lts's policy: the LAC's realm ends here, on a target with one user, a pool and a 1 s echo. */
function ltsPolicy(): string {
  return `hostname: lts-sw
listen: ["0.0.0.0:1701"]
api: { listen: "127.0.0.1:${API_PORT}" }
lacs: [{ match: { hostname: "lac-*" }, secret: "${SECRET}" }]
terminate:
  local:
    users: [{ name: "${USER}", password: "${PPP_PASSWORD}" }]
    pool: ${POOL.first}-${POOL.last}
    local_address: ${POOL.local}
    dns: [10.200.0.53]
    echo: { interval: 1, max_missed: 3 }
rules: [{ name: local, match: { domain: "local.example" }, terminate: local }]
default: { reject: { result_code: 2 } }
`;
}

/** The stand-in's JSON-lines log. */
async function events(log: string): Promise<Record<string, unknown>[]> {
  return (await readText(log)).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** GET `path` from lts's API, in its namespace. */
async function api<T>(path: string): Promise<T> {
  const out = await inNetns(NS.sw, [
    ...["curl", "-sS", "--fail", "--max-time", "2"],
    `http://127.0.0.1:${API_PORT}${path}`,
  ]).output();
  if (out.code !== 0) throw new Error(`curl: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const sessions = (query: string) => api<SessionView[]>(`/sessions${query}`);

/** The PPP frames of the L2TP data messages from `from` to `to`, with their summary. */
function pppOn(described: { d: UdpDatagram; p: PacketDescription }[], from: string, to: string) {
  return described.filter(({ d, p }) =>
    p.type === "DATA" && d.src.startsWith(`${from}:`) && d.dst.startsWith(`${to}:`)
  ).map(({ d }) => {
    const h = decodeHeader(d.payload);
    assert.ok(h.ok);
    return describeFrame(d.payload.slice(h.value.payloadOffset, h.value.messageLength));
  });
}

Deno.test("xl2tpd LAC → lts terminating the call: IPCP opens with a pool address, LCP Echo both ways, hang-up handled", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lts-interop-terminate-" });
  const children: Deno.ChildProcess[] = [];
  const teardown = await createTopology(Object.values(NS), [
    [{ netns: NS.lac, name: "x-lac", address: IP.lac }, {
      netns: NS.sw,
      name: "x-sw",
      address: IP.sw,
    }],
  ]);
  const logs = {
    lts: `${dir}/lts.log`,
    lac: `${dir}/lac.log`,
    ppp: `${dir}/ppp.log`,
  };
  const withLogs = failWithLogs(logs);
  try {
    await Deno.writeTextFile(`${dir}/secrets`, `* * ${SECRET}\n`);
    await Deno.writeTextFile(
      `${dir}/lac.conf`,
      `[global]\nlisten-addr = ${IP.lac}\nport = 1701\nauth file = ${dir}/secrets\n` +
        `access control = no\n[lac test]\nlns = ${IP.sw}:1701\nhostname = lac-xl2tpd\n` +
        `challenge = yes\nhidden bit = yes\nlength bit = yes\nredial = no\n` +
        `name = ${USER}\npppoptfile = ${dir}/ppp-options\n`,
    );
    // What the stand-in reads as the PPP client: the password, a 1 s LCP Echo, its own log.
    await Deno.writeTextFile(
      `${dir}/ppp-options`,
      `password ${PPP_PASSWORD}\nlcp-echo-interval 1\nlcp-echo-failure 4\nlogfile ${logs.ppp}\n`,
    );
    await Deno.writeTextFile(`${dir}/lts.yaml`, ltsPolicy());
    const capture = `${dir}/lts.pcapng`;
    const stopCapture = await startCapture(capture, {
      filter: "udp port 1701",
      children,
      probePort: PROBE_PORT,
      iface: "any",
      netns: NS.sw,
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
    spawnIn(children, NS.lac, [
      ...["xl2tpd", "-D", "-c", `${dir}/lac.conf`],
      ...["-p", `${dir}/lac.pid`, "-C", `${dir}/lac.ctrl`],
    ], { log: logs.lac, bind: [[await pppdLauncher(dir), "/usr/sbin/pppd"]] });
    await withLogs(waitFor(
      async () => (await readText(logs.lac)).includes("Listening on"),
      5000,
      "xl2tpd to listen",
    ));
    // Writing before xl2tpd has made its control FIFO would create a plain file it never reads.
    await waitFor(
      async () => (await Deno.stat(`${dir}/lac.ctrl`).catch(() => null))?.isFifo === true,
      5000,
      "the FIFO",
    );
    await Deno.writeTextFile(`${dir}/lac.ctrl`, "c test\n");

    // The client opens IPCP, then three of its Echo-Requests answered and three of lts's answered.
    const after = (e: Record<string, unknown>[], event: string, code: string) => {
      const opened = e.findIndex((x) => x.event === "opened");
      return opened < 0 ? 0 : e.slice(opened).filter((x) => x.event === event && x.code === code)
        .length;
    };
    await withLogs(waitFor(
      async () => {
        const e = await events(logs.ppp);
        return after(e, "receive", "EchoReply") >= 3 && after(e, "receive", "EchoRequest") >= 3;
      },
      30000,
      "IPCP Opened and LCP Echo both ways",
    ));
    const ppp = await events(logs.ppp);
    const opened = ppp.find((x) => x.event === "opened")!;
    assert.equal(opened.address, POOL.first, "the first address of the pool");
    assert.deepEqual(opened.dns, { primary: "10.200.0.53" });
    for (const e of ppp) {
      assert.ok(!["failed", "closed", "hangup"].includes(e.event as string), JSON.stringify(e));
    }
    // The stand-in is the client, named by xl2tpd's `name`, and authenticated once.
    const start = ppp.find((x) => x.event === "start")!;
    assert.equal(start.role, "client");
    assert.equal(start.name, USER);
    assert.equal(ppp.filter((x) => x.event === "authenticated").length, 1);

    // lts's view: one call, terminated on `local` by rule `local`, with the address and the user.
    const terminated = await withLogs(sessions("?state=terminated"));
    assert.equal(terminated.length, 1, JSON.stringify(terminated));
    const [call] = terminated;
    assert.equal(call.state, "terminated");
    assert.equal(call.user, USER);
    assert.equal(call.rule, "local");
    assert.equal(call.upstream, null);
    assert.equal(call.outgoing, null);
    assert.equal(call.terminate?.target, "local");
    assert.equal(call.terminate?.address, POOL.first);
    assert.equal(call.incoming.peer, `${IP.lac}:1701`);
    const ltsLog = await readText(logs.lts);
    assert.match(ltsLog, /IPCP Opened, address "10\.200\.0\.10"/);
    // What lts learnt by authenticating the user itself checks out against the target's users, so
    // the terminate target takes it as proxy LCP and authentication and goes on to IPCP.
    assert.match(
      ltsLog,
      /terminated here on "local" by rule "local"; proxy LCP and authentication accepted: true/,
    );

    // Hang up from xl2tpd: `h` takes its own Call ID, which it logged with the call.
    const established = /Call established with .*Local: (\d+), Remote: (\d+)/.exec(
      await readText(logs.lac),
    );
    assert.ok(established, "xl2tpd logged the call");
    assert.equal(
      Number(established[2]),
      call.incoming.sessionId,
      "xl2tpd's Remote is our Session ID",
    );
    await Deno.writeTextFile(`${dir}/lac.ctrl`, `h ${established[1]}\n`);
    await withLogs(waitFor(
      async () => (await sessions("")).length === 0,
      10000,
      "lts to forget the call after xl2tpd's CDN",
    ));
    // lts acknowledges the CDN with a ZLB (after its ack delay, nothing else being sent).
    const acked = (type: string) => (all: { d: UdpDatagram; p: PacketDescription }[]) => {
      const i = all.findIndex(({ p }) => p.type === type);
      return i >= 0 &&
        all.slice(i).some(({ d, p }) =>
          p.type === "ZLB" && d.src.startsWith(`${IP.sw}:`) &&
          p.nr === ((all[i].p.ns! + 1) & 0xffff)
        );
    };
    await withLogs(waitForCapture(
      capture,
      { ports: [1701], ms: 5000, what: "lts's acknowledgement of the CDN in the capture" },
      acked("CDN"),
    ));
    // Then the tunnel: xl2tpd sends StopCCN.
    await Deno.writeTextFile(`${dir}/lac.ctrl`, "d test\n");
    await withLogs(waitForCapture(
      capture,
      { ports: [1701], ms: 10000, what: "lts's acknowledgement of the StopCCN in the capture" },
      acked("StopCCN"),
    ));
    // lts keeps the tunnel a retransmission cycle to acknowledge a retransmitted StopCCN
    // (RFC 2661 §5.7), no longer established and with no session.
    await withLogs(waitFor(
      async () => {
        const tunnels = await api<TunnelView[]>("/tunnels");
        return tunnels.every((t) => !t.established && t.sessions === 0);
      },
      5000,
      "lts to close the tunnel after xl2tpd's StopCCN",
    ));
    assert.match(
      await readText(logs.lts),
      /StopCCN from peer: '\{"resultCode":1,"errorCode":0,"errorMessage":"Goodbye!"\}'/,
    );
    await stopCapture();
    const lacLog = await readText(logs.lac);
    assert.match(lacLog, new RegExp(`Hanging up call \\d+, Local: ${established[1]},`));
    assert.match(lacLog, new RegExp(`Call ${established[1]} to 10\\.78\\.1\\.2 disconnected`));
    assert.match(lacLog, /Disconnecting from 10\.78\.1\.2/);

    const described = await withLogs(crossCheckCapture(capture, { ports: [1701], secret: SECRET }));
    const control = described.filter(({ p }) => p.type !== "ZLB" && p.type !== "DATA").map((
      { d, p },
    ) => `${d.src.startsWith(`${IP.lac}:`) ? "→" : "←"}${p.type}`);
    assert.deepEqual(
      control.filter((t) => t !== "→HELLO" && t !== "←HELLO"),
      ["→SCCRQ", "←SCCRP", "→SCCCN", "→ICRQ", "←ICRP", "→ICCN", "→CDN", "→StopCCN"],
      control.join(" "),
    );
    const at = (type: string) => described.findIndex(({ p }) => p.type === type);
    const cdn = described[at("CDN")].p, stopccn = described[at("StopCCN")].p;
    const avp = (p: PacketDescription, name: string) => p.avps.find((a) => a.name === name)?.value;
    assert.equal(cdn.sessionId, call.incoming.sessionId);
    // xl2tpd clears its call with result 1 (general request to clear) and says why.
    assert.deepEqual(avp(cdn, "Result Code"), {
      resultCode: 1,
      errorCode: 0,
      errorMessage: "Goodbye!",
    });
    assert.equal(stopccn.tunnelId, call.incoming.tunnelId);
    // lts acknowledged the CDN and the StopCCN (RFC 2661 §5.8).
    for (const [i, p] of [[at("CDN"), cdn], [at("StopCCN"), stopccn]] as const) {
      const ack = described.slice(i + 1).find(({ d, p }) =>
        d.src.startsWith(`${IP.sw}:`) && p.type !== "DATA" && p.tunnelId !== 0
      );
      assert.ok(ack, `lts acknowledged the ${p.type}`);
      assert.equal(ack.p.nr, (p.ns! + 1) & 0xffff, `Nr acknowledging the ${p.type}`);
    }

    // The PPP in the data messages: LCP, CHAP Challenge and Success (lts asks for CHAP first),
    // IPCP Configure-Nak (the address) and -Ack, then LCP Echo
    // both ways; after the CDN lts sends nothing more on the session.
    const fromLts = pppOn(described, IP.sw, IP.lac), fromLac = pppOn(described, IP.lac, IP.sw);
    const kinds = fromLts.map((x) => `${x.protocol}/${x.code}`);
    for (const k of ["0xc021/ConfigureRequest", "0xc223/1", "0xc223/3", "0x8021/3", "0x8021/2"]) {
      assert.ok(kinds.includes(k), `lts sent ${k}: ${kinds.join(" ")}`);
    }
    const requests = fromLac.filter((x) => x.code === "EchoRequest").map((x) => x.id);
    const replies = fromLts.filter((x) => x.code === "EchoReply").map((x) => x.id);
    assert.ok(requests.length >= 3, `${requests.length} Echo-Requests from the client`);
    for (const id of requests.slice(0, 3)) assert.ok(replies.includes(id), `Echo ${id} answered`);
    const asked = fromLts.filter((x) => x.code === "EchoRequest").map((x) => x.id);
    const answered = fromLac.filter((x) => x.code === "EchoReply").map((x) => x.id);
    assert.ok(asked.length >= 3, `${asked.length} Echo-Requests from lts`);
    for (const id of asked.slice(0, 3)) assert.ok(answered.includes(id), `Echo ${id} answered`);
    assert.ok(
      !described.slice(at("CDN")).some(({ d, p }) => p.type === "DATA" && d.src.startsWith(IP.sw)),
      "no data message from lts after the CDN",
    );
  } finally {
    await stopAll(children);
    await teardown();
    await Deno.remove(dir, { recursive: true });
  }
});
