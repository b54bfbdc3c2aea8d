/**
 * The megaflow classifier: tuple-space search over wildcarded flows, as
 * Open vSwitch's `dpcls`. Flows with the same mask share a subtable
 * ({@linkcode MegaflowSubtable}); a lookup probes the subtables one by one,
 * most-hit first, and returns the first match.
 *
 * Flows are named by integer slots that the caller (the flow table)
 * allocates. Overlapping flows (two flows that can match one packet) are
 * allowed; which of them a packet finds is then unspecified, as in OVS.
 *
 * Ranking: subtables are re-sorted by hits every {@linkcode RERANK_INTERVAL}
 * lookups (OVS re-sorts once a second), and hit counts then halve so the
 * order follows recent traffic.
 *
 * @module
 */

import { DpifError } from "./errors.ts";
import { KEY_SHIFT, KEY_WORDS, USED_WORDS } from "./flow_key.ts";
import { MegaflowSubtable } from "./megaflow_subtable.ts";

/** Up to this many masks, a put finds its subtable by comparing masks (no string). */
const SCAN_MASKS = 16;

/** Lookups between two re-rankings of the subtables. */
export const RERANK_INTERVAL = 8192;

/**
 * What the exact-match cache, the megaflow classifier and the flow table
 * all answer: the slot of a flow matching a packet key, or -1.
 * `maps[mapOffset..+1]` tells which words of the key may be non-zero (see
 * datapath/flow_key.ts); implementations that do not need it ignore it.
 */
export interface FlowLookup {
  /** Returns the slot of a flow that matches the key at `keyOffset`, or -1. */
  lookup(keys: Uint32Array, keyOffset: number, maps: Uint32Array, mapOffset: number): number;
}

/** Tuple-space-search classifier over flows named by slot. */
export class Megaflow implements FlowLookup {
  /** Sum over hits of the number of subtables probed to find them (OVS n_mask_hit). */
  maskHits = 0;
  /** Lookups that found a flow. */
  hits = 0;
  /** Lookups that found none. */
  misses = 0;

  /** Subtables in lookup order (most hit first). */
  private order: MegaflowSubtable[] = [];
  /** Subtables by id; null for a free id. */
  private subtables: (MegaflowSubtable | null)[] = [];
  /** Subtable of each mask, keyed by the mask's text (slow path only). */
  private byMask = new Map<string, MegaflowSubtable>();
  /**
   * Subtable id + 1 of each slot, 0 when the slot is not in the classifier
   * (so a fresh, never touched array needs no fill and costs no memory).
   */
  private slotSubtable: Int32Array;
  /** Bucket of each slot inside its subtable. */
  private slotPos: Int32Array;
  private untilRerank = RERANK_INTERVAL;
  private lastFound: MegaflowSubtable | null = null;
  private flows = 0;

  /**
   * Creates an empty classifier; slot arrays start at `initialSlots` and
   * grow. Pages of those arrays cost memory only once touched, so a table
   * can size them for its maximum up front.
   */
  constructor(initialSlots = 1024) {
    const n = Math.max(16, initialSlots | 0);
    this.slotSubtable = new Int32Array(n);
    this.slotPos = new Int32Array(n);
  }

  /** Number of distinct masks (subtables). */
  get maskCount(): number {
    return this.order.length;
  }

  /** Number of flows. */
  get flowCount(): number {
    return this.flows;
  }

