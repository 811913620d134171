import assert from "node:assert/strict";
import { EventBus, isCrash } from "./events.ts";

Deno.test("EventBus: a throwing subscriber neither stops the publisher nor the others", () => {
  const reported: unknown[] = [];
  const bus = new EventBus<number>({
    onSubscriberError: (error, event) => {
      reported.push([(error as Error).message, event]);
      throw new Error("the reporter fails too");
    },
  });
  const seen: number[] = [];
  bus.subscribe(() => {
    throw new Error("boom");
  });
  bus.subscribe((n) => seen.push(n));
  bus.publish(1);
  bus.publish(2);
  assert.deepEqual(seen, [1, 2]);
  assert.equal(bus.failures, 2);
  assert.deepEqual(reported, [["boom", 1], ["boom", 2]]);
});

Deno.test("EventBus: unsubscribing during publish takes effect from the next event", () => {
  const bus = new EventBus<string>();
  const seen: string[] = [];
  const off = bus.subscribe((e) => {
    seen.push(`a:${e}`);
    off();
  });
  bus.subscribe((e) => seen.push(`b:${e}`));
  assert.equal(bus.hasSubscribers, true);
  bus.publish("x");
  bus.publish("y");
  assert.deepEqual(seen, ["a:x", "b:x", "b:y"]);
});

Deno.test("isCrash tells crashes from orderly stops", () => {
  assert.equal(isCrash("normal"), false);
  assert.equal(isCrash("shutdown"), false);
  assert.equal(isCrash({ crashed: new Error("x") }), true);
});
