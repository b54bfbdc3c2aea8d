/**
 * The flow table: the control side of the datapath's flows, with
 * `dpif_flow_put` / `get` / `del` / `flush` semantics (Open vSwitch
 * lib/dpif.h), over the fast-path structures the pipeline reads.
 *
 * Each flow lives in an integer slot. Per slot, in typed arrays: stats
 * (packets, bytes, used, tcpFlags: the pipeline adds to them directly once
 * per sub-batch), the generation (bumped when the slot's flow is removed, so
 * the exact-match cache drops stale entries in O(1)) and the id of its
 * interned action list. The match lives only in the {@linkcode Megaflow}
 * (mask once per subtable, key words only where the mask is non-zero) and
 * the UFID in a {@linkcode UfidIndex}. Per-slot arrays are allocated for
 * `maxFlows` up front and never replaced (the pipeline and the EMC may keep
 * them); their pages cost memory only once a slot is used, and freed slots
 * are reused before new ones, so a small table stays small.
 *
 * Why four stats arrays and not one interleaved record per slot: a hit
 * touches the four arrays (four cache lines, five with the PMD replica's
 * touched check), so one 32-byte record per slot (a Float64Array with
 * stride 4, here and in the FlowReplica) looked like a lever at 100,000
 * flows. It was built and measured neutral, so it was not kept: PMD CPU
 * ns/packet, base vs interleaved, medians of 8 alternated runs in separate
 * processes (/tmp/fastpath/run_case.ts, 3 s each, 2026-11-23): (1) 1k
 * flows EMC off 150 vs 155; (2) 10k flows/10 masks 239 vs 243; 100k
 * flows/10 masks 339 vs 337; (5) set(ipv4) 200 vs 198 (4 runs); memory
 * backend 100k/10 masks 440 vs 450 (medians of 6). A guess, as this VM
 * has no hardware counters to show it: the four misses are independent
 * and overlap, while the megaflow probe's dependent loads do not.
 *
 * Action lists are stored as given and must not be mutated afterwards;
 * identical lists are shared.
 *
 * @module
 */

import type { Action } from "./action.ts";
import { DpifError } from "./errors.ts";
import { KEY_WORDS, USED_WORDS, W_IN_PORT } from "./flow_key.ts";
import { type FlowLookup, Megaflow } from "./megaflow.ts";
import { deriveUfidInto, formatUfid, toUfid, toUfidInto, UFID_WORDS, UfidIndex } from "./ufid.ts";
import { ActionInterner } from "./flow_table_actions.ts";
import { dumpPage, FlowDump, type FlowPage } from "./flow_dump.ts";

/** Statistics of one flow, as dpif's `struct dpif_flow_stats`. */
export interface FlowStats {
  /** Packets that matched. */
  packets: number;
  /** Bytes of those packets. */
  bytes: number;
  /** Time of the last match in ms since the epoch, 0 if never. */
  used: number;
  /** OR of the TCP flags seen (bits 0..11). */
  tcp_flags: number;
}

/** A flow as get and dumps return it: copies, safe to keep. */
export interface FlowEntry {
  /** The flow's UFID as text, `ufid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
  ufid: string;
  /** The flow's UFID as four words. */
  ufidWords: Uint32Array;
  /** The flow's slot when copied. */
  slot: number;
  /** The masked key, KEY_WORDS words. */
  key: Uint32Array;
  /** The mask, KEY_WORDS words. */
  mask: Uint32Array;
  /** The actions (shared, immutable by convention). */
  actions: Action[];
  /** Statistics at the time of the copy. */
  stats: FlowStats;
}

/** Arguments of {@linkcode FlowTable.put}, as `dpif_flow_put`. */
export interface FlowPutRequest {
  /** The flow's UFID as four words or text; derived from key and mask when absent. */
  ufid?: Uint32Array | string;
  /** KEY_WORDS words; bits outside the mask are ignored. */
  key: Uint32Array;
  /** KEY_WORDS words; in_port must be exact. */
  mask: Uint32Array;
  /** The actions, stored as given. */
  actions: Action[];
  /** DPIF_FP_CREATE: create the flow if it does not exist. */
  create: boolean;
  /** DPIF_FP_MODIFY: replace the actions of an existing flow. */
  modify: boolean;
  /** DPIF_FP_ZERO_STATS: zero the stats of a modified flow. */
  zeroStats: boolean;
}

