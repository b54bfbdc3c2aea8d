/**
 * Turning a received burst of mbuf pointers into batch entries: the one
 * per-packet loop every DPDK receive path shares (the control thread's
 * DpdkPort and a PMD thread's port).
 *
 * Per packet it reads three mbuf header fields at 32-bit offsets from the
 * pool's base; no pointer, view or BigInt is created.
 *
 * @module
 */

import {
  W_DP_HASH,
  W_IN_PORT,
  W_RECIRC_ID,
  W_SKB_MARK,
  W_SKB_PRIORITY,
  W_TUN_IPV4_DST,
  W_TUN_IPV6_DST,
} from "../datapath/flow_key.ts";
import { META_SHIFT, type PacketBatch } from "../datapath/packet_batch.ts";
import type { MbufPool } from "./mbuf_pool.ts";
import { MBUF } from "./offsets.ts";

/** Counts from one {@linkcode moveBurstToBatch} call; reuse one object per port. */
export interface BurstCounts {
  /**
   * Packets not moved: on receive, chained (multi-segment) mbufs left at the
   * front of `stage` for the caller to free; on transmit, bad handles or
   * regions (already dealt with).
   */
  rejected: number;
  /** Bytes of the packets moved into the batch. */
  bytes: number;
}

/**
 * Moves `n` received mbufs, whose pointers are the 64-bit entries of `stage`
 * (read as pairs of 32-bit words), into `batch` with in_port `portNo` and the
 * other metadata zeroed (tunnel words as Port.receive allows); the pool adopts each one. Chained mbufs are not
 * moved: their pointers are compacted to the front of `stage` and counted in
 * `counts.rejected` so the caller frees them in one call and counts the error.
 * The caller has checked that `n` fits in the batch.
 */
export function moveBurstToBatch(
  pool: MbufPool,
  stage: Uint32Array,
  n: number,
  batch: PacketBatch,
  portNo: number,
  counts: BurstCounts,
): void {
  const base = pool.baseLo;
  const u16 = pool.u16;
  const u32 = pool.u32;
  const meta = batch.meta;
  let chained = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const handle = (stage[i << 1] - base) | 0;
    if (u16[(handle + MBUF.NB_SEGS) >>> 1] !== 1) {
      // Slow path: a chained mbuf; keep its pointer at the front to free them together.
      stage[chained << 1] = stage[i << 1];
      stage[(chained << 1) + 1] = stage[(i << 1) + 1];
      chained++;
      continue;
    }
    const length = u16[(handle + MBUF.DATA_LEN) >>> 1];
    const data = ((u32[(handle + MBUF.BUF_ADDR) >>> 2] - base) | 0) +
      u16[(handle + MBUF.DATA_OFF) >>> 1];
    pool.adopt(handle);
    // batch.push inlined: TypedArray.fill per packet costs more than these stores.
    const j = batch.count++;
    batch.handle[j] = handle;
    batch.offset[j] = data;
    batch.length[j] = length;
    batch.l3[j] = -1;
    batch.l4[j] = -1;
    // Only the words that always count (LIVE_META_WORDS): the tunnel words
    // mean nothing while the tunnel destination is zero. 10 stores, not 28.
    const m = j << META_SHIFT;
    meta[m + W_IN_PORT] = portNo;
    meta[m + W_RECIRC_ID] = 0;
    meta[m + W_DP_HASH] = 0;
    meta[m + W_SKB_PRIORITY] = 0;
    meta[m + W_SKB_MARK] = 0;
    meta[m + W_TUN_IPV4_DST] = 0;
    meta[m + W_TUN_IPV6_DST] = 0;
    meta[m + W_TUN_IPV6_DST + 1] = 0;
    meta[m + W_TUN_IPV6_DST + 2] = 0;
    meta[m + W_TUN_IPV6_DST + 3] = 0;
    bytes += length;
  }
  counts.rejected = chained;
  counts.bytes = bytes;
}

/**
 * Stages every packet of `batch` for a tx burst: writes its data offset and
 * lengths back into its mbuf header, releases it from the pool's tracking
 * and writes its pointer into `stage` (and its length into `lengths`).
 * Empties the batch and returns how many were staged. A handle the pool does
 * not hold is left alone, and a region outside its buffer is freed; both
 * count in `counts.rejected`, as tx errors.
 */
export function stageBatchForTx(
  pool: MbufPool,
  batch: PacketBatch,
  stage: Uint32Array,
  lengths: Int32Array,
  counts: BurstCounts,
): number {
  const base = pool.baseLo;
  const u16 = pool.u16;
  const u32 = pool.u32;
  const n = batch.count;
  let errors = 0;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const handle = batch.handle[i];
    const length = batch.length[i];
    if (!pool.holds(handle)) {
      errors++; // not a buffer TypeScript holds: leave it alone
      continue;
    }
    const start = (u32[(handle + MBUF.BUF_ADDR) >>> 2] - base) | 0;
    const dataOff = batch.offset[i] - start;
    if (dataOff < 0 || length <= 0 || dataOff + length > u16[(handle + MBUF.BUF_LEN) >>> 1]) {
      pool.free(handle); // slow path: a region outside its buffer
      errors++;
      continue;
    }
    pool.release(handle);
    u16[(handle + MBUF.DATA_OFF) >>> 1] = dataOff;
    u16[(handle + MBUF.DATA_LEN) >>> 1] = length;
    u32[(handle + MBUF.PKT_LEN) >>> 2] = length;
    pool.writePointer(stage, k, handle);
    lengths[k++] = length;
  }
  batch.count = 0;
  counts.rejected = errors;
  return k;
}
