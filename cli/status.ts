/**
 * `lts status`: what a running `lts run` is doing, read from its HTTP API.
 *
 * @module
 */

import type { SessionView, StatusView, TunnelView } from "../actors/control.ts";
import { DEFAULT_API_LISTEN } from "../api/server.ts";
import { endpointKey } from "../transport/datagram.ts";
import { type Command, Exit, type Io, parse } from "./command.ts";
import { endpointOption } from "./_runtime.ts";

/** How long each request may take before the API counts as unreachable. */
const TIMEOUT_MS = 5000;

/** `lts status`. */
export const statusCommand: Command = {
  name: "status",
  summary: "show the tunnels and calls of a running switch, from its HTTP API",
  usage: `lts status [--api HOST:PORT] [--token-file FILE] [--json]

Asks the HTTP API of a running "lts run" (the policy's api.listen) for its
status, tunnels and calls, and prints them as tables.

Options:
  --api HOST:PORT     the API address (default ${endpointKey(DEFAULT_API_LISTEN)})
  --token-file FILE   file holding the bearer token (the policy's api.token_file)
  --json              print {"status":...,"tunnels":[...],"sessions":[...]} as one JSON line

Exit 1 when the API cannot be reached or refuses the request.`,
  async run(args: string[], io: Io): Promise<number> {
    const { values } = parse(args, {
      options: {
        api: { type: "string" },
        "token-file": { type: "string" },
        json: { type: "boolean" },
      },
    });
    const api = values.api === undefined ? DEFAULT_API_LISTEN : endpointOption("api", values.api);
    const base = `http://${endpointKey(api)}`;
    let token: string | undefined;
    if (values["token-file"] !== undefined) {
      try {
        token = (await Deno.readTextFile(values["token-file"])).trim();
      } catch (e) {
        io.err(`lts status: cannot read --token-file ${values["token-file"]}: ${message(e)}`);
        return Exit.Failure;
      }
      if (token === "") {
        io.err(`lts status: --token-file ${values["token-file"]} is empty`);
        return Exit.Failure;
      }
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error("timed out")), TIMEOUT_MS);
    let fetched: { status: StatusView; tunnels: TunnelView[]; sessions: SessionView[] };
    try {
      const get = (path: string) => getJson(base, path, token, controller.signal);
      const [status, tunnels, sessions] = await Promise.all([
        get("/status"),
        get("/tunnels"),
        get("/sessions"),
      ]);
      fetched = {
        status: status as StatusView,
        tunnels: tunnels as TunnelView[],
        sessions: sessions as SessionView[],
      };
    } catch (e) {
      controller.abort();
      io.err(`lts status: ${message(e)}`);
      return Exit.Failure;
    } finally {
      clearTimeout(timer);
    }
    if (values.json) io.out(JSON.stringify(fetched));
    else for (const line of formatStatus(fetched)) io.out(line);
    return Exit.Ok;
  },
};

class ApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApiError";
  }
}

async function getJson(
  base: string,
  path: string,
  token: string | undefined,
  signal: AbortSignal,
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(base + path, {
      signal,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
  } catch (e) {
    throw new ApiError(`cannot reach the API at ${base}: ${message(e)} (is "lts run" running?)`);
  }
  const text = await res.text();
  if (res.status === 401) {
    throw new ApiError(
      `the API at ${base} wants a bearer token${
        token === undefined ? "; give --token-file" : "; the one given is wrong"
      }`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(`GET ${base}${path}: HTTP ${res.status}, not JSON`);
  }
  if (!res.ok) {
    const detail = (body as { error?: unknown })?.error;
    throw new ApiError(`GET ${base}${path}: HTTP ${res.status} ${String(detail ?? "")}`.trim());
  }
  return body;
}

function message(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : "";
  return e instanceof Error ? e.message + cause : String(e);
}

/** The human-readable report: a summary, then one table of tunnels and one of calls. */
function formatStatus(
  { status, tunnels, sessions }: {
    status: StatusView;
    tunnels: TunnelView[];
    sessions: SessionView[];
  },
): string[] {
  const s = status;
  const lines = [
    `${clean(s.hostname)}: up ${
      duration(s.uptimeSeconds * 1000)
    }, policy version ${s.policyVersion}, ${
      s.draining ? "draining (no new calls)" : "accepting calls"
    }`,
    `tunnels: ${s.tunnels.lac} from LACs, ${s.tunnels.upstream} upstream`,
    `calls now: ${s.sessions.switched} switched, ${s.sessions.placing} placing, ${s.sessions.terminated} terminated here, ${s.sessions.terminating} negotiating PPP, ${s.sessions.closing} closing`,
    `calls since start: ${s.calls.total}, ${s.calls.switched} switched, ${s.calls.terminated} terminated here, ${s.calls.rejected} rejected, ${s.calls.failed} failed, ${s.calls.failovers} failovers`,
    "",
  ];
  if (tunnels.length === 0) lines.push("no tunnels");
  else {
    lines.push(...table(
      ["TUNNEL", "PEER TUNNEL", "ROLE", "PEER", "HOST NAME", "STATE", "CALLS", "UPSTREAM"],
      tunnels.map((t) => [
        String(t.tunnelId),
        t.peerTunnelId === null ? "-" : String(t.peerTunnelId),
        t.role,
        t.peer,
        t.peerHostName ?? "-",
        t.draining ? "draining" : t.established ? "established" : "establishing",
        String(t.sessions),
        t.upstream === undefined ? "-" : `${t.upstream}${t.member ? ` ${t.member}` : ""}`,
      ]),
    ));
  }
  lines.push("");
  if (sessions.length === 0) lines.push("no calls");
  else {
    lines.push(...table(
      [
        "CALL",
        "STATE",
        "USER",
        "RULE",
        "UPSTREAM",
        "MEMBER",
        "AGE",
        "IN T/S",
        "OUT T/S",
        "FRAMES IN/OUT",
      ],
      sessions.map((c) => [
        String(c.id),
        c.state,
        c.user ?? "-",
        c.rule ?? "-",
        c.upstream ?? (c.terminate ? `terminate ${c.terminate.target}` : "-"),
        c.member ?? c.terminate?.address ?? "-",
        duration(c.ageMs),
        `${c.incoming.tunnelId}/${c.incoming.sessionId}`,
        c.outgoing === null ? "-" : `${c.outgoing.tunnelId}/${c.outgoing.sessionId}`,
        `${c.incoming.rxFrames}/${c.outgoing?.rxFrames ?? c.terminate?.ipPacketsOut ?? 0}`,
      ]),
    ));
  }
  return lines;
}

function table(header: string[], rows: string[][]): string[] {
  const cells = [header, ...rows.map((r) => r.map(clean))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}

/** User names and Host Names come off the wire: control characters must not reach the terminal. */
function clean(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}

function duration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor(total / 3600) % 24;
  const m = Math.floor(total / 60) % 60;
  const sec = total % 60;
  const hms = [h, m, sec].map((n) => String(n).padStart(2, "0")).join(":");
  return d > 0 ? `${d}d ${hms}` : hms;
}
