/**
 * The flow-update ring between the control thread and one PMD Worker: a
 * single-producer, single-consumer ring of binary records in a
 * SharedArrayBuffer. The control thread writes (pmd_flow_feed.ts); the PMD
 * reads between bursts (pmd_worker.ts) and applies to its replica.
 *
 * Why: every flow change used to be one structured-clone `postMessage` per
 * PMD (an object with a 64-word key and mask and the actions as JSON),
 * drained with `receiveMessageOnPort`, and the replica stringified the
 * actions again per put to share programs. That capped churn with the PMD
 * acknowledgement at 3,000 to 9,000 puts + deletes/s, and the million
 * queued messages of a PMD start cost ~2,400 B per flow of resident memory
 * (2,634 B/flow with the PMD against 258 B for the control tables). A
 * record here is a few dozen words written in place, no allocation on
 * either side, and an action list crosses once per PMD (by its interned
 * id) instead of once per put. What that bought, measured: the module doc
 * of pmd_set.ts.
 *
 * Layout: a header of {@linkcode RING_HEADER_BYTES} (the producer's head
 * and the consumer's tail on separate cache lines, the consumer's applied
 * sequence number beside its tail), then a power-of-two number of 32-bit
 * data words. Head and tail are free-running word counts (they wrap as
 * uint32); the data index is the count modulo the capacity. The producer
 * writes a record's words and then publishes the head with
 * `Atomics.store`; the consumer reads up to the head it loaded and
 * publishes the tail once it is done with a record, which frees its words.
 *
 * Records never straddle the end of the data area: a record that does not
 * fit before the end is preceded by a pad record up to the end. A record is
 * at most {@linkcode MAX_RECORD_WORDS} words and at most a quarter of the
 * capacity, so it always fits once the consumer has caught up.
 *
 * Record header word: type (bits 0..7), {@linkcode FLAG_COUNTED} (bit 8),
 * length in words including the header (bits 16..31). Records:
 *
 * | type | words after the header |
 * |------|------------------------|
 * | PAD | (skip to the length) |
 * | PUT | slot, generation, action id, sentUs, present words bitmap (2 words), then a (mask, key) word pair per present word |
 * | DEL | slot, sentUs |
 * | FLUSH | sentUs |
 * | UPCALLS | enabled (0/1), sentUs |
 * | ACTIONS | id, total bytes, offset, chunk bytes, the chunk (the list's wire bytes, pmd_action_wire.ts, padded to words) |
 * | FORGET | id |
 * | LOADED | (none: the initial load ends here) |
 *
 * A put carries only the key words its mask makes non-zero (bit w of the
 * bitmap: word w present); the rest are zero. `sentUs` is the wall clock
 * (`performance.timeOrigin + performance.now()`) in microseconds modulo
 * 2^32, for the update delay. Records with FLAG_COUNTED are flow changes
 * the control side numbered: the consumer counts those it has applied in the
 * header's applied word, and the producer's {@linkcode PmdSet.flowsApplied}
 * compares sequence numbers against it.
 *
 * @module
 */

import { KEY_WORDS } from "./flow_key.ts";

/** No record waiting (what {@linkcode FlowRingReader.next} returns at the end). */
export const REC_NONE = -1;
/** Filler up to the end of the data area. */
export const REC_PAD = 0;
/** A flow put: create, or modify when the slot holds the same generation. */
export const REC_PUT = 1;
/** A flow delete. */
export const REC_DEL = 2;
/** Every flow deleted (and every action list forgotten). */
export const REC_FLUSH = 3;
/** Upcalls on or off. */
export const REC_UPCALLS = 4;
/** One chunk of an action list's wire bytes (pmd_action_wire.ts), named by its interned id. */
export const REC_ACTIONS = 5;
/** An action list id the control side no longer uses. */
export const REC_FORGET = 6;
/** The end of the initial load. */
export const REC_LOADED = 7;

