/**
 * What the interop tests share: polling, reading logs that may not exist yet,
 * a tshark capture that is really running before the test goes on, and the
 * checks every capture passes (lts and tshark agree, nothing malformed, no
 * expert warning).
 *
 * @module
 */

import assert from "node:assert/strict";
import { describePacket, type PacketDescription } from "../../transport/describe.ts";
import { LTS_VENDOR_ID } from "../../transport/lts_avps.ts";
import { readCapture, type UdpDatagram } from "../../transport/pcap.ts";
import { ltsView, tsharkL2tp } from "../_tshark.ts";

/** Polls `check` every 50 ms until it holds, or throws after `ms` naming `what`. */
export async function waitFor(
  check: () => Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/**
 * Wraps test steps so that a failure carries the named log files' contents:
 * `const withLogs = failWithLogs({ lts: "lts.log" }); await withLogs(step())`.
 */
export function failWithLogs(logs: Record<string, string>): <T>(work: Promise<T>) => Promise<T> {
  return async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (e) {
      const text = await Promise.all(
        Object.entries(logs).map(async ([n, f]) => `--- ${n}:\n${await readText(f)}`),
      );
      throw new Error(`${(e as Error).message}\n${text.join("\n")}`, { cause: e });
    }
  };
}

/** Runs `argv` inside network namespace `netns`, or here when it is undefined. */
export function inNetns(netns: string | undefined, argv: string[]): Deno.Command {
  const [cmd, ...args] = netns === undefined ? argv : ["ip", "netns", "exec", netns, ...argv];
  return new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" });
}

/**
 * Starts tshark on `iface` (default lo; in `netns` when given) into `children`, for the caller to
 * clean up, and returns once a probe datagram has really landed in the capture; the result stops
 * it and waits for the file.
 */
export async function startCapture(
  path: string,
  options: {
    filter: string;
    children: Deno.ChildProcess[];
    probePort: number;
    iface?: string;
    netns?: string;
  },
): Promise<() => Promise<void>> {
  const argv = [
    "tshark",
    "-i",
    options.iface ?? "lo",
    "-f",
    `${options.filter} or udp port ${options.probePort}`,
    "-w",
    path,
  ];
  const [cmd, ...args] = options.netns === undefined
    ? argv
    : ["ip", "netns", "exec", options.netns, ...argv];
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).spawn();
  options.children.push(child);
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  // tshark says "Capturing on 'Loopback: lo'" once it has opened the interface.
  let banner = "";
  while (!banner.includes("Capturing on")) {
    const { value, done } = await stderr.read();
    if (done) throw new Error(`tshark did not start: ${banner}`);
    banner += value;
  }
  const drain = (async () => {
    while (!(await stderr.read()).done);
  })();
  // "Capturing on" can come before the capture really runs: probe until a packet lands in the file.
  const empty = (await Deno.stat(path).catch(() => null))?.size ?? 0;
  const landed = async () => ((await Deno.stat(path).catch(() => null))?.size ?? 0) > empty;
  if (options.netns === undefined) {
    const probe = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    try {
      await waitFor(
        async () => {
          await probe.send(new Uint8Array([0]), {
            transport: "udp",
            hostname: "127.0.0.1",
            port: options.probePort,
          });
          return await landed();
        },
        10000,
        "tshark to capture a probe",
      );
    } finally {
      probe.close();
    }
  } else {
    // In another namespace the probe must come from inside it.
    const send =
      `const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });` +
      `await s.send(new Uint8Array([0]), { transport: "udp", hostname: "127.0.0.1", port: ${options.probePort} }); s.close();`;
    await waitFor(
      async () => {
        await inNetns(options.netns, [Deno.execPath(), "eval", "--unstable-net", send]).output();
        return await landed();
      },
      20000,
      "tshark to capture a probe",
    );
  }
  return async () => {
    child.kill("SIGINT");
    await drain;
    await child.status;
  };
}

/** Wireshark's expert severities (epan/proto.h), by the names `-T fields` may print them with. */
const SEVERITY: Record<string, number> = {
  Comment: 0x00100000,
  Chat: 0x00200000,
  Note: 0x00400000,
  Warning: 0x00600000,
  Warn: 0x00600000,
  Error: 0x00800000,
};

/** An expert item tshark attached to a frame. */
export interface ExpertItem {
  frame: number;
  severity: number;
  message: string;
}

/**
 * Every expert item above "note" (warnings and errors) tshark finds in a
 * capture, with `ports` decoded as L2TP.
 */
