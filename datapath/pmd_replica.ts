/**
 * A PMD thread's copy of the flow table: the megaflow classifier, compiled
 * actions and per-slot stats, kept in step with the control thread's
 * {@linkcode FlowTable} by the messages of pmd_protocol.ts and read by the
 * PMD's {@linkcode Pipeline} through the same fields the FlowTable has
 * (megaflow, generation, packets, bytes, used, tcpFlags).
 *
 * Slots are the control table's slots, so stats map back one to one. Each
 * slot also remembers the control generation it was put with: stat deltas
 * carry it, and the control thread drops deltas for a slot that has since
 * been deleted or reused. Only the owning PMD thread touches a replica.
 *
 * @module
 */

import { compileActions, type CompiledActions } from "./execute/executor.ts";
import type { FlowTable } from "./flow_table.ts";
import { Megaflow } from "./megaflow.ts";
import { TouchedSlots } from "./pipeline.ts";
import { actionsFromJson } from "./odp/action_json.ts";
import type { PmdFlowMessage } from "./pmd_protocol.ts";

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
  /**
   * One compiled program per distinct action list (by its JSON text), with
   * the number of slots using it: flows with equal actions share a program,
   * as on the control side (a program per flow cost ~150 B each).
   */
  readonly #shared = new Map<string, { program: CompiledActions; users: number }>();
  /** The key into #shared of each live slot's program. */
  readonly #programText: string[] = [];
  /** Control generation each live slot was put with. */
  readonly #controlGeneration: Uint32Array;
  readonly #live = new Set<number>();

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
    this.touched = new TouchedSlots(maxFlows);
  }

  /** Flows in the replica. */
  get size(): number {
    return this.#live.size;
  }

  /** This object typed as the FlowTable a Pipeline reads (it has every field the pipeline uses). */
  asFlowTable(): FlowTable {
    return this as unknown as FlowTable;
  }

  /**
   * Applies one update. Throws a RangeError for a slot out of range, and
   * what parsing the actions JSON throws (the control side sent it, so
   * that is a bug).
   */
  apply(message: PmdFlowMessage): void {
    switch (message.op) {
      case "put": {
        const slot = message.slot;
        if (!(slot >= 0 && slot < this.generation.length)) {
          throw new RangeError(`FlowReplica: slot ${slot} out of range`);
        }
        const text = JSON.stringify(message.actions);
        const program = this.#acquireProgram(text, message.actions);
        if (this.#live.has(slot) && this.#controlGeneration[slot] === message.generation) {
          // A modify: same match, new actions, stats go on.
          this.#releaseProgram(slot);
          this.programs[slot] = program;
          this.#programText[slot] = text;
          return;
        }
        this.#remove(slot);
        this.megaflow.insert(slot, message.key, 0, message.mask, 0);
        this.programs[slot] = program;
        this.#programText[slot] = text;
        this.#controlGeneration[slot] = message.generation;
        this.#live.add(slot);
        return;
      }
      case "del":
        this.#remove(message.slot);
        return;
      case "flush":
        for (const slot of [...this.#live]) this.#remove(slot);
        return;
      case "upcalls":
        return; // handled by the PMD loop
    }
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
      if (this.packets[slot] === 0 || !this.#live.has(slot)) continue;
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

  /** The shared program for an action list's JSON text, compiled on first use; counts a user. */
  #acquireProgram(text: string, actions: unknown): CompiledActions {
    let entry = this.#shared.get(text);
    if (entry === undefined) {
      entry = { program: compileActions(actionsFromJson(actions)), users: 0 };
      this.#shared.set(text, entry);
    }
    entry.users++;
    return entry.program;
  }

  /** Drops the slot's use of its program, forgetting the program with its last user. */
  #releaseProgram(slot: number): void {
    const text = this.#programText[slot];
    const entry = this.#shared.get(text);
    if (entry !== undefined && --entry.users === 0) this.#shared.delete(text);
    this.#programText[slot] = "";
  }

  #remove(slot: number): void {
    if (!this.#live.delete(slot)) return;
    this.#releaseProgram(slot);
    this.megaflow.remove(slot);
    this.generation[slot] = (this.generation[slot] + 1) >>> 0;
    this.packets[slot] = 0;
    this.bytes[slot] = 0;
    this.tcpFlags[slot] = 0;
    this.used[slot] = 0;
  }
}
