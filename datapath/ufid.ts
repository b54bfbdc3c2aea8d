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
import { hashFinish, hashWords } from "./key_hash.ts";

/** Words in a UFID. */
export const UFID_WORDS = 4;

/** Character codes of the lowercase hex digits. */
const HEX_CODES: readonly number[] = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/**
 * The character codes of the text formatUfid is writing: `ufid:` and the
 * four dashes stay, the 32 digits are rewritten by each call.
 */
const UFID_CODES: number[] = Array.from(
  "ufid:00000000-0000-0000-0000-000000000000",
  (c) => c.charCodeAt(0),
);

/** Writes the `digits` low hex digits of `v` into UFID_CODES at `at`. */
function writeHex(v: number, at: number, digits: number): void {
  for (let i = at + digits - 1; i >= at; i--) {
    UFID_CODES[i] = HEX_CODES[v & 15];
    v >>>= 4;
  }
}

/**
 * Formats `ufid[offset..offset+3]` as `ufid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
 *
 * One String.fromCharCode over a reused code array, which gives one flat
 * string. Why: every put answers with its UFID and stores it, and the
 * earlier concatenation of table pieces made a tree of about ten strings
 * (a cons string) that JSON.stringify then had to flatten, twice (the
 * store record, the answer): 240 ns per UFID formatted and stringified,
 * 105 ns this way (1,000 UFIDs per batch, as bench/flow_setup_bench.ts).
 */
export function formatUfid(ufid: Uint32Array, offset = 0): string {
  const p1 = ufid[offset + 1];
  const p2 = ufid[offset + 2];
  writeHex(ufid[offset], 5, 8);
  writeHex(p1 >>> 16, 14, 4);
  writeHex(p1, 19, 4);
  writeHex(p2 >>> 16, 24, 4);
  writeHex(p2, 29, 4);
  writeHex(ufid[offset + 3], 33, 8);
  return String.fromCharCode.apply(null, UFID_CODES);
}

/**
 * Parses a UFID in text form, with or without the `ufid:` prefix (hex
 * digits in either case). Throws OdpSyntaxError naming the bad text.
 */
export function parseUfid(text: string): Uint32Array {
  return parseUfidInto(text, new Uint32Array(UFID_WORDS));
}

/*
 * Why the `...Into` forms below: allocating a 4-word Uint32Array costs
 * 200 to 400 ns on this Deno (V8 gives every typed array its own backing
 * store through the embedder's allocator; a plain array costs 10 to 20 ns,
 * a view on an existing buffer about 40 ns). A flow put allocated two or
 * three of them (derived UFID, copies), over 1 µs of a 4 µs put; the flow
 * table now works in one scratch UFID.
 */

/**
 * {@linkcode parseUfid} into `out` (four words), which it returns. Throws
 * as parseUfid does, leaving `out` unchanged.
 */
export function parseUfidInto(text: string, out: Uint32Array): Uint32Array {
  if (typeof text !== "string") throw new TypeError("a UFID must be a string");
  const start = text.startsWith("ufid:") ? 5 : 0;
  // Read digit by digit: the earlier RegExp with six groups, a slice and six
  // parseInt calls cost ~1 µs per delete by UFID (profile of Datapath.operate
  // under tools/flow_churn.ts); this accepts exactly what
  // /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i did.
  if (
    text.length - start === 36 && text.charCodeAt(start + 8) === DASH &&
    text.charCodeAt(start + 13) === DASH && text.charCodeAt(start + 18) === DASH &&
    text.charCodeAt(start + 23) === DASH
  ) {
    const a = hexDigits(text, start, 8);
    const b = hexDigits(text, start + 9, 4);
    const c = hexDigits(text, start + 14, 4);
    const d = hexDigits(text, start + 19, 4);
    const e = hexDigits(text, start + 24, 4);
    const f = hexDigits(text, start + 28, 8);
    if (a >= 0 && b >= 0 && c >= 0 && d >= 0 && e >= 0 && f >= 0) {
      out[0] = a;
      out[1] = (b << 16) | c;
      out[2] = (d << 16) | e;
      out[3] = f;
      return out;
    }
  }
  throw new OdpSyntaxError(
    "expected a UFID like ufid:01234567-89ab-cdef-0123-456789abcdef",
    text.slice(start),
    start,
  );
}

