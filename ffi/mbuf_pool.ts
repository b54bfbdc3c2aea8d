/**
 * A DPDK mbuf pool as a {@linkcode PacketPool}: `rte_pktmbuf_pool_create`,
 * its memory wrapped once as an ArrayBuffer, packets addressed by 32-bit
 * offsets into it.
 *
 * A handle is the byte offset of an mbuf header from the start of the pool's
 * memory (`lo32(mbuf) - lo32(base)`); the buffer and data offsets come from
 * the header (`buf_addr`, `buf_len`, `data_off`). Pools stay under 2 GiB so
 * every offset is a small integer: no BigInt and no view per packet.
 *
 * Ownership: the pool tracks which mbufs TypeScript holds (allocated here or
 * received by a port). Freeing an mbuf it does not hold throws a RangeError
 * instead of corrupting DPDK's memory.
 *
 * @module
 */

import type { PacketPool } from "../datapath/packet_pool.ts";
import { cString } from "./eal.ts";
import { loadDpdk } from "./loader.ts";
import { MBUF, MEMPOOL, MEMPOOL_MEMHDR, PKTMBUF_HEADROOM } from "./offsets.ts";
import { check } from "./status.ts";

/** Options of {@linkcode MbufPool.create}. */
export interface MbufPoolOptions {
  /**
   * Unique mempool name (DPDK limits it to 25 characters). Default
   * `dpif_<pid>_<isolate tag>_<n>`.
   */
  name?: string;
  /** Number of mbufs; 2^k - 1 uses memory best. Default 8191. */
  capacity?: number;
  /** Per-lcore cache size (at most 512 and capacity / 1.5). Default 256. */
  cacheSize?: number;
  /** Headroom + data bytes per mbuf. Default 2176 (128 headroom + 2048). */
  dataRoom?: number;
  /** NUMA socket, -1 for any. Default -1. */
  socketId?: number;
}

/** Largest pool memory: offsets must fit in a signed 32-bit integer. */
const MAX_POOL_BYTES = 0x7fffffff;
/** mbufs handed to C per call; staging arrays hold this many pointers. */
const STAGE = 32;
let poolSerial = 0;
/**
 * Tells this module instance's default pool names from another isolate's
 * in the same process (each Worker, and each test file under `deno test`,
 * loads its own copy of this module, its serial starting at 0 again): with
 * the pid alone, the second isolate's first pool hit EEXIST when the first
 * one's was still alive.
 */
const isolateTag = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, "0");

/** A pool of DPDK mbufs viewed as one ArrayBuffer. */
export class MbufPool implements PacketPool {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly headroom = PKTMBUF_HEADROOM;
  readonly capacity: number;
  /** The mempool's name. */
  readonly name: string;
  /** `struct rte_mempool *`, for rx queue setup. */
  readonly mempool: Deno.PointerObject;
  /** Low 32 bits of the memory's base address (handles are offsets from it). */
  readonly baseLo: number;
  /** High 32 bits of the base address. */
  readonly baseHi: number;
  /** Uint16 / Uint32 views of `bytes`, for reading mbuf headers by offset. */
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  /** Whether this pool must free the mempool on close (false when looked up). */
  readonly #owned: boolean;
  /** `owner[handle >>> 7] === handle + 1` while TypeScript holds the mbuf. */
  readonly #holder: Int32Array;
  readonly #poolSlot = new BigUint64Array(1);
  readonly #stage = new BigUint64Array(STAGE);
  readonly #stageBytes = new Uint8Array(this.#stage.buffer);
  readonly #stage32 = new Uint32Array(this.#stage.buffer);
  readonly #lib = loadDpdk();
  #closed = false;

