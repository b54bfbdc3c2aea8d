/**
 * The in-memory `dummy` port (also the `internal` local port), after Open
 * vSwitch's lib/netdev-dummy.c: tests and the REST API make frames arrive
 * with {@linkcode DummyPort.inject}, and everything the datapath transmits
 * is kept in a bounded capture buffer read with
 * {@linkcode DummyPort.transmitted}.
 *
 * Options (all strings, as `ovs-dpctl add-if` passes them):
 * - `capture_limit`: frames the capture buffer keeps, default 1024. When it
 *   is full the oldest frame is discarded and counted in
 *   {@linkcode DummyPort.captureDropped} (the frame still counts as
 *   transmitted). `0` keeps nothing: a pure sink that allocates nothing.
 * - `rx_limit`: frames each rx queue holds before {@linkcode DummyPort.inject}
 *   refuses more (counted in rx_dropped), default 1024.
 * - `n_rxq`: number of rx queues, default 1.
 *
 * @module
 */

import { DpifError } from "./errors.ts";
import { W_IN_PORT } from "./flow_key.ts";
import { BATCH_SIZE, META_SHIFT, type PacketBatch } from "./packet_batch.ts";
import type { PacketPool } from "./packet_pool.ts";
import { type Port, type PortOptions, type PortStats } from "./port.ts";

/** Default of the `capture_limit` option. */
export const DEFAULT_CAPTURE_LIMIT = 1024;
/** Default of the `rx_limit` option. */
export const DEFAULT_RX_LIMIT = 1024;
/** Largest accepted `n_rxq`. */
export const MAX_DUMMY_RX_QUEUES = 16;

/** One rx queue: a ring of buffer handles and lengths. */
class RxRing {
  readonly handle: Int32Array;
  readonly length: Int32Array;
  head = 0;
  count = 0;

  constructor(limit: number) {
    this.handle = new Int32Array(limit);
    this.length = new Int32Array(limit);
  }
}

/** A port living in memory: frames in by injection, frames out to a capture buffer. */
export class DummyPort implements Port {
  readonly name: string;
  readonly type: string;
  readonly options: PortOptions;
  portNo = 0;
  readonly rxQueues: number;
  /** The pool received frames are copied into. */
  readonly pool: PacketPool;
  /** Frames the capture buffer holds at most (the `capture_limit` option). */
  readonly captureLimit: number;
  readonly #rx: RxRing[];
  readonly #handleScratch = new Int32Array(1);
  /** Captured frames in a ring: oldest at #captureHead. */
  readonly #capture: (Uint8Array | undefined)[];
  #captureHead = 0;
  #captureCount = 0;
  #captureDropped = 0;
  #closed = false;
  #rxPackets = 0;
  #rxBytes = 0;
  #rxDropped = 0;
  #rxErrors = 0;
  #txPackets = 0;
  #txBytes = 0;
  #txDropped = 0;

  /**
   * Creates a port of type "dummy" (or "internal" for the local port).
   * @throws {DpifError} EINVAL naming the option for an unknown option or a
   *   bad value.
   */
  constructor(
    name: string,
    pool: PacketPool,
    options: { type?: "dummy" | "internal"; options?: PortOptions } = {},
  ) {
    this.name = name;
    this.type = options.type ?? "dummy";
    this.pool = pool;
    const given = options.options ?? {};
    for (const key of Object.keys(given)) {
      if (key !== "capture_limit" && key !== "rx_limit" && key !== "n_rxq") {
        throw new DpifError("EINVAL", `${name}: unknown ${this.type} option '${key}'`);
      }
    }
    this.captureLimit = parseCount(name, given, "capture_limit", DEFAULT_CAPTURE_LIMIT, 0, 1 << 20);
    const rxLimit = parseCount(name, given, "rx_limit", DEFAULT_RX_LIMIT, 1, 1 << 16);
    this.rxQueues = parseCount(name, given, "n_rxq", 1, 1, MAX_DUMMY_RX_QUEUES);
    this.options = { ...given };
    this.#rx = [];
    for (let q = 0; q < this.rxQueues; q++) this.#rx.push(new RxRing(rxLimit));
    this.#capture = new Array(this.captureLimit);
  }

