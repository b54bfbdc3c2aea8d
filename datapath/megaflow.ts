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
 * In front of the search sits a signature cache ({@linkcode MegaflowCache},
 * OVS's SMC): the hash of the packet over every masked word names the flow
 * that packet's twins found last, verified in one probe of that flow's
 * subtable. It turns the 5.5 probes per hit of 10 evenly used masks into
 * about one.
 *
 * What it bought, M lookups/s one key at a time, by CPU time (the 2-vCPU
 * EPYC was shared and loaded, so wall-clock rates varied 2x), median of 3
 * runs, 2026-11-23, /tmp A/B of the previous code against this one on the
 * flows of bench/megaflow_masks_bench.ts (visited round robin, every
 * subtable hit equally: the worst case for ranking):
 *
 * | flows, masks | before | now  | now, cache off | probes/hit now |
 * |--------------|--------|------|----------------|----------------|
 * | 10k, 1       | 21.7   | 23.6 | 18.9           | 1.00           |
 * | 10k, 4       | 9.3    | 11.2 | 8.2            | 1.02           |
 * | 10k, 10      | 4.6    | 14.9 | 4.6            | 1.06           |
 * | 10k, 16      | 3.0    | 15.5 | 3.0            | 1.10           |
 * | 10k, 64      | 0.72   | 13.5 | 0.72           | 1.41           |
 * | 100k, 1      | 6.0    | 5.6  | 5.5            | 1.00           |
 * | 100k, 4      | 3.9    | 3.0  | 3.1            | 1.13           |
 * | 100k, 10     | 2.9    | 2.8  | 2.4            | 1.39           |
 * | 100k, 16     | 1.2    | 2.8  | 1.0            | 1.65           |
 * | 100k, 64     | 0.45   | 2.5  | 0.28           | 3.73           |
 *
 * (probes/hit include the first, cold pass over the flows.) At 100,000
 * flows the tables (about 4.5 MB) and the cache (4 MB) no longer fit the
 * caches, a cache hit costs two misses to memory and the cache only pays
 * from about 16 masks on; below that the figures are within the noise of
 * the shared machine.
 *
 * @module
 */

import { DpifError } from "./errors.ts";
import { KEY_SHIFT, KEY_WORDS, USED_WORDS } from "./flow_key.ts";
import { MegaflowSubtable } from "./megaflow_subtable.ts";
import { MegaflowCache } from "./megaflow_cache.ts";

/** Lookups between two re-rankings of the subtables. */
export const RERANK_INTERVAL = 8192;

/**
 * Default most entries of the signature cache (8 bytes each: 32 MiB, 32
 * bytes per flow at 1,000,000 flows; it grows with the flows).
 */
export const DEFAULT_CACHE_ENTRIES = 1 << 22;

/**
 * Fewest subtables for which lookups go through the signature cache. With
 * one subtable a probe of it costs what a cache probe costs, so the cache
 * would only add its hash (10,000 flows, 1 mask: 23 M lookups/s without,
 * 13 with).
 */
export const CACHE_MIN_MASKS = 2;

/** Options of {@linkcode Megaflow}. */
export interface MegaflowOptions {
  /**
   * Most entries of the signature cache, which grows to four per flow
   * (default {@linkcode DEFAULT_CACHE_ENTRIES}; 0 turns the cache off).
   */
  cacheEntries?: number;
}

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
  /** Hits answered by the signature cache (also counted in `hits`, one probe each). */
  cacheHits = 0;

  /** Subtables in lookup order (most hit first). */
  private order: MegaflowSubtable[] = [];
  /** Subtables by id; null for a free id. */
  private subtables: (MegaflowSubtable | null)[] = [];
  /**
   * Subtables by a hash of their mask (slow path: puts). Replaces a scan
   * comparing the 58 words of every mask, and a text key per put, that
   * cost about 1 µs of each put at 10 masks.
   */
  private byMask = new Map<number, MegaflowSubtable[]>();
  /**
   * Subtable id + 1 of each slot, 0 when the slot is not in the classifier
   * (so a fresh, never touched array needs no fill and costs no memory).
   */
  private slotSubtable: Int32Array;
  /** Bucket of each slot inside its subtable. */
  private slotPos: Int32Array;
  private untilRerank = RERANK_INTERVAL;
  private flows = 0;
  private readonly cache: MegaflowCache;
  /**
   * True while the cache is enabled and there are at least
   * {@linkcode CACHE_MIN_MASKS} subtables (a flag keeps the fast path one branch).
   */
  private cacheOn = false;
  /** Signatures of the keys of a batch in the signature cache. */
  private readonly batchSigs = new Int32Array(32);
  /** Signature cache references of the keys of a batch. */
  private readonly batchRefs = new Int32Array(32);
  /** Where touchBuckets leaves what it read (so the reads stay). */
  private touchSink = 0;

  /**
   * Creates an empty classifier; slot arrays start at `initialSlots` and
   * grow. Pages of those arrays cost memory only once touched, so a table
   * can size them for its maximum up front.
   */
  constructor(initialSlots = 1024, options: MegaflowOptions = {}) {
    const n = Math.max(16, initialSlots | 0);
    this.slotSubtable = new Int32Array(n);
    this.slotPos = new Int32Array(n);
    this.cache = new MegaflowCache(options.cacheEntries ?? DEFAULT_CACHE_ENTRIES);
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
    const existing = this.insertUnique(slot, key, keyOffset, mask, maskOffset);
    if (existing >= 0) {
      throw new DpifError("EEXIST", `an identical megaflow exists in slot ${existing}`);
    }
  }

  /**
   * Adds flow `slot` as {@linkcode insert} does, unless a flow with the same
   * masked key and mask exists: then adds nothing and returns that flow's
   * slot. Returns -1 when it added the flow. Throws RangeError for a bad
   * or already used slot. One subtable search where find + insert take two.
   */
  insertUnique(
    slot: number,
    key: Uint32Array,
    keyOffset: number,
    mask: Uint32Array,
    maskOffset: number,
  ): number {
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
    if (existing >= 0) return existing;
    if (st === undefined) st = this.newSubtable(mask, maskOffset);
    st.insert(slot, key, keyOffset, this.slotPos);
    this.slotSubtable[slot] = st.id + 1;
    this.flows++;
    if (this.cache.enabled) this.cache.fitFlows(this.flows);
    return -1;
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
    let sig = 0;
    if (this.cacheOn) {
      sig = this.cache.hashKey(keys, keyOffset);
      const cached = this.cachedSlot(this.cache.refFor(sig), keys, keyOffset);
      if (cached >= 0) return cached;
    }
    const order = this.order;
    for (let i = 0; i < order.length; i++) {
      const st = order[i];
      const b = st.lookupBucket(keys, keyOffset);
      if (b >= 0) {
        st.hits++;
        this.hits++;
        this.maskHits += i + 1;
        if (this.cacheOn) this.cache.store(sig, st.id, b);
        return st.table[b * st.stride + 1];
      }
    }
    this.misses++;
    return -1;
  }

  /**
   * The slot of the flow a signature cache reference (`bucket << 8 | id`, or
   * -1) names when it matches the key, counting the hit; else -1. The
   * reference is only a hint: the bucket may have moved or emptied. Fast path.
   */
  private cachedSlot(ref: number, keys: Uint32Array, keyOffset: number): number {
    if (ref < 0) return -1;
    const st = this.subtables[ref & 0xff];
    if (st === undefined || st === null) return -1;
    const b = ref >>> 8;
    const slot = st.slotAt(b);
    if (slot < 0 || !st.matchesAt(b, keys, keyOffset)) return -1;
    st.hits++;
    this.hits++;
    this.cacheHits++;
    this.maskHits++;
    return slot;
  }

  /**
   * Reads the first word of the bucket each cache reference of the keys in
   * `asked` names, so that the cache-line misses of all of them are in
   * flight at once before the verify pass (which then hits). Fast path.
   *
   * Why: verifying a cache hit reads the flow's bucket, a miss to L3 or
   * memory once the tables outgrow L2 (10 subtables of 10,000 flows are
   * 5.9 MB, the cache 4 MB). The verify pass does some 60 instructions per
   * key before the next key's read, so the CPU had only 2 or 3 of those
   * misses in flight; this loop, a few instructions per key, has them all.
   * The PMD profile of case (2) at 100,000 flows had the first bucket read
   * (slotAt) as its largest item, 13.5%. What it bought: lookupBatch at
   * 100,000 flows over 10 masks 185 -> 109 ns a lookup, at 10,000 flows
   * 45 -> 40 (CPU time, bench/megaflow_masks_bench.ts's flows, medians of
   * 3 alternated runs); matrix case (2) on the PMD 470 -> 359 ns a packet
   * at 100,000 flows, 238 -> 238 at 10,000 (CPU ns per packet, /tmp A/B,
   * medians of 4 alternated runs, 2026-11-23; a first series gave 454 ->
   * 337 and 221 -> 222).
   *
   * Tried without gain (same measures, so not kept): also touching a
   * bucket's last word (buckets are 36 bytes and may straddle two lines;
   * the adjacent-line prefetch seems to fetch the pair); 64-byte aligned
   * cache sets; 8-way sets at 2 entries per flow (half the cache's memory);
   * huge pages (madvise) for the cache; an interleaved (word, mask,
   * multiplier) array for the cache hash and slotAt + matchesAt in one
   * call; reading the hit flows' stats ahead in the pipeline; and for the
   * subtable-by-subtable search, hashing the batch and reading its home
   * buckets first (143 against 199 ns a lookup at 100,000 flows over one
   * mask without the cache, but 213 against 198 at 10,000 flows over 10,
   * and no gain on the PMD for 100,000 exact-match flows).
   */
  private touchBuckets(refs: Int32Array, asked: number): void {
    const subtables = this.subtables;
    let sink = 0;
    for (let m = asked; m !== 0; m &= m - 1) {
      const ref = refs[31 - Math.clz32(m & -m)];
      if (ref < 0) continue;
      const st = subtables[ref & 0xff];
      if (st === undefined || st === null) continue;
      const stride = st.stride;
      const at = Math.imul(ref >>> 8, stride);
      const table = st.table;
      if (at < table.length) sink ^= table[at];
    }
    this.touchSink = sink;
  }

  /**
   * Looks up `count` (at most 32) keys laid out at `i * KEY_WORDS` (as a
   * batch keeps them), writing each slot or -1 to `outSlots[i]`. Probes
   * subtable by subtable for the keys still unmatched, as OVS's
   * dpcls_lookup; each key gets the same answer as `lookup`. `want`
   * restricts the lookup to the keys whose bit is set (bit i for key i); the
   * other entries of `outSlots` are left alone. Fast path.
   */
  lookupBatch(keys: Uint32Array, count: number, outSlots: Int32Array, want = -1): void {
    let remaining = (count >= 32 ? -1 : (1 << count) - 1) & want;
    let wanted = 0;
    for (let m = remaining; m !== 0; m &= m - 1) {
      outSlots[31 - Math.clz32(m & -m)] = -1;
      wanted++;
    }
    this.untilRerank -= wanted;
    if (this.untilRerank <= 0) this.rerank();
    const order = this.order;
    const sigs = this.batchSigs;
    const cacheOn = this.cacheOn;
    if (cacheOn) {
      // In phases (hash all, read all cache entries, then verify all) so
      // that the cache-line misses of different keys overlap instead of
      // waiting on each other: at 100,000 flows a hit costs two misses to
      // memory, and these phases took lookupBatch from 2.8 to 4.6 M
      // lookups/s there (10 masks, by CPU time, medians of 3; unchanged
      // within noise at 10,000 flows). touchBuckets between the cache read
      // and the verify does the same for the flows' buckets.
      const refs = this.batchRefs;
      const asked = remaining;
      for (let m = asked; m !== 0; m &= m - 1) {
        const i = 31 - Math.clz32(m & -m);
        sigs[i] = this.cache.hashKey(keys, i << KEY_SHIFT);
      }
      for (let m = asked; m !== 0; m &= m - 1) {
        const i = 31 - Math.clz32(m & -m);
        refs[i] = this.cache.refFor(sigs[i]);
      }
      this.touchBuckets(refs, asked);
      for (let m = asked; m !== 0; m &= m - 1) {
        const i = 31 - Math.clz32(m & -m);
        const cached = this.cachedSlot(refs[i], keys, i << KEY_SHIFT);
        if (cached >= 0) {
          outSlots[i] = cached;
          remaining &= ~(1 << i);
        }
      }
    }
    for (let s = 0; s < order.length && remaining !== 0; s++) {
      const st = order[s];
      let m = remaining;
      while (m !== 0) {
        const i = 31 - Math.clz32(m & -m);
        m &= m - 1;
        const b = st.lookupBucket(keys, i << KEY_SHIFT);
        if (b >= 0) {
          outSlots[i] = st.table[b * st.stride + 1];
          remaining &= ~(1 << i);
          if (cacheOn) this.cache.store(sigs[i], st.id, b);
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
    this.slotSubtable.fill(0);
    this.flows = 0;
    this.cache.clear();
    this.updateCacheWords();
  }

  /** Bytes of typed-array storage held (subtables and slot arrays). */
  byteSize(): number {
    let bytes = this.slotSubtable.byteLength + this.slotPos.byteLength + this.cache.byteSize();
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

  /** The subtable of a mask, if any (slow path). */
  private subtableByMask(mask: Uint32Array, maskOffset: number): MegaflowSubtable | undefined {
    const list = this.byMask.get(maskHash(mask, maskOffset));
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      if (list[i].hasMask(mask, maskOffset)) return list[i];
    }
    return undefined;
  }

  private newSubtable(mask: Uint32Array, maskOffset: number): MegaflowSubtable {
    let id = this.subtables.indexOf(null);
    if (id < 0) id = this.subtables.length;
    const st = new MegaflowSubtable(id, mask, maskOffset);
    this.subtables[id] = st;
    const h = maskHash(mask, maskOffset);
    const list = this.byMask.get(h);
    if (list === undefined) this.byMask.set(h, [st]);
    else list.push(st);
    this.order.push(st);
    this.updateCacheWords();
    return st;
  }

  private dropSubtable(st: MegaflowSubtable): void {
    this.subtables[st.id] = null;
    const mask = new Uint32Array(KEY_WORDS);
    st.readMask(mask, 0);
    const h = maskHash(mask, 0);
    const list = this.byMask.get(h)!;
    if (list.length === 1) this.byMask.delete(h);
    else list.splice(list.indexOf(st), 1);
    this.order.splice(this.order.indexOf(st), 1);
    this.updateCacheWords();
  }

  /** Points the signature cache at the OR of all masks (slow path: masks come and go rarely). */
  private updateCacheWords(): void {
    this.cacheOn = this.cache.enabled && this.order.length >= CACHE_MIN_MASKS;
    if (!this.cacheOn) return;
    const union = new Uint32Array(KEY_WORDS);
    for (const st of this.order) {
      for (let i = 0; i < st.wordCount; i++) union[st.words[i]] |= st.maskValues[i];
    }
    this.cache.setMaskUnion(union);
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

/**
 * A hash of a mask's used words, the subtable index key (slow path: every
 * insert). Mixes only the non-zero words, with their index: most words of a
 * mask are zero, and the serial multiply per word was 0.1 µs of a flow put
 * (bench/flow_setup_bench.ts).
 */
function maskHash(mask: Uint32Array, maskOffset: number): number {
  let h = 0x811c9dc5;
  for (let w = 0; w < USED_WORDS; w++) {
    const m = mask[maskOffset + w];
    if (m === 0) continue;
    h = Math.imul(h ^ w, 0x01000193);
    h = Math.imul(h ^ m, 0x01000193);
    h ^= h >>> 15;
  }
  return h;
}
