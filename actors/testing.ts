/**
 * One-line setup for deterministic actor tests.
 *
 * @module
 */

import { ManualClock } from "./clock.ts";
import { TestScheduler } from "./scheduler.ts";
import { ActorSystem } from "./system.ts";

/** What {@link testSystem} returns. */
export interface TestSystem {
  readonly system: ActorSystem;
  readonly clock: ManualClock;
  readonly scheduler: TestScheduler;
}

/**
 * An actor system on a manual clock and a seeded {@link TestScheduler}.
 *
 * @example
 * ```ts
 * import { testSystem } from "./testing.ts";
 * const { system, scheduler } = testSystem({ seed: 7 });
 * const seen: number[] = [];
 * const ref = system.spawn<number>(() => ({ handle: (n) => void seen.push(n) }), { capacity: 4 });
 * ref.send(1);
 * scheduler.advance(10);
 * if (seen[0] !== 1) throw new Error();
 * system.shutdown();
 * ```
 */
export function testSystem(options: { seed: number; start?: number }): TestSystem {
  const clock = new ManualClock(options.start ?? 0);
  const scheduler = new TestScheduler({ seed: options.seed, clock });
  return { system: new ActorSystem({ clock, scheduler }), clock, scheduler };
}
