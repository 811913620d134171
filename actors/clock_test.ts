import assert from "node:assert/strict";
import { ManualClock, SystemClock } from "./clock.ts";

Deno.test("ManualClock fires due timers in (due, armed) order and moves time to each", () => {
  const clock = new ManualClock(100);
  const fired: string[] = [];
  clock.setTimer(30, () => fired.push(`b@${clock.now()}`));
  clock.setTimer(10, () => fired.push(`a@${clock.now()}`));
  clock.setTimer(30, () => fired.push(`c@${clock.now()}`));
  clock.setTimer(31, () => fired.push(`late@${clock.now()}`));
  assert.equal(clock.pendingTimers, 4);
  assert.equal(clock.nextDue(), 110);
  clock.advance(30);
  assert.deepEqual(fired, ["a@110", "b@130", "c@130"]);
  assert.equal(clock.now(), 130);
  assert.equal(clock.pendingTimers, 1);
});

Deno.test("ManualClock: cancel disarms, cancelling twice or after firing is harmless", () => {
  const clock = new ManualClock();
  let fired = 0;
  const t1 = clock.setTimer(5, () => fired++);
  const t2 = clock.setTimer(6, () => fired++);
  clock.cancel(t1);
  clock.cancel(t1);
  assert.equal(clock.pendingTimers, 1);
  assert.equal(clock.nextDue(), 6);
  clock.advance(10);
  clock.cancel(t2);
  assert.equal(fired, 1);
  assert.equal(clock.pendingTimers, 0);
  assert.equal(clock.nextDue(), undefined);
});

Deno.test("ManualClock: fireNext jumps to the next timer; advanceTo never goes back", () => {
  const clock = new ManualClock();
  const at: number[] = [];
  clock.setTimer(50, () => at.push(clock.now()));
  clock.setTimer(20, () => {
    at.push(clock.now());
    clock.setTimer(0, () => at.push(clock.now()));
  });
  assert.equal(clock.fireNext(), true);
  assert.deepEqual(at, [20, 20], "a zero-delay timer armed while firing is due at once");
  assert.equal(clock.fireNext(), true);
  assert.equal(clock.fireNext(), false);
  assert.deepEqual(at, [20, 20, 50]);
  clock.advanceTo(10);
  assert.equal(clock.now(), 50);
  clock.setTimer(-5, () => at.push(clock.now()));
  clock.advance(0);
  assert.deepEqual(at, [20, 20, 50, 50], "a negative delay is treated as zero");
});

Deno.test("SystemClock fires a timer, cancels another, and counts pending ones", async () => {
  const clock = new SystemClock();
  const start = clock.now();
  let cancelledFired = false;
  const cancelled = clock.setTimer(5, () => cancelledFired = true);
  const fired = new Promise<number>((resolve) => clock.setTimer(10, () => resolve(clock.now())));
  assert.equal(clock.pendingTimers, 2);
  clock.cancel(cancelled);
  assert.equal(clock.pendingTimers, 1);
  const at = await fired;
  assert.ok(at - start >= 9, `fired after ${at - start} ms`);
  assert.equal(clock.pendingTimers, 0);
  assert.equal(cancelledFired, false);
});

Deno.test("ManualClock: mass cancellation (actor churn) keeps the survivors and their order", () => {
  const clock = new ManualClock();
  const fired: number[] = [];
  const handles = Array.from(
    { length: 1000 },
    (_, i) => clock.setTimer(1000 - i, () => fired.push(i)),
  );
  for (let i = 0; i < 1000; i++) if (i % 100 !== 7) clock.cancel(handles[i]);
  assert.equal(clock.pendingTimers, 10);
  clock.advance(1000);
  assert.deepEqual(fired, [907, 807, 707, 607, 507, 407, 307, 207, 107, 7]);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("SystemClock: 300 timers, a third cancelled, some armed from inside others: the rest fire in due order, none early, and nothing stays armed", async () => {
  const clock = new SystemClock();
  const fired: { id: number; due: number; at: number }[] = [];
  const handles: { id: number; due: number }[] = [];
  let nested = 0;
  const arm = (delay: number) => {
    // Read before arming: the clock's own due time is at or after this one.
    const due = clock.now() + delay;
    const h = clock.setTimer(delay, () => {
      fired.push({ id: h.id, due, at: clock.now() });
      // Timers armed while timers fire (retransmissions do this) are kept in order too.
      if (nested < 20 && h.id % 7 === 0) {
        nested++;
        handles.push(arm(h.id % 3));
      }
    });
    return { id: h.id, due, h };
  };
  const all = Array.from({ length: 300 }, (_, i) => arm((i * 37) % 40));
  handles.push(...all);
  const cancelled = new Set<number>();
  for (const t of all) {
    if (t.id % 3 === 0) {
      clock.cancel(t.h);
      clock.cancel(t.h); // twice is harmless
      cancelled.add(t.id);
    }
  }
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(clock.pendingTimers, 0);
  assert.equal(fired.length, handles.length - cancelled.size);
  for (const f of fired) {
    assert.ok(!cancelled.has(f.id), `cancelled timer ${f.id} fired`);
    // Never early (the PPP engine takes an early timeout for a stale one).
    assert.ok(f.at >= f.due, `timer ${f.id} fired ${f.due - f.at} ms early`);
  }
  // The first 300 fire in (due, armed) order.
  const first = fired.filter((f) => f.id <= all.at(-1)!.id);
  const byDue = [...first].sort((a, b) => a.due - b.due || a.id - b.id);
  assert.deepEqual(first.map((f) => f.id), byDue.map((f) => f.id));
});
