/**
 * CI guard on the forwarding hot path: per-frame counts from
 * `bench/hotpath.ts` (sends, copies, forwarding lookups, entry accesses,
 * interpreter heap bytes) must stay within `bench/hotpath_budget.json`.
 * The counts do not depend on timing, so a loaded machine cannot fail this
 * test and a faster one cannot hide a regression. The harness runs in its own
 * process because the heap figure needs V8 flags (`--expose-gc`, optimizing
 * tiers off) that would change every other test.
 */
import assert from "node:assert/strict";
import type { HotPathCounts } from "../bench/hotpath.ts";

const HARNESS = new URL("../bench/hotpath.ts", import.meta.url).pathname;
const BUDGET = new URL("../bench/hotpath_budget.json", import.meta.url).pathname;

Deno.test("forwarding hot path stays within its committed per-frame budget", async () => {
  const budget = JSON.parse(await Deno.readTextFile(BUDGET)) as {
    frames: number;
    max: Record<Exclude<keyof HotPathCounts, "frames">, number>;
  };
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc,--no-opt,--no-maglev,--no-sparkplug",
      HARNESS,
      `${budget.frames}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const counts = JSON.parse(new TextDecoder().decode(out.stdout)) as HotPathCounts;
  assert.equal(counts.frames, budget.frames);
  const over = Object.entries(budget.max).filter(([k, max]) => {
    const v = counts[k as keyof HotPathCounts];
    return v === null || v > max;
  });
  assert.deepEqual(
    over,
    [],
    `per-frame counts ${JSON.stringify(counts)} exceed the budget ${JSON.stringify(budget.max)}`,
  );
});
