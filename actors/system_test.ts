import assert from "node:assert/strict";
import fc from "fast-check";
import type { ActorEvent, StopReason } from "./events.ts";
import type { OverflowPolicy } from "./mailbox.ts";
import { ActorRegistry, IdAllocator } from "./registry.ts";
import { childSpec, supervisor } from "./supervisor.ts";
import {
  type Actor,
  type ActorContext,
  actorName,
  type ActorRef,
  type ChildExit,
  NameTakenError,
  RestartIntensityError,
  type RestartType,
  type Supervision,
} from "./system.ts";
import { testSystem } from "./testing.ts";

function recordEvents(system: { events: { subscribe(fn: (e: ActorEvent) => void): unknown } }) {
  const events: string[] = [];
  system.events.subscribe((e) => {
    const who = e.actor.name ?? `#${e.actor.id}`;
    switch (e.type) {
      case "spawned":
      case "restarted":
        events.push(`${e.type} ${who}`);
        break;
      case "stopped":
        events.push(`stopped ${who} ${typeof e.reason === "string" ? e.reason : "crashed"}`);
        break;
      case "crashed":
        events.push(`crashed ${who} ${e.during}: ${(e.error as Error).message}`);
        break;
      case "mailbox_full":
        events.push(`mailbox_full ${who} ${e.policy} ${e.outcome}`);
        break;
      default: {
        const never: never = e;
        throw new Error(`unexpected ${never}`);
      }
    }
  });
  return events;
}

// ---- A miniature tunnel with sessions, shaped like the protocol actors ----

type SessionMsg = { type: "data"; n: number } | { type: "boom" } | { type: "hello_timeout" };
type TunnelMsg = { type: "open"; name: string } | { type: "to"; name: string; msg: SessionMsg };

interface World {
  log: string[];
  forwarding: Map<number, string>;
}

function session(world: World, name: string, sessionId: number): () => Actor<SessionMsg> {
  return () => ({
    onStart(ctx) {
      world.forwarding.set(sessionId, name);
      ctx.setTimer(60_000, { type: "hello_timeout" });
    },
    handle(msg) {
      if (msg.type === "boom") throw new Error(`${name} exploded`);
      if (msg.type === "data") world.log.push(`${name} got ${msg.n}`);
    },
    onStop(reason) {
      world.forwarding.delete(sessionId);
      world.log.push(`${name} stop ${typeof reason === "string" ? reason : "crashed"}`);
    },
  });
}

function tunnel(world: World, sessionIds: IdAllocator): () => Actor<TunnelMsg> {
  return () => {
    const sessions = new ActorRegistry<string, SessionMsg>({
      onRemove: () => undefined,
    });
    const byRef = new Map<number, number>();
    return {
      onStart(ctx) {
        ctx.setTimer(60_000, { type: "open", name: "never" });
      },
      handle(msg, ctx) {
        switch (msg.type) {
          case "open": {
            const id = sessionIds.allocate();
            if (!id.ok) return;
            const ref = ctx.spawnChild(session(world, msg.name, id.value), {
              name: actorName<SessionMsg>(msg.name),
              capacity: 16,
              restart: "temporary",
            });
            byRef.set(ref.id, id.value);
            sessions.register(msg.name, ref);
            break;
          }
          case "to":
            sessions.lookup(msg.name)?.send(msg.msg);
            break;
        }
      },
      onChildExit(exit: ChildExit) {
        const reason = exit.reason;
        if (typeof reason === "object") world.log.push(`tunnel sends CDN for ${exit.child.name}`);
        sessionIds.release(byRef.get(exit.child.id)!);
        byRef.delete(exit.child.id);
      },
      onStop() {
        world.log.push(`tunnel stop, ${sessions.size} sessions registered`);
        for (const id of byRef.values()) sessionIds.release(id);
      },
    };
  };
}

