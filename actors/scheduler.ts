/**
 * Schedulers decide when actors with queued messages run. The production
 * {@link MicrotaskScheduler} drains ready actors in batches from a microtask;
 * the {@link TestScheduler} delivers one message at a time, picking the next
 * actor with a seeded PRNG, so a seed reproduces an interleaving exactly.
 *
 * @module
 */

import { Ring } from "./_ring.ts";
import type { ManualClock } from "./clock.ts";
import type { ActorInfo } from "./events.ts";
import { Prng } from "./prng.ts";

/** An actor as a scheduler sees it. */
export interface Runnable {
  /**
   * Handles up to `max` queued messages, one at a time.
   * @returns true when messages remain and the actor must be scheduled again;
   * false when it is idle, stopped, or awaiting an async handler (it
   * reschedules itself when that settles).
   */
  drain(max: number): boolean;
}

/** Runs actors that have messages. */
export interface Scheduler {
  /** `actor` has messages; called once per idle → ready transition. */
  schedule(actor: Runnable): void;
  /** Told the in-flight continuation of an async handler, so tests can await it. */
  track?(settled: Promise<void>): void;
  /** Told each delivery, just before `handle()` runs; tests record traces with it. */
  readonly onDeliver?: ((actor: ActorInfo, msg: unknown) => void) | undefined;
}

/** Options for {@link MicrotaskScheduler}. */
export interface MicrotaskSchedulerOptions {
  /** Messages one actor handles before the next ready actor gets a turn. Default 64. */
  batch?: number;
  /** Actor turns per microtask drain before yielding to I/O with a macrotask. Default 4096. */
  turnsPerYield?: number;
}

/**
 * The production scheduler: a FIFO run queue drained from a microtask, each
 * actor handling up to `batch` messages per turn. A synchronous handler costs
 * no Promise; only a handler that returns one is awaited.
 *
 * @example
 * ```ts
 * import { MicrotaskScheduler } from "./scheduler.ts";
 * const scheduler = new MicrotaskScheduler({ batch: 32 });
 * await scheduler.idle();
 * ```
 */
export class MicrotaskScheduler implements Scheduler {
  readonly onDeliver: undefined = undefined;
  #queue = new Ring<Runnable>();
  #pending = false;
  #batch: number;
  #turnsPerYield: number;
  #idle: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(options: MicrotaskSchedulerOptions = {}) {
    this.#batch = options.batch ?? 64;
    this.#turnsPerYield = options.turnsPerYield ?? 4096;
  }

  schedule(actor: Runnable): void {
    this.#queue.push(actor);
    if (!this.#pending) {
      this.#pending = true;
      queueMicrotask(this.#run);
    }
  }

  /** Resolves once the run queue is empty. */
  idle(): Promise<void> {
    if (!this.#pending) return Promise.resolve();
    if (this.#idle === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => resolve = r);
      this.#idle = { promise, resolve };
    }
    return this.#idle.promise;
  }

  #run = (): void => {
    const q = this.#queue;
    for (let turns = 0; q.length > 0; turns++) {
      if (turns === this.#turnsPerYield) {
        // A ping-pong between actors would otherwise starve socket reads.
        setTimeout(this.#run, 0);
        return;
      }
      const actor = q.shift()!;
      if (actor.drain(this.#batch)) q.push(actor);
    }
    this.#pending = false;
    const idle = this.#idle;
    this.#idle = undefined;
    idle?.resolve();
  };
}

/** One delivery recorded by the {@link TestScheduler}. */
export interface TraceEntry {
  /** Manual-clock time of the delivery. */
  readonly time: number;
  /** The actor's name, or `#id` when it has none. */
  readonly actor: string;
  readonly message: unknown;
}

/** Options for {@link TestScheduler}. */
export interface TestSchedulerOptions {
  /** Seed for the choice of which ready actor runs next. */
  seed: number;
  /** The clock the actor system uses; {@link TestScheduler.advance} moves it. */
  clock: ManualClock;
  /** A run longer than this many deliveries is a livelock: `runUntilIdle` throws. Default 1e6. */
  maxSteps?: number;
}

/** A run did not become idle within `maxSteps` deliveries. */
export class LivelockError extends Error {
  constructor(readonly steps: number) {
    super(`actors still busy after ${steps} deliveries`);
    this.name = "LivelockError";
  }
}

/**
 * A deterministic scheduler for tests: nothing runs until the test says so;
 * each step delivers one message to one ready actor chosen by a seeded PRNG.
 * The same seed and inputs give the same {@link trace}.
 *
 * @example
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * import { TestScheduler } from "./scheduler.ts";
 * const clock = new ManualClock();
 * const scheduler = new TestScheduler({ seed: 42, clock });
 * scheduler.advance(1000); // fires due timers in order, running actors to idle after each
 * if (scheduler.trace.length !== 0 || clock.now() !== 1000) throw new Error();
 * ```
 */
export class TestScheduler implements Scheduler {
  readonly #clock: ManualClock;
  readonly #prng: Prng;
  readonly #maxSteps: number;
  #ready: Runnable[] = [];
  #trace: TraceEntry[] = [];
  #inFlight = new Set<Promise<void>>();
  #delivered = false;

  constructor(options: TestSchedulerOptions) {
    this.#clock = options.clock;
    this.#prng = new Prng(options.seed);
    this.#maxSteps = options.maxSteps ?? 1_000_000;
  }

  readonly onDeliver = (actor: ActorInfo, message: unknown): void => {
    this.#delivered = true;
    this.#trace.push({
      time: this.#clock.now(),
      actor: actor.name ?? `#${actor.id}`,
      message,
    });
  };

  schedule(actor: Runnable): void {
    this.#ready.push(actor);
  }

  track(settled: Promise<void>): void {
    this.#inFlight.add(settled);
    settled.then(() => this.#inFlight.delete(settled));
  }

  /** Every delivery so far, in order. */
  get trace(): readonly TraceEntry[] {
    return this.#trace;
  }

  /** Actors with messages waiting. */
  get ready(): number {
    return this.#ready.length;
  }

  /** Delivers one message to one ready actor. @returns false when no actor was ready. */
  step(): boolean {
    const ready = this.#ready;
    while (ready.length > 0) {
      const i = this.#prng.nextInt(ready.length);
      const actor = ready[i];
      ready[i] = ready[ready.length - 1];
      ready.pop();
      this.#delivered = false;
      if (actor.drain(1)) ready.push(actor);
      // A stopped actor can be left in the queue; skipping it is not a step.
      if (this.#delivered) return true;
    }
    return false;
  }

  /** Steps until no actor is ready. @returns the number of deliveries. */
  runUntilIdle(): number {
    let steps = 0;
    while (this.step()) {
      if (++steps > this.#maxSteps) throw new LivelockError(steps);
    }
    return steps;
  }

  /**
   * Moves the clock forward by `ms`. Timers fire in due order, and actors run
   * until idle after each instant, as they would in real time.
   */
  advance(ms: number): void {
    const target = this.#clock.now() + ms;
    this.runUntilIdle();
    for (;;) {
      const due = this.#clock.nextDue();
      if (due === undefined || due > target) break;
      this.#clock.advanceTo(due);
      this.runUntilIdle();
    }
    this.#clock.advanceTo(target);
  }

  /** Runs until idle, also waiting for async handlers in flight to settle. */
  async settle(): Promise<void> {
    for (;;) {
      this.runUntilIdle();
      if (this.#inFlight.size === 0) return;
      await Promise.all(this.#inFlight);
    }
  }
}
