/**
 * Retained heap per idle actor with one armed timer, at 100k actors.
 *
 *   tools/deno run -A --v8-flags=--expose-gc bench/actor_memory.ts
 *
 * The actors' own state is an empty object, so the figure is what the
 * runtime costs per actor: ref, context, mailbox, timer record and the
 * ManualClock's entry for the timer.
 *
 * @module
 */

import { type Actor, type ActorContext, ActorSystem, ManualClock } from "../actors/mod.ts";

const N = 100_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc!();
  return Deno.memoryUsage().heapUsed;
}

const clock = new ManualClock();
const system = new ActorSystem({ clock });
// State-free behaviour: methods on the prototype, so an instance is a bare object.
class IdleSession implements Actor<"hello_timeout"> {
  onStart(ctx: ActorContext<"hello_timeout">): void {
    ctx.setTimer(60_000, "hello_timeout");
  }
  handle(): void {}
}
const idle = () => new IdleSession();
const options = { capacity: 64 }; // one options object per actor kind

const before = heapAfterGc();
const refs = [];
for (let i = 0; i < N; i++) refs.push(system.spawn(idle, options));
const after = heapAfterGc();
const live = () => [clock.pendingTimers, system.actorCount].join();
if (live() !== `${N},${N}`) throw new Error("setup failed");
// The refs array is the caller's, not the runtime's: 8 bytes per slot.
const perActor = (after - before) / N - 8;

const start = performance.now();
system.shutdown();
const stopMs = performance.now() - start;
const released = heapAfterGc();
if (live() !== "0,0") throw new Error("not cleaned up");

console.log(`actors: ${N}, each idle with one armed timer (ManualClock), mailbox capacity 64`);
console.log(`retained heap per idle actor: ${perActor.toFixed(0)} bytes`);
console.log(
  `stop all ${N}: ${stopMs.toFixed(0)} ms; heap after stop and gc: ${
    ((released - before) / 1024).toFixed(0)
  } KiB above baseline (refs array still held: ${refs.length} slots)`,
);
