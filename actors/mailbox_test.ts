import assert from "node:assert/strict";
import { Mailbox, type OverflowClassifier, type OverflowPolicy } from "./mailbox.ts";

type Msg = { kind: OverflowPolicy; n: number };
const byKind: OverflowClassifier<Msg> = { overflow: (m) => m.kind };
const msg = (kind: OverflowPolicy, n: number): Msg => ({ kind, n });

function drain(mb: Mailbox<Msg>): string[] {
  const out: string[] = [];
  while (mb.length > 0) {
    const m = mb.take()!;
    out.push(`${m.kind[0]}${m.n}`);
  }
  return out;
}

Deno.test("Mailbox reject_newest at capacity refuses the new message and keeps the queue", () => {
  const mb = new Mailbox<Msg>(3, 2);
  for (let i = 0; i < 3; i++) assert.equal(mb.offer(msg("reject_newest", i), byKind), "queued");
  assert.equal(mb.offer(msg("reject_newest", 3), byKind), "rejected");
  assert.equal(mb.offer(msg("reject_newest", 4), byKind), "rejected");
  assert.deepEqual(mb.stats(), { length: 3, capacity: 3, reserved: 2, rejected: 2, dropped: 0 });
  assert.deepEqual(drain(mb), ["r0", "r1", "r2"]);
});

Deno.test("Mailbox without a classifier rejects newest", () => {
  const mb = new Mailbox<number>(1, 4);
  assert.equal(mb.offer(1, {}), "queued");
  assert.equal(mb.offer(2, {}), "rejected");
});

Deno.test("Mailbox drop_oldest at capacity evicts the oldest message that is not must-deliver", () => {
  const mb = new Mailbox<Msg>(3, 2);
  mb.offer(msg("must_deliver", 0), byKind);
  mb.offer(msg("drop_oldest", 1), byKind);
  mb.offer(msg("reject_newest", 2), byKind);
  assert.equal(mb.offer(msg("drop_oldest", 3), byKind), "dropped_oldest");
  assert.equal(mb.offer(msg("drop_oldest", 4), byKind), "dropped_oldest");
  assert.deepEqual(mb.stats(), { length: 3, capacity: 3, reserved: 2, rejected: 0, dropped: 2 });
  assert.deepEqual(drain(mb), ["m0", "d3", "d4"]);
});

Deno.test("Mailbox drop_oldest with only must-deliver messages queued is refused", () => {
  const mb = new Mailbox<Msg>(2, 1);
  mb.offer(msg("must_deliver", 0), byKind);
  mb.offer(msg("must_deliver", 1), byKind);
  assert.equal(mb.offer(msg("drop_oldest", 2), byKind), "rejected");
  assert.equal(mb.rejected, 1);
  assert.deepEqual(drain(mb), ["m0", "m1"]);
});

Deno.test("Mailbox must_deliver uses the reserved lane, then is refused when that is full too", () => {
  const mb = new Mailbox<Msg>(2, 2);
  mb.offer(msg("reject_newest", 0), byKind);
  mb.offer(msg("reject_newest", 1), byKind);
  assert.equal(mb.offer(msg("reject_newest", 2), byKind), "rejected");
  assert.equal(mb.offer(msg("must_deliver", 3), byKind), "queued");
  assert.equal(mb.offer(msg("drop_oldest", 4), byKind), "dropped_oldest", "length stays 3");
  assert.equal(mb.offer(msg("must_deliver", 5), byKind), "queued");
  assert.equal(mb.length, 4);
  assert.equal(mb.offer(msg("must_deliver", 6), byKind), "rejected");
  assert.deepEqual(mb.stats(), { length: 4, capacity: 2, reserved: 2, rejected: 2, dropped: 1 });
  // One FIFO: the reserved lane does not let an ack overtake what was sent before it.
  assert.deepEqual(drain(mb), ["r1", "m3", "d4", "m5"]);
});

Deno.test("Mailbox rejects nonsense bounds", () => {
  assert.throws(() => new Mailbox(0, 0), RangeError);
  assert.throws(() => new Mailbox(1.5, 0), RangeError);
  assert.throws(() => new Mailbox(1, -1), RangeError);
});
