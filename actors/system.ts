/**
 * The actor runtime: actors with private state and one bounded mailbox,
 * handled one message at a time; parents that supervise their children with
 * OTP's strategies; timers on the injected clock that die with their actor.
 *
 * @module
 */

import type { Clock, TimerHandle } from "./clock.ts";
import { type ActorEvent, type ActorInfo, EventBus, isCrash, type StopReason } from "./events.ts";
import { Mailbox, type MailboxStats, type OverflowPolicy, type SendResult } from "./mailbox.ts";
import { MicrotaskScheduler, type Runnable, type Scheduler } from "./scheduler.ts";

/**
 * An actor's behaviour: its private state lives in the object, and the
 * runtime calls these methods one at a time, never re-entering them.
 * A factory (`() => Actor<M>`) is spawned rather than an instance so that a
 * restart starts from fresh state.
 */
export interface Actor<M> {
  /** Runs once per incarnation, before the first message; spawn children and arm timers here. */
  onStart?(ctx: ActorContext<M>): void;
  /**
   * Handles one message. A throw, or a rejected promise, crashes the actor.
   * No other message is handled until a returned promise settles.
   */
  handle(msg: M, ctx: ActorContext<M>): void | Promise<void>;
  /** The policy for `msg` when the mailbox is full; `reject_newest` when absent. */
  overflow?(msg: M): OverflowPolicy;
  /**
   * A child exited on its own (finished, crashed, or stopped by someone
   * else). The supervision decision is already made: `exit.restarted` says
   * whether it runs again. A TunnelActor answers a crashed session with CDN.
   */
  onChildExit?(exit: ChildExit, ctx: ActorContext<M>): void;
  /**
   * Synchronous cleanup. Children are already stopped and timers cancelled;
   * release what the runtime does not know about (forwarding entries, ids).
   */
  onStop?(reason: StopReason): void;
}

/** How an actor reaches another: the only way to talk to it is {@link send}. */
export interface ActorRef<M> {
  /** Unique within the system; never reused. */
  readonly id: number;
  /** The registered name, if any. */
  readonly name: string | undefined;
  /**
   * Queues `msg`. `"full"`: the mailbox is at capacity and the message's
   * overflow policy refused it. `"closed"`: the actor is stopped, or between
   * a crash and its restart.
   */
  send(msg: M): SendResult;
  /** Whether the actor runs (a restarted actor keeps its ref). */
  readonly alive: boolean;
  /** Mailbox length and counters. */
  mailbox(): MailboxStats;
}

/** What a handler can do besides changing its own state. */
export interface ActorContext<M> {
  /** This actor's own ref. */
  readonly self: ActorRef<M>;
  /** The injected clock's time, in ms. */
  now(): number;
  /**
   * Sends `msg` to self after `delayMs`. The timer is cancelled when the actor
   * stops. When it fires, `msg` is queued under its overflow policy.
   */
  setTimer(delayMs: number, msg: M): TimerHandle;
  /** Disarms a timer of this actor. @returns false when it had fired or was cancelled. */
  cancelTimer(timer: TimerHandle): boolean;
  /** Timers armed by this actor and not yet fired or cancelled. */
  readonly timerCount: number;
  /** Starts a linked child: it stops when this actor stops, and this actor supervises it. */
  spawnChild<C>(start: () => Actor<C>, options: ChildOptions<C>): ActorRef<C>;
  /** Stops a child of this actor for good: no `onChildExit`, no restart. @returns false if it is not a child. */
  stopChild(child: ActorRef<unknown>, reason?: StopReason): boolean;
  /** Live children, in start order. */
  readonly childCount: number;
  /** Stops this actor once the current handler finishes; sends to it fail from now on. */
  stop(reason?: StopReason): void;
}

/** OTP restart types. */
export type RestartType =
  /** Always restarted. */
  | "permanent"
  /** Restarted only after a crash. */
  | "transient"
  /** Never restarted (tunnels, sessions). */
  | "temporary";

