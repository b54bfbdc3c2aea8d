/**
 * One subtable of the megaflow classifier: every flow that has the same mask
 * (OVS's `struct dpcls_subtable`).
 *
 * The mask is kept once, as the list of words where it is non-zero and
 * their mask values. Flows are kept in an open-addressing hash table with
 * linear probing in one `Uint32Array`: bucket `b` is `stride = wordCount + 2`
 * words at `b * stride`: the hash, the flow's slot + 1 (0 when empty) and
 * the masked key words (only the words of the mask list). Keeping a bucket
 * in one place means one cache miss per probe. Removal shifts later buckets
 * back, so there are no tombstones.
 *
 * A subtable does not own slot numbers: the {@linkcode Megaflow} around it
 * keeps `slotPos` (slot -> bucket), which this class updates whenever it
 * moves a bucket.
 *
 * @module
 */

import { hashMaskedWords } from "./key_hash.ts";
import { USED_WORDS } from "./flow_key.ts";

/** Buckets of a new subtable. A power of two. */
const INITIAL_BUCKETS = 16;
/** Grow when more than 3/4 of the buckets are used (keeps probe chains short). */
const MAX_LOAD_NUMERATOR = 3;
const MAX_LOAD_SHIFT = 2;

/** A hash table of the flows that share one mask. */
export class MegaflowSubtable {
  /** Index of this subtable in its classifier (stable while it exists). */
  readonly id: number;
  /** Word indices where the mask is non-zero, ascending. */
  readonly words: Int32Array;
  /** Mask value of each word in `words`. */
  readonly maskValues: Uint32Array;
  /** Number of mask words (`words.length`). */
  readonly wordCount: number;
  /** Hash seed of this subtable (so different masks spread differently). */
  readonly seed: number;
  /** Words per bucket: hash, slot + 1, then the masked key words. */
  readonly stride: number;
  /** Flows in this subtable. */
  count = 0;
  /** Lookups that hit in this subtable since the last ranking (decays). */
  hits = 0;
  /** Bucket count minus one (bucket count is a power of two). */
  bucketMask = INITIAL_BUCKETS - 1;
  /** The buckets (see the module doc). */
  table: Uint32Array;

  /**
   * Creates an empty subtable for a mask (`KEY_WORDS` words at
   * `maskOffset`). Words past USED_WORDS are ignored (always zero).
   */
  constructor(id: number, mask: Uint32Array, maskOffset: number) {
    this.id = id;
    let n = 0;
    for (let w = 0; w < USED_WORDS; w++) if (mask[maskOffset + w] !== 0) n++;
    this.words = new Int32Array(n);
    this.maskValues = new Uint32Array(n);
    n = 0;
    for (let w = 0; w < USED_WORDS; w++) {
      const m = mask[maskOffset + w];
      if (m !== 0) {
        this.words[n] = w;
        this.maskValues[n] = m;
        n++;
      }
    }
    this.wordCount = n;
    this.seed = Math.imul(id + 1, 0x9e3779b9) | 0;
    this.stride = n + 2;
    this.table = new Uint32Array(INITIAL_BUCKETS * this.stride);
  }

  /** Hash of `key & mask` as this subtable computes it. */
  hashKey(keys: Uint32Array, keyOffset: number): number {
    return hashMaskedWords(keys, keyOffset, this.words, this.maskValues, this.wordCount, this.seed);
  }

  /**
   * Returns the slot of the flow matching the key (any key: it is masked
   * here), or -1. Fast path: no allocation.
   */
  lookup(keys: Uint32Array, keyOffset: number): number {
    const words = this.words;
    const maskValues = this.maskValues;
    const n = this.wordCount;
    const h = hashMaskedWords(keys, keyOffset, words, maskValues, n, this.seed);
    const table = this.table;
    const stride = this.stride;
    const bucketMask = this.bucketMask;
    let b = h & bucketMask;
    for (;;) {
      const base = b * stride;
      const slotPlusOne = table[base + 1];
      if (slotPlusOne === 0) return -1;
      if (table[base] === h) {
        // Stored words are masked: (k ^ stored) & m is 0 exactly when k & m == stored.
        let i = 0;
        while (
          i < n && ((keys[keyOffset + words[i]] ^ table[base + 2 + i]) & maskValues[i]) === 0
        ) {
          i++;
        }
        if (i === n) return slotPlusOne - 1;
      }
      b = (b + 1) & bucketMask;
    }
  }

