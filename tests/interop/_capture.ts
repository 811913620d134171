/**
 * What the interop tests share: polling, reading logs that may not exist yet,
 * and a tshark capture on loopback that is really running before the test
 * goes on.
 *
 * @module
 */

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
