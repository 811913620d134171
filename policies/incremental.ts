/**
 * Incremental policy loading: a reload parses and validates only the rules
 * whose text changed since the last load, and reuses the validated rules of
 * the others.
 *
 * The text is cut at its top-level `rules:` key into the *head* (the rest of
 * the file, with the rules' lines left blank so every line keeps its number)
 * and one *chunk* per item of the block-style rules list (`  - …` and the
 * lines that continue it). A chunk is validated alone; its valid result
 * depends only on its text and on the upstream and terminate target names it
 * refers to, so it is kept by text. Anything the cut cannot vouch for — a
 * flow-style `rules: […]`, directives, several documents, CR line ends, an
 * item that does not parse alone — and any problem at all fall back to the
 * full parse of `parsePolicy`, which alone writes errors: they are exactly
 * those of a full load, and an invalid file changes nothing.
 *
 * Work that parses is done in slices of a few milliseconds with the event
 * loop let in between, so the thread that forwards data frames keeps doing
 * so while a whole file is parsed; a full parse of a big file runs in a
 * Worker (`load_worker.ts`).
 *
 * @module
 */

import type { Result } from "../transport/result.ts";
import { CompiledPolicy } from "./compile.ts";
import { PolicyError, readPolicyText } from "./error.ts";
import type { LoadReply, LoadRequest } from "./load_worker.ts";
import { parsePolicy, parsePolicyHead, parseRuleChunk, type PolicyHead } from "./parse.ts";
import type { RuleOutcome } from "./parse.ts";
import type { PolicyConfig, Rule } from "./schema.ts";
import { loadUsersFiles } from "./_users_files.ts";

/** A policy text cut at its `rules`. */
export interface SplitPolicy {
  /** The text with every line of the rules list blank (`rules:` itself kept). */
  readonly head: string;
  /** Offset of the `rules` key, in the text and in `head`. */
  readonly rulesAt: number;
  /** Each item of the list with the lines that continue it, as written. */
  readonly rules: readonly string[];
}