  /**
   * Inserts a flow whose key is already known to be absent. Records the
   * bucket in `slotPos[slot]` (and of any bucket moved by growing).
   */
  insert(slot: number, keys: Uint32Array, keyOffset: number, slotPos: Int32Array): void {
    if (((this.count + 1) << MAX_LOAD_SHIFT) > (this.bucketMask + 1) * MAX_LOAD_NUMERATOR) {
      this.grow(slotPos);
    }
    const h = this.hashKey(keys, keyOffset);
    const base = this.freeBucket(h) * this.stride;
    this.table[base] = h;
    this.table[base + 1] = slot + 1;
    for (let i = 0; i < this.wordCount; i++) {
      this.table[base + 2 + i] = keys[keyOffset + this.words[i]] & this.maskValues[i];
    }
    slotPos[slot] = base / this.stride;
    this.count++;
  }

  /** Removes the flow in bucket `b`, shifting later buckets back. */
  removeBucket(b: number, slotPos: Int32Array): void {
    const table = this.table;
    const stride = this.stride;
    const mask = this.bucketMask;
    let hole = b;
    let j = b;
    for (;;) {
      j = (j + 1) & mask;
      const slotPlusOne = table[j * stride + 1];
      if (slotPlusOne === 0) break;
      const home = table[j * stride] & mask;
      // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      table.copyWithin(hole * stride, j * stride, j * stride + stride);
      slotPos[slotPlusOne - 1] = hole;
      hole = j;
    }
    table[hole * stride + 1] = 0;
    this.count--;
  }

  /** Copies the masked key of bucket `b` into a zeroed full key at `outOffset`. */
  readKey(b: number, out: Uint32Array, outOffset: number): void {
    const base = b * this.stride + 2;
    for (let i = 0; i < this.wordCount; i++) out[outOffset + this.words[i]] = this.table[base + i];
  }

  /** True when the mask at `maskOffset` (KEY_WORDS words) is this subtable's mask. */
  hasMask(mask: Uint32Array, maskOffset: number): boolean {
    let i = 0;
    for (let w = 0; w < USED_WORDS; w++) {
      const m = mask[maskOffset + w];
      if (i < this.wordCount && this.words[i] === w) {
        if (m !== this.maskValues[i]) return false;
        i++;
      } else if (m !== 0) return false;
    }
    return true;
  }

  /** Copies the mask into a zeroed full key at `outOffset`. */
  readMask(out: Uint32Array, outOffset: number): void {
    for (let i = 0; i < this.wordCount; i++) out[outOffset + this.words[i]] = this.maskValues[i];
  }

  /** Bytes of typed-array storage this subtable holds. */
  byteSize(): number {
    return this.table.byteLength;
  }

  private freeBucket(h: number): number {
    let b = h & this.bucketMask;
    while (this.table[b * this.stride + 1] !== 0) b = (b + 1) & this.bucketMask;
    return b;
  }

  private grow(slotPos: Int32Array): void {
    const old = this.table;
    const stride = this.stride;
    const buckets = (this.bucketMask + 1) * 2;
    this.bucketMask = buckets - 1;
    this.table = new Uint32Array(buckets * stride);
    for (let ob = 0; ob * stride < old.length; ob++) {
      const slotPlusOne = old[ob * stride + 1];
      if (slotPlusOne === 0) continue;
      const b = this.freeBucket(old[ob * stride]);
      this.table.set(old.subarray(ob * stride, ob * stride + stride), b * stride);
      slotPos[slotPlusOne - 1] = b;
    }
  }
}
