/**
 * The control side of one PMD's flow-update ring (pmd_flow_ring.ts): turns
 * the datapath's flow changes into ring records, in order, never blocking
 * and never dropping.
 *
 * Order: every change becomes records in the order the datapath made the
 * changes. When the ring has no room, the change waits in an overflow
 * queue (with everything after it); the queue moves into the ring as the
 * PMD frees space: on the next change, on every {@linkcode pump} (what
 * {@linkcode PmdSet.flowsApplied} calls while it waits) and on a timer
 * every `retryMs` while anything waits. The PMD's wake word is bumped after
 * every write, so a napping PMD picks records up at once.
 *
 * Action lists: the flow table interns action lists (FlowTable.actionsIdOf);
 * a put carries that id, and the list (pmd_action_wire.ts) goes once, as ACTIONS
 * records, before the first put that uses the id on this PMD. The feed
 * mirrors which list each of the PMD's slots uses and how many slots use
 * each id, and sends FORGET when the last one goes (a delete, a modify to
 * another list, a flush), so the PMD compiles each list once and frees it
 * with its last flow. An id the table reused for another list is sent again.
 *
 * Initial load: a feed made with `load` first streams the flows the table
 * holds when it is made, slot by slot as the ring drains, then a LOADED
 * record (the PMD reports ready after it). A change made meanwhile queues
 * behind the load; its slot is marked, and the load skips marked slots (the
 * queued change carries their state), so the PMD sees each slot's state at
 * the start and then every change in order, never a state out of order.
 *
 * What the ring bought over one structured-clone message per change per
 * PMD (churn, REST installs, start time, memory): the module doc of
 * pmd_set.ts.
 *
 * @module
 */

import type { Action } from "./action.ts";
import type { FlowChange } from "./datapath.ts";
import { KEY_WORDS } from "./flow_key.ts";
import type { FlowTable } from "./flow_table.ts";
import { encodeActionText } from "./pmd_action_wire.ts";
import { FlowRingWriter, wallClockUs } from "./pmd_flow_ring.ts";

/** Options of {@linkcode PmdFlowFeed}. */
export interface FlowFeedOptions {
  /** Stream the table's current flows first, then a LOADED record. Default true. */
  load?: boolean;
  /** ms between pumps while records wait for room. Default 1. */
  retryMs?: number;
}

const OP_PUT = 1;
const OP_DEL = 2;
const OP_FLUSH = 3;
const OP_UPCALLS = 4;
/** The initial load's end marker (queued behind the changes made during the load). */
const OP_LOADED = 5;

/** One change waiting to be written (or the load's current flow). */
interface Pending {
  op: number;
  slot: number;
  generation: number;
  key: Uint32Array;
  mask: Uint32Array;
  actionId: number;
  actions: Action[] | null;
  enabled: boolean;
  sentUs: number;
  counted: boolean;
}

/** The producer of one PMD's ring. Only the control thread uses it. */
export class PmdFlowFeed {
  readonly #ring: FlowRingWriter;
  readonly #flows: FlowTable;
  readonly #wake: () => void;
  readonly #retryMs: number;
  /** Changes that found no room, in order, from #queueHead on. */
  #queue: Pending[] = [];
  #queueHead = 0;
  /** The record group being written (it may take several pumps). */
  #current: Pending | null = null;
  /** Step within #current: 0 release the slot's old list, 1 send the list, 2 the record. */
  #phase = 0;
  /** The list text being written (ASCII as it is, else its UTF-8 bytes). */
  #text: Uint8Array | string | null = null;
  #textOffset = 0;
  /** Per slot, 1 + the action id the PMD's slot holds (0: none). */
  readonly #slotAction: Int32Array;
  /** One past the highest slot #slotAction has set (a flush clears below it). */
  #slotHigh = 0;
  /** Per action id, the PMD's slots that use it. */
  #users: number[] = [];
  /** Per action id, the list the PMD holds under it. */
  #sentLists: (Action[] | undefined)[] = [];
  /** Initial load: the next slot, the end, and slots changed since the start. */
  #loading: boolean;
  #loadNext = 0;
  readonly #loadEnd: number;
  #touched: Uint8Array | null;
  readonly #loadEntry: Pending;
  #sent = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /**
   * A feed writing into `ring` (createFlowRing) for a PMD replicating
   * `flows`; `wake` bumps and notifies the PMD's wake word.
   */
  constructor(
    ring: SharedArrayBuffer,
    flows: FlowTable,
    wake: () => void,
    options: FlowFeedOptions = {},
  ) {
    this.#ring = new FlowRingWriter(ring);
    this.#flows = flows;
    this.#wake = wake;
    this.#retryMs = options.retryMs ?? 1;
    this.#slotAction = new Int32Array(flows.maxFlows);
    this.#loading = options.load ?? true;
    this.#loadEnd = this.#loading ? flows.slotLimit : 0;
    this.#touched = this.#loading ? new Uint8Array(this.#loadEnd) : null;
    this.#loadEntry = {
      op: OP_PUT,
      slot: 0,
      generation: 0,
      key: new Uint32Array(KEY_WORDS),
      mask: new Uint32Array(KEY_WORDS),
      actionId: 0,
      actions: null,
      enabled: false,
      sentUs: 0,
      counted: false,
    };
    if (this.#loading) this.pump();
  }