/** What {@linkcode FlowTable.put} did. */
export interface FlowPutResult {
  /** The flow's UFID (given or derived) as text, `ufid:...`. */
  ufid: string;
  /** The same UFID as four words. */
  ufidWords: Uint32Array;
  /** The flow's slot. */
  slot: number;
  /** True when a new flow was created, false when one was modified. */
  created: boolean;
  /** Stats before the modification, or null for a new flow. */
  previous: FlowStats | null;
}

/** Options of {@linkcode FlowTable}. */
export interface FlowTableOptions {
  /** Most flows the table holds (default 1,000,000); a put beyond throws EFBIG. */
  maxFlows?: number;
}

/** The datapath's flows: UFID and match indexes, actions and per-slot stats. */
export class FlowTable implements FlowLookup {
  /** Most flows this table holds. */
  readonly maxFlows: number;
  /** The classifier the pipeline looks packets up in. */
  readonly megaflow: Megaflow;
  private readonly ufids: UfidIndex;
  /** Generation of each slot, bumped when its flow is removed (the EMC compares it). */
  readonly generation: Uint32Array;
  /** Packets per slot; the pipeline adds to it once per sub-batch. */
  readonly packets: Float64Array;
  /** Bytes per slot; the pipeline adds to it. */
  readonly bytes: Float64Array;
  /** Last use per slot, ms since the epoch (0 = never); the pipeline sets it. */
  readonly used: Float64Array;
  /** OR of the TCP flags seen per slot; the pipeline ORs into it. */
  readonly tcpFlags: Uint16Array;
  private readonly interner = new ActionInterner();
  private readonly actionIds: Int32Array;
  private readonly freeSlots: Int32Array;
  /** Scratch for the masked key of a put. */
  private readonly maskedKey = new Uint32Array(KEY_WORDS);
  /**
   * Scratch for the UFID of a put or a lookup by UFID (the index copies
   * what it keeps): a new 4-word Uint32Array per put cost 200 to 400 ns
   * here (see ufid.ts, parseUfidInto).
   */
  private readonly ufidScratch = new Uint32Array(UFID_WORDS);
  private freeCount = 0;
  private highWater = 0;

  /** Creates an empty table. Throws RangeError for a bad maxFlows. */
  constructor(options: FlowTableOptions = {}) {
    const maxFlows = options.maxFlows ?? 1_000_000;
    if (!Number.isInteger(maxFlows) || maxFlows < 1 || maxFlows > 0x4000000) {
      throw new RangeError(`maxFlows must be an integer in 1..2^26, got ${maxFlows}`);
    }
    this.maxFlows = maxFlows;
    this.megaflow = new Megaflow(maxFlows);
    this.ufids = new UfidIndex(maxFlows);
    this.generation = new Uint32Array(maxFlows);
    this.packets = new Float64Array(maxFlows);
    this.bytes = new Float64Array(maxFlows);
    this.used = new Float64Array(maxFlows);
    this.tcpFlags = new Uint16Array(maxFlows);
    this.actionIds = new Int32Array(maxFlows);
    this.freeSlots = new Int32Array(maxFlows);
  }

  /** Number of flows. */
  get size(): number {
    return this.megaflow.flowCount;
  }
  /** One past the highest slot ever used since the last flush (dumps scan below it). */
  get slotLimit(): number {
    return this.highWater;
  }

  /** The classifier lookup: slot of a flow matching the key, or -1. Fast path. */
  lookup(keys: Uint32Array, keyOffset: number, maps: Uint32Array, mapOffset: number): number {
    return this.megaflow.lookup(keys, keyOffset, maps, mapOffset);
  }

  /** The action list of a live slot. */
  actionsOf(slot: number): Action[] {
    return this.interner.list(this.actionIds[slot]);
  }

  /** Id of the slot's interned action list: equal ids mean identical lists. */
  actionsIdOf(slot: number): number {
    return this.actionIds[slot];
  }

  /** True when `slot` holds a flow. */
  isLive(slot: number): boolean {
    return this.megaflow.has(slot);
  }

  /** Stats of a slot (a copy). */
  stats(slot: number): FlowStats {
    return {
      packets: this.packets[slot],
      bytes: this.bytes[slot],
      used: this.used[slot],
      tcp_flags: this.tcpFlags[slot],
    };
  }

