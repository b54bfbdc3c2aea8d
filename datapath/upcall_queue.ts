/**
 * The upcall queue: packets the datapath hands to its client, as in Open
 * vSwitch's `dpif_recv` (lib/dpif.h). A "miss" upcall carries a packet no
 * flow matched; an "action" upcall is sent by a `userspace(...)` action and
 * carries its userdata and pid.
 *
 * Fairness: each input port has its own bounded FIFO, and
 * {@linkcode UpcallQueue.read} takes one upcall from each non-empty port in
 * turn, so a port flooding misses cannot starve the others (OVS gets the
 * same effect from per-port netlink sockets or per-handler channels).
 *
 * Like a datapath with no listening client, the queue starts disabled:
 * until the client calls `setEnabled(true)`, enqueue refuses upcalls and
 * counts them lost.
 *
 * Upcalls are the slow path, but a PMD queues them at line rate when
 * misses are many: enqueue copies the key and the packet into the port's
 * FIFO, which keeps them in typed arrays that grow to their peak and are
 * then reused, so enqueueing allocates nothing per upcall. A PMD Worker
 * hands its upcalls to the control thread through a shared mailbox
 * ({@linkcode UpcallQueue.takeInto}, upcall_mailbox.ts: no allocation, no
 * message), or when that is still full as one packed
 * {@linkcode UpcallBatch} in its next report ({@linkcode UpcallQueue.takeBatch});
 * both arrive by {@linkcode UpcallQueue.enqueueBatch}. Upcall objects are made only by
 * {@linkcode UpcallQueue.read}, for the client that owns them. (Before,
 * each upcall was an object with two fresh ArrayBuffers in the PMD, cloned
 * into two more by postMessage and copied into two more on the control
 * thread: about 100,000 small ArrayBuffers a second at the 17,000 upcalls
 * a second of tools/soak.ts.)
 *
 * @module
 */

import type { UserspaceAction } from "./action.ts";
import { KEY_WORDS } from "./flow_key.ts";

/** Why an upcall was sent. */
export type UpcallType = "miss" | "action";

/** One upcall, owned by whoever read it. */
export interface Upcall {
  /** "miss" or "action" (a `userspace` action). */
  type: UpcallType;
  /** The packet's input port number. */
  inPort: number;
  /** A copy of the packet's flow key (KEY_WORDS words). */
  key: Uint32Array;
  /** A copy of the packet's bytes. */
  packet: Uint8Array;
  /** A copy of the `userspace` action's userdata, or null. */
  userdata: Uint8Array | null;
  /** The `userspace` action's pid, when it had one. */
  pid?: number;
  /**
   * `performance.now()` (this thread's clock) when the upcall was first
   * queued: for a PMD's upcall, when the PMD queued the miss, carried over
   * in UM_QUEUED_AT, so `performance.now() - queuedAt` is the whole hand-over.
   */
  queuedAt: number;
}

/**
 * What {@linkcode UpcallQueue.enqueue} copies from. The caller may keep one
 * request object and refill it: nothing is allocated when the upcall is lost.
 */
export interface UpcallRequest {
  /** "miss" or "action". */
  type: UpcallType;
  /** Input port number. */
  inPort: number;
  /** Array holding the flow key... */
  keys: Uint32Array;
  /** ...starting at this word. */
  keyOffset: number;
  /** Array holding the packet (a pool's bytes)... */
  bytes: Uint8Array;
  /** ...starting at this offset... */
  offset: number;
  /** ...for this many bytes. */
  length: number;
  /** Userdata of a `userspace` action (copied), or null. */
  userdata: Uint8Array | null;
  /** Pid of a `userspace` action, if any. */
  pid?: number;
}

/** Options for {@linkcode UpcallQueue}. */
export interface UpcallQueueOptions {
  /** Upcalls each input port may have queued. Default 256. */
  depthPerPort?: number;
  /** Whether upcalls are accepted from the start. Default false. */
  enabled?: boolean;
}

