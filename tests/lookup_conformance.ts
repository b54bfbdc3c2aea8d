/**
 * The one lookup conformance suite that every FlowLookup implementation
 * (megaflow classifier, EMC in front of it, flow table) runs: random flows
 * and packets from a seeded PRNG, each answer checked against the brute-force
 * reference classifier.
 *
 * - Non-overlapping flow sets: the answer must be exactly the reference's.
 * - Overlapping sets: any matching flow is fine, a non-matching one never
 *   is, and -1 exactly when nothing matches.
 *
 * Each implementation's test file calls {@linkcode lookupConformance} with a
 * factory; the cases are registered as Deno tests.
 *
 * @module
 */

import assert from "node:assert/strict";
import { KEY_WORDS, USED_WORDS, W_IN_PORT } from "../datapath/flow_key.ts";
import type { FlowLookup } from "../datapath/megaflow.ts";
import { ReferenceClassifier } from "./reference_classifier.ts";

/** What the suite drives: a lookup plus insert/remove by caller-chosen slot. */
export interface LookupUnderTest extends FlowLookup {
  /** Adds flow `slot` matching `key & mask` (KEY_WORDS words each, offset 0). */
  insert(slot: number, key: Uint32Array, mask: Uint32Array): void;
  /** Removes flow `slot`. */
  remove(slot: number): void;
}

/** A small seeded PRNG (mulberry32): same seed, same sequence. */
export class Prng {
  private state: number;
  /** Creates a generator from a 32-bit seed. */
  constructor(seed: number) {
    this.state = seed | 0;
  }
  /** The next unsigned 32-bit value. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in 0..n-1. */
  below(n: number): number {
    return this.next() % n;
  }
}

/** Words random flows match on (besides in_port), as real megaflows do. */
const MATCH_WORDS = [1, 6, 28, 29, 30, 31, 32, 34, 36, 37, 38, 41, 47, 48, 49];

/** A random mask: in_port exact plus 1..5 words with full, prefix or sparse masks. */
export function randomMask(rng: Prng): Uint32Array {
  const mask = new Uint32Array(KEY_WORDS);
  mask[W_IN_PORT] = 0xffffffff;
  const words = 1 + rng.below(5);
  for (let i = 0; i < words; i++) {
    const w = MATCH_WORDS[rng.below(MATCH_WORDS.length)];
    const kind = rng.below(4);
    mask[w] = kind === 0
      ? 0xffffffff
      : kind === 1
      ? (0xffffffff << (32 - 1 - rng.below(31))) >>> 0
      : kind === 2
      ? 0x0000ffff
      : (rng.next() & rng.next()) >>> 0 || 1;
  }
  return mask;
}

/** A random value from a small domain (so flows collide and overlap often). */
function smallValue(rng: Prng): number {
  const r = rng.below(8);
  return r < 4 ? r : r < 6 ? (0x0a000000 | rng.below(4)) >>> 0 : rng.next();
}

/** A random masked key for a mask. */
export function randomKey(rng: Prng, mask: Uint32Array): Uint32Array {
  const key = new Uint32Array(KEY_WORDS);
  key[W_IN_PORT] = 1 + rng.below(3);
  for (let w = 1; w < USED_WORDS; w++) key[w] = (smallValue(rng) & mask[w]) >>> 0;
  return key;
}

/** A flow of a generated set. */
export interface TestFlow {
  slot: number;
  key: Uint32Array;
  mask: Uint32Array;
}

/**
 * Random flows over `maskCount` masks. With `overlapping` false, a candidate
 * that could match a packet another flow matches is redrawn; exact
 * duplicates are always redrawn.
 */
export function randomFlows(
  rng: Prng,
  count: number,
  maskCount: number,
  overlapping: boolean,
): TestFlow[] {
  const masks = Array.from({ length: maskCount }, () => randomMask(rng));
  const flows: TestFlow[] = [];
  for (let tries = 0; flows.length < count && tries < count * 50; tries++) {
    const mask = masks[rng.below(maskCount)];
    const key = randomKey(rng, mask);
    const clash = flows.some((f) =>
      overlapping
        ? f.mask.every((m, w) => m === mask[w] && f.key[w] === key[w])
        : ReferenceClassifier.overlap(f.key, f.mask, key, mask)
    );
    if (!clash) flows.push({ slot: flows.length * 3 + 1, key, mask });
  }
  return flows;
}

