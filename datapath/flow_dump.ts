/**
 * Dumping the flow table, as `dpif_flow_dump` / `dpif_flow_dump_thread`
 * (Open vSwitch lib/dpif.h).
 *
 * A {@linkcode FlowDump} is the shared state of one dump: the next slot to
 * scan. Any number of readers ({@linkcode FlowDumpThread}) can take from it;
 * each fetch claims the next slots, so every flow goes to one reader only.
 * Several dumps can run at once, and the table can change meanwhile: a dump
 * may then miss or repeat a flow, but every flow it returns is a consistent
 * copy (key, mask, actions and stats copied at fetch time).
 *
 * {@linkcode dumpPage} is the stateless form for REST paging: an opaque
 * cursor string says where the next page starts. {@linkcode dumpTextPage}
 * is the same page as ODP text, from the per-flow text cache
 * (flow_text_cache.ts), without copying keys and masks.
 *
 * @module
 */

import type { FlowEntry, FlowTable } from "./flow_table.ts";
import { type FlowText, flowTextCache } from "./flow_text_cache.ts";

/** Flows a reader copies per fetch (OVS's FLOW_DUMP_MAX_BATCH). */
export const FLOW_DUMP_CHUNK = 50;
/** Largest page {@linkcode dumpPage} returns. */
export const DUMP_PAGE_MAX = 10_000;

const CURSOR_PREFIX = "fd1:";

/** The shared state of one dump of a flow table. */
export class FlowDump {
  /** The table being dumped. */
  readonly table: FlowTable;
  private nextSlot = 0;

  /** Starts a dump of `table` at its first slot. */
  constructor(table: FlowTable) {
    this.table = table;
  }

  /** True once every slot has been claimed by some reader. */
  get done(): boolean {
    return this.nextSlot >= this.table.slotLimit;
  }

  /** Creates a new reader of this dump. */
  thread(): FlowDumpThread {
    return new FlowDumpThread(this);
  }

  /**
   * Claims slots from the shared position and copies up to `max` flows
   * into `out`. Returns how many were added (0 when the dump is over).
   */
  fetch(out: FlowEntry[], max: number): number {
    let added = 0;
    while (added < max && this.nextSlot < this.table.slotLimit) {
      const entry = this.table.entryAt(this.nextSlot++);
      if (entry !== null) {
        out.push(entry);
        added++;
      }
    }
    return added;
  }
}

/** One reader of a {@linkcode FlowDump}, with its own fetched chunk and position in it. */
export class FlowDumpThread {
  /** The dump this reader takes from. */
  readonly dump: FlowDump;
  private chunk: FlowEntry[] = [];
  private index = 0;

  /** Creates a reader of `dump` (same as `dump.thread()`). */
  constructor(dump: FlowDump) {
    this.dump = dump;
  }

  /** The next flow for this reader, or null when the dump is over. */
  next(): FlowEntry | null {
    if (this.index >= this.chunk.length) {
      this.chunk = [];
      this.index = 0;
      if (this.dump.fetch(this.chunk, FLOW_DUMP_CHUNK) === 0) return null;
    }
    return this.chunk[this.index++];
  }

  /** Up to `max` next flows for this reader (empty when the dump is over). */
  nextBatch(max: number = FLOW_DUMP_CHUNK): FlowEntry[] {
    const out: FlowEntry[] = [];
    while (out.length < max) {
      const entry = this.next();
      if (entry === null) break;
      out.push(entry);
    }
    return out;
  }
}

/** One page of a paged dump. */
export interface FlowPage {
  /** The flows of this page (copies). */
  flows: FlowEntry[];
  /** Cursor of the next page, or null when this was the last. */
  next: string | null;
}

/**
 * Returns up to `limit` flows starting at `cursor` (null for the first
 * page) and the cursor of the next page. Stateless: a flow changed between
 * pages may be missed or repeated. Throws TypeError for a cursor this
 * function did not make, RangeError for a limit outside 1..DUMP_PAGE_MAX.
 */
export function dumpPage(table: FlowTable, cursor: string | null, limit: number): FlowPage {
  if (!Number.isInteger(limit) || limit < 1 || limit > DUMP_PAGE_MAX) {
    throw new RangeError(`page limit must be an integer in 1..${DUMP_PAGE_MAX}, got ${limit}`);
  }
  let slot = cursor === null ? 0 : decodeCursor(cursor);
  const flows: FlowEntry[] = [];
  const end = table.slotLimit;
  while (flows.length < limit && slot < end) {
    const entry = table.entryAt(slot++);
    if (entry !== null) flows.push(entry);
  }
  while (slot < end && !table.isLive(slot)) slot++;
  return { flows, next: slot < end ? encodeCursor(slot) : null };
}

/** One page of a paged dump as ODP text. */
export interface FlowTextPage {
  /** The flows of this page. */
  flows: FlowText[];
  /** Cursor of the next page, or null when this was the last. */
  next: string | null;
}

/**
 * {@linkcode dumpPage} with each flow as ODP text (cached per flow, see
 * flow_text_cache.ts): same flows, same cursors, same errors.
 */
export function dumpTextPage(
  table: FlowTable,
  cursor: string | null,
  limit: number,
): FlowTextPage {
  if (!Number.isInteger(limit) || limit < 1 || limit > DUMP_PAGE_MAX) {
    throw new RangeError(`page limit must be an integer in 1..${DUMP_PAGE_MAX}, got ${limit}`);
  }
  const cache = flowTextCache(table);
  let slot = cursor === null ? 0 : decodeCursor(cursor);
  const flows: FlowText[] = [];
  const end = table.slotLimit;
  while (flows.length < limit && slot < end) {
    const text = cache.textOf(slot++);
    if (text !== null) flows.push(text);
  }
  while (slot < end && !table.isLive(slot)) slot++;
  return { flows, next: slot < end ? encodeCursor(slot) : null };
}

function encodeCursor(slot: number): string {
  return btoa(CURSOR_PREFIX + slot.toString(36)).replace(/=+$/, "");
}

function decodeCursor(cursor: string): number {
  if (typeof cursor !== "string" || !/^[A-Za-z0-9+/]{1,32}$/.test(cursor)) {
    throw new TypeError(`bad flow dump cursor '${String(cursor)}'`);
  }
  let text: string;
  try {
    text = atob(cursor + "=".repeat((4 - cursor.length % 4) % 4));
  } catch (cause) {
    throw new TypeError(`bad flow dump cursor '${cursor}'`, { cause });
  }
  const digits = text.slice(CURSOR_PREFIX.length);
  if (!text.startsWith(CURSOR_PREFIX) || !/^[0-9a-z]{1,6}$/.test(digits)) {
    throw new TypeError(`bad flow dump cursor '${cursor}'`);
  }
  return parseInt(digits, 36);
}
