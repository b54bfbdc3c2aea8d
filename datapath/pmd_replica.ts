/**
 * A PMD thread's copy of the flow table: the megaflow classifier, compiled
 * actions and per-slot stats, kept in step with the control thread's
 * {@linkcode FlowTable} by the records of its flow ring (pmd_flow_ring.ts,
 * applied with {@linkcode applyRingRecord}) and read by the PMD's
 * {@linkcode Pipeline} through the same fields the FlowTable has
 * (megaflow, generation, packets, bytes, used, tcpFlags).
 *
 * Slots are the control table's slots, so stats map back one to one. Each
 * slot also remembers the control generation it was put with: stat deltas
 * carry it, and the control thread drops deltas for a slot that has since
 * been deleted or reused. Only the owning PMD thread touches a replica.
 *
 * Programs: one compiled program per action list id of the control table
 * (its ActionInterner), compiled once when the list's text arrives and
 * shared by every slot put with that id, as on the control side (a program
 * per flow cost ~150 B each). The control side says when an id is
 * forgotten; slots keep the program object they were put with.
 *
 * @module
 */

import { compileActions, type CompiledActions } from "./execute/executor.ts";
import type { FlowTable } from "./flow_table.ts";
import { Megaflow } from "./megaflow.ts";
import { TouchedSlots } from "./pipeline.ts";
import { decodeActionList } from "./pmd_action_wire.ts";
import {
  type FlowRingReader,
  REC_ACTIONS,
  REC_DEL,
  REC_FLUSH,
  REC_FORGET,
  REC_PUT,
} from "./pmd_flow_ring.ts";

/** Numbers per flow in a stats delta: slot, generation, packets, bytes, tcpFlags. */
export const DELTA_STRIDE = 5;

/** The replica of a flow table inside one PMD. */
export class FlowReplica {
  /** The classifier. */
  readonly megaflow: Megaflow = new Megaflow();
  /** This replica's own slot generations (the PMD's EMC compares them). */
  readonly generation: Uint32Array;
  /** Packets per slot since the last {@linkcode takeDeltas}. */
  readonly packets: Float64Array;
  /** Bytes per slot since the last takeDeltas. */
  readonly bytes: Float64Array;
  /** Last use per slot, ms since the epoch. */
  readonly used: Float64Array;
  /** TCP flags per slot since the last takeDeltas. */
  readonly tcpFlags: Uint16Array;
  /** Slots the pipeline started counting since the last takeDeltas (see TouchedSlots). */
  readonly touched: TouchedSlots;
  /** Compiled actions per slot (the Pipeline's programs array). */
  readonly programs: CompiledActions[] = [];
  /** The program of each action list id the control side has sent and not forgotten. */
  readonly #programsById: (CompiledActions | undefined)[] = [];
  /** The action text being assembled from chunks (id, bytes so far). */
  #chunkId = -1;
  #chunkText: Uint8Array | null = null;
  /** Control generation each live slot was put with. */
  readonly #controlGeneration: Uint32Array;
  /** 1 for a live slot (a byte per slot where a Set cost ~30 B per flow). */
  readonly #live: Uint8Array;
  #count = 0;

  /** Reserves `maxFlows` slots (pages are only touched when used). */
  constructor(maxFlows: number) {
    if (!(Number.isInteger(maxFlows) && maxFlows > 0)) {
      throw new RangeError(`FlowReplica: maxFlows must be a positive integer, got ${maxFlows}`);
    }
    this.generation = new Uint32Array(maxFlows);
    this.packets = new Float64Array(maxFlows);
    this.bytes = new Float64Array(maxFlows);
    this.used = new Float64Array(maxFlows);
    this.tcpFlags = new Uint16Array(maxFlows);
    this.#controlGeneration = new Uint32Array(maxFlows);
    this.#live = new Uint8Array(maxFlows);
    this.touched = new TouchedSlots(maxFlows);
  }

  /** Flows in the replica. */
  get size(): number {
    return this.#count;
  }