/** Header flag: a flow change the control side numbered (counts in the applied sequence). */
export const FLAG_COUNTED = 0x100;
/** Longest record in words (the header's length field). */
export const MAX_RECORD_WORDS = 0xffff;
/** Bytes before the data words. */
export const RING_HEADER_BYTES = 256;
/**
 * Default data words: 1 MiB per PMD, room for about 9,000 exact-match puts
 * of the bench flows (28 words each), i.e. several milliseconds of the
 * PMD's apply work, so a producer that refills it every millisecond keeps
 * a loading PMD busy.
 */
export const DEFAULT_RING_WORDS = 1 << 18;
/** Fewest data words (a full put must fit four times over). */
export const MIN_RING_WORDS = 1024;

/** Int32 header word indices. */
const H_HEAD = 0;
const H_TAIL = 16;
const H_APPLIED = 17;

const PUT_FIXED_WORDS = 7;
const ACTIONS_FIXED_WORDS = 5;

/** True for the record types that are flow changes (they carry sentUs and count as updates). */
export function isFlowChange(type: number): boolean {
  return type >= REC_PUT && type <= REC_UPCALLS;
}

/**
 * The wall clock in microseconds modulo 2^32 (a record's sentUs); the
 * difference of two readings, `(b - a) >>> 0`, is right up to 71 minutes.
 */
export function wallClockUs(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000) >>> 0;
}

/** Creates the shared memory of a ring with `words` data words (a power of two). */
export function createFlowRing(words: number = DEFAULT_RING_WORDS): SharedArrayBuffer {
  if (!(Number.isInteger(words) && words >= MIN_RING_WORDS && words <= 1 << 28)) {
    throw new RangeError(`flow ring: words must be an integer in ${MIN_RING_WORDS}..2^28`);
  }
  if ((words & (words - 1)) !== 0) {
    throw new RangeError(`flow ring: words must be a power of two, got ${words}`);
  }
  return new SharedArrayBuffer(RING_HEADER_BYTES + words * 4);
}

/** The views both ends use over one ring's memory. */
class RingViews {
  readonly header: Int32Array;
  readonly data: Uint32Array;
  readonly bytes: Uint8Array;
  /** Data words (a power of two). */
  readonly capacity: number;
  readonly indexMask: number;

  constructor(buffer: SharedArrayBuffer) {
    const words = (buffer.byteLength - RING_HEADER_BYTES) / 4;
    if (!(Number.isInteger(words) && words >= MIN_RING_WORDS && (words & (words - 1)) === 0)) {
      throw new RangeError("flow ring: not a buffer made by createFlowRing");
    }
    this.header = new Int32Array(buffer, 0, RING_HEADER_BYTES / 4);
    this.data = new Uint32Array(buffer, RING_HEADER_BYTES, words);
    this.bytes = new Uint8Array(buffer, RING_HEADER_BYTES, words * 4);
    this.capacity = words;
    this.indexMask = words - 1;
  }
}

/**
 * The control thread's end. Each write either puts the whole record in the
 * ring and returns true (or the bytes taken, for action chunks), or changes
 * nothing and returns false (0) because there is no room yet. Never blocks.
 */
export class FlowRingWriter {
  readonly #v: RingViews;
  /** Head as a free-running uint32 word count (only this side changes it). */
  #head: number;
  /** Counted records written (uint32). */
  #counted = 0;
  /** Largest action chunk in bytes one record carries. */
  readonly maxChunkBytes: number;

