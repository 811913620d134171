import assert from "node:assert/strict";
import fc from "fast-check";
import { isSeq, parseDocument } from "yaml";
import { readFlowItem } from "./_flow.ts";

/** Lines near the subset's edges: whatever the fast reader accepts, `yaml` reads the same. */
const token = fc.constantFrom(
  "{",
  "}",
  "[",
  "]",
  ", ",
  ",",
  ": ",
  ":",
  " ",
  "name",
  "a",
  "up-1",
  "a*",
  "*a",
  "@x",
  "0",
  "07",
  "12",
  "1.5",
  "0x1F",
  "-1",
  "true",
  "False",
  "null",
  "~",
  '"x y"',
  '"\\\\+44"',
  '"\\n"',
  '"a\\"b"',
  "'it''s'",
  "'",
  '"',
  " # c",
  "#",
  "no route",
  "!!str ",
  "&a ",
  "\t",
  '"é\u2028"',
  "'\u0085'",
  '"\\u0041"',
);
const line = fc.tuple(
  fc.constantFrom("  - ", "- ", "  -  ", "  -"),
  fc.array(token, { maxLength: 14 }),
)
  .map(([lead, ts]) => `${lead}${ts.join("")}\n`);
const plausible = fc.tuple(
  fc.array(fc.tuple(fc.constantFrom("name", "match", "forward", "x"), token, token), {
    maxLength: 4,
  }),
).map(([pairs]) => `  - { ${pairs.map(([k, a, b]) => `${k}: ${a}${b}`).join(", ")} }\n`);

Deno.test("the fast flow reader reads what yaml reads, or gives up", () => {
  fc.assert(
    fc.property(fc.oneof(line, plausible), (text) => {
      const node = readFlowItem(text);
      if (node === undefined) return;
      const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
      assert.deepEqual(doc.errors.map((e) => e.message), [], text);
      assert.ok(isSeq(doc.contents) && doc.contents.items.length === 1, text);
      assert.deepEqual(node.toJSON(), (doc.contents.items[0] as typeof node).toJSON(), text);
    }),
    { numRuns: 5000 },
  );
});

Deno.test("the fast flow reader takes the bench's rules", () => {
  for (
    const text of [
      '  - { name: v1-rule-0, match: { domain: "isp-0.example" }, forward: up-0 }\n',
      '  - { name: r, match: { calling_number: "^\\\\+44123" }, reject: { result_code: 2 } }\n',
      "  - { match: {}, terminate: {} }   # comment\n",
    ]
  ) {
    assert.ok(readFlowItem(text) !== undefined, text);
  }
});
