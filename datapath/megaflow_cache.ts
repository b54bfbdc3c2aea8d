/**
 * The megaflow classifier's signature cache (OVS's SMC, `smc-enable`): a
 * 4-way set-associative table from the hash of a packet's key, over the
 * words that any subtable masks, to where the flow that packet found last
 * sits: its subtable id and bucket.
 *
 * Why: tuple-space search probes subtables one after another; with 10
 * masks and traffic spread evenly a hit costs 5.5 subtable probes (a hash
 * and a table read each). A cache hit costs one hash and one probe (the
 * flow's own bucket, to verify: two cache lines in all, as the entry names
 * the bucket rather than the slot). Unlike the exact-match cache, an entry
 * is 8 bytes (32 per flow) and is keyed only by the masked words, so it holds every flow
 * of a large table (packets that differ outside every mask share an entry).
 * Why 4 ways: direct-mapped, about a quarter of the flows shared an entry
 * with another and, visited in turn, evicted each other (2.2 subtable
 * probes per hit at 10 masks instead of about 1).
 *
 * Entries are hints, never trusted: the classifier verifies the packet
 * against the masked key in the named bucket before answering, so a
 * removed, moved, replaced or colliding entry costs a full search and
 * nothing else. There is therefore no invalidation on remove.
 *
 * Layout: one Int32Array of sets of 4 entries (32 bytes, half a cache
 * line); entry `e` of set `s` at `8s + 2e` (signature: hash | 1, 0 when
 * empty) and `8s + 2e + 1` (reference: `bucket << 8 | subtable id`). Only
 * subtables with ids below {@linkcode MAX_CACHED_SUBTABLES} are cached.
 *
 * @module
 */

import { USED_WORDS } from "./flow_key.ts";

/** Fewest entries of an enabled cache. */
const MIN_ENTRIES = 1024;
/**
 * Entries per flow the cache grows to. Flows land in sets of 4 at random,
 * so with 2 per flow (2 flows per set on average) 5% of the sets overflow
 * and their flows evict each other when visited in turn (1893 of 2000
 * repeat lookups hit in tests/megaflow_test.ts); with 4, 0.4% do.
 */
const ENTRIES_PER_FLOW = 4;
/** Subtable ids that fit in a reference; flows of others are not cached. */
export const MAX_CACHED_SUBTABLES = 256;
/** Largest bucket index a reference holds. */
const MAX_CACHED_BUCKET = (1 << 23) - 1;

/** Set-associative cache from packet-key hash to (subtable id, bucket). */
export class MegaflowCache {
  /** Most entries the cache grows to (a power of two), 0 when disabled. */
  readonly maxEntries: number;
  /** Word indices any subtable masks, ascending. */
  private words = new Int32Array(0);
  /** OR of the masks of every subtable, per word of `words`. */
  private maskValues = new Uint32Array(0);
  private wordCount = 0;
  /** Sets of 4 (signature, reference) pairs. */
  private entries: Int32Array;
  /** Set count minus one. */
  private setMask: number;

  /**
   * Creates a cache that grows up to `maxEntries` (rounded up to a power of
   * two, at least 1024; 0 disables the cache: {@linkcode enabled} is false).
   * Throws RangeError past 2^24.
   */
  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0 || maxEntries > 1 << 24) {
      throw new RangeError(
        `megaflow cache entries must be an integer in 0..2^24, got ${maxEntries}`,
      );
    }
    let n = maxEntries === 0 ? 0 : MIN_ENTRIES;
    while (n < maxEntries) n *= 2;
    this.maxEntries = n;
    const first = Math.min(n, MIN_ENTRIES);
    this.entries = new Int32Array(first * 2);
    this.setMask = Math.max(1, first >> 2) - 1;
  }

  /** True when the cache is in use. */
  get enabled(): boolean {
    return this.maxEntries > 0;
  }

  /** Number of entries now. */
  get size(): number {
    return this.entries.length >> 1;
  }

  /**
   * Sets the words the cache hashes: the OR of every subtable's mask
   * (`union`, KEY_WORDS words). Empties the cache when they change.
   */
  setMaskUnion(union: Uint32Array): void {
    let n = 0;
    let same = true;
    for (let w = 0; w < USED_WORDS; w++) {
      if (union[w] === 0) continue;
      if (n >= this.wordCount || this.words[n] !== w || this.maskValues[n] !== union[w]) {
        same = false;
      }
      n++;
    }
    if (same && n === this.wordCount) return;
    this.words = new Int32Array(n);
    this.maskValues = new Uint32Array(n);
    n = 0;
    for (let w = 0; w < USED_WORDS; w++) {
      if (union[w] === 0) continue;
      this.words[n] = w;
      this.maskValues[n] = union[w];
      n++;
    }
    this.wordCount = n;
    this.entries.fill(0);
  }

  /**
   * Grows (emptied) to at least {@linkcode ENTRIES_PER_FLOW} entries per
   * flow, up to the maximum, so a small table keeps a small cache.
   */
  fitFlows(flows: number): void {
    const size = this.size;
    const want = flows * ENTRIES_PER_FLOW;
    if (want <= size || size >= this.maxEntries) return;
    let n = size;
    while (n < want && n < this.maxEntries) n *= 2;
    this.entries = new Int32Array(n * 2);
    this.setMask = (n >> 2) - 1;
  }

  /** Signature of a packet key over the cached words (never 0). Fast path. */
  hashKey(keys: Uint32Array, keyOffset: number): number {
    const words = this.words;
    const maskValues = this.maskValues;
    let h = 0x2545f491;
    for (let i = 0; i < this.wordCount; i++) {
      // Odd per-position multipliers: independent products, one add chain.
      const k = keys[keyOffset + words[i]] & maskValues[i];
      h = (h + Math.imul(k, 0x9e3779b1 + (i << 1))) | 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h | 1;
  }

  /**
   * The reference cached for a signature (`bucket << 8 | subtable id`), or
   * -1. Fast path.
   */
  refFor(sig: number): number {
    const entries = this.entries;
    const set = ((sig >>> 1) & this.setMask) << 3;
    if (entries[set] === sig) return entries[set + 1];
    if (entries[set + 2] === sig) return entries[set + 3];
    if (entries[set + 4] === sig) return entries[set + 5];
    if (entries[set + 6] === sig) return entries[set + 7];
    return -1;
  }

  /**
   * Caches where the flow for a signature sits (in the signature's entry,
   * else an empty one, else the way the signature's high bits pick). Does
   * nothing for a subtable id or bucket a reference cannot hold. Fast path.
   */
  store(sig: number, subtableId: number, bucket: number): void {
    if (subtableId >= MAX_CACHED_SUBTABLES || bucket > MAX_CACHED_BUCKET) return;
    const entries = this.entries;
    const set = ((sig >>> 1) & this.setMask) << 3;
    let e = set + ((sig >>> 29) & 3) * 2;
    for (let way = 0; way < 8; way += 2) {
      const s = entries[set + way];
      if (s === sig || s === 0) {
        e = set + way;
        break;
      }
    }
    entries[e] = sig;
    entries[e + 1] = (bucket << 8) | subtableId;
  }

  /** Empties the cache. */
  clear(): void {
    this.entries.fill(0);
  }

  /** Bytes of typed-array storage held. */
  byteSize(): number {
    return this.entries.byteLength;
  }
}