  /** Attaches to a ring made by {@linkcode createFlowRing} (one writer per ring). */
  constructor(buffer: SharedArrayBuffer) {
    this.#v = new RingViews(buffer);
    this.#head = Atomics.load(this.#v.header, H_HEAD) >>> 0;
    this.#counted = 0;
    const maxWords = Math.min(MAX_RECORD_WORDS, this.#v.capacity >> 2);
    this.maxChunkBytes = (maxWords - ACTIONS_FIXED_WORDS) * 4;
  }

  /** Data words of the ring. */
  get capacity(): number {
    return this.#v.capacity;
  }

  /** Data words not yet freed by the consumer. */
  get used(): number {
    return (this.#head - Atomics.load(this.#v.header, H_TAIL)) >>> 0;
  }

  /** Words the consumer has freed so far (its tail; uint32, wraps). */
  get consumed(): number {
    return Atomics.load(this.#v.header, H_TAIL) >>> 0;
  }

  /** Counted records the consumer has applied (uint32, wraps). */
  get applied(): number {
    return Atomics.load(this.#v.header, H_APPLIED) >>> 0;
  }

  /** Counted records written so far (uint32, wraps). */
  get counted(): number {
    return this.#counted;
  }

  /**
   * Resolves when the consumer's applied sequence number moves on from
   * `seen` (at once if it already has), or after about `timeoutMs`. The
   * consumer notifies after every run of records that held a counted one.
   * Deno does not keep its event loop alive for this wait alone: race it
   * with a timer where nothing else does.
   */
  appliedChange(seen: number, timeoutMs: number): Promise<unknown> {
    const wait = Atomics.waitAsync(this.#v.header, H_APPLIED, seen | 0, timeoutMs);
    return wait.async ? wait.value : Promise.resolve(wait.value);
  }

  /** Words a put of this mask takes. */
  static putWords(mask: Uint32Array): number {
    let present = 0;
    for (let w = 0; w < KEY_WORDS; w++) if (mask[w] !== 0) present++;
    return PUT_FIXED_WORDS + 2 * present;
  }

  /**
   * A flow put: `key` and `mask` are KEY_WORDS words (only words where the
   * mask is non-zero travel). `counted` for a numbered change.
   */
  writePut(
    slot: number,
    generation: number,
    actionId: number,
    key: Uint32Array,
    mask: Uint32Array,
    sentUs: number,
    counted: boolean,
  ): boolean {
    let lo = 0;
    let hi = 0;
    let present = 0;
    for (let w = 0; w < 32; w++) {
      if (mask[w] !== 0) {
        lo |= 1 << w;
        present++;
      }
      if (mask[w + 32] !== 0) {
        hi |= 1 << w;
        present++;
      }
    }
    const words = PUT_FIXED_WORDS + 2 * present;
    const at = this.#reserve(words);
    if (at < 0) return false;
    const d = this.#v.data;
    d[at] = header(REC_PUT, words, counted);
    d[at + 1] = slot;
    d[at + 2] = generation;
    d[at + 3] = actionId;
    d[at + 4] = sentUs;
    d[at + 5] = lo;
    d[at + 6] = hi;
    let p = at + PUT_FIXED_WORDS;
    for (let w = 0; w < KEY_WORDS; w++) {
      const m = mask[w];
      if (m === 0) continue;
      d[p] = m;
      d[p + 1] = key[w] & m;
      p += 2;
    }
    this.#commit(words, counted);
    return true;
  }

  /** A flow delete (always counted). */
  writeDel(slot: number, sentUs: number): boolean {
    const at = this.#reserve(3);
    if (at < 0) return false;
    const d = this.#v.data;
    d[at] = header(REC_DEL, 3, true);
    d[at + 1] = slot;
    d[at + 2] = sentUs;
    this.#commit(3, true);
    return true;
  }

  /** A flush (always counted). */
  writeFlush(sentUs: number): boolean {
    const at = this.#reserve(2);
    if (at < 0) return false;
    this.#v.data[at] = header(REC_FLUSH, 2, true);
    this.#v.data[at + 1] = sentUs;
    this.#commit(2, true);
    return true;
  }

  /** Upcalls on or off (always counted). */
  writeUpcalls(enabled: boolean, sentUs: number): boolean {
    const at = this.#reserve(3);
    if (at < 0) return false;
    const d = this.#v.data;
    d[at] = header(REC_UPCALLS, 3, true);
    d[at + 1] = enabled ? 1 : 0;
    d[at + 2] = sentUs;
    this.#commit(3, true);
    return true;
  }

  /**
   * The next chunk of action list `id`'s text (`text` is all of it, the
   * chunk starts at `offset`). Returns the bytes written (at most
   * {@linkcode maxChunkBytes}; 0 for the one empty chunk of an empty text),
   * or -1 when there is no room. A string must be ASCII (one byte per
   * character, written as it is: no encoded copy first).
   */
  writeActionChunk(id: number, text: Uint8Array | string, offset: number): number {
    const n = Math.min(this.maxChunkBytes, text.length - offset);
    if (n < 0) throw new RangeError(`action chunk offset ${offset} past ${text.length} bytes`);
    const words = ACTIONS_FIXED_WORDS + ((n + 3) >> 2);
    const at = this.#reserve(words);
    if (at < 0) return -1;
    const d = this.#v.data;
    d[at] = header(REC_ACTIONS, words, false);
    d[at + 1] = id;
    d[at + 2] = text.length;
    d[at + 3] = offset;
    d[at + 4] = n;
    const bytes = this.#v.bytes;
    const start = (at + ACTIONS_FIXED_WORDS) * 4;
    if (typeof text === "string") {
      for (let i = 0; i < n; i++) bytes[start + i] = text.charCodeAt(offset + i);
    } else bytes.set(text.subarray(offset, offset + n), start);
    this.#commit(words, false);
    return n;
  }

  /** Action list `id` is no longer used. */
  writeForget(id: number): boolean {
    const at = this.#reserve(2);
    if (at < 0) return false;
    this.#v.data[at] = header(REC_FORGET, 2, false);
    this.#v.data[at + 1] = id;
    this.#commit(2, false);
    return true;
  }

  /** The end of the initial load. */
  writeLoaded(): boolean {
    const at = this.#reserve(1);
    if (at < 0) return false;
    this.#v.data[at] = header(REC_LOADED, 1, false);
    this.#commit(1, false);
    return true;
  }

  /**
   * The data index where a record of `words` goes, after a pad up to the
   * end when it would straddle it; -1 (nothing changed) when there is no room.
   */
  #reserve(words: number): number {
    const v = this.#v;
    const free = v.capacity - ((this.#head - Atomics.load(v.header, H_TAIL)) >>> 0);
    const at = this.#head & v.indexMask;
    const toEnd = v.capacity - at;
    if (words <= toEnd) return words <= free ? at : -1;
    if (toEnd + words > free) return -1;
    v.data[at] = header(REC_PAD, toEnd, false);
    this.#head = (this.#head + toEnd) >>> 0;
    return 0;
  }

  #commit(words: number, counted: boolean): void {
    this.#head = (this.#head + words) >>> 0;
    if (counted) this.#counted = (this.#counted + 1) >>> 0;
    Atomics.store(this.#v.header, H_HEAD, this.#head | 0);
  }
}

/**
 * The PMD's end. {@linkcode begin} takes the producer's head once;
 * {@linkcode next} then decodes records up to it into this object's fields
 * (valid until the next call) and {@linkcode done} publishes that the
 * current record has been applied. No allocation.
 */
export class FlowRingReader {
  readonly #v: RingViews;
  #tail: number;
  #end: number;
  #applied: number;
  #counted = false;
  /** A counted record was applied since the last notify. */
  #notify = false;
  /** The current put's key (KEY_WORDS words, zero outside its mask). */
  readonly key: Uint32Array = new Uint32Array(KEY_WORDS);
  /** The current put's mask (KEY_WORDS words). */
  readonly mask: Uint32Array = new Uint32Array(KEY_WORDS);
  /** Slot of a put or delete. */
  slot = 0;
  /** Control generation of a put. */
  generation = 0;
  /** Action list id of a put, an action chunk or a forget. */
  actionId = 0;
  /** Send time of a change, µs modulo 2^32 (see the module doc). */
  sentUs = 0;
  /** Upcalls switch of an UPCALLS record. */
  enabled = false;
  /** Whole text length of an action chunk's list, in bytes. */
  textBytes = 0;
  /** Offset of the current chunk in its list's text. */
  textOffset = 0;
  /** The current chunk (a view into the ring, valid until {@linkcode done}). */
  chunk: Uint8Array = new Uint8Array(0);

  /** Attaches to a ring made by {@linkcode createFlowRing} (one reader per ring). */
  constructor(buffer: SharedArrayBuffer) {
    this.#v = new RingViews(buffer);
    this.#tail = Atomics.load(this.#v.header, H_TAIL) >>> 0;
    this.#end = this.#tail;
    this.#applied = Atomics.load(this.#v.header, H_APPLIED) >>> 0;
  }

  /** Whether the current record is a numbered flow change. */
  get counted(): boolean {
    return this.#counted;
  }

  /** Takes what the producer has published so far as the end for {@linkcode next}. */
  begin(): void {
    this.#end = Atomics.load(this.#v.header, H_HEAD) >>> 0;
  }

  /** True when records are waiting beyond what {@linkcode begin} took (or at all, before). */
  get waiting(): boolean {
    return (Atomics.load(this.#v.header, H_HEAD) >>> 0) !== this.#tail;
  }

  /**
   * Decodes the next record before the end {@linkcode begin} took and
   * returns its type, or REC_NONE. Call {@linkcode done} after applying it.
   * Throws a RangeError for a malformed record (a bug on the writing side).
   */
  next(): number {
    const v = this.#v;
    const d = v.data;
    for (;;) {
      if (this.#tail === this.#end) {
        if (this.#notify) {
          // Wakes a producer waiting in appliedChange (flowsApplied), once per run.
          this.#notify = false;
          Atomics.notify(v.header, H_APPLIED);
        }
        return REC_NONE;
      }
      const at = this.#tail & v.indexMask;
      const h = d[at];
      const type = h & 0xff;
      const words = h >>> 16;
      if (words === 0 || at + words > v.capacity) {
        throw new RangeError(`flow ring: bad record header 0x${h.toString(16)} at ${at}`);
      }
      this.#counted = (h & FLAG_COUNTED) !== 0;
      this.#tail = (this.#tail + words) >>> 0;
      switch (type) {
        case REC_PAD:
          Atomics.store(v.header, H_TAIL, this.#tail | 0);
          continue;
        case REC_PUT:
          this.#decodePut(at, words);
          return type;
        case REC_DEL:
          this.slot = d[at + 1];
          this.sentUs = d[at + 2];
          return type;
        case REC_FLUSH:
          this.sentUs = d[at + 1];
          return type;
        case REC_UPCALLS:
          this.enabled = d[at + 1] !== 0;
          this.sentUs = d[at + 2];
          return type;
        case REC_ACTIONS: {
          this.actionId = d[at + 1];
          this.textBytes = d[at + 2];
          this.textOffset = d[at + 3];
          const n = d[at + 4];
          const start = (at + ACTIONS_FIXED_WORDS) * 4;
          this.chunk = v.bytes.subarray(start, start + n);
          return type;
        }
        case REC_FORGET:
          this.actionId = d[at + 1];
          return type;
        case REC_LOADED:
          return type;
        default:
          throw new RangeError(`flow ring: unknown record type ${type}`);
      }
    }
  }

  /** Frees the current record's words and, for a counted one, advances the applied sequence. */
  done(): void {
    const header = this.#v.header;
    if (this.#counted) {
      this.#applied = (this.#applied + 1) >>> 0;
      Atomics.store(header, H_APPLIED, this.#applied | 0);
      this.#notify = true;
    }
    Atomics.store(header, H_TAIL, this.#tail | 0);
  }

  #decodePut(at: number, words: number): void {
    const d = this.#v.data;
    this.slot = d[at + 1];
    this.generation = d[at + 2];
    this.actionId = d[at + 3];
    this.sentUs = d[at + 4];
    const key = this.key;
    const mask = this.mask;
    key.fill(0);
    mask.fill(0);
    let p = at + PUT_FIXED_WORDS;
    const end = at + words;
    for (let half = 0; half < 2; half++) {
      let bits = d[at + 5 + half];
      while (bits !== 0 && p < end) {
        const bit = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const w = (half << 5) + bit;
        mask[w] = d[p];
        key[w] = d[p + 1];
        p += 2;
      }
    }
  }
}

function header(type: number, words: number, counted: boolean): number {
  return ((words << 16) | (counted ? FLAG_COUNTED : 0) | type) >>> 0;
}
