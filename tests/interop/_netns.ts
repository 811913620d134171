/**
 * Network namespaces for the interop tests: hosts joined by veth pairs, each
 * peer on port 1701 as in production, and processes started inside them
 * with their output in a log file. Everything a test creates here is undone
 * by the `teardown` it gets back and by {@link stopAll}, failure or not.
 *
 * @module
 */

/** Runs a bash script; throws with its stderr when it fails. */
export async function sh(script: string): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`${script}\n${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** One end of a veth pair: the namespace it sits in, its name and its address (/24). */
export interface VethEnd {
  netns: string;
  name: string;
  address: string;
}

/**
 * The topology of a switch in the middle: namespaces `ns.lac`, `ns.sw` and
 * `ns.lns`, a veth pair LAC ↔ switch (`PREFIX-lac`, `PREFIX-sw1`) and one
 * switch ↔ LNS (`PREFIX-sw2`, `PREFIX-lns`), addressed from `ip`. Returns
 * the teardown, as {@link createTopology}.
 */
export function switchTopology(
  ns: { lac: string; sw: string; lns: string },
  ip: { lac: string; swLac: string; swLns: string; lns: string },
  prefix: string,
): Promise<() => Promise<void>> {
  return createTopology([ns.lac, ns.sw, ns.lns], [
    [
      { netns: ns.lac, name: `${prefix}-lac`, address: ip.lac },
      { netns: ns.sw, name: `${prefix}-sw1`, address: ip.swLac },
    ],
    [
      { netns: ns.sw, name: `${prefix}-sw2`, address: ip.swLns },
      { netns: ns.lns, name: `${prefix}-lns`, address: ip.lns },
    ],
  ]);
}

/**
 * Creates `namespaces` (loopback up) and one veth pair per link, addressed
 * and up; namespaces of these names left by an earlier run are removed
 * first. Returns the teardown, which deleting the namespaces completes: a
 * veth goes with its namespace.
 */
export async function createTopology(
  namespaces: readonly string[],
  links: readonly [VethEnd, VethEnd][],
): Promise<() => Promise<void>> {
  const teardown = async () => {
    for (const ns of namespaces) await sh(`ip netns del ${ns} 2>/dev/null || true`);
  };
  await teardown();
  const lines = namespaces.map((ns) => `ip netns add ${ns} && ip -n ${ns} link set lo up`);
  for (const [a, b] of links) {
    lines.push(
      `ip link add ${a.name} netns ${a.netns} type veth peer name ${b.name} netns ${b.netns}`,
    );
    for (const end of [a, b]) {
      lines.push(
        `ip -n ${end.netns} addr add ${end.address}/24 dev ${end.name}`,
        `ip -n ${end.netns} link set ${end.name} up`,
      );
    }
  }
  try {
    await sh(lines.join(" && "));
  } catch (e) {
    await teardown();
    throw e;
  }
  return teardown;
}

/** Quotes a word for sh. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Starts `argv` in `netns` with stdout and stderr into `log`, and adds it to
 * `children`. With `bind`, the process gets a private mount namespace in
 * which each `[file, over]` is bind-mounted first (as `/usr/sbin/pppd` for
 * xl2tpd): nothing outside it sees the mounts, and they end with it. The
 * process is exec'd, so its PID is the child's and signals reach it, and it
 * runs in a session of its own.
 */
export function spawnIn(
  children: Deno.ChildProcess[],
  netns: string,
  argv: readonly string[],
  options: { log: string; bind?: readonly [string, string][] },
): string {
  const mounts = (options.bind ?? []).map(([file, over]) =>
    `mount --bind ${shellQuote(file)} ${shellQuote(over)} && `
  ).join("");
  // setsid: a daemon signalling its process group (l2tpns does, on SIGTERM) reaches only itself.
  const command = `${mounts}exec setsid ${argv.map(shellQuote).join(" ")} >${
    shellQuote(options.log)
  } 2>&1`;
  const args = options.bind
    ? ["netns", "exec", netns, "unshare", "-m", "--propagation", "private", "sh", "-c", command]
    : ["netns", "exec", netns, "sh", "-c", command];
  children.push(new Deno.Command("ip", { args, stdout: "null", stderr: "null" }).spawn());
  return options.log;
}

/** SIGTERM to every child, SIGKILL to those still there after `graceMs`, and waits for all. */
export async function stopAll(children: Deno.ChildProcess[], graceMs = 1000): Promise<void> {
  const statuses = children.map((c) => c.status);
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
  }
  const all = Promise.all(statuses);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = await Promise.race([
    all.then(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
  }
  await all;
  children.length = 0;
}