  private constructor(mempool: Deno.PointerObject, name: string, owned: boolean) {
    this.mempool = mempool;
    this.name = name;
    this.#owned = owned;
    const pool = new Deno.UnsafePointerView(mempool);
    this.capacity = pool.getUint32(MEMPOOL.SIZE);
    const chunks = pool.getUint32(MEMPOOL.NB_MEM_CHUNKS);
    // Wrap the span covering every memory chunk (usually exactly one).
    let lo = 0n;
    let hi = 0n;
    let header = pool.getPointer(MEMPOOL.MEM_LIST);
    for (let i = 0; i < chunks && header !== null; i++) {
      const view = new Deno.UnsafePointerView(header);
      const addr = view.getBigUint64(MEMPOOL_MEMHDR.ADDR);
      const end = addr + view.getBigUint64(MEMPOOL_MEMHDR.LEN);
      if (i === 0 || addr < lo) lo = addr;
      if (end > hi) hi = end;
      header = view.getPointer(MEMPOOL_MEMHDR.NEXT);
    }
    const length = Number(hi - lo);
    if (!(length > 0 && length <= MAX_POOL_BYTES)) {
      throw new RangeError(`MbufPool ${name}: memory span of ${length} bytes is not in 1..2 GiB`);
    }
    const buffer = Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(lo)!, length);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.u16 = new Uint16Array(buffer, 0, length >>> 1);
    this.u32 = new Uint32Array(buffer, 0, length >>> 2);
    this.baseLo = Number(lo & 0xffffffffn);
    this.baseHi = Number(lo >> 32n);
    this.#holder = new Int32Array((length >>> 7) + 1);
    this.#poolSlot[0] = BigInt(Deno.UnsafePointer.value(mempool));
  }

  /**
   * Creates a pool with `rte_pktmbuf_pool_create` (the EAL must be up).
   * Throws a DpdkError when DPDK refuses (EEXIST for a taken name, ENOMEM),
   * a RangeError for bad options or memory over 2 GiB.
   */
  static create(options: MbufPoolOptions = {}): MbufPool {
    const name = options.name ?? `dpif_${Deno.pid}_${isolateTag}_${poolSerial++}`;
    const capacity = options.capacity ?? 8191;
    const cacheSize = options.cacheSize ?? Math.min(256, Math.floor(capacity / 1.5));
    const dataRoom = options.dataRoom ?? 2048 + PKTMBUF_HEADROOM;
    if (!(Number.isInteger(capacity) && capacity > 0)) {
      throw new RangeError(`MbufPool capacity must be a positive integer, got ${capacity}`);
    }
    if (!(Number.isInteger(dataRoom) && dataRoom > PKTMBUF_HEADROOM && dataRoom <= 0xffff)) {
      throw new RangeError(`MbufPool dataRoom must be in ${PKTMBUF_HEADROOM + 1}..65535`);
    }
    const { mbuf } = loadDpdk();
    const mempool = check(
      "rte_pktmbuf_pool_create",
      mbuf.rte_pktmbuf_pool_create(
        cString(name),
        capacity,
        cacheSize,
        0,
        dataRoom,
        options.socketId ?? -1,
      ),
      { detail: name },
    );
    try {
      return new MbufPool(mempool, name, true);
    } catch (error) {
      loadDpdk().mempool.rte_mempool_free(mempool);
      throw error;
    }
  }

  /**
   * Attaches to an existing pool by name (e.g. from a Worker). The returned
   * pool does not free the mempool on close and tracks only what its own
   * isolate holds. Throws a DpdkError (ENOENT) when no pool has that name.
   */
  static lookup(name: string): MbufPool {
    const mempool = check(
      "rte_mempool_lookup",
      loadDpdk().mempool.rte_mempool_lookup(cString(name)),
    );
    return new MbufPool(mempool, name, false);
  }

  allocBulk(handles: Int32Array, start: number, count: number): number {
    const alloc = this.#lib.shim.dpif_alloc_bulk;
    const stage = this.#stage32;
    const base = this.baseLo;
    let done = 0;
    while (done < count) {
      const want = count - done < STAGE ? count - done : STAGE;
      const got = alloc(this.#poolSlot, this.#stageBytes, want);
      for (let i = 0; i < got; i++) {
        const handle = (stage[i << 1] - base) | 0;
        this.#holder[handle >>> 7] = handle + 1;
        handles[start + done + i] = handle;
      }
      done += got;
      if (got < want) break;
    }
    return done;
  }

  free(handle: number): void {
    if (!this.release(handle)) {
      throw new RangeError(`MbufPool ${this.name}: free of an mbuf not held (${handle})`);
    }
    this.writePointer(this.#stage32, 0, handle);
    this.#lib.mbuf.rte_pktmbuf_free_bulk(this.#stageBytes, 1);
  }

  bufferStart(handle: number): number {
    return (this.u32[(handle + MBUF.BUF_ADDR) >>> 2] - this.baseLo) | 0;
  }

  bufferEnd(handle: number): number {
    return this.bufferStart(handle) + this.u16[(handle + MBUF.BUF_LEN) >>> 1];
  }

  available(): number {
    return loadDpdk().mempool.rte_mempool_avail_count(this.mempool);
  }

  inUse(): number {
    return loadDpdk().mempool.rte_mempool_in_use_count(this.mempool);
  }

  /** True when TypeScript holds the mbuf at `handle`. */
  holds(handle: number): boolean {
    return handle >= 0 && handle < this.bytes.length && this.#holder[handle >>> 7] === handle + 1;
  }

  /** Records that TypeScript now holds `handle` (a port received it). */
  adopt(handle: number): void {
    this.#holder[handle >>> 7] = handle + 1;
  }

  /**
   * Forgets `handle` as held (it goes to a PMD or back to DPDK). Returns false,
   * changing nothing, when it was not held.
   */
  release(handle: number): boolean {
    if (!this.holds(handle)) return false;
    this.#holder[handle >>> 7] = 0;
    return true;
  }

  /** Writes the 64-bit address of `handle` into slot `slot` of a pointer array viewed as Uint32. */
  writePointer(pointers: Uint32Array, slot: number, handle: number): void {
    const sum = this.baseLo + handle;
    pointers[slot << 1] = sum >>> 0;
    pointers[(slot << 1) + 1] = this.baseHi + (sum > 0xffffffff ? 1 : 0);
  }

  /**
   * Frees the mempool (pools from {@linkcode lookup} are only forgotten).
   * Close the ports using it first; `bytes` must not be used afterwards.
   * Throws a RangeError while mbufs are still in use.
   */
  close(): void {
    if (this.#closed) return;
    const inUse = this.inUse();
    if (this.#owned && inUse !== 0) {
      throw new RangeError(`MbufPool ${this.name}: ${inUse} mbufs still in use`);
    }
    this.#closed = true;
    if (this.#owned) loadDpdk().mempool.rte_mempool_free(this.mempool);
  }
}
