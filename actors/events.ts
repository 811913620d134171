/**
 * The one event bus for actor lifecycle events, which logging and metrics
 * subscribe to. Publishing never fails: a subscriber that throws is counted
 * and reported to `onSubscriberError`, and the others still run.
 *
 * @module
 */

import type { OverflowPolicy } from "./mailbox.ts";

/** What events and traces say about an actor: its system-wide id and optional name. */
export interface ActorInfo {
  /** Unique within an {@link ActorSystem}; never reused. */
  readonly id: number;
  /** The registered name, if it was spawned with one. */
  readonly name: string | undefined;
}

/**
 * Why an actor stopped: `"normal"` (it finished), `"shutdown"` (it was told
 * to stop, or its parent stopped) or a crash carrying what was thrown.
 */
export type StopReason = "normal" | "shutdown" | { readonly crashed: unknown };

/** @returns whether `reason` is a crash. */
export function isCrash(reason: StopReason): reason is { readonly crashed: unknown } {
  return typeof reason === "object";
}

/** Lifecycle events, one union; `switch (e.type)` is exhaustive. */
export type ActorEvent =
  | { readonly type: "spawned"; readonly actor: ActorInfo; readonly parent: ActorInfo | undefined }
  | { readonly type: "stopped"; readonly actor: ActorInfo; readonly reason: StopReason }
  | { readonly type: "restarted"; readonly actor: ActorInfo; readonly incarnation: number }
  | {
    readonly type: "mailbox_full";
    readonly actor: ActorInfo;
    /** The overflow policy of the message that met a full mailbox. */
    readonly policy: OverflowPolicy;
    /** `rejected`: `send()` returned `"full"`; `dropped_oldest`: the oldest droppable message was evicted. */
    readonly outcome: "rejected" | "dropped_oldest";
  }
  | {
    readonly type: "crashed";
    readonly actor: ActorInfo;
    readonly error: unknown;
    /** Where the error was thrown; cleanup errors do not change the stop reason. */
    readonly during: "start" | "handle" | "child_exit" | "stop";
  };

/** Removes a subscription. */
export type Unsubscribe = () => void;

/** Options for {@link EventBus}. */
export interface EventBusOptions<E> {
  /** Told when a subscriber throws; its own errors are swallowed. */
  onSubscriberError?: (error: unknown, event: E) => void;
}

/**
 * A tiny typed synchronous pub/sub.
 *
 * @example
 * ```ts
 * import { EventBus } from "./events.ts";
 * const bus = new EventBus<{ type: "tick"; n: number }>();
 * let sum = 0;
 * const off = bus.subscribe((e) => sum += e.n);
 * bus.publish({ type: "tick", n: 2 });
 * off();
 * bus.publish({ type: "tick", n: 5 });
 * if (sum !== 2) throw new Error("unexpected");
 * ```
 */
export class EventBus<E> {
  // Copy-on-write, so a subscriber may unsubscribe during publish.
  #subscribers: readonly ((event: E) => void)[] = [];
  #failures = 0;
  #onSubscriberError: ((error: unknown, event: E) => void) | undefined;

  constructor(options: EventBusOptions<E> = {}) {
    this.#onSubscriberError = options.onSubscriberError;
  }

  /** Calls `fn` for every event published from now on. */
  subscribe(fn: (event: E) => void): Unsubscribe {
    const entry = (event: E) => fn(event);
    this.#subscribers = [...this.#subscribers, entry];
    return () => {
      this.#subscribers = this.#subscribers.filter((s) => s !== entry);
    };
  }

  /** Whether anyone listens; publishers skip building events when nobody does. */
  get hasSubscribers(): boolean {
    return this.#subscribers.length > 0;
  }

  /** Number of times a subscriber threw. */
  get failures(): number {
    return this.#failures;
  }

  /** Delivers `event` to every subscriber, in subscription order. */
  publish(event: E): void {
    for (const s of this.#subscribers) {
      try {
        s(event);
      } catch (error) {
        this.#failures++;
        try {
          this.#onSubscriberError?.(error, event);
        } catch {
          // The reporter failed too; the count above still records it.
        }
      }
    }
  }
}
