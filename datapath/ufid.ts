/**
 * Unique flow identifiers (UFIDs): 128-bit names of flows, as Open vSwitch's
 * `ovs_u128`, held as four 32-bit words (`parts[0..3]`).
 *
 * Text form as OVS prints it (`odp_ufid_to_string`, UUID format):
 * `ufid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, i.e. parts[0], the high and
 * low halves of parts[1], the high half of parts[2], then the low half of
 * parts[2] followed by parts[3].
 *
 * Also: derivation of a UFID from a flow's masked key and mask (so the same
 * flow always gets the same UFID), and {@linkcode UfidIndex}, a typed-array
 * hash index from UFID to slot.
 *
 * @module
 */

import { OdpSyntaxError } from "./errors.ts";
import { USED_WORDS } from "./flow_key.ts";
import { hashAdd, hashFinish, hashWords } from "./key_hash.ts";

/** Words in a UFID. */
export const UFID_WORDS = 4;

const UFID_PATTERN =
  /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})([0-9a-f]{8})$/i;

/** Two lowercase hex digits of each byte value (formatUfid's table). */
const HEX_BYTES: readonly string[] = Array.from(
  { length: 256 },
  (_, b) => b.toString(16).padStart(2, "0"),
);

/** Eight hex digits of a word. */
function hex8(v: number): string {
  return HEX_BYTES[v >>> 24] + HEX_BYTES[(v >>> 16) & 255] + HEX_BYTES[(v >>> 8) & 255] +
    HEX_BYTES[v & 255];
}

/** Four hex digits of the low 16 bits. */
function hex4(v: number): string {
  return HEX_BYTES[(v >>> 8) & 255] + HEX_BYTES[v & 255];
}

/**
 * Formats `ufid[offset..offset+3]` as `ufid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
 * By byte table: every put answers with its UFID, and `toString(16)` with
 * `padStart` took 12% of a put.
 */
export function formatUfid(ufid: Uint32Array, offset = 0): string {
  const p1 = ufid[offset + 1];
  const p2 = ufid[offset + 2];
  return "ufid:" + hex8(ufid[offset]) + "-" + hex4(p1 >>> 16) + "-" + hex4(p1) + "-" +
    hex4(p2 >>> 16) + "-" + hex4(p2) + hex8(ufid[offset + 3]);
}

/**
 * Parses a UFID in text form, with or without the `ufid:` prefix (hex
 * digits in either case). Throws OdpSyntaxError naming the bad text.
 */
export function parseUfid(text: string): Uint32Array {
  if (typeof text !== "string") throw new TypeError("a UFID must be a string");
  const start = text.startsWith("ufid:") ? 5 : 0;
  const m = UFID_PATTERN.exec(text.slice(start));
  if (m === null) {
    throw new OdpSyntaxError(
      "expected a UFID like ufid:01234567-89ab-cdef-0123-456789abcdef",
      text.slice(start),
      start,
    );
  }
  const out = new Uint32Array(UFID_WORDS);
  out[0] = parseInt(m[1], 16);
  out[1] = (parseInt(m[2], 16) << 16) | parseInt(m[3], 16);
  out[2] = (parseInt(m[4], 16) << 16) | parseInt(m[5], 16);
  out[3] = parseInt(m[6], 16);
  return out;
}

/**
 * Converts a UFID given as text or as four words to four words (a copy).
 * Throws TypeError for a wrong type or length, OdpSyntaxError for bad text.
 */
export function toUfid(ufid: Uint32Array | string): Uint32Array {
  if (typeof ufid === "string") return parseUfid(ufid);
  if (!(ufid instanceof Uint32Array) || ufid.length !== UFID_WORDS) {
    throw new TypeError("a UFID must be a string or a Uint32Array of 4 words");
  }
  return ufid.slice();
}

/**
 * Derives a UFID from a flow's key and mask (`KEY_WORDS` words each): the
 * same masked key and mask always give the same UFID, whatever the bits of
 * the key outside the mask.
 */
export function deriveUfid(
  key: Uint32Array,
  keyOffset: number,
  mask: Uint32Array,
  maskOffset: number,
): Uint32Array {
  // The four parts are four independent hash chains over the same words;
  // one pass runs them side by side (the CPU overlaps them) and reads each
  // word once. Same values as hashing each part in its own loop.
  let h0 = Math.imul(1, 0x9e3779b9);
  let h1 = Math.imul(2, 0x9e3779b9);
  let h2 = Math.imul(3, 0x9e3779b9);
  let h3 = Math.imul(4, 0x9e3779b9);
  for (let w = 0; w < USED_WORDS; w++) {
    const m = mask[maskOffset + w];
    if (m === 0) {
      h0 = hashAddZeroPair(h0);
      h1 = hashAddZeroPair(h1);
      h2 = hashAddZeroPair(h2);
      h3 = hashAddZeroPair(h3);
    } else {
      const k = key[keyOffset + w] & m;
      h0 = hashAdd(hashAdd(h0, m), k);
      h1 = hashAdd(hashAdd(h1, m), k);
      h2 = hashAdd(hashAdd(h2, m), k);
      h3 = hashAdd(hashAdd(h3, m), k);
    }
  }
  const out = new Uint32Array(UFID_WORDS);
  out[0] = hashFinish(h0, USED_WORDS * 8);
  out[1] = hashFinish(h1, USED_WORDS * 8);
  out[2] = hashFinish(h2, USED_WORDS * 8);
  out[3] = hashFinish(h3, USED_WORDS * 8);
  return out;
}

