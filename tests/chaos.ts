/**
 * Deterministic chaos for the whole switch: LACs → lts → two upstream LNS
 * members on the seeded in-memory network, with loss, duplication,
 * reordering and delay on every link, partitions that heal, an upstream
 * member restarting (losing all its state), and policy reloads, all at
 * seeded moments. Invariants, checked at the end of every run:
 *
 * - every call attempt ends switched on both legs, or cleared toward the LAC
 *   by a CDN with a Result Code (or by its tunnel's end);
 * - a frame sent on a call reaches the LNS on that call and no other;
 * - after everyone hangs up: no forwarding entry, no call, no tunnel, and no
 *   actor but the switch itself.
 *
 * A failing seed is printed and replays exactly: `deno task chaos --seeds 1 --from SEED`.
 *
 * @module
 */

import { startLts } from "../actors/lts.ts";
import type { SessionHandle } from "../actors/l2tp_types.ts";
import { Prng } from "../actors/prng.ts";
import { loadPolicy } from "../policies/mod.ts";
import { simulation } from "./_l2tp_sim.ts";

const LTS = { hostname: "10.1.0.1", port: 1701 };
const LACS = [{ hostname: "10.2.0.1", port: 1701 }, { hostname: "10.2.0.2", port: 1701 }];
const MEMBERS = [{ hostname: "10.3.0.1", port: 1701 }, { hostname: "10.3.0.2", port: 1701 }];

const policyText = (strategy: string) => `
hostname: lts-chaos
lacs: [{ match: {} }]
upstreams:
  isp:
    strategy: ${strategy}
    sessions_per_tunnel: 8
    members: [{ address: "10.3.0.1:1701" }, { address: "10.3.0.2:1701" }]
rules: [{ name: isp, match: { domain: "isp.example" }, forward: isp }]
`;

/** What one run saw; `problems` is empty when every invariant held. */
export interface ChaosReport {
  seed: number;
  calls: number;
  switched: number;
  cleared: number;
  frames: number;
  problems: string[];
}

