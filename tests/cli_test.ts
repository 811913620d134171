import assert from "node:assert/strict";
import { main } from "../cli/mod.ts";
import { demoCall } from "./_scripted_call.ts";
import { writePcap, writePcapng } from "../transport/pcap.ts";

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

Deno.test("lts --help lists every command; each command answers --help with exit 0", async () => {
  const top = await run(["--help"]);
  assert.equal(top.code, 0);
  const names = ["run", "check", "explain", "demo", "lac", "lns", "decode"];
  for (const name of names) {
    assert.match(top.out.join("\n"), new RegExp(`^  ${name} `, "m"));
    const help = await run([name, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out.join("\n"), new RegExp(`^lts ${name}`));
  }
});

Deno.test("usage errors exit 2: no command, unknown command, unknown option, bad value", async () => {
  assert.equal((await run([])).code, 2);
  assert.equal((await run(["frobnicate"])).code, 2);
  const unknownOption = await run(["decode", "--hex", "00", "--bogus"]);
  assert.equal(unknownOption.code, 2);
  assert.match(unknownOption.err.join("\n"), /bogus/);
  assert.equal((await run(["decode"])).code, 2, "neither --hex nor --pcap");
  assert.equal((await run(["decode", "--hex", "abc"])).code, 2, "odd hex");
  assert.equal((await run(["decode", "--pcap", "x", "--port", "70000"])).code, 2);
  // --data-plane is checked the same way by every command that binds a socket, before it binds.
  for (
    const args of [
      ["run", "--config", "x.yaml"],
      ["lac", "--server", "127.0.0.1:1"],
      ["lns", "--listen", "127.0.0.1:0"],
    ]
  ) {
    const bad = await run([...args, "--data-plane", "dpdk"]);
    assert.equal(bad.code, 2, args[0]);
    assert.match(bad.err.join("\n"), /--data-plane is one of ffi, deno, auto/);
  }
});

Deno.test("lts decode --hex prints one JSON object with the issue's fields", async () => {
  const r = await run([
    "decode",
    "--hex",
    "c8 02 00 14 00 07 00 00 00 01 00 02 80 08 00 00 00 00 00 06",
  ]);
  assert.equal(r.code, 0);
  assert.equal(r.out.length, 1);
  assert.deepEqual(JSON.parse(r.out[0]), {
    frame: 1,
    src: null,
    dst: null,
    type: "HELLO",
    tunnelId: 7,
    sessionId: 0,
    ns: 1,
    nr: 2,
    length: 20,
    avps: [{
      type: 0,
      name: "Message Type",
      vendorId: 0,
      mandatory: true,
      hidden: false,
      value: 6,
    }],
    errors: [],
    warnings: [],
  });
});

Deno.test("lts decode --hex of a malformed packet prints its errors and exits 1", async () => {
  const r = await run(["decode", "--hex", "c8 01 00 0c 00 07 00 00 00 01 00 02"]);
  assert.equal(r.code, 1);
  const line = JSON.parse(r.out[0]);
  assert.equal(line.type, null);
  assert.equal(line.errors[0].code, "bad_version");
});

Deno.test("lts decode --pcap reads pcap and pcapng, filters by port, and reveals hidden AVPs with --secret", async () => {
  const steps = demoCall();
  const datagrams = steps.map((s) => ({ src: s.from, dst: s.to, payload: s.payload }));
  const other = {
    src: "127.0.0.1:5000",
    dst: "127.0.0.1:5001",
    payload: new Uint8Array([1, 2, 3]),
  };
  for (const write of [writePcap, writePcapng]) {
    const path = await Deno.makeTempFile();
    try {
      await Deno.writeFile(path, write([...datagrams, other]));
      const plain = await run(["decode", "--pcap", path]);
      assert.equal(plain.code, 0, plain.err.join("\n"));
      const lines = plain.out.map((l) => JSON.parse(l));
      assert.equal(lines.length, steps.length, "the datagram on port 5000 is not L2TP");
      assert.deepEqual(lines.map((l) => l.frame), steps.map((_, i) => i + 1));
      assert.equal(lines[0].src, "127.0.0.1:40001");
      const iccn = lines.find((l) => l.type === "ICCN");
      const name = iccn.avps.find((a: { type: number }) => a.type === 30);
      assert.equal(name.revealed, false);

      const revealed = await run(["decode", "--pcap", path, "--secret", "demo-secret"]);
      const iccn2 = revealed.out.map((l) => JSON.parse(l)).find((l) => l.type === "ICCN");
      assert.equal(
        iccn2.avps.find((a: { type: number }) => a.type === 30).value,
        "alice@isp-a.example",
      );

      const any = await run(["decode", "--pcap", path, "--port", "any"]);
      assert.equal(any.out.length, steps.length + 1);
      assert.equal(any.code, 1, "the non-L2TP datagram decodes with errors");
    } finally {
      await Deno.remove(path);
    }
  }
});

Deno.test("lts decode --pcap of a file that is not a capture exits 1 with a message", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, new TextEncoder().encode("not a capture"));
    const r = await run(["decode", "--pcap", path]);
    assert.equal(r.code, 1);
    assert.match(r.err.join("\n"), /lts decode/);
    assert.equal((await run(["decode", "--pcap", path + ".missing"])).code, 1);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("lts demo: routing, failover to the backup, reload; every expectation holds; capture decodes", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const r = await run(["demo", "--out", path, "--sessions", "4", "--duration", "1"]);
    assert.equal(r.code, 0, r.out.join("\n") + r.err.join("\n"));
    const text = r.out.join("\n");
    assert.match(text, /✓ user4@isp-b\.example\s+switched to lns-isp-b-1/);
    assert.match(
      text,
      // Rejects so far: two realms refused in act 1, one wrong password in act 4.
      /sessions by upstream\s+setups\/s\s+frames\/s\s+rejects\n\s+1\s+isp-a:\d+ isp-b:\d+\s+\d+\s+[1-9]\d*\s+3/,
    );
    assert.match(
      text,
      /✓ grace@isp-b\.example\s+PPP with lts, switched to lns-isp-b-1, LCP echo 3\/3 back/,
    );
    assert.match(
      text,
      /✓ henry@corp\.example\s+terminated here: IPCP Opened, address 10\.99\.0\.\d+/,
    );
    assert.match(text, /✓ mallory@corp\.example\s+.*CDN result 2: authentication failed/);
    assert.match(
      text,
      /henry@corp\.example\s+rule corp\s+→ terminated on corp, address 10\.99\.0\.\d+/,
    );
    assert.match(text, /✓ alice@isp-a\.example\s+switched to lns-isp-a-1\s+LCP echo 3\/3 back/);
    assert.match(text, /✓ eve@spam\.blocked\.example\s+CDN result 2: realm not served/);
    assert.match(text, /✓ carol@isp-a\.example\s+switched to lns-isp-a-2/);
    assert.match(text, /✓ dave2@partner\.example\s+switched to lns-isp-b-1/);
    assert.match(text, /alice@isp-a\.example\s+rule isp-a .* policy v1/);
    assert.match(text, /Every expectation held\./);
    assert.doesNotMatch(text, /✗/);
    const decoded = await run([
      "decode",
      "--pcap",
      path,
      "--port",
      "any",
      "--secret",
      "lac-secret",
    ]);
    assert.equal(decoded.code, 0, decoded.err.join("\n"));
    const types = new Set(decoded.out.map((l) => JSON.parse(l).type));
    for (
      const t of [
        "SCCRQ",
        "SCCRP",
        "SCCCN",
        "ICRQ",
        "ICRP",
        "ICCN",
        "CDN",
        "StopCCN",
        "DATA",
        "ZLB",
      ]
    ) {
      assert.ok(types.has(t), `no ${t} in the switch's capture`);
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("main.ts runs as a program: --version exits 0, a usage error exits 2", async () => {
  const root = new URL("../main.ts", import.meta.url);
  const version = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", root.pathname, "--version"],
    stdout: "piped",
  }).output();
  assert.equal(version.code, 0);
  assert.match(new TextDecoder().decode(version.stdout), /^lts \d+\.\d+\.\d+/);
  const usage = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", root.pathname, "nope"],
    stderr: "piped",
  }).output();
  assert.equal(usage.code, 2);
});

