/**
 * l2tpns's startup-config, for the interop tests and the l2tpns bench: its
 * log on stderr, RADIUS on loopback (`radius_responder.ts`), no gratuitous
 * ARP, and the shortest cluster heartbeat timeout it takes, so it declares
 * itself master (and serves tunnels) after 3.1 s instead of 15 s.
 *
 * @example
 * ```ts
 * import { l2tpnsConfig } from "./_l2tpns.ts";
 * const text = l2tpnsConfig({
 *   dir: "/tmp/x", secret: "s", bind: "10.0.0.1", radiusSecret: "r",
 *   authTypes: "pap", clusterInterface: "eth0",
 * });
 * if (!text.includes("set cluster_hb_timeout 31")) throw new Error();
 * ```
 *
 * @module
 */

/** What differs between the topologies. */
export interface L2tpnsConfig {
  /** Where its pid file goes. */
  dir: string;
  /** `l2tp_secret`: its tunnel secret, and (2.4.1) the one its SCCCN answers a remote LNS with. */
  secret: string;
  /** `bind_address`: where it listens on 1701. */
  bind: string;
  /** `bind_address_remotelns`: the source of its tunnels to remote LNSes (`setforward`). */
  bindRemoteLns?: string;
  radiusSecret: string;
  /** `radius_authtypes`, e.g. `"pap"` or `"chap,pap"` (CHAP first, PAP for a client that Naks it). */
  authTypes: string;
  radiusAccounting?: boolean;
  /** The interface its cluster heartbeat goes out on. */
  clusterInterface: string;
  /** `set debug` (default 3; 4 logs the Error String of a StopCCN it gets). */
  debug?: number;
  /** `setforward REALM IP PORT SECRET` lines. */
  forwards?: { realm: string; address: string; port: number; secret: string }[];
}

/** The text of /etc/l2tpns/startup-config. */
export function l2tpnsConfig(o: L2tpnsConfig): string {
  return [
    `set debug ${o.debug ?? 3}`,
    `set pid_file "${o.dir}/l2tpns.pid"`,
    `set l2tp_secret "${o.secret}"`,
    `set bind_address ${o.bind}`,
    ...(o.bindRemoteLns ? [`set bind_address_remotelns ${o.bindRemoteLns}`] : []),
    "set cli_bind_address 127.0.0.1",
    "set primary_dns 10.0.0.1",
    "set primary_radius 127.0.0.1",
    `set radius_secret "${o.radiusSecret}"`,
    `set radius_authtypes "${o.authTypes}"`,
    `set radius_accounting ${o.radiusAccounting ? "yes" : "no"}`,
    "set send_garp no",
    `set cluster_interface ${o.clusterInterface}`,
    // The shortest heartbeat timeout it takes (it raises lower ones to 3.1 s): the wait to
    // become master, with no other cluster member, is this long instead of 15 s.
    "set cluster_hb_timeout 31",
    ...(o.forwards ?? []).map((f) => `setforward ${f.realm} ${f.address} ${f.port} ${f.secret}`),
    "",
  ].join("\n");
}

/**
 * Writes `DIR/etc` for l2tpns (bind-mount it over /etc/l2tpns): its
 * startup-config from `config`, an address pool (`ip_pool`, e.g.
 * "10.101.0.0/24") and an empty `users`. Returns the folder.
 */
export async function writeL2tpnsEtc(config: L2tpnsConfig, ipPool: string): Promise<string> {
  const etc = `${config.dir}/etc`;
  await Deno.mkdir(etc, { recursive: true });
  await Deno.writeTextFile(`${etc}/startup-config`, l2tpnsConfig(config));
  await Deno.writeTextFile(`${etc}/ip_pool`, `${ipPool}\n`);
  await Deno.writeTextFile(`${etc}/users`, "");
  return etc;
}
