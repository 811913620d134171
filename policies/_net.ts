/**
 * IP literals and CIDR prefixes for `lac_address` and `lacs[].match.address`.
 *
 * An address is four 32-bit words (IPv4 uses only the first), so a prefix
 * test is at most four masked compares and never allocates a BigInt.
 *
 * @module
 */

import { normalizeEndpoint } from "../transport/datagram.ts";

/** An IP address as 32-bit words: one for IPv4, four for IPv6. */
export interface IpAddress {
  readonly v6: boolean;
  readonly words: readonly number[];
}

/** An address prefix such as `10.0.0.0/8` or `2001:db8::/32`. */
export interface Cidr {
  /** The prefix as written in the policy, for messages. */
  readonly text: string;
  readonly v6: boolean;
  /** The network address; host bits are zero. */
  readonly words: readonly number[];
  /** Prefix length: 0..32 for IPv4, 0..128 for IPv6. */
  readonly bits: number;
}

/**
 * Parses an IPv4 or IPv6 literal. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
 * is returned as IPv4, so a dual-stack socket's view of a peer matches IPv4 prefixes.
 */
export function parseIp(text: string): IpAddress | undefined {
  // Canonical IPv6 text from the one IP-literal parser the transport already uses.
  const canonical = normalizeEndpoint({ hostname: text, port: 0 });
  if (!canonical.ok) return undefined;
  const host = canonical.value.hostname;
  if (!host.includes(":")) {
    const parts = host.split(".").map(Number);
    return {
      v6: false,
      words: [((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0],
    };
  }
  const [head, tail] = host.includes("::") ? host.split("::") : [host, undefined];
  const groups = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const front = groups(head);
  const back = groups(tail);
  const all = [...front, ...new Array(8 - front.length - back.length).fill(0), ...back];
  const words = [0, 1, 2, 3].map((i) => ((all[2 * i] << 16) | all[2 * i + 1]) >>> 0);
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    return { v6: false, words: [words[3]] };
  }
  return { v6: true, words };
}

/** Parses `address/bits`; a bare address is a host prefix (/32 or /128). */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addressText);
  if (ip === undefined) return `"${addressText}" is not an IPv4 or IPv6 address`;
  // A prefix written in IPv6 form counts in IPv6 bits even when it maps to IPv4.
  const writtenV6 = addressText.includes(":");
  const max = writtenV6 ? 128 : 32;
  let bits = max;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b) || Number(b) > max) {
      return `prefix length "${b}" is not in 0..${max}`;
    }
    bits = Number(b);
  }
  if (writtenV6 && !ip.v6) {
    // ::ffff:a.b.c.d/n — only meaningful for n ≥ 96; it is then an IPv4 prefix.
    if (bits < 96) return `an IPv4-mapped prefix needs a length of at least 96, got ${bits}`;
    bits -= 96;
  }
  const words = ip.words.map((w, i) => (w & mask(bits - 32 * i)) >>> 0);
  if (words.some((w, i) => w !== ip.words[i])) {
    return `"${text}" has host bits set (did you mean "${format(ip.v6, words)}/${bits}"?)`;
  }
  return { text, v6: ip.v6, words, bits };
}

/** Whether `ip` lies inside `cidr`. */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.v6 !== ip.v6) return false;
  for (let i = 0; i < cidr.words.length; i++) {
    if (((ip.words[i] & mask(cidr.bits - 32 * i)) >>> 0) !== cidr.words[i]) return false;
  }
  return true;
}

/** The mask of the first `bits` bits of a 32-bit word (clamped to 0..32). */
function mask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

function format(v6: boolean, words: readonly number[]): string {
  if (!v6) return [24, 16, 8, 0].map((s) => (words[0] >>> s) & 255).join(".");
  const text = words.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]).join(":");
  const canonical = normalizeEndpoint({ hostname: text, port: 0 });
  return canonical.ok ? canonical.value.hostname : text;
}