const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const DASH = 0x2d;
const HASH = 0x23;
const PERCENT = 0x25;
/** `rules:` alone on its line, or with a comment. */
const RULES_KEY = /^rules:[ \t]*(?:#.*)?$/;
/** A line that starts or ends a YAML document (`---`, `...`). */
const DOCUMENT_MARKER = /^(?:---|\.\.\.)(?:[ \t]|$)/;

/**
 * Cuts a policy text at its top-level `rules:` key, or returns undefined when
 * the text is not in the plain block style the cut understands.
 *
 * @example
 * ```ts
 * import { splitPolicy } from "./incremental.ts";
 * const s = splitPolicy("hostname: h\nrules:\n  - { forward: a }\n  - reject: {}\n    name: b\nlacs: []\n")!;
 * if (s.rules.length !== 2 || s.rules[1] !== "  - reject: {}\n    name: b\n") throw new Error();
 * if (s.head !== "hostname: h\nrules:\n\n\n\nlacs: []\n") throw new Error();
 * if (splitPolicy("rules: [{ forward: a }]\n") !== undefined) throw new Error();
 * ```
 */
export function splitPolicy(text: string): SplitPolicy | undefined {
  if (text.includes("\r") || text.charCodeAt(0) === 0xfeff) return undefined;
  let state: "before" | "first" | "items" | "after" = "before";
  let rulesAt = -1;
  let regionStart = 0;
  let regionEnd = text.length;
  let indent = 0;
  let chunkStart = -1;
  const rules: string[] = [];
  for (let pos = 0; pos < text.length;) {
    let end = text.indexOf("\n", pos);
    if (end < 0) end = text.length;
    let k = pos;
    while (k < end && text.charCodeAt(k) === SPACE) k++;
    const c = k < end ? text.charCodeAt(k) : NEWLINE;
    const next = pos;
    pos = end + 1;
    if (c === NEWLINE || c === HASH) continue; // blank or comment: part of what surrounds it
    if (c === TAB) {
      if (text.slice(k, end).trim() === "") continue;
      return undefined;
    }
    const col = k - next;
    if (col === 0) {
      if (c === PERCENT || DOCUMENT_MARKER.test(text.slice(next, Math.min(end, next + 4)))) {
        return undefined;
      }
    }
    const item = c === DASH && (k + 1 === end || text.charCodeAt(k + 1) === SPACE);
    switch (state) {
      case "before":
      case "after":
        if (col === 0 && text.startsWith("rules", next) && RULES_KEY.test(text.slice(next, end))) {
          if (state === "after") return undefined;
          rulesAt = next;
          regionStart = Math.min(end + 1, text.length);
          state = "first";
        }
        break;
      case "first":
        if (item) {
          indent = col;
          chunkStart = next;
          state = "items";
        } else if (col === 0) {
          regionEnd = next;
          state = "after";
        } else return undefined;
        break;
      case "items":
        if (col > indent) break;
        if (col === indent && item) {
          rules.push(text.slice(chunkStart, next));
          chunkStart = next;
        } else if (col === 0) {
          rules.push(text.slice(chunkStart, next));
          regionEnd = next;
          state = "after";
        } else return undefined;
        break;
    }
    // A second `rules` right after the first one's list.
    if (state === "after" && regionEnd === next && RULES_KEY.test(text.slice(next, end))) {
      return undefined;
    }
  }
  if (state === "items") rules.push(text.slice(chunkStart));
  // An empty `rules:` is an error that only the full parse reports.
  if (rulesAt < 0 || rules.length === 0) return undefined;
  let blank = 0;
  for (
    let i = text.indexOf("\n", regionStart);
    i >= 0 && i < regionEnd;
    i = text.indexOf("\n", i + 1)
  ) {
    blank++;
  }
  const head = text.slice(0, regionStart) + "\n".repeat(blank) + text.slice(regionEnd);
  return { head, rulesAt, rules };
}

/** Options of a {@link PolicyLoader}. */
export interface PolicyLoaderOptions {
  /** Longest stretch of parsing between two turns of the event loop, in ms. Default 2. */
  sliceMs?: number;
  /**
   * A file that needs a full parse is parsed in a Worker when it is at least
   * this long (UTF-16 code units). Default 32 Ki: smaller ones parse here in
   * less time than a Worker takes to start.
   */
  offThreadAt?: number;
}

/**
 * Loads a policy file again and again, reusing what did not change since its
 * last successful load: reloading a 10,000-rule file in which a few rules
 * changed parses only those. The result is always what {@link loadPolicyFile}
 * gives for the same file, errors included.
 *
 * @example
 * ```ts
 * import { PolicyLoader } from "./incremental.ts";
 * const path = await Deno.makeTempFile({ suffix: ".yaml" });
 * const rules = (u: string) =>
 *   `hostname: h\nlacs: []\nupstreams: { up: { members: [{ address: 192.0.2.1 }] } }\nrules:\n` +
 *   `  - { name: a, match: { domain: a.example }, forward: up }\n` +
 *   `  - { name: b, match: { domain: b.example }, forward: ${u} }\n`;
 * const loader = new PolicyLoader();
 * await Deno.writeTextFile(path, rules("up"));
 * const first = await loader.load(path);
 * await Deno.writeTextFile(path, rules("down"));
 * const bad = await loader.load(path);
 * await Deno.remove(path);
 * if (!first.ok || first.value.decide({ user: "x@b.example" }).action !== "forward") throw new Error();
 * if (bad.ok || !String(bad.error[0]).endsWith(':6:55: unknown upstream "down" in rule "b"')) {
 *   throw new Error(String(bad.ok || bad.error[0]));
 * }
 * ```
 */
export class PolicyLoader {
  readonly #sliceMs: number;
  /** When the current stretch of work began. */
  #sliceStart = 0;
  readonly #offThreadAt: number;
  /** The head of the last good load, by its text. */
  #head: { text: string; head: PolicyHead } | undefined;
  /** The rules of the last good load, by their text. */
  #rules = new Map<string, RuleOutcome>();

  /** A loader with nothing kept yet: its first load parses everything. */
  constructor(options: PolicyLoaderOptions = {}) {
    this.#sliceMs = options.sliceMs ?? 2;
    this.#offThreadAt = options.offThreadAt ?? 32 * 1024;
  }

  /** Reads, parses, validates and compiles `path`; a file that cannot be read is one error. */
  async load(path: string): Promise<Result<CompiledPolicy, PolicyError[]>> {
    const text = await readPolicyText(path);
    if (!text.ok) return text;
    const config = await this.parse(text.value, path);
    if (!config.ok) return config;
    // Compiling takes a few ms: after a long parse, let the event loop in first.
    if (performance.now() - this.#sliceStart > this.#sliceMs) await this.#pause();
    return { ok: true, value: new CompiledPolicy(config.value) };
  }

  /** Lets the event loop run (forwarding frames) before the work goes on. */
  async #pause(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#sliceStart = performance.now();
  }

  /**
   * Parses and validates `text` (users files read relative to `path`), as
   * `parsePolicy` then `loadUsersFiles` would.
   */
  async parse(text: string, path: string): Promise<Result<PolicyConfig, PolicyError[]>> {
    const split = splitPolicy(text);
    const config = split === undefined ? undefined : await this.#incremental(split);
    if (config === undefined) return await this.#full(text, path);
    return await loadUsersFiles(config, path);
  }

  /** The policy from cached and freshly validated parts, or undefined if anything is amiss. */
  async #incremental(split: SplitPolicy): Promise<PolicyConfig | undefined> {
    this.#sliceStart = performance.now();
    const cachedHead = this.#head?.text === split.head ? this.#head.head : undefined;
    const head = cachedHead ?? parsePolicyHead(split.head, split.rulesAt);
    if (head === undefined) return undefined;
    const upstreams = new Set(head.upstreams);
    const targets = new Set(head.terminate);
    const previous = this.#rules;
    const kept = new Map<string, RuleOutcome>();
    const names = new Set<string>();
    const rules: Rule[] = [];
    for (let index = 0; index < split.rules.length; index++) {
      const text = split.rules[index];
      let outcome = previous.get(text) ?? kept.get(text);
      // A rule valid before stays valid unless the name it refers to is gone.
      if (outcome !== undefined) {
        const a = outcome.action;
        if (
          (a.type === "forward" && !upstreams.has(a.upstream)) ||
          (a.type === "terminate" && !targets.has(a.target))
        ) outcome = undefined;
      }
      if (
        (outcome === undefined || (index & 1023) === 0) &&
        performance.now() - this.#sliceStart > this.#sliceMs
      ) await this.#pause();
      if (outcome === undefined) {
        outcome = parseRuleChunk(text, head);
        if (outcome === undefined) return undefined;
      }
      kept.set(text, outcome);
      if (outcome.name !== undefined) {
        if (names.has(outcome.name)) return undefined;
        names.add(outcome.name);
      }
      rules.push({
        name: outcome.name ?? `rules[${index}]`,
        index,
        match: outcome.match,
        action: outcome.action,
      });
    }
    this.#head = { text: split.head, head };
    this.#rules = kept;
    return { ...head.config, rules };
  }

  /** The whole file through `parsePolicy`: in a Worker when it is big. */
  async #full(text: string, path: string): Promise<Result<PolicyConfig, PolicyError[]>> {
    if (text.length < this.#offThreadAt) {
      const parsed = parsePolicy(text, path);
      return parsed.ok ? await loadUsersFiles(parsed.value, path) : parsed;
    }
    return await parseOffThread({ path, text });
  }
}