/** How a parent restarts children; OTP's names and meaning. */
export interface Supervision {
  /** `one_for_one`: restart the crashed child. `rest_for_one`: also stop and restart the children started after it. */
  strategy: "one_for_one" | "rest_for_one";
  /** At most this many restarts within `periodMs`; one more and this actor crashes, failing upward. */
  intensity: number;
  periodMs: number;
}

/** The OTP defaults: one_for_one, at most 1 restart in 5 s. */
export const DEFAULT_SUPERVISION: Supervision = Object.freeze({
  strategy: "one_for_one",
  intensity: 1,
  periodMs: 5000,
});

/** A typed name for {@link ActorSystem.lookup}; make one with {@link actorName}. */
export interface ActorName<M> {
  readonly key: string;
  /** Phantom: ties the name to the message type of the actor registered under it. */
  readonly message?: (msg: M) => void;
}

/**
 * Declares a name and the message type of the actor that will hold it.
 *
 * @example
 * ```ts
 * import { actorName } from "./system.ts";
 * type PolicyMsg = { type: "reload" };
 * export const POLICY_STORE = actorName<PolicyMsg>("policy_store");
 * ```
 */
export function actorName<M>(key: string): ActorName<M> {
  return { key };
}

/** Options for {@link ActorSystem.spawn}. */
export interface SpawnOptions<M> {
  /** Registers the actor for {@link ActorSystem.lookup} while it runs. */
  name?: ActorName<M>;
  /** Mailbox bound for ordinary messages; pick it per actor kind. */
  capacity: number;
  /** Extra mailbox slots only must-deliver messages may use. Default 8. */
  reserved?: number;
  /** How this actor supervises its children. Default {@link DEFAULT_SUPERVISION}. */
  supervision?: Supervision;
}

/** Options for {@link ActorContext.spawnChild}. */
export interface ChildOptions<M> extends SpawnOptions<M> {
  /** Whether the parent restarts the child when it exits. */
  restart: RestartType;
}

/** Told to a parent's {@link Actor.onChildExit}. */
export interface ChildExit {
  readonly child: ActorRef<unknown>;
  readonly reason: StopReason;
  /** Whether the supervisor restarted it (the ref stays valid). */
  readonly restarted: boolean;
}

/** A spawn used a name that a running actor holds. */
export class NameTakenError extends Error {
  constructor(readonly actorName: string) {
    super(`actor name "${actorName}" is taken`);
    this.name = "NameTakenError";
  }
}

/** More restarts than a supervisor's intensity allows; the supervisor crashes with it. */
export class RestartIntensityError extends Error {
  constructor(
    readonly supervisor: ActorInfo,
    readonly child: ActorInfo,
    readonly intensity: number,
    readonly periodMs: number,
  ) {
    super(
      `${label(supervisor)}: more than ${intensity} restarts in ${periodMs} ms (last: ${
        label(child)
      })`,
    );
    this.name = "RestartIntensityError";
  }
}

/** Options for {@link ActorSystem}. */
export interface ActorSystemOptions {
  clock: Clock;
  /** Default: a new {@link MicrotaskScheduler}. */
  scheduler?: Scheduler;
  /** Default: a new bus; subscribe through {@link ActorSystem.events}. */
  events?: EventBus<ActorEvent>;
}

/**
 * Owns the actors: spawns roots, looks up names, stops everything.
 *
 * @example
 * ```ts
 * import { ActorSystem, type Actor, ManualClock, TestScheduler } from "./mod.ts";
 * type Msg = { type: "add"; n: number };
 * const clock = new ManualClock();
 * const scheduler = new TestScheduler({ seed: 1, clock });
 * const system = new ActorSystem({ clock, scheduler });
 * let total = 0;
 * const adder: () => Actor<Msg> = () => ({ handle: (m) => void (total += m.n) });
 * const ref = system.spawn(adder, { capacity: 16 });
 * ref.send({ type: "add", n: 2 });
 * scheduler.runUntilIdle();
 * system.shutdown();
 * if (total !== 2 || ref.alive) throw new Error();
 * ```
 */
export class ActorSystem {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly events: EventBus<ActorEvent>;
  /** @internal */
  readonly _names: Map<string, Cell<unknown>> = new Map();
  /** @internal */
  readonly _roots: Set<Cell<unknown>> = new Set();
  /** @internal */
  _live = 0;
  #nextId = 1;

