/**
 * An in-memory {@linkcode PacketPool}: fixed-size slots in one ArrayBuffer
 * and a stack of free slots. The `dummy` backend and tests use it. With
 * `guardByte`, buffers alternate with guard slots of the same size filled
 * with that byte (guard, buffer 0, guard, ..., buffer N-1, guard), so a
 * write outside a buffer lands in a guard (the packet fuzzer checks them).
 *
 * @module
 */

import type { PacketPool } from "./packet_pool.ts";

/** Options for {@linkcode MemoryPool}. */
export interface MemoryPoolOptions {
  /** Number of buffers. Default 4096. */
  capacity?: number;
  /** Size of each buffer including headroom, in bytes. Default 2304. */
  bufferSize?: number;
  /** Headroom in front of a fresh packet. Default 128 (as in DPDK). */
  headroom?: number;
  /** When set, every buffer is fenced by guard slots holding this byte. Default none. */
  guardByte?: number;
}

/** A pool of packet buffers in an ArrayBuffer. */
export class MemoryPool implements PacketPool {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly headroom: number;
  readonly capacity: number;
  /** Size of each buffer in bytes, headroom included. */
  readonly bufferSize: number;
  /** Bytes from one buffer's start to the next (bufferSize, twice that with guards). */
  readonly #stride: number;
  /** Where buffer 0 starts (0, or after the first guard). */
  readonly #first: number;
  readonly #freeStack: Int32Array;
  readonly #allocated: Uint8Array;
  #freeCount: number;

  /** Creates a pool; all buffers start free. */
  constructor(options: MemoryPoolOptions = {}) {
    this.capacity = options.capacity ?? 4096;
    this.bufferSize = options.bufferSize ?? 2304;
    this.headroom = options.headroom ?? 128;
    if (!(this.capacity > 0 && this.bufferSize > this.headroom)) {
      throw new RangeError("MemoryPool: bad capacity, bufferSize or headroom");
    }
    const guarded = options.guardByte !== undefined;
    this.#stride = guarded ? 2 * this.bufferSize : this.bufferSize;
    this.#first = guarded ? this.bufferSize : 0;
    const slots = guarded ? 2 * this.capacity + 1 : this.capacity;
    const buffer = new ArrayBuffer(slots * this.bufferSize);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    if (guarded) this.bytes.fill(options.guardByte!);
    this.#freeStack = new Int32Array(this.capacity);
    this.#allocated = new Uint8Array(this.capacity);
    for (let i = 0; i < this.capacity; i++) {
      this.#freeStack[i] = this.capacity - 1 - i;
    }
    this.#freeCount = this.capacity;
  }

  allocBulk(handles: Int32Array, start: number, count: number): number {
    const n = count < this.#freeCount ? count : this.#freeCount;
    for (let i = 0; i < n; i++) {
      const handle = this.#freeStack[--this.#freeCount];
      this.#allocated[handle] = 1;
      handles[start + i] = handle;
    }
    return n;
  }

  free(handle: number): void {
    if (!(handle >= 0 && handle < this.capacity) || !this.#allocated[handle]) {
      throw new RangeError(`MemoryPool: free of a buffer not allocated (${handle})`);
    }
    this.#allocated[handle] = 0;
    this.#freeStack[this.#freeCount++] = handle;
  }

  bufferStart(handle: number): number {
    return handle * this.#stride + this.#first;
  }

  bufferEnd(handle: number): number {
    return handle * this.#stride + this.#first + this.bufferSize;
  }

  /** True while buffer `handle` is allocated. */
  isAllocated(handle: number): boolean {
    return this.#allocated[handle] === 1;
  }

  available(): number {
    return this.#freeCount;
  }

  inUse(): number {
    return this.capacity - this.#freeCount;
  }
}