Deno.test("crash isolation: a throwing session leaves its siblings and its tunnel running; the tunnel decides", () => {
  const { system, scheduler } = testSystem({ seed: 11 });
  const events = recordEvents(system);
  const world: World = { log: [], forwarding: new Map() };
  const sessionIds = new IdAllocator();
  const t = system.spawn(tunnel(world, sessionIds), { name: actorName("tunnel"), capacity: 64 });
  for (const name of ["s1", "s2", "s3"]) t.send({ type: "open", name });
  scheduler.runUntilIdle();
  const s2 = system.lookup(actorName<SessionMsg>("s2"))!;
  t.send({ type: "to", name: "s2", msg: { type: "boom" } });
  t.send({ type: "to", name: "s1", msg: { type: "data", n: 1 } });
  t.send({ type: "to", name: "s3", msg: { type: "data", n: 3 } });
  scheduler.runUntilIdle();
  assert.equal(s2.alive, false);
  assert.equal(s2.send({ type: "data", n: 0 }), "closed");
  assert.ok(t.alive);
  assert.deepEqual(world.log.filter((l) => !l.includes("got")), [
    "s2 stop crashed",
    "tunnel sends CDN for s2",
  ]);
  assert.ok(world.log.includes("s1 got 1") && world.log.includes("s3 got 3"));
  assert.deepEqual([...world.forwarding.values()].sort(), ["s1", "s3"]);
  assert.equal(sessionIds.size, 2, "the crashed session's id was released by the tunnel");
  assert.ok(events.includes("crashed s2 handle: s2 exploded"));
  assert.equal(events.filter((e) => e.startsWith("crashed")).length, 1);
  assert.equal(events.filter((e) => e.startsWith("stopped")).length, 1);
  system.shutdown();
});

Deno.test("cleanup on stop: sessions stop first (newest first), then the tunnel; nothing is left", () => {
  const { system, scheduler, clock } = testSystem({ seed: 5 });
  const world: World = { log: [], forwarding: new Map() };
  const sessionIds = new IdAllocator();
  const tunnelIds = new IdAllocator();
  const tunnels = new ActorRegistry<number, TunnelMsg>({ onRemove: (id) => tunnelIds.release(id) });
  const tid = tunnelIds.allocate();
  assert.ok(tid.ok);
  const t = system.spawn(tunnel(world, sessionIds), { capacity: 64 });
  assert.equal(tunnels.register(tid.value, t), "ok");
  for (const name of ["s1", "s2", "s3"]) t.send({ type: "open", name });
  scheduler.runUntilIdle();
  assert.equal(system.actorCount, 4);
  assert.equal(clock.pendingTimers, 4);
  assert.equal(world.forwarding.size, 3);
  assert.equal(sessionIds.size, 3);

  assert.equal(system.stop(t), true);
  assert.equal(system.stop(t), false);
  assert.deepEqual(world.log, [
    "s3 stop shutdown",
    "s2 stop shutdown",
    "s1 stop shutdown",
    "tunnel stop, 0 sessions registered",
  ]);
  assert.equal(clock.pendingTimers, 0);
  assert.equal(system.actorCount, 0);
  assert.equal(world.forwarding.size, 0);
  assert.equal(sessionIds.size, 0);
  assert.equal(tunnels.size, 0);
  assert.equal(tunnelIds.size, 0);
  for (const name of ["s1", "s2", "s3"]) assert.equal(system.lookup(actorName(name)), undefined);
  scheduler.runUntilIdle();
  assert.equal(scheduler.trace.filter((e) => e.time > 0).length, 0);
});

// ---- Supervision ----

type Cmd = "crash" | "exit" | "count";

function worker(log: string[], name: string): () => Actor<Cmd> {
  return () => {
    let count = 0;
    return {
      onStart() {
        log.push(`start ${name}`);
      },
      handle(msg, ctx) {
        if (msg === "crash") throw new Error(`${name} crashed`);
        if (msg === "exit") ctx.stop("normal");
        if (msg === "count") log.push(`${name}=${++count}`);
      },
      onStop(reason) {
        log.push(`stop ${name} ${typeof reason === "string" ? reason : "crashed"}`);
      },
    };
  };
}

function tree(
  supervision: Supervision,
  restarts: RestartType[],
  seed = 1,
) {
  const { system, scheduler, clock } = testSystem({ seed });
  const log: string[] = [];
  const exits: string[] = [];
  const names = restarts.map((_, i) => String.fromCharCode(97 + i));
  const sup = system.spawn<never>(() => ({
    ...supervisor(
      names.map((n, i) =>
        childSpec(worker(log, n), { name: actorName<Cmd>(n), capacity: 8, restart: restarts[i] })
      ),
    ),
    onChildExit(exit) {
      exits.push(`${exit.child.name} ${exit.restarted ? "restarted" : "gone"}`);
    },
  }), { name: actorName("sup"), capacity: 1, supervision });
  const ref = (n: string) => system.lookup(actorName<Cmd>(n))!;
  return { system, scheduler, clock, log, exits, sup, ref };
}

