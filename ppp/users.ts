/**
 * Local PPP users, for terminate targets and `lts lns`: who may log in with
 * PAP ({@link LocalUsers.verify}) and the CHAP secrets
 * ({@link LocalUsers.secretFor}). The users file is YAML:
 *
 * ```yaml
 * users:
 *   - { name: "alice@isp-a.example", password: "s3cret" }
 * accept_all: false   # true: anyone not listed logs in with any password
 * ```
 *
 * Problems are reported like the policy's, as {@link PolicyError}s at the
 * line and column of the node concerned.
 *
 * @example
 * ```ts
 * import { parseUsers } from "./users.ts";
 * const r = parseUsers('users: [{ name: alice, password: "pw" }]\n', "users.yaml");
 * if (!r.ok || !r.value.verify("alice", "pw") || r.value.verify("alice", "no")) throw new Error();
 * ```
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar } from "yaml";
import { byPosition, PolicyError, readPolicyText } from "../policies/error.ts";
import type { Result } from "../transport/result.ts";

/** One local user. */
export interface LocalUser {
  readonly name: string;
  /** The PAP password and the CHAP secret. */
  readonly password: string;
}

/** Longest name or password: PAP's Peer-ID Length and Passwd-Length are one octet (RFC 1334 §2.2.1). */
const MAX_BYTES = 255;

const sha256 = (s: string) => createHash("sha256").update(s).digest();

/**
 * The users one LNS or terminate target accepts.
 *
 * @example
 * ```ts
 * import { LocalUsers } from "./users.ts";
 * const users = new LocalUsers([{ name: "bob", password: "x" }], { acceptAll: true });
 * if (users.secretFor("bob") !== "x" || !users.verify("carol", "anything")) throw new Error();
 * if (users.verify("bob", "wrong")) throw new Error();
 * ```
 */
export class LocalUsers {
  readonly #users: ReadonlyMap<string, LocalUser>;
  /** Whether a user not listed is accepted with any password. */
  readonly acceptAll: boolean;

  /** Users by name; a later duplicate replaces an earlier one. */
  constructor(users: readonly LocalUser[], options: { acceptAll?: boolean } = {}) {
    this.#users = new Map(users.map((u) => [u.name, u]));
    this.acceptAll = options.acceptAll ?? false;
  }

  /** The users listed, in order. */
  list(): LocalUser[] {
    return [...this.#users.values()];
  }

  /** How many users are listed. */
  get size(): number {
    return this.#users.size;
  }

  /**
   * PAP: whether `user` may log in with `password`. A listed user must give
   * their password; anyone else only gets in with `acceptAll`. The password
   * comparison takes the same time wherever the guess differs.
   */
  verify(user: string, password: string): boolean {
    const known = this.#users.get(user);
    // Compare even for an unknown user, so the time does not tell which names exist.
    const match = timingSafeEqual(sha256(known?.password ?? ""), sha256(password));
    return known === undefined ? this.acceptAll : match;
  }

  /**
   * CHAP: the secret of `user`, or `undefined` when not listed. With
   * `acceptAll`, pass `acceptUnknown: acceptAll` to the CHAP authenticator.
   */
  secretFor(user: string): string | undefined {
    return this.#users.get(user)?.password;
  }
}

type Value = Node | null | undefined;

/**
 * Parses and validates a users file. Every problem is reported, sorted by
 * position; nothing half-valid is returned.
 *
 * @example
 * ```ts
 * import { parseUsers } from "./users.ts";
 * const r = parseUsers("users:\n  - { name: alice }\n", "users.yaml");
 * if (r.ok || String(r.error[0]) !== 'users.yaml:2:5: users[0] has no "password"') {
 *   throw new Error(r.ok ? "accepted" : String(r.error[0]));
 * }
 * ```
 */
export function parseUsers(text: string, fileName: string): Result<LocalUsers, PolicyError[]> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const errors: PolicyError[] = [];
  const errorAt = (offset: number, message: string): undefined => {
    const { line, col } = lineCounter.linePos(offset);
    errors.push(new PolicyError(fileName, line, col, message));
    return undefined;
  };
  const error = (node: Value, message: string) => errorAt(node?.range?.[0] ?? 0, message);
  const fail = (): Result<LocalUsers, PolicyError[]> => ({
    ok: false,
    error: errors.sort(byPosition),
  });

