/**
 * UDP fuzz against a live switch: `lts lac` → `lts run` → `lts lns`, all
 * real processes on loopback, with calls established and forwarding LCP
 * echoes, while this process blasts hostile L2TP datagrams at the switch's
 * port from many source addresses and ports: mutated control and data
 * messages, random bytes, valid headers with hostile AVPs, truncated ones,
 * huge Length fields, unknown and real Tunnel IDs from foreign addresses.
 *
 * It checks what an operator would: the API keeps answering, a new LAC
 * still gets its calls through, the established calls keep forwarding with
 * small loss, and every dropped datagram is counted in `/metrics`.
 *
 * Run long with `deno task fuzz:live [seconds] [datagrams-per-second] [seed]`.
 *
 * @module
 */

import { buildAvps, encodeControl } from "../transport/message.ts";
import { dataHeaderLength, writeDataHeader } from "../transport/header.ts";
import { corpus, mutate, SECRET, xorshift } from "./codec_fuzz.ts";
import {
  apiJson,
  apiMetrics,
  familySum,
  freePort,
  type LacSummary,
  lacSummary,
  memoryOf,
  spawnLts,
} from "./_processes.ts";

/** Options of {@link fuzzLive}. */
export interface LiveFuzzOptions {
  /** How long to fuzz. */
  seconds: number;
  /** Hostile datagrams per second. */
  pps: number;
  /** Calls the LAC keeps up (and their echoes per second, over all of them). */
  sessions: number;
  dataPps: number;
  seed: number;
  /** Progress lines (stderr in the long run). */
  log?: (line: string) => void;
}

/** What {@link fuzzLive} saw. */
export interface LiveFuzzReport {
  seed: number;
  /** Hostile datagrams sent, and the source addresses and ports they came from. */
  sent: number;
  sources: number;
  /** Datagrams the switch counted as dropped (node and data plane) during the run. */
  dropsCounted: number;
  dropsByReason: Record<string, number>;
  /** `/status` asked and answered while fuzzing. */
  statusAsked: number;
  statusAnswered: number;
  /** Calls switched when the fuzz started and when it ended. */
  switchedBefore: number;
  switchedAfter: number;
  /** The established calls' LAC, and a LAC that called in during the fuzz. */
  lac: LacSummary;
  newLac: LacSummary;
  /** Echo requests without a reply, over those sent. */
  loss: number;
  /** Peak resident memory of `lts run`, KiB. */
  peakRssKiB: number;
}

interface Status {
  sessions: { switched: number };
}

interface SessionView {
  incoming: { tunnelId: number; sessionId: number };
  outgoing: { tunnelId: number; sessionId: number } | null;
}

/** Foreign sources: addresses of 127/8 other than 127.0.0.1, which the real LAC and LNS use. */
const FOREIGN_ADDRESSES = 16;
const PORTS_PER_ADDRESS = 4;
/** Sources on 127.0.0.1 itself, sending only what cannot touch the real tunnels. */
const LOCAL_PORTS = 16;