Deno.test("one_for_one restarts only the crashed child, with fresh state and the same ref", () => {
  const t = tree({ strategy: "one_for_one", intensity: 3, periodMs: 1000 }, [
    "permanent",
    "permanent",
    "permanent",
  ]);
  const [a, b, c] = ["a", "b", "c"].map(t.ref);
  for (const r of [a, b, c]) r.send("count");
  t.scheduler.runUntilIdle();
  t.log.length = 0;
  b.send("crash");
  t.scheduler.runUntilIdle();
  assert.deepEqual(t.log, ["stop b crashed", "start b"]);
  assert.deepEqual(t.exits, ["b restarted"]);
  assert.equal(t.ref("b"), b);
  assert.ok(b.alive);
  for (const r of [a, b, c]) r.send("count");
  t.scheduler.runUntilIdle();
  assert.deepEqual(t.log.slice(2).sort(), ["a=2", "b=1", "c=2"]);
  t.system.shutdown();
  assert.equal(t.system.actorCount, 0);
});

Deno.test("rest_for_one stops the younger siblings newest first and restarts them in order; temporary ones stay down", () => {
  const t = tree({ strategy: "rest_for_one", intensity: 3, periodMs: 1000 }, [
    "permanent",
    "permanent",
    "transient",
    "temporary",
  ]);
  const a = t.ref("a"), d = t.ref("d");
  t.log.length = 0;
  t.ref("b").send("crash");
  t.scheduler.runUntilIdle();
  assert.deepEqual(t.log, [
    "stop b crashed",
    "stop d shutdown",
    "stop c shutdown",
    "start b",
    "start c",
  ]);
  assert.deepEqual(t.exits, ["b restarted"]);
  assert.ok(a.alive && t.ref("b").alive && t.ref("c").alive);
  assert.equal(d.alive, false);
  assert.equal(t.system.actorCount, 4);
  t.system.shutdown();
});

Deno.test("restart types: permanent always comes back, transient only after a crash, temporary never", () => {
  const t = tree({ strategy: "one_for_one", intensity: 10, periodMs: 1000 }, [
    "permanent",
    "transient",
    "transient",
    "temporary",
  ]);
  t.ref("a").send("exit");
  t.ref("b").send("exit");
  t.ref("c").send("crash");
  t.ref("d").send("crash");
  t.scheduler.runUntilIdle();
  assert.deepEqual(t.exits.sort(), ["a restarted", "b gone", "c restarted", "d gone"]);
  assert.deepEqual(
    ["a", "b", "c", "d"].map((n) => t.system.lookup(actorName<Cmd>(n))?.alive ?? false),
    [true, false, true, false],
  );
  t.system.shutdown();
});

Deno.test("restart intensity: one restart too many within the period fails the supervisor upward", () => {
  const { system, scheduler, clock } = testSystem({ seed: 3 });
  const events = recordEvents(system);
  const log: string[] = [];
  const topExits: ChildExit[] = [];
  let inner: ActorRef<never> | undefined;
  system.spawn<never>(() => ({
    onStart(ctx) {
      inner = ctx.spawnChild<never>(
        () =>
          supervisor([
            childSpec(worker(log, "w"), {
              name: actorName<Cmd>("w"),
              capacity: 4,
              restart: "permanent",
            }),
          ]),
        {
          name: actorName("inner"),
          capacity: 1,
          restart: "temporary",
          supervision: { strategy: "one_for_one", intensity: 2, periodMs: 1000 },
        },
      );
    },
    handle() {},
    onChildExit(exit) {
      topExits.push(exit);
    },
  }), { name: actorName("top"), capacity: 1 });
  const w = system.lookup(actorName<Cmd>("w"))!;

  // Crashes spaced more than a period apart never exceed the intensity.
  for (let i = 0; i < 4; i++) {
    w.send("crash");
    scheduler.advance(1100);
  }
  assert.ok(inner!.alive && w.alive);

  w.send("crash");
  scheduler.runUntilIdle();
  w.send("crash");
  scheduler.runUntilIdle();
  assert.ok(inner!.alive, "two restarts within the period are allowed");
  w.send("crash");
  scheduler.runUntilIdle();
  assert.equal(inner!.alive, false);
  assert.equal(w.alive, false);
  assert.equal(topExits.length, 1);
  const reason = topExits[0].reason;
  assert.ok(typeof reason === "object" && reason.crashed instanceof RestartIntensityError);
  assert.equal(reason.crashed.intensity, 2);
  assert.equal(topExits[0].restarted, false);
  assert.ok(
    events.includes("crashed inner child_exit: inner: more than 2 restarts in 1000 ms (last: w)"),
  );
  assert.equal(clock.pendingTimers, 0);
  assert.equal(system.actorCount, 1);
  system.shutdown();
});