/** Counters of an {@linkcode UpcallQueue}. */
export interface UpcallQueueStats {
  /** Upcalls accepted since creation. */
  enqueued: number;
  /** Upcalls refused: disabled or port queue full (dpif's n_lost). */
  lost: number;
  /** Upcalls discarded by purge or by disabling. */
  purged: number;
  /** Upcalls waiting now. */
  queued: number;
}

/** Default of `depthPerPort`. */
export const DEFAULT_UPCALL_DEPTH = 256;

/**
 * Upcalls packed into three typed arrays, to cross from a PMD Worker to the
 * control thread in one message (the arrays' buffers are transferred), made
 * by {@linkcode UpcallQueue.takeBatch} and queued again by
 * {@linkcode UpcallQueue.enqueueBatch}.
 */
export interface UpcallBatch {
  /** Number of upcalls. */
  count: number;
  /** UPCALL_META_STRIDE numbers per upcall (the UM_* fields). */
  meta: Float64Array<ArrayBuffer>;
  /** KEY_WORDS words per upcall: the flow keys. */
  keys: Uint32Array<ArrayBuffer>;
  /** The packets and userdata, at the offsets `meta` gives. */
  bytes: Uint8Array<ArrayBuffer>;
}

/**
 * Upcalls in three typed arrays over any buffer: an {@linkcode UpcallBatch},
 * or the views of a shared mailbox (upcall_mailbox.ts) that a PMD fills
 * with {@linkcode UpcallQueue.takeInto}. The arrays may be longer than
 * `count` needs.
 */
export interface UpcallBatchView {
  /** Number of upcalls. */
  count: number;
  /** UPCALL_META_STRIDE numbers per upcall (the UM_* fields). */
  meta: Float64Array;
  /** KEY_WORDS words per upcall: the flow keys. */
  keys: Uint32Array;
  /** The packets and userdata, at the offsets `meta` gives. */
  bytes: Uint8Array;
}

/** {@linkcode UpcallBatch} meta field: input port number. */
export const UM_IN_PORT = 0;
/** Meta field: 0 for "miss", 1 for "action". */
export const UM_TYPE = 1;
/** Meta field: offset of the packet in `bytes`. */
export const UM_PACKET_OFFSET = 2;
/** Meta field: packet length. */
export const UM_PACKET_LENGTH = 3;
/** Meta field: userdata length, -1 for none (the userdata follows the packet). */
export const UM_USERDATA_LENGTH = 4;
/** Meta field: the `userspace` action's pid, NaN for none. */
export const UM_PID = 5;
/**
 * Meta field: when the upcall was first queued, as `performance.timeOrigin +
 * performance.now()` in ms: comparable across the Workers of a process (two
 * threads agreed within 0.5 µs in a spin ping-pong on the test VM), so an
 * upcall keeps its PMD queue time on the control thread.
 */
export const UM_QUEUED_AT = 6;
/** Numbers per upcall in {@linkcode UpcallBatch.meta}. */
export const UPCALL_META_STRIDE = 7;

const TYPE_MISS = 0;
const TYPE_ACTION = 1;
/** Slots a port's FIFO starts with (it doubles up to its depth). */
const INITIAL_SLOTS = 16;
/** Bytes per slot at first (a 64-byte frame plus an encapsulation); grows to the longest seen. */
const INITIAL_SLOT_BYTES = 128;

/**
 * A bounded FIFO of one input port, stored in typed arrays: enqueueing
 * copies into a slot and allocates nothing once the FIFO has grown to its
 * peak (slots double up to the depth; a slot's size doubles to fit the
 * longest packet plus userdata seen). Upcall objects are made only when
 * read.
 */
