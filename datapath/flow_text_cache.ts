/**
 * Cached ODP text of flows, for dumps (`Datapath.dumpFlows`, `GET .../flows`).
 *
 * Why: formatting a match (key_format.ts) and its actions (action_format.ts)
 * was about 80% of a dump's cost, about 29 ms per 1,000 flows, all of it
 * blocking the event loop (profile of 4 dumps of 100,000 flows with
 * `--cpu-prof`: formatFlowKey 21%, formatActions 19%, entryAt's copies 8%
 * of the whole run including installs). A flow's match never changes while
 * it lives, and action lists are interned and immutable once stored, so
 * both texts are formatted once and reused until the flow goes.
 *
 * - Match: per slot, `ufid:..., <match>` in one flat string, tagged with
 *   the slot's generation (flow_table.ts bumps it when the flow is deleted
 *   or flushed, and a modify keeps the match), so a stale entry is never
 *   used. Filled lazily by dumps only: a table never dumped costs nothing;
 *   a dumped one about 16 + 43 + match length bytes per flow, plus 12
 *   bytes per slot for the tag and the array cell.
 * - Actions: per interned action list (a WeakMap on the list itself), so
 *   the text goes away with the list, and a list shared by many flows is
 *   formatted once.
 *
 * What it bought (bench/flow_dump_bench.ts, 100,000 flows over 10 masks,
 * half with set()/tnl_push, CPU ms per 1,000 flows, medians of 3, 2 vCPU
 * shared): Datapath.dumpFlows 31.8 -> 0.7, GET ?format=odp 31.2 -> 1.0,
 * GET ?format=json 27.7 -> 1.7; a cold dump (cache empty) 36 -> 9 with
 * key_format_fast.ts, -> 6.5 reading key and mask into scratch words
 * instead of entryAt's copies. Over HTTP (wrk -t1 -c8, 1,000 flows a page):
 * odp 25 -> 1,712 requests/s, p99 506 -> 10 ms; json 29 -> 882 requests/s,
 * p99 437 -> 26 ms. Memory (bench/flow_dump_memory.ts, 1,000,000 flows,
 * all dumped): +201 bytes per exact 5-tuple flow, +273 per flow with
 * distinct set()/tnl_push lists.
 *
 * @module
 */

import type { Action } from "./action.ts";
import { KEY_WORDS } from "./flow_key.ts";
import type { FlowStats, FlowTable } from "./flow_table.ts";
import { formatActions } from "./odp/action_format.ts";
import { formatFlowKey } from "./odp/key_format.ts";

/** A flow as dumps show it: UFID, ODP match and actions text, stats. */
export interface FlowText {
  /** `ufid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
  ufid: string;
  /** The match as OVS dump-flows prints it. */
  flow: string;
  /** The actions as OVS prints them. */
  actions: string;
  /** Statistics at the time of the dump. */
  stats: FlowStats;
}

/** Length of a UFID's text form (`ufid:` and 36 characters). */
const UFID_TEXT_LENGTH = 41;
/** What separates the UFID from the match in a cached head. */
const HEAD_SEPARATOR = ", ";
const MATCH_START = UFID_TEXT_LENGTH + HEAD_SEPARATOR.length;

const actionTexts = new WeakMap<readonly Action[], string>();

/**
 * Flattens a string built by concatenation, so a cached text costs its
 * characters and not a tree of pieces (ToNumber flattens in V8).
 */
function flat(text: string): string {
  Number(text);
  return text;
}

/**
 * The ODP text of an interned action list (stored in a flow table, thus
 * never mutated), formatted once per list.
 */
export function cachedActionsText(actions: readonly Action[]): string {
  let text = actionTexts.get(actions);
  if (text === undefined) {
    text = flat(formatActions(actions));
    actionTexts.set(actions, text);
  }
  return text;
}

/** The match texts of one flow table's slots, filled lazily by dumps. */
export class FlowTextCache {
  /** The table whose flows are cached. */
  readonly table: FlowTable;
  /** `ufid:..., <match>` per slot ("" when not cached). */
  private heads: string[] = [];
  /** The generation each head was made at. */
  private generations = new Uint32Array(0);
  /** Key then mask of the flow being formatted. */
  private readonly scratch = new Uint32Array(2 * KEY_WORDS);

  /** An empty cache of `table`'s flows. */
  constructor(table: FlowTable) {
    this.table = table;
  }

  /** Number of slots that hold a cached text (live or stale). */
  get cachedCount(): number {
    let n = 0;
    for (const head of this.heads) if (head !== "") n++;
    return n;
  }

  /**
   * `ufid:..., <match>` of the live flow in `slot`, from the cache when the
   * slot's generation is unchanged, else formatted and cached. Null when
   * the slot holds no flow.
   */
  headOf(slot: number): string | null {
    const table = this.table;
    if (!table.isLive(slot)) return null;
    const generation = table.generation[slot];
    if (slot < this.heads.length) {
      const head = this.heads[slot];
      if (head !== "" && this.generations[slot] === generation) return head;
    }
    const words = this.scratch;
    table.megaflow.readKey(slot, words, 0);
    table.megaflow.readMask(slot, words, KEY_WORDS);
    const ufid = table.ufidTextOf(slot);
    const head = flat(ufid + HEAD_SEPARATOR + formatFlowKey(words, words, 0, KEY_WORDS));
    if (ufid.length !== UFID_TEXT_LENGTH) return head; // not our layout: do not cache
    this.reserve(slot);
    this.heads[slot] = head;
    this.generations[slot] = generation;
    return head;
  }

  /** The dump view of the live flow in `slot`, or null when the slot holds no flow. */
  textOf(slot: number): FlowText | null {
    const head = this.headOf(slot);
    if (head === null) return null;
    const table = this.table;
    return {
      ufid: head.slice(0, UFID_TEXT_LENGTH),
      flow: head.slice(MATCH_START),
      actions: cachedActionsText(table.actionsOf(slot)),
      stats: table.stats(slot),
    };
  }

  /** Forgets every cached text. */
  clear(): void {
    this.heads = [];
    this.generations = new Uint32Array(0);
  }

  private reserve(slot: number): void {
    const heads = this.heads;
    if (slot < heads.length) return;
    const size = Math.min(
      Math.max(slot + 1, heads.length * 2, 1024),
      Math.max(this.table.maxFlows, slot + 1),
    );
    while (heads.length < size) heads.push("");
    const generations = new Uint32Array(size);
    generations.set(this.generations);
    this.generations = generations;
  }
}

const caches = new WeakMap<FlowTable, FlowTextCache>();

/** The text cache of `table` (one per table, made on first use). */
export function flowTextCache(table: FlowTable): FlowTextCache {
  let cache = caches.get(table);
  if (cache === undefined) {
    cache = new FlowTextCache(table);
    caches.set(table, cache);
  }
  return cache;
}
