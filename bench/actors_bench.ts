/**
 * Actor runtime figures: message hand-off (send → handle on the production
 * MicrotaskScheduler, same thread) and spawn + stop.
 *
 *   tools/deno bench -A bench/actors_bench.ts
 *   tools/deno run -A bench/actors_bench.ts      # median ns/msg over 31 rounds
 *
 * One bench iteration hands off BATCH messages, so time/iter ÷ BATCH is the
 * cost per message; the `run` mode prints that division as a median.
 *
 * @module
 */

import {
  type Actor,
  type ActorRef,
  ActorSystem,
  ManualClock,
  MicrotaskScheduler,
} from "../actors/mod.ts";

const BATCH = 1000;

function handOffSetup() {
  const scheduler = new MicrotaskScheduler();
  const system = new ActorSystem({ clock: new ManualClock(), scheduler });
  let handled = 0;
  const counter: () => Actor<number> = () => ({ handle: (n) => void (handled += n) });
  const ref = system.spawn(counter, { capacity: BATCH });
  return {
    async handOff(): Promise<void> {
      for (let i = 0; i < BATCH; i++) ref.send(1);
      await scheduler.idle();
    },
    handled: () => handled,
    system,
  };
}

/** Two actors bounce a counter: every hand-off also makes the other actor runnable. */
function pingPongSetup() {
  const scheduler = new MicrotaskScheduler();
  const system = new ActorSystem({ clock: new ManualClock(), scheduler });
  const peers: ActorRef<number>[] = [];
  const bouncer = (other: number): () => Actor<number> => () => ({
    handle: (n) => void (n > 0 && peers[other].send(n - 1)),
  });
  peers.push(system.spawn(bouncer(1), { capacity: 4 }), system.spawn(bouncer(0), { capacity: 4 }));
  return async (): Promise<void> => {
    peers[0].send(BATCH - 1); // BATCH hand-offs in all
    await scheduler.idle();
  };
}

/** One message, then wait for it: includes the microtask that starts a drain. */
function singleSetup() {
  const scheduler = new MicrotaskScheduler();
  const system = new ActorSystem({ clock: new ManualClock(), scheduler });
  const ref = system.spawn<number>(() => ({ handle() {} }), { capacity: 4 });
  return async (): Promise<void> => {
    ref.send(1);
    await scheduler.idle();
  };
}

function spawnStopSetup() {
  const clock = new ManualClock();
  const system = new ActorSystem({ clock });
  const idle: () => Actor<number> = () => ({ handle() {} });
  return () => {
    const ref = system.spawn(idle, { capacity: 64 });
    system.stop(ref);
  };
}

/** Median over 31 rounds of `iterations` calls, in ns per message. */
async function median(
  label: string,
  run: () => Promise<void>,
  msgsPerCall: number,
  iterations: number,
): Promise<void> {
  for (let i = 0; i < iterations * 2; i++) await run(); // warm up the JIT
  const perMsg: number[] = [];
  for (let round = 0; round < 31; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await run();
    perMsg.push(((performance.now() - start) * 1e6) / (iterations * msgsPerCall));
  }
  perMsg.sort((a, b) => a - b);
  console.log(
    `${label}: median ${perMsg[15].toFixed(1)} ns/msg ` +
      `(min ${perMsg[0].toFixed(1)}, max ${perMsg[30].toFixed(1)})`,
  );
}

if (import.meta.main) {
  const { handOff, handled } = handOffSetup();
  await median(`hand-off send→handle, batches of ${BATCH}`, handOff, BATCH, 100);
  if (handled() !== (2 + 31) * 100 * BATCH) throw new Error("lost messages");
  await median("hand-off actor→actor ping-pong", pingPongSetup(), BATCH, 100);
  await median("hand-off of a lone message (incl. microtask)", singleSetup(), 1, 10_000);

  const spawnStop = spawnStopSetup();
  for (let i = 0; i < 100_000; i++) spawnStop();
  const perActor: number[] = [];
  for (let round = 0; round < 31; round++) {
    const start = performance.now();
    for (let i = 0; i < 10_000; i++) spawnStop();
    perActor.push(((performance.now() - start) * 1e6) / 10_000);
  }
  perActor.sort((a, b) => a - b);
  console.log(
    `spawn + stop: median ${perActor[15].toFixed(0)} ns/actor ` +
      `(min ${perActor[0].toFixed(0)}, max ${perActor[30].toFixed(0)})`,
  );
} else {
  const { handOff } = handOffSetup();
  Deno.bench(`hand-off send→handle, ${BATCH} messages per iteration`, {
    group: "hand-off",
  }, handOff);

  Deno.bench(`hand-off actor→actor ping-pong, ${BATCH} per iteration`, {
    group: "hand-off",
  }, pingPongSetup());
  Deno.bench("hand-off of a lone message, incl. microtask", { group: "hand-off" }, singleSetup());

  const spawnStop = spawnStopSetup();
  Deno.bench("spawn + stop one idle actor", { group: "lifecycle" }, spawnStop);
}
