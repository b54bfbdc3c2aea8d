/**
 * A {@linkcode MemoryPool} with guard zones: buffers alternate with guard
 * slots of the same size filled with a known pattern, so any write before a
 * buffer's start (below its headroom) or past its end lands in a guard, and
 * {@linkcode GuardedPool.damagedGuard} finds it. The packet fuzzer runs the
 * memory backend over it.
 *
 * Layout: guard, buffer 0, guard, buffer 1, ..., buffer N-1, guard.
 *
 * @module
 */

import { MemoryPool } from "../datapath/memory_pool.ts";

/** The byte every guard slot holds. */
export const GUARD_BYTE = 0xa5;
const GUARD_WORD = 0xa5a5a5a5;

/** Options for {@linkcode GuardedPool}. */
export interface GuardedPoolOptions {
  /** Usable buffers. Default 512. */
  capacity?: number;
  /** Bytes per buffer including headroom (a multiple of 4). Default 2304. */
  bufferSize?: number;
  /** Headroom of a fresh packet. Default 128. */
  headroom?: number;
}

/** A memory pool whose buffers are fenced by guard slots, with checks of them. */
export class GuardedPool extends MemoryPool {
  readonly #words: Uint32Array;

  /** Creates the pool with every guard filled and every buffer free. */
  constructor(options: GuardedPoolOptions = {}) {
    const bufferSize = options.bufferSize ?? 2304;
    const headroom = options.headroom ?? 128;
    if (bufferSize % 4 !== 0 || bufferSize <= headroom) {
      throw new RangeError("GuardedPool: bufferSize must be a multiple of 4 above headroom");
    }
    super({ capacity: options.capacity ?? 512, bufferSize, headroom, guardByte: GUARD_BYTE });
    this.#words = new Uint32Array(this.bytes.buffer);
  }

  /** Fills every free buffer (headroom included) with `byte`; guards are left alone. */
  fillFreeBuffers(byte: number): void {
    for (let h = 0; h < this.capacity; h++) {
      if (!this.isAllocated(h)) this.bytes.fill(byte, this.bufferStart(h), this.bufferEnd(h));
    }
  }

  /**
   * The first guard byte that no longer holds the pattern, as a description
   * ("guard before buffer 3, byte 2297"), or null when every guard is intact.
   * Restores the damaged guard so later checks see only new damage.
   */
  damagedGuard(): string | null {
    const words = this.#words;
    const perSlot = this.bufferSize >> 2;
    for (let g = 0; g <= this.capacity; g++) {
      const from = 2 * g * perSlot;
      for (let w = from; w < from + perSlot; w++) {
        if (words[w] !== GUARD_WORD) {
          const at = this.#firstBadByte(w);
          this.bytes.fill(GUARD_BYTE, from * 4, (from + perSlot) * 4);
          const where = g === this.capacity
            ? `guard after buffer ${g - 1}`
            : `guard before buffer ${g}`;
          return `${where}, byte ${at - from * 4} of ${this.bufferSize} changed`;
        }
      }
    }
    return null;
  }

  #firstBadByte(word: number): number {
    for (let b = word * 4; b < word * 4 + 4; b++) if (this.bytes[b] !== GUARD_BYTE) return b;
    return word * 4;
  }
}
