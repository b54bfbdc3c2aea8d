import assert from "node:assert/strict";
import { DpifError } from "../datapath/errors.ts";
import { KEY_WORDS, newKeys, W_ETH_TYPE, W_IN_PORT, W_NW_DST, W_TP } from "../datapath/flow_key.ts";
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
