import assert from "node:assert/strict";
import { DpifError } from "../datapath/errors.ts";
import {
  KEY_WORDS,
  newKeys,
  W_ETH_TYPE,
  W_IN_PORT,
  W_NW_DST,
  W_NW_SRC,
  W_TP,
} from "../datapath/flow_key.ts";
import { Megaflow, RERANK_INTERVAL } from "../datapath/megaflow.ts";
import { lookupConformance, Prng, randomFlows, randomPackets } from "./lookup_conformance.ts";

lookupConformance("megaflow", () => {
  const megaflow = new Megaflow(16);
  return {
    lookup: (keys, keyOffset, maps, mapOffset) => megaflow.lookup(keys, keyOffset, maps, mapOffset),
    insert: (slot, key, mask) => megaflow.insert(slot, key, 0, mask, 0),
    remove: (slot) => assert.ok(megaflow.remove(slot)),
  };
});

function udpFlow(inPort: number, dst: number, port: number | null) {
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  key[W_IN_PORT] = inPort;
  mask[W_IN_PORT] = 0xffffffff;
  key[W_ETH_TYPE] = 0x0800;
  mask[W_ETH_TYPE] = 0xffff;
  key[W_NW_DST] = dst;
  mask[W_NW_DST] = 0xffffff00;
  if (port !== null) {
    key[W_TP] = port;
    mask[W_TP] = 0xffff;
  }
  return { key, mask };
}

function packet(inPort: number, dst: number, tp: number): Uint32Array {
  const key = new Uint32Array(KEY_WORDS);
  key[W_IN_PORT] = inPort;
  key[W_ETH_TYPE] = 0x0800;
  key[W_NW_DST] = dst;
  key[W_TP] = tp;
  return key;
}

const noMaps = new Uint32Array(2);

Deno.test("megaflow: one subtable per distinct mask, dropped when empty", () => {
  const mf = new Megaflow();
  const a = udpFlow(1, 0x0a000100, null);
  const b = udpFlow(2, 0x0a000200, null);
  const c = udpFlow(1, 0x0a000300, 53);
  mf.insert(0, a.key, 0, a.mask, 0);
  mf.insert(1, b.key, 0, b.mask, 0);
  assert.equal(mf.maskCount, 1);
  mf.insert(2, c.key, 0, c.mask, 0);
  assert.equal(mf.maskCount, 2);
  assert.equal(mf.flowCount, 3);
  assert.equal(mf.lookup(packet(1, 0x0a000105, 9), 0, noMaps, 0), 0);
  assert.equal(mf.lookup(packet(1, 0x0a000305, 53), 0, noMaps, 0), 2);
  assert.equal(mf.lookup(packet(1, 0x0a000305, 54), 0, noMaps, 0), -1);
  assert.equal(mf.lookup(packet(3, 0x0a000105, 9), 0, noMaps, 0), -1);
  assert.ok(mf.remove(2));
  assert.equal(mf.maskCount, 1);
  assert.equal(mf.remove(2), false);
  assert.equal(mf.remove(12345), false);
  assert.equal(mf.remove(-1), false);
});

Deno.test("megaflow: duplicate match is EEXIST, used or bad slot is RangeError", () => {
  const mf = new Megaflow();
  const a = udpFlow(1, 0x0a000100, null);
  mf.insert(0, a.key, 0, a.mask, 0);
  const same = udpFlow(1, 0x0a0001ff, null); // differs only outside the mask
  assert.throws(
    () => mf.insert(1, same.key, 0, same.mask, 0),
    (e) => e instanceof DpifError && e.code === "EEXIST",
  );
  const other = udpFlow(1, 0x0a000900, null);
  assert.throws(() => mf.insert(0, other.key, 0, other.mask, 0), RangeError);
  assert.throws(() => mf.insert(-1, other.key, 0, other.mask, 0), RangeError);
  assert.throws(() => mf.insert(1.5, other.key, 0, other.mask, 0), RangeError);
  assert.throws(() => mf.insert(1, other.key, 10, other.mask, 0), RangeError);
  assert.equal(mf.find(same.key, 0, same.mask, 0), 0);
  assert.equal(mf.find(other.key, 0, other.mask, 0), -1);
});

Deno.test("megaflow: readKey / readMask give back the masked key and mask", () => {
  const mf = new Megaflow();
  const a = udpFlow(7, 0x0a0001ff, 80);
  mf.insert(3, a.key, 0, a.mask, 0);
  const out = newKeys(2).fill(0xdeadbeef);
  mf.readKey(3, out, KEY_WORDS);
  mf.readMask(3, out, 0);
  assert.deepEqual(out.subarray(0, KEY_WORDS), a.mask);
  const expected = a.key.map((v, w) => v & a.mask[w]);
  assert.deepEqual(out.subarray(KEY_WORDS), expected);
  assert.throws(() => mf.readKey(4, out, 0), RangeError);
});