Deno.test("a stop from outside is an exit the parent supervises: a permanent child comes back", () => {
  const t = tree({ strategy: "one_for_one", intensity: 5, periodMs: 1000 }, [
    "permanent",
    "permanent",
  ]);
  const a = t.ref("a");
  assert.equal(t.system.stop(a), true);
  assert.equal(a.alive, false);
  t.scheduler.runUntilIdle();
  assert.deepEqual(t.exits, ["a restarted"]);
  assert.ok(a.alive);
  t.system.shutdown();
});

Deno.test("stopChild stops a child for good, without onChildExit", () => {
  const { system, scheduler } = testSystem({ seed: 1 });
  const exits: ChildExit[] = [];
  let child: ActorRef<Cmd> | undefined;
  let ctxRef: ActorContext<"drop"> | undefined;
  system.spawn<"drop">(() => ({
    onStart(ctx) {
      ctxRef = ctx;
      child = ctx.spawnChild(worker([], "c"), { capacity: 4, restart: "permanent" });
    },
    handle(_msg, ctx) {
      assert.equal(ctx.stopChild(child!), true);
      assert.equal(ctx.stopChild(child!), false);
    },
    onChildExit: (e) => void exits.push(e),
  }), { name: actorName<"drop">("p"), capacity: 2 }).send("drop");
  scheduler.runUntilIdle();
  assert.equal(child!.alive, false);
  assert.equal(ctxRef!.childCount, 0);
  assert.deepEqual(exits, []);
  system.shutdown();
});

Deno.test("a throw while starting is a crash the parent sees; the ref is closed", () => {
  const { system, scheduler } = testSystem({ seed: 1 });
  const events = recordEvents(system);
  const exits: ChildExit[] = [];
  let child: ActorRef<string> | undefined;
  system.spawn<never>(() => ({
    onStart(ctx) {
      child = ctx.spawnChild<string>(() => {
        throw new Error("no state");
      }, { name: actorName<string>("broken"), capacity: 4, restart: "temporary" });
    },
    handle() {},
    onChildExit: (e) => void exits.push(e),
  }), { capacity: 1 });
  scheduler.runUntilIdle();
  assert.equal(child!.alive, false);
  assert.equal(child!.send("x"), "closed");
  assert.equal(exits.length, 1);
  assert.ok(events.includes("crashed broken start: no state"));
  assert.equal(system.lookup(actorName("broken")), undefined);
  system.shutdown();
});

Deno.test("names are unique while held and free again once the actor stops", () => {
  const { system } = testSystem({ seed: 1 });
  const NAME = actorName<string>("listener");
  const a = system.spawn<string>(() => ({ handle() {} }), { name: NAME, capacity: 1 });
  assert.throws(
    () => system.spawn<string>(() => ({ handle() {} }), { name: NAME, capacity: 1 }),
    NameTakenError,
  );
  assert.equal(system.lookup(NAME), a);
  system.stop(a);
  const b = system.spawn<string>(() => ({ handle() {} }), { name: NAME, capacity: 1 });
  assert.equal(system.lookup(NAME), b);
  system.shutdown();
});

// ---- Mailboxes through send() ----

type Kinded = { kind: OverflowPolicy; n: number };

