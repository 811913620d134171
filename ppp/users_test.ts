import assert from "node:assert/strict";
import { formatPolicyErrors } from "../policies/error.ts";
import { loadUsersFile, type LocalUsers, parseUsers } from "./users.ts";

function users(text: string): LocalUsers {
  const r = parseUsers(text, "users.yaml");
  if (!r.ok) throw new Error(formatPolicyErrors(r.error));
  return r.value;
}

/** The `file:line:col: message` lines for a users file that must fail. */
function errors(text: string): string[] {
  const r = parseUsers(text, "users.yaml");
  assert.equal(r.ok, false, "users file was accepted");
  return r.ok ? [] : r.error.map(String);
}

const EXAMPLE = `users:
  - { name: "alice@isp-a.example", password: "s3cret" }
  - name: bob@isp-a.example
    password: "1234"
`;

Deno.test("users file: PAP verify and CHAP secretFor for the listed users", () => {
  const u = users(EXAMPLE);
  assert.equal(u.size, 2);
  assert.equal(u.acceptAll, false);
  assert.equal(u.verify("alice@isp-a.example", "s3cret"), true);
  assert.equal(u.verify("alice@isp-a.example", "s3cre"), false);
  assert.equal(u.verify("alice@isp-a.example", ""), false);
  assert.equal(u.verify("bob@isp-a.example", "1234"), true);
  assert.equal(u.verify("carol@isp-a.example", "s3cret"), false);
  assert.equal(u.verify("carol@isp-a.example", ""), false);
  assert.equal(u.secretFor("alice@isp-a.example"), "s3cret");
  assert.equal(u.secretFor("carol@isp-a.example"), undefined);
});

Deno.test("users file: accept_all lets anyone unlisted in, listed users still need their password", () => {
  const u = users(`accept_all: true\nusers: [{ name: alice, password: pw }]\n`);
  assert.equal(u.acceptAll, true);
  assert.equal(u.verify("anyone", "anything"), true);
  assert.equal(u.verify("alice", "pw"), true);
  assert.equal(u.verify("alice", "wrong"), false);
  assert.equal(users("accept_all: true\n").size, 0);
});

Deno.test("users file errors carry line:col of the offending node", () => {
  assert.deepEqual(
    errors(`users:
  - { name: alice, password: pw }
  - { name: carol, password: 1234 }
  - { name: bob }
  - { name: "", password: x, pasword: y }
  - { name: alice, password: other }
  - just-a-string
acept_all: true
accept_all: yes please
`),
    [
      "users.yaml:3:30: users[1].password must be a string (got 1234; quote it)",
      'users.yaml:4:5: users[2] has no "password"',
      "users.yaml:5:13: users[3].name must not be empty",
      'users.yaml:5:30: unknown key "pasword" in users[3]',
      'users.yaml:6:5: users[4]: "alice" is listed twice',
      "users.yaml:7:5: users[5] must be a mapping with name and password",
      'users.yaml:8:1: unknown key "acept_all" (expected users or accept_all)',
      "users.yaml:9:13: accept_all must be true or false",
    ],
  );
});

Deno.test("users file: YAML syntax errors, wrong shapes, nobody allowed, over-long passwords", () => {
  assert.deepEqual(errors("users: [\n"), [
    "users.yaml:2:1: Flow sequence in block collection must be sufficiently indented and end with a ]",
  ]);
  assert.deepEqual(errors("users: {}\n"), ["users.yaml:1:8: users must be a list"]);
  assert.deepEqual(errors("- alice\n"), [
    "users.yaml:1:1: a users file must be a mapping with users and accept_all",
  ]);
  assert.deepEqual(errors("users: []\n"), [
    "users.yaml:1:1: no users and accept_all is not true: nobody could log in",
  ]);
  assert.deepEqual(errors(`users: [{ name: a, password: "${"x".repeat(256)}" }]\n`), [
    "users.yaml:1:30: users[0].password is 256 bytes; PAP allows at most 255",
  ]);
  assert.deepEqual(errors("users: [{ name: a, password: b }]\nusers: []\n"), [
    "users.yaml:2:1: Map keys must be unique",
  ]);
});

Deno.test("loadUsersFile reads a file, and reports one that cannot be read without a position", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/users.yaml`;
    await Deno.writeTextFile(path, EXAMPLE);
    const r = await loadUsersFile(path);
    assert.ok(r.ok && r.value.verify("bob@isp-a.example", "1234"));
    const missing = await loadUsersFile(`${dir}/nope.yaml`);
    assert.ok(!missing.ok);
    assert.equal(missing.error[0].line, 0);
    assert.match(String(missing.error[0]), /nope\.yaml: cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
