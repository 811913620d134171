import assert from "node:assert/strict";
import { loadPolicy, loadPolicyFileOffThread } from "./mod.ts";

const TEXT = `hostname: a
lacs: [{ match: {} }]
upstreams: { isp-a: { members: [{ address: "127.0.0.1:1801" }] } }
rules:
  - { name: by-realm, match: { domain: "*.isp-a.example" }, forward: isp-a }
  - { name: by-number, match: { called_number: "^0800" }, reject: { result_code: 2 } }
`;

Deno.test("a policy loaded off the thread decides exactly as one loaded here", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, TEXT);
    const off = await loadPolicyFileOffThread(path);
    const here = loadPolicy(TEXT, path);
    assert.ok(off.ok && here.ok);
    for (
      const call of [{ user: "x@a.isp-a.example" }, { calledNumber: "0800123" }, { user: "y@z" }]
    ) {
      assert.deepEqual(off.value.decide(call), here.value.decide(call));
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("errors come back from the worker with file, line and column; a missing file is one error", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, "hostname: a\nlacs: [{ match: {} }]\nbogus: 1\n");
    const r = await loadPolicyFileOffThread(path);
    assert.ok(!r.ok);
    assert.equal(r.error[0].toString(), `${path}:3:1: unknown key "bogus" in the policy`);
    const missing = await loadPolicyFileOffThread(path + ".none");
    assert.ok(!missing.ok);
    assert.match(missing.error[0].toString(), /cannot read/);
  } finally {
    await Deno.remove(path);
  }
});