  /** Adds a sub-batch's worth of matches to a slot's stats (what the pipeline does inline). */
  addStats(slot: number, packets: number, bytes: number, tcpFlags: number, nowMs: number): void {
    this.packets[slot] += packets;
    this.bytes[slot] += bytes;
    if (nowMs > this.used[slot]) this.used[slot] = nowMs;
    this.tcpFlags[slot] |= tcpFlags;
  }

  /**
   * Creates or modifies a flow, as `dpif_flow_put`: create only -> EEXIST if
   * the UFID exists; modify only -> ENOENT if absent; both -> either. A new
   * flow whose masked key and mask equal an existing flow's -> EEXIST naming
   * that flow's UFID. Modifying with a different match -> EINVAL. A bad mask
   * (in_port not exact, bits past the key) -> EINVAL; a full table -> EFBIG;
   * wrong argument types -> TypeError; bad UFID text -> OdpSyntaxError.
   */
  put(request: FlowPutRequest): FlowPutResult {
    const { key, mask, actions } = request;
    checkMatch(key, mask);
    if (!Array.isArray(actions)) throw new TypeError("flow actions must be an array");
    if (!request.create && !request.modify) {
      throw new DpifError("EINVAL", "flow put needs create, modify or both");
    }
    const maskedKey = this.maskedKey; // scratch: the megaflow copies what it keeps
    for (let w = 0; w < KEY_WORDS; w++) maskedKey[w] = key[w] & mask[w];
    const ufid = request.ufid === undefined
      ? deriveUfidInto(maskedKey, mask, this.ufidScratch)
      : toUfidInto(request.ufid, this.ufidScratch);
    const slot = this.ufids.find(ufid);
    if (slot < 0) {
      if (!request.create) throw new DpifError("ENOENT", `flow ${formatUfid(ufid)} not found`);
      if (this.freeCount === 0 && this.highWater >= this.maxFlows) {
        // Full: an identical flow is still reported as such, not as EFBIG.
        const twin = this.megaflow.find(maskedKey, 0, mask, 0);
        if (twin >= 0) throw this.twinError(twin);
      }
      const fresh = this.allocateSlot();
      const twin = this.megaflow.insertUnique(fresh, maskedKey, 0, mask, 0);
      if (twin >= 0) {
        this.freeSlots[this.freeCount++] = fresh;
        throw this.twinError(twin);
      }
      this.ufids.add(fresh, ufid);
      this.actionIds[fresh] = this.interner.acquire(actions);
      this.zeroStats(fresh);
      return new PutOutcome(formatUfid(ufid), fresh, true, null);
    }
    if (!request.modify) throw new DpifError("EEXIST", `flow ${formatUfid(ufid)} exists`);
    if (!this.sameMatch(slot, maskedKey, mask)) {
      throw new DpifError("EINVAL", `flow ${formatUfid(ufid)} exists with a different match`);
    }
    const previous = this.stats(slot);
    const old = this.actionIds[slot];
    this.actionIds[slot] = this.interner.acquire(actions);
    this.interner.release(old);
    if (request.zeroStats) this.zeroStats(slot);
    return new PutOutcome(formatUfid(ufid), slot, false, previous);
  }

  /** Returns a copy of the flow with this UFID; DpifError ENOENT when absent. */
  get(ufid: Uint32Array | string): FlowEntry {
    return this.entryAt(this.slotOf(ufid))!;
  }

  /** Slot of the flow with this UFID; DpifError ENOENT when absent. */
  slotOf(ufid: Uint32Array | string): number {
    const words = toUfidInto(ufid, this.ufidScratch);
    const slot = this.ufids.find(words);
    if (slot < 0) throw new DpifError("ENOENT", `flow ${formatUfid(words)} not found`);
    return slot;
  }

  /** A copy of the flow in `slot`, or null when the slot is free. */
  entryAt(slot: number): FlowEntry | null {
    if (!this.megaflow.has(slot)) return null;
    const key = new Uint32Array(KEY_WORDS);
    const mask = new Uint32Array(KEY_WORDS);
    this.megaflow.readKey(slot, key, 0);
    this.megaflow.readMask(slot, mask, 0);
    const ufidWords = this.ufids.ufidOf(slot);
    return {
      ufid: formatUfid(ufidWords),
      ufidWords,
      slot,
      key,
      mask,
      actions: this.actionsOf(slot),
      stats: this.stats(slot),
    };
  }

