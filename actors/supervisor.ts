/**
 * A plain supervisor: an actor with no messages of its own whose whole job is
 * to start children in order and apply its {@link Supervision}, like the top
 * of the lts tree (`rest_for_one` over PolicyStore, Listener, ...).
 *
 * @module
 */

import type { Actor, ActorContext, ChildOptions } from "./system.ts";

/** One child of a {@link supervisor}; make it with {@link childSpec}. */
export interface ChildSpec {
  /** Starts the child under `ctx`. */
  readonly startUnder: (ctx: ActorContext<never>) => void;
}

/**
 * Describes a child, keeping its message type checked.
 *
 * @example
 * ```ts
 * import { childSpec } from "./supervisor.ts";
 * const spec = childSpec<string>(() => ({ handle() {} }), { capacity: 64, restart: "permanent" });
 * ```
 */
export function childSpec<M>(start: () => Actor<M>, options: ChildOptions<M>): ChildSpec {
  return { startUnder: (ctx) => void ctx.spawnChild(start, options) };
}

/**
 * A behaviour that starts `children` in order and then only supervises.
 * Give it a `supervision` when spawning it.
 *
 * @example
 * ```ts
 * import { ActorSystem, actorName, childSpec, ManualClock, supervisor, TestScheduler } from "./mod.ts";
 * const clock = new ManualClock();
 * const scheduler = new TestScheduler({ seed: 1, clock });
 * const system = new ActorSystem({ clock, scheduler });
 * const LISTENER = actorName<string>("listener");
 * system.spawn(() => supervisor([
 *   childSpec<string>(() => ({ handle() {} }), { name: LISTENER, capacity: 64, restart: "permanent" }),
 * ]), { capacity: 1, supervision: { strategy: "rest_for_one", intensity: 3, periodMs: 10_000 } });
 * if (system.lookup(LISTENER) === undefined) throw new Error("not started");
 * system.shutdown();
 * ```
 */
export function supervisor(children: readonly ChildSpec[]): Actor<never> {
  return {
    onStart(ctx) {
      for (const child of children) child.startUnder(ctx);
    },
    handle() {},
  };
}
