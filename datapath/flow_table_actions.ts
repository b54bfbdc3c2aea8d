/**
 * Interning of flow action lists for the flow table: identical lists (same
 * actions with the same arguments) are stored once and named by a small
 * integer id, reference counted by the flows that use them. Slow path only.
 *
 * @module
 */

import type { Action, SetAction } from "./action.ts";

/** Reference-counted store of action lists, one copy per distinct list. */
export class ActionInterner {
  private lists: (Action[] | null)[] = [];
  private texts: string[] = [];
  private refs: number[] = [];
  private freeIds: number[] = [];
  private idsByText = new Map<string, number>();
  /**
   * Id of each list held, by identity. Why: a caller that hands the same
   * list object again (Datapath caches the parsed list of each action text)
   * skips {@linkcode canonicalText}, 0.13 µs of a 5 µs put
   * (bench/flow_setup_bench.ts shape, profiled in process).
   */
  private idsByList = new Map<Action[], number>();

  /** Number of distinct lists held. */
  get size(): number {
    return this.idsByText.size;
  }

  /**
   * Returns the id of a list equal to `actions` (the first one given is kept),
   * adding a reference. The list must not be mutated afterwards.
   */
  acquire(actions: Action[]): number {
    const held = this.idsByList.get(actions);
    if (held !== undefined) {
      this.refs[held]++;
      return held;
    }
    const text = canonicalText(actions);
    let id = this.idsByText.get(text);
    if (id === undefined) {
      id = this.freeIds.length > 0 ? this.freeIds.pop()! : this.lists.length;
      this.lists[id] = actions;
      this.texts[id] = text;
      this.refs[id] = 0;
      this.idsByText.set(text, id);
      this.idsByList.set(actions, id);
    }
    this.refs[id]++;
    return id;
  }

  /** Drops a reference to list `id`, forgetting the list at zero. */
  release(id: number): void {
    if (--this.refs[id] > 0) return;
    this.idsByText.delete(this.texts[id]);
    this.idsByList.delete(this.lists[id]!);
    this.lists[id] = null;
    this.texts[id] = "";
    this.freeIds.push(id);
  }

  /** The list with this id; RangeError for an unknown id. */
  list(id: number): Action[] {
    const actions = this.lists[id];
    if (actions === undefined || actions === null) {
      throw new RangeError(`no action list with id ${id}`);
    }
    return actions;
  }

  /** Forgets every list. */
  clear(): void {
    this.lists = [];
    this.texts = [];
    this.refs = [];
    this.freeIds = [];
    this.idsByText.clear();
    this.idsByList.clear();
  }
}

/**
 * A text that two action lists share exactly when they are equal.
 *
 * Outputs (the common case) are spelt `o2;`, set actions `s0<words>/<words>;`
 * directly; other actions go through {@linkcode canonicalValue}, a small
 * writer that also spells typed arrays by their non-zero words: a set() action carries a 64-word
 * key and mask, mostly zero, and the JSON.stringify replacer that spelt
 * them as `{u32:[...]}` cost about 100 µs per put (profiled with set(ipv4)
 * puts: 124 µs per put before, 23 µs for output-only lists); this costs a
 * few µs.
 */
export function canonicalText(actions: readonly Action[]): string {
  let text = "";
  for (let i = 0; i < actions.length; i++) {
    const action = actions[i];
    // Each action's spelling starts with its own letter ("{" for the general form).
    if (action.type === "output" && keyCount(action) === 2) text += `o${action.port};`;
    else if (action.type === "set" && isPlainSet(action)) {
      text += `s${action.masked ? 1 : 0}${nonZeroWords(action.key)}/${nonZeroWords(action.mask)};`;
    } else text += `${canonicalValue(action)};`;
  }
  return text;
}

/** The canonical spelling of a JSON-like value that may hold typed arrays. */
function canonicalValue(value: unknown): string {
  switch (typeof value) {
    case "number":
      return `${value}`;
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "t" : "f";
    case "undefined":
      return "u";
    case "bigint":
      return `${value}n`;
    case "object":
      break;
    default:
      return JSON.stringify(String(value));
  }
  if (value === null) return "null";
  if (Array.isArray(value)) {
    let text = "[";
    for (let i = 0; i < value.length; i++) text += `${canonicalValue(value[i])},`;
    return `${text}]`;
  }
  if (value instanceof Uint32Array) return `w${nonZeroWords(value)}`;
  if (value instanceof Uint8Array) return `b${nonZeroWords(value)}`;
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name}<${Array.from(value as unknown as ArrayLike<number>)}>`;
  }
  let text = "{";
  for (const key in value) {
    text += `${JSON.stringify(key)}:${canonicalValue((value as Record<string, unknown>)[key])},`;
  }
  return `${text}}`;
}

/** True for a set action with exactly its four own fields (so the short spelling is exact). */
function isPlainSet(action: SetAction): boolean {
  return keyCount(action) === 4 && action.key instanceof Uint32Array &&
    action.mask instanceof Uint32Array && typeof action.masked === "boolean";
}

/** Number of enumerable keys (the short spellings are exact only for actions without extras). */
function keyCount(action: object): number {
  let n = 0;
  for (const _ in action) n++;
  return n;
}

/** `<index=value,...>` for every non-zero element (values in hex), with the length. */
function nonZeroWords(words: Uint32Array | Uint8Array): string {
  let text = `${words.length}<`;
  for (let i = 0; i < words.length; i++) {
    if (words[i] !== 0) text += `${i}=${words[i].toString(16)},`;
  }
  return `${text}>`;
}
