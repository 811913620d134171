/**
 * `lts decode` against captures of a real L2TP implementation: two xl2tpd
 * daemons (LAC and LNS, tunnel authentication on, hidden AVPs asked for) set
 * up a tunnel and a call on loopback while tshark captures. pppd cannot run
 * on these machines (no /dev/ppp), so xl2tpd clears the call with CDN result
 * code 1 right after ICCN. lts must decode every frame with no error and
 * agree with tshark field for field, and xl2tpd's Challenge Responses must
 * verify with lts's tunnel authentication.
 */
import assert from "node:assert/strict";
import { verifyChallengeResponse } from "../../transport/auth.ts";
import { type Avp, readValue } from "../../transport/avp.ts";
import { describePacket } from "../../transport/describe.ts";
import { decodeControl, fieldsOf } from "../../transport/message.ts";
import { readCapture } from "../../transport/pcap.ts";
import { ltsView, tsharkL2tp } from "../_tshark.ts";
import { readText, startCapture, waitFor } from "./_capture.ts";

const LNS_PORT = 17101;
const LAC_PORT = 17102;
const PROBE_PORT = 17103;
const SECRET = "xl2tpd-s3cret";

Deno.test("lts decode agrees with tshark on an xl2tpd LAC ⇄ xl2tpd LNS capture", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lts-xl2tpd-" });
  const children: Deno.ChildProcess[] = [];
  try {
    await Deno.writeTextFile(`${dir}/secrets`, `* * ${SECRET}\n`);
    await Deno.writeTextFile(`${dir}/ppp-options`, "noauth\n");
    const common = `auth file = ${dir}/secrets\naccess control = no\n`;
    await Deno.writeTextFile(
      `${dir}/lns.conf`,
      `[global]\nlisten-addr = 127.0.0.1\nport = ${LNS_PORT}\n${common}[lns default]\nip range = 10.99.0.2-10.99.0.20\n` +
        `local ip = 10.99.0.1\nhostname = xl2tpd-lns\nchallenge = yes\nhidden bit = yes\nlength bit = yes\n` +
        `require authentication = no\npppoptfile = ${dir}/ppp-options\n`,
    );
    await Deno.writeTextFile(
      `${dir}/lac.conf`,
      `[global]\nlisten-addr = 127.0.0.1\nport = ${LAC_PORT}\n${common}[lac test]\nlns = 127.0.0.1:${LNS_PORT}\n` +
        `hostname = xl2tpd-lac\nchallenge = yes\nhidden bit = yes\nlength bit = yes\nredial = no\npppoptfile = ${dir}/ppp-options\n`,
    );
    const capture = `${dir}/xl2tpd.pcapng`;
    const stopCapture = await startCapture(capture, {
      filter: `udp port ${LNS_PORT} or udp port ${LAC_PORT}`,
      children,
      probePort: PROBE_PORT,
    });
    const xl2tpd = (role: string) => {
      const log = `${dir}/${role}.log`;
      // xl2tpd -D writes its log to stdout and stderr; exec keeps the PID ours to signal.
      const args = [
        "-D",
        "-c",
        `${dir}/${role}.conf`,
        "-s",
        `${dir}/secrets`,
        "-p",
        `${dir}/${role}.pid`,
        "-C",
        `${dir}/${role}.ctrl`,
      ];
      const child = new Deno.Command("bash", {
        args: ["-c", `exec xl2tpd ${args.join(" ")} >${log} 2>&1`],
        stdout: "null",
        stderr: "null",
      }).spawn();
      children.push(child);
      return log;
    };
    const lnsLog = xl2tpd("lns");
    const lacLog = xl2tpd("lac");
    await waitFor(
      async () => (await readText(lacLog)).includes("Listening on"),
      5000,
      "xl2tpd LAC to listen",
    );
    await waitFor(
      async () => (await readText(lnsLog)).includes("Listening on"),
      5000,
      "xl2tpd LNS to listen",
    );
    // Writing before xl2tpd has made its control FIFO would create a plain file it never reads.
    await waitFor(
      async () => (await Deno.stat(`${dir}/lac.ctrl`).catch(() => null))?.isFifo === true,
      5000,
      "the control FIFO",
    );
    await Deno.writeTextFile(`${dir}/lac.ctrl`, "c test\n");
    // Whichever side's pppd fails first sends the CDN; both sides then log the call's end.
    const cleared = async (log: string) =>
      /Connection closed|disconnected/.test(await readText(log));
    await waitFor(
      async () => (await cleared(lacLog)) && (await cleared(lnsLog)),
      10000,
      "xl2tpd to clear the call",
    )
      .catch(async (e) => {
        throw new Error(
          `${e.message}\nLAC log:\n${await readText(lacLog)}\nLNS log:\n${await readText(lnsLog)}`,
        );
      });
    await new Promise((r) => setTimeout(r, 300)); // let the last ZLB acknowledgement go out
    for (const child of children.slice(1)) child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    await stopCapture();
    for (const child of children) await child.status;
    children.length = 0;

    const read = readCapture(await Deno.readFile(capture));
    assert.ok(read.ok, read.ok ? "" : read.error);
    const datagrams = read.value.datagrams.filter((d) => d.dstPort !== PROBE_PORT);
    const secret = new TextEncoder().encode(SECRET);
    const described = datagrams.map((d) => describePacket(d.payload, { secret }));
    for (const [i, d] of described.entries()) {
      assert.deepEqual(d.errors, [], `frame ${datagrams[i].frame}`);
    }

    const types = described.map((d) => d.type);
    for (const t of ["SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CDN", "ZLB"]) {
      assert.ok(types.includes(t), `xl2tpd exchange has no ${t}: ${types.join(" ")}`);
    }
    const cdn = described.find((d) => d.type === "CDN")!;
    assert.deepEqual(cdn.avps.find((a) => a.name === "Result Code")!.value, {
      resultCode: 1,
      errorCode: 0,
    });

    // Field for field with tshark, frame numbers included.
    const viewedByTshark = await tsharkL2tp(capture, [LNS_PORT, LAC_PORT]);
    assert.equal(viewedByTshark.length, datagrams.length);
    for (const [i, { frame, malformed, ...t }] of viewedByTshark.entries()) {
      assert.equal(frame, datagrams[i].frame);
      assert.equal(malformed, "", `tshark: frame ${frame} malformed`);
      assert.deepEqual(ltsView(describePacket(datagrams[i].payload)), t, `frame ${frame}`);
    }

    // xl2tpd's tunnel authentication verifies with ours (RFC 2661 §5.1.1).
    const messages = datagrams.map((d) => decodeControl(d.payload, { secret })).filter((m) => m.ok)
      .map((m) => m.value);
    const sccrq = fieldsOf(messages.find((m) => m.type === "SCCRQ")!.avps);
    const sccrp = fieldsOf(messages.find((m) => m.type === "SCCRP")!.avps);
    const scccn = fieldsOf(messages.find((m) => m.type === "SCCCN")!.avps);
    assert.ok(verifyChallengeResponse("SCCRP", secret, sccrq.challenge!, sccrp.challengeResponse!));
    assert.ok(verifyChallengeResponse("SCCCN", secret, sccrp.challenge!, scccn.challengeResponse!));
    assert.ok(
      !verifyChallengeResponse(
        "SCCRP",
        new TextEncoder().encode("wrong"),
        sccrq.challenge!,
        sccrp.challengeResponse!,
      ),
    );
    const rv = (avps: Avp[]) => avps.find((a) => a.attributeType === 36);
    assert.ok(rv(messages[0].avps), "xl2tpd sends a Random Vector");
    assert.equal(readValue("u16", messages[0].avps[0].value), 1);
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
