import assert from "node:assert/strict";
import { chaosRun } from "./chaos.ts";

// A fixed set of seeds in CI; `deno task chaos --seeds 1000` runs many more.
for (const seed of [1, 2, 3, 7, 11, 42, 1234, 20261125]) {
  Deno.test(`chaos seed ${seed}: loss, partitions, a member restart and a reload; every invariant holds`, () => {
    const r = chaosRun(seed);
    assert.deepEqual(r.problems, [], `replay: deno task chaos --seeds 1 --from ${seed}`);
    assert.ok(r.switched > 0, "some calls were switched");
    assert.ok(r.frames > 0, "frames crossed the switch");
  });
}