/**
 * `hashAdd(hashAdd(h, 0), 0)`, the step of a wildcarded word, which most
 * words of a mask are: with a zero word hashAdd's multiplications vanish,
 * leaving a rotate, a multiply by 5 and an add each. deriveUfid was 30% of
 * a put without a UFID.
 */
function hashAddZeroPair(hash: number): number {
  let h = (hash << 13) | (hash >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * Index from UFID to slot, in typed arrays: the UFID of each slot, and an
 * open-addressing table (linear probing, backward-shift removal) of slots,
 * kept at most half full. Slots are allocated by the caller.
 */
export class UfidIndex {
  /** UFID of each slot: slot `s` at words `4s .. 4s+3`. Valid only for indexed slots. */
  private ufids: Uint32Array;
  private buckets: Int32Array;
  private bucketMask: number;
  private count = 0;

  /**
   * Creates an empty index with room for `initialSlots` slots (grows past
   * that as needed); the hash table grows with the number of entries.
   */
  constructor(initialSlots = 1024) {
    const n = Math.max(16, initialSlots | 0);
    this.ufids = new Uint32Array(n * UFID_WORDS); // untouched pages cost nothing
    this.buckets = new Int32Array(32).fill(-1);
    this.bucketMask = 31;
  }

  /** Number of indexed slots. */
  get size(): number {
    return this.count;
  }

  /** Returns the slot holding this UFID (4 words at `offset`), or -1. */
  find(ufid: Uint32Array, offset = 0): number {
    let b = hashWords(ufid, offset, UFID_WORDS, 0) & this.bucketMask;
    for (;;) {
      const slot = this.buckets[b];
      if (slot < 0) return -1;
      const s = slot * UFID_WORDS;
      if (
        this.ufids[s] === ufid[offset] && this.ufids[s + 1] === ufid[offset + 1] &&
        this.ufids[s + 2] === ufid[offset + 2] && this.ufids[s + 3] === ufid[offset + 3]
      ) return slot;
      b = (b + 1) & this.bucketMask;
    }
  }

  /** Indexes `slot` under a UFID that is known to be absent. */
  add(slot: number, ufid: Uint32Array, offset = 0): void {
    if ((slot + 1) * UFID_WORDS > this.ufids.length) {
      let n = this.ufids.length;
      while (n < (slot + 1) * UFID_WORDS) n *= 2;
      const grown = new Uint32Array(n);
      grown.set(this.ufids);
      this.ufids = grown;
    }
    if ((this.count + 1) * 2 > this.buckets.length) this.rehash(this.buckets.length * 2);
    this.ufids.set(ufid.subarray(offset, offset + UFID_WORDS), slot * UFID_WORDS);
    this.place(slot);
    this.count++;
  }

  /** Removes `slot` from the index (it must be indexed). */
  remove(slot: number): void {
    const mask = this.bucketMask;
    let hole = this.hashOf(slot) & mask;
    while (this.buckets[hole] !== slot) {
      if (this.buckets[hole] < 0) throw new RangeError(`slot ${slot} is not in the UFID index`);
      hole = (hole + 1) & mask;
    }
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const s = this.buckets[j];
      if (s < 0) break;
      const home = this.hashOf(s) & mask;
      const stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      this.buckets[hole] = s;
      hole = j;
    }
    this.buckets[hole] = -1;
    this.count--;
  }

  /** Copies the UFID of an indexed slot into a new 4-word array. */
  ufidOf(slot: number): Uint32Array {
    return this.ufids.slice(slot * UFID_WORDS, slot * UFID_WORDS + UFID_WORDS);
  }

  /** Removes every entry. */
  clear(): void {
    this.buckets.fill(-1);
    this.count = 0;
  }

  /** Bytes of typed-array storage held. */
  byteSize(): number {
    return this.ufids.byteLength + this.buckets.byteLength;
  }

  private hashOf(slot: number): number {
    return hashWords(this.ufids, slot * UFID_WORDS, UFID_WORDS, 0);
  }

  private place(slot: number): void {
    let b = this.hashOf(slot) & this.bucketMask;
    while (this.buckets[b] >= 0) b = (b + 1) & this.bucketMask;
    this.buckets[b] = slot;
  }

  private rehash(buckets: number): void {
    const old = this.buckets;
    this.buckets = new Int32Array(buckets).fill(-1);
    this.bucketMask = buckets - 1;
    for (let b = 0; b < old.length; b++) if (old[b] >= 0) this.place(old[b]);
  }
}
