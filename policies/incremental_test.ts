import assert from "node:assert/strict";
import fc from "fast-check";
import { PolicyLoader, splitPolicy } from "./incremental.ts";
import { CompiledPolicy } from "./compile.ts";
import { parsePolicy } from "./parse.ts";
import type { CallFacts, PolicyConfig } from "./schema.ts";
import type { Result } from "../transport/result.ts";
import type { PolicyError } from "./error.ts";

// Random policies are built from small vocabularies so that rules collide
// (duplicate names, shared upstreams) and calls hit them.
const UPSTREAMS = ["up-a", "up-b", "up-c"];
const TARGETS = ["default", "local", "lab"];
// Mostly valid: a policy is accepted only when every part is.
const DOMAINS = ["a.example", "b.example", "*.c.example", "*", "a.example", "b.example"];
const NUMBERS = ["^0800", "^\\\\+44", "0900", "^0800", "^\\\\+44", "0900"];
/** Picks `rare` once in `n` times. */
const mostly = <T>(common: readonly T[], rare: readonly T[], n = 20) =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constantFrom(...common) }, {
    weight: 1,
    arbitrary: fc.constantFrom(...rare),
  });

const head = fc.record({
  upstreams: mostly([UPSTREAMS], [["up-a", "up-b"], []], 6),
  terminate: mostly([TARGETS.slice(1)], [["local"], []], 6),
  extra: mostly(["", "log: { level: debug }\n"], ["limits: { max_tunels: 1 }\n"]),
  hostname: mostly(["hostname: h\n"], ["hostname: 7\n", ""]),
}).map((h) => {
  let s = `${h.hostname}lacs: [{ match: {} }]\n${h.extra}`;
  if (h.upstreams.length > 0) {
    s += "upstreams:\n" +
      h.upstreams.map((u, i) => `  ${u}:\n    members:\n      - { address: 192.0.2.${i + 1} }\n`)
        .join("");
  }
  if (h.terminate.length > 0) {
    s += "terminate:\n" + h.terminate.map((t) => `  ${t}: {}\n`).join("");
  }
  return s;
});

const action = fc.oneof(
  mostly(UPSTREAMS, ["up-z"]).map((u) => ["forward", u] as const),
  mostly([...TARGETS, "{}"], ["nope"]).map((t) => ["terminate", t] as const),
  mostly(["{ result_code: 3 }", "{}"], ["{ result_code: 99 }"]).map((r) => ["reject", r] as const),
);

const match = fc.record({
  domain: fc.option(mostly(DOMAINS, ["bad..name"], 40), { nil: undefined }),
  called_number: fc.option(mostly(NUMBERS, ["^0800["], 40), { nil: undefined }),
  user: fc.option(fc.constantFrom("bob", "a*"), { nil: undefined }),
}, { requiredKeys: [] });