  /** Action list ids the replica holds a program for. */
  get actionLists(): number {
    let n = 0;
    for (const program of this.#programsById) if (program !== undefined) n++;
    return n;
  }

  /** This object typed as the FlowTable a Pipeline reads (it has every field the pipeline uses). */
  asFlowTable(): FlowTable {
    return this as unknown as FlowTable;
  }

  /** True when `slot` holds a flow. */
  isLive(slot: number): boolean {
    return this.#live[slot] === 1;
  }

  /** The control generation a live slot was put with. */
  controlGenerationOf(slot: number): number {
    return this.#controlGeneration[slot];
  }

  /**
   * Puts flow `slot` (key and mask KEY_WORDS words, copied) with action
   * list `actionId`: a modify (new actions, stats go on) when the slot holds
   * the same control generation, else a fresh flow. Throws a RangeError for
   * a slot out of range or an action id the control side never sent (a
   * bug there), and what Megaflow.insert throws.
   */
  put(slot: number, generation: number, key: Uint32Array, mask: Uint32Array, actionId: number) {
    if (!(slot >= 0 && slot < this.generation.length)) {
      throw new RangeError(`FlowReplica: slot ${slot} out of range`);
    }
    const program = this.#programsById[actionId];
    if (program === undefined) {
      throw new RangeError(`FlowReplica: put of slot ${slot} with unknown action list ${actionId}`);
    }
    if (this.#live[slot] === 1 && this.#controlGeneration[slot] === generation) {
      this.programs[slot] = program; // a modify: same match, new actions, stats go on
      return;
    }
    this.remove(slot);
    this.megaflow.insert(slot, key, 0, mask, 0);
    this.programs[slot] = program;
    this.#controlGeneration[slot] = generation;
    this.#live[slot] = 1;
    this.#count++;
  }

  /** Removes flow `slot` (nothing when it holds none). */
  remove(slot: number): void {
    if (!(slot >= 0 && slot < this.generation.length) || this.#live[slot] === 0) return;
    this.#live[slot] = 0;
    this.#count--;
    this.megaflow.remove(slot);
    this.generation[slot] = (this.generation[slot] + 1) >>> 0;
    this.packets[slot] = 0;
    this.bytes[slot] = 0;
    this.tcpFlags[slot] = 0;
    this.used[slot] = 0;
  }

  /** Removes every flow and forgets every action list. */
  flush(): void {
    for (let slot = 0; slot < this.#live.length && this.#count > 0; slot++) this.remove(slot);
    this.#programsById.length = 0;
  }

  /**
   * Takes one chunk of action list `id`'s wire bytes (pmd_action_wire.ts;
   * `total` bytes, this chunk at `offset`; chunks of one list arrive in
   * order, nothing between them); with the last one, compiles the list as
   * the program of `id`. Throws what decoding and compiling throw (the
   * control side sent it, so a bug there), and a RangeError for chunks out
   * of order.
   */
  addActionChunk(id: number, total: number, offset: number, chunk: Uint8Array): void {
    let bytes: Uint8Array;
    if (offset === 0 && chunk.length === total) bytes = chunk;
    else {
      if (offset === 0) {
        this.#chunkId = id;
        this.#chunkText = new Uint8Array(total);
      } else if (this.#chunkId !== id || this.#chunkText === null) {
        throw new RangeError(`FlowReplica: action list ${id} chunk at ${offset} out of order`);
      }
      this.#chunkText!.set(chunk, offset);
      if (offset + chunk.length < total) return;
      bytes = this.#chunkText!;
      this.#chunkId = -1;
      this.#chunkText = null;
    }
    this.#programsById[id] = compileActions(decodeActionList(bytes));
  }

  /** The control side no longer uses action list `id` (slots keep their programs). */
  forgetActions(id: number): void {
    this.#programsById[id] = undefined;
  }

  /**
   * Returns the stats gathered since the last call for every flow that saw
   * packets (DELTA_STRIDE numbers each), and zeroes them. Walks only the
   * slots the pipeline recorded in {@linkcode touched}, so a report costs
   * what the period's traffic touched, not the number of flows. Slow path.
   */
  takeDeltas(): Float64Array {
    const out: number[] = [];
    const touched = this.touched;
    for (let t = 0; t < touched.count; t++) {
      const slot = touched.slots[t];
      if (this.packets[slot] === 0 || this.#live[slot] === 0) continue;
      out.push(
        slot,
        this.#controlGeneration[slot],
        this.packets[slot],
        this.bytes[slot],
        this.tcpFlags[slot],
      );
      this.packets[slot] = 0;
      this.bytes[slot] = 0;
      this.tcpFlags[slot] = 0;
    }
    touched.count = 0;
    return new Float64Array(out);
  }
}

/**
 * Applies the reader's current record (of type `type`, not PAD, UPCALLS or
 * LOADED: the PMD loop handles those) to `replica`. Throws what the
 * replica's methods throw.
 */
export function applyRingRecord(replica: FlowReplica, reader: FlowRingReader, type: number): void {
  switch (type) {
    case REC_PUT:
      replica.put(reader.slot, reader.generation, reader.key, reader.mask, reader.actionId);
      return;
    case REC_DEL:
      replica.remove(reader.slot);
      return;
    case REC_FLUSH:
      replica.flush();
      return;
    case REC_ACTIONS:
      replica.addActionChunk(reader.actionId, reader.textBytes, reader.textOffset, reader.chunk);
      return;
    case REC_FORGET:
      replica.forgetActions(reader.actionId);
      return;
    default:
      throw new RangeError(`FlowReplica: record type ${type} is not for the replica`);
  }
}
