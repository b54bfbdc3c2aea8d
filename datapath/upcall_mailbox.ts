/**
 * The hand-over of upcalls from a PMD Worker to the control thread through
 * shared memory: one mailbox per PMD, a SharedArrayBuffer holding a header
 * and the three arrays of an {@linkcode UpcallBatchView}.
 *
 * Why: in bench/pmd_upcall_bench.ts a report posted with `postMessage`
 * reached the control thread's `onmessage` 190 to 250 µs (p50) after the
 * PMD posted it, 1.3 to 1.9 ms at p99 (2-vCPU VM shared with other jobs;
 * a bare number posted from a Worker took as long); the mailbox's
 * `Atomics.notify` wakes the `Atomics.waitAsync` parked on the control
 * thread 20 to 30 µs (p50) after the fill, and costs the PMD no allocation
 * and no structured clone (the notify itself takes it ~12 µs). Service
 * options, miss to a woken reader: p50 1.2-1.3 ms before (1 ms naps and
 * the report), 0.21-0.29 ms after (with 50 µs naps, pmd_worker.ts).
 * Traced hop by hop later (bench/pmd_upcall_bench.ts): notify to the
 * waitAsync callback p50 40-65 µs, p99 ms (the control thread waiting for
 * a CPU other processes hold); a blocking `Atomics.wait` wakes in 22-42 µs,
 * a MessageChannel in 178: waitAsync is the fastest wake of an idle event
 * loop in Deno. Each fill also carries its upcalls' PMD queue times
 * (UM_QUEUED_AT), so a reader sees the whole hand-over in `queuedAt`.
 *
 * Protocol (single producer, single consumer, one slot): the mailbox is
 * EMPTY or FULL. The PMD fills it only when EMPTY ({@linkcode fill}: moves
 * what fits of its queued upcalls, then stores FULL and notifies); the
 * control thread drains it only when FULL ({@linkcode drainInto}: copies
 * the upcalls into the datapath's queue, then stores EMPTY). While it is
 * FULL the PMD keeps queuing in its own bounded queue, so a miss storm
 * costs one wake-up per fill, never one per upcall; the PMD also fills at
 * most once per UPCALL_REPORT_MS (pmd_worker.ts).
 *
 * @module
 */

import { KEY_WORDS } from "./flow_key.ts";
import { UPCALL_META_STRIDE, type UpcallBatchView, type UpcallQueue } from "./upcall_queue.ts";

/** Header word: EMPTY (0) or FULL (1); the control thread waits on it. */
const H_STATE = 0;
/** Header word: upcalls in the mailbox while FULL. */
const H_COUNT = 1;
/** Header word: upcall capacity. */
const H_CAPACITY = 2;
/** Header word: byte capacity (packets and userdata). */
const H_BYTE_CAPACITY = 3;
/** Header word: fills so far (wraps as an Int32). */
const H_FILLS = 4;
const HEADER_BYTES = 64;
const EMPTY = 0;
const FULL = 1;

/** Default upcall capacity of a mailbox: four ports' PMD queues (256 each). */
export const MAILBOX_UPCALLS = 1024;
/** Default byte capacity: MAILBOX_UPCALLS frames of 512 bytes (longer frames: fewer fit). */
export const MAILBOX_BYTES = 512 * 1024;

/** One PMD's upcall mailbox; both threads make one over the same buffer. */
export class UpcallMailbox {
  /** The shared memory (give it to the other thread). */
  readonly buffer: SharedArrayBuffer;
  readonly #header: Int32Array;
  readonly #view: UpcallBatchView;
  #watching = false;
  #failedDrains = 0;

  /**
   * Allocates a mailbox for `upcalls` upcalls and `bytes` bytes of packets.
   * @throws {RangeError} when either is not a positive integer.
   */
  static create(upcalls: number = MAILBOX_UPCALLS, bytes: number = MAILBOX_BYTES): UpcallMailbox {
    if (!(Number.isInteger(upcalls) && upcalls > 0 && Number.isInteger(bytes) && bytes > 0)) {
      throw new RangeError(`UpcallMailbox: bad capacity ${upcalls} upcalls, ${bytes} bytes`);
    }
    const size = HEADER_BYTES + upcalls * (UPCALL_META_STRIDE * 8 + KEY_WORDS * 4) + bytes;
    const buffer = new SharedArrayBuffer(size);
    const header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    header[H_CAPACITY] = upcalls;
    header[H_BYTE_CAPACITY] = bytes;
    return new UpcallMailbox(buffer);
  }