Deno.test("megaflow: many flows survive growth and interleaved removals", () => {
  const mf = new Megaflow(16);
  const n = 5000;
  const flows = Array.from({ length: n }, (_, i) => udpFlow(1 + (i & 3), i << 8, null));
  flows.forEach((f, i) => mf.insert(i, f.key, 0, f.mask, 0));
  for (let i = 0; i < n; i += 3) assert.ok(mf.remove(i));
  for (let i = 0; i < n; i++) {
    const got = mf.lookup(packet(1 + (i & 3), (i << 8) | 7, 1), 0, noMaps, 0);
    assert.equal(got, i % 3 === 0 ? -1 : i, `flow ${i}`);
  }
  for (let i = 0; i < n; i += 3) mf.insert(i, flows[i].key, 0, flows[i].mask, 0);
  for (let i = 0; i < n; i++) {
    assert.equal(mf.lookup(packet(1 + (i & 3), i << 8, 1), 0, noMaps, 0), i);
  }
  assert.equal(mf.flowCount, n);
});

Deno.test("megaflow: n_mask_hit counts subtables probed; ranking moves the hot one first", () => {
  const mf = new Megaflow();
  // Ten masks: each flow has a different tp mask width, only the last is hit.
  for (let i = 0; i < 10; i++) {
    const f = udpFlow(1, 0x0a000000 + (i << 8), 80);
    f.mask[W_TP] = 0xffff >>> i;
    f.key[W_TP] = 80 & f.mask[W_TP];
    mf.insert(i, f.key, 0, f.mask, 0);
  }
  const hot = packet(1, 0x0a000905, 80);
  const before = mf.lookup(hot, 0, noMaps, 0);
  assert.equal(before, 9);
  const probedFirst = mf.maskHits;
  assert.equal(probedFirst, 10, "the 10th subtable found it");
  for (let i = 0; i < RERANK_INTERVAL; i++) mf.lookup(hot, 0, noMaps, 0);
  const start = mf.maskHits;
  mf.lookup(hot, 0, noMaps, 0);
  assert.equal(mf.maskHits - start, 1, "after ranking the hot subtable is probed first");
  assert.equal(mf.hits, RERANK_INTERVAL + 2);
  mf.lookup(packet(9, 0, 0), 0, noMaps, 0);
  assert.equal(mf.misses, 1);
});

Deno.test("megaflow: lookupBatch equals per-key lookup", () => {
  const rng = new Prng(77);
  const mf = new Megaflow();
  const flows = randomFlows(rng, 200, 6, false);
  for (const f of flows) mf.insert(f.slot, f.key, 0, f.mask, 0);
  const { keys, maps } = randomPackets(rng, flows, 32, false);
  const out = new Int32Array(32);
  mf.lookupBatch(keys, 32, out);
  for (let i = 0; i < 32; i++) assert.equal(out[i], mf.lookup(keys, i * KEY_WORDS, maps, 2 * i));
});

Deno.test("megaflow: lookupBatch with a want mask answers only those keys, counts only them", () => {
  const rng = new Prng(78);
  const mf = new Megaflow();
  const flows = randomFlows(rng, 200, 6, false);
  for (const f of flows) mf.insert(f.slot, f.key, 0, f.mask, 0);
  const { keys, maps } = randomPackets(rng, flows, 32, false);
  const out = new Int32Array(32).fill(-7);
  const want = 0x8000_0005 | 0; // keys 0, 2 and 31
  mf.lookupBatch(keys, 32, out, want);
  assert.equal(mf.hits + mf.misses, 3);
  for (let i = 0; i < 32; i++) {
    const expected = (want & (1 << i)) !== 0 ? mf.lookup(keys, i * KEY_WORDS, maps, 2 * i) : -7;
    assert.equal(out[i], expected, `key ${i}`);
  }
});

Deno.test("megaflow: clear empties it and slots can be reused", () => {
  const mf = new Megaflow();
  const a = udpFlow(1, 0x0a000100, null);
  mf.insert(0, a.key, 0, a.mask, 0);
  mf.clear();
  assert.equal(mf.flowCount, 0);
  assert.equal(mf.maskCount, 0);
  assert.equal(mf.lookup(packet(1, 0x0a000101, 0), 0, noMaps, 0), -1);
  mf.insert(0, a.key, 0, a.mask, 0);
  assert.equal(mf.lookup(packet(1, 0x0a000101, 0), 0, noMaps, 0), 0);
});

lookupConformance("megaflow, signature cache off", () => {
  const megaflow = new Megaflow(16, { cacheEntries: 0 });
  return {
    lookup: (keys, keyOffset) => megaflow.lookup(keys, keyOffset),
    insert: (slot, key, mask) => megaflow.insert(slot, key, 0, mask, 0),
    remove: (slot) => assert.ok(megaflow.remove(slot)),
  };
});