/**
 * Writes `count` packet keys (at `i * KEY_WORDS`) and their maps (at
 * `2i`): most are built from a random flow, with the bits outside its mask
 * randomised; the rest are random. Maps name every non-zero word, plus
 * random extra bits when `extraMapBits`.
 */
export function randomPackets(
  rng: Prng,
  flows: TestFlow[],
  count: number,
  extraMapBits: boolean,
): { keys: Uint32Array; maps: Uint32Array } {
  const keys = new Uint32Array(count * KEY_WORDS);
  const maps = new Uint32Array(count * 2);
  for (let i = 0; i < count; i++) {
    const base = i * KEY_WORDS;
    const flow = flows.length > 0 && rng.below(5) !== 0 ? flows[rng.below(flows.length)] : null;
    for (let w = 0; w < USED_WORDS; w++) {
      const noise = rng.below(3) === 0 ? smallValue(rng) : 0;
      keys[base + w] = flow === null
        ? (w === W_IN_PORT ? 1 + rng.below(3) : noise)
        : (flow.key[w] | (noise & ~flow.mask[w])) >>> 0;
    }
    for (let w = 0; w < USED_WORDS; w++) {
      if (keys[base + w] !== 0 || (extraMapBits && rng.below(4) === 0)) {
        maps[2 * i + (w >> 5)] |= 1 << (w & 31);
      }
    }
  }
  return { keys, maps };
}

/** Checks every packet against the reference; `exact` for non-overlapping sets. */
function checkAll(
  impl: LookupUnderTest,
  ref: ReferenceClassifier,
  keys: Uint32Array,
  maps: Uint32Array,
  count: number,
  exact: boolean,
): { hits: number } {
  let hits = 0;
  for (let i = 0; i < count; i++) {
    const expected = ref.matches(keys, i * KEY_WORDS);
    const got = impl.lookup(keys, i * KEY_WORDS, maps, 2 * i);
    if (expected.length === 0) {
      assert.equal(got, -1, `packet ${i}: expected a miss, got slot ${got}`);
    } else if (exact) {
      assert.equal(got, expected[0], `packet ${i}: expected slot ${expected[0]}, got ${got}`);
    } else {
      assert.ok(expected.includes(got), `packet ${i}: slot ${got} is not in [${expected}]`);
    }
    if (got >= 0) hits++;
  }
  return { hits };
}

function install(impl: LookupUnderTest, ref: ReferenceClassifier, flows: TestFlow[]): void {
  for (const f of flows) {
    impl.insert(f.slot, f.key, f.mask);
    ref.insert(f.slot, f.key, f.mask);
  }
}

