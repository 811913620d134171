/**
 * Control-plane floods against a live switch (`lts lac` → `lts run` →
 * `lts lns`, real processes on loopback): SCCRQs at a multiple of
 * `limits.sccrq_per_second` from many source addresses and ports, and ICRQs
 * on admitted tunnels beyond the session limits (per tunnel, from
 * `lacs[].max_sessions`, and global, `limits.max_sessions`), while the
 * established calls keep forwarding LCP echoes. It measures what was offered
 * and handled, the loss on the established calls, and the switch's memory.
 *
 * Run long with `deno task flood [seconds] [factor]`.
 *
 * @module
 */

import { buildAvps, decodeControl, encodeControl, fieldsOf } from "../transport/message.ts";
import type { MessageTypeName } from "../transport/avp_types.ts";
import type { AvpFields } from "../transport/message.ts";
import {
  apiJson,
  apiMetrics,
  freePort,
  type LacSummary,
  lacSummary,
  memoryOf,
  spawnLts,
} from "./_processes.ts";

/** Options of {@link flood}. */
export interface FloodOptions {
  seconds: number;
  /** `limits.sccrq_per_second` of the switch; the floods offer `factor` times it. */
  sccrqPerSecond: number;
  factor: number;
  /** `limits.max_sessions`, and `lacs[].max_sessions` of the flooders' tunnels. */
  maxSessions: number;
  maxSessionsPerTunnel: number;
  /** Established calls, and their echoes per second over all of them. */
  sessions: number;
  dataPps: number;
}

/** What {@link flood} measured. */
export interface FloodReport {
  seconds: number;
  sources: number;
  sccrq: { offeredPerSecond: number; handledPerSecond: number; rateLimited: number };
  icrq: {
    offeredPerSecond: number;
    /** ICRQs answered (ICRP or CDN) per second. */
    answeredPerSecond: number;
    /** Of those, refused with CDN result 4; and those the switch refused (`limits.max_sessions`). */
    refusedCdn4: number;
    refusedGlobal: number;
    accepted: number;
  };
  /** Calls switched at the end (the established ones must all still be there). */
  switchedAfter: number;
  lac: LacSummary;
  loss: number;
  rssBeforeKiB: number;
  peakRssKiB: number;
  limitsReached: Record<string, number>;
}

interface Status {
  sessions: { switched: number };
}

const ADDRESSES = 16;
const PORTS_PER_ADDRESS = 8;

const IDENTITY: AvpFields = {
  protocolVersion: { version: 1, revision: 0 },
  hostName: "flooder",
  framingCapabilities: { synchronous: true, asynchronous: true },
};

/**
 * A LAC driven by hand on one socket: SCCRQ, SCCCN once the SCCRP came,
 * then ICRQs it never completes; it acknowledges whatever it receives.
 */
class RawLac {
  readonly socket: Deno.DatagramConn;
  #to: Deno.NetAddr;
  #ns = 0;
  #nr = 0;
  #peerTunnelId = 0;
  #nextSession = 1;
  /** The peer's Nr: our messages below it are acknowledged. */
  #acked = 0;
  established = false;
  replies = { icrp: 0, cdn4: 0, cdnOther: 0, stopccn: 0 };
  /** Tunnel IDs the switch assigned us in SCCRPs (retransmitted SCCRPs count once). */
  tunnels = new Set<number>();

  /** Whether it answers the SCCRP with an SCCCN, or leaves the tunnel half-open. */
  #complete: boolean;

  constructor(socket: Deno.DatagramConn, to: Deno.NetAddr, complete: boolean) {
    this.socket = socket;
    this.#to = to;
    this.#complete = complete;
  }

  sccrq(assignedTunnelId: number): Promise<void> {
    // A fresh control connection each time: the switch sees a new SCCRQ (Ns 0).
    this.#ns = 0;
    this.#nr = 0;
    this.#peerTunnelId = 0;
    this.#acked = 0;
    this.established = false;
    return this.#send("SCCRQ", { ...IDENTITY, assignedTunnelId });
  }

