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

/**
 * Starts tshark on lo (into `children`, for the caller to clean up) and returns once a probe
 * datagram has really landed in the capture; the result stops it and waits for the file.
 */
export async function startCapture(
  path: string,
  options: { filter: string; children: Deno.ChildProcess[]; probePort: number },
): Promise<() => Promise<void>> {
  const child = new Deno.Command("tshark", {
    args: ["-i", "lo", "-f", `${options.filter} or udp port ${options.probePort}`, "-w", path],
    stdout: "null",
    stderr: "piped",
  }).spawn();
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
  const probe = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const empty = (await Deno.stat(path).catch(() => null))?.size ?? 0;
    await waitFor(
      async () => {
        await probe.send(new Uint8Array([0]), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: options.probePort,
        });
        return ((await Deno.stat(path).catch(() => null))?.size ?? 0) > empty;
      },
      10000,
      "tshark to capture a probe",
    );
  } finally {
    probe.close();
  }
  return async () => {
    child.kill("SIGINT");
    await drain;
    await child.status;
  };
}