  /**
   * Adds flow `slot` matching `key & mask` (`KEY_WORDS` words each at the
   * given offsets; the key need not be pre-masked). Throws RangeError for a
   * bad or already used slot and DpifError EEXIST when a flow with the same
   * masked key and mask exists.
   */
  insert(slot: number, key: Uint32Array, keyOffset: number, mask: Uint32Array, maskOffset: number) {
    if (!Number.isInteger(slot) || slot < 0 || slot > 0x7fffffff) {
      throw new RangeError(`megaflow slot must be a non-negative integer, got ${slot}`);
    }
    if (key.length < keyOffset + KEY_WORDS || mask.length < maskOffset + KEY_WORDS) {
      throw new RangeError("megaflow key and mask need KEY_WORDS words from their offsets");
    }
    this.ensureSlots(slot + 1);
    if (this.slotSubtable[slot] !== 0) throw new RangeError(`megaflow slot ${slot} is in use`);
    let st = this.subtableByMask(mask, maskOffset);
    const existing = st === undefined ? -1 : st.lookup(key, keyOffset);
    if (existing >= 0) {
      throw new DpifError("EEXIST", `an identical megaflow exists in slot ${existing}`);
    }
    if (st === undefined) st = this.newSubtable(mask, maskOffset);
    st.insert(slot, key, keyOffset, this.slotPos);
    this.slotSubtable[slot] = st.id + 1;
    this.flows++;
  }

  /** Removes flow `slot`; returns false if it was not present. */
  remove(slot: number): boolean {
    if (!(slot >= 0 && slot < this.slotSubtable.length)) return false;
    const id = this.slotSubtable[slot] - 1;
    if (id < 0) return false;
    const st = this.subtables[id]!;
    st.removeBucket(this.slotPos[slot], this.slotPos);
    this.slotSubtable[slot] = 0;
    this.flows--;
    if (st.count === 0) this.dropSubtable(st);
    return true;
  }

  /** True when `slot` holds a flow. */
  has(slot: number): boolean {
    return slot >= 0 && slot < this.slotSubtable.length && this.slotSubtable[slot] !== 0;
  }

  /**
   * Returns the slot of the flow with exactly this mask and masked key, or
   * -1 (slow path: used to detect duplicates).
   */
  find(key: Uint32Array, keyOffset: number, mask: Uint32Array, maskOffset: number): number {
    const st = this.subtableByMask(mask, maskOffset);
    return st === undefined ? -1 : st.lookup(key, keyOffset);
  }

  /**
   * Returns the slot of a flow matching the packet key at `keyOffset`, or -1.
   * `maps` is ignored (masked-out words never matter here). Fast path.
   */
  lookup(keys: Uint32Array, keyOffset: number, _maps?: Uint32Array, _mapOffset?: number): number {
    if (--this.untilRerank === 0) this.rerank();
    const order = this.order;
    for (let i = 0; i < order.length; i++) {
      const st = order[i];
      const slot = st.lookup(keys, keyOffset);
      if (slot >= 0) {
        st.hits++;
        this.hits++;
        this.maskHits += i + 1;
        return slot;
      }
    }
    this.misses++;
    return -1;
  }

  /**
   * Looks up `count` (at most 32) keys laid out at `i * KEY_WORDS` (as a
   * batch keeps them), writing each slot or -1 to `outSlots[i]`. Probes
   * subtable by subtable for the keys still unmatched, as OVS's
   * dpcls_lookup; each key gets the same answer as `lookup`. Fast path.
   */
  lookupBatch(keys: Uint32Array, count: number, outSlots: Int32Array): void {
    this.untilRerank -= count;
    if (this.untilRerank <= 0) this.rerank();
    let remaining = count >= 32 ? -1 : (1 << count) - 1;
    const order = this.order;
    for (let i = 0; i < count; i++) outSlots[i] = -1;
    for (let s = 0; s < order.length && remaining !== 0; s++) {
      const st = order[s];
      let m = remaining;
      while (m !== 0) {
        const i = 31 - Math.clz32(m & -m);
        m &= m - 1;
        const slot = st.lookup(keys, i << KEY_SHIFT);
        if (slot >= 0) {
          outSlots[i] = slot;
          remaining &= ~(1 << i);
          st.hits++;
          this.hits++;
          this.maskHits += s + 1;
        }
      }
    }
    let missed = 0;
    while (remaining !== 0) {
      remaining &= remaining - 1;
      missed++;
    }
    this.misses += missed;
  }

  /** Copies the masked key of `slot` into `out` (zeroing the other words). */
  readKey(slot: number, out: Uint32Array, outOffset: number): void {
    const st = this.subtableOf(slot);
    out.fill(0, outOffset, outOffset + KEY_WORDS);
    st.readKey(this.slotPos[slot], out, outOffset);
  }