/** Runs the whole scenario; throws only when a process cannot start. */
export async function fuzzLive(options: LiveFuzzOptions): Promise<LiveFuzzReport> {
  const log = options.log ?? (() => {});
  const dir = await Deno.makeTempDir();
  const ports = { lts: freePort("udp"), lns: freePort("udp"), api: freePort("tcp") };
  const procs: ReturnType<typeof spawnLts>[] = [];
  const sockets: Deno.DatagramConn[] = [];
  try {
    await Deno.writeTextFile(
      `${dir}/lts.yaml`,
      `hostname: lts-fuzz
listen: ["127.0.0.1:${ports.lts}"]
api: { listen: "127.0.0.1:${ports.api}" }
limits: { sccrq_per_second: 200 }
lacs:
  - { match: { hostname: "lts-lac" }, secret: "fuzz-lac", hide_avps: true }
  - { match: { address: "127.0.0.0/8" } }
upstreams: { isp-a: { members: [{ address: "127.0.0.1:${ports.lns}", secret: "fuzz-lns" }] } }
rules: [{ name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }]
`,
    );
    const lns = spawnLts(["lns", "--listen", `127.0.0.1:${ports.lns}`, "--secret", "fuzz-lns"]);
    procs.push(lns);
    await lns.until(/listening/);
    const lts = spawnLts(["run", "--config", `${dir}/lts.yaml`, "--log-level", "error"]);
    procs.push(lts);
    await lts.until(/API on http/);
    const hold = options.seconds + 8;
    const lac = spawnLts([
      "lac",
      "--server",
      `127.0.0.1:${ports.lts}`,
      "--secret",
      "fuzz-lac",
      "--hide",
      "--tunnels",
      "2",
      "--sessions",
      String(options.sessions),
      "--data-pps",
      String(options.dataPps),
      "--duration",
      String(hold),
    ]);
    procs.push(lac);
    await waitFor(async () =>
      (await apiJson<Status>(ports.api, "/status")).sessions.switched === options.sessions
    );
    const switchedBefore = options.sessions;
    const calls = await apiJson<SessionView[]>(ports.api, "/sessions");
    const live = new Set<number>();
    const legs: { tunnelId: number; sessionId: number }[] = [];
    for (const c of calls) {
      live.add(c.incoming.tunnelId);
      legs.push(c.incoming);
      if (c.outgoing) {
        live.add(c.outgoing.tunnelId);
        legs.push(c.outgoing);
      }
    }
    const before = await apiMetrics(ports.api);
    log(`${options.sessions} calls switched over tunnels ${[...live].join(", ")}; fuzzing`);

    const foreign: Deno.DatagramConn[] = [];
    for (let a = 0; a < FOREIGN_ADDRESSES; a++) {
      for (let p = 0; p < PORTS_PER_ADDRESS; p++) {
        foreign.push(
          Deno.listenDatagram({ transport: "udp", hostname: `127.0.0.${a + 2}`, port: 0 }),
        );
      }
    }
    const local: Deno.DatagramConn[] = [];
    for (let p = 0; p < LOCAL_PORTS; p++) {
      local.push(Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }));
    }
    sockets.push(...foreign, ...local);
    // Whatever the switch answers (SCCRPs, StopCCNs, ZLBs) is read and dropped.
    for (const s of sockets) void drain(s);

    const rnd = xorshift(options.seed);
    const seeds = corpus(options.seed);
    const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: ports.lts };
    let sent = 0;
    let statusAsked = 0;
    let statusAnswered = 0;
    let newLac: ReturnType<typeof spawnLts> | undefined;
    const start = performance.now();
    const tickMs = 10;
    let nextStatus = start;
    while (performance.now() - start < options.seconds * 1000) {
      const elapsed = performance.now() - start;
      const due = Math.floor((elapsed / 1000) * options.pps);
      const sends: Promise<unknown>[] = [];
      while (sent < due) {
        const fromLocal = rnd() < 0.25;
        const pick = (list: Deno.DatagramConn[]) => list[Math.floor(rnd() * list.length)];
        const packet = fromLocal
          ? localDatagram(rnd, live)
          : foreignDatagram(rnd, seeds, live, legs);
        sends.push(pick(fromLocal ? local : foreign).send(packet, target).catch(() => 0));
        sent++;
      }
      await Promise.all(sends);
      if (performance.now() >= nextStatus) {
        nextStatus += 500;
        statusAsked++;
        apiJson<Status>(ports.api, "/status").then(() => statusAnswered++, () => {});
      }
      if (newLac === undefined && elapsed > (options.seconds * 1000) / 3) {
        // A LAC that calls in while the fuzz goes on.
        newLac = spawnLts([
          "lac",
          "--server",
          `127.0.0.1:${ports.lts}`,
          "--secret",
          "fuzz-lac",
          "--sessions",
          "5",
          "--duration",
          "1",
          "--timeout",
          "40",
        ]);
        procs.push(newLac);
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    log(`sent ${sent} datagrams in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    const switchedAfter = (await apiJson<Status>(ports.api, "/status")).sessions.switched;
    await new Promise((r) => setTimeout(r, 500)); // the last /status answers, the last drops
    const after = await apiMetrics(ports.api);
    const dropsByReason: Record<string, number> = {};
    for (const [key, value] of after) {
      const m = /^lts_(datagrams|data)_dropped_total\{reason=(\w+)\}$/.exec(key);
      if (m === null) continue;
      const delta = value - (before.get(key) ?? 0);
      if (delta > 0) dropsByReason[`${m[1]}:${m[2]}`] = delta;
    }
    const dropsCounted = familySum(after, "lts_datagrams_dropped_total") -
      familySum(before, "lts_datagrams_dropped_total") +
      familySum(after, "lts_data_dropped_total") - familySum(before, "lts_data_dropped_total");
    const memory = await memoryOf(lts.pid);
    const newLacEnd = newLac === undefined ? undefined : await newLac.end();
    const lacEnd = await lac.end();
    const summary = lacSummary(lacEnd.out);
    return {
      seed: options.seed,
      sent,
      sources: sockets.length,
      dropsCounted,
      dropsByReason,
      statusAsked,
      statusAnswered,
      switchedBefore,
      switchedAfter,
      lac: summary,
      newLac: newLacEnd === undefined ? { ...summary, sessions_up: 0 } : lacSummary(newLacEnd.out),
      loss: summary.data_sent === 0 ? 1 : 1 - summary.data_received / summary.data_sent,
      peakRssKiB: memory.peakKiB,
    };
  } finally {
    for (const s of sockets) s.close();
    for (const p of procs) p.kill("SIGKILL");
    for (const p of procs) await p.end();
    await Deno.remove(dir, { recursive: true });
  }
}

async function drain(socket: Deno.DatagramConn): Promise<void> {
  try {
    for (;;) await socket.receive();
  } catch {
    // closed
  }
}

async function waitFor(check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const u16 = (rnd: () => number) => Math.floor(rnd() * 0x10000);

/**
 * From 127.0.0.1 (the real peers' address) only what must not reach a live
 * tunnel: data and ZLBs for Tunnel IDs not in use, runts, other versions.
 */
function localDatagram(rnd: () => number, live: ReadonlySet<number>): Uint8Array {
  let tunnelId = u16(rnd);
  while (tunnelId === 0 || live.has(tunnelId)) tunnelId = u16(rnd);
  switch (Math.floor(rnd() * 4)) {
    case 0:
      return dataMessage(tunnelId, u16(rnd), Math.floor(rnd() * 200));
    case 1:
      return encodeControl({ tunnelId, sessionId: 0, ns: u16(rnd), nr: u16(rnd) }, []);
    case 2:
      return Uint8Array.from({ length: Math.floor(rnd() * 6) }, () => Math.floor(rnd() * 256));
    default: {
      const p = dataMessage(tunnelId, u16(rnd), 20);
      p[1] = (p[1] & 0xf0) | [1, 3, 0, 15][Math.floor(rnd() * 4)];
      return p;
    }
  }
}

/** From foreign addresses anything: the switch must drop by address what names a live tunnel. */
function foreignDatagram(
  rnd: () => number,
  seeds: Uint8Array[],
  live: ReadonlySet<number>,
  legs: readonly { tunnelId: number; sessionId: number }[],
): Uint8Array {
  const r = rnd();
  if (r < 0.45) return mutate(seeds[Math.floor(rnd() * seeds.length)], rnd);
  if (r < 0.55) {
    return Uint8Array.from(
      { length: Math.floor(rnd() * 1400) },
      () => Math.floor(rnd() * 256),
    );
  }
  if (r < 0.7) return hostileControl(rnd);
  if (r < 0.8) {
    // A real call's IDs, from the wrong address: the data plane must refuse it.
    const leg = legs[Math.floor(rnd() * legs.length)];
    return dataMessage(leg.tunnelId, leg.sessionId, 12 + Math.floor(rnd() * 100));
  }
  if (r < 0.9) {
    // A real tunnel's ID on a control message: wrong peer.
    const ids = [...live];
    const tunnelId = ids[Math.floor(rnd() * ids.length)];
    return mutate(encodeControl({ tunnelId, sessionId: 0, ns: u16(rnd), nr: u16(rnd) }, []), rnd);
  }
  // A huge Length field on an otherwise valid header.
  const p = seeds[Math.floor(rnd() * seeds.length)].slice();
  if (p[0] & 0x40) {
    p[2] = 0xff;
    p[3] = 0xff;
  }
  return p;
}

/** Valid control headers carrying hostile AVPs. */
function hostileControl(rnd: () => number): Uint8Array {
  const header = { tunnelId: rnd() < 0.5 ? 0 : u16(rnd), sessionId: 0, ns: 0, nr: 0 };
  const sccrq = encodeControl(
    header,
    buildAvps("SCCRQ", {
      protocolVersion: { version: 1, revision: 0 },
      hostName: "x".repeat(1 + Math.floor(rnd() * 200)),
      framingCapabilities: { synchronous: true, asynchronous: true },
      assignedTunnelId: 1 + Math.floor(rnd() * 0xfffe),
      ...(rnd() < 0.5 ? { challenge: new Uint8Array(16) } : {}),
    }),
    { secret: SECRET },
  );
  const out = new Uint8Array(sccrq.length + 64);
  out.set(sccrq);
  let at = sccrq.length;
  const avp = (flags: number, length: number, vendor: number, type: number) => {
    out[at] = flags | ((length >> 8) & 0x03);
    out[at + 1] = length & 0xff;
    out[at + 2] = vendor >> 8;
    out[at + 3] = vendor & 0xff;
    out[at + 4] = type >> 8;
    out[at + 5] = type & 0xff;
    at += 6;
  };
  switch (Math.floor(rnd() * 5)) {
    case 0: // an unknown AVP with the M bit: the tunnel must be refused, not the process
      avp(0x80, 6, 0, 200 + Math.floor(rnd() * 100));
      break;
    case 1: // an AVP Length past the end
      avp(0x80, 1023, 0, 7);
      break;
    case 2: // an AVP Length shorter than its header
      avp(0x80, 3, 0, 7);
      break;
    case 3: // a hidden AVP with no Random Vector before it
      avp(0xc0, 22, 0, 7);
      at += 16;
      break;
    default: // a vendor AVP with the M bit
      avp(0x80, 6, 9, 1);
  }
  const packet = out.subarray(0, at);
  packet[2] = packet.length >> 8;
  packet[3] = packet.length & 0xff;
  return packet;
}

function dataMessage(tunnelId: number, sessionId: number, payload: number): Uint8Array {
  const h = { tunnelId, sessionId };
  const p = new Uint8Array(dataHeaderLength(h) + payload);
  writeDataHeader(p, h, payload);
  return p;
}

if (import.meta.main) {
  const seconds = Number(Deno.args[0] ?? 300);
  const pps = Number(Deno.args[1] ?? 5000);
  const seed = Number(Deno.args[2] ?? Date.now() % 0x7fffffff);
  const report = await fuzzLive({
    seconds,
    pps,
    sessions: 20,
    dataPps: 200,
    seed,
    log: (l) => console.error(l),
  });
  console.log(JSON.stringify(report));
}
