/**
 * The pipeline's whole-batch fast paths (datapath/pipeline.ts): a batch
 * whose every packet hit a flow of in-place steps + one output to the same
 * port goes to that port as a batch, and a batch recirculated after
 * tnl_pop moves whole (PacketBatch.moveAllFrom). Checked here: order kept,
 * failed steps freed and counted, flow stats per flow, the pool whole.
 */

import assert from "node:assert/strict";
import {
  BENCH_IN_PORT,
  BENCH_OUT_PORT,
  buildDatapath,
  exactFlows,
  udpFlowFrames,
  VXLAN_PUSH_ACTIONS,
  vxlanFrames,
  vxlanPopFlows,
} from "../bench/datapath_bench.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { BATCH_SIZE, META_SHIFT, PacketBatch } from "../datapath/packet_batch.ts";
import { W_IN_PORT, W_TUN_IPV4_DST, W_TUN_TP } from "../datapath/flow_key.ts";

/** A batch of `frames` on port 1; frame i without headroom when `bare(i)`. */
function batchOf(pool: MemoryPool, frames: Uint8Array[], bare: (i: number) => boolean) {
  const batch = new PacketBatch(pool);
  const handles = new Int32Array(frames.length);
  assert.equal(pool.allocBulk(handles, 0, frames.length), frames.length);
  for (let i = 0; i < frames.length; i++) {
    const at = pool.bufferStart(handles[i]) + (bare(i) ? 0 : pool.headroom);
    pool.bytes.set(frames[i], at);
    const j = batch.push(handles[i], at, frames[i].length);
    batch.meta[(j << META_SHIFT) + W_IN_PORT] = BENCH_IN_PORT;
  }
  return batch;
}

Deno.test("direct batch: failed tnl_push packets are dropped, the rest leave in order", () => {
  const pool = new MemoryPool({ capacity: 256 });
  const frames = udpFlowFrames(BATCH_SIZE);
  const dp = buildDatapath(
    { name: "t", note: "", flows: exactFlows(BATCH_SIZE, VXLAN_PUSH_ACTIONS), frames },
    pool,
    BATCH_SIZE,
  );
  try {
    const free = pool.available();
    // Odd packets start at their buffer's first byte: no room for the header.
    dp.pipeline.processBatch(batchOf(pool, frames, (i) => i % 2 === 1));
    const out = dp.dummyPort(BENCH_OUT_PORT).transmitted();
    assert.equal(out.length, BATCH_SIZE / 2);
    for (let k = 0; k < out.length; k++) {
      // 50 bytes of VXLAN header, then the even frames in their order.
      assert.deepEqual(out[k].subarray(50), frames[2 * k], `output ${k}`);
    }
    assert.equal(dp.stats().drops.tunnel_push_error, BATCH_SIZE / 2);
    assert.equal(pool.available(), free);
    const flows = dp.dumpFlows(null, 100).flows;
    assert.equal(flows.reduce((sum, f) => sum + f.stats.packets, 0), BATCH_SIZE);
    assert.ok(flows.every((f) => f.stats.packets === 1));
  } finally {
    dp.close();
  }
});

Deno.test("direct batch: tnl_pop recirculates the whole batch with its tunnel metadata", () => {
  const pool = new MemoryPool({ capacity: 256 });
  const inner = udpFlowFrames(BATCH_SIZE);
  const frames = vxlanFrames(inner);
  const dp = buildDatapath({ name: "t", note: "", flows: vxlanPopFlows(), frames }, pool, 64);
  try {
    const free = pool.available();
    dp.pipeline.processBatch(batchOf(pool, frames, () => false));
    const out = dp.dummyPort(BENCH_OUT_PORT).transmitted();
    assert.equal(out.length, BATCH_SIZE);
    for (let k = 0; k < BATCH_SIZE; k++) assert.deepEqual(out[k], inner[k], `output ${k}`);
    assert.equal(Object.values(dp.stats().drops).reduce((a, b) => a + b, 0), 0);
    assert.equal(pool.available(), free);
  } finally {
    dp.close();
  }
});

Deno.test("PacketBatch.moveAllFrom moves every packet and every metadata word", () => {
  const pool = new MemoryPool({ capacity: 64 });
  const source = new PacketBatch(pool);
  for (let i = 0; i < 5; i++) {
    const j = source.pushCopy(new Uint8Array(60).fill(i));
    source.meta[(j << META_SHIFT) + W_TUN_IPV4_DST] = 0x0a000000 + i;
    source.meta[(j << META_SHIFT) + W_TUN_TP] = 4789 + i;
    source.l3[j] = 14;
    source.l4[j] = 34 + i;
  }
  const target = new PacketBatch(pool);
  target.moveAllFrom(source);
  assert.equal(source.count, 0);
  assert.equal(target.count, 5);
  for (let i = 0; i < 5; i++) {
    assert.equal(pool.bytes[target.offset[i]], i);
    assert.equal(target.length[i], 60);
    assert.equal(target.l4[i], 34 + i);
    assert.equal(target.meta[(i << META_SHIFT) + W_TUN_IPV4_DST], 0x0a000000 + i);
    assert.equal(target.meta[(i << META_SHIFT) + W_TUN_TP], 4789 + i);
  }
  target.freeAll();
  assert.equal(pool.available(), pool.capacity);
});
