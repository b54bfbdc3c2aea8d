/**
 * One subtable of the megaflow classifier: every flow that has the same mask
 * (OVS's `struct dpcls_subtable`).
 *
 * The mask is kept once, as the list of words where it is non-zero and
 * their mask values, so hashing and comparing touch only those words (a
 * typical megaflow masks 4 to 10 of the 58 used words), never a 64-word
 * loop. Flows are kept in an open-addressing hash table with linear probing
 * in one `Uint32Array`: bucket `b` is `stride = wordCount + 2` words at
 * `b * stride`: the signature (the hash with bit 0 forced on, so 0 means
 * empty; the bucket's home is `(sig >>> 1) & bucketMask`), the flow's slot,
 * then the masked key words (only the words of the mask list).
 *
 * Why one array: a bucket is then one cache line, so a probe costs one
 * miss. Keeping the signatures in an array of their own (with a 1/2 load
 * limit) was measured slower at 100,000 flows over 10 masks (2.5 against
 * 3.7 M lookups/s by CPU time): a hit then touched three lines (signature,
 * key, slot). Removal
 * shifts later buckets back, so there are no tombstones.
 *
 * The hash ({@linkcode MegaflowSubtable.hashKey}) multiplies each masked
 * word by its own odd constant and adds the products, then finishes with
 * Murmur3's fmix32. The products are independent, so the CPU runs them in
 * parallel; the former FxHash chain (rotate, xor, multiply per word) was
 * one long dependency chain per subtable. Keys that differ in one word
 * never collide before the (bijective) finish.
 *
 * A subtable does not own slot numbers: the {@linkcode Megaflow} around it
 * keeps `slotPos` (slot -> bucket), which this class updates whenever it
 * moves a bucket.
 *
 * @module
 */

import { USED_WORDS } from "./flow_key.ts";

/** Buckets of a new subtable. A power of two. */
const INITIAL_BUCKETS = 16;
/**
 * Grow when more than half of the buckets are used. An unsuccessful linear
 * probe (the common case, see the module doc) reads about
 * (1 + 1/(1-load)^2)/2 signatures: 2.5 at 1/2 against 8.5 at 3/4, the limit
 * before; signatures are 4 bytes, so the room this costs is small.
 */
const MAX_LOAD_NUMERATOR = 3;
const MAX_LOAD_SHIFT = 2;
/**
 * Halve the buckets when fewer than 1/8 are used (then at most 1/4 are), so
 * a subtable that emptied after a burst of flows gives its memory back;
 * the gap to the grow limit keeps a put/delete churn from resizing each time.
 */
const SHRINK_SHIFT = 3;

/**
 * The masked key words of the lookup in progress, as int32 (lookupBucket
 * hashes them and then compares them with a bucket's stored words, which
 * are masked too, so the compare needs neither the word indices nor the
 * masks again). One per isolate: lookups do not nest.
 */
const MASKED_SCRATCH = new Int32Array(USED_WORDS);

/** Per-position odd multipliers of the subtable hash (golden-ratio sequence). */
function wordMultiplier(position: number, seed: number): number {
  return (Math.imul(position * 2 + 1, 0x9e3779b1) ^ seed) | 1;
}

