import assert from "node:assert/strict";
import type { Actor, ActorRef } from "./system.ts";
import { actorName, ActorSystem } from "./system.ts";
import { ManualClock } from "./clock.ts";
import { LivelockError, MicrotaskScheduler, TestScheduler } from "./scheduler.ts";
import { testSystem } from "./testing.ts";

type Gossip = { from: string; hop: number };

/** Four actors pass messages around; who runs first is up to the scheduler. */
function gossipRun(seed: number) {
  const { system, scheduler } = testSystem({ seed });
  const peers: ActorRef<Gossip>[] = [];
  const peer = (me: string): () => Actor<Gossip> => () => ({
    onStart(ctx) {
      ctx.setTimer(5, { from: me, hop: 100 });
    },
    handle(msg) {
      if (msg.hop >= 100 || msg.hop >= 6) return;
      for (const p of peers) if (p.name !== me) p.send({ from: me, hop: msg.hop + 1 });
    },
  });
  for (const name of ["a", "b", "c", "d"]) {
    peers.push(system.spawn(peer(name), { name: actorName<Gossip>(name), capacity: 10_000 }));
  }
  for (const p of peers) p.send({ from: "test", hop: 0 });
  scheduler.advance(10);
  system.shutdown();
  return scheduler.trace;
}

Deno.test("TestScheduler: the same seed reproduces the trace; other seeds interleave differently", () => {
  const first = gossipRun(1234);
  assert.ok(first.length > 100);
  assert.deepEqual(gossipRun(1234), first);
  const others = [1, 2, 3].map(gossipRun);
  assert.ok(others.some((t) => JSON.stringify(t) !== JSON.stringify(first)));
  // Whatever the seed, the timer messages come after everything before t=5.
  const tick = first.findIndex((e) => e.time === 5);
  assert.ok(tick > 0 && first.slice(tick).every((e) => e.time === 5));
});

Deno.test("TestScheduler: step delivers exactly one message; runUntilIdle returns the count", () => {
  const { system, scheduler } = testSystem({ seed: 9 });
  const got: number[] = [];
  const ref = system.spawn<number>(() => ({ handle: (n) => void got.push(n) }), { capacity: 8 });
  ref.send(1);
  ref.send(2);
  ref.send(3);
  assert.equal(scheduler.ready, 1);
  assert.equal(scheduler.step(), true);
  assert.deepEqual(got, [1]);
  assert.equal(scheduler.runUntilIdle(), 2);
  assert.equal(scheduler.step(), false);
  assert.deepEqual(scheduler.trace.map((e) => [e.actor, e.message]), [
    [`#${ref.id}`, 1],
    [`#${ref.id}`, 2],
    [`#${ref.id}`, 3],
  ]);
  system.shutdown();
});

Deno.test("TestScheduler.advance runs actors to idle between timer instants", () => {
  const { system, scheduler, clock } = testSystem({ seed: 2 });
  const log: string[] = [];
  const ref = system.spawn<string>(() => ({
    onStart(ctx) {
      ctx.setTimer(10, "t10");
      ctx.setTimer(20, "t20");
    },
    handle(msg, ctx) {
      log.push(`${msg}@${ctx.now()}`);
      // Reacting to t10 arms a timer due before t20: it must fire in between.
      if (msg === "t10") ctx.setTimer(5, "t15");
    },
  }), { capacity: 8 });
  scheduler.advance(25);
  assert.deepEqual(log, ["t10@10", "t15@15", "t20@20"]);
  assert.equal(clock.now(), 25);
  system.stop(ref);
});

Deno.test("TestScheduler: a livelock is reported, not hung", () => {
  const clock = new ManualClock();
  const scheduler = new TestScheduler({ seed: 1, clock, maxSteps: 100 });
  const system = new ActorSystem({ clock, scheduler });
  const ref = system.spawn<"again">(() => ({ handle: (m, ctx) => void ctx.self.send(m) }), {
    capacity: 2,
  });
  ref.send("again");
  assert.throws(() => scheduler.runUntilIdle(), LivelockError);
  system.shutdown();
});

Deno.test("MicrotaskScheduler delivers in batches, round-robin, and resolves idle()", async () => {
  const scheduler = new MicrotaskScheduler({ batch: 2 });
  const system = new ActorSystem({ clock: new ManualClock(), scheduler });
  const order: string[] = [];
  const spawn = (tag: string) =>
    system.spawn<number>(() => ({ handle: (n) => void order.push(`${tag}${n}`) }), {
      capacity: 8,
    });
  const a = spawn("a"), b = spawn("b");
  for (let i = 0; i < 4; i++) a.send(i);
  for (let i = 0; i < 3; i++) b.send(i);
  assert.deepEqual(order, [], "nothing runs inside send()");
  await scheduler.idle();
  assert.deepEqual(order, ["a0", "a1", "b0", "b1", "a2", "a3", "b2"]);
  await scheduler.idle();
  system.shutdown();
});

Deno.test("MicrotaskScheduler yields to the event loop under a ping-pong that never ends", async () => {
  const scheduler = new MicrotaskScheduler({ batch: 1, turnsPerYield: 10 });
  const system = new ActorSystem({ clock: new ManualClock(), scheduler });
  let handled = 0;
  const ref = system.spawn<"ping">(() => ({
    handle(m, ctx) {
      if (++handled < 200) ctx.self.send(m);
    },
  }), { capacity: 2 });
  ref.send("ping");
  // A macrotask gets to run while the actor is still busy.
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  assert.ok(handled < 200, `handled ${handled} before the macrotask ran`);
  await scheduler.idle();
  assert.equal(handled, 200);
  system.shutdown();
});
