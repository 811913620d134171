/**
 * Mutation fuzzer for the wire decoders: random datagrams and mutations of
 * valid control and data messages (bit flips, byte writes, truncation,
 * extension, corrupted Length/AVP-length fields, splices). Seeded, so a
 * failing seed replays exactly. Run long with `deno task fuzz [cases] [seed]`.
 *
 * @module
 */

import fc from "fast-check";
import { anyAddress, anyMessage } from "../transport/_arbitraries.ts";
import type { AvpKey } from "../transport/avp_types.ts";
import { describePacket } from "../transport/describe.ts";
import { dataHeaderLength, decodeHeader, writeDataHeader } from "../transport/header.ts";
import { buildAvps, decodeControl, encodeControl } from "../transport/message.ts";

/** What a fuzz run did. */
export interface FuzzReport {
  cases: number;
  decodedOk: number;
  rejected: number;
  slowestMs: number;
  elapsedMs: number;
}

const SECRET = new TextEncoder().encode("fuzz-secret");

function xorshift(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

function corpus(seed: number): Uint8Array[] {
  const samples = fc.sample(fc.tuple(anyMessage, anyAddress, fc.boolean()), { numRuns: 300, seed });
  const out: Uint8Array[] = samples.map(([msg, address, hideAll]) => {
    const hide = hideAll ? (Object.keys(msg.fields) as AvpKey[]) : [];
    return encodeControl(address, buildAvps(msg.type, msg.fields, { hide }), { secret: SECRET });
  });
  for (
    const h of [{ tunnelId: 1, sessionId: 2 }, {
      tunnelId: 3,
      sessionId: 4,
      withLength: true,
      ns: 9,
      offsetSize: 4,
    }]
  ) {
    const pkt = new Uint8Array(dataHeaderLength(h) + 20);
    writeDataHeader(pkt, h, 20);
    out.push(pkt);
  }
  return out;
}

function mutate(base: Uint8Array, rnd: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(rnd() * n);
  let b = base.slice();
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    switch (pick(7)) {
      case 0: // bit flip
        if (b.length) b[pick(b.length)] ^= 1 << pick(8);
        break;
      case 1: // byte write
        if (b.length) b[pick(b.length)] = pick(256);
        break;
      case 2: // truncate
        b = b.subarray(0, pick(b.length + 1));
        break;
      case 3: { // extend with random octets
        const ext = new Uint8Array(b.length + 1 + pick(40));
        ext.set(b);
        for (let i = b.length; i < ext.length; i++) ext[i] = pick(256);
        b = ext;
        break;
      }
      case 4: // header Length field
        if (b.length >= 4) {
          b[2] = pick(256);
          b[3] = pick(256);
        }
        break;
      case 5: { // an AVP Length field (10 bits) somewhere past the header
        if (b.length > 14) {
          const at = 12 + pick(b.length - 13);
          b[at] = (b[at] & 0xfc) | pick(4);
          b[at + 1] = pick(256);
        }
        break;
      }
      default: { // splice two halves
        const cut = pick(b.length + 1);
        const tail = b.slice(pick(b.length + 1));
        const s = new Uint8Array(cut + tail.length);
        s.set(b.subarray(0, cut));
        s.set(tail, cut);
        b = s;
      }
    }
  }
  return b;
}

/**
 * Runs `cases` datagrams through every decoder; throws on the first decoder
 * exception, naming the seed and case so it replays.
 */
export function fuzzCodec(cases: number, seed: number): FuzzReport {
  const rnd = xorshift(seed);
  const seeds = corpus(seed);
  const report: FuzzReport = { cases, decodedOk: 0, rejected: 0, slowestMs: 0, elapsedMs: 0 };
  const start = performance.now();
  for (let i = 0; i < cases; i++) {
    let pkt: Uint8Array;
    if (rnd() < 0.2) {
      pkt = new Uint8Array(Math.floor(rnd() * 120));
      for (let j = 0; j < pkt.length; j++) pkt[j] = Math.floor(rnd() * 256);
      if (pkt.length > 1 && rnd() < 0.5) pkt[1] = 2; // get past the version check
    } else {
      pkt = mutate(seeds[Math.floor(rnd() * seeds.length)], rnd);
    }
    const t0 = performance.now();
    try {
      decodeHeader(pkt);
      const r = decodeControl(pkt, rnd() < 0.5 ? { secret: SECRET } : {});
      describePacket(pkt, { secret: SECRET });
      if (r.ok) report.decodedOk++;
      else report.rejected++;
    } catch (e) {
      const hex = Array.from(pkt, (x) => x.toString(16).padStart(2, "0")).join("");
      throw new Error(`decoder threw on case ${i} of seed ${seed}: ${hex}`, { cause: e });
    }
    report.slowestMs = Math.max(report.slowestMs, performance.now() - t0);
  }
  report.elapsedMs = performance.now() - start;
  return report;
}

if (import.meta.main) {
  const cases = Number(Deno.args[0] ?? 1_000_000);
  const seed = Number(Deno.args[1] ?? Date.now() % 0x7fffffff);
  console.log(JSON.stringify({ seed, ...fuzzCodec(cases, seed) }));
}