/** Registers the conformance cases for one implementation. */
export function lookupConformance(name: string, create: () => LookupUnderTest): void {
  for (const [flowCount, maskCount] of [[1, 1], [40, 1], [300, 4], [600, 12]]) {
    Deno.test(`${name}: ${flowCount} non-overlapping flows over ${maskCount} masks match brute force`, () => {
      const rng = new Prng(flowCount * 7919 + maskCount);
      const impl = create();
      const ref = new ReferenceClassifier();
      const flows = randomFlows(rng, flowCount, maskCount, false);
      install(impl, ref, flows);
      const packets = randomPackets(rng, flows, 3000, false);
      const first = checkAll(impl, ref, packets.keys, packets.maps, 3000, true);
      assert.ok(first.hits > 1000, `packets should mostly hit (${first.hits})`);
      checkAll(impl, ref, packets.keys, packets.maps, 3000, true); // again: cached answers
    });
  }

  Deno.test(`${name}: overlapping flows answer with some matching flow`, () => {
    const rng = new Prng(4242);
    const impl = create();
    const ref = new ReferenceClassifier();
    const flows = randomFlows(rng, 500, 8, true);
    install(impl, ref, flows);
    const packets = randomPackets(rng, flows, 4000, true);
    for (let round = 0; round < 3; round++) {
      checkAll(impl, ref, packets.keys, packets.maps, 4000, false);
    }
  });

  Deno.test(`${name}: maps with extra bits give the same answers`, () => {
    const rng = new Prng(99);
    const impl = create();
    const ref = new ReferenceClassifier();
    const flows = randomFlows(rng, 200, 5, false);
    install(impl, ref, flows);
    const packets = randomPackets(rng, flows, 2000, true);
    checkAll(impl, ref, packets.keys, packets.maps, 2000, true);
    checkAll(impl, ref, packets.keys, packets.maps, 2000, true);
  });

  Deno.test(`${name}: removed flows stop matching, also after they were looked up`, () => {
    const rng = new Prng(7);
    const impl = create();
    const ref = new ReferenceClassifier();
    const flows = randomFlows(rng, 400, 6, false);
    install(impl, ref, flows);
    const packets = randomPackets(rng, flows, 3000, false);
    checkAll(impl, ref, packets.keys, packets.maps, 3000, true);
    for (let i = 0; i < flows.length; i += 2) {
      impl.remove(flows[i].slot);
      ref.remove(flows[i].slot);
    }
    checkAll(impl, ref, packets.keys, packets.maps, 3000, true);
    for (let i = 1; i < flows.length; i += 2) {
      impl.remove(flows[i].slot);
      ref.remove(flows[i].slot);
    }
    const { hits } = checkAll(impl, ref, packets.keys, packets.maps, 3000, true);
    assert.equal(hits, 0);
  });

  Deno.test(`${name}: a reused slot never answers for the flow it held before`, () => {
    const rng = new Prng(31337);
    const impl = create();
    const ref = new ReferenceClassifier();
    const [a, b] = randomFlows(rng, 2, 2, false);
    const packets = randomPackets(rng, [a], 200, false);
    impl.insert(5, a.key, a.mask);
    ref.insert(5, a.key, a.mask);
    checkAll(impl, ref, packets.keys, packets.maps, 200, true);
    impl.remove(5);
    ref.remove(5);
    impl.insert(5, b.key, b.mask);
    ref.insert(5, b.key, b.mask);
    checkAll(impl, ref, packets.keys, packets.maps, 200, true);
  });

  Deno.test(`${name}: stays correct across re-rankings with shifting traffic`, () => {
    const rng = new Prng(2024);
    const impl = create();
    const ref = new ReferenceClassifier();
    const flows = randomFlows(rng, 300, 10, false);
    install(impl, ref, flows);
    for (let phase = 0; phase < 4; phase++) {
      const hot = flows.filter((_, i) => i % 4 === phase);
      const packets = randomPackets(rng, hot, 10000, false);
      checkAll(impl, ref, packets.keys, packets.maps, 10000, true);
    }
  });

  Deno.test(`${name}: a flow with an exact mask on every used word`, () => {
    const rng = new Prng(5);
    const impl = create();
    const ref = new ReferenceClassifier();
    const mask = new Uint32Array(KEY_WORDS);
    mask.fill(0xffffffff, 0, USED_WORDS);
    const key = new Uint32Array(KEY_WORDS);
    for (let w = 0; w < USED_WORDS; w++) key[w] = rng.next();
    impl.insert(0, key, mask);
    ref.insert(0, key, mask);
    const keys = new Uint32Array(KEY_WORDS * 2);
    keys.set(key, 0);
    keys.set(key, KEY_WORDS);
    keys[KEY_WORDS + 40] ^= 1;
    const maps = new Uint32Array([0xffffffff, 0x03ffffff, 0xffffffff, 0x03ffffff]);
    checkAll(impl, ref, keys, maps, 2, true);
    assert.equal(impl.lookup(keys, 0, maps, 0), 0);
    assert.equal(impl.lookup(keys, KEY_WORDS, maps, 2), -1);
  });
}
