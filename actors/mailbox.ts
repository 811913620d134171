/**
 * Bounded mailboxes. Every mailbox has a capacity; what happens to a message
 * that meets a full mailbox depends on the message kind's
 * {@link OverflowPolicy}.
 *
 * The reserved lane for must-deliver traffic is headroom in the same FIFO
 * rather than a second queue: a separate priority queue would let an ack
 * overtake the message sent before it by the same sender, and per-sender FIFO
 * is a guarantee the protocol actors rely on.
 *
 * @module
 */

import { Ring } from "./_ring.ts";

/**
 * What to do with a message when the mailbox is at capacity:
 * - `reject_newest`: refuse it (`send()` returns `"full"`), e.g. a new SCCRQ under flood;
 * - `drop_oldest`: evict the oldest queued message that is not must-deliver, e.g. stale stats;
 * - `must_deliver`: admit it into the small reserved lane, e.g. acks and control replies.
 */
export type OverflowPolicy = "reject_newest" | "drop_oldest" | "must_deliver";

/** The result of `ActorRef.send()`. */
export type SendResult = "ok" | "full" | "closed";

/** What {@link Mailbox.offer} did with a message. */
export type OfferOutcome = "queued" | "dropped_oldest" | "rejected";

/** Classifies messages for overflow; an `Actor` is one. Without `overflow`, everything is `reject_newest`. */
export interface OverflowClassifier<M> {
  overflow?(msg: M): OverflowPolicy;
}

/** A mailbox's size and counters, as observed by metrics. */
export interface MailboxStats {
  /** Messages queued now. */
  readonly length: number;
  /** Bound for ordinary messages. */
  readonly capacity: number;
  /** Extra slots only must-deliver messages may use. */
  readonly reserved: number;
  /** Messages refused with `"full"`, since the actor was spawned. */
  readonly rejected: number;
  /** Messages evicted by `drop_oldest`, since the actor was spawned. */
  readonly dropped: number;
}

/**
 * A bounded FIFO with per-message overflow policies.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 * const mb = new Mailbox<string>(1, 1);
 * const acks = { overflow: (m: string) => m === "ack" ? "must_deliver" as const : "reject_newest" as const };
 * mb.offer("data", acks); // "queued"
 * if (mb.offer("more", acks) !== "rejected") throw new Error();
 * if (mb.offer("ack", acks) !== "queued") throw new Error();
 * ```
 */
export class Mailbox<M> {
  readonly capacity: number;
  readonly reserved: number;
  #queue = new Ring<M>({ releaseWhenEmpty: true });
  #rejected = 0;
  #dropped = 0;

  /**
   * @param capacity bound for ordinary messages, at least 1.
   * @param reserved extra slots for must-deliver messages.
   */
  constructor(capacity: number, reserved: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`mailbox capacity must be an integer >= 1, got ${capacity}`);
    }
    if (!Number.isInteger(reserved) || reserved < 0) {
      throw new RangeError(`mailbox reserved lane must be an integer >= 0, got ${reserved}`);
    }
    this.capacity = capacity;
    this.reserved = reserved;
  }

  /** Messages queued now. */
  get length(): number {
    return this.#queue.length;
  }

  /** Messages refused so far. */
  get rejected(): number {
    return this.#rejected;
  }

  /** Messages evicted by `drop_oldest` so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** A snapshot of size and counters. */
  stats(): MailboxStats {
    return {
      length: this.#queue.length,
      capacity: this.capacity,
      reserved: this.reserved,
      rejected: this.#rejected,
      dropped: this.#dropped,
    };
  }

  /** Queues `msg`, applying `classifier`'s policy only when the mailbox is at capacity. */
  offer(msg: M, classifier: OverflowClassifier<M>): OfferOutcome {
    const q = this.#queue;
    if (q.length < this.capacity) {
      q.push(msg);
      return "queued";
    }
    return this.#overflow(msg, classifier);
  }

  /** Removes and returns the oldest message; check {@link length} first, since `M` may include `undefined`. */
  take(): M | undefined {
    return this.#queue.shift();
  }

  /** Discards every queued message (the actor stopped); counters are kept. */
  clear(): void {
    this.#queue.clear();
  }

  #overflow(msg: M, classifier: OverflowClassifier<M>): OfferOutcome {
    const q = this.#queue;
    const policy = classifier.overflow?.(msg) ?? "reject_newest";
    switch (policy) {
      case "reject_newest":
        break;
      case "must_deliver":
        if (q.length < this.capacity + this.reserved) {
          q.push(msg);
          return "queued";
        }
        break;
      case "drop_oldest":
        for (let i = 0; i < q.length; i++) {
          if ((classifier.overflow?.(q.at(i) as M) ?? "reject_newest") !== "must_deliver") {
            q.removeAt(i);
            q.push(msg);
            this.#dropped++;
            return "dropped_oldest";
          }
        }
        break;
      default: {
        const never: never = policy;
        throw new TypeError(`unknown overflow policy ${never}`);
      }
    }
    this.#rejected++;
    return "rejected";
  }
}
