import assert from "node:assert/strict";
import { describeFrame, engineConfigFor, parsePppdArgs } from "./pppd_standin.ts";

Deno.test("parsePppdArgs reads xl2tpd's command lines and the options file they name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/options`,
      `# comment\npassword "pw 1"\nlcp-echo-interval 2\nlcp-echo-failure 3\nlogfile ${dir}/log\n`,
    );
    const lns = await parsePppdArgs([
      ...["/dev/pts/4", "passive", "nodetach", "10.99.0.1:10.99.0.2", "auth", "require-chap"],
      ...["file", `${dir}/options`],
    ]);
    assert.deepEqual(lns, {
      tty: "/dev/pts/4",
      role: "server",
      requireAuth: ["chap"],
      refuse: [],
      name: undefined,
      password: "pw 1",
      local: "10.99.0.1",
      remote: "10.99.0.2",
      echoIntervalS: 2,
      echoFailure: 3,
      logfile: `${dir}/log`,
    });
    const lac = await parsePppdArgs(
      ["/dev/pts/5", "passive", "nodetach", ":", "name", "alice", "refuse-pap", "ipparam", "x"],
      { password: "from-env" },
    );
    assert.equal(lac.role, "client");
    assert.equal(lac.name, "alice");
    assert.equal(lac.password, "from-env");
    assert.deepEqual(lac.refuse, ["pap"]);
    const config = engineConfigFor(lac);
    assert.equal(config.role, "client");
    assert.deepEqual(config.role === "client" ? config.acceptAuth : null, ["chap"]);
    assert.equal(config.echo, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describeFrame names LCP codes and gives other control protocols' codes", () => {
  assert.deepEqual(
    describeFrame(new Uint8Array([0xff, 0x03, 0xc0, 0x21, 9, 7, 0, 8, 1, 2, 3, 4])),
    {
      protocol: "0xc021",
      code: "EchoRequest",
      id: 7,
    },
  );
  assert.deepEqual(describeFrame(new Uint8Array([0x80, 0x21, 1, 2, 0, 4])), {
    protocol: "0x8021",
    code: 1,
    id: 2,
  });
  assert.deepEqual(describeFrame(new Uint8Array([0x00, 0x21, 0x45])), {
    protocol: "0x0021",
    length: 1,
  });
});