Deno.test("lts decode follows a tunnel whose responder answers from another port (RFC 2661 §8.1)", async () => {
  const steps = demoCall();
  const moved = steps.map((s) => ({
    src: s.from === "127.0.0.1:1701" && s !== steps[0] ? "127.0.0.1:3000" : s.from,
    dst: s.to === "127.0.0.1:1701" && s !== steps[0] ? "127.0.0.1:3000" : s.to,
    payload: s.payload,
  }));
  const stranger = { src: "127.0.0.1:4000", dst: "127.0.0.1:4001", payload: steps[1].payload };
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, writePcap([...moved, stranger]));
    const r = await run(["decode", "--pcap", path]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.equal(
      r.out.length,
      steps.length,
      "every frame of the tunnel, and not the unrelated pair",
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("lts decode exits 1 when a frame of the capture is malformed", async () => {
  const good = writePcap([{
    src: "127.0.0.1:1701",
    dst: "127.0.0.1:40000",
    payload: demoCall()[0].payload,
  }]);
  // Classic pcap: 24-octet file header, 16-octet record header, then Ethernet (14), IPv4 (20), UDP.
  const bad = good.slice();
  const udpLength = 24 + 16 + 14 + 20 + 4;
  bad[udpLength] = 0xff; // a UDP Length past the end of the frame
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, bad);
    const r = await run(["decode", "--pcap", path]);
    assert.equal(r.code, 1);
    assert.match(r.err.join("\n"), /malformed/);
  } finally {
    await Deno.remove(path);
  }
});
