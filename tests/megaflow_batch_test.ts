/**
 * Megaflow.lookupBatch against the brute-force ReferenceClassifier on random
 * masks and keys: batches of up to 32 packets with random `want` masks,
 * through deletes and reinserts (other keys and masks in the freed slots,
 * so stale signature-cache entries and moved buckets are hit), with the
 * signature cache on and off and with 1 to 40 masks. This covers the
 * batched path's phases (cache hash, cache read, bucket touch, verify) and
 * its subtable-by-subtable search.
 */

import assert from "node:assert/strict";
import { KEY_WORDS } from "../datapath/flow_key.ts";
import { Megaflow } from "../datapath/megaflow.ts";
import { Prng, randomFlows, randomPackets, type TestFlow } from "./lookup_conformance.ts";
import { ReferenceClassifier } from "./reference_classifier.ts";

/** Runs `rounds` random batches, comparing every wanted answer with the reference. */
function checkBatches(
  mf: Megaflow,
  ref: ReferenceClassifier,
  flows: TestFlow[],
  rng: Prng,
  rounds: number,
): number {
  const out = new Int32Array(32);
  let hits = 0;
  for (let r = 0; r < rounds; r++) {
    const count = 1 + rng.below(32);
    const { keys } = randomPackets(rng, flows, count, false);
    const want = rng.below(4) === 0 ? rng.next() | 0 : -1;
    out.fill(-7);
    const before = mf.hits + mf.misses;
    mf.lookupBatch(keys, count, out, want);
    let wanted = 0;
    for (let i = 0; i < 32; i++) {
      if (i >= count || (want & (1 << i)) === 0) {
        assert.equal(out[i], -7, `round ${r} key ${i}: not asked, must be left alone`);
        continue;
      }
      wanted++;
      const expected = ref.matches(keys, i * KEY_WORDS);
      assert.equal(out[i], expected.length === 0 ? -1 : expected[0], `round ${r} key ${i}`);
      if (out[i] >= 0) hits++;
    }
    assert.equal(mf.hits + mf.misses - before, wanted, `round ${r}: counted lookups`);
  }
  return hits;
}

for (const cacheEntries of [undefined, 0]) {
  for (const [flowCount, maskCount] of [[300, 1], [600, 3], [900, 10], [900, 40]]) {
    const label = `${flowCount} flows over ${maskCount} masks, cache ${cacheEntries ?? "on"}`;
    Deno.test(`megaflow lookupBatch: ${label}, deletes and reinserts match brute force`, () => {
      const rng = new Prng(flowCount * 31 + maskCount + (cacheEntries ?? 1));
      const mf = new Megaflow(16, cacheEntries === undefined ? {} : { cacheEntries });
      const ref = new ReferenceClassifier();
      // Non-overlapping, so every packet has at most one right answer.
      const all = randomFlows(rng, flowCount * 2, maskCount, false);
      const live = all.slice(0, flowCount);
      const spare = all.slice(flowCount);
      for (const f of live) {
        mf.insert(f.slot, f.key, 0, f.mask, 0);
        ref.insert(f.slot, f.key, f.mask);
      }
      assert.ok(checkBatches(mf, ref, live, rng, 120) > 500, "packets should mostly hit");
      checkBatches(mf, ref, live, rng, 60); // again: from the cache

      // Delete every other flow: cached entries now name moved or empty buckets.
      const kept: TestFlow[] = [];
      const freed: number[] = [];
      live.forEach((f, j) => {
        if (j % 2 === 0) {
          assert.ok(mf.remove(f.slot));
          ref.remove(f.slot);
          freed.push(f.slot);
        } else {
          kept.push(f);
        }
      });
      checkBatches(mf, ref, live, rng, 80); // packets of deleted flows must miss

      // Reinsert other flows (other keys, maybe other masks) into the freed slots.
      const again: TestFlow[] = [];
      for (let j = 0; j < freed.length && j < spare.length; j++) {
        const f = { ...spare[j], slot: freed[j] };
        mf.insert(f.slot, f.key, 0, f.mask, 0);
        ref.insert(f.slot, f.key, f.mask);
        again.push(f);
      }
      const now = [...kept, ...again];
      checkBatches(mf, ref, [...now, ...live], rng, 120);
      checkBatches(mf, ref, now, rng, 60);
    });
  }
}

Deno.test("megaflow lookupBatch: a batch of packets of the same flow, and empty batches", () => {
  const rng = new Prng(5);
  const mf = new Megaflow();
  const ref = new ReferenceClassifier();
  const flows = randomFlows(rng, 50, 4, false);
  for (const f of flows) {
    mf.insert(f.slot, f.key, 0, f.mask, 0);
    ref.insert(f.slot, f.key, f.mask);
  }
  const { keys } = randomPackets(rng, [flows[7]], 1, false);
  const batch = new Uint32Array(32 * KEY_WORDS);
  for (let i = 0; i < 32; i++) batch.set(keys.subarray(0, KEY_WORDS), i * KEY_WORDS);
  const out = new Int32Array(32);
  const expected = ref.matches(keys, 0);
  for (let pass = 0; pass < 2; pass++) {
    mf.lookupBatch(batch, 32, out);
    for (let i = 0; i < 32; i++) assert.equal(out[i], expected.length ? expected[0] : -1);
  }
  const before = mf.hits + mf.misses;
  mf.lookupBatch(batch, 0, out);
  mf.lookupBatch(batch, 32, out, 0);
  assert.equal(mf.hits + mf.misses, before);
});
