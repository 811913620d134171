/**
 * Id allocation and lookups. L2TP Tunnel IDs and Session IDs are 16-bit and
 * must not be 0 (RFC 2661 §3.1: 0 is reserved for messages before an id is
 * assigned), so the allocator hands out 1..65535 by default and never an id
 * still in use. A registry maps keys (names, ids) to actor refs and forgets an
 * entry by itself when its actor stops.
 *
 * @module
 */

import { _onStopped, type ActorRef } from "./system.ts";
import type { Prng } from "./prng.ts";

/** An allocated id, or why none was available. Same shape as the codecs' `Result`. */
export type IdResult = { ok: true; value: number } | { ok: false; error: "exhausted" };

/** Options for {@link IdAllocator}. */
export interface IdAllocatorOptions {
  /** Smallest id, default 1 (0 is reserved). */
  min?: number;
  /** Largest id, default 65535. */
  max?: number;
  /** Pick ids at random from this PRNG; without it ids are handed out sequentially, wrapping. */
  random?: Prng;
}

/**
 * Hands out integer ids in `[min, max]`, never one still in use. Memory is
 * proportional to the ids in use, so one allocator per tunnel (for its
 * Session IDs) is cheap.
 *
 * @example
 * ```ts
 * import { IdAllocator, Prng } from "./mod.ts";
 * const tunnelIds = new IdAllocator({ random: new Prng(1) });
 * const r = tunnelIds.allocate();
 * if (!r.ok) throw new Error("no free Tunnel ID");
 * tunnelIds.release(r.value);
 * ```
 */
export class IdAllocator {
  readonly min: number;
  readonly max: number;
  #inUse = new Set<number>();
  #random: Prng | undefined;
  #next: number;

  constructor(options: IdAllocatorOptions = {}) {
    this.min = options.min ?? 1;
    this.max = options.max ?? 0xffff;
    if (!Number.isInteger(this.min) || !Number.isInteger(this.max) || this.min > this.max) {
      throw new RangeError(`bad id range [${this.min}, ${this.max}]`);
    }
    this.#random = options.random;
    this.#next = this.min;
  }

  /** Ids the range holds. */
  get capacity(): number {
    return this.max - this.min + 1;
  }

  /** Ids in use. */
  get size(): number {
    return this.#inUse.size;
  }

  /** Whether `id` is in use. */
  has(id: number): boolean {
    return this.#inUse.has(id);
  }

  /** Takes a free id; `{ ok: false, error: "exhausted" }` when every id is in use. */
  allocate(): IdResult {
    if (this.#inUse.size >= this.capacity) return { ok: false, error: "exhausted" };
    const span = this.capacity;
    let id: number;
    if (this.#random !== undefined) {
      id = this.min + this.#random.nextInt(span);
      // A few random probes find a free id unless the range is nearly full;
      // then a scan from the last probe is bounded by the range.
      for (let probes = 1; this.#inUse.has(id) && probes < 16; probes++) {
        id = this.min + this.#random.nextInt(span);
      }
    } else {
      id = this.#next;
    }
    while (this.#inUse.has(id)) id = id === this.max ? this.min : id + 1;
    this.#next = id === this.max ? this.min : id + 1;
    this.#inUse.add(id);
    return { ok: true, value: id };
  }

  /** Frees `id`. @returns false when it was not in use. */
  release(id: number): boolean {
    return this.#inUse.delete(id);
  }
}

/** Options for {@link ActorRegistry}. */
export interface ActorRegistryOptions<K> {
  /** Called once whenever an entry goes, by {@link ActorRegistry.unregister} or because its actor stopped. */
  onRemove?: (key: K) => void;
}

/** Why {@link ActorRegistry.register} refused. */
export type RegisterResult = "ok" | "taken" | "closed";

interface Entry<M> {
  readonly ref: ActorRef<M>;
  readonly detach: () => void;
}

/**
 * Key → actor lookups (e.g. Tunnel ID → TunnelActor for the Listener). An
 * entry lasts while its actor runs: a stop, crash or restart removes it.
 *
 * @example
 * ```ts
 * import { ActorRegistry, ActorSystem, IdAllocator, ManualClock } from "./mod.ts";
 * const system = new ActorSystem({ clock: new ManualClock() });
 * const ids = new IdAllocator();
 * const tunnels = new ActorRegistry<number, string>({ onRemove: (id) => ids.release(id) });
 * const id = ids.allocate();
 * if (!id.ok) throw new Error("exhausted");
 * const ref = system.spawn<string>(() => ({ handle() {} }), { capacity: 8 });
 * tunnels.register(id.value, ref);
 * system.stop(ref);
 * if (tunnels.size !== 0 || ids.size !== 0) throw new Error("not released");
 * ```
 */
export class ActorRegistry<K, M> {
  #entries = new Map<K, Entry<M>>();
  #onRemove: ((key: K) => void) | undefined;

  constructor(options: ActorRegistryOptions<K> = {}) {
    this.#onRemove = options.onRemove;
  }

  /** Entries now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Binds `key` to `ref` until the actor stops. `"closed"`: the actor is not running. */
  register(key: K, ref: ActorRef<M>): RegisterResult {
    if (this.#entries.has(key)) return "taken";
    const detach = _onStopped(ref as ActorRef<unknown>, () => this.#remove(key, ref));
    if (detach === undefined) return "closed";
    this.#entries.set(key, { ref, detach });
    return "ok";
  }

  /** The running actor bound to `key`. */
  lookup(key: K): ActorRef<M> | undefined {
    return this.#entries.get(key)?.ref;
  }

  /** Removes `key`. @returns false when it was not bound. */
  unregister(key: K): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    entry.detach();
    return this.#remove(key, entry.ref);
  }

  #remove(key: K, ref: ActorRef<M>): boolean {
    if (this.#entries.get(key)?.ref !== ref) return false;
    this.#entries.delete(key);
    this.#onRemove?.(key);
    return true;
  }
}