/** Runs one seeded scenario and checks the invariants. */
export function chaosRun(seed: number, calls = 60): ChaosReport {
  const rnd = new Prng(seed);
  const sim = simulation(seed);
  const problems: string[] = [];
  const loss = rnd.nextInt(31) / 100;
  sim.impair({
    loss,
    duplicate: rnd.nextInt(10) / 100,
    reorder: rnd.nextInt(20) / 100,
    reorderDelayMs: 30,
    delayMs: 2,
    jitterMs: 10,
  });
  let reloads = 0;
  const policy = loadPolicy(policyText("priority"), "chaos.yaml");
  if (!policy.ok) throw new Error(policy.error.join("\n"));
  const bound = sim.network.bind(LTS);
  if (!bound.ok) throw new Error(bound.error);
  const lts = startLts({
    system: sim.system,
    socket: bound.value,
    policy: policy.value,
    seed,
    memberHoldDownMs: 5000,
  });

  // Each LNS records which user's frames it received on which call.
  const misdelivered: string[] = [];
  const received = new Map<string, number>();
  const lns = (i: number) =>
    sim.node(MEMBERS[i], {
      settings: { hostname: `lns-${i}`, helloIntervalMs: 10_000 },
      hooks: {
        frame: (s: SessionHandle, frame: Uint8Array) => {
          const tag = new TextDecoder().decode(frame.subarray(2));
          if (tag !== s.call.proxyAuthenName) {
            misdelivered.push(`${tag} arrived on ${s.call.proxyAuthenName}'s call`);
          }
          received.set(tag, (received.get(tag) ?? 0) + 1);
        },
      },
    });
  const members = [lns(0), lns(1)];
  const lacs = LACS.map((address, i) =>
    sim.node(address, { settings: { hostname: `lac-${i}`, helloIntervalMs: 10_000 } })
  );
  const tunnels = lacs.map((l) => {
    const t = l.node.openTunnel(LTS);
    if (!t.ok) throw new Error(t.error);
    return t.value;
  });

  // Calls arrive over the first 20 s; chaos happens at seeded moments meanwhile.
  const schedule: { at: number; what: string }[] = [];
  for (let i = 0; i < calls; i++) schedule.push({ at: rnd.nextInt(20_000), what: `call ${i}` });
  schedule.push({ at: 2000 + rnd.nextInt(10_000), what: "partition" });
  schedule.push({ at: 4000 + rnd.nextInt(10_000), what: "restart member" });
  schedule.push({ at: 1000 + rnd.nextInt(15_000), what: "reload" });
  schedule.sort((a, b) => a.at - b.at);
  const start = sim.clock.now();
  for (const event of schedule) {
    sim.scheduler.advance(Math.max(0, start + event.at - sim.clock.now()));
    if (event.what.startsWith("call")) {
      const n = Number(event.what.slice(5));
      const lac = n % 2;
      lacs[lac].node.placeCall(tunnels[lac], {
        proxyAuthenName: `u${n}@isp.example`,
        calledNumber: `0800${n}`,
      });
    } else if (event.what === "partition") {
      const lac = LACS[rnd.nextInt(2)];
      sim.network.partition(lac, LTS);
      sim.scheduler.advance(500 + rnd.nextInt(3000));
      sim.network.heal(lac, LTS);
    } else if (event.what === "restart member") {
      // The member loses all its state: its node goes and a new one comes up on the same address.
      const i = rnd.nextInt(2);
      members[i].node.shutdown();
      members[i].node.socket.close();
      sim.scheduler.advance(rnd.nextInt(2000));
      members[i] = lns(i);
    } else {
      // The swap LtsRuntime.reload() makes once the file is loaded: one message to the switch.
      const next = loadPolicy(
        policyText(rnd.nextInt(2) ? "round_robin" : "least_sessions"),
        "chaos.yaml",
      );
      if (!next.ok) throw new Error(next.error.join("\n"));
      lts.switch.send({ type: "policy", policy: next.value, reply: () => reloads++ });
    }
  }
  // Let every call settle: up on the LAC side with the LNS having it, or cleared.
  const attempts = calls;
  const lacUp = () => lacs.flatMap((l) => l.recorder.sessionsUp);
  const lacClosed = () => lacs.flatMap((l) => l.recorder.sessionsClosed);
  const lost = () => lacs.flatMap((l) => l.recorder.tunnelsClosed);
  sim.runUntil(() => lacUp().length + lacClosed().length >= attempts || lost().length > 0, 200_000);
  sim.scheduler.advance(40_000);
  // Frames: every call still switched sends one tagged frame.
  const live = lacUp().filter((s) => s.established);
  for (const s of live) {
    s.sendFrame(Uint8Array.of(0xff, 0x03, ...new TextEncoder().encode(s.call.proxyAuthenName)));
  }
  sim.scheduler.advance(5_000);
  const placed = lacUp().length + lacClosed().filter((c) => !lacUp().includes(c.session)).length;
  if (lost().length === 0 && placed < attempts) {
    problems.push(`${attempts - placed} calls neither up nor cleared`);
  }
  for (const c of lacClosed()) {
    if (
      c.reason.by === "peer" && (c.reason.result.resultCode < 1 || c.reason.result.resultCode > 11)
    ) {
      problems.push(`CDN with Result Code ${c.reason.result.resultCode}`);
    }
  }
  problems.push(...misdelivered);
  // Everyone hangs up; after the hold-downs, nothing is left.
  for (const s of lacUp()) s.disconnect({ resultCode: 3 });
  sim.scheduler.advance(30_000);
  for (const l of lacs) l.node.closeAll();
  sim.network.clearLink("*", "*");
  sim.impair({ loss: 0 });
  sim.scheduler.advance(120_000);
  if (lts.node.forwarding.size > 0) {
    problems.push(`${lts.node.forwarding.size} forwarding entries left`);
  }
  if (lts.stats.active > 0) problems.push(`${lts.stats.active} calls left in the switch`);
  // The switch closes idle upstream tunnels after 60 s; wait that out, then only it may remain.
  sim.scheduler.advance(120_000);
  for (
    const [name, l] of [["LAC 0", lacs[0]], ["LAC 1", lacs[1]], ["member 0", members[0]], [
      "member 1",
      members[1],
    ]] as const
  ) {
    if (l.node.tunnelCount > 0) {
      const t = l.node.tunnels().map((t) =>
        `${t.tunnelId}${t.established ? "" : " (setting up)"} with ${t.peer.hostname}`
      );
      problems.push(`${name}: ${l.node.tunnelCount} tunnels left: ${t.join(", ")}`);
    }
  }
  if (lts.node.tunnelCount > 0) problems.push(`${lts.node.tunnelCount} tunnels left on the switch`);
  if (sim.system.actorCount !== 1) {
    problems.push(`${sim.system.actorCount} actors left (the switch alone should remain)`);
  }
  const frames = [...received.values()].reduce((a, b) => a + b, 0);
  return {
    seed,
    calls: attempts,
    switched: lts.stats.switched,
    cleared: lacClosed().length,
    frames,
    problems,
  };
}

if (import.meta.main) {
  const args = Deno.args;
  const opt = (name: string, d: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const seeds = opt("seeds", 100);
  const from = opt("from", 1);
  let failed = 0;
  for (let seed = from; seed < from + seeds; seed++) {
    const r = chaosRun(seed);
    if (r.problems.length > 0) {
      failed++;
      console.log(
        `seed ${seed} FAILED: ${
          r.problems.join("; ")
        }  (replay: deno task chaos --seeds 1 --from ${seed})`,
      );
    }
  }
  console.log(`${seeds - failed} seeds passed, ${failed} failed`);
  if (failed > 0) Deno.exit(1);
}
