/**
 * Time, injected. No actor calls `setTimeout` or `Date.now` directly: they
 * take a {@link Clock}, so tests drive time with a {@link ManualClock}.
 *
 * @module
 */

/** An armed timer, returned by {@link Clock.setTimer}; pass it to {@link Clock.cancel}. */
export interface TimerHandle {
  readonly id: number;
}

/** A source of monotonic time and one-shot timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (not wall-clock time). */
  now(): number;
  /** Calls `fn` once, `delayMs` from now. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Disarms a timer; cancelling a fired or cancelled timer does nothing. */
  cancel(timer: TimerHandle): void;
  /** Timers armed and not yet fired or cancelled. */
  readonly pendingTimers: number;
}

/**
 * The real clock: `performance.now()`, and one native `setTimeout` for all
 * its timers. Timers wait in a binary heap by due time (then by the order
 * they were armed); a cancelled one is only marked, and dropped when it
 * reaches the top or when the dead outnumber the live. The control plane
 * arms and cancels a timer for nearly every message (retransmission,
 * delayed acknowledgement): this costs a heap push, not a native timer each.
 *
 * @example
 * ```ts
 * import { SystemClock } from "./clock.ts";
 * const clock = new SystemClock();
 * const t = clock.setTimer(1000, () => {});
 * clock.cancel(t);
 * if (clock.pendingTimers !== 0) throw new Error();
 * ```
 */
export class SystemClock implements Clock {
  #heap: SystemTimer[] = [];
  #live = 0;
  #nextId = 1;
  /** The native timer and the due time it is armed for. */
  #native: ReturnType<typeof setTimeout> | undefined;
  #nativeDue = Infinity;
  #firing = false;

  now(): number {
    return performance.now();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: SystemTimer = {
      id: this.#nextId++,
      due: performance.now() + Math.max(0, delayMs),
      fn,
    };
    heapPush(this.#heap, timer);
    this.#live++;
    if (!this.#firing && timer.due < this.#nativeDue) this.#arm();
    return timer;
  }

  cancel(timer: TimerHandle): void {
    const t = timer as SystemTimer;
    if (t.fn === undefined) return;
    t.fn = undefined;
    this.#live--;
    const heap = this.#heap;
    if (this.#live === 0) {
      heap.length = 0;
      this.#disarm();
    } else if (heap.length > 2 * this.#live + 1024) {
      // Most are dead: rebuild from the live ones.
      const live = heap.filter((x) => x.fn !== undefined);
      heap.length = 0;
      for (const x of live) heapPush(heap, x);
    }
  }

  get pendingTimers(): number {
    return this.#live;
  }

  /** Arms the native timer for the earliest live timer, or none. */
  #arm(): void {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0].fn === undefined) heapPop(heap);
    if (heap.length === 0) return this.#disarm();
    const due = heap[0].due;
    if (due === this.#nativeDue && this.#native !== undefined) return;
    if (this.#native !== undefined) clearTimeout(this.#native);
    this.#nativeDue = due;
    this.#native = setTimeout(this.#fire, Math.max(0, due - performance.now()));
  }

  #disarm(): void {
    if (this.#native !== undefined) clearTimeout(this.#native);
    this.#native = undefined;
    this.#nativeDue = Infinity;
  }

  readonly #fire = (): void => {
    this.#native = undefined;
    this.#nativeDue = Infinity;
    this.#firing = true;
    try {
      const heap = this.#heap;
      // Never early: callers compare now() with the deadline they armed for (the PPP engine
      // takes an early timeout for a stale one). A native timer that fires a fraction of a
      // millisecond before performance.now() reaches the due time is re-armed for the rest.
      const now = performance.now();
      while (heap.length > 0 && heap[0].due <= now) {
        const t = heapPop(heap)!;
        const fn = t.fn;
        if (fn === undefined) continue;
        t.fn = undefined;
        this.#live--;
        fn();
      }
    } finally {
      this.#firing = false;
      this.#arm();
    }
  };
}

/** A timer of {@link SystemClock}; `fn` is cleared when it fires or is cancelled. */
interface SystemTimer extends TimerHandle {
  readonly due: number;
  fn: (() => void) | undefined;
}

/** Earlier due first; equal due in arming order. */
function before(a: SystemTimer, b: SystemTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.id < b.id);
}

function heapPush(heap: SystemTimer[], t: SystemTimer): void {
  let i = heap.length;
  heap.push(t);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(t, heap[parent])) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = t;
}

function heapPop(heap: SystemTimer[]): SystemTimer | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  let i = 0;
  const n = heap.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && before(heap[r], heap[l]) ? r : l;
    if (!before(heap[c], last)) break;
    heap[i] = heap[c];
    i = c;
  }
  heap[i] = last;
  return top;
}

interface ManualTimer {
  id: number;
  due: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to. Timers due at the same instant fire in
 * the order they were armed, so a run is reproducible.
 *
 * @example
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock();
 * let fired = 0;
 * clock.setTimer(500, () => fired++);
 * clock.advance(499);
 * clock.advance(1);
 * if (fired !== 1) throw new Error("timer did not fire");
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  // Binary min-heap ordered by (due, id); cancelled timers are removed lazily.
  #heap: ManualTimer[] = [];
  #live = new Set<number>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer = { id: this.#nextId++, due: this.#now + Math.max(0, delayMs), fn };
    this.#live.add(timer.id);
    this.#push(timer);
    return { id: timer.id };
  }

  cancel(timer: TimerHandle): void {
    if (!this.#live.delete(timer.id)) return;
    // Cancelled timers leave the heap lazily; rebuild it when they dominate, so
    // churn (actors arming long timers and stopping) does not retain them.
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#live.size) {
      const kept = this.#heap.filter((t) => this.#live.has(t.id));
      this.#heap = [];
      for (const t of kept) this.#push(t);
    }
  }

  get pendingTimers(): number {
    return this.#live.size;
  }

  /** Time of the earliest armed timer, or `undefined` when none is armed. */
  nextDue(): number | undefined {
    this.#dropCancelled();
    return this.#heap[0]?.due;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /** Moves time to `t` (never backwards), firing due timers in order. */
  advanceTo(t: number): void {
    for (;;) {
      this.#dropCancelled();
      const head = this.#heap[0];
      if (head === undefined || head.due > t) break;
      this.#pop();
      this.#live.delete(head.id);
      this.#now = Math.max(this.#now, head.due);
      head.fn();
    }
    this.#now = Math.max(this.#now, t);
  }

  /** Fires the earliest timer, moving time to it; returns false when none is armed. */
  fireNext(): boolean {
    const due = this.nextDue();
    if (due === undefined) return false;
    this.advanceTo(due);
    return true;
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && !this.#live.has(this.#heap[0].id)) this.#pop();
  }

  #less(a: ManualTimer, b: ManualTimer): boolean {
    return a.due < b.due || (a.due === b.due && a.id < b.id);
  }

  #push(timer: ManualTimer): void {
    const h = this.#heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l], h[m])) m = l;
      if (r < h.length && this.#less(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
