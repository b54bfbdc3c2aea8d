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
 * Upcalls are the slow path: enqueue copies the key and the packet.
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
  /** `performance.now()` when the upcall was queued. */
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

/** A bounded FIFO of one input port. */
class PortFifo {
  readonly items: (Upcall | undefined)[];
  head = 0;
  count = 0;

  constructor(depth: number) {
    this.items = new Array(depth);
  }

  push(upcall: Upcall): void {
    this.items[(this.head + this.count) % this.items.length] = upcall;
    this.count++;
  }

  shift(): Upcall {
    const upcall = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return upcall;
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
   * is not kept.
   * @throws {RangeError} when the key or packet range lies outside its array.
   */
  enqueue(request: UpcallRequest): boolean {
    const { keys, keyOffset, bytes, offset, length } = request;
    if (keyOffset < 0 || keyOffset + KEY_WORDS > keys.length) {
      throw new RangeError(`UpcallQueue.enqueue: key at word ${keyOffset} outside its array`);
    }
    if (offset < 0 || length < 0 || offset + length > bytes.length) {
      throw new RangeError(`UpcallQueue.enqueue: packet [${offset}, +${length}) outside its array`);
    }
    if (!this.#enabled) {
      this.#lost++;
      return false;
    }
    let fifo = this.#fifos.get(request.inPort);
    if (fifo === undefined) {
      fifo = new PortFifo(this.#depth);
      this.#fifos.set(request.inPort, fifo);
    }
    if (fifo.count >= this.#depth) {
      this.#lost++;
      return false;
    }
    const upcall: Upcall = {
      type: request.type,
      inPort: request.inPort,
      key: keys.slice(keyOffset, keyOffset + KEY_WORDS),
      packet: bytes.slice(offset, offset + length),
      userdata: request.userdata === null ? null : request.userdata.slice(),
      queuedAt: performance.now(),
    };
    if (request.pid !== undefined) upcall.pid = request.pid;
    if (fifo.count === 0) this.#active.push(fifo);
    fifo.push(upcall);
    this.#queued++;
    this.#enqueued++;
    this.#wakeWaiters();
    return true;
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
        out.push(fifo.shift());
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
      while (fifo.count > 0) fifo.shift();
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

  #wakeWaiters(): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) this.#settle(waiter, true);
  }

  #settle(waiter: Waiter, readable: boolean): void {
    if (!this.#waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    if (waiter.signal && waiter.onAbort) {
      waiter.signal.removeEventListener("abort", waiter.onAbort);
    }
    waiter.resolve(readable);
  }
}
