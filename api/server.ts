/**
 * The HTTP API of a running switch: status, tunnels, calls, policy and
 * Prometheus metrics to read; reload, drain and call clearing to act. It
 * knows the switch only through {@link LtsControl}.
 *
 * | route                   | answer                                                          |
 * | ----------------------- | --------------------------------------------------------------- |
 * | `GET /status`           | {@link StatusView}                                              |
 * | `GET /tunnels`          | {@link TunnelView}`[]`                                          |
 * | `GET /sessions`         | {@link SessionView}`[]`; query `user`, `upstream`, `state`      |
 * | `GET /policy`           | {@link PolicyView}                                              |
 * | `GET /metrics`          | Prometheus text format 0.0.4 (see `api/metrics.ts`)             |
 * | `POST /reload`          | 200 `{version}`, or 422 `{errors:[{file,line,col,message}]}`    |
 * | `POST /drain`           | 202 `{draining:true}`                                           |
 * | `DELETE /sessions/{id}` | 204; 404 when there is no such call (CDN result 3 on both legs) |
 *
 * Everything but `/metrics` is JSON, errors included (`{"error": "..."}`):
 * 400 for bad input (unknown query parameters too), 401 without the bearer
 * token, 404 for unknown paths, 405 with `Allow` for a wrong method, 413 for
 * a request body over 64 KiB, 500 when the switch throws (logged under
 * `lts.api`). Request bodies are never needed: GET ignores them, POST reads
 * and discards them.
 *
 * The bearer token: `lts run` reads it from the file named by
 * `api.token_file` in the policy and passes it here; without one the API is
 * open to whoever can reach `api.listen`, which is why it defaults to
 * loopback. With a token, every route but `GET /metrics` needs it (a
 * Prometheus scrape carries no secret, and the metrics hold none);
 * `metricsNeedToken` puts `/metrics` behind it too. The token is compared in
 * constant time.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { createHash, timingSafeEqual } from "node:crypto";
import {
  type LtsControl,
  type PolicyView,
  type SessionView,
  type StatusView,
  SwitchBusyError,
  type TunnelView,
} from "../actors/control.ts";
import { EXPOSITION_CONTENT_TYPE, renderMetrics } from "./metrics.ts";

const log = getLogger(["lts", "api"]);

/** Where the API listens when `api.listen` gives no address. */
export const DEFAULT_API_LISTEN = { hostname: "127.0.0.1", port: 9701 } as const;

