/**
 * A fast reader for the commonest shape of a rule: one line holding a
 * block-list item in flow style, `  - { name: a, match: { domain: "x" }, forward: up }`.
 * It builds the same yaml nodes the `yaml` package would, for a small subset
 * of YAML — plain words, decimal integers, quoted strings of printable ASCII
 * without escapes other than `\\` and `\"`, flow mappings and sequences — and gives up
 * (undefined) on anything else, which then goes through `yaml` itself. The
 * `yaml` package spends ~35 µs on such a line; this ~2 µs.
 *
 * @module
 */

import { Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";
import type { Node } from "yaml";

const SPACE = 0x20;

/** Plain scalars that the YAML 1.2 core schema does not read as strings. */
const RESERVED: ReadonlyMap<string, null | boolean> = new Map<string, null | boolean>([
  ["null", null],
  ["Null", null],
  ["NULL", null],
  ["true", true],
  ["True", true],
  ["TRUE", true],
  ["false", false],
  ["False", false],
  ["FALSE", false],
]);

/** A plain word: a letter or `_`, then letters, digits and `_ . - * @ /`. */
const WORD = /[A-Za-z_][A-Za-z0-9_.\-*@/]*/y;
/** A decimal integer without leading zeros, small enough to be exact. */
const INTEGER = /(?:0|[1-9][0-9]{0,14})(?![0-9A-Za-z_.\-*@/])/y;
/**
 * The inside of a double-quoted string of printable ASCII, with at most `\\`
 * and `\"` escapes (other characters are left to `yaml`, which knows which
 * are allowed).
 */
const DOUBLE = /"((?:[ !#-[\]-~]|\\["\\])*)"/y;
/** The inside of a single-quoted string of printable ASCII (`''` is a quote). */
const SINGLE = /'((?:[ -&(-~]|'')*)'/y;

class GiveUp extends Error {}

/**
 * The item node of a one-line flow-style list item, or undefined when the
 * line is not in the subset this reader knows.
 *
 * @example
 * ```ts
 * import { readFlowItem } from "./_flow.ts";
 * import { isMap } from "yaml";
 * const node = readFlowItem('  - { name: a, match: { domain: "x.example" }, forward: up }\n');
 * if (!isMap(node) || node.toJSON().match.domain !== "x.example") throw new Error();
 * if (readFlowItem("  - { message: no route }\n") !== undefined) throw new Error();
 * ```
 */
export function readFlowItem(line: string): Node | undefined {
  const end = line.endsWith("\n") ? line.length - 1 : line.length;
  const newline = line.indexOf("\n");
  if (newline >= 0 && newline !== end) return undefined;
  let i = 0;
  while (i < end && line.charCodeAt(i) === SPACE) i++;
  if (line[i] !== "-" || line.charCodeAt(i + 1) !== SPACE) return undefined;
  i = skip(line, i + 1);
  if (line[i] !== "{") return undefined;
  try {
    const reader = new Reader(line, end, i);
    const node = reader.map();
    let j = skip(line, reader.at);
    if (j < end && line[j] === "#" && j > reader.at) j = end;
    return j === end ? node : undefined;
  } catch (e) {
    if (e instanceof GiveUp) return undefined;
    throw e;
  }
}

function skip(text: string, i: number): number {
  while (text.charCodeAt(i) === SPACE) i++;
  return i;
}

class Reader {
  constructor(readonly text: string, readonly end: number, public at: number) {}

  #expect(c: string): void {
    this.at = skip(this.text, this.at);
    if (this.text[this.at] !== c) throw new GiveUp();
    this.at++;
  }

  /** `{ key: value, … }`, the cursor on `{`. */
  map(): YAMLMap {
    const map = new YAMLMap();
    const start = this.at;
    this.at++;
    this.at = skip(this.text, this.at);
    if (this.text[this.at] !== "}") {
      const keys = new Set<string>();
      for (;;) {
        this.at = skip(this.text, this.at);
        WORD.lastIndex = this.at;
        const m = WORD.exec(this.text);
        if (m === null || RESERVED.has(m[0]) || keys.has(m[0])) throw new GiveUp();
        keys.add(m[0]);
        const key = scalar(m[0], this.at, this.at + m[0].length);
        this.at += m[0].length;
        if (this.text[this.at] !== ":" || this.text.charCodeAt(this.at + 1) !== SPACE) {
          throw new GiveUp();
        }
        this.at += 2;
        map.items.push(new Pair(key, this.value()));
        this.at = skip(this.text, this.at);
        if (this.text[this.at] !== ",") break;
        this.at++;
      }
    }
    this.#expect("}");
    map.range = [start, this.at, this.at];
    return map;
  }

  /** `[ value, … ]`, the cursor on `[`. */
  seq(): YAMLSeq {
    const seq = new YAMLSeq();
    const start = this.at;
    this.at++;
    this.at = skip(this.text, this.at);
    if (this.text[this.at] !== "]") {
      for (;;) {
        seq.items.push(this.value());
        this.at = skip(this.text, this.at);
        if (this.text[this.at] !== ",") break;
        this.at++;
      }
    }
    this.#expect("]");
    seq.range = [start, this.at, this.at];
    return seq;
  }

  value(): Node {
    const text = this.text;
    const at = this.at = skip(text, this.at);
    const c = text[at];
    if (c === "{") return this.map();
    if (c === "[") return this.seq();
    let m: RegExpExecArray | null;
    let value: string | number | boolean | null;
    if (c === '"') {
      DOUBLE.lastIndex = at;
      if ((m = DOUBLE.exec(text)) === null) throw new GiveUp();
      value = m[1].replace(/\\(.)/g, "$1");
    } else if (c === "'") {
      SINGLE.lastIndex = at;
      if ((m = SINGLE.exec(text)) === null) throw new GiveUp();
      value = m[1].replaceAll("''", "'");
    } else {
      WORD.lastIndex = INTEGER.lastIndex = at;
      if ((m = WORD.exec(text)) !== null) {
        const reserved = RESERVED.get(m[0]);
        value = reserved === undefined ? m[0] : reserved;
      } else if ((m = INTEGER.exec(text)) !== null) value = Number(m[0]);
      else throw new GiveUp();
      // A plain scalar ends at a flow indicator; another word after a space would continue it.
      const after = skip(text, at + m[0].length);
      if (after < this.end && text[after] !== "," && text[after] !== "}" && text[after] !== "]") {
        throw new GiveUp();
      }
    }
    this.at = at + m[0].length;
    return scalar(value, at, this.at);
  }
}

function scalar(value: string | number | boolean | null, start: number, end: number): Scalar {
  const s = new Scalar(value);
  s.range = [start, end, end];
  return s;
}