class PortFifo {
  readonly depth: number;
  head = 0;
  count = 0;
  slots = 0;
  slotBytes = 0;
  keys = new Uint32Array(0);
  bytes = new Uint8Array(0);
  /** UPCALL_META_STRIDE numbers per slot; UM_PACKET_OFFSET is unused (the slot's start). */
  meta = new Float64Array(0);

  constructor(depth: number) {
    this.depth = depth;
    this.#resize(Math.min(INITIAL_SLOTS, depth), INITIAL_SLOT_BYTES);
  }

  /** Slot of the next push, with room for `bytes` bytes (grows the arrays if needed). */
  reserve(bytes: number): number {
    if (this.count === this.slots || bytes > this.slotBytes) {
      let slots = this.slots;
      if (this.count === slots) slots = Math.min(this.depth, slots * 2);
      let slotBytes = this.slotBytes;
      while (slotBytes < bytes) slotBytes *= 2;
      this.#resize(slots, slotBytes);
    }
    return (this.head + this.count) % this.slots;
  }

  /** The oldest slot; the caller reads it before calling {@linkcode drop}. */
  get first(): number {
    return this.head;
  }

  /** Forgets the oldest upcall. */
  drop(): void {
    this.head = (this.head + 1) % this.slots;
    this.count--;
  }

  /** Copies the upcall in `slot` out into objects the reader owns. */
  upcall(slot: number): Upcall {
    const m = slot * UPCALL_META_STRIDE;
    const length = this.meta[m + UM_PACKET_LENGTH];
    const userdataLength = this.meta[m + UM_USERDATA_LENGTH];
    const start = slot * this.slotBytes;
    const upcall: Upcall = {
      type: this.meta[m + UM_TYPE] === TYPE_ACTION ? "action" : "miss",
      inPort: this.meta[m + UM_IN_PORT],
      key: this.keys.slice(slot * KEY_WORDS, (slot + 1) * KEY_WORDS),
      packet: this.bytes.slice(start, start + length),
      userdata: userdataLength < 0
        ? null
        : this.bytes.slice(start + length, start + length + userdataLength),
      queuedAt: this.meta[m + UM_QUEUED_AT] - performance.timeOrigin,
    };
    const pid = this.meta[m + UM_PID];
    if (!Number.isNaN(pid)) upcall.pid = pid;
    return upcall;
  }

  /** Reallocates to `slots` slots of `slotBytes`, keeping the queued upcalls (from slot 0). */
  #resize(slots: number, slotBytes: number): void {
    const keys = new Uint32Array(slots * KEY_WORDS);
    const bytes = new Uint8Array(slots * slotBytes);
    const meta = new Float64Array(slots * UPCALL_META_STRIDE);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % this.slots;
      keys.set(this.keys.subarray(from * KEY_WORDS, (from + 1) * KEY_WORDS), i * KEY_WORDS);
      bytes.set(
        this.bytes.subarray(from * this.slotBytes, (from + 1) * this.slotBytes),
        i * slotBytes,
      );
      meta.set(
        this.meta.subarray(from * UPCALL_META_STRIDE, (from + 1) * UPCALL_META_STRIDE),
        i * UPCALL_META_STRIDE,
      );
    }
    this.keys = keys;
    this.bytes = bytes;
    this.meta = meta;
    this.slots = slots;
    this.slotBytes = slotBytes;
    this.head = 0;
  }
}

interface Waiter {
  resolve: (readable: boolean) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Per-port, round-robin queues of upcalls. */
export class UpcallQueue {
  readonly #depth: number;
  readonly #fifos = new Map<number, PortFifo>();
  /** Ports with queued upcalls, in service order; the next to serve is first. */
  #active: PortFifo[] = [];
  #enabled: boolean;
  #queued = 0;
  #enqueued = 0;
  #lost = 0;
  #purged = 0;
  readonly #waiters = new Set<Waiter>();
  /** Reused by enqueueMiss / enqueueAction: nothing is allocated for a lost upcall. */
  readonly #request: UpcallRequest = {
    type: "miss",
    inPort: 0,
    keys: new Uint32Array(KEY_WORDS),
    keyOffset: 0,
    bytes: new Uint8Array(0),
    offset: 0,
    length: 0,
    userdata: null,
  };

