/**
 * The exact-match cache (EMC): a fixed-size cache from a full packet key to
 * the slot of the flow that matched it, in front of the megaflow classifier
 * (Open vSwitch's `emc_cache`).
 *
 * Each key hash has two candidate entries (bits 0.. and bits
 * {@linkcode EMC_SECOND_SHIFT}.. of the hash), like OVS's two hash segments.
 * An entry is {@linkcode EMC_STRIDE} words of one `Uint32Array` (256 bytes):
 * the hash, the slot + 1 (0 when empty), the slot's generation at insert
 * time, the key's 2-word map, then only the words the map names, packed in
 * word order (Open vSwitch's miniflow). A UDP/IPv4 key has 11 such words,
 * so header and key share the entry's first 64-byte cache line; storing each
 * word at its own position spread a hit over three cache lines (measured:
 * see the commit that packed them).
 * A hit requires the generation to still match, so removing a flow (which
 * bumps its slot's generation) invalidates every cached entry for it in O(1).
 *
 * Lookup and insert allocate nothing.
 *
 * @module
 */

import { USED_WORDS } from "./flow_key.ts";
import { hashMappedWords } from "./key_hash.ts";
import type { FlowLookup } from "./megaflow.ts";

/** Default number of entries (OVS's EM_FLOW_HASH_ENTRIES). */
export const EMC_DEFAULT_ENTRIES = 8192;
/** Words per entry: 5 header words + USED_WORDS key words, rounded to a power of two. */
export const EMC_STRIDE = 64;
/** `log2(EMC_STRIDE)`. */
const EMC_SHIFT = 6;
/** Entry layout: word offsets inside an entry. */
const E_HASH = 0;
const E_SLOT = 1; // slot + 1, 0 = empty
const E_GEN = 2;
const E_MAP_LO = 3;
const E_MAP_HI = 4;
const E_KEY = 5; // the mapped key words, packed in word order
if (E_KEY + USED_WORDS > EMC_STRIDE) throw new Error("EMC entry layout does not fit");

/** The second candidate entry uses the hash shifted right by this many bits. */
export const EMC_SECOND_SHIFT = 13;

/**
 * Hashes a packet key over the words its map names (and the map). The value
 * to pass to {@linkcode Emc.lookup} and {@linkcode Emc.insert}.
 */
export function hashKey(
  keys: Uint32Array,
  keyOffset: number,
  maps: Uint32Array,
  mapOffset: number,
): number {
  return hashMappedWords(keys, keyOffset, maps, mapOffset);
}

/** A two-way exact-match cache of packet key -> flow slot. */
export class Emc implements FlowLookup {
  /** Number of entries (a power of two). */
  readonly entries: number;
  private readonly generation: Uint32Array;
  private readonly entryMask: number;
  private readonly table: Uint32Array;

  /**
   * Creates an empty cache of `entries` entries (OVS uses 8192,
   * {@linkcode EMC_DEFAULT_ENTRIES}), a power of two of at least 2, else
   * RangeError. `generation` is the flow table's per-slot generation array
   * (only read); it must stay the same array for the cache's life, else
   * TypeError when it is not a Uint32Array. Memory: 256 bytes per entry.
   */
  constructor(entries: number, generation: Uint32Array) {
    if (!Number.isInteger(entries) || entries < 2 || (entries & (entries - 1)) !== 0) {
      throw new RangeError(`EMC entries must be a power of two >= 2, got ${entries}`);
    }
    if (!(generation instanceof Uint32Array)) {
      throw new TypeError("EMC generation must be a Uint32Array");
    }
    this.generation = generation;
    this.entries = entries;
    this.entryMask = entries - 1;
    this.table = new Uint32Array(entries << EMC_SHIFT);
  }

  /** Same as the module's {@linkcode hashKey}: the hash to pass to lookup and insert. */
  hashKey(keys: Uint32Array, keyOffset: number, maps: Uint32Array, mapOffset: number): number {
    return hashMappedWords(keys, keyOffset, maps, mapOffset);
  }