  constructor(options: ActorSystemOptions) {
    this.clock = options.clock;
    this.scheduler = options.scheduler ?? new MicrotaskScheduler();
    this.events = options.events ?? new EventBus<ActorEvent>();
  }

  /** Starts a root actor (no parent, never restarted). A throw in its start crashes it at once. */
  spawn<M>(start: () => Actor<M>, options: SpawnOptions<M>): ActorRef<M> {
    return this._spawn(start, options, undefined, "temporary");
  }

  /** The running actor registered under `name`. */
  lookup<M>(name: ActorName<M>): ActorRef<M> | undefined {
    return this._names.get(name.key)?.self as ActorRef<M> | undefined;
  }

  /**
   * Stops an actor now, children first. Its parent is told and applies its
   * supervision (a permanent child comes back). @returns false if it was not running.
   */
  stop(ref: ActorRef<unknown>, reason: StopReason = "shutdown"): boolean {
    const cell = cellOf(ref);
    if (cell === undefined || !cell.alive) return false;
    cell._terminate(reason, true);
    return true;
  }

  /** Stops every root actor, newest first, and with them all actors. */
  shutdown(): void {
    for (const root of [...this._roots].reverse()) root._terminate("shutdown", false);
  }

  /** Actors running now. */
  get actorCount(): number {
    return this._live;
  }

  /** @internal */
  _spawn<M>(
    start: () => Actor<M>,
    options: SpawnOptions<M>,
    parent: Cell<unknown> | undefined,
    restart: RestartType,
  ): ActorRef<M> {
    const key = options.name?.key;
    if (key !== undefined && this._names.has(key)) throw new NameTakenError(key);
    const cell = new Cell<M>(this, this.#nextId++, start, options, parent, restart);
    if (parent === undefined) this._roots.add(cell as Cell<unknown>);
    else parent._adopt(cell as Cell<unknown>);
    cell._begin(false);
    return cell.self;
  }

  /** @internal */
  _emit(event: ActorEvent): void {
    this.events.publish(event);
  }
}

/**
 * Calls `hook` once when the actor behind `ref` stops (this incarnation).
 * For registries; not part of the public surface.
 * @returns a function that removes the hook, or undefined when the actor is not running.
 * @internal
 */
export function _onStopped(ref: ActorRef<unknown>, hook: () => void): (() => void) | undefined {
  const cell = cellOf(ref);
  if (cell === undefined || !cell.alive) return undefined;
  return cell._addFinalizer(hook);
}

function label(a: ActorInfo): string {
  return a.name ?? `#${a.id}`;
}

class Ref<M> implements ActorRef<M> {
  readonly #cell: Cell<M>;
  constructor(cell: Cell<M>) {
    this.#cell = cell;
  }
  get id(): number {
    return this.#cell.id;
  }
  get name(): string | undefined {
    return this.#cell.name;
  }
  send(msg: M): SendResult {
    return this.#cell._enqueue(msg);
  }
  get alive(): boolean {
    return this.#cell.alive;
  }
  mailbox(): MailboxStats {
    return this.#cell._mailbox.stats();
  }
  /** @internal */
  static cell<M>(ref: Ref<M>): Cell<M> {
    return ref.#cell;
  }
}

function cellOf<M>(ref: ActorRef<M>): Cell<M> | undefined {
  return ref instanceof Ref ? Ref.cell(ref) : undefined;
}

// Typed as number so checks after a call are not narrowed away: calls change it.
const RUNNING: number = 0;
const STOPPING: number = 1;
const STOPPED: number = 2;

const INERT_TIMER: TimerHandle = Object.freeze({ id: 0 });

// Stands in for a behaviour whose factory threw.
const NO_BEHAVIOUR: Actor<never> = { handle() {} };

interface ExitNotice {
  readonly child: Cell<unknown>;
  readonly incarnation: number;
  readonly reason: StopReason;
}

/**
 * One actor: its mailbox, timers, children and lifecycle. It is the handler's
 * `ctx`; the handler never sees it as anything but {@link ActorContext}.
 */
class Cell<M> implements ActorContext<M>, Runnable, ActorInfo {
  readonly self: ActorRef<M>;
  readonly name: string | undefined;
  /** @internal */
  readonly _mailbox: Mailbox<M>;
  #behaviour: Actor<M> = NO_BEHAVIOUR;
  #status = STOPPED;
  #stopReason: StopReason = "normal";
  #scheduled = false;
  #busy = false;
  #incarnation = 0;
  #timers: TimerHandle[] | undefined;
  #children: Set<Cell<unknown>> | undefined;
  #exits: ExitNotice[] | undefined;
  #restarts: number[] | undefined;
  #finalizers: Set<() => void> | undefined;
  /** Makes the behaviour; dropped after the first start of a temporary actor (never restarted). */
  #start: (() => Actor<M>) | undefined;

