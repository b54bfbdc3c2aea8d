/** Tests of PacketBatch: copying frames in, moving packets between batches. */

import assert from "node:assert/strict";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { BATCH_SIZE, META_SHIFT, PacketBatch } from "../datapath/packet_batch.ts";
import {
  META_WORDS,
  tunnelDstSet,
  W_IN_PORT,
  W_SKB_MARK,
  W_TUN_ID_LO,
  W_TUN_IPV6_DST,
} from "../datapath/flow_key.ts";

Deno.test("packet batch: pushCopy places the frame after the headroom with zeroed metadata", () => {
  const pool = new MemoryPool({ capacity: 4 });
  const batch = new PacketBatch(pool);
  batch.meta.fill(7);
  const i = batch.pushCopy(Uint8Array.of(1, 2, 3));
  assert.equal(i, 0);
  assert.equal(batch.offset[0], pool.bufferStart(batch.handle[0]) + pool.headroom);
  assert.deepEqual(
    pool.bytes.subarray(batch.offset[0], batch.offset[0] + 3),
    Uint8Array.of(1, 2, 3),
  );
  assert.equal(batch.length[0], 3);
  assert.equal(batch.meta[0 << META_SHIFT], 0);
  batch.freeAll();
  assert.equal(pool.inUse(), 0);
});

Deno.test("packet batch: pushCopy gives -1 on a full batch or an empty pool, keeping nothing", () => {
  const pool = new MemoryPool({ capacity: BATCH_SIZE + 2 });
  const batch = new PacketBatch(pool);
  for (let k = 0; k < BATCH_SIZE; k++) assert.equal(batch.pushCopy(new Uint8Array(60)), k);
  assert.equal(batch.pushCopy(new Uint8Array(60)), -1);
  assert.equal(pool.inUse(), BATCH_SIZE);
  const other = new PacketBatch(pool);
  assert.equal(other.pushCopy(new Uint8Array(60)), 0);
  assert.equal(other.pushCopy(new Uint8Array(60)), 1);
  assert.equal(other.pushCopy(new Uint8Array(60)), -1, "pool empty");
  batch.freeAll();
  other.freeAll();
  assert.equal(pool.inUse(), 0);
});

Deno.test("packet batch: pushCopy of a frame larger than a buffer throws and returns the buffer", () => {
  const pool = new MemoryPool({ capacity: 2, bufferSize: 256, headroom: 64 });
  const batch = new PacketBatch(pool);
  assert.equal(batch.pushCopy(new Uint8Array(192)), 0, "exactly fits");
  assert.throws(() => batch.pushCopy(new Uint8Array(193)), RangeError);
  assert.equal(batch.count, 1);
  assert.equal(pool.inUse(), 1);
  batch.freeAll();
});

Deno.test("packet batch: pushFrom moves tunnel words only with a tunnel destination", () => {
  const pool = new MemoryPool({ capacity: 4 });
  const source = new PacketBatch(pool);
  const target = new PacketBatch(pool);
  target.meta.fill(0xee); // stale words from earlier packets
  source.pushCopy(new Uint8Array(60));
  source.pushCopy(new Uint8Array(60));
  source.meta[W_IN_PORT] = 4;
  source.meta[W_SKB_MARK] = 9;
  source.meta[W_TUN_ID_LO] = 0x77; // no destination: meaningless
  const second = 1 << META_SHIFT;
  source.meta[second + W_TUN_ID_LO] = 0x55;
  source.meta[second + W_TUN_IPV6_DST + 3] = 1;
  target.pushFrom(source, 0);
  target.pushFrom(source, 1);
  source.count = 0;
  assert.equal(target.meta[W_IN_PORT], 4);
  assert.equal(target.meta[W_SKB_MARK], 9);
  assert.equal(tunnelDstSet(target.meta, 0), false, "no tunnel: stale tunnel words do not count");
  assert.ok(tunnelDstSet(target.meta, second));
  assert.deepEqual(
    target.meta.subarray(second, second + META_WORDS),
    source.meta.subarray(second, second + META_WORDS),
  );
  // pushPacket moves the buffer and region only.
  const tx = new PacketBatch(pool);
  tx.pushPacket(target, 0);
  assert.equal(tx.handle[0], target.handle[0]);
  assert.equal(tx.offset[0], target.offset[0]);
  assert.equal(tx.length[0], 60);
  target.freeAll();
  assert.equal(pool.inUse(), 0);
});
