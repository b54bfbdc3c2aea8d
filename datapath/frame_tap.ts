/**
 * A per-port tap for packet captures (`GET .../ports/{port}/capture`) that
 * works across threads: the port's owner thread and its PMD Workers copy
 * the frames they receive and transmit into one ring in a
 * SharedArrayBuffer, and the control thread drains it.
 *
 * Cost when no capture runs: the port checks {@linkcode FrameTap.on} (one
 * Int32Array element, a plain read) once per burst and does nothing else.
 * While a capture runs (slow path), writers take a spin lock word per burst
 * and copy each frame (up to {@linkcode TAP_SNAPLEN} bytes) into a free
 * slot; a full ring counts the frame in {@linkcode FrameTap.dropped}
 * instead of waiting. The one reader (the control thread) needs no lock:
 * writers never touch slots it has not released.
 *
 * Layout of the buffer: control words (Int32), then per slot the frame
 * length and original length (Int32) and the time (Float64, ms since the
 * epoch), then the slots' bytes.
 *
 * @module
 */

import type { PacketBatch } from "./packet_batch.ts";

/** Frames the ring holds. */
export const TAP_SLOTS = 256;
/** Bytes kept of each frame (longer frames are truncated). */
export const TAP_SNAPLEN = 2560;

const ACTIVE = 0;
const LOCK = 1;
const WRITE = 2;
const READ = 3;
const DROPPED = 4;
const CONTROL_WORDS = 8;

const LENGTHS_AT = CONTROL_WORDS * 4;
const TIMES_AT = LENGTHS_AT + TAP_SLOTS * 8;
const DATA_AT = TIMES_AT + TAP_SLOTS * 8;
const BUFFER_BYTES = DATA_AT + TAP_SLOTS * TAP_SNAPLEN;

/** A frame taken from the tap. */
export interface TappedFrame {
  /** The frame's bytes (at most TAP_SNAPLEN; `originalLength` says how long it was). */
  data: Uint8Array;
  /** Its length on the wire. */
  originalLength: number;
  /** When it was copied, ms since the epoch. */
  time: number;
}

/** One port's capture ring, shareable with Workers through {@linkcode FrameTap.buffer}. */
export class FrameTap {
  /** The shared memory; pass it to a Worker and wrap it there with `new FrameTap(buffer)`. */
  readonly buffer: SharedArrayBuffer;
  /**
   * Word 0 is non-zero while a capture runs: the per-burst check
   * (`if (tap.on[0] !== 0) tap.recordBatch(...)`).
   */
  readonly on: Int32Array;
  readonly #lengths: Int32Array;
  readonly #times: Float64Array;
  readonly #data: Uint8Array;

  /**
   * Creates a tap, or wraps an existing one's buffer (another thread's view).
   * @throws {RangeError} for a buffer of the wrong size.
   */
  constructor(buffer?: SharedArrayBuffer) {
    if (buffer !== undefined && buffer.byteLength !== BUFFER_BYTES) {
      throw new RangeError(`FrameTap: buffer of ${buffer.byteLength} bytes, need ${BUFFER_BYTES}`);
    }
    this.buffer = buffer ?? new SharedArrayBuffer(BUFFER_BYTES);
    this.on = new Int32Array(this.buffer, 0, CONTROL_WORDS);
    this.#lengths = new Int32Array(this.buffer, LENGTHS_AT, TAP_SLOTS * 2);
    this.#times = new Float64Array(this.buffer, TIMES_AT, TAP_SLOTS);
    this.#data = new Uint8Array(this.buffer, DATA_AT, TAP_SLOTS * TAP_SNAPLEN);
  }

  /**
   * Copies packets `from..batch.count-1` of `batch` (their bytes in
   * `bytes`, the batch pool's memory) into the ring. Slow path: call only
   * when `on[0] !== 0`. Leaves the batch unchanged.
   */
  recordBatch(bytes: Uint8Array, batch: PacketBatch, from: number): void {
    const ctl = this.on;
    while (
      Atomics.compareExchange(ctl, LOCK, 0, 1) !== 0
    ) { /* a writer holds it: copies are short */ }
    try {
      const time = Date.now();
      for (let i = from; i < batch.count; i++) {
        const write = ctl[WRITE];
        if (write - Atomics.load(ctl, READ) >= TAP_SLOTS) {
          Atomics.add(ctl, DROPPED, batch.count - i);
          break;
        }
        const slot = write % TAP_SLOTS;
        const length = batch.length[i];
        const kept = Math.min(length, TAP_SNAPLEN);
        const start = batch.offset[i];
        this.#data.set(bytes.subarray(start, start + kept), slot * TAP_SNAPLEN);
        this.#lengths[slot * 2] = kept;
        this.#lengths[slot * 2 + 1] = length;
        this.#times[slot] = time;
        Atomics.store(ctl, WRITE, write + 1);
      }
    } finally {
      Atomics.store(ctl, LOCK, 0);
    }
  }

  /** Frames recorded since the last drain, oldest first (reader side: one thread only). */
  drain(): TappedFrame[] {
    const ctl = this.on;
    const out: TappedFrame[] = [];
    const write = Atomics.load(ctl, WRITE);
    let read = ctl[READ];
    for (; read < write; read++) {
      const slot = read % TAP_SLOTS;
      const at = slot * TAP_SNAPLEN;
      out.push({
        data: this.#data.slice(at, at + this.#lengths[slot * 2]),
        originalLength: this.#lengths[slot * 2 + 1],
        time: this.#times[slot],
      });
    }
    Atomics.store(ctl, READ, read);
    return out;
  }

  /**
   * Starts or stops recording. Starting discards what an earlier capture
   * left in the ring, so a capture sees only frames from now on.
   */
  setActive(active: boolean): void {
    const ctl = this.on;
    if (active) {
      while (Atomics.compareExchange(ctl, LOCK, 0, 1) !== 0) { /* wait for a writer */ }
      Atomics.store(ctl, READ, ctl[WRITE]);
      Atomics.store(ctl, LOCK, 0);
    }
    Atomics.store(ctl, ACTIVE, active ? 1 : 0);
  }

  /** Frames lost because the ring was full. */
  get dropped(): number {
    return Atomics.load(this.on, DROPPED);
  }
}
