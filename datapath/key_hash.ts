/**
 * Hashing of flow-key words: the one hash function the exact-match cache,
 * the megaflow subtables, the UFID index and UFID derivation share.
 *
 * Two steps: {@linkcode hashAdd}, the 32-bit Murmur3 block step (as Open
 * vSwitch's `hash_add`), for control-side hashes that should be strong
 * (UFIDs), and {@linkcode hashStep}, a one-multiply step (FxHash's) for the
 * per-packet hashes of the EMC and the megaflow subtables, which a Murmur3
 * finish then spreads. Everything works on 32-bit integers with `Math.imul`:
 * no allocation, safe for the fast path.
 *
 * @module
 */

/** Mixes one 32-bit word into a running hash (OVS `hash_add`). */
export function hashAdd(hash: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  let h = hash ^ k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Mixes one word into a running hash with a single multiply (FxHash's step). */
export function hashStep(hash: number, word: number): number {
  return Math.imul(((hash << 5) | (hash >>> 27)) ^ word, 0x9e3779b1);
}

/**
 * Finishes a running hash (OVS `hash_finish`): `bytes` is the number of
 * bytes mixed in. Returns an unsigned 32-bit value.
 */
export function hashFinish(hash: number, bytes: number): number {
  let h = hash ^ bytes;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hashes the words of a key that a 2-word map names (bit `w` of
 * `maps[mapOffset]` for word `w` < 32, of `maps[mapOffset + 1]` for word
 * `32 + w`), in word order, plus the map itself. Two keys with the same map
 * and the same words hash alike. Returns an unsigned 32-bit value.
 */
export function hashMappedWords(
  keys: Uint32Array,
  keyOffset: number,
  maps: Uint32Array,
  mapOffset: number,
): number {
  const lo = maps[mapOffset];
  const hi = maps[mapOffset + 1];
  let h = hashStep(hashStep(0, lo), hi);
  let n = 2;
  let m = lo;
  while (m !== 0) {
    const w = 31 - Math.clz32(m & -m);
    h = hashStep(h, keys[keyOffset + w]);
    m &= m - 1;
    n++;
  }
  m = hi;
  while (m !== 0) {
    const w = 31 - Math.clz32(m & -m);
    h = hashStep(h, keys[keyOffset + 32 + w]);
    m &= m - 1;
    n++;
  }
  return hashFinish(h, n << 2);
}

/**
 * Hashes `key & mask` over the listed word indices (`words[0..count-1]`,
 * with `maskValues[i]` the mask of word `words[i]`), with a seed. This is
 * the megaflow subtable hash. Returns an unsigned 32-bit value.
 */
export function hashMaskedWords(
  keys: Uint32Array,
  keyOffset: number,
  words: Int32Array,
  maskValues: Uint32Array,
  count: number,
  seed: number,
): number {
  let h = seed;
  for (let i = 0; i < count; i++) {
    h = hashStep(h, keys[keyOffset + words[i]] & maskValues[i]);
  }
  return hashFinish(h, count << 2);
}

/** Hashes `count` consecutive words from `offset` with a seed (unsigned result). */
export function hashWords(words: Uint32Array, offset: number, count: number, seed: number): number {
  let h = seed;
  for (let i = 0; i < count; i++) h = hashAdd(h, words[offset + i]);
  return hashFinish(h, count << 2);
}