  if (doc.errors.length > 0) {
    for (const e of doc.errors) errorAt(e.pos[0], e.message.split("\n")[0]);
    return fail();
  }
  const root = doc.contents as Value;
  if (!isMap(root)) {
    error(root, "a users file must be a mapping with users and accept_all");
    return fail();
  }

  let acceptAll = false;
  let usersNode: Value;
  for (const pair of root.items) {
    const key = pair.key as Value;
    const value = pair.value as Value;
    const name = isScalar(key) ? key.value : undefined;
    if (name === "accept_all") {
      if (isScalar(value) && typeof value.value === "boolean") acceptAll = value.value;
      else error(value ?? key, "accept_all must be true or false");
    } else if (name === "users") {
      usersNode = value;
    } else {
      error(key, `unknown key ${JSON.stringify(name ?? null)} (expected users or accept_all)`);
    }
  }

  const users: LocalUser[] = [];
  const seen = new Set<string>();
  if (usersNode !== undefined && usersNode !== null && !isSeq(usersNode)) {
    if (!(isScalar(usersNode) && usersNode.value === null)) {
      error(usersNode, "users must be a list");
    }
  } else if (isSeq(usersNode)) {
    usersNode.items.forEach((item, i) => {
      const user = readUser(item as Value, `users[${i}]`, error);
      if (user === undefined) return;
      if (seen.has(user.name)) {
        error(item as Node, `users[${i}]: "${user.name}" is listed twice`);
        return;
      }
      seen.add(user.name);
      users.push(user);
    });
  }
  if (errors.length === 0 && users.length === 0 && !acceptAll) {
    error(root, "no users and accept_all is not true: nobody could log in");
  }
  return errors.length > 0 ? fail() : { ok: true, value: new LocalUsers(users, { acceptAll }) };
}

function readUser(
  node: Value,
  where: string,
  error: (node: Value, message: string) => undefined,
): LocalUser | undefined {
  if (!isMap(node)) return error(node, `${where} must be a mapping with name and password`);
  const fields = new Map<string, Value>();
  for (const pair of node.items) {
    const key = pair.key as Value;
    const name = isScalar(key) ? key.value : undefined;
    if (name === "name" || name === "password") fields.set(name, pair.value as Value);
    else error(key, `unknown key ${JSON.stringify(name ?? null)} in ${where}`);
  }
  const text = (field: "name" | "password"): string | undefined => {
    if (!fields.has(field)) return error(node, `${where} has no "${field}"`);
    const value = fields.get(field);
    if (!isScalar(value) || typeof value.value !== "string") {
      const got = isScalar(value) ? ` (got ${String((value as Scalar).value)}; quote it)` : "";
      return error(value ?? node, `${where}.${field} must be a string${got}`);
    }
    if (value.value === "") return error(value, `${where}.${field} must not be empty`);
    const bytes = new TextEncoder().encode(value.value).length;
    if (bytes > MAX_BYTES) {
      return error(value, `${where}.${field} is ${bytes} bytes; PAP allows at most ${MAX_BYTES}`);
    }
    return value.value;
  };
  const name = text("name");
  const password = text("password");
  return name === undefined || password === undefined ? undefined : { name, password };
}

/**
 * Reads and parses a users file; a file that cannot be read is one error
 * with no position.
 *
 * @example
 * ```ts ignore
 * import { loadUsersFile } from "./users.ts";
 * const r = await loadUsersFile("/etc/lts/users.yaml");
 * ```
 */
export async function loadUsersFile(path: string): Promise<Result<LocalUsers, PolicyError[]>> {
  const text = await readPolicyText(path);
  return text.ok ? parseUsers(text.value, path) : text;
}
