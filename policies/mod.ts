/**
 * The switching policy: YAML → validated, compiled {@link CompiledPolicy}, or
 * every error found, each at `file:line:col`. Loading is parse → validate →
 * compile; nothing half-valid is ever returned, so a failed reload leaves the
 * running policy in place.
 *
 * @example
 * ```ts
 * import { formatPolicyErrors, loadPolicy } from "./mod.ts";
 * const bad = loadPolicy("hostname: lts-a\nlacs: []\nlimits: { max_tunels: 10 }\n", "lts.yaml");
 * if (bad.ok) throw new Error("accepted");
 * const text = formatPolicyErrors(bad.error);
 * if (text !== 'lts.yaml:3:11: unknown key "max_tunels" in limits (did you mean "max_tunnels"?)') {
 *   throw new Error(text);
 * }
 * ```
 *
 * @module
 */

import type { Result } from "../transport/result.ts";
import { CompiledPolicy } from "./compile.ts";
import { PolicyError } from "./error.ts";
import { parsePolicy } from "./parse.ts";
import type { LoadReply, LoadRequest } from "./load_worker.ts";
import type { PolicyConfig, TerminateTarget } from "./schema.ts";
import { loadUsersFile } from "../ppp/users.ts";
import { dirname, isAbsolute, join } from "node:path";

export * from "./schema.ts";
export * from "./error.ts";
export { parsePolicy } from "./parse.ts";
export {
  CompiledPolicy,
  type CompiledRule,
  compilePolicy,
  type Explanation,
  type LacFacts,
  type RuleMiss,
} from "./compile.ts";
export { type SplitName, splitUserName } from "./patterns.ts";
export type { Cidr } from "./_net.ts";
export type { IndexedBy } from "./matcher.ts";

/**
 * Parses, validates and compiles a policy. `fileName` is only used in errors.
 *
 * @example
 * ```ts
 * import { loadPolicy } from "./mod.ts";
 * const r = loadPolicy("hostname: lts-a\nlacs: [{ match: {} }]\n", "lts.yaml");
 * if (!r.ok || r.value.decide({ user: "bob@x" }).action !== "reject") throw new Error();
 * ```
 */
export function loadPolicy(
  text: string,
  fileName: string,
): Result<CompiledPolicy, PolicyError[]> {
  const parsed = parsePolicy(text, fileName);
  return parsed.ok ? { ok: true, value: new CompiledPolicy(parsed.value) } : parsed;
}

/**
 * Reads and loads a policy file; a file that cannot be read is one error with no position.
 *
 * @example
 * ```ts ignore
 * import { loadPolicyFile } from "./mod.ts";
 * const r = await loadPolicyFile("/etc/lts/lts.yaml");
 * ```
 */
export async function loadPolicyFile(path: string): Promise<Result<CompiledPolicy, PolicyError[]>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    return {
      ok: false,
      error: [new PolicyError(path, 0, 0, `cannot read: ${(e as Error).message}`)],
    };
  }
  const parsed = parsePolicy(text, path);
  if (!parsed.ok) return parsed;
  const resolved = await loadUsersFiles(parsed.value, path);
  return resolved.ok ? { ok: true, value: new CompiledPolicy(resolved.value) } : resolved;
}

/**
 * Reads the `users_file` of every terminate target (relative to the policy
 * file's folder) and adds its users to the target's inline ones; an
 * unreadable or invalid users file is an error of the policy.
 *
 * @example
 * ```ts ignore
 * import { loadUsersFiles, parsePolicy } from "./mod.ts";
 * const p = parsePolicy(await Deno.readTextFile("lts.yaml"), "lts.yaml");
 * if (p.ok) await loadUsersFiles(p.value, "lts.yaml");
 * ```
 */
export async function loadUsersFiles(
  config: PolicyConfig,
  policyPath: string,
): Promise<Result<PolicyConfig, PolicyError[]>> {
  const targets = [...config.terminate.values()];
  if (!targets.some((t) => t.usersFile !== undefined)) return { ok: true, value: config };
  const errors: PolicyError[] = [];
  const terminate = new Map<string, TerminateTarget>();
  for (const target of targets) {
    if (target.usersFile === undefined) {
      terminate.set(target.name, target);
      continue;
    }
    const file = isAbsolute(target.usersFile)
      ? target.usersFile
      : join(dirname(policyPath), target.usersFile);
    const users = await loadUsersFile(file);
    if (!users.ok) {
      errors.push(...users.error);
      continue;
    }
    terminate.set(target.name, {
      ...target,
      users: [...target.users, ...users.value.list()],
      acceptAll: target.acceptAll || users.value.acceptAll,
    });
  }
  return errors.length > 0 ? { ok: false, error: errors } : {
    ok: true,
    value: { ...config, terminate },
  };
}

/**
 * Like {@link loadPolicyFile}, but reads, parses and validates in a Worker
 * so the calling thread (which forwards data frames) only pays for the
 * structured clone and the compile step — tens of milliseconds at 10,000
 * rules instead of hundreds. Falls back to {@link loadPolicyFile} where
 * Workers are not available (e.g. a bundle that does not carry the worker).
 *
 * @example
 * ```ts ignore
 * import { loadPolicyFileOffThread } from "./mod.ts";
 * const r = await loadPolicyFileOffThread("/etc/lts/lts.yaml");
 * ```
 */
export async function loadPolicyFileOffThread(
  path: string,
): Promise<Result<CompiledPolicy, PolicyError[]>> {
  let worker: Worker;
  try {
    worker = new Worker(new URL("./load_worker.ts", import.meta.url), { type: "module" });
  } catch {
    return loadPolicyFile(path);
  }
  try {
    const reply = await new Promise<LoadReply>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<LoadReply>) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
      worker.postMessage({ path } satisfies LoadRequest);
    });
    if (!reply.ok) {
      return {
        ok: false,
        error: reply.errors.map((e) => new PolicyError(e.file, e.line, e.col, e.message)),
      };
    }
    return { ok: true, value: new CompiledPolicy(reply.config as PolicyConfig) };
  } catch {
    return loadPolicyFile(path);
  } finally {
    worker.terminate();
  }
}