/**
 * Runs `load_worker.ts` on one request: the validated configuration, or the
 * errors. Where Workers are not available, does the same work here.
 */
export async function parseOffThread(
  request: LoadRequest,
): Promise<Result<PolicyConfig, PolicyError[]>> {
  let worker: Worker;
  try {
    worker = new Worker(new URL("./load_worker.ts", import.meta.url), { type: "module" });
  } catch {
    return await parseHere(request);
  }
  try {
    const reply = await new Promise<LoadReply>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<LoadReply>) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
      worker.postMessage(request);
    });
    return reply.ok ? { ok: true, value: reply.config as PolicyConfig } : {
      ok: false,
      error: reply.errors.map((e) => new PolicyError(e.file, e.line, e.col, e.message)),
    };
  } catch {
    return await parseHere(request);
  } finally {
    worker.terminate();
  }
}

/** What the worker does, on this thread. */
export async function parseHere(
  request: LoadRequest,
): Promise<Result<PolicyConfig, PolicyError[]>> {
  let text = request.text;
  if (text === undefined) {
    const read = await readPolicyText(request.path);
    if (!read.ok) return read;
    text = read.value;
  }
  const parsed = parsePolicy(text, request.path);
  return parsed.ok ? await loadUsersFiles(parsed.value, request.path) : parsed;
}
