/**
 * A batch of up to {@linkcode BATCH_SIZE} packets: the unit of work of the
 * datapath, like Open vSwitch's `struct dp_packet_batch`.
 *
 * A packet is a region `[offset, offset + length)` of its pool's `bytes`,
 * the buffer `handle` it lives in, and {@linkcode META_WORDS} words of
 * metadata laid out as the first words of a flow key (in_port, recirc_id,
 * dp_hash, skb_priority, skb_mark, tunnel metadata). All of it is kept in
 * typed arrays indexed by the packet's position: nothing is allocated per
 * packet. The tunnel words mean something only while a tunnel destination
 * is set (FIRST_TUNNEL_WORD in ./flow_key.ts), so moving a packet without a
 * tunnel copies 10 metadata words, not 28.
 *
 * Ownership: the holder of a batch owns its packets. Every packet must leave
 * a batch in exactly one way: transmitted by a port, freed (a counted drop),
 * moved to another batch, or copied into an upcall and freed.
 *
 * @module
 */

import {
  FIRST_TUNNEL_WORD,
  META_WORDS,
  W_DP_HASH,
  W_IN_PORT,
  W_RECIRC_ID,
  W_SKB_MARK,
  W_SKB_PRIORITY,
  W_TUN_IPV4_DST,
  W_TUN_IPV6_DST,
} from "./flow_key.ts";
import type { PacketPool } from "./packet_pool.ts";

/** Most packets a batch holds (NETDEV_MAX_BURST in OVS). */
export const BATCH_SIZE = 32;
/** Words of metadata per packet slot: META_WORDS rounded up to a power of two. */
export const META_STRIDE = 32;
/** `log2(META_STRIDE)`. */
export const META_SHIFT = 5;

/** Scratch for {@linkcode PacketBatch.pushCopy}'s single allocation. */
const ONE_HANDLE = new Int32Array(1);

/** Up to 32 packets of one pool with their metadata. */
export class PacketBatch {
  /** The pool every packet of this batch lives in. */
  readonly pool: PacketPool;
  /** Number of packets, 0..BATCH_SIZE. Packets are at indices 0..count-1. */
  count = 0;
  /** Buffer handle of each packet (what the pool frees). */
  readonly handle: Int32Array = new Int32Array(BATCH_SIZE);
  /** Absolute offset in `pool.bytes` of each packet's first byte. */
  readonly offset: Int32Array = new Int32Array(BATCH_SIZE);
  /** Length of each packet in bytes. */
  readonly length: Int32Array = new Int32Array(BATCH_SIZE);
  /**
   * Metadata of each packet: packet `i` at word `i << META_SHIFT`, in the
   * flow-key metadata layout (word W_IN_PORT, W_RECIRC_ID, ...).
   */
  readonly meta: Uint32Array = new Uint32Array(BATCH_SIZE * META_STRIDE);
  /**
   * Offset of each packet's L3 header from its first byte, or -1. Set by
   * flow-key extraction; actions that move headers keep it valid.
   */
  readonly l3: Int32Array = new Int32Array(BATCH_SIZE);
  /** Offset of each packet's L4 header from its first byte, or -1. As `l3`. */
  readonly l4: Int32Array = new Int32Array(BATCH_SIZE);

  /** Creates an empty batch over a pool. */
  constructor(pool: PacketPool) {
    this.pool = pool;
  }

  /** True when no more packets fit. */
  isFull(): boolean {
    return this.count >= BATCH_SIZE;
  }

  /**
   * Appends a packet with zeroed metadata and returns its index. The caller
   * must check {@linkcode isFull} first; the batch takes ownership.
   */
  push(handle: number, offset: number, length: number): number {
    const i = this.count++;
    this.handle[i] = handle;
    this.offset[i] = offset;
    this.length[i] = length;
    this.l3[i] = -1;
    this.l4[i] = -1;
    this.meta.fill(0, i << META_SHIFT, (i << META_SHIFT) + META_WORDS);
    return i;
  }

