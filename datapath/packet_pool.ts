/**
 * The packet pool interface: fixed-size packet buffers in one contiguous
 * memory region, addressed by integer handles and byte offsets.
 *
 * Both backends implement it: {@linkcode MemoryPool} (an ArrayBuffer, the
 * `dummy` backend) and the DPDK mbuf pool (mempool memory wrapped once as an
 * ArrayBuffer). The fast path never creates views per packet: it reads and
 * writes `bytes` / `view` at absolute offsets.
 *
 * @module
 */

/** A pool of packet buffers living in one memory region. */
export interface PacketPool {
  /** The whole memory region; packet offsets index into it. */
  readonly bytes: Uint8Array;
  /** A DataView over the same region as `bytes`. */
  readonly view: DataView;
  /** Bytes reserved in front of a fresh packet, for pushing headers. */
  readonly headroom: number;
  /** Total number of buffers in the pool. */
  readonly capacity: number;
  /**
   * Allocates up to `count` buffers, writing their handles into
   * `handles[start ..]`. Returns how many were allocated (0 when empty).
   * A fresh packet starts at `bufferStart(handle) + headroom` with length 0.
   */
  allocBulk(handles: Int32Array, start: number, count: number): number;
  /** Returns one buffer to the pool. Freeing a free buffer throws. */
  free(handle: number): void;
  /** Absolute offset in `bytes` of the first byte of the buffer. */
  bufferStart(handle: number): number;
  /** Absolute offset in `bytes` one past the last byte of the buffer. */
  bufferEnd(handle: number): number;
  /** Buffers currently free. */
  available(): number;
  /** Buffers currently allocated (capacity - available). */
  inUse(): number;
}