/** One rule, as a block-list item in flow style or block style. */
const rule = fc.record({
  name: fc.option(
    fc.oneof(
      { weight: 9, arbitrary: fc.nat(40).map((n) => `r${n}`) },
      { weight: 1, arbitrary: fc.constantFrom("rules[1]", '"q"', "7") },
    ),
    { nil: undefined },
  ),
  match,
  action,
  block: fc.boolean(),
  bogus: mostly([""], ["colour: red"], 40),
  comment: fc.constantFrom("", "", "    # note\n", "# note\n", "\n"),
}).map((r) => {
  const m = Object.entries(r.match).filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: "${v}"`);
  const parts = [
    ...(r.name === undefined ? [] : [`name: ${r.name}`]),
    `match: { ${m.join(", ")} }`,
    `${r.action[0]}: ${r.action[1]}`,
    ...(r.bogus === "" ? [] : [r.bogus]),
  ];
  return r.block
    ? `  - ${parts.join("\n    ")}\n${r.comment}`
    : `  - { ${parts.join(", ")} }\n${r.comment}`;
});

const policy = fc.record({
  head,
  rules: fc.array(rule, { minLength: 1, maxLength: 8 }),
  tail: fc.constantFrom("", "default: { terminate: {} }\n", "default: { forward: up-b }\n"),
});

/** An edit of the text: rules replaced, added, removed; the head changed; raw noise. */
const edit = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.nat(), rule).map(([i, r]) => ({ kind: "replace", i, r })) },
  { weight: 2, arbitrary: fc.tuple(fc.nat(), rule).map(([i, r]) => ({ kind: "insert", i, r })) },
  { weight: 2, arbitrary: fc.nat().map((i) => ({ kind: "remove", i, r: "" })) },
  { weight: 1, arbitrary: head.map((h) => ({ kind: "head", i: 0, r: h })) },
  {
    weight: 3,
    arbitrary: fc.tuple(
      fc.nat(),
      fc.constantFrom(
        "  ",
        "- ",
        "\t",
        "rules:\n",
        "rules: []\n",
        "---\n",
        "&a ",
        "*a",
        "!!str ",
        '"',
        "{",
        "}",
        "\n",
        "#",
        ": ",
        "x",
        "\r\n",
        "  - { forward: up-a }\n",
        "- { forward: up-a }\n",
        "default: {}\n",
        "%YAML 1.2\n",
      ),
    ).map(([i, r]) => ({ kind: "noise", i, r })),
  },
);

interface Policy {
  head: string;
  rules: string[];
  tail: string;
}

function render(p: Policy): string {
  return `${p.head}rules:\n${p.rules.join("")}${p.tail}`;
}

function apply(p: Policy, text: string, e: { kind: string; i: number; r: string }) {
  const rules = [...p.rules];
  switch (e.kind) {
    case "replace":
      rules[e.i % rules.length] = e.r;
      return { policy: { ...p, rules }, text: undefined };
    case "insert":
      rules.splice(e.i % (rules.length + 1), 0, e.r);
      return { policy: { ...p, rules }, text: undefined };
    case "remove":
      if (rules.length > 1) rules.splice(e.i % rules.length, 1);
      return { policy: { ...p, rules }, text: undefined };
    case "head":
      return { policy: { ...p, head: e.r }, text: undefined };
    default: {
      const at = e.i % (text.length + 1);
      return { policy: p, text: text.slice(0, at) + e.r + text.slice(at) };
    }
  }
}

const CALLS: CallFacts[] = [
  {},
  { user: "bob@a.example" },
  { user: "alice@b.example", calledNumber: "0800123" },
  { user: "x@q.c.example" },
  { user: "bob@z.c.example", callingNumber: "+4412" },
  { calledNumber: "0900" },
  { user: "a1" },
];

function same(
  got: Result<PolicyConfig, PolicyError[]>,
  want: Result<PolicyConfig, PolicyError[]>,
  text: string,
) {
  const show = () => `for:\n${text}`;
  if (!want.ok) {
    assert.ok(!got.ok, `accepted what a full parse refuses ${show()}`);
    assert.deepEqual(got.error.map(String), want.error.map(String), show());
    return;
  }
  assert.ok(got.ok, `refused what a full parse accepts: ${!got.ok && got.error} ${show()}`);
  assert.deepEqual(got.value, want.value, show());
  const a = new CompiledPolicy(got.value);
  const b = new CompiledPolicy(want.value);
  for (const call of CALLS) assert.deepEqual(a.decide(call), b.decide(call), show());
}

Deno.test("an incremental load equals a full parse, after any sequence of edits", async () => {
  await fc.assert(
    fc.asyncProperty(policy, fc.array(edit, { maxLength: 8 }), async (start, edits) => {
      const loader = new PolicyLoader({ offThreadAt: Infinity });
      let p: Policy = { head: start.head, rules: start.rules, tail: start.tail };
      let text = render(p);
      for (const e of [undefined, ...edits]) {
        if (e !== undefined) {
          const next = apply(p, text, e);
          p = next.policy;
          text = next.text ?? render(p);
        }
        same(await loader.parse(text, "p.yaml"), parsePolicy(text, "p.yaml"), text);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("a reload after a failed one still reuses, and still reports", async () => {
  const loader = new PolicyLoader({ offThreadAt: Infinity });
  const good =
    "hostname: h\nlacs: []\nrules:\n  - { name: a, terminate: {} }\n  - { name: b, reject: {} }\n";
  const dup = good.replace("name: b", "name: a");
  for (const text of [good, dup, good, dup]) {
    same(await loader.parse(text, "p.yaml"), parsePolicy(text, "p.yaml"), text);
  }
});

Deno.test("the cut: block lists only, each item with the lines that continue it", () => {
  const s = splitPolicy(
    "hostname: h\nrules:\n# lead\n- a: 1\n  b: 2\n\n# c\n- c\nlacs: []\n",
  );
  assert.deepEqual(s?.rules, ["- a: 1\n  b: 2\n\n# c\n", "- c\n"]);
  assert.equal(s?.head, "hostname: h\nrules:\n\n\n\n\n\n\nlacs: []\n");
  for (
    const text of [
      "rules: []\n",
      "rules:\n",
      "rules:\nlacs: []\n",
      "rules:\n  - a\n rules: 1\n",
      "rules:\n  - a\n  b\n",
      "%YAML 1.2\n---\nrules:\n  - a\n",
      "rules:\r\n  - a\r\n",
      "rules:\n  - a\nrules:\n  - b\n",
      "rules:\n\t- a\n",
    ]
  ) {
    assert.equal(splitPolicy(text), undefined, JSON.stringify(text));
  }
});
