/**
 * A growable FIFO ring buffer over a plain array. Mailboxes and run queues sit
 * on it: push and shift are O(1) and allocate only when the ring doubles, and
 * an idle ring holds no slots, so 100k idle actors cost no buffer memory.
 *
 * @module
 */

// Shared by every empty ring: an idle mailbox allocates no array of its own.
const EMPTY: never[] = [];

/** FIFO queue backed by a power-of-two array that grows on demand. */
export class Ring<T> {
  #buf: (T | undefined)[] = EMPTY;
  #head = 0;
  #length = 0;
  readonly #releaseWhenEmpty: boolean;

  /**
   * `releaseWhenEmpty`: drop the array each time the ring empties, for rings
   * that are mostly idle (a mailbox of one of 200,000 actors); a busy queue
   * keeps its array and allocates only when it doubles.
   */
  constructor(options: { releaseWhenEmpty?: boolean } = {}) {
    this.#releaseWhenEmpty = options.releaseWhenEmpty ?? false;
  }

  /** Number of queued items. */
  get length(): number {
    return this.#length;
  }

  /** Appends `item` at the tail. */
  push(item: T): void {
    if (this.#length === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#length) & (this.#buf.length - 1)] = item;
    this.#length++;
  }

  /** Removes and returns the head; `undefined` when empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const buf = this.#buf;
    const item = buf[this.#head];
    buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & (buf.length - 1);
    if (--this.#length === 0 && this.#releaseWhenEmpty) this.clear();
    return item;
  }

  /** The item `i` places behind the head (0 is the head); `undefined` when out of range. */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.#length) return undefined;
    return this.#buf[(this.#head + i) & (this.#buf.length - 1)];
  }

  /** Removes the item `i` places behind the head, keeping the order of the rest. */
  removeAt(i: number): T | undefined {
    if (i < 0 || i >= this.#length) return undefined;
    const buf = this.#buf;
    const mask = buf.length - 1;
    const item = buf[(this.#head + i) & mask];
    // Shift the items in front of it one place back; eviction hits near the head.
    for (let j = i; j > 0; j--) {
      buf[(this.#head + j) & mask] = buf[(this.#head + j - 1) & mask];
    }
    buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & mask;
    if (--this.#length === 0 && this.#releaseWhenEmpty) this.clear();
    return item;
  }

  /** Drops every item and returns the buffer's memory. */
  clear(): void {
    this.#buf = EMPTY;
    this.#head = 0;
    this.#length = 0;
  }

  #grow(): void {
    const old = this.#buf;
    const size = old.length === 0 ? 4 : old.length * 2;
    const buf = new Array<T | undefined>(size).fill(undefined);
    for (let i = 0; i < this.#length; i++) buf[i] = old[(this.#head + i) & (old.length - 1)];
    this.#buf = buf;
    this.#head = 0;
  }
}