Deno.test("send at capacity, for every overflow policy: results, stats and events", () => {
  const { system, scheduler } = testSystem({ seed: 1 });
  const events = recordEvents(system);
  const got: string[] = [];
  const ref = system.spawn<Kinded>(() => ({
    overflow: (m) => m.kind,
    handle: (m) => void got.push(`${m.kind[0]}${m.n}`),
  }), { name: actorName<Kinded>("box"), capacity: 2, reserved: 1 });
  const send = (kind: OverflowPolicy, n: number) => ref.send({ kind, n });
  assert.equal(send("reject_newest", 1), "ok");
  assert.equal(send("drop_oldest", 2), "ok");
  assert.equal(send("reject_newest", 3), "full");
  assert.equal(send("drop_oldest", 4), "ok");
  assert.equal(send("must_deliver", 5), "ok");
  assert.equal(send("must_deliver", 6), "full");
  assert.deepEqual(ref.mailbox(), { length: 3, capacity: 2, reserved: 1, rejected: 2, dropped: 1 });
  assert.deepEqual(events.filter((e) => e.startsWith("mailbox_full")), [
    "mailbox_full box reject_newest rejected",
    "mailbox_full box drop_oldest dropped_oldest",
    "mailbox_full box must_deliver rejected",
  ]);
  scheduler.runUntilIdle();
  assert.deepEqual(got, ["d2", "d4", "m5"]);
  assert.equal(ref.mailbox().length, 0);
  system.stop(ref);
  assert.equal(send("must_deliver", 7), "closed");
});

Deno.test("per-sender FIFO: whatever the interleaving, each sender's messages arrive in order", () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 1, max: 5 }), (seed, senders) => {
      const { system, scheduler } = testSystem({ seed });
      const received = new Map<number, number[]>();
      const sink = system.spawn<{ from: number; seq: number }>(() => ({
        handle(m) {
          const list = received.get(m.from) ?? [];
          list.push(m.seq);
          received.set(m.from, list);
        },
        overflow: () => "must_deliver",
      }), { capacity: 4, reserved: 1000 });
      for (let s = 0; s < senders; s++) {
        let seq = 0;
        const sender = system.spawn<"tick">(() => ({
          handle(_m, ctx) {
            sink.send({ from: s, seq: seq++ });
            if (seq < 20) ctx.self.send("tick");
            if (seq % 3 === 0) sink.send({ from: s, seq: seq++ });
          },
        }), { capacity: 2 });
        sender.send("tick");
      }
      scheduler.runUntilIdle();
      assert.equal(received.size, senders);
      for (const list of received.values()) {
        assert.deepEqual(list, Array.from({ length: list.length }, (_, i) => i));
        assert.ok(list.length >= 20);
      }
      system.shutdown();
    }),
    { numRuns: 50 },
  );
});

// ---- Handlers, timers, stop ----

Deno.test("an async handler is never re-entered; later messages wait for it", async () => {
  const { system, scheduler } = testSystem({ seed: 4 });
  let running = 0, maxRunning = 0;
  const done: number[] = [];
  const ref = system.spawn<number>(() => ({
    async handle(n) {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await Promise.resolve();
      await new Promise<void>((r) => queueMicrotask(r));
      done.push(n);
      running--;
    },
  }), { capacity: 8 });
  for (let i = 0; i < 5; i++) ref.send(i);
  scheduler.runUntilIdle();
  assert.equal(scheduler.trace.length, 1, "the first message is in flight, the rest wait");
  await scheduler.settle();
  assert.deepEqual(done, [0, 1, 2, 3, 4]);
  assert.equal(maxRunning, 1);
  system.shutdown();
});

Deno.test("a rejected promise from handle crashes the actor like a throw", async () => {
  const { system, scheduler } = testSystem({ seed: 4 });
  const events = recordEvents(system);
  let stopped: StopReason | undefined;
  const ref = system.spawn<string>(() => ({
    async handle(m) {
      await Promise.resolve();
      if (m === "bad") throw new Error("async failure");
    },
    onStop: (r) => void (stopped = r),
  }), { name: actorName<string>("async"), capacity: 8 });
  ref.send("fine");
  ref.send("bad");
  ref.send("never handled");
  await scheduler.settle();
  assert.equal(ref.alive, false);
  assert.ok(typeof stopped === "object" && (stopped.crashed as Error).message === "async failure");
  assert.deepEqual(scheduler.trace.map((e) => e.message), ["fine", "bad"]);
  assert.ok(events.includes("crashed async handle: async failure"));
});

