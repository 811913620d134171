/**
 * The actor runtime that tunnels and sessions stand on: bounded mailboxes,
 * OTP-style supervision, an injected clock, registries and a deterministic
 * test scheduler.
 *
 * @example
 * ```ts
 * import { type Actor, testSystem } from "./mod.ts";
 * type Msg = { type: "hello" } | { type: "timeout" };
 * const { system, scheduler, clock } = testSystem({ seed: 1 });
 * const log: string[] = [];
 * const greeter = (): Actor<Msg> => ({
 *   handle(msg, ctx) {
 *     log.push(msg.type);
 *     if (msg.type === "hello") ctx.setTimer(1000, { type: "timeout" });
 *     else ctx.stop();
 *   },
 * });
 * const ref = system.spawn(greeter, { capacity: 16 });
 * ref.send({ type: "hello" });
 * scheduler.advance(1000);
 * if (log.join() !== "hello,timeout" || ref.alive || clock.pendingTimers !== 0) throw new Error();
 * ```
 *
 * @module
 */

export { type Clock, ManualClock, SystemClock, type TimerHandle } from "./clock.ts";
export {
  type ActorEvent,
  type ActorInfo,
  EventBus,
  type EventBusOptions,
  isCrash,
  type StopReason,
  type Unsubscribe,
} from "./events.ts";
export {
  Mailbox,
  type MailboxStats,
  type OfferOutcome,
  type OverflowClassifier,
  type OverflowPolicy,
  type SendResult,
} from "./mailbox.ts";
export { Prng } from "./prng.ts";
export {
  ActorRegistry,
  type ActorRegistryOptions,
  IdAllocator,
  type IdAllocatorOptions,
  type IdResult,
  type RegisterResult,
} from "./registry.ts";
export {
  LivelockError,
  MicrotaskScheduler,
  type MicrotaskSchedulerOptions,
  type Runnable,
  type Scheduler,
  TestScheduler,
  type TestSchedulerOptions,
  type TraceEntry,
} from "./scheduler.ts";
export { type ChildSpec, childSpec, supervisor } from "./supervisor.ts";
export {
  type Actor,
  type ActorContext,
  type ActorName,
  actorName,
  type ActorRef,
  ActorSystem,
  type ActorSystemOptions,
  type ChildExit,
  type ChildOptions,
  DEFAULT_SUPERVISION,
  NameTakenError,
  RestartIntensityError,
  type RestartType,
  type SpawnOptions,
  type Supervision,
} from "./system.ts";
export { type TestSystem, testSystem } from "./testing.ts";