  /**
   * Copies `frame` into a fresh buffer of the pool and queues it on rx queue
   * `queue` (default 0). Returns false, keeping nothing, when the frame does
   * not fit a buffer after the headroom (counted in rx_errors), or when the
   * queue is full, the pool is empty or the port is closed (rx_dropped).
   * Frames shorter than an Ethernet header are accepted: the datapath counts
   * them as short_frame drops.
   * @throws {RangeError} when `queue` is not one of the port's rx queues.
   */
  inject(frame: Uint8Array, queue = 0): boolean {
    const ring = this.#rxRing(queue);
    if (this.#closed || ring.count >= ring.handle.length) {
      this.#rxDropped++;
      return false;
    }
    const pool = this.pool;
    if (pool.allocBulk(this.#handleScratch, 0, 1) !== 1) {
      this.#rxDropped++;
      return false;
    }
    const handle = this.#handleScratch[0];
    const start = pool.bufferStart(handle) + pool.headroom;
    if (frame.length > pool.bufferEnd(handle) - start) {
      pool.free(handle);
      this.#rxErrors++;
      return false;
    }
    pool.bytes.set(frame, start);
    const slot = (ring.head + ring.count) % ring.handle.length;
    ring.handle[slot] = handle;
    ring.length[slot] = frame.length;
    ring.count++;
    return true;
  }

  /** Frames waiting on rx queue `queue` (default 0). */
  pending(queue = 0): number {
    return this.#rxRing(queue).count;
  }

  /**
   * Moves queued frames into `batch` (see {@linkcode Port.receive}); returns
   * 0 for an unknown queue.
   * @throws {TypeError} when `batch` belongs to another pool than the port's.
   */
  receive(queue: number, batch: PacketBatch): number {
    const ring = this.#rx[queue];
    if (ring === undefined || ring.count === 0) return 0;
    if (batch.pool !== this.pool) {
      throw new TypeError(`${this.name}: receive into a batch of another pool`);
    }
    const room = BATCH_SIZE - batch.count;
    const n = ring.count < room ? ring.count : room;
    const headroom = this.pool.headroom;
    const limit = ring.handle.length;
    const portNo = this.portNo;
    for (let k = 0; k < n; k++) {
      const handle = ring.handle[ring.head];
      const length = ring.length[ring.head];
      const i = batch.push(handle, this.pool.bufferStart(handle) + headroom, length);
      batch.meta[(i << META_SHIFT) + W_IN_PORT] = portNo;
      this.#rxBytes += length;
      ring.head = ring.head + 1 === limit ? 0 : ring.head + 1;
    }
    ring.count -= n;
    this.#rxPackets += n;
    return n;
  }

  /**
   * Copies every frame of `batch` into the capture buffer (unless
   * `capture_limit` is 0), counts it as transmitted, frees its buffer and
   * empties the batch. Any tx queue number is accepted. After close, frames
   * are freed and counted in tx_dropped. Its queue is never full: returns 0.
   */
  transmit(_queue: number, batch: PacketBatch): number {
    const count = batch.count;
    if (this.#closed) {
      this.#txDropped += count;
      batch.freeAll();
      return 0;
    }
    const bytes = batch.pool.bytes;
    const limit = this.captureLimit;
    for (let i = 0; i < count; i++) {
      const offset = batch.offset[i];
      const length = batch.length[i];
      this.#txBytes += length;
      if (limit > 0) {
        // Capture copies: this port is a test and control-plane backend.
        const copy = bytes.slice(offset, offset + length);
        if (this.#captureCount === limit) {
          this.#capture[this.#captureHead] = copy;
          this.#captureHead = this.#captureHead + 1 === limit ? 0 : this.#captureHead + 1;
          this.#captureDropped++;
        } else {
          this.#capture[(this.#captureHead + this.#captureCount) % limit] = copy;
          this.#captureCount++;
        }
      }
    }
    this.#txPackets += count;
    batch.freeAll();
    return 0;
  }

  /** Captured transmitted frames, oldest first (a fresh array of the stored copies). */
  transmitted(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let k = 0; k < this.#captureCount; k++) {
      out.push(this.#capture[(this.#captureHead + k) % this.captureLimit]!);
    }
    return out;
  }

  /** Empties the capture buffer (the counters are kept). */
  clearTransmitted(): void {
    this.#capture.fill(undefined);
    this.#captureHead = 0;
    this.#captureCount = 0;
  }

  /** Transmitted frames discarded because the capture buffer was full. */
  get captureDropped(): number {
    return this.#captureDropped;
  }

  stats(): PortStats {
    return {
      rx_packets: this.#rxPackets,
      rx_bytes: this.#rxBytes,
      rx_dropped: this.#rxDropped,
      rx_errors: this.#rxErrors,
      tx_packets: this.#txPackets,
      tx_bytes: this.#txBytes,
      tx_dropped: this.#txDropped,
      tx_errors: 0,
    };
  }

  /**
   * Frees every queued rx frame and drops the capture. Afterwards inject
   * refuses frames and transmit frees them (tx_dropped). Closing twice is a
   * no-op.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ring of this.#rx) {
      const limit = ring.handle.length;
      for (let k = 0; k < ring.count; k++) this.pool.free(ring.handle[(ring.head + k) % limit]);
      ring.head = 0;
      ring.count = 0;
    }
    this.clearTransmitted();
  }

  #rxRing(queue: number): RxRing {
    const ring = this.#rx[queue];
    if (ring === undefined) {
      throw new RangeError(`${this.name}: no rx queue ${queue} (n_rxq is ${this.rxQueues})`);
    }
    return ring;
  }
}

/** Parses an integer option within [min, max], or returns the default. */
function parseCount(
  portName: string,
  options: PortOptions,
  key: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = options[key];
  if (text === undefined) return fallback;
  const value = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw new DpifError(
      "EINVAL",
      `${portName}: option '${key}' must be an integer in ${min}..${max}, got '${text}'`,
    );
  }
  return value;
}