  /**
   * Copies `frame` into a fresh buffer of the pool, just after its headroom,
   * and appends it with zeroed metadata. Returns its index, or -1 when the
   * batch is full or the pool has no free buffer (nothing is kept then).
   * Slow path: injection, packet-out and tests.
   * @throws {RangeError} when the frame is larger than a buffer's room after
   * the headroom (the buffer is returned first).
   */
  pushCopy(frame: Uint8Array): number {
    if (this.count >= BATCH_SIZE) return -1;
    const pool = this.pool;
    if (pool.allocBulk(ONE_HANDLE, 0, 1) !== 1) return -1;
    const handle = ONE_HANDLE[0];
    const start = pool.bufferStart(handle) + pool.headroom;
    if (start + frame.length > pool.bufferEnd(handle)) {
      pool.free(handle);
      throw new RangeError(`a frame of ${frame.length} bytes does not fit a packet buffer`);
    }
    pool.bytes.set(frame, start);
    return this.push(handle, start, frame.length);
  }

  /**
   * Appends packet `i` of `source` (buffer, region and metadata) and returns
   * its index here. Ownership moves with it: the caller must then forget the
   * packet in `source` (usually by resetting `source.count`).
   *
   * The tunnel words are copied only when the packet has a tunnel
   * destination (otherwise they are meaningless, see FIRST_TUNNEL_WORD):
   * copying all 28 words made this 11 % of a 1,000-flow DPDK profile.
   */
  pushFrom(source: PacketBatch, i: number): number {
    const j = this.pushPacket(source, i);
    const from = i << META_SHIFT;
    const to = j << META_SHIFT;
    const sm = source.meta;
    const dm = this.meta;
    dm[to + W_IN_PORT] = sm[from + W_IN_PORT];
    dm[to + W_RECIRC_ID] = sm[from + W_RECIRC_ID];
    dm[to + W_DP_HASH] = sm[from + W_DP_HASH];
    dm[to + W_SKB_PRIORITY] = sm[from + W_SKB_PRIORITY];
    dm[to + W_SKB_MARK] = sm[from + W_SKB_MARK];
    const v4 = dm[to + W_TUN_IPV4_DST] = sm[from + W_TUN_IPV4_DST];
    const v6a = dm[to + W_TUN_IPV6_DST] = sm[from + W_TUN_IPV6_DST];
    const v6b = dm[to + W_TUN_IPV6_DST + 1] = sm[from + W_TUN_IPV6_DST + 1];
    const v6c = dm[to + W_TUN_IPV6_DST + 2] = sm[from + W_TUN_IPV6_DST + 2];
    const v6d = dm[to + W_TUN_IPV6_DST + 3] = sm[from + W_TUN_IPV6_DST + 3];
    if ((v4 | v6a | v6b | v6c | v6d) !== 0) {
      for (let w = FIRST_TUNNEL_WORD; w < META_WORDS; w++) dm[to + w] = sm[from + w];
    }
    return j;
  }

  /**
   * Appends packet `i` of `source` without its metadata (the new slot's
   * metadata is left as it was) and returns its index here; ownership moves
   * as with {@linkcode pushFrom}. Only for batches whose metadata nobody
   * reads: transmit queues (a port's `transmit` reads buffers, offsets and
   * lengths only).
   */
  pushPacket(source: PacketBatch, i: number): number {
    const j = this.count++;
    this.handle[j] = source.handle[i];
    this.offset[j] = source.offset[i];
    this.length[j] = source.length[i];
    this.l3[j] = source.l3[i];
    this.l4[j] = source.l4[i];
    return j;
  }

  /**
   * Moves every packet of `source` (buffers, regions, L3/L4 offsets and all
   * metadata words) into this batch, which must be empty and over the same
   * pool, and empties `source`. Ownership moves as with
   * {@linkcode pushFrom}.
   *
   * Whole-array copies (TypedArray.set of same-typed arrays: a memmove of
   * about 4.6 KB, no allocation) whatever the count: a tunnel packet's
   * pushFrom copies 33 words one by one, and recirculating after tnl_pop
   * through pushFrom was ~9% of the VXLAN pop case's profile.
   */
  moveAllFrom(source: PacketBatch): void {
    this.handle.set(source.handle);
    this.offset.set(source.offset);
    this.length.set(source.length);
    this.l3.set(source.l3);
    this.l4.set(source.l4);
    this.meta.set(source.meta);
    this.count = source.count;
    source.count = 0;
  }

  /** Frees every packet back to the pool and empties the batch. */
  freeAll(): void {
    for (let i = 0; i < this.count; i++) this.pool.free(this.handle[i]);
    this.count = 0;
  }
}