/** Flow j of a set over `masks` masks: nw_dst = j (so no two overlap), nw_src prefix by mask. */
function sweepFlow(j: number, masks: number) {
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  const m = j % masks;
  key[W_IN_PORT] = 1;
  mask[W_IN_PORT] = 0xffffffff;
  key[W_ETH_TYPE] = 0x0800;
  mask[W_ETH_TYPE] = 0xffff;
  key[W_NW_DST] = j;
  mask[W_NW_DST] = 0xffffffff;
  key[W_NW_SRC] = Math.imul(j, 0x9e3779b1) >>> 0;
  mask[W_NW_SRC] = (0xffffffff << m) >>> 0;
  return { key, mask };
}

function lookupSweep(mf: Megaflow, n: number, masks: number, live: (j: number) => boolean) {
  for (let j = 0; j < n; j++) {
    const { key } = sweepFlow(j, masks);
    key[W_TP] = j * 7; // noise outside every mask
    assert.equal(mf.lookup(key, 0), live(j) ? j : -1, `flow ${j}`);
  }
}

Deno.test("megaflow: the signature cache answers repeat lookups in one probe", () => {
  const mf = new Megaflow(16);
  for (let j = 0; j < 2000; j++) {
    const { key, mask } = sweepFlow(j, 8);
    mf.insert(j, key, 0, mask, 0);
  }
  lookupSweep(mf, 2000, 8, () => true);
  const hits0 = mf.hits, probes0 = mf.maskHits, cached0 = mf.cacheHits;
  lookupSweep(mf, 2000, 8, () => true);
  assert.ok(mf.cacheHits - cached0 > 1900, `cache hits ${mf.cacheHits - cached0} of 2000`);
  assert.ok((mf.maskHits - probes0) / (mf.hits - hits0) < 1.2);
  const off = new Megaflow(16, { cacheEntries: 0 });
  for (let j = 0; j < 2000; j++) {
    const { key, mask } = sweepFlow(j, 8);
    off.insert(j, key, 0, mask, 0);
  }
  lookupSweep(off, 2000, 8, () => true);
  lookupSweep(off, 2000, 8, () => true);
  assert.equal(off.cacheHits, 0);
  assert.ok(off.maskHits / off.hits > 4, "8 evenly hit masks average 4.5 probes");
});

Deno.test("megaflow: deletes and slot reuse between lookups never answer a removed flow", () => {
  const mf = new Megaflow(16);
  const n = 3000;
  for (let j = 0; j < n; j++) {
    const { key, mask } = sweepFlow(j, 6);
    mf.insert(j, key, 0, mask, 0);
  }
  lookupSweep(mf, n, 6, () => true); // the cache now names every flow
  for (let j = 0; j < n; j += 2) assert.ok(mf.remove(j));
  lookupSweep(mf, n, 6, (j) => j % 2 === 1);
  // Reuse the freed slots for other flows (other keys, other masks): old
  // cache entries point at moved or reused buckets and must not answer.
  for (let j = 0; j < n; j += 2) {
    const { key, mask } = sweepFlow(j + n, 5);
    mf.insert(j, key, 0, mask, 0);
  }
  lookupSweep(mf, n, 6, (j) => j % 2 === 1);
  for (let j = 0; j < n; j += 2) {
    const { key } = sweepFlow(j + n, 5);
    assert.equal(mf.lookup(key, 0), j);
  }
  const out = new Int32Array(32);
  const keys = new Uint32Array(32 * KEY_WORDS);
  for (let i = 0; i < 32; i++) keys.set(sweepFlow(i, 6).key, i * KEY_WORDS);
  mf.lookupBatch(keys, 32, out);
  for (let i = 0; i < 32; i++) assert.equal(out[i], i % 2 === 1 ? i : -1);
});

Deno.test("megaflow: a subtable grows with its flows and shrinks when they go", () => {
  const mf = new Megaflow(16);
  const small = mf.byteSize();
  for (let j = 0; j < 8192; j++) {
    const { key, mask } = sweepFlow(j, 1);
    mf.insert(j, key, 0, mask, 0);
  }
  const big = mf.byteSize();
  assert.ok(big > small + 8192 * 20, `grew from ${small} to ${big} bytes`);
  for (let j = 8; j < 8192; j++) assert.ok(mf.remove(j));
  assert.ok(mf.byteSize() < big - 8192 * 20, `shrank to ${mf.byteSize()} bytes`);
  lookupSweep(mf, 8192, 1, (j) => j < 8);
  for (let j = 8; j < 100; j++) {
    const { key, mask } = sweepFlow(j, 1);
    mf.insert(j, key, 0, mask, 0);
  }
  lookupSweep(mf, 200, 1, (j) => j < 100);
});

Deno.test("megaflow: insertUnique adds once and names the twin", () => {
  const mf = new Megaflow(16);
  const a = udpFlow(1, 0x0a000100, 53);
  assert.equal(mf.insertUnique(4, a.key, 0, a.mask, 0), -1);
  assert.equal(mf.insertUnique(5, a.key, 0, a.mask, 0), 4);
  assert.equal(mf.flowCount, 1);
  assert.ok(!mf.has(5));
  assert.throws(() => mf.insertUnique(4, a.key, 0, a.mask, 0), RangeError);
});