export async function tsharkExpertAboveNote(
  path: string,
  ports: number[] = [1701],
): Promise<ExpertItem[]> {
  const args = ["-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"];
  args.push("-E", "aggregator=|");
  for (const p of ports) args.push("-d", `udp.port==${p},l2tp`);
  args.push("-Y", "_ws.expert", "-e", "frame.number", "-e", "_ws.expert.severity");
  args.push("-e", "_ws.expert.message");
  const { code, stdout, stderr } = await new Deno.Command("tshark", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`tshark: ${new TextDecoder().decode(stderr)}`);
  const items: ExpertItem[] = [];
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    if (line === "") continue;
    const [frame, severities, messages] = line.split("\t");
    const texts = (messages ?? "").split("|");
    for (const [i, s] of severities.split("|").entries()) {
      const severity = /^\d+$/.test(s) ? Number(s) : /^0x/.test(s) ? parseInt(s, 16) : SEVERITY[s];
      if (severity === undefined) throw new Error(`tshark expert severity ${s}`);
      if (severity > SEVERITY.Note) {
        items.push({ frame: Number(frame), severity, message: texts[i] });
      }
    }
  }
  return items;
}

/**
 * The checks every capture of the interop tests passes: lts decodes every
 * L2TP datagram on `ports` without error, tshark finds nothing malformed and
 * no expert item above "note", and `lts decode` agrees with tshark field for
 * field on every packet. Returns the datagrams with lts's description.
 */
export async function crossCheckCapture(
  path: string,
  options: { ports: number[]; secret?: string },
): Promise<{ d: UdpDatagram; p: PacketDescription }[]> {
  const read = readCapture(await Deno.readFile(path));
  assert.ok(read.ok, read.ok ? "" : read.error);
  const onPorts = (port: number) => options.ports.includes(port);
  const datagrams = read.value.datagrams.filter((d) => onPorts(d.srcPort) || onPorts(d.dstPort));
  const secret = options.secret === undefined
    ? undefined
    : new TextEncoder().encode(options.secret);
  const described = datagrams.map((d) => ({ d, p: describePacket(d.payload, { secret }) }));
  for (const { d, p } of described) {
    assert.deepEqual(p.errors, [], `frame ${d.frame}: ${d.src} → ${d.dst} ${p.type}`);
  }
  const byTshark = await tsharkL2tp(path, options.ports);
  const frames = new Set(datagrams.map((d) => d.frame));
  const seen = byTshark.filter((x) => frames.has(x.frame));
  assert.equal(seen.length, datagrams.length, "tshark dissects every datagram as L2TP");
  for (const [i, { frame, malformed, ...view }] of seen.entries()) {
    assert.equal(frame, datagrams[i].frame);
    assert.equal(malformed, "", `tshark: frame ${frame} malformed`);
    assert.deepEqual(ltsView(describePacket(datagrams[i].payload)), view, `frame ${frame}`);
  }
  // tshark warns "Vendor-Specific AVP data" on any vendor AVP it has no dissector for; lts's Hop
  // Count (Vendor ID 32473, M=0, transport/lts_avps.ts) is one, and RFC 2661 §4.1 allows it.
  const hopCount = new Set(
    described.filter(({ p }) => ltsView(p).avps.includes(`${LTS_VENDOR_ID}:1`)).map(({ d }) =>
      d.frame
    ),
  );
  const expert = (await tsharkExpertAboveNote(path, options.ports)).filter((x) =>
    !(x.message === "Vendor-Specific AVP data" && hopCount.has(x.frame))
  );
  assert.deepEqual(expert, []);
  return described;
}

/**
 * Polls a capture tshark is still writing until `check` holds for lts's
 * description of its L2TP datagrams on `ports`: tshark writes packets a
 * little after they pass, so a test waits for the last ones it expects
 * before it stops the capture.
 */
export async function waitForCapture(
  path: string,
  options: { ports: number[]; ms: number; what: string },
  check: (described: { d: UdpDatagram; p: PacketDescription }[]) => boolean,
): Promise<void> {
  const onPorts = (port: number) => options.ports.includes(port);
  await waitFor(
    async () => {
      const read = readCapture(await Deno.readFile(path));
      if (!read.ok) return false; // caught between two writes
      return check(
        read.value.datagrams.filter((d) => onPorts(d.srcPort) || onPorts(d.dstPort)).map((d) => ({
          d,
          p: describePacket(d.payload),
        })),
      );
    },
    options.ms,
    options.what,
  );
}