const DASH = 45;

/** The value of `count` hex digits (either case) at `at`, or -1 if one is not a hex digit. */
function hexDigits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i);
    let digit: number;
    if (c >= 48 && c <= 57) digit = c - 48;
    else {
      const lower = c | 0x20;
      if (lower < 97 || lower > 102) return -1;
      digit = lower - 87;
    }
    value = value * 16 + digit;
  }
  return value;
}

/**
 * Converts a UFID given as text or as four words to four words (a copy).
 * Throws TypeError for a wrong type or length, OdpSyntaxError for bad text.
 */
export function toUfid(ufid: Uint32Array | string): Uint32Array {
  return toUfidInto(ufid, new Uint32Array(UFID_WORDS));
}

/** {@linkcode toUfid} into `out` (four words), which it returns. Throws as toUfid does. */
export function toUfidInto(ufid: Uint32Array | string, out: Uint32Array): Uint32Array {
  if (typeof ufid === "string") return parseUfidInto(ufid, out);
  if (!(ufid instanceof Uint32Array) || ufid.length !== UFID_WORDS) {
    throw new TypeError("a UFID must be a string or a Uint32Array of 4 words");
  }
  out[0] = ufid[0];
  out[1] = ufid[1];
  out[2] = ufid[2];
  out[3] = ufid[3];
  return out;
}

/**
 * Derives a UFID from a flow's key and mask (`KEY_WORDS` words each): the
 * same masked key and mask always give the same UFID, whatever the bits of
 * the key outside the mask.
 *
 * Each part is OVS's `hash_add` chain over the pairs (mask word, masked key
 * word) of the used words, seeded with `(part + 1) * 0x9e3779b9`, then
 * `hash_finish`. The four chains run side by side in one pass (the CPU
 * overlaps them; each word is read once), with hashAdd written out: the
 * pair's two Murmur3 block mixes are computed once for the four chains, a
 * wildcarded word (most of them) mixes in zeros (whose block mix is zero),
 * and the additive constant is a signed 32-bit number so that V8 keeps
 * every step in int32. Written out, about 0.8 µs per derivation became
 * 0.6 µs (bench/flow_setup_bench.ts's flows, in process), most of the rest
 * being the new 4-word array, which {@linkcode deriveUfidInto} does without
 * (0.25 µs of a put in the server's profile). Same values as before
 * (pinned in tests/flow_setup_paths_test.ts).
 */
export function deriveUfid(
  key: Uint32Array,
  keyOffset: number,
  mask: Uint32Array,
  maskOffset: number,
): Uint32Array {
  return derive(key, keyOffset, mask, maskOffset, new Uint32Array(UFID_WORDS));
}

/**
 * {@linkcode deriveUfid} of the key and mask at offset 0, into `out` (four
 * words), which it returns: no allocation (see parseUfidInto).
 */
export function deriveUfidInto(key: Uint32Array, mask: Uint32Array, out: Uint32Array): Uint32Array {
  return derive(key, 0, mask, 0, out);
}

