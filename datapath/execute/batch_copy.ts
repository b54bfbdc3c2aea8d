/**
 * Copying packets between batches (clones for outputs that are not last,
 * clone(), check_pkt_len and recirc copies) and compacting a batch after
 * per-packet failures.
 *
 * A copy gets a fresh buffer from the same pool, the packet bytes placed
 * after the pool's headroom (less when the packet would not fit otherwise),
 * and the same metadata and L3/L4 offsets. Fast path: no allocation; the
 * byte copy is one `copyWithin`.
 *
 * @module
 */

import { META_WORDS } from "../flow_key.ts";
import { BATCH_SIZE, META_SHIFT, type PacketBatch } from "../packet_batch.ts";

/** Handles allocated by one bulk call; module scratch, reused. */
const scratchHandles = new Int32Array(BATCH_SIZE);

/**
 * Appends copies of every packet of `source` to `target` (which must be
 * empty and over the same pool), each cut to `truncLength` bytes when that is
 * >= 0. `source` is unchanged. Returns the number of packets that could not
 * be copied for lack of buffers (the caller counts DROP_NO_BUFFER).
 */
export function copyBatchInto(
  source: PacketBatch,
  target: PacketBatch,
  truncLength: number,
): number {
  const pool = source.pool;
  const n = source.count;
  const got = pool.allocBulk(scratchHandles, 0, n);
  for (let i = 0; i < got; i++) placeCopy(source, i, target, scratchHandles[i], truncLength);
  return n - got;
}

/**
 * Appends a copy of packet `i` of `source` to `target` (not full, same
 * pool). Returns false when the pool has no free buffer.
 */
export function copyPacketInto(source: PacketBatch, i: number, target: PacketBatch): boolean {
  if (source.pool.allocBulk(scratchHandles, 0, 1) !== 1) return false;
  placeCopy(source, i, target, scratchHandles[0], -1);
  return true;
}

function placeCopy(
  source: PacketBatch,
  i: number,
  target: PacketBatch,
  handle: number,
  truncLength: number,
): void {
  const pool = source.pool;
  let length = source.length[i];
  if (truncLength >= 0 && truncLength < length) length = truncLength;
  const bufferStart = pool.bufferStart(handle);
  const bufferEnd = pool.bufferEnd(handle);
  let at = bufferStart + pool.headroom;
  if (at + length > bufferEnd) {
    at = bufferEnd - length < bufferStart ? bufferStart : bufferEnd - length;
  }
  if (at + length > bufferEnd) length = bufferEnd - at; // same pool: cannot happen
  const from = source.offset[i];
  pool.bytes.copyWithin(at, from, from + length);
  const j = target.count++;
  target.handle[j] = handle;
  target.offset[j] = at;
  target.length[j] = length;
  target.l3[j] = source.l3[i];
  target.l4[j] = source.l4[i];
  const sm = source.meta, tm = target.meta;
  const s = i << META_SHIFT, t = j << META_SHIFT;
  for (let w = 0; w < META_WORDS; w++) tm[t + w] = sm[s + w];
}

/** Moves packet slot `from` of a batch to slot `to` (`to < from`), metadata included. */
export function moveSlot(batch: PacketBatch, from: number, to: number): void {
  batch.handle[to] = batch.handle[from];
  batch.offset[to] = batch.offset[from];
  batch.length[to] = batch.length[from];
  batch.l3[to] = batch.l3[from];
  batch.l4[to] = batch.l4[from];
  const meta = batch.meta;
  const s = from << META_SHIFT, t = to << META_SHIFT;
  for (let w = 0; w < META_WORDS; w++) meta[t + w] = meta[s + w];
}

/** Cuts every packet of a batch to at most `maxLength` bytes (no-op when < 0). */
export function truncateBatch(batch: PacketBatch, maxLength: number): void {
  if (maxLength < 0) return;
  for (let i = 0; i < batch.count; i++) {
    if (batch.length[i] > maxLength) batch.length[i] = maxLength;
  }
}