/** Request bodies larger than this get 413. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Options of {@link startApi}. */
export interface ApiOptions {
  /** Address to listen on (default 127.0.0.1:9701; port 0 picks a free port). */
  listen?: { hostname?: string; port?: number };
  /** When set, every request but `GET /metrics` needs `Authorization: Bearer <token>`. */
  token?: string;
  /** With a token, `/metrics` needs it too. Default false. */
  metricsNeedToken?: boolean;
  /** Called once the server listens, with its address. */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** A running API server. */
export interface ApiServer {
  /** The address it listens on (the chosen port when asked for port 0). */
  addr: Deno.NetAddr;
  /** Stops accepting connections, lets requests in flight finish, and frees the listener. */
  shutdown(): Promise<void>;
}

/**
 * Starts the HTTP API over `control`. Throws (e.g. `Deno.errors.AddrInUse`)
 * when it cannot listen.
 *
 * @example
 * ```ts
 * import { startApi } from "./server.ts";
 * import type { LtsControl } from "../actors/control.ts";
 * const control: LtsControl = {
 *   status: () => Promise.resolve({
 *     hostname: "lts-a", uptimeSeconds: 1, policyVersion: 1, draining: false,
 *     tunnels: { lac: 0, upstream: 0 },
 *     sessions: { placing: 0, switched: 0, terminating: 0, terminated: 0, closing: 0 },
 *     calls: { total: 0, switched: 0, rejected: 0, failed: 0, failovers: 0, terminated: 0 },
 *   }),
 *   tunnels: () => Promise.resolve([]),
 *   sessions: () => Promise.resolve([]),
 *   policy: () => ({
 *     version: 1, source: "lts.yaml", loadedAt: new Date(0).toISOString(), rules: 0,
 *     upstreams: [], reloads: { ok: 0, failed: 0 },
 *   }),
 *   metrics: () => Promise.reject(new Error("not in this example")),
 *   reload: () => Promise.resolve({ ok: true, version: 2 }),
 *   drain: () => {},
 *   disconnect: () => Promise.resolve(false),
 * };
 * const api = startApi(control, { listen: { port: 0 }, token: "s3cret" });
 * const res = await fetch(`http://127.0.0.1:${api.addr.port}/status`, {
 *   headers: { authorization: "Bearer s3cret" },
 * });
 * const status = await res.json();
 * await api.shutdown();
 * if (status.hostname !== "lts-a") throw new Error();
 * ```
 */
export function startApi(control: LtsControl, options: ApiOptions = {}): ApiServer {
  const server = Deno.serve({
    hostname: options.listen?.hostname ?? DEFAULT_API_LISTEN.hostname,
    port: options.listen?.port ?? DEFAULT_API_LISTEN.port,
    onListen: (addr) => options.onListen?.(addr),
    onError: (error) => internalError(error),
  }, apiHandler(control, options));
  let stopped: Promise<void> | undefined;
  return {
    addr: server.addr,
    shutdown: () => stopped ??= server.shutdown(),
  };
}

/**
 * The API as a request handler, without a socket: what {@link startApi}
 * serves, for embedding in another server and for tests. It never rejects;
 * every failure is a response.
 *
 * @example
 * ```ts
 * import { apiHandler } from "./server.ts";
 * import type { LtsControl } from "../actors/control.ts";
 * const handler = apiHandler({} as LtsControl, { token: "s3cret" });
 * const res = await handler(new Request("http://lts/status"));
 * if (res.status !== 401) throw new Error();
 * ```
 */
export function apiHandler(
  control: LtsControl,
  options: Pick<ApiOptions, "token" | "metricsNeedToken"> = {},
): (request: Request) => Promise<Response> {
  const check = options.token === undefined ? undefined : bearerCheck(options.token);
  const authorize = check === undefined
    ? undefined
    : (request: Request) =>
      (options.metricsNeedToken !== true && request.method === "GET" &&
        new URL(request.url).pathname === "/metrics") ||
      check(request.headers.get("authorization"));
  return async (request) => {
    const response = await handle(control, authorize, request);
    log.debug("{method} {path} {status}", {
      method: request.method,
      path: new URL(request.url).pathname,
      status: response.status,
    });
    return response;
  };
}

type Route = {
  method: string;
  handler: (control: LtsControl, url: URL, match: RegExpExecArray) => Promise<Response>;
};

/** The routes by path pattern; the methods listed for a pattern are its `Allow` header. */
const ROUTES: { path: RegExp; routes: Route[] }[] = [
  {
    path: /^\/status$/,
    routes: [{
      method: "GET",
      handler: async (c, url) => noQuery(url) ?? json(200, await c.status() satisfies StatusView),
    }],
  },
  {
    path: /^\/tunnels$/,
    routes: [{
      method: "GET",
      handler: async (c, url) =>
        noQuery(url) ?? json(200, await c.tunnels() satisfies TunnelView[]),
    }],
  },
  {
    path: /^\/sessions$/,
    routes: [{ method: "GET", handler: (c, url) => listSessions(c, url) }],
  },
  {
    path: /^\/policy$/,
    routes: [{
      method: "GET",
      handler: (c, url) =>
        Promise.resolve(noQuery(url) ?? json(200, c.policy() satisfies PolicyView)),
    }],
  },
  {
    path: /^\/metrics$/,
    routes: [{
      method: "GET",
      handler: async (c, url) =>
        noQuery(url) ?? new Response(renderMetrics(await c.metrics()), {
          status: 200,
          headers: { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" },
        }),
    }],
  },
  {
    path: /^\/reload$/,
    routes: [{
      method: "POST",
      handler: async (c, url) => {
        const bad = noQuery(url);
        if (bad) return bad;
        const outcome = await c.reload();
        if (!outcome.ok) return json(422, { errors: outcome.errors });
        return json(200, {
          version: outcome.version,
          ...(outcome.unchanged ? { unchanged: true } : {}),
        });
      },
    }],
  },
  {
    path: /^\/drain$/,
    routes: [{
      method: "POST",
      handler: (c, url) => {
        const bad = noQuery(url);
        if (bad) return Promise.resolve(bad);
        c.drain();
        return Promise.resolve(json(202, { draining: true }));
      },
    }],
  },
  {
    path: /^\/sessions\/([^/]*)$/,
    routes: [{
      method: "DELETE",
      handler: async (c, url, match) => {
        const bad = noQuery(url);
        if (bad) return bad;
        const raw = match[1];
        const id = /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : NaN;
        if (!Number.isSafeInteger(id)) {
          return error(400, `call id must be a positive integer, not "${truncate(raw)}"`);
        }
        if (!await c.disconnect(id)) return error(404, `no call ${id}`);
        return new Response(null, { status: 204 });
      },
    }],
  },
];

const SESSION_STATES: readonly string[] = [
  "placing",
  "switched",
  "terminating",
  "terminated",
  "closing",
];
const SESSION_FILTERS = ["user", "upstream", "state"] as const;

async function listSessions(control: LtsControl, url: URL): Promise<Response> {
  const filter: { user?: string; upstream?: string; state?: string } = {};
  for (const key of new Set(url.searchParams.keys())) {
    if (!(SESSION_FILTERS as readonly string[]).includes(key)) {
      return error(
        400,
        `unknown query parameter "${truncate(key)}"; known: ${SESSION_FILTERS.join(", ")}`,
      );
    }
    const values = url.searchParams.getAll(key);
    if (values.length > 1) return error(400, `query parameter "${key}" given more than once`);
    if (values[0] === "") return error(400, `query parameter "${key}" is empty`);
    filter[key as typeof SESSION_FILTERS[number]] = values[0];
  }
  if (filter.state !== undefined && !SESSION_STATES.includes(filter.state)) {
    return error(
      400,
      `state must be one of ${SESSION_STATES.join(", ")}, not "${truncate(filter.state)}"`,
    );
  }
  return json(200, await control.sessions(filter) satisfies SessionView[]);
}

async function handle(
  control: LtsControl,
  authorize: ((request: Request) => boolean) | undefined,
  request: Request,
): Promise<Response> {
  try {
    // Authentication comes first, so that without the token even the set of paths stays hidden.
    if (authorize !== undefined && !authorize(request)) {
      await discard(request);
      return error(401, "missing or wrong bearer token", {
        "www-authenticate": 'Bearer realm="lts"',
      });
    }
    const url = new URL(request.url);
    const entry = ROUTES.find((r) => r.path.test(url.pathname));
    if (entry === undefined) {
      await discard(request);
      return error(404, `no such path ${truncate(url.pathname)}`);
    }
    const route = entry.routes.find((r) => r.method === request.method);
    if (route === undefined) {
      await discard(request);
      const allow = entry.routes.map((r) => r.method).join(", ");
      return error(405, `${truncate(request.method)} not allowed; use ${allow}`, { allow });
    }
    if (request.method === "POST" && !await withinLimit(request)) {
      return error(413, `request body over ${MAX_BODY_BYTES} bytes`);
    }
    if (request.method !== "POST") await discard(request);
    return await route.handler(control, url, entry.path.exec(url.pathname)!);
  } catch (e) {
    return internalError(e);
  }
}

function internalError(e: unknown): Response {
  if (e instanceof SwitchBusyError) {
    log.warn("request refused: {error}", { error: e.message });
    return error(503, e.message, { "retry-after": "1" });
  }
  log.error("request failed: {error}", { error: e });
  return error(500, "internal error; see the lts.api log");
}

/** Reads and drops a POST body, or reports false once it passes {@link MAX_BODY_BYTES}. */
async function withinLimit(request: Request): Promise<boolean> {
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > MAX_BODY_BYTES) {
    await discard(request);
    return false;
  }
  if (request.body === null) return true;
  const reader = request.body.getReader();
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return true;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel();
      return false;
    }
  }
}

/** Bodies we do not read are cancelled, so that their streams do not outlive the request. */
async function discard(request: Request): Promise<void> {
  if (request.body !== null && !request.bodyUsed) await request.body.cancel().catch(() => {});
}

/** Routes other than `/sessions` take no query parameters; one given is an error, not ignored. */
function noQuery(url: URL): Response | undefined {
  const [key] = url.searchParams.keys();
  return key === undefined ? undefined : error(400, `unknown query parameter "${truncate(key)}"`);
}

/**
 * A checker of `Authorization: Bearer <token>`. Both sides are hashed first so
 * that the comparison takes the same time whatever the length or content of
 * the guess.
 */
function bearerCheck(token: string): (header: string | null) => boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  const expected = digest(token);
  return (header) => {
    const m = header === null ? null : /^Bearer +(\S+) *$/i.exec(header);
    return m !== null && timingSafeEqual(digest(m[1]), expected);
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

function error(status: number, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { error: message }, headers);
}

/** Client text echoed in an error is cut short, so that a huge path cannot make a huge answer. */
function truncate(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}
