/** Tests of PacketBatch: copying frames in, moving packets between batches. */

import assert from "node:assert/strict";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { BATCH_SIZE, META_SHIFT, PacketBatch } from "../datapath/packet_batch.ts";

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
