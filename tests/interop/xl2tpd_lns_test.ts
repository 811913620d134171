/**
 * Against a real peer: xl2tpd 1.3.18 (Debian) as LNS, tunnel authentication
 * on (`challenge = yes`) and `hidden bit = yes`; `lts lac --hide` opens a
 * tunnel and places one call while tshark captures on loopback.
 *
 * What xl2tpd does after our ICCN, as the capture and its log show (pppd
 * cannot run here: no /dev/ppp):
 *   1. xl2tpd → ZLB acknowledging the ICCN (Nr = ICCN Ns + 1), at once;
 *   2. it starts pppd on a pty ("Call established … PID"), pppd exits with
 *      code 4 within milliseconds ("pppd exited for call … with code 4");
 *   3. xl2tpd → CDN with Result Code 1 / Error Code 0 ("General request to
 *      clear"), Assigned Session ID = its own Session ID, header Session ID =
 *      ours, a Random Vector and no hidden AVP (`hidden bit` only adds the
 *      Random Vector on xl2tpd's side);
 *   4. lts → ZLB acknowledging the CDN; the tunnel stays up, and at the end of
 *      `--duration` lts → StopCCN Result Code 6 ("Requester is being shut
 *      down"), xl2tpd → ZLB, and xl2tpd logs "Connection closed".
 * So lts counts the call as up (it is established once ICCN is sent, §7.4.1)
 * and then cleared by the peer with result code 1. xl2tpd reveals our hidden
 * Calling/Called Number correctly, and ignores the proxy LCP and proxy
 * authentication AVPs (it has no handler for them; none carries the M bit).
 */
import assert from "node:assert/strict";
import { verifyChallengeResponse } from "../../transport/auth.ts";
import { describePacket, type PacketDescription, toHex } from "../../transport/describe.ts";
import { decodeControl, fieldsOf } from "../../transport/message.ts";
import { readCapture, type UdpDatagram } from "../../transport/pcap.ts";
import { ltsView, tsharkL2tp } from "../_tshark.ts";
import { readText, startCapture, waitFor } from "./_capture.ts";

const LNS_PORT = 17111;
const PROBE_PORT = 17113;
const SECRET = "xl2tpd-lns-s3cret";
const MAIN_DIR = new URL("../../", import.meta.url);

const names = (d: PacketDescription) => d.avps.map((a) => a.name);
const avp = (d: PacketDescription, name: string) => d.avps.find((a) => a.name === name);

