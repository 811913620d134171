/** `terminate:` targets and `terminate: NAME` rules: parsing, defaults, errors, users files. */
import assert from "node:assert/strict";
import { loadPolicy, loadPolicyFile } from "./mod.ts";

const BASE = "hostname: lts-a\nlacs: [{ match: {} }]\n";

function errors(text: string): string[] {
  const r = loadPolicy(text, "lts.yaml");
  assert.equal(r.ok, false, "policy was accepted");
  return r.ok ? [] : r.error.map(String);
}

Deno.test("terminate targets: every key read, defaults filled in, rules name their target", () => {
  const r = loadPolicy(
    `${BASE}terminate:
  corp:
    auth: [pap]
    users: [{ name: "a@corp.example", password: "pw" }]
    accept_all: false
    pool: 10.9.0.0/24
    local_address: 10.8.0.1
    dns: [10.8.0.53, 10.8.0.54]
    echo: { interval: 5, max_missed: 2 }
  lab: {}
rules:
  - { name: corp, match: { domain: corp.example }, terminate: corp }
  - { name: lab, match: { domain: lab.example }, terminate: {} }
`,
    "lts.yaml",
  );
  assert.ok(r.ok, r.ok ? "" : r.error.join("\n"));
  const corp = r.value.config.terminate.get("corp")!;
  assert.deepEqual(corp.auth, ["pap"]);
  assert.deepEqual(corp.users, [{ name: "a@corp.example", password: "pw" }]);
  assert.equal(corp.pool.first, 0x0a090001, "a CIDR pool leaves out the network address");
  assert.equal(corp.pool.last, 0x0a0900fe, "and the broadcast address");
  assert.equal(corp.localAddress, "10.8.0.1");
  assert.deepEqual(corp.dns, ["10.8.0.53", "10.8.0.54"]);
  assert.deepEqual(corp.echo, { interval: 5, maxMissed: 2 });
  const lab = r.value.config.terminate.get("lab")!;
  assert.deepEqual(lab.auth, ["chap", "pap"]);
  assert.equal(lab.localAddress, "100.64.0.1");
  assert.deepEqual(lab.echo, { interval: 30, maxMissed: 3 });
  // `terminate: {}` names the built-in target "default", which lets nobody in.
  const builtIn = r.value.config.terminate.get("default")!;
  assert.deepEqual(builtIn.users, []);
  assert.equal(builtIn.acceptAll, false);
  assert.deepEqual(r.value.decide({ user: "x@corp.example" }), {
    rule: "corp",
    action: "terminate",
    target: "corp",
  });
  assert.deepEqual(r.value.decide({ user: "x@lab.example" }), {
    rule: "lab",
    action: "terminate",
    target: "default",
  });
});

Deno.test("terminate targets: mistakes are reported at their line and column", () => {
  assert.deepEqual(
    errors(
      `${BASE}terminate:\n  corp: {}\nrules:\n  - { match: { domain: x }, terminate: crop }\n`,
    ),
    ['lts.yaml:6:40: unknown terminate target "crop" in rules[0] (did you mean "corp"?)'],
  );
  assert.deepEqual(
    errors(`${BASE}terminate:\n  corp: { pool: 10.0.0.10-10.0.0.20, local_address: 10.0.0.15 }\n`),
    ['lts.yaml:4:53: terminate "corp": local_address 10.0.0.15 is inside the pool'],
  );
  assert.deepEqual(
    errors(`${BASE}terminate:\n  corp: { auth: [chap, mschap-v2] }\n`),
    ['lts.yaml:4:24: terminate "corp": auth is pap or chap, not "mschap-v2" (MS-CHAP is not supported)'],
  );
  const more = errors(
    `${BASE}terminate:\n  corp:\n    users: [{ name: a }]\n    pool: 10.0.0.300-10.0.0.1\n    dns: [1.1.1.1, 8.8.8.8, 9.9.9.9]\n    echo: { interval: -1 }\n    color: blue\n`,
  );
  assert.equal(more.length, 5, more.join("\n"));
  assert.match(more[0], /^lts\.yaml:5:13: .*users\[0\] needs name and password/);
  assert.match(more[1], /^lts\.yaml:6:11: .*pool/);
  assert.match(more[2], /^lts\.yaml:7:10: .*at most a primary and a secondary/);
  assert.match(more[3], /^lts\.yaml:8:23: .*echo\.interval/);
  assert.match(more[4], /^lts\.yaml:9:5: .*color/);
});

Deno.test("terminate targets: a users_file beside the policy adds its users; a bad one fails the load", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/users.yaml`,
      'users:\n  - { name: "b@corp.example", password: "pw2" }\naccept_all: true\n',
    );
    await Deno.writeTextFile(
      `${dir}/lts.yaml`,
      `${BASE}terminate:\n  corp:\n    users: [{ name: "a@corp.example", password: "pw" }]\n    users_file: users.yaml\n`,
    );
    const r = await loadPolicyFile(`${dir}/lts.yaml`);
    assert.ok(r.ok, r.ok ? "" : r.error.join("\n"));
    const corp = r.value.config.terminate.get("corp")!;
    assert.deepEqual(corp.users.map((u) => u.name), ["a@corp.example", "b@corp.example"]);
    assert.equal(corp.acceptAll, true);
    await Deno.writeTextFile(`${dir}/users.yaml`, "users:\n  - { name: nopass }\n");
    const bad = await loadPolicyFile(`${dir}/lts.yaml`);
    assert.equal(bad.ok, false);
    assert.match(
      bad.ok ? "" : String(bad.error[0]),
      /users\.yaml:2:5: users\[0\] has no "password"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