Deno.test("stopping an actor mid-await: cleanup runs now, the late result is ignored", async () => {
  const { system, scheduler, clock } = testSystem({ seed: 4 });
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const after: string[] = [];
  const ref = system.spawn<string>(() => ({
    onStart: (ctx) => void ctx.setTimer(100, "tick"),
    async handle(m) {
      await gate;
      after.push(m);
      throw new Error("too late to matter");
    },
  }), { capacity: 8 });
  ref.send("slow");
  scheduler.runUntilIdle();
  system.stop(ref);
  assert.equal(clock.pendingTimers, 0);
  release();
  await scheduler.settle();
  assert.deepEqual(after, ["slow"]);
  assert.equal(system.actorCount, 0);
});

Deno.test("ctx.stop takes effect when the handler returns; sends are closed from then on", () => {
  const { system, scheduler } = testSystem({ seed: 1 });
  const log: string[] = [];
  const ref = system.spawn<string>(() => ({
    handle(m, ctx) {
      ctx.stop("normal");
      log.push(`after stop, send to self: ${ctx.self.send("again")}`);
      log.push(`timer while stopping: ${ctx.setTimer(5, "x").id}`);
      log.push(`handled ${m}`);
    },
    onStop: (r) => void log.push(`onStop ${r}`),
  }), { capacity: 8 });
  ref.send("one");
  ref.send("two");
  scheduler.runUntilIdle();
  assert.deepEqual(log, [
    "after stop, send to self: closed",
    "timer while stopping: 0",
    "handled one",
    "onStop normal",
  ]);
  assert.equal(system.actorCount, 0);
});

Deno.test("actor timers deliver to self, can be cancelled, and are counted", () => {
  const { system, scheduler, clock } = testSystem({ seed: 1 });
  const got: string[] = [];
  let ctxOf: ActorContext<string> | undefined;
  const ref = system.spawn<string>(() => ({
    onStart(ctx) {
      ctxOf = ctx;
      ctx.setTimer(10, "retransmit");
      const hello = ctx.setTimer(20, "hello");
      ctx.setTimer(30, "later");
      assert.equal(ctx.timerCount, 3);
      assert.equal(ctx.cancelTimer(hello), true);
      assert.equal(ctx.cancelTimer(hello), false);
    },
    handle: (m, ctx) => void got.push(`${m}@${ctx.now()}`),
  }), { capacity: 8 });
  assert.equal(ctxOf!.timerCount, 2);
  assert.equal(clock.pendingTimers, 2);
  scheduler.advance(15);
  assert.deepEqual(got, ["retransmit@10"]);
  assert.equal(ctxOf!.timerCount, 1);
  system.stop(ref);
  assert.equal(ctxOf!.timerCount, 0);
  assert.equal(clock.pendingTimers, 0);
  scheduler.advance(100);
  assert.deepEqual(got, ["retransmit@10"]);
});

Deno.test("lifecycle events arrive in order on the one bus; a failing subscriber changes nothing", () => {
  const { system, scheduler } = testSystem({ seed: 1 });
  system.events.subscribe(() => {
    throw new Error("bad subscriber");
  });
  const events = recordEvents(system);
  const r = system.spawn<Cmd>(worker([], "solo"), { name: actorName<Cmd>("solo"), capacity: 2 });
  r.send("count");
  scheduler.runUntilIdle();
  system.stop(r, "normal");
  assert.deepEqual(events, ["spawned solo", "stopped solo normal"]);
  assert.equal(system.events.failures, 2);
});

Deno.test("lifecycle events for a supervised crash: crashed, stopped, restarted", () => {
  const t = tree({ strategy: "one_for_one", intensity: 1, periodMs: 1000 }, ["permanent"]);
  const events = recordEvents(t.system);
  t.ref("a").send("crash");
  t.scheduler.runUntilIdle();
  assert.deepEqual(events, ["crashed a handle: a crashed", "stopped a crashed", "restarted a"]);
  t.system.shutdown();
  assert.deepEqual(events.slice(3), ["stopped a shutdown", "stopped sup shutdown"]);
});