Deno.test("lts lac to xl2tpd LNS: tunnel and call come up, then xl2tpd sends CDN 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lts-xl2tpd-lns-" });
  const children: Deno.ChildProcess[] = [];
  try {
    await Deno.writeTextFile(`${dir}/secrets`, `* * ${SECRET}\n`);
    await Deno.writeTextFile(`${dir}/ppp-options`, "noauth\n");
    // `debug avp` makes xl2tpd log the Calling/Called Number it revealed from our hidden AVPs.
    await Deno.writeTextFile(
      `${dir}/lns.conf`,
      `[global]\nlisten-addr = 127.0.0.1\nport = ${LNS_PORT}\nauth file = ${dir}/secrets\n` +
        `access control = no\ndebug avp = yes\n[lns default]\nip range = 10.98.0.2-10.98.0.20\n` +
        `local ip = 10.98.0.1\nhostname = xl2tpd-lns\nchallenge = yes\nhidden bit = yes\n` +
        `length bit = yes\nrequire authentication = no\npppoptfile = ${dir}/ppp-options\n`,
    );
    const capture = `${dir}/lns.pcapng`;
    const stopCapture = await startCapture(capture, {
      filter: `udp port ${LNS_PORT}`,
      children,
      probePort: PROBE_PORT,
    });

    const lnsLog = `${dir}/lns.log`;
    const xl2tpdArgs = ["-D", "-c", `${dir}/lns.conf`, "-s", `${dir}/secrets`];
    xl2tpdArgs.push("-p", `${dir}/lns.pid`, "-C", `${dir}/lns.ctrl`);
    // xl2tpd -D writes its log to stdout and stderr; exec keeps the PID ours to signal.
    const xl2tpd = new Deno.Command("bash", {
      args: ["-c", `exec xl2tpd ${xl2tpdArgs.join(" ")} >${lnsLog} 2>&1`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    children.push(xl2tpd);
    await waitFor(
      async () => (await readText(lnsLog)).includes("Listening on"),
      5000,
      "xl2tpd LNS to listen",
    );

    const lac = await new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-A", "main.ts", "lac", "--server", `127.0.0.1:${LNS_PORT}`],
        ...["--secret", SECRET, "--hide", "--sessions", "1", "--duration", "2", "--timeout", "10"],
      ],
      cwd: MAIN_DIR,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const lacOut = new TextDecoder().decode(lac.stdout);
    const context = `lts lac exit ${lac.code}\nstdout: ${lacOut}\nstderr: ${
      new TextDecoder().decode(lac.stderr)
    }\nxl2tpd log:\n${await readText(lnsLog)}`;
    // lts's StopCCN is the last message; xl2tpd logs the tunnel's end once it has acknowledged it.
    await waitFor(
      async () => (await readText(lnsLog)).includes("Connection closed"),
      5000,
      "xl2tpd to close the tunnel",
    ).catch((e) => {
      throw new Error(`${e.message}\n${context}`);
    });
    await new Promise((r) => setTimeout(r, 300)); // let the last ZLB reach the capture
    xl2tpd.kill("SIGTERM");
    await xl2tpd.status;
    await stopCapture();
    children.length = 0;
    const log = await readText(lnsLog);

    // The summary: tunnel up, call up (established once ICCN is sent), then cleared by xl2tpd.
    assert.equal(lac.code, 0, context);
    const summary = JSON.parse(lacOut);
    assert.equal(summary.tunnels_up, 1, context);
    assert.equal(summary.sessions_up, 1, context);
    assert.equal(summary.sessions_failed, 0, context);
    assert.deepEqual(summary.result_codes, { "1": 1 }, context);

    // xl2tpd's side of the story: it revealed our hidden numbers and its pppd could not run.
    assert.match(log, /Connection established to 127\.0\.0\.1/);
    assert.match(log, /peer reports dialing number '02011'/);
    assert.match(log, /peer reports dialed number '08001'/);
    assert.match(log, /pppd exited for call \d+ with code 4/);
    assert.match(log, /peer closing for reason 6 \(Requester is being shut down\)/);

    const read = readCapture(await Deno.readFile(capture));
    assert.ok(read.ok, read.ok ? "" : read.error);
    const datagrams = read.value.datagrams.filter((d) => d.dstPort !== PROBE_PORT);
    const secret = new TextEncoder().encode(SECRET);
    const described = datagrams.map((d) => describePacket(d.payload, { secret }));
    for (const [i, d] of described.entries()) {
      assert.deepEqual(d.errors, [], `frame ${datagrams[i].frame}`);
      assert.deepEqual(d.warnings, [], `frame ${datagrams[i].frame}`);
    }
    const fromLts = (d: UdpDatagram) => d.dstPort === LNS_PORT;
    const trace = described.map((d, i) => `${fromLts(datagrams[i]) ? "→" : "←"}${d.type}`);

    // The control messages in order, ZLBs (and any LCP echo data) aside; → is lts to xl2tpd.
    const messages = trace.filter((t) => !/ZLB|DATA/.test(t));
    assert.deepEqual(
      messages,
      ["→SCCRQ", "←SCCRP", "→SCCCN", "→ICRQ", "←ICRP", "→ICCN", "←CDN", "→StopCCN"],
      trace.join(" "),
    );
    const at = (t: string) => trace.indexOf(t);
    const iccn = described[at("→ICCN")], cdn = described[at("←CDN")];
    const icrq = described[at("→ICRQ")], icrp = described[at("←ICRP")];
    const stopccn = described[at("→StopCCN")];
    // xl2tpd acknowledges the ICCN with a ZLB before its CDN (RFC 2661 §5.8).
    const ack = trace.indexOf("←ZLB", at("→ICCN"));
    assert.ok(ack > at("→ICCN") && ack < at("←CDN"), trace.join(" "));
    assert.equal(described[ack].nr, (iccn.ns! + 1) & 0xffff);
    // The CDN clears our call: addressed to our Session ID, naming xl2tpd's.
    assert.deepEqual(avp(cdn, "Result Code")!.value, { resultCode: 1, errorCode: 0 });
    assert.equal(cdn.sessionId, avp(icrq, "Assigned Session ID")!.value);
    assert.equal(avp(cdn, "Assigned Session ID")!.value, avp(icrp, "Assigned Session ID")!.value);
    assert.ok(cdn.avps.every((a) => !a.hidden));
    // lts acknowledges the CDN, and xl2tpd the StopCCN.
    const cdnAck = trace.indexOf("→ZLB", at("←CDN"));
    assert.ok(cdnAck > at("←CDN") && cdnAck < at("→StopCCN"), trace.join(" "));
    assert.equal(described[cdnAck].nr, (cdn.ns! + 1) & 0xffff);
    assert.deepEqual(avp(stopccn, "Result Code")!.value, { resultCode: 6 });
    const stopAck = trace.indexOf("←ZLB", at("→StopCCN"));
    assert.ok(stopAck > at("→StopCCN"), trace.join(" "));
    assert.equal(described[stopAck].nr, (stopccn.ns! + 1) & 0xffff);

    // Our sensitive AVPs are hidden on the wire (§4.3) and reveal with the secret.
    const hiddenIn = (type: string, expected: Record<string, unknown>) => {
      const i = at(`→${type}`);
      const concealed = describePacket(datagrams[i].payload);
      assert.ok(names(concealed).includes("Random Vector"), `${type} has a Random Vector`);
      for (const [name, value] of Object.entries(expected)) {
        const wire = avp(concealed, name)!;
        assert.ok(wire, `${type} has ${name}`);
        assert.equal(wire.hidden, true, `${type} ${name} hidden`);
        assert.equal(wire.revealed, false, `${type} ${name} not revealed without the secret`);
        const revealed = avp(described[i], name)!;
        assert.equal(revealed.hidden, true);
        assert.equal(revealed.revealed, undefined);
        assert.deepEqual(revealed.value, value, `${type} ${name}`);
      }
    };
    hiddenIn("ICRQ", { "Calling Number": "02011", "Called Number": "08001" });
    hiddenIn("ICCN", {
      "Proxy Authen Name": "user1@isp-a.example",
      "Proxy Authen ID": 1,
      "Proxy Authen Response": toHex(new TextEncoder().encode("secret")),
      "Initial Received LCP CONFREQ": avp(iccn, "Last Received LCP CONFREQ")!.value,
    });
    assert.equal(avp(iccn, "Proxy Authen Type")!.value, 3); // PAP

    // Tunnel authentication both ways (RFC 2661 §5.1.1).
    const fields = (type: string) => {
      const m = decodeControl(datagrams[at(type)].payload, { secret });
      assert.ok(m.ok);
      return fieldsOf(m.value.avps);
    };
    const sccrq = fields("→SCCRQ"), sccrp = fields("←SCCRP"), scccn = fields("→SCCCN");
    assert.ok(verifyChallengeResponse("SCCRP", secret, sccrq.challenge!, sccrp.challengeResponse!));
    assert.ok(verifyChallengeResponse("SCCCN", secret, sccrp.challenge!, scccn.challengeResponse!));

    // Field for field with tshark, frame numbers included; tshark finds nothing malformed.
    const viewedByTshark = await tsharkL2tp(capture, [LNS_PORT]);
    assert.equal(viewedByTshark.length, datagrams.length);
    for (const [i, { frame, malformed, ...t }] of viewedByTshark.entries()) {
      assert.equal(frame, datagrams[i].frame);
      assert.equal(malformed, "", `tshark: frame ${frame} malformed`);
      assert.deepEqual(ltsView(describePacket(datagrams[i].payload)), t, `frame ${frame}`);
    }
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
