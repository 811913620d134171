/**
 * Users files of terminate targets, read when the policy is loaded.
 *
 * @module
 */

import type { Result } from "../transport/result.ts";
import type { PolicyError } from "./error.ts";
import type { PolicyConfig, TerminateTarget } from "./schema.ts";
import { loadUsersFile } from "../ppp/users.ts";
import { dirname, isAbsolute, join } from "node:path";

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