  /**
   * Creates an empty queue.
   * @throws {RangeError} when `depthPerPort` is not a positive integer.
   */
  constructor(options: UpcallQueueOptions = {}) {
    const depth = options.depthPerPort ?? DEFAULT_UPCALL_DEPTH;
    if (!Number.isInteger(depth) || depth < 1) {
      throw new RangeError(`UpcallQueue: depthPerPort must be a positive integer, got ${depth}`);
    }
    this.#depth = depth;
    this.#enabled = options.enabled ?? false;
  }

  /** Whether upcalls are accepted. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * Turns receiving upcalls on or off (dpif_recv_set). Turning it off purges
   * what is queued, as closing a client's upcall channel would.
   */
  setEnabled(enabled: boolean): void {
    this.#enabled = enabled;
    if (!enabled) this.purge();
  }

  /** Upcalls waiting to be read. */
  get size(): number {
    return this.#queued;
  }

  /**
   * Copies the upcall described by `request` into its input port's FIFO and
   * returns true; or returns false and counts it lost when upcalls are
   * disabled or that FIFO is full (the caller counts the drop). The request
   * is not kept. Allocates nothing once the port's FIFO has grown to its
   * peak (see the module doc).
   * @throws {RangeError} when the key or packet range lies outside its array.
   */
  enqueue(request: UpcallRequest): boolean {
    const { keys, keyOffset, bytes, offset, length, userdata } = request;
    if (keyOffset < 0 || keyOffset + KEY_WORDS > keys.length) {
      throw new RangeError(`UpcallQueue.enqueue: key at word ${keyOffset} outside its array`);
    }
    if (offset < 0 || length < 0 || offset + length > bytes.length) {
      throw new RangeError(`UpcallQueue.enqueue: packet [${offset}, +${length}) outside its array`);
    }
    const queued = this.#push(
      request.inPort,
      request.type === "action" ? TYPE_ACTION : TYPE_MISS,
      keys,
      keyOffset,
      bytes,
      offset,
      length,
      userdata,
      0,
      userdata === null ? -1 : userdata.length,
      request.pid ?? NaN,
      performance.timeOrigin + performance.now(),
    );
    if (queued) this.#wakeWaiters();
    return queued;
  }

  /**
   * Queues a "miss" upcall: {@linkcode enqueue} with the key at
   * `keys[keyOffset ..]` and the packet at `bytes[offset .. offset+length)`.
   * Returns false (counted lost) when disabled or the port's FIFO is full.
   * @throws {RangeError} as {@linkcode enqueue}.
   */
  enqueueMiss(
    inPort: number,
    keys: Uint32Array,
    keyOffset: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): boolean {
    const request = this.#fill(inPort, keys, keyOffset, bytes, offset, length);
    request.type = "miss";
    request.userdata = null;
    request.pid = undefined;
    return this.enqueue(request);
  }

  /**
   * Queues an "action" upcall for a `userspace(...)` action, carrying its
   * pid and a copy of its userdata; otherwise as {@linkcode enqueueMiss}.
   * @throws {RangeError} as {@linkcode enqueue}.
   */
  enqueueAction(
    inPort: number,
    keys: Uint32Array,
    keyOffset: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    action: UserspaceAction,
  ): boolean {
    const request = this.#fill(inPort, keys, keyOffset, bytes, offset, length);
    request.type = "action";
    request.userdata = action.userdata;
    request.pid = action.pid;
    return this.enqueue(request);
  }

  /**
   * Removes every queued upcall and packs them into one
   * {@linkcode UpcallBatch} (port by port, FIFO within a port), or returns
   * null when nothing is queued. A PMD Worker posts it with its report,
   * transferring the three buffers: four allocations per report however
   * many upcalls it carries, where Upcall objects cost three each.
   */
  takeBatch(): UpcallBatch | null {
    if (this.#queued === 0) return null;
    const count = this.#queued;
    let byteCount = 0;
    for (const fifo of this.#active) {
      for (let i = 0; i < fifo.count; i++) {
        const m = ((fifo.head + i) % fifo.slots) * UPCALL_META_STRIDE;
        byteCount += fifo.meta[m + UM_PACKET_LENGTH] +
          Math.max(0, fifo.meta[m + UM_USERDATA_LENGTH]);
      }
    }
    const batch: UpcallBatch = {
      count,
      meta: new Float64Array(count * UPCALL_META_STRIDE),
      keys: new Uint32Array(count * KEY_WORDS),
      bytes: new Uint8Array(byteCount),
    };
    let n = 0;
    let at = 0;
    for (const fifo of this.#active) {
      while (fifo.count > 0) {
        const slot = fifo.first;
        const from = slot * UPCALL_META_STRIDE;
        const to = n * UPCALL_META_STRIDE;
        batch.meta.set(fifo.meta.subarray(from, from + UPCALL_META_STRIDE), to);
        const size = fifo.meta[from + UM_PACKET_LENGTH] +
          Math.max(0, fifo.meta[from + UM_USERDATA_LENGTH]);
        batch.meta[to + UM_PACKET_OFFSET] = at;
        batch.bytes.set(
          fifo.bytes.subarray(slot * fifo.slotBytes, slot * fifo.slotBytes + size),
          at,
        );
        batch.keys.set(fifo.keys.subarray(slot * KEY_WORDS, (slot + 1) * KEY_WORDS), n * KEY_WORDS);
        at += size;
        n++;
        fifo.drop();
      }
    }
    this.#active = [];
    this.#queued = 0;
    return batch;
  }

  /**
   * Moves the oldest queued upcalls into arrays the caller owns (a PMD's
   * shared mailbox, upcall_mailbox.ts), taking one from each input port in
   * turn, as many as fit: `meta.length / UPCALL_META_STRIDE` upcalls whose
   * packets and userdata fit in `bytes` (UM_PACKET_OFFSET says where each
   * went). Returns how many moved; the rest stay queued, oldest first.
   * Allocates nothing. An upcall longer than the whole of `bytes` can never
   * move: it is discarded and counted lost.
   */
  takeInto(meta: Float64Array, keys: Uint32Array, bytes: Uint8Array): number {
    const room = Math.min(
      Math.floor(meta.length / UPCALL_META_STRIDE),
      Math.floor(keys.length / KEY_WORDS),
    );
    const active = this.#active;
    let n = 0;
    let at = 0;
    let i = 0;
    while (n < room && active.length > 0) {
      if (i >= active.length) i = 0;
      const fifo = active[i];
      const slot = fifo.first;
      const from = slot * UPCALL_META_STRIDE;
      const size = fifo.meta[from + UM_PACKET_LENGTH] +
        Math.max(0, fifo.meta[from + UM_USERDATA_LENGTH]);
      if (at + size > bytes.length) {
        if (size <= bytes.length) break; // the mailbox is full: the rest go next time
        this.#lost++;
      } else {
        const to = n * UPCALL_META_STRIDE;
        for (let f = 0; f < UPCALL_META_STRIDE; f++) meta[to + f] = fifo.meta[from + f];
        meta[to + UM_PACKET_OFFSET] = at;
        const byteStart = slot * fifo.slotBytes;
        for (let b = 0; b < size; b++) bytes[at + b] = fifo.bytes[byteStart + b];
        const keyStart = slot * KEY_WORDS;
        const keyTo = n * KEY_WORDS;
        for (let w = 0; w < KEY_WORDS; w++) keys[keyTo + w] = fifo.keys[keyStart + w];
        at += size;
        n++;
      }
      fifo.drop();
      this.#queued--;
      if (fifo.count === 0) active.splice(i, 1);
      else i++;
    }
    return n;
  }

  /**
   * Queues every upcall of `batch` (from another queue's
   * {@linkcode takeBatch} or {@linkcode takeInto}) as {@linkcode enqueue}
   * would, copying it; returns how many were accepted (the rest are counted
   * lost).
   * @throws {RangeError} when the batch's arrays are too short for its count or offsets.
   */
  enqueueBatch(batch: UpcallBatchView): number {
    const { count, meta, keys, bytes } = batch;
    if (
      !(Number.isInteger(count) && count >= 0) || meta.length < count * UPCALL_META_STRIDE ||
      keys.length < count * KEY_WORDS
    ) {
      throw new RangeError(`UpcallQueue.enqueueBatch: arrays too short for ${count} upcalls`);
    }
    let accepted = 0;
    for (let i = 0; i < count; i++) {
      const m = i * UPCALL_META_STRIDE;
      const offset = meta[m + UM_PACKET_OFFSET];
      const length = meta[m + UM_PACKET_LENGTH];
      const userdataLength = meta[m + UM_USERDATA_LENGTH];
      if (
        !(offset >= 0 && length >= 0 &&
          offset + length + Math.max(0, userdataLength) <= bytes.length)
      ) {
        throw new RangeError(`UpcallQueue.enqueueBatch: upcall ${i} lies outside the bytes`);
      }
      const queued = this.#push(
        meta[m + UM_IN_PORT],
        meta[m + UM_TYPE],
        keys,
        i * KEY_WORDS,
        bytes,
        offset,
        length,
        userdataLength < 0 ? null : bytes,
        offset + length,
        userdataLength,
        meta[m + UM_PID],
        Number.isFinite(meta[m + UM_QUEUED_AT])
          ? meta[m + UM_QUEUED_AT]
          : performance.timeOrigin + performance.now(),
      );
      if (queued) accepted++;
    }
    if (accepted > 0) this.#wakeWaiters();
    return accepted;
  }

  /**
   * Removes and returns up to `max` upcalls, taking one from each input port
   * in turn; the port after the last one served goes first next time.
   * Returns an empty array when nothing is queued.
   * @throws {RangeError} when `max` is not a positive integer.
   */
  read(max: number): Upcall[] {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`UpcallQueue.read: max must be a positive integer, got ${max}`);
    }
    const out: Upcall[] = [];
    let active = this.#active;
    while (out.length < max && active.length > 0) {
      const next: PortFifo[] = [];
      let i = 0;
      for (; i < active.length && out.length < max; i++) {
        const fifo = active[i];
        out.push(fifo.upcall(fifo.first));
        fifo.drop();
        if (fifo.count > 0) next.push(fifo);
      }
      // Ports not reached this round go first next time, then the ones served.
      active = active.slice(i).concat(next);
    }
    this.#active = active;
    this.#queued -= out.length;
    return out;
  }

  /** Discards every queued upcall (dpif_recv_purge) and returns how many. */
  purge(): number {
    const discarded = this.#queued;
    for (const fifo of this.#active) {
      fifo.head = 0;
      fifo.count = 0;
    }
    this.#active = [];
    this.#queued = 0;
    this.#purged += discarded;
    return discarded;
  }

  /** Current counters (a fresh object). */
  stats(): UpcallQueueStats {
    return {
      enqueued: this.#enqueued,
      lost: this.#lost,
      purged: this.#purged,
      queued: this.#queued,
    };
  }

  /**
   * Resolves true as soon as an upcall is queued (at once if one already
   * is), or false when `timeoutMs` passes or `signal` aborts first. Never
   * rejects; leaves no timer behind once settled (for a REST long poll).
   * @throws {RangeError} when `timeoutMs` is negative or not a number.
   */
  waitReadable(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (!(timeoutMs >= 0)) {
      throw new RangeError(`UpcallQueue.waitReadable: bad timeout ${timeoutMs}`);
    }
    if (this.#queued > 0) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = { resolve, timer: undefined, signal };
      waiter.timer = setTimeout(() => this.#settle(waiter, false), timeoutMs);
      if (signal) {
        waiter.onAbort = () => this.#settle(waiter, false);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#waiters.add(waiter);
    });
  }

  /**
   * Copies one upcall into its port's FIFO, or counts it lost (disabled or
   * FIFO full). Ranges are checked by the callers.
   */
  #push(
    inPort: number,
    type: number,
    keys: Uint32Array,
    keyOffset: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    userdata: Uint8Array | null,
    userdataOffset: number,
    userdataLength: number,
    pid: number,
    queuedAt: number,
  ): boolean {
    if (!this.#enabled) {
      this.#lost++;
      return false;
    }
    let fifo = this.#fifos.get(inPort);
    if (fifo === undefined) {
      fifo = new PortFifo(this.#depth);
      this.#fifos.set(inPort, fifo);
    }
    if (fifo.count >= this.#depth) {
      this.#lost++;
      return false;
    }
    const extra = userdata === null ? 0 : userdataLength;
    const slot = fifo.reserve(length + extra);
    const start = slot * fifo.slotBytes;
    // Plain loops, not set(subarray(...)): a subarray is an object per upcall.
    const keyCopy = fifo.keys;
    const keyStart = slot * KEY_WORDS;
    for (let w = 0; w < KEY_WORDS; w++) keyCopy[keyStart + w] = keys[keyOffset + w];
    const byteCopy = fifo.bytes;
    for (let b = 0; b < length; b++) byteCopy[start + b] = bytes[offset + b];
    if (userdata !== null) {
      for (let b = 0; b < userdataLength; b++) {
        byteCopy[start + length + b] = userdata[userdataOffset + b];
      }
    }
    const m = slot * UPCALL_META_STRIDE;
    fifo.meta[m + UM_IN_PORT] = inPort;
    fifo.meta[m + UM_TYPE] = type;
    fifo.meta[m + UM_PACKET_LENGTH] = length;
    fifo.meta[m + UM_USERDATA_LENGTH] = userdata === null ? -1 : userdataLength;
    fifo.meta[m + UM_PID] = pid;
    fifo.meta[m + UM_QUEUED_AT] = queuedAt;
    if (fifo.count === 0) this.#active.push(fifo);
    fifo.count++;
    this.#queued++;
    this.#enqueued++;
    return true;
  }

  #fill(
    inPort: number,
    keys: Uint32Array,
    keyOffset: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): UpcallRequest {
    const request = this.#request;
    request.inPort = inPort;
    request.keys = keys;
    request.keyOffset = keyOffset;
    request.bytes = bytes;
    request.offset = offset;
    request.length = length;
    return request;
  }

  /**
   * Resolves every waiter, then clears their timers and abort listeners in
   * a microtask queued after the resolutions, so the readers run first:
   * `clearTimeout` alone took 7 to 11 µs (p50) on the control thread just
   * woken for an upcall (bench/pmd_upcall_bench.ts, hop trace). A timer
   * that fires meanwhile finds its waiter gone and does nothing.
   */
  #wakeWaiters(): void {
    if (this.#waiters.size === 0) return;
    const woken = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of woken) waiter.resolve(true);
    queueMicrotask(() => {
      for (const waiter of woken) release(waiter);
    });
  }

  #settle(waiter: Waiter, readable: boolean): void {
    if (!this.#waiters.delete(waiter)) return;
    release(waiter);
    waiter.resolve(readable);
  }
}

/** Clears a settled waiter's timer and abort listener. */
function release(waiter: Waiter): void {
  clearTimeout(waiter.timer);
  if (waiter.signal && waiter.onAbort) {
    waiter.signal.removeEventListener("abort", waiter.onAbort);
  }
}