  /**
   * Returns the cached slot for the key, or -1. `hash` must be
   * `hashKey(keys, keyOffset, maps, mapOffset)` (computed when omitted).
   * A stale entry (its flow was removed) misses. Fast path.
   */
  lookup(
    keys: Uint32Array,
    keyOffset: number,
    maps: Uint32Array,
    mapOffset: number,
    hash: number = hashMappedWords(keys, keyOffset, maps, mapOffset),
  ): number {
    const table = this.table;
    let e = (hash & this.entryMask) << EMC_SHIFT;
    for (let way = 0; way < 2; way++) {
      if (this.sameKey(e, keys, keyOffset, maps, mapOffset, hash)) {
        const slot = table[e + E_SLOT] - 1;
        if (this.generation[slot] === table[e + E_GEN]) return slot;
      }
      e = ((hash >>> EMC_SECOND_SHIFT) & this.entryMask) << EMC_SHIFT;
    }
    return -1;
  }

  /**
   * Caches key -> slot with the slot's current generation. Replaces the
   * entry for the same key if any, else an empty or stale candidate, else
   * the candidate with the smaller hash (as OVS). Fast path.
   */
  insert(
    keys: Uint32Array,
    keyOffset: number,
    maps: Uint32Array,
    mapOffset: number,
    hash: number,
    slot: number,
  ): void {
    const table = this.table;
    const a = (hash & this.entryMask) << EMC_SHIFT;
    const b = ((hash >>> EMC_SECOND_SHIFT) & this.entryMask) << EMC_SHIFT;
    let e: number;
    if (this.sameKey(a, keys, keyOffset, maps, mapOffset, hash)) e = a;
    else if (this.sameKey(b, keys, keyOffset, maps, mapOffset, hash)) e = b;
    else if (!this.live(a)) e = a;
    else if (!this.live(b)) e = b;
    else e = table[a + E_HASH] <= table[b + E_HASH] ? a : b;
    const lo = maps[mapOffset];
    const hi = maps[mapOffset + 1];
    let at = e + E_KEY;
    let m = lo;
    while (m !== 0) {
      table[at++] = keys[keyOffset + 31 - Math.clz32(m & -m)];
      m &= m - 1;
    }
    m = hi;
    while (m !== 0) {
      table[at++] = keys[keyOffset + 63 - Math.clz32(m & -m)];
      m &= m - 1;
    }
    table[e + E_HASH] = hash;
    table[e + E_SLOT] = slot + 1;
    table[e + E_GEN] = this.generation[slot];
    table[e + E_MAP_LO] = lo;
    table[e + E_MAP_HI] = hi;
  }

  /** Empties the cache. */
  clear(): void {
    this.table.fill(0);
  }

  /** Number of entries holding a live (not stale) flow. Slow path. */
  liveCount(): number {
    let n = 0;
    for (let e = 0; e < this.entries; e++) if (this.live(e << EMC_SHIFT)) n++;
    return n;
  }

  /** True when the entry at word `e` holds a flow whose slot generation still matches. */
  private live(e: number): boolean {
    const slotPlusOne = this.table[e + E_SLOT];
    return slotPlusOne !== 0 && this.generation[slotPlusOne - 1] === this.table[e + E_GEN];
  }

  /** True when the entry at word `e` is occupied and holds exactly this key. */
  private sameKey(
    e: number,
    keys: Uint32Array,
    keyOffset: number,
    maps: Uint32Array,
    mapOffset: number,
    hash: number,
  ): boolean {
    const table = this.table;
    if (table[e + E_SLOT] === 0 || table[e + E_HASH] !== hash) return false;
    const lo = maps[mapOffset];
    const hi = maps[mapOffset + 1];
    if (table[e + E_MAP_LO] !== lo || table[e + E_MAP_HI] !== hi) return false;
    let at = e + E_KEY;
    let m = lo;
    while (m !== 0) {
      if (table[at++] !== keys[keyOffset + 31 - Math.clz32(m & -m)]) return false;
      m &= m - 1;
    }
    m = hi;
    while (m !== 0) {
      if (table[at++] !== keys[keyOffset + 63 - Math.clz32(m & -m)]) return false;
      m &= m - 1;
    }
    return true;
  }
}