  /**
   * Opens the mailbox in `buffer` (made by {@linkcode create}, maybe on another thread).
   * @throws {RangeError} when the buffer is not a mailbox.
   */
  constructor(buffer: SharedArrayBuffer) {
    if (buffer.byteLength < HEADER_BYTES) throw new RangeError("UpcallMailbox: buffer too small");
    const header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    const upcalls = header[H_CAPACITY];
    const bytes = header[H_BYTE_CAPACITY];
    const metaBytes = upcalls * UPCALL_META_STRIDE * 8;
    const keyBytes = upcalls * KEY_WORDS * 4;
    if (
      !(upcalls > 0 && bytes > 0) || HEADER_BYTES + metaBytes + keyBytes + bytes > buffer.byteLength
    ) {
      throw new RangeError("UpcallMailbox: the buffer is not a mailbox");
    }
    this.buffer = buffer;
    this.#header = header;
    this.#view = {
      count: 0,
      meta: new Float64Array(buffer, HEADER_BYTES, upcalls * UPCALL_META_STRIDE),
      keys: new Uint32Array(buffer, HEADER_BYTES + metaBytes, upcalls * KEY_WORDS),
      bytes: new Uint8Array(buffer, HEADER_BYTES + metaBytes + keyBytes, bytes),
    };
  }

  /** Whether the PMD may fill it (the control thread drained the last fill). */
  get empty(): boolean {
    return Atomics.load(this.#header, H_STATE) === EMPTY;
  }

  /** Fills whose drain threw while watched (see {@linkcode watch}); their upcalls are lost. */
  get failedDrains(): number {
    return this.#failedDrains;
  }

  /** Fills so far (wraps as an Int32). */
  get fills(): number {
    return Atomics.load(this.#header, H_FILLS);
  }

  /**
   * PMD side: when the mailbox is empty and `queue` holds upcalls, moves
   * what fits ({@linkcode UpcallQueue.takeInto}), marks it full and wakes
   * the control thread. Returns how many moved (0: still full, or nothing
   * queued). Allocates nothing.
   */
  fill(queue: UpcallQueue): number {
    const header = this.#header;
    if (queue.size === 0 || Atomics.load(header, H_STATE) !== EMPTY) return 0;
    const view = this.#view;
    const count = queue.takeInto(view.meta, view.keys, view.bytes);
    if (count === 0) return 0;
    header[H_COUNT] = count;
    Atomics.add(header, H_FILLS, 1);
    Atomics.store(header, H_STATE, FULL); // publishes the arrays and the count
    Atomics.notify(header, H_STATE);
    return count;
  }

  /**
   * Control side: when the mailbox is full, queues its upcalls on `queue`
   * ({@linkcode UpcallQueue.enqueueBatch}, which wakes its readers) and
   * empties it for the PMD. Returns how many it held (0 when empty).
   */
  drainInto(queue: UpcallQueue): number {
    const header = this.#header;
    if (Atomics.load(header, H_STATE) !== FULL) return 0;
    const view = this.#view;
    view.count = header[H_COUNT];
    try {
      queue.enqueueBatch(view);
    } finally {
      Atomics.store(header, H_STATE, EMPTY);
    }
    return view.count;
  }

  /**
   * Control side: calls `onFull` each time the PMD fills the mailbox, from
   * an `Atomics.waitAsync` parked on the state word (the event loop stays
   * free). Returns the function that stops watching. `onFull` should drain
   * the mailbox; if it does not, the next wait returns at once, so the
   * watcher yields to a macrotask first. A second watch is a RangeError.
   * Without `Atomics.waitAsync` (not a Deno 2 runtime) it watches nothing:
   * each report's fold drains the mailbox, up to a report period later. An
   * `onFull` that throws is counted in {@linkcode failedDrains}.
   */
  watch(onFull: () => void): () => void {
    if (this.#watching) throw new RangeError("UpcallMailbox: already watched");
    if (typeof Atomics.waitAsync !== "function") return () => {};
    this.#watching = true;
    const header = this.#header;
    let stopped = false;
    const loop = async () => {
      while (!stopped) {
        const waiting = Atomics.waitAsync(header, H_STATE, EMPTY);
        if (waiting.async) await waiting.value;
        if (stopped) break;
        try {
          onFull();
        } catch {
          // A fill that does not unpack (drainInto has emptied it anyway):
          // counted, never an unhandled rejection that ends the process.
          this.#failedDrains++;
        }
        // Let the readers onFull woke run before re-arming the wait (which
        // took them 7 µs p50 later on a just-woken control thread).
        await null;
        if (Atomics.load(header, H_STATE) !== EMPTY) {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
      this.#watching = false;
    };
    loop();
    return () => {
      stopped = true;
      Atomics.notify(header, H_STATE); // settles the pending waitAsync
    };
  }
}
