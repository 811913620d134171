import assert from "node:assert/strict";

// `deno compile` needs a runtime download this network blocks; the bundle is
// the single-file artefact we can build and run here (see README).
Deno.test("deno task bundle output runs: --help lists the commands and decode works", async () => {
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
    const help = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", out, "--help"],
      cwd: dir,
      stdout: "piped",
    }).output();
    assert.equal(help.code, 0);
    assert.match(new TextDecoder().decode(help.stdout), /decode/);
    const decode = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", out, "decode", "--hex", "c802000c0007000000010002"],
      cwd: dir,
      stdout: "piped",
    }).output();
    assert.equal(decode.code, 0);
    assert.equal(JSON.parse(new TextDecoder().decode(decode.stdout)).type, "ZLB");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
