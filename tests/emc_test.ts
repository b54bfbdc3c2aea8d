import assert from "node:assert/strict";
import { Emc, EMC_DEFAULT_ENTRIES, EMC_SECOND_SHIFT, hashKey } from "../datapath/emc.ts";
import { KEY_WORDS, W_IN_PORT, W_NW_DST, W_NW_SRC } from "../datapath/flow_key.ts";
import { Megaflow } from "../datapath/megaflow.ts";
import { lookupConformance, type LookupUnderTest } from "./lookup_conformance.ts";

/** The EMC as the pipeline uses it: a cache filled from the megaflow result. */
function cachedMegaflow(entries: number): LookupUnderTest & { emc: Emc } {
  const generation = new Uint32Array(4096);
  const megaflow = new Megaflow(16);
  const emc = new Emc(entries, generation);
  return {
    emc,
    lookup(keys, keyOffset, maps, mapOffset) {
      const hash = hashKey(keys, keyOffset, maps, mapOffset);
      const cached = emc.lookup(keys, keyOffset, maps, mapOffset, hash);
      if (cached >= 0) return cached;
      const slot = megaflow.lookup(keys, keyOffset, maps, mapOffset);
      if (slot >= 0) emc.insert(keys, keyOffset, maps, mapOffset, hash, slot);
      return slot;
    },
    insert: (slot, key, mask) => megaflow.insert(slot, key, 0, mask, 0),
    remove(slot) {
      assert.ok(megaflow.remove(slot));
      generation[slot]++;
    },
  };
}

lookupConformance("emc(8192) over megaflow", () => cachedMegaflow(8192));
lookupConformance("emc(4) over megaflow", () => cachedMegaflow(4));

function keyWith(src: number, dst: number): { key: Uint32Array; maps: Uint32Array } {
  const key = new Uint32Array(KEY_WORDS);
  key[W_IN_PORT] = 1;
  key[W_NW_SRC] = src;
  key[W_NW_DST] = dst;
  const maps = new Uint32Array(2);
  maps[0] = 1 << W_IN_PORT;
  maps[1] = (1 << (W_NW_SRC - 32)) | (1 << (W_NW_DST - 32));
  return { key, maps };
}

Deno.test("emc: miss when empty, hit after insert, miss for another key", () => {
  const generation = new Uint32Array(16);
  const emc = new Emc(64, generation);
  const a = keyWith(0x0a000001, 0x0a000002);
  const b = keyWith(0x0a000001, 0x0a000003);
  const ha = hashKey(a.key, 0, a.maps, 0);
  assert.equal(emc.lookup(a.key, 0, a.maps, 0, ha), -1);
  emc.insert(a.key, 0, a.maps, 0, ha, 7);
  assert.equal(emc.lookup(a.key, 0, a.maps, 0, ha), 7);
  assert.equal(emc.lookup(a.key, 0, a.maps, 0), 7, "hash computed when omitted");
  assert.equal(emc.hashKey(a.key, 0, a.maps, 0), ha);
  assert.equal(emc.lookup(b.key, 0, b.maps, 0), -1);
  assert.equal(emc.liveCount(), 1);
});

Deno.test("emc: bumping the slot generation invalidates cached entries", () => {
  const generation = new Uint32Array(16);
  const emc = new Emc(64, generation);
  const a = keyWith(1, 2);
  const h = hashKey(a.key, 0, a.maps, 0);
  emc.insert(a.key, 0, a.maps, 0, h, 3);
  generation[3]++;
  assert.equal(emc.lookup(a.key, 0, a.maps, 0, h), -1);
  assert.equal(emc.liveCount(), 0);
  emc.insert(a.key, 0, a.maps, 0, h, 3);
  assert.equal(emc.lookup(a.key, 0, a.maps, 0, h), 3, "re-inserted with the new generation");
});

Deno.test("emc: hashKey reads only mapped words; a word outside the map never matters", () => {
  const a = keyWith(1, 2);
  const before = hashKey(a.key, 0, a.maps, 0);
  a.key[50] = 0x1234; // not in the map
  assert.equal(hashKey(a.key, 0, a.maps, 0), before);
  a.key[W_NW_DST] = 3;
  assert.notEqual(hashKey(a.key, 0, a.maps, 0), before);
});

Deno.test("emc: a full cache evicts; the newest key hits and no key answers wrongly", () => {
  const generation = new Uint32Array(64);
  const emc = new Emc(2, generation);
  const keys = Array.from({ length: 40 }, (_, i) => keyWith(i, i * 7));
  keys.forEach((k, slot) => {
    emc.insert(k.key, 0, k.maps, 0, hashKey(k.key, 0, k.maps, 0), slot);
    assert.equal(emc.lookup(k.key, 0, k.maps, 0), slot, "the newest key is cached");
    assert.ok(emc.liveCount() <= 2);
  });
  let found = 0;
  keys.forEach((k, slot) => {
    const got = emc.lookup(k.key, 0, k.maps, 0);
    if (got >= 0) {
      assert.equal(got, slot);
      found++;
    }
  });
  assert.ok(found >= 1 && found <= 2);
  assert.ok(EMC_SECOND_SHIFT > 0 && EMC_SECOND_SHIFT < 32);
});

Deno.test("emc: re-inserting a cached key updates its slot in place", () => {
  const generation = new Uint32Array(16);
  const emc = new Emc(64, generation);
  const a = keyWith(9, 9);
  const h = hashKey(a.key, 0, a.maps, 0);
  emc.insert(a.key, 0, a.maps, 0, h, 1);
  emc.insert(a.key, 0, a.maps, 0, h, 2);
  assert.equal(emc.lookup(a.key, 0, a.maps, 0, h), 2);
  assert.equal(emc.liveCount(), 1);
  emc.clear();
  assert.equal(emc.lookup(a.key, 0, a.maps, 0, h), -1);
});

Deno.test("emc: entries must be a power of two", () => {
  const generation = new Uint32Array(1);
  assert.throws(() => new Emc(1000, generation), RangeError);
  assert.throws(() => new Emc(1, generation), RangeError);
  assert.throws(() => new Emc(8, [0] as unknown as Uint32Array), TypeError);
  assert.equal(new Emc(EMC_DEFAULT_ENTRIES, generation).entries, 8192);
});

Deno.test("emc over megaflow: a repeated packet is answered by the cache", () => {
  const impl = cachedMegaflow(64);
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  key[W_IN_PORT] = 1;
  mask[W_IN_PORT] = 0xffffffff;
  impl.insert(9, key, mask);
  const p = keyWith(5, 6);
  assert.equal(impl.lookup(p.key, 0, p.maps, 0), 9);
  assert.equal(impl.emc.liveCount(), 1);
  assert.equal(impl.emc.lookup(p.key, 0, p.maps, 0), 9);
  impl.remove(9);
  assert.equal(impl.emc.lookup(p.key, 0, p.maps, 0), -1);
  assert.equal(impl.lookup(p.key, 0, p.maps, 0), -1);
});
