import assert from "node:assert/strict";

// `deno compile` needs a runtime download this network blocks; the bundle is
// the single-file artefact we can build and run here (see README).
Deno.test("deno task bundle output runs on its own: --help, check, decode, and run to listening", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/lts.js`;
    const root = new URL("..", import.meta.url).pathname;
    const bundle = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "deno", "-o", out, "main.ts"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(bundle.code, 0, new TextDecoder().decode(bundle.stderr));
    // Outside the project there is no deno.json: the flags come on the command line.
    const lts = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--unstable-net", out, ...args],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
    const help = await lts("--help");
    assert.equal(help.code, 0);
    assert.match(new TextDecoder().decode(help.stdout), /run .*\n(.|\n)*decode/);
    const decode = await lts("decode", "--hex", "c802000c0007000000010002");
    assert.equal(decode.code, 0);
    assert.equal(JSON.parse(new TextDecoder().decode(decode.stdout)).type, "ZLB");
    const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (socket.addr as Deno.NetAddr).port;
    socket.close();
    await Deno.writeTextFile(
      `${dir}/lts.yaml`,
      `hostname: b\nlisten: ["127.0.0.1:${port}"]\nlacs: [{ match: {} }]\n`,
    );
    const check = await lts("check", "--config", `${dir}/lts.yaml`);
    assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
    const run = await lts("run", "--config", `${dir}/lts.yaml`, "--duration", "1");
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    assert.match(
      new TextDecoder().decode(run.stdout),
      new RegExp(`listening on 127\\.0\\.0\\.1:${port}`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