  constructor(
    readonly system: ActorSystem,
    readonly id: number,
    start: () => Actor<M>,
    readonly options: SpawnOptions<M>,
    readonly parent: Cell<unknown> | undefined,
    readonly restart: RestartType,
  ) {
    this.#start = start;
    this.self = new Ref(this);
    this.name = options.name?.key;
    this._mailbox = new Mailbox<M>(options.capacity, options.reserved ?? 8);
  }

  get alive(): boolean {
    return this.#status === RUNNING;
  }

  // ---- ActorContext ----

  now(): number {
    return this.system.clock.now();
  }

  setTimer(delayMs: number, msg: M): TimerHandle {
    if (this.#status !== RUNNING) return INERT_TIMER;
    const clock = this.system.clock;
    const timer: TimerHandle = clock.setTimer(delayMs, () => this.#timerFired(timer, msg));
    (this.#timers ??= []).push(timer);
    return timer;
  }

  cancelTimer(timer: TimerHandle): boolean {
    if (!this.#forgetTimer(timer)) return false;
    this.system.clock.cancel(timer);
    return true;
  }

  get timerCount(): number {
    return this.#timers?.length ?? 0;
  }

  spawnChild<C>(start: () => Actor<C>, options: ChildOptions<C>): ActorRef<C> {
    if (this.#status !== RUNNING) {
      throw new Error(`${label(this)} is stopping and cannot spawn children`);
    }
    return this.system._spawn(start, options, this as Cell<unknown>, options.restart);
  }

  stopChild(child: ActorRef<unknown>, reason: StopReason = "shutdown"): boolean {
    const cell = cellOf(child);
    if (cell === undefined || cell.parent !== this || !this.#children?.has(cell)) return false;
    this.#children.delete(cell);
    cell._terminate(reason, false);
    return true;
  }

  get childCount(): number {
    let n = 0;
    for (const c of this.#children ?? []) if (c.alive) n++;
    return n;
  }

  stop(reason: StopReason = "normal"): void {
    if (this.#status !== RUNNING) return;
    if (!this.#busy) {
      this._terminate(reason, true);
      return;
    }
    this.#status = STOPPING;
    this.#stopReason = reason;
  }

  // ---- Sending ----

  /** @internal */
  _enqueue(msg: M): SendResult {
    if (this.#status !== RUNNING) return "closed";
    const outcome = this._mailbox.offer(msg, this.#behaviour);
    if (outcome !== "queued") {
      const system = this.system;
      if (system.events.hasSubscribers) {
        system._emit({
          type: "mailbox_full",
          actor: this.self,
          policy: this.#behaviour.overflow?.(msg) ?? "reject_newest",
          outcome,
        });
      }
      if (outcome === "rejected") return "full";
    }
    if (!this.#scheduled && !this.#busy) {
      this.#scheduled = true;
      this.system.scheduler.schedule(this);
    }
    return "ok";
  }

  // ---- Running ----

  drain(max: number): boolean {
    const mailbox = this._mailbox;
    const scheduler = this.system.scheduler;
    for (let n = 0; n < max && this.#status === RUNNING; n++) {
      const exits = this.#exits;
      if (exits !== undefined && exits.length > 0) {
        this.#handleExit(exits.shift()!);
        continue;
      }
      if (mailbox.length === 0) break;
      const msg = mailbox.take() as M;
      scheduler.onDeliver?.(this.self, msg);
      const incarnation = this.#incarnation;
      this.#busy = true;
      let result: void | Promise<void>;
      try {
        result = this.#behaviour.handle(msg, this);
      } catch (error) {
        this.#busy = false;
        this.#crash(error, "handle");
        break;
      }
      if (result !== undefined && typeof result.then === "function") {
        this.#scheduled = false;
        this.#await(result, incarnation);
        return false;
      }
      this.#busy = false;
      if (this.#status === STOPPING) this._terminate(this.#stopReason, true);
    }
    const more = this.#status === RUNNING &&
      (mailbox.length > 0 || (this.#exits !== undefined && this.#exits.length > 0));
    if (!more) this.#scheduled = false;
    return more;
  }

  #await(pending: Promise<void>, incarnation: number): void {
    const settled = pending.then(
      () => this.#settled(incarnation, undefined, false),
      (error) => this.#settled(incarnation, error, true),
    );
    this.system.scheduler.track?.(settled);
  }

  #settled(incarnation: number, error: unknown, failed: boolean): void {
    // Stopped (and perhaps restarted) while it awaited: the result is moot.
    if (incarnation !== this.#incarnation || this.#status === STOPPED) return;
    this.#busy = false;
    if (failed) this.#crash(error, "handle");
    else if (this.#status === STOPPING) this._terminate(this.#stopReason, true);
    else this.#wake();
  }

  #crash(error: unknown, during: "start" | "handle" | "child_exit"): void {
    this.system._emit({ type: "crashed", actor: this.self, error, during });
    this._terminate({ crashed: error }, true);
  }

  /** Schedules this actor if it has work and is neither queued nor busy. */
  #wake(): void {
    if (
      !this.#scheduled && !this.#busy && this.#status === RUNNING &&
      (this._mailbox.length > 0 || (this.#exits !== undefined && this.#exits.length > 0))
    ) {
      this.#scheduled = true;
      this.system.scheduler.schedule(this);
    }
  }

  #timerFired(timer: TimerHandle, msg: M): void {
    this.#forgetTimer(timer);
    this._enqueue(msg);
  }

  #forgetTimer(timer: TimerHandle): boolean {
    const timers = this.#timers;
    const i = timers === undefined ? -1 : timers.indexOf(timer);
    if (i < 0) return false;
    timers!.splice(i, 1);
    // An actor with no timer left holds no array.
    if (timers!.length === 0) this.#timers = undefined;
    return true;
  }

  // ---- Lifecycle ----

  /** Starts an incarnation: fresh behaviour, name registered, `onStart`. @internal */
  _begin(restarted: boolean): void {
    const system = this.system;
    this.#status = RUNNING;
    this.#busy = true;
    system._live++;
    if (this.name !== undefined) {
      if (system._names.has(this.name)) {
        this.#busy = false;
        this.#crash(new NameTakenError(this.name), "start");
        return;
      }
      system._names.set(this.name, this as Cell<unknown>);
    }
    if (system.events.hasSubscribers) {
      system._emit(
        restarted
          ? { type: "restarted", actor: this.self, incarnation: this.#incarnation }
          : { type: "spawned", actor: this.self, parent: this.parent?.self },
      );
    }
    try {
      this.#behaviour = this.#start!();
      // 200,000 session actors need not each keep a factory and its closure for a restart that
      // a temporary actor never gets.
      if (this.restart === "temporary") this.#start = undefined;
      this.#behaviour.onStart?.(this);
    } catch (error) {
      this.#busy = false;
      this.#crash(error, "start");
      return;
    }
    this.#busy = false;
    if (this.#status === STOPPING) this._terminate(this.#stopReason, true);
    else this.#wake();
  }

  /**
   * Stops this incarnation now: children (newest first), timers, mailbox,
   * `onStop`, registrations, name. `notify` tells the parent, which then
   * applies its supervision; a parent stopping its own children does not.
   * @internal
   */
  _terminate(reason: StopReason, notify: boolean): void {
    if (this.#status === STOPPED) return;
    const system = this.system;
    this.#status = STOPPED;
    this.#busy = false;
    const children = this.#children;
    if (children !== undefined) {
      for (const child of [...children].reverse()) child._terminate("shutdown", false);
      this.#children = undefined;
    }
    const timers = this.#timers;
    if (timers !== undefined) {
      for (const t of timers) system.clock.cancel(t);
      this.#timers = undefined;
    }
    this._mailbox.clear();
    this.#exits = undefined;
    try {
      this.#behaviour.onStop?.(reason);
    } catch (error) {
      system._emit({ type: "crashed", actor: this.self, error, during: "stop" });
    }
    this.#behaviour = NO_BEHAVIOUR;
    const finalizers = this.#finalizers;
    if (finalizers !== undefined) {
      this.#finalizers = undefined;
      for (const f of finalizers) {
        try {
          f();
        } catch (error) {
          system._emit({ type: "crashed", actor: this.self, error, during: "stop" });
        }
      }
    }
    if (this.name !== undefined && system._names.get(this.name) === this) {
      system._names.delete(this.name);
    }
    system._live--;
    if (this.parent === undefined) system._roots.delete(this as Cell<unknown>);
    system._emit({ type: "stopped", actor: this.self, reason });
    if (notify) this.parent?._childExited(this as Cell<unknown>, reason);
  }

  /** @internal */
  _adopt(child: Cell<unknown>): void {
    (this.#children ??= new Set()).add(child);
  }

  /** @internal */
  _addFinalizer(hook: () => void): () => void {
    const finalizers = this.#finalizers ??= new Set();
    const entry = () => hook();
    finalizers.add(entry);
    return () => void this.#finalizers?.delete(entry);
  }

  /** @internal */
  _childExited(child: Cell<unknown>, reason: StopReason): void {
    if (this.#status !== RUNNING) return;
    (this.#exits ??= []).push({ child, incarnation: child.#incarnation, reason });
    if (!this.#scheduled && !this.#busy) {
      this.#scheduled = true;
      this.system.scheduler.schedule(this);
    }
  }

  #handleExit(notice: ExitNotice): void {
    const { child, reason } = notice;
    // Stale: stopped by this parent since, or already restarted by rest_for_one.
    if (!this.#children?.has(child) || child.#incarnation !== notice.incarnation || child.alive) {
      return;
    }
    this.system.scheduler.onDeliver?.(this.self, { child_exited: label(child), reason });
    const restart = child.restart === "permanent" ||
      (child.restart === "transient" && isCrash(reason));
    if (!restart) {
      this.#children.delete(child);
    } else if (!this.#allowRestart()) {
      const s = this.options.supervision ?? DEFAULT_SUPERVISION;
      this.#children.delete(child);
      const error = new RestartIntensityError(this.self, child.self, s.intensity, s.periodMs);
      this.#crash(error, "child_exit");
      return;
    } else {
      this.#restartFrom(child);
    }
    this.#busy = true;
    try {
      this.#behaviour.onChildExit?.({ child: child.self, reason, restarted: restart }, this);
    } catch (error) {
      this.#busy = false;
      this.#crash(error, "child_exit");
      return;
    }
    this.#busy = false;
    if (this.#status === STOPPING) this._terminate(this.#stopReason, true);
  }

  #allowRestart(): boolean {
    const { intensity, periodMs } = this.options.supervision ?? DEFAULT_SUPERVISION;
    const now = this.system.clock.now();
    const log = this.#restarts ??= [];
    log.push(now);
    while (log.length > 0 && log[0] <= now - periodMs) log.shift();
    return log.length <= intensity;
  }

  #restartFrom(child: Cell<unknown>): void {
    const strategy = (this.options.supervision ?? DEFAULT_SUPERVISION).strategy;
    const children = this.#children!;
    const restart: Cell<unknown>[] = [child];
    if (strategy === "rest_for_one") {
      const all = [...children];
      const after = all.slice(all.indexOf(child) + 1);
      for (let i = after.length - 1; i >= 0; i--) after[i]._terminate("shutdown", false);
      for (const c of after) {
        if (c.restart === "temporary") children.delete(c);
        else restart.push(c);
      }
    }
    for (const c of restart) {
      c.#incarnation++;
      c._begin(true);
    }
  }
}