/** A hash table of the flows that share one mask. */
export class MegaflowSubtable {
  /** Index of this subtable in its classifier (stable while it exists). */
  readonly id: number;
  /** Word indices where the mask is non-zero, ascending. */
  readonly words: Int32Array;
  /** Mask value of each word in `words`. */
  readonly maskValues: Uint32Array;
  /** Odd multiplier of each word in `words` (the hash, see the module doc). */
  readonly multipliers: Int32Array;
  /**
   * `words`, `maskValues` and `multipliers` interleaved (word, mask,
   * multiplier; 3 entries per mask word) for lookupBucket's loops: one array
   * (one bounds check, one base pointer) instead of three.
   */
  readonly plan: Int32Array;
  /** Number of mask words (`words.length`). */
  readonly wordCount: number;
  /** Hash seed of this subtable (so different masks spread differently). */
  readonly seed: number;
  /** Words per bucket: signature, slot, then the masked key words. */
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
    this.multipliers = new Int32Array(n);
    this.seed = Math.imul(id + 1, 0x85ebca6b) | 0;
    n = 0;
    for (let w = 0; w < USED_WORDS; w++) {
      const m = mask[maskOffset + w];
      if (m !== 0) {
        this.words[n] = w;
        this.maskValues[n] = m;
        this.multipliers[n] = wordMultiplier(n, this.seed);
        n++;
      }
    }
    this.wordCount = n;
    this.plan = new Int32Array(n * 3);
    for (let i = 0; i < n; i++) {
      this.plan[i * 3] = this.words[i];
      this.plan[i * 3 + 1] = this.maskValues[i];
      this.plan[i * 3 + 2] = this.multipliers[i];
    }
    this.stride = n + 2;
    this.table = new Uint32Array(INITIAL_BUCKETS * this.stride);
  }

  /** Signature of `key & mask` (hash with bit 0 set, never 0). Fast path. */
  hashKey(keys: Uint32Array, keyOffset: number): number {
    const words = this.words;
    const maskValues = this.maskValues;
    const multipliers = this.multipliers;
    let h = this.seed;
    for (let i = 0; i < this.wordCount; i++) {
      h = (h + Math.imul(keys[keyOffset + words[i]] & maskValues[i], multipliers[i])) | 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return (h | 1) >>> 0;
  }

  /**
   * Returns the slot of the flow matching the key (any key: it is masked
   * here), or -1. Fast path: no allocation.
   */
  lookup(keys: Uint32Array, keyOffset: number): number {
    const b = this.lookupBucket(keys, keyOffset);
    return b < 0 ? -1 : this.table[b * this.stride + 1];
  }

  /**
   * Returns the bucket of the flow matching the key, or -1. Fast path. The
   * hash and the compare are written out here rather than called (the same
   * code as hashKey and matchesAt): with the calls this was about 15%
   * slower than the previous subtable at 100,000 flows over 16 masks
   * (1.4 against 1.6 M lookups/s by CPU time), and on par written out.
   *
   * The hash loop reads word, mask and multiplier from one interleaved
   * array (`plan`) and keeps each masked key word in MASKED_SCRATCH; the
   * compare then checks those against the bucket's stored (masked) words
   * with plain equality, without re-reading indices and masks; bucket
   * offsets use Math.imul (no overflow check). At 1,000 flows over one
   * mask (the matrix's case (1) with the EMC off) a lookup went from 41.4
   * to 32.7 ns of CPU time (Megaflow.lookup in a loop, 3 alternated runs
   * each, 2026-11-23): it was the largest single item of that case's PMD
   * profile (~20%).
   */
  lookupBucket(keys: Uint32Array, keyOffset: number): number {
    const plan = this.plan;
    const masked = MASKED_SCRATCH;
    const n = this.wordCount;
    let h = this.seed;
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      const k = keys[keyOffset + plan[j]] & plan[j + 1];
      masked[i] = k;
      h = (h + Math.imul(k, plan[j + 2])) | 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    const sig = h | 1; // compared as int32 against the table read as int32
    const table = this.table;
    const stride = this.stride;
    const bucketMask = this.bucketMask;
    let b = (sig >>> 1) & bucketMask;
    for (;;) {
      const base = Math.imul(b, stride);
      const s = table[base] | 0;
      if (s === sig) {
        // Stored words are masked, as `masked` is: plain equality.
        const at = base + 2;
        let i = 0;
        while (i < n && masked[i] === (table[at + i] | 0)) i++;
        if (i === n) return b;
      } else if (s === 0) {
        return -1;
      }
      b = (b + 1) & bucketMask;
    }
  }

  /** Slot of the flow in bucket `b`, or -1 when `b` is empty or out of range. */
  slotAt(b: number): number {
    if (!(b >= 0 && b <= this.bucketMask)) return -1;
    const base = b * this.stride;
    return this.table[base] === 0 ? -1 : this.table[base + 1];
  }

  /**
   * True when the flow in bucket `b` (which must hold one) matches the key
   * (any key: it is masked here). Fast path.
   */
  matchesAt(b: number, keys: Uint32Array, keyOffset: number): boolean {
    const plan = this.plan;
    const table = this.table;
    const n = this.wordCount;
    const base = Math.imul(b, this.stride) + 2;
    // Stored words are masked: (k ^ stored) & m is 0 exactly when k & m == stored.
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      if (((keys[keyOffset + plan[j]] ^ table[base + i]) & plan[j + 1]) !== 0) return false;
    }
    return true;
  }

  /**
   * Inserts a flow whose key is already known to be absent. Records the
   * bucket in `slotPos[slot]` (and of any bucket moved by growing).
   */
  insert(slot: number, keys: Uint32Array, keyOffset: number, slotPos: Int32Array): void {
    if (((this.count + 1) << MAX_LOAD_SHIFT) > (this.bucketMask + 1) * MAX_LOAD_NUMERATOR) {
      this.resize((this.bucketMask + 1) * 2, slotPos);
    }
    const sig = this.hashKey(keys, keyOffset);
    const b = this.freeBucket(sig);
    const base = b * this.stride;
    this.table[base] = sig;
    this.table[base + 1] = slot;
    for (let i = 0; i < this.wordCount; i++) {
      this.table[base + 2 + i] = keys[keyOffset + this.words[i]] & this.maskValues[i];
    }
    slotPos[slot] = b;
    this.count++;
  }

  /**
   * Removes the flow in bucket `b`, shifting later buckets back; halves the
   * table when it got sparse (see SHRINK_SHIFT).
   */
  removeBucket(b: number, slotPos: Int32Array): void {
    const table = this.table;
    const stride = this.stride;
    const mask = this.bucketMask;
    let hole = b;
    let j = b;
    for (;;) {
      j = (j + 1) & mask;
      const sig = table[j * stride];
      if (sig === 0) break;
      const home = (sig >>> 1) & mask;
      // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      table.copyWithin(hole * stride, j * stride, j * stride + stride);
      slotPos[table[hole * stride + 1]] = hole;
      hole = j;
    }
    table[hole * stride] = 0;
    this.count--;
    if (this.count << SHRINK_SHIFT < mask + 1 && mask + 1 > INITIAL_BUCKETS) {
      this.resize((mask + 1) >>> 1, slotPos);
    }
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

  /** Number of buckets (a power of two). */
  get buckets(): number {
    return this.bucketMask + 1;
  }

  private freeBucket(sig: number): number {
    let b = (sig >>> 1) & this.bucketMask;
    while (this.table[b * this.stride] !== 0) b = (b + 1) & this.bucketMask;
    return b;
  }

  /** Rehashes every flow into `buckets` buckets (a power of two), updating `slotPos`. */
  private resize(buckets: number, slotPos: Int32Array): void {
    const old = this.table;
    const stride = this.stride;
    this.bucketMask = buckets - 1;
    this.table = new Uint32Array(buckets * stride);
    for (let ob = 0; ob * stride < old.length; ob++) {
      const sig = old[ob * stride];
      if (sig === 0) continue;
      const b = this.freeBucket(sig);
      // A word loop, not set(subarray): a typed-array view per bucket cost
      // 40 ns or more (flow installs, bench/flow_setup_bench.ts).
      for (let i = 0; i < stride; i++) this.table[b * stride + i] = old[ob * stride + i];
      slotPos[old[ob * stride + 1]] = b;
    }
  }
}