  /** The UFID text of the flow in live `slot` (dumps: no copy of the flow). */
  ufidTextOf(slot: number): string {
    return this.ufids.textOf(slot);
  }

  /** Deletes the flow with this UFID and returns its final stats; ENOENT when absent. */
  delete(ufid: Uint32Array | string): FlowStats {
    const slot = this.slotOf(ufid);
    const final = this.stats(slot);
    this.megaflow.remove(slot);
    this.ufids.remove(slot);
    this.interner.release(this.actionIds[slot]);
    this.actionIds[slot] = -1;
    this.generation[slot] = (this.generation[slot] + 1) >>> 0;
    this.freeSlots[this.freeCount++] = slot;
    return final;
  }

  /** Deletes every flow; returns how many there were. */
  flush(): number {
    const n = this.size;
    for (let s = 0; s < this.highWater; s++) {
      this.generation[s] = (this.generation[s] + 1) >>> 0;
    }
    this.megaflow.clear();
    this.ufids.clear();
    this.interner.clear();
    this.freeCount = 0;
    this.highWater = 0;
    return n;
  }

  /** Starts a dump of this table (see datapath/flow_dump.ts). */
  dump(): FlowDump {
    return new FlowDump(this);
  }

  /** One page of a stateless paged dump: see {@linkcode dumpPage}. */
  dumpPage(cursor: string | null, limit: number): FlowPage {
    return dumpPage(this, cursor, limit);
  }

  /** Bytes of typed-array storage held by the table (not counting action lists). */
  byteSize(): number {
    return this.megaflow.byteSize() + this.ufids.byteSize() + this.generation.byteLength +
      this.packets.byteLength + this.bytes.byteLength + this.used.byteLength +
      this.tcpFlags.byteLength + this.actionIds.byteLength + this.freeSlots.byteLength;
  }

  private zeroStats(slot: number): void {
    this.packets[slot] = 0;
    this.bytes[slot] = 0;
    this.used[slot] = 0;
    this.tcpFlags[slot] = 0;
  }

  private sameMatch(slot: number, maskedKey: Uint32Array, mask: Uint32Array): boolean {
    const words = new Uint32Array(KEY_WORDS * 2);
    this.megaflow.readKey(slot, words, 0);
    this.megaflow.readMask(slot, words, KEY_WORDS);
    for (let w = 0; w < KEY_WORDS; w++) {
      if (words[w] !== maskedKey[w] || words[KEY_WORDS + w] !== mask[w]) return false;
    }
    return true;
  }

  private twinError(twin: number): DpifError {
    return new DpifError(
      "EEXIST",
      `a flow with the same match exists as ${formatUfid(this.ufids.ufidOf(twin))}`,
    );
  }

  private allocateSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount];
    if (this.highWater >= this.maxFlows) {
      throw new DpifError("EFBIG", `flow table is full (${this.maxFlows} flows)`);
    }
    return this.highWater++;
  }
}

/**
 * A {@linkcode FlowPutResult} whose `ufidWords` are made from the text when
 * asked for (a typed array per put was 200 to 400 ns; see ufidScratch).
 */
class PutOutcome implements FlowPutResult {
  constructor(
    readonly ufid: string,
    readonly slot: number,
    readonly created: boolean,
    readonly previous: FlowStats | null,
  ) {}

  /** The UFID as four words (a new array). */
  get ufidWords(): Uint32Array {
    return toUfid(this.ufid);
  }
}

/** Checks key and mask shapes and the mask rules; throws TypeError or DpifError EINVAL. */
function checkMatch(key: Uint32Array, mask: Uint32Array): void {
  if (!(key instanceof Uint32Array) || key.length !== KEY_WORDS) {
    throw new TypeError(`a flow key must be a Uint32Array of ${KEY_WORDS} words`);
  }
  if (!(mask instanceof Uint32Array) || mask.length !== KEY_WORDS) {
    throw new TypeError(`a flow mask must be a Uint32Array of ${KEY_WORDS} words`);
  }
  if (mask[W_IN_PORT] !== 0xffffffff) {
    throw new DpifError(
      "EINVAL",
      `in_port must be matched exactly (mask 0x${mask[W_IN_PORT].toString(16)})`,
    );
  }
  for (let w = USED_WORDS; w < KEY_WORDS; w++) {
    if (mask[w] !== 0 || key[w] !== 0) {
      throw new DpifError("EINVAL", `flow key word ${w} is past the used words`);
    }
  }
}