  /** Copies the mask of `slot` into `out` (zeroing the other words). */
  readMask(slot: number, out: Uint32Array, outOffset: number): void {
    const st = this.subtableOf(slot);
    out.fill(0, outOffset, outOffset + KEY_WORDS);
    st.readMask(out, outOffset);
  }

  /** Removes every flow and subtable. Counters are kept. */
  clear(): void {
    this.order = [];
    this.subtables = [];
    this.byMask.clear();
    this.lastFound = null;
    this.slotSubtable.fill(0);
    this.flows = 0;
  }

  /** Bytes of typed-array storage held (subtables and slot arrays). */
  byteSize(): number {
    let bytes = this.slotSubtable.byteLength + this.slotPos.byteLength;
    for (const st of this.order) bytes += st.byteSize();
    return bytes;
  }

  /** Re-sorts subtables by hits (insertion sort: no allocation) and halves the hits. */
  rerank(): void {
    this.untilRerank = RERANK_INTERVAL;
    const order = this.order;
    for (let i = 1; i < order.length; i++) {
      const st = order[i];
      let j = i - 1;
      while (j >= 0 && order[j].hits < st.hits) {
        order[j + 1] = order[j];
        j--;
      }
      order[j + 1] = st;
    }
    for (let i = 0; i < order.length; i++) order[i].hits >>>= 1;
  }

  private subtableOf(slot: number): MegaflowSubtable {
    const id = this.has(slot) ? this.slotSubtable[slot] - 1 : -1;
    if (id < 0) throw new RangeError(`megaflow slot ${slot} holds no flow`);
    return this.subtables[id]!;
  }

  /**
   * The subtable of a mask, if any. With few masks, comparing with each is
   * cheaper than building the mask's text; else the last one found is tried
   * first (puts come in runs), then the text index.
   */
  private subtableByMask(mask: Uint32Array, maskOffset: number): MegaflowSubtable | undefined {
    const order = this.order;
    if (order.length <= SCAN_MASKS) {
      for (let i = 0; i < order.length; i++) {
        if (order[i].hasMask(mask, maskOffset)) return order[i];
      }
      return undefined;
    }
    const last = this.lastFound;
    if (last !== null && this.subtables[last.id] === last && last.hasMask(mask, maskOffset)) {
      return last;
    }
    const st = this.byMask.get(maskText(mask, maskOffset));
    if (st !== undefined) this.lastFound = st;
    return st;
  }

  private newSubtable(mask: Uint32Array, maskOffset: number): MegaflowSubtable {
    let id = this.subtables.indexOf(null);
    if (id < 0) id = this.subtables.length;
    const st = new MegaflowSubtable(id, mask, maskOffset);
    this.subtables[id] = st;
    this.byMask.set(maskText(mask, maskOffset), st);
    this.order.push(st);
    this.lastFound = st;
    return st;
  }

  private dropSubtable(st: MegaflowSubtable): void {
    this.subtables[st.id] = null;
    const mask = new Uint32Array(KEY_WORDS);
    st.readMask(mask, 0);
    this.byMask.delete(maskText(mask, 0));
    this.order.splice(this.order.indexOf(st), 1);
  }

  private ensureSlots(n: number): void {
    if (n <= this.slotSubtable.length) return;
    let size = this.slotSubtable.length;
    while (size < n) size *= 2;
    const sub = new Int32Array(size);
    sub.set(this.slotSubtable);
    const pos = new Int32Array(size);
    pos.set(this.slotPos);
    this.slotSubtable = sub;
    this.slotPos = pos;
  }
}

/** The mask as text, the subtable index key (slow path). */
function maskText(mask: Uint32Array, maskOffset: number): string {
  let text = "";
  for (let w = 0; w < USED_WORDS; w++) {
    const m = mask[maskOffset + w];
    if (m !== 0) text += `${w}:${m.toString(16)},`;
  }
  return text;
}