function derive(
  key: Uint32Array,
  keyOffset: number,
  mask: Uint32Array,
  maskOffset: number,
  out: Uint32Array,
): Uint32Array {
  let h0 = Math.imul(1, 0x9e3779b9);
  let h1 = Math.imul(2, 0x9e3779b9);
  let h2 = Math.imul(3, 0x9e3779b9);
  let h3 = Math.imul(4, 0x9e3779b9);
  for (let w = 0; w < USED_WORDS; w++) {
    const m = mask[maskOffset + w] | 0;
    if (m === 0) {
      // hashAdd(hashAdd(h, 0), 0): the block mix of 0 is 0, leaving two
      // rotate-multiply-add rounds.
      h0 = (h0 << 13) | (h0 >>> 19);
      h1 = (h1 << 13) | (h1 >>> 19);
      h2 = (h2 << 13) | (h2 >>> 19);
      h3 = (h3 << 13) | (h3 >>> 19);
      h0 = (Math.imul(h0, 5) + HASH_ADD_C) | 0;
      h1 = (Math.imul(h1, 5) + HASH_ADD_C) | 0;
      h2 = (Math.imul(h2, 5) + HASH_ADD_C) | 0;
      h3 = (Math.imul(h3, 5) + HASH_ADD_C) | 0;
      h0 = (h0 << 13) | (h0 >>> 19);
      h1 = (h1 << 13) | (h1 >>> 19);
      h2 = (h2 << 13) | (h2 >>> 19);
      h3 = (h3 << 13) | (h3 >>> 19);
      h0 = (Math.imul(h0, 5) + HASH_ADD_C) | 0;
      h1 = (Math.imul(h1, 5) + HASH_ADD_C) | 0;
      h2 = (Math.imul(h2, 5) + HASH_ADD_C) | 0;
      h3 = (Math.imul(h3, 5) + HASH_ADD_C) | 0;
    } else {
      const a = blockMix(m);
      const b = blockMix(key[keyOffset + w] & m);
      h0 ^= a;
      h1 ^= a;
      h2 ^= a;
      h3 ^= a;
      h0 = (h0 << 13) | (h0 >>> 19);
      h1 = (h1 << 13) | (h1 >>> 19);
      h2 = (h2 << 13) | (h2 >>> 19);
      h3 = (h3 << 13) | (h3 >>> 19);
      h0 = ((Math.imul(h0, 5) + HASH_ADD_C) | 0) ^ b;
      h1 = ((Math.imul(h1, 5) + HASH_ADD_C) | 0) ^ b;
      h2 = ((Math.imul(h2, 5) + HASH_ADD_C) | 0) ^ b;
      h3 = ((Math.imul(h3, 5) + HASH_ADD_C) | 0) ^ b;
      h0 = (h0 << 13) | (h0 >>> 19);
      h1 = (h1 << 13) | (h1 >>> 19);
      h2 = (h2 << 13) | (h2 >>> 19);
      h3 = (h3 << 13) | (h3 >>> 19);
      h0 = (Math.imul(h0, 5) + HASH_ADD_C) | 0;
      h1 = (Math.imul(h1, 5) + HASH_ADD_C) | 0;
      h2 = (Math.imul(h2, 5) + HASH_ADD_C) | 0;
      h3 = (Math.imul(h3, 5) + HASH_ADD_C) | 0;
    }
  }
  out[0] = hashFinish(h0, USED_WORDS * 8);
  out[1] = hashFinish(h1, USED_WORDS * 8);
  out[2] = hashFinish(h2, USED_WORDS * 8);
  out[3] = hashFinish(h3, USED_WORDS * 8);
  return out;
}

/** hashAdd's additive constant 0xe6546b64 as a signed 32-bit number. */
const HASH_ADD_C = 0xe6546b64 | 0;

/** hashAdd's Murmur3 block mix of a word (what is XORed into the hash). */
function blockMix(word: number): number {
  const k = Math.imul(word, 0xcc9e2d51);
  return Math.imul((k << 15) | (k >>> 17), 0x1b873593);
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
    const s = slot * UFID_WORDS; // four stores: a subarray view per add cost 40 ns or more
    this.ufids[s] = ufid[offset];
    this.ufids[s + 1] = ufid[offset + 1];
    this.ufids[s + 2] = ufid[offset + 2];
    this.ufids[s + 3] = ufid[offset + 3];
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

  /**
   * The text form of an indexed slot's UFID (formatUfid), without the copy
   * ufidOf makes (a typed array each: see parseUfidInto).
   */
  textOf(slot: number): string {
    return formatUfid(this.ufids, slot * UFID_WORDS);
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