  /** Whether the switch's receive window has room: at most 8 unacknowledged messages (§5.8). */
  get windowOpen(): boolean {
    return ((this.#ns - this.#acked) & 0xffff) < 8;
  }

  icrq(): Promise<void> {
    const sid = this.#nextSession++ & 0xffff || this.#nextSession++;
    return this.#send("ICRQ", { assignedSessionId: sid, callSerialNumber: sid });
  }

  async listen(): Promise<void> {
    try {
      for (;;) {
        const [payload] = await this.socket.receive();
        const m = decodeControl(payload);
        if (!m.ok) continue;
        this.#acked = m.value.header.nr ?? this.#acked;
        if (m.value.type === "ZLB") continue;
        if (m.value.header.ns === this.#nr) this.#nr = (this.#nr + 1) & 0xffff;
        const f = fieldsOf(m.value.avps);
        switch (m.value.type) {
          case "SCCRP":
            this.#peerTunnelId = f.assignedTunnelId ?? 0;
            this.tunnels.add(this.#peerTunnelId);
            if (!this.#complete) break;
            await this.#send("SCCCN", {});
            this.established = true;
            continue;
          case "ICRP":
            this.replies.icrp++;
            break;
          case "CDN":
            if (f.resultCode?.resultCode === 4) this.replies.cdn4++;
            else this.replies.cdnOther++;
            break;
          case "StopCCN":
            this.replies.stopccn++;
            this.established = false;
            break;
        }
        await this.#ack();
      }
    } catch {
      // closed
    }
  }

  #ack(): Promise<void> {
    const zlb = encodeControl(
      { tunnelId: this.#peerTunnelId, sessionId: 0, ns: this.#ns, nr: this.#nr },
      [],
    );
    return this.socket.send(zlb, this.#to).then(() => {}, () => {});
  }

  #send(type: MessageTypeName, fields: AvpFields): Promise<void> {
    const packet = encodeControl(
      { tunnelId: this.#peerTunnelId, sessionId: 0, ns: this.#ns, nr: this.#nr },
      buildAvps(type, fields),
    );
    this.#ns = (this.#ns + 1) & 0xffff;
    return this.socket.send(packet, this.#to).then(() => {}, () => {});
  }
}

/** Runs the floods; throws only when a process cannot start. */
export async function flood(options: FloodOptions): Promise<FloodReport> {
  const dir = await Deno.makeTempDir();
  const ports = { lts: freePort("udp"), lns: freePort("udp"), api: freePort("tcp") };
  const procs: ReturnType<typeof spawnLts>[] = [];
  const lacs: RawLac[] = [];
  try {
    await Deno.writeTextFile(
      `${dir}/lts.yaml`,
      `hostname: lts-flood
listen: ["127.0.0.1:${ports.lts}"]
api: { listen: "127.0.0.1:${ports.api}" }
limits: { sccrq_per_second: ${options.sccrqPerSecond}, max_sessions: ${options.maxSessions}, max_tunnels: 1000 }
lacs:
  - { match: { hostname: "lts-lac" }, secret: "flood-lac" }
  - { match: { address: "127.0.0.0/8" }, max_sessions: ${options.maxSessionsPerTunnel} }
upstreams: { isp-a: { members: [{ address: "127.0.0.1:${ports.lns}" }] } }
rules: [{ name: isp-a, match: { domain: "isp-a.example" }, forward: isp-a }]
`,
    );
    const lns = spawnLts(["lns", "--listen", `127.0.0.1:${ports.lns}`]);
    procs.push(lns);
    await lns.until(/listening/);
    const lts = spawnLts(["run", "--config", `${dir}/lts.yaml`, "--log-level", "error"]);
    procs.push(lts);
    await lts.until(/API on http/);
    const lac = spawnLts([
      "lac",
      "--server",
      `127.0.0.1:${ports.lts}`,
      "--secret",
      "flood-lac",
      "--sessions",
      String(options.sessions),
      "--data-pps",
      String(options.dataPps),
      "--duration",
      String(options.seconds + 6),
    ]);
    procs.push(lac);
    const deadline = Date.now() + 30_000;
    while (
      (await apiJson<Status>(ports.api, "/status")).sessions.switched < options.sessions
    ) {
      if (Date.now() > deadline) throw new Error(`calls not up: ${lac.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const rssBefore = (await memoryOf(lts.pid)).rssKiB;
    const before = await apiMetrics(ports.api);

    const to: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: ports.lts };
    const raw = (address: number, complete: boolean) => {
      const socket = Deno.listenDatagram({
        transport: "udp",
        hostname: `127.0.0.${address}`,
        port: 0,
      });
      const lac = new RawLac(socket, to, complete);
      void lac.listen();
      lacs.push(lac);
      return lac;
    };
    // SCCRQ flooders leave their tunnels half-open; ICRQ flooders complete theirs, then call.
    const sccrqSources: RawLac[] = [];
    for (let a = 0; a < ADDRESSES; a++) {
      for (let p = 0; p < PORTS_PER_ADDRESS; p++) sccrqSources.push(raw(a + 2, false));
    }
    const icrqSources = Array.from({ length: 16 }, (_, i) => raw(ADDRESSES + 2 + i, true));
    // The ICRQ flooders' tunnels are admitted before the floods start.
    const admitted = Date.now() + 10_000;
    while (icrqSources.some((l) => !l.established) && Date.now() < admitted) {
      for (const l of icrqSources) if (!l.established) await l.sccrq(icrqSources.indexOf(l) + 1);
      await new Promise((r) => setTimeout(r, 200));
    }
    const rate = options.sccrqPerSecond * options.factor;
    let sccrqs = 0;
    let icrqs = 0;
    let nextTunnelId = 100;
    let peakRss = rssBefore;
    const start = performance.now();
    let lastSample = start;
    while (performance.now() - start < options.seconds * 1000) {
      const now = performance.now();
      const elapsed = (now - start) / 1000;
      const due = Math.floor(elapsed * rate);
      const sends: Promise<void>[] = [];
      while (sccrqs < due) {
        const source = sccrqSources[sccrqs % sccrqSources.length];
        sends.push(source.sccrq((nextTunnelId++ & 0xffff) || 1));
        sccrqs++;
      }
      const up = icrqSources.filter((l) => l.established);
      // ICRQs go round the established tunnels, each within the switch's window.
      for (let tries = 0; icrqs < due && tries < up.length; tries++) {
        const lac = up[(icrqs + tries) % up.length];
        if (!lac.windowOpen) continue;
        sends.push(lac.icrq());
        icrqs++;
      }
      await Promise.all(sends);
      if (performance.now() - lastSample > 250) {
        lastSample = performance.now();
        peakRss = Math.max(peakRss, (await memoryOf(lts.pid)).rssKiB);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const seconds = (performance.now() - start) / 1000;
    await new Promise((r) => setTimeout(r, 500));
    const switchedAfter = (await apiJson<Status>(ports.api, "/status")).sessions.switched;
    const after = await apiMetrics(ports.api);
    const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    const limitsReached: Record<string, number> = {};
    for (const key of after.keys()) {
      const m = /^lts_limit_reached_total\{limit=(\w+)\}$/.exec(key);
      if (m !== null && delta(key) > 0) limitsReached[m[1]] = delta(key);
    }
    const memory = await memoryOf(lts.pid);
    const summary = lacSummary((await lac.end()).out);
    const sum = (f: (l: RawLac) => number) => lacs.reduce((n, l) => n + f(l), 0);
    const answered = sum((l) => l.replies.icrp + l.replies.cdn4 + l.replies.cdnOther);
    return {
      seconds: Math.round(seconds * 10) / 10,
      sources: lacs.length,
      sccrq: {
        offeredPerSecond: Math.round(sccrqs / seconds),
        handledPerSecond: Math.round(
          sccrqSources.reduce((n, l) => n + l.tunnels.size, 0) / seconds,
        ),
        rateLimited: delta("lts_datagrams_dropped_total{reason=sccrq_rate_limited}"),
      },
      icrq: {
        offeredPerSecond: Math.round(icrqs / seconds),
        answeredPerSecond: Math.round(answered / seconds),
        refusedCdn4: sum((l) => l.replies.cdn4),
        refusedGlobal: delta("lts_call_rejects_total{result_code=4}"),
        accepted: sum((l) => l.replies.icrp),
      },
      switchedAfter,
      lac: summary,
      loss: summary.data_sent === 0 ? 1 : 1 - summary.data_received / summary.data_sent,
      rssBeforeKiB: rssBefore,
      peakRssKiB: Math.max(peakRss, memory.peakKiB),
      limitsReached,
    };
  } finally {
    for (const l of lacs) l.socket.close();
    for (const p of procs) p.kill("SIGKILL");
    for (const p of procs) await p.end();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const seconds = Number(Deno.args[0] ?? 60);
  const factor = Number(Deno.args[1] ?? 10);
  console.log(JSON.stringify(
    await flood({
      seconds,
      sccrqPerSecond: 50,
      factor,
      maxSessions: 60,
      maxSessionsPerTunnel: 5,
      sessions: 20,
      dataPps: 200,
    }),
  ));
}
