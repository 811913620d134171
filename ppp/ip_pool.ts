/**
 * A pool of IPv4 addresses to hand to PPP clients in IPCP (RFC 1332 §3.3
 * IP-Address), written as a CIDR prefix (`10.64.0.0/16`: without its network
 * and broadcast addresses) or a range (`10.64.0.10-10.64.0.99`: every
 * address in it).
 *
 * The pool is bounded by its range and stores only what is in use and what
 * was given back, so a /8 costs nothing until it is used. An address is never
 * handed out twice; released addresses are reused least recently released
 * first, after the never-used ones are gone, so a client that just left does
 * not find its address on someone else at once.
 *
 * @module
 */

import type { Result } from "../transport/result.ts";

/** An inclusive range of IPv4 addresses as 32-bit unsigned numbers. */
export interface Ipv4Range {
  readonly first: number;
  readonly last: number;
}

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const DOTTED_QUAD = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/**
 * Parses a dotted-quad IPv4 address (no leading zeros, which some parsers read
 * as octal) into a 32-bit unsigned number; `undefined` when it is not one.
 *
 * @example
 * ```ts
 * import { parseIpv4 } from "./ip_pool.ts";
 * if (parseIpv4("10.0.0.1") !== 0x0a000001 || parseIpv4("10.0.0.01") !== undefined) throw new Error();
 * ```
 */
export function parseIpv4(text: string): number | undefined {
  const m = DOTTED_QUAD.exec(text);
  if (m === null) return undefined;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/**
 * Formats a 32-bit unsigned number as a dotted quad.
 *
 * @example
 * ```ts
 * import { formatIpv4 } from "./ip_pool.ts";
 * if (formatIpv4(0xc0a80001) !== "192.168.0.1") throw new Error();
 * ```
 */
export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/**
 * Parses `a.b.c.d/n` or `a.b.c.d-e.f.g.h` into the addresses a pool may hand
 * out, or says what is wrong. A prefix of /30 or shorter loses its network
 * and broadcast addresses; /31 (RFC 3021) and /32 keep all.
 *
 * @example
 * ```ts
 * import { parseIpv4Range } from "./ip_pool.ts";
 * const r = parseIpv4Range("10.0.0.0/30");
 * if (!r.ok || r.value.first !== 0x0a000001 || r.value.last !== 0x0a000002) throw new Error();
 * ```
 */
export function parseIpv4Range(spec: string): Result<Ipv4Range, string> {
  const text = spec.trim();
  const slash = text.indexOf("/");
  if (slash >= 0) {
    const base = parseIpv4(text.slice(0, slash));
    const bitsText = text.slice(slash + 1);
    if (base === undefined) {
      return { ok: false, error: `"${text.slice(0, slash)}" is not an IPv4 address` };
    }
    if (!/^\d{1,2}$/.test(bitsText) || Number(bitsText) > 32) {
      return { ok: false, error: `prefix length "${bitsText}" is not in 0..32` };
    }
    const bits = Number(bitsText);
    const hostMask = bits === 0 ? 0xffffffff : (2 ** (32 - bits) - 1);
    if ((base & hostMask) !== 0) {
      return { ok: false, error: `"${text}" has host bits set` };
    }
    const broadcast = (base + hostMask) >>> 0;
    return bits >= 31
      ? { ok: true, value: { first: base, last: broadcast } }
      : { ok: true, value: { first: base + 1, last: broadcast - 1 } };
  }
  const dash = text.indexOf("-");
  if (dash < 0) {
    return {
      ok: false,
      error: `"${text}" is neither a prefix a.b.c.d/n nor a range a.b.c.d-e.f.g.h`,
    };
  }
  const first = parseIpv4(text.slice(0, dash).trim());
  const last = parseIpv4(text.slice(dash + 1).trim());
  if (first === undefined || last === undefined) {
    const bad = first === undefined ? text.slice(0, dash) : text.slice(dash + 1);
    return { ok: false, error: `"${bad.trim()}" is not an IPv4 address` };
  }
  if (first > last) return { ok: false, error: `range "${text}" ends before it starts` };
  return { ok: true, value: { first, last } };
}

/**
 * IPv4 addresses handed out one at a time, never twice.
 *
 * @example
 * ```ts
 * import { IpPool } from "./ip_pool.ts";
 * const r = IpPool.parse("10.0.0.0/30");
 * if (!r.ok) throw new Error(r.error);
 * const pool = r.value;
 * const a = pool.allocate(), b = pool.allocate();
 * if (a !== "10.0.0.1" || b !== "10.0.0.2" || pool.allocate() !== null) throw new Error();
 * pool.release(a);
 * if (pool.allocate() !== "10.0.0.1") throw new Error();
 * ```
 */
export class IpPool {
  /** The addresses this pool hands out. */
  readonly range: Ipv4Range;
  /** Allocated or reserved. */
  readonly #inUse = new Set<number>();
  /** Given back and not in use, least recently released first; all below {@link #fresh}. */
  readonly #released = new Set<number>();
  /** Every address from here to `last` has never been handed out (some may be reserved). */
  #fresh: number;

  /** A pool over `range`. Throws RangeError when it is not a valid range of IPv4 addresses. */
  constructor(range: Ipv4Range) {
    const { first, last } = range;
    const valid = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
    if (!valid(first) || !valid(last) || first > last) {
      throw new RangeError(`invalid IPv4 range ${first}..${last}`);
    }
    this.range = { first, last };
    this.#fresh = first;
  }

  /** A pool from `a.b.c.d/n` or `a.b.c.d-e.f.g.h` ({@link parseIpv4Range}), or what is wrong with it. */
  static parse(spec: string): Result<IpPool, string> {
    const range = parseIpv4Range(spec);
    return range.ok ? { ok: true, value: new IpPool(range.value) } : range;
  }

  /** How many addresses the pool holds. */
  get size(): number {
    return this.range.last - this.range.first + 1;
  }

  /** How many are allocated or reserved. */
  get inUse(): number {
    return this.#inUse.size;
  }

  /** How many can still be allocated. */
  get available(): number {
    return this.size - this.#inUse.size;
  }

  /** Whether `addr` is one of the pool's addresses, in use or not. */
  includes(addr: string): boolean {
    const n = parseIpv4(addr);
    return n !== undefined && n >= this.range.first && n <= this.range.last;
  }

  /** A free address, now in use; `null` when the pool is exhausted. */
  allocate(): string | null {
    while (this.#fresh <= this.range.last) {
      const n = this.#fresh++;
      if (!this.#inUse.has(n)) {
        this.#inUse.add(n);
        return formatIpv4(n);
      }
    }
    for (const n of this.#released) {
      this.#released.delete(n);
      this.#inUse.add(n);
      return formatIpv4(n);
    }
    return null;
  }

  /**
   * Takes `addr` for a client that asked for it (IPCP). False when it is not
   * in the pool or already in use; the caller then allocates another.
   */
  reserve(addr: string): boolean {
    const n = parseIpv4(addr);
    if (n === undefined || n < this.range.first || n > this.range.last || this.#inUse.has(n)) {
      return false;
    }
    this.#released.delete(n);
    this.#inUse.add(n);
    return true;
  }

  /** Gives `addr` back. False when it was not in use (a double release is harmless). */
  release(addr: string): boolean {
    const n = parseIpv4(addr);
    if (n === undefined || !this.#inUse.delete(n)) return false;
    // At or above #fresh the fresh scan finds it again; listed in both, it could go out twice.
    if (n < this.#fresh) this.#released.add(n);
    return true;
  }
}