  /** Flow changes accepted so far: the sequence number the PMD must reach to have applied them. */
  get sent(): number {
    return this.#sent;
  }

  /** True while records wait for room (or the initial load is not all written). */
  get pending(): boolean {
    return this.#current !== null || this.#queueHead < this.#queue.length || this.#loading;
  }

  /** Ring words the PMD has consumed so far (uint32, wraps): its progress. */
  get consumed(): number {
    return this.#ring.consumed;
  }

  /** Changes waiting in the overflow queue (not counting one being written). */
  get queued(): number {
    return this.#queue.length - this.#queueHead;
  }

  /** True once the PMD has applied every change up to sequence number `seq` ({@linkcode sent}). */
  hasApplied(seq: number): boolean {
    return ((this.#ring.applied - seq) | 0) >= 0;
  }

  /**
   * Resolves when the PMD has applied more changes than now (at once if
   * that already happened meanwhile) or after about `timeoutMs`; see
   * FlowRingWriter.appliedChange.
   */
  appliedChange(timeoutMs: number): Promise<unknown> {
    return this.#ring.appliedChange(this.#ring.applied, timeoutMs);
  }

  /** Takes one flow change of the datapath (FlowChange, as onFlowChange reports it). */
  change(change: FlowChange): void {
    const sentUs = wallClockUs();
    let p: Pending;
    switch (change.op) {
      case "put":
        p = {
          op: OP_PUT,
          slot: change.slot,
          generation: change.generation,
          key: change.key,
          mask: change.mask,
          // The table's state right after this put (listeners run synchronously).
          actionId: this.#flows.actionsIdOf(change.slot),
          actions: this.#flows.actionsOf(change.slot),
          enabled: false,
          sentUs,
          counted: true,
        };
        this.#touch(change.slot);
        break;
      case "del":
        p = this.#simple(OP_DEL, change.slot, false, sentUs);
        this.#touch(change.slot);
        break;
      case "flush":
        p = this.#simple(OP_FLUSH, 0, false, sentUs);
        this.#loadNext = this.#loadEnd; // nothing of the start's flows is left to load
        break;
      case "upcalls":
        p = this.#simple(OP_UPCALLS, 0, change.enabled, sentUs);
        break;
    }
    this.#enqueue(p);
  }

  /** Upcalls on or off (a change of its own, as FlowChange "upcalls"). */
  upcalls(enabled: boolean): void {
    this.#enqueue(this.#simple(OP_UPCALLS, 0, enabled, wallClockUs()));
  }

  /**
   * Moves what waits into the ring as far as it has room, wakes the PMD if
   * anything was written, and keeps the retry timer running while anything
   * still waits. Returns true when nothing waits any more.
   */
  pump(): boolean {
    if (this.#closed) return true;
    let wrote = false;
    for (;;) {
      if (this.#current === null) {
        if (this.#loading) {
          this.#current = this.#nextLoadEntry();
          if (this.#current === null) {
            // The end marker goes behind the changes queued during the load:
            // the slots the load skipped for them are complete only once
            // those are in, and the PMD reports ready at the marker.
            this.#queue.push(this.#simple(OP_LOADED, 0, false, wallClockUs()));
            this.#loading = false;
            this.#touched = null;
            continue;
          }
        } else if (this.#queueHead < this.#queue.length) {
          this.#current = this.#queue[this.#queueHead];
          this.#queue[this.#queueHead++] = undefined as unknown as Pending;
          if (this.#queueHead === this.#queue.length) {
            this.#queue = [];
            this.#queueHead = 0;
          }
        } else break;
      }
      const done = this.#step(this.#current);
      wrote ||= this.#phase !== 0 || done;
      if (!done) break;
      this.#current = null;
    }
    if (wrote) this.#wake();
    const idle = !this.pending;
    if (!idle) this.#arm();
    return idle;
  }

  /** Stops: drops whatever waits and the timer (the PMD has stopped). */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#queueHead = 0;
    this.#current = null;
    this.#loading = false;
    this.#touched = null;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #simple(op: number, slot: number, enabled: boolean, sentUs: number): Pending {
    return {
      op,
      slot,
      generation: 0,
      key: this.#loadEntry.key, // unused by non-put records
      mask: this.#loadEntry.mask,
      actionId: 0,
      actions: null,
      enabled,
      sentUs,
      counted: true,
    };
  }

  #enqueue(p: Pending): void {
    if (this.#closed) return;
    this.#sent++;
    if (this.#current === null && this.#queueHead === this.#queue.length && !this.#loading) {
      // Fast path: the ring has room and nothing waits before this change.
      this.#current = p;
      const done = this.#step(p);
      if (done || this.#phase !== 0) this.#wake();
      if (done) {
        this.#current = null;
        return;
      }
      this.#arm();
      return;
    }
    this.#queue.push(p);
    this.pump();
  }

  /** Marks a slot the initial load must not send (a queued change carries its state). */
  #touch(slot: number): void {
    if (this.#touched !== null && slot < this.#loadEnd) this.#touched[slot] = 1;
  }

  /** The next flow of the initial load (in the reused load entry), or null at the end. */
  #nextLoadEntry(): Pending | null {
    const flows = this.#flows;
    const touched = this.#touched!;
    while (this.#loadNext < this.#loadEnd) {
      const slot = this.#loadNext++;
      if (touched[slot] !== 0 || !flows.isLive(slot)) continue;
      const e = this.#loadEntry;
      e.slot = slot;
      e.generation = flows.generation[slot];
      e.key.fill(0);
      flows.megaflow.readKey(slot, e.key, 0);
      flows.megaflow.readMask(slot, e.mask, 0);
      e.actionId = flows.actionsIdOf(slot);
      e.actions = flows.actionsOf(slot);
      e.sentUs = wallClockUs();
      return e;
    }
    return null;
  }

  /**
   * Writes the records of one change, resuming at #phase; false when the
   * ring ran out of room (what was written stays written, #phase says where
   * to go on).
   */
  #step(p: Pending): boolean {
    const ring = this.#ring;
    switch (p.op) {
      case OP_PUT:
        return this.#stepPut(p);
      case OP_DEL:
        if (this.#phase === 0) {
          if (!ring.writeDel(p.slot, p.sentUs)) return false;
          this.#phase = 1;
        }
        if (!this.#releaseSlot(p.slot)) return false;
        this.#phase = 0;
        return true;
      case OP_FLUSH:
        if (!ring.writeFlush(p.sentUs)) return false;
        this.#slotAction.fill(0, 0, this.#slotHigh);
        this.#slotHigh = 0;
        this.#users = [];
        this.#sentLists = [];
        return true;
      case OP_UPCALLS:
        return ring.writeUpcalls(p.enabled, p.sentUs);
      case OP_LOADED:
        return ring.writeLoaded();
      default:
        throw new RangeError(`flow feed: unknown change ${p.op}`);
    }
  }

  #stepPut(p: Pending): boolean {
    const ring = this.#ring;
    const id = p.actionId;
    if (this.#phase === 0) {
      if (this.#slotAction[p.slot] === id + 1 && this.#sentLists[id] === p.actions) {
        this.#phase = 2; // same list as the slot holds: nothing to release or send
      } else {
        if (!this.#releaseSlot(p.slot)) return false;
        this.#phase = 1;
      }
    }
    if (this.#phase === 1) {
      if (this.#sentLists[id] !== p.actions) {
        this.#text ??= asciiOrBytes(encodeActionText(p.actions!));
        const text = this.#text;
        do {
          const n = ring.writeActionChunk(id, text, this.#textOffset);
          if (n < 0) return false;
          this.#textOffset += n;
        } while (this.#textOffset < text.length);
        this.#text = null;
        this.#textOffset = 0;
        this.#sentLists[id] = p.actions!;
      }
      this.#phase = 2;
    }
    if (!ring.writePut(p.slot, p.generation, id, p.key, p.mask, p.sentUs, p.counted)) return false;
    if (this.#slotAction[p.slot] !== id + 1) {
      this.#users[id] = (this.#users[id] ?? 0) + 1;
      this.#slotAction[p.slot] = id + 1;
      if (p.slot >= this.#slotHigh) this.#slotHigh = p.slot + 1;
    }
    this.#phase = 0;
    return true;
  }

  /**
   * Drops the slot's use of its action list; its last user gone, writes
   * FORGET (false when there is no room: nothing changed).
   */
  #releaseSlot(slot: number): boolean {
    const held = this.#slotAction[slot];
    if (held === 0) return true;
    const id = held - 1;
    if (this.#users[id] <= 1) {
      if (!this.#ring.writeForget(id)) return false;
      this.#users[id] = 0;
      this.#sentLists[id] = undefined;
    } else this.#users[id]--;
    this.#slotAction[slot] = 0;
    return true;
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.pump();
    }, this.#retryMs);
  }
}

const NON_ASCII = /[\u0080-\uffff]/;
const encoder = new TextEncoder();

/**
 * An action list's wire text as the ring writer takes it: the text itself
 * when it is ASCII (the common case: no TextEncoder call, no buffer per
 * fresh list, ~0.5 µs per churned put), else its UTF-8 bytes.
 */
function asciiOrBytes(text: string): string | Uint8Array {
  return NON_ASCII.test(text) ? encoder.encode(text) : text;
}
