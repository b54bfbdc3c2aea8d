/**
 * The packet pipeline of one polling thread, top-down as in OVS's
 * dp_netdev_input: extract flow keys, look each packet up in the exact-match
 * cache, then in the megaflow classifier, queue misses as upcalls, group the
 * hits into one sub-batch per flow, run each flow's actions once per
 * sub-batch, and finally run whatever the actions recirculated.
 *
 * A Pipeline holds all per-thread state (keys, EMC, sub-batches, counters),
 * so each PMD thread has its own; the flow table, ports and upcall queue are
 * shared with the control side.
 *
 * @module
 */

import type { UserspaceAction } from "./action.ts";
import {
  DROP_ACTION_ERROR,
  DROP_INVALID_PORT,
  DROP_RECIRC_DEPTH,
  DROP_SHORT_FRAME,
  DROP_TX_FULL,
  DROP_UPCALL_LOST,
  newDropCounters,
} from "./drop_reason.ts";
import { Emc } from "./emc.ts";
import type { ExecutionContext } from "./execute/context.ts";
import { applyInPlace, type CompiledActions, executeActions } from "./execute/executor.ts";
import { extractBatchKeys, extractKey, type KeyExtraction } from "./flow_extract.ts";
import { KEY_SHIFT, newKeys, W_IN_PORT, W_TCP_FLAGS } from "./flow_key.ts";
import type { FlowTable } from "./flow_table.ts";
import { CACHE_MIN_MASKS } from "./megaflow.ts";
import { BATCH_SIZE, META_SHIFT, PacketBatch } from "./packet_batch.ts";
import type { PacketPool } from "./packet_pool.ts";
import { emptyPortStats, type Port } from "./port.ts";
import type { PortTable } from "./port_table.ts";
import type { TunnelPort } from "./tunnel_port.ts";
import type { UpcallQueue } from "./upcall_queue.ts";

/** Marks a packet too short to classify in the per-packet slot array. */
const SLOT_SHORT = -2;

/** Placeholder for an unused tx slot, so no closed port is kept alive. */
const NO_PORT: Port = {
  name: "",
  type: "none",
  options: {},
  portNo: -1,
  rxQueues: 0,
  receive: () => 0,
  transmit: (_queue, batch) => {
    batch.freeAll();
    return 0;
  },
  stats: emptyPortStats,
  close: () => {},
};

/**
 * The port every one of the first `count` slots' programs sends to
 * directly (CompiledActions.directOutput), or -1 when one has none or
 * another port. Every slot must be a flow (>= 0).
 */
function sharedDirectPort(programs: CompiledActions[], slotOf: Int32Array, count: number): number {
  const port = programs[slotOf[0]].directOutput;
  if (port < 0) return -1;
  for (let i = 1; i < count; i++) if (programs[slotOf[i]].directOutput !== port) return -1;
  return port;
}

/** How deep recirculation may nest (OVS's MAX_RECIRC_DEPTH). */
export const MAX_RECIRC_DEPTH = 6;

/** Indices into {@linkcode Pipeline.counters}. */
export const C_HIT = 0;
/** Packets that missed both caches. */
export const C_MISSED = 1;
/** Misses (and action upcalls) that could not be queued. */
export const C_LOST = 2;
/** Subtables visited for megaflow hits (OVS's n_mask_hit). */
export const C_MASK_HIT = 3;
/** Exact-match cache hits. */
export const C_EMC_HIT = 4;
/** Megaflow classifier hits. */
export const C_MEGAFLOW_HIT = 5;
/** Packets received (first pass only). */
export const C_RX_PACKETS = 6;
/** Batches processed (first pass only). */
export const C_BATCHES = 7;
/** Packets that went through recirculation. */
export const C_RECIRCULATED = 8;
/** Number of pipeline counters. */
export const COUNTER_COUNT = 9;

/**
 * Exact-match cache entries when none are configured: 0, the EMC off.
 * Since the megaflow classifier got its signature cache (one probe per
 * repeat lookup whatever the number of masks), the EMC in front of it costs
 * more than it saves: on the memory-backend bench, turning it off gave
 * +6% at 1,000 flows, +23% at 10,000 flows over 10 masks, +19% for VXLAN
 * pop and +21% for set(ipv4); only a single flow lost 5% (interleaved A/B,
 * medians of 8, 2026-11-23). OVS reached the same place from the other
 * side (emc-insert-inv-prob). A power of two (OVS's 8192) turns it on.
 */
export const DEFAULT_EMC_ENTRIES = 0;

/**
 * Slots whose packet count went from 0 to non-zero, in the order they did:
 * a PMD's flow replica reads only these at each report instead of walking
 * every live flow (a million of them every 10 ms at 1,000,000 flows).
 */
export class TouchedSlots {
  /** Slot numbers; entries `0 .. count-1` are valid (a slot may repeat). */
  readonly slots: Int32Array;
  /** Number of entries; the reader resets it to 0. */
  count = 0;

  /** Room for `capacity` entries; touches past that are not recorded. */
  constructor(capacity: number) {
    this.slots = new Int32Array(capacity);
  }
}

/** Options for {@linkcode Pipeline}. */
export interface PipelineOptions {
  /**
   * Where to record slots whose packet count leaves 0 (PMD replicas, whose
   * counts are zeroed at each report). Default none.
   */
  touchedSlots?: TouchedSlots;
  /**
   * Exact-match cache entries (a power of two); 0 disables the EMC. Default
   * {@linkcode DEFAULT_EMC_ENTRIES}.
   */
  emcEntries?: number;
}

/** One polling thread's pipeline over a shared flow table and port table. */
export class Pipeline implements ExecutionContext {
  /** Hit/miss/lost counters, indexed by the C_* constants. */
  readonly counters: Float64Array = new Float64Array(COUNTER_COUNT);
  /** Drop counters, indexed by DROP_* constants. */
  readonly drops: Float64Array = newDropCounters();

  readonly #pool: PacketPool;
  readonly #flows: FlowTable;
  readonly #programs: CompiledActions[];
  readonly #ports: PortTable;
  readonly #upcalls: UpcallQueue;
  readonly #emc: Emc | null;
  readonly #keys: Uint32Array = newKeys(BATCH_SIZE);
  readonly #maps: Uint32Array = new Uint32Array(BATCH_SIZE * 2);
  readonly #slotOf: Int32Array = new Int32Array(BATCH_SIZE);
  /** Sub-batches, one per distinct flow of the batch being processed. */
  readonly #groups: PacketBatch[] = [];
  readonly #groupSlot: Int32Array = new Int32Array(BATCH_SIZE);
  readonly #groupBytes: Float64Array = new Float64Array(BATCH_SIZE);
  readonly #groupTcpFlags: Int32Array = new Int32Array(BATCH_SIZE);
  /** Per flow slot: the epoch of the pass that last grouped it, and its group. */
  readonly #markEpoch: Uint32Array;
  readonly #markGroup: Uint8Array;
  #epoch = 0;
  /** Free spare batches lent to the executor (clones, splits). */
  readonly #spares: PacketBatch[] = [];
  /** Batches queued for recirculation, each at a depth. */
  readonly #recircQueue: PacketBatch[] = [];
  readonly #recircDepth: number[] = [];
  /** Ports with queued output this pass, and their tx batches. */
  readonly #txPorts: Port[] = [];
  readonly #txBatches: PacketBatch[] = [];
  /** The port number each tx batch was queued under. */
  readonly #txPortNos: number[] = [];
  #txCount = 0;
  /** Key of the packet an action upcall is taken from. */
  readonly #upcallKey: Uint32Array = newKeys(1);
  /** Reused extraction job for action upcalls (the key is taken after earlier actions). */
  readonly #upcallJob: KeyExtraction = {
    bytes: new Uint8Array(0),
    offset: 0,
    length: 0,
    meta: null,
    metaOffset: 0,
    key: this.#upcallKey,
    keyOffset: 0,
    map: new Uint32Array(2),
    mapOffset: 0,
    l3: -1,
    l4: -1,
  };
  #depth = 0;
  readonly #touched: TouchedSlots | null;
  /**
   * The last tunnelPort answer of this pass (port number, then the answer):
   * the per-packet tnl_push path asks once per packet, and the port table's
   * Map lookup (FindOrderedHashMapEntry) was ~2% of the VXLAN push case's
   * PMD profile. Ports change only between passes, so every pass starts
   * with it empty.
   */
  #tunnelAskedPort = -1;
  #tunnelAnswer: TunnelPort | null = null;

  /** Creates a pipeline; nothing is polled until {@linkcode processBatch}. */
  constructor(
    pool: PacketPool,
    flows: FlowTable,
    programs: CompiledActions[],
    ports: PortTable,
    upcalls: UpcallQueue,
    options: PipelineOptions = {},
  ) {
    this.#pool = pool;
    this.#flows = flows;
    this.#programs = programs;
    this.#markEpoch = new Uint32Array(flows.maxFlows);
    this.#markGroup = new Uint8Array(flows.maxFlows);
    this.#ports = ports;
    this.#upcalls = upcalls;
    this.#touched = options.touchedSlots ?? null;
    const emcEntries = options.emcEntries ?? DEFAULT_EMC_ENTRIES;
    this.#emc = emcEntries > 0 ? new Emc(emcEntries, flows.generation) : null;
    for (let i = 0; i < BATCH_SIZE; i++) this.#groups.push(new PacketBatch(pool));
  }

  /**
   * Runs the pipeline on a received batch, then on everything it
   * recirculates. Takes ownership of every packet and empties the batch.
   */
  processBatch(batch: PacketBatch): void {
    this.#tunnelAskedPort = -1; // port numbers are >= 0: -1 answers null
    this.#tunnelAnswer = null;
    this.counters[C_RX_PACKETS] += batch.count;
    this.counters[C_BATCHES]++;
    this.#depth = 0;
    this.#classifyAndExecute(batch);
    this.#drainRecirculation();
    this.flushTx();
  }

  #drainRecirculation(): void {
    while (this.#recircQueue.length > 0) {
      const next = this.#recircQueue.shift()!;
      this.#depth = this.#recircDepth.shift()!;
      this.counters[C_RECIRCULATED] += next.count;
      this.#classifyAndExecute(next);
      this.releaseBatch(next);
    }
  }

  /**
   * Runs `program` on a batch (a packet-out, dpif_execute), then whatever it
   * recirculates. Takes ownership of every packet and empties the batch.
   */
  executeBatch(program: CompiledActions, batch: PacketBatch): void {
    this.#tunnelAskedPort = -1; // port numbers are >= 0: -1 answers null
    this.#tunnelAnswer = null;
    this.#depth = 0;
    executeActions(program, batch, this);
    this.#drainRecirculation();
    this.flushTx();
  }

  /** The EMC, or null when disabled (for stats and tests). */
  get emc(): Emc | null {
    return this.#emc;
  }

  #classifyAndExecute(batch: PacketBatch): void {
    const keys = this.#keys;
    const maps = this.#maps;
    const slotOf = this.#slotOf;
    const flows = this.#flows;
    const megaflow = flows.megaflow;
    const emc = this.#emc;
    const counters = this.counters;
    const count = batch.count;
    const short = extractBatchKeys(batch, keys, maps);

    // Classify. Without an EMC (the default) and with several masks, the
    // whole batch goes to the megaflow classifier in one batched lookup
    // (OVS's dpcls_lookup), which overlaps the memory waits of different
    // keys: +27% at 10,000 flows over 10 masks, +10% for VXLAN pop (A/B by
    // CPU time, separate processes, medians of 5 pairs, 2026-11-23). With
    // one mask a per-key probe is as cheap. Otherwise EMC (when on) then
    // the classifier, per key. What misses both upcalls.
    let hits = 0;
    if (emc === null && megaflow.maskCount >= CACHE_MIN_MASKS) {
      const valid = ~short;
      megaflow.lookupBatch(keys, count, slotOf, valid);
      for (let i = 0; i < count; i++) {
        if ((valid & (1 << i)) === 0) slotOf[i] = SLOT_SHORT;
        else if (slotOf[i] >= 0) hits++;
      }
      counters[C_MEGAFLOW_HIT] += hits;
    } else {
      for (let i = 0; i < count; i++) {
        if ((short & (1 << i)) !== 0) {
          slotOf[i] = SLOT_SHORT;
          continue;
        }
        const keyOffset = i << KEY_SHIFT;
        let slot = -1;
        let hash = 0;
        if (emc !== null) {
          hash = emc.hashKey(keys, keyOffset, maps, i << 1);
          slot = emc.lookup(keys, keyOffset, maps, i << 1, hash);
        }
        if (slot >= 0) {
          counters[C_EMC_HIT]++;
        } else {
          slot = megaflow.lookup(keys, keyOffset);
          if (slot >= 0) {
            counters[C_MEGAFLOW_HIT]++;
            if (emc !== null) emc.insert(keys, keyOffset, maps, i << 1, hash, slot);
          }
        }
        if (slot >= 0) hits++;
        slotOf[i] = slot;
      }
    }
    counters[C_HIT] += hits;
    counters[C_MASK_HIT] = megaflow.maskHits;

    // Fast path: the whole batch hit one flow (a burst of one flow, or
    // recirculated packets): run its actions on the batch itself, no copy.
    const firstSlot = slotOf[0];
    if (hits === count && firstSlot >= 0) {
      let uniform = true;
      for (let i = 1; i < count; i++) {
        if (slotOf[i] !== firstSlot) {
          uniform = false;
          break;
        }
      }
      if (uniform) {
        let bytes = 0;
        let tcpFlags = 0;
        for (let i = 0; i < count; i++) {
          bytes += batch.length[i];
          tcpFlags |= keys[(i << KEY_SHIFT) + W_TCP_FLAGS];
        }
        this.#account(firstSlot, count, bytes, tcpFlags, Date.now());
        executeActions(this.#programs[firstSlot], batch, this);
        return;
      }
    }

    // Fast path: every packet hit a flow whose actions are in-place steps
    // and an output to one and the same port (1,000 flows all sent to one
    // port: the bench's cases (1), (3) and (5)). Each packet's steps run
    // where it lies and the batch itself goes to the port: no per-packet
    // copy into the port's tx batch. Packets a step failed on are freed
    // and counted by applyInPlace and squeezed out (order kept). It took
    // 1,000 flows with the EMC off from 137 to 127 ns a packet on the memory
    // backend (CPU time, bench/datapath_bench.ts's case in a loop, medians
    // of 3 alternated runs, 2026-11-23). Folding sharedDirectPort's pass
    // into the classify loop above (one pass fewer over the batch) was
    // tried and measured neutral, so it was not kept: PMD CPU ns/packet,
    // base vs fused, medians of 8 alternated runs (/tmp/fastpath/
    // run_case.ts, 2026-11-23): (1) 1k flows EMC off 143 vs 140; 10k
    // flows/10 masks 252 vs 236 (spread 198..309 in both); 100k/10 masks
    // 340 vs 337 and (5) set(ipv4) 193 vs 196 (4 runs): a 32-entry pass
    // over arrays already in L1 costs too little to show.
    if (hits === count && count > 0) {
      const port = sharedDirectPort(this.#programs, slotOf, count);
      if (port >= 0) {
        this.#directBatch(batch, port);
        return;
      }
    }

    // Group hits by flow (packet order kept within a flow), summing bytes
    // and TCP flags for the flow stats on the way. A slot finds its group in
    // O(1) through per-slot marks stamped with this pass's epoch.
    const groups = this.#groups;
    const groupSlot = this.#groupSlot;
    const groupBytes = this.#groupBytes;
    const groupTcpFlags = this.#groupTcpFlags;
    const markEpoch = this.#markEpoch;
    const markGroup = this.#markGroup;
    const epoch = this.#epoch = (this.#epoch + 1) >>> 0 || 1;
    const programs = this.#programs;
    const now = Date.now();
    let groupCount = 0;
    let directPort = -1;
    let directTx = -1;
    for (let i = 0; i < count; i++) {
      const slot = slotOf[i];
      if (slot === SLOT_SHORT) {
        this.#pool.free(batch.handle[i]);
        this.drops[DROP_SHORT_FRAME]++;
        continue;
      }
      if (slot < 0) {
        this.#upcallMiss(batch, i);
        continue;
      }
      // A flow whose actions are in-place steps and one output (just an
      // output, or set/push then output) skips its sub-batch: its steps run
      // on the packet where it lies and the packet goes straight to the
      // port's tx batch (per-flow order is kept). With 1,000 flows a batch
      // held ~32 one-packet sub-batches, each copied and run through the
      // executor: skipping them made the 1k-flow memory bench 1.9x faster
      // for plain output (interleaved A/B, 2026-11-23).
      const program = programs[slot];
      const direct = program.directOutput;
      if (direct >= 0) {
        this.#account(slot, 1, batch.length[i], keys[(i << KEY_SHIFT) + W_TCP_FLAGS], now);
        if (program.steps.length > 1 && !applyInPlace(program, batch, i, this)) continue;
        if (direct !== directPort) {
          directPort = direct;
          directTx = this.#txIndex(direct);
        }
        if (directTx < 0) {
          this.drops[DROP_INVALID_PORT]++;
          this.#pool.free(batch.handle[i]);
          continue;
        }
        this.#queueTx(directTx, batch, i);
        continue;
      }
      let g: number;
      if (markEpoch[slot] === epoch) {
        g = markGroup[slot];
      } else {
        g = groupCount++;
        markEpoch[slot] = epoch;
        markGroup[slot] = g;
        groupSlot[g] = slot;
        groupBytes[g] = 0;
        groupTcpFlags[g] = 0;
        groups[g].count = 0;
      }
      groups[g].pushFrom(batch, i);
      groupBytes[g] += batch.length[i];
      groupTcpFlags[g] |= keys[(i << KEY_SHIFT) + W_TCP_FLAGS];
    }
    batch.count = 0;

    // Execute each flow's actions once for its sub-batch.
    for (let g = 0; g < groupCount; g++) {
      const slot = groupSlot[g];
      this.#account(slot, groups[g].count, groupBytes[g], groupTcpFlags[g], now);
      executeActions(this.#programs[slot], groups[g], this);
    }
  }

  /**
   * The whole-batch direct output (see #classifyAndExecute): accounts each
   * packet to its flow, runs its in-place steps, sends the survivors to
   * `port`. Transmit reads only buffers, offsets and lengths, so a packet
   * moved down over a failed one leaves its metadata behind.
   */
  #directBatch(batch: PacketBatch, port: number): void {
    const slotOf = this.#slotOf;
    const programs = this.#programs;
    const keys = this.#keys;
    const count = batch.count;
    const now = Date.now();
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const slot = slotOf[i];
      const program = programs[slot];
      this.#account(slot, 1, batch.length[i], keys[(i << KEY_SHIFT) + W_TCP_FLAGS], now);
      if (program.steps.length > 1 && !applyInPlace(program, batch, i, this)) continue;
      if (kept !== i) {
        batch.handle[kept] = batch.handle[i];
        batch.offset[kept] = batch.offset[i];
        batch.length[kept] = batch.length[i];
        batch.l3[kept] = batch.l3[i];
        batch.l4[kept] = batch.l4[i];
      }
      kept++;
    }
    batch.count = kept;
    if (kept > 0) this.output(port, batch);
  }

  /** Adds one sub-batch to its flow's stats. */
  #account(slot: number, packets: number, bytes: number, tcpFlags: number, now: number): void {
    const flows = this.#flows;
    const touched = this.#touched;
    if (touched !== null && flows.packets[slot] === 0 && touched.count < touched.slots.length) {
      touched.slots[touched.count++] = slot;
    }
    flows.packets[slot] += packets;
    flows.bytes[slot] += bytes;
    flows.used[slot] = now;
    flows.tcpFlags[slot] |= tcpFlags;
  }

  #upcallMiss(batch: PacketBatch, i: number): void {
    this.counters[C_MISSED]++;
    const queued = this.#upcalls.enqueueMiss(
      batch.meta[(i << META_SHIFT) + W_IN_PORT],
      this.#keys,
      i << KEY_SHIFT,
      this.#pool.bytes,
      batch.offset[i],
      batch.length[i],
    );
    if (!queued) {
      this.counters[C_LOST]++;
      this.drops[DROP_UPCALL_LOST]++;
    }
    this.#pool.free(batch.handle[i]);
  }

  // --- ExecutionContext

  /**
   * Queues a batch for transmission on a port; a missing port is a counted
   * drop. Like OVS's per-port output batches, packets wait in a per-port tx
   * batch until it fills or the pass ends ({@linkcode flushTx}), so a batch
   * of many small flows costs one transmit per port, not one per flow. A
   * large batch meeting an empty queue is sent at once, without a copy.
   */
  output(port: number, batch: PacketBatch): void {
    let t = this.#queuedTx(port);
    if (t < 0) {
      const target = this.#ports.get(port);
      if (target === undefined) {
        this.drops[DROP_INVALID_PORT] += batch.count;
        batch.freeAll();
        return;
      }
      if (batch.count >= BATCH_SIZE / 2) {
        this.drops[DROP_TX_FULL] += target.transmit(0, batch);
        return;
      }
      t = this.#addTxPort(port, target);
    }
    for (let i = 0; i < batch.count; i++) this.#queueTx(t, batch, i);
    batch.count = 0;
  }

  /**
   * Appends packet i of `batch` to tx batch `t`, transmitting that batch
   * first when full. The caller forgets the packet in `batch`.
   */
  #queueTx(t: number, batch: PacketBatch, i: number): void {
    const pending = this.#txBatches[t];
    if (pending.count === BATCH_SIZE) {
      this.drops[DROP_TX_FULL] += this.#txPorts[t].transmit(0, pending);
    }
    pending.pushPacket(batch, i); // no metadata: transmit never reads it
  }

  /**
   * The index of port `portNo`'s tx batch this pass (added when new), or -1
   * when there is no such port.
   */
  #txIndex(portNo: number): number {
    const t = this.#queuedTx(portNo);
    if (t >= 0) return t;
    const target = this.#ports.get(portNo);
    return target === undefined ? -1 : this.#addTxPort(portNo, target);
  }

  /**
   * The index of port `portNo`'s tx batch if it already has one this pass,
   * else -1: a scan of a few numbers, cheaper than the port table's Map.
   */
  #queuedTx(portNo: number): number {
    const numbers = this.#txPortNos;
    for (let t = 0; t < this.#txCount; t++) if (numbers[t] === portNo) return t;
    return -1;
  }

  /** Adds a port with an empty tx batch for this pass; returns its index. */
  #addTxPort(portNo: number, target: Port): number {
    const t = this.#txCount++;
    this.#txPorts[t] = target;
    this.#txPortNos[t] = portNo;
    if (this.#txBatches.length === t) this.#txBatches.push(new PacketBatch(this.#pool));
    return t;
  }

  /** Transmits every queued output batch; the end of each pass calls it. */
  flushTx(): void {
    for (let t = 0; t < this.#txCount; t++) {
      const pending = this.#txBatches[t];
      if (pending.count > 0) this.drops[DROP_TX_FULL] += this.#txPorts[t].transmit(0, pending);
      this.#txPorts[t] = NO_PORT;
    }
    this.#txCount = 0;
  }

  /** Queues a batch for another pass, or drops it past the depth limit. */
  recirculate(batch: PacketBatch): void {
    if (this.#depth + 1 >= MAX_RECIRC_DEPTH) {
      this.drops[DROP_RECIRC_DEPTH] += batch.count;
      batch.freeAll();
      return;
    }
    const copy = this.borrowBatch();
    copy.moveAllFrom(batch);
    this.#recircQueue.push(copy);
    this.#recircDepth.push(this.#depth + 1);
  }

  /** Queues an action upcall for packet i; the packet stays in the batch. */
  upcall(batch: PacketBatch, i: number, action: UserspaceAction): void {
    const job = this.#upcallJob;
    job.bytes = this.#pool.bytes;
    job.offset = batch.offset[i];
    job.length = batch.length[i];
    job.meta = batch.meta;
    job.metaOffset = i << META_SHIFT;
    extractKey(job);
    const queued = this.#upcalls.enqueueAction(
      batch.meta[(i << META_SHIFT) + W_IN_PORT],
      this.#upcallKey,
      0,
      this.#pool.bytes,
      batch.offset[i],
      batch.length[i],
      action,
    );
    if (!queued) {
      this.counters[C_LOST]++;
      this.drops[DROP_UPCALL_LOST]++;
    }
  }

  /** Counts drops for a reason. */
  drop(reason: number, count: number): void {
    this.drops[reason] += count;
  }

  /** The tunnel type and UDP port of a tunnel vport, or null. */
  tunnelPort(port: number): { type: "vxlan" | "geneve" | "gre"; dstPort: number } | null {
    if (port !== this.#tunnelAskedPort) {
      this.#tunnelAnswer = this.#ports.tunnelInfo(port);
      this.#tunnelAskedPort = port;
    }
    return this.#tunnelAnswer;
  }

  /** Lends an empty batch over the pipeline's pool. */
  borrowBatch(): PacketBatch {
    const batch = this.#spares.pop() ?? new PacketBatch(this.#pool);
    batch.count = 0;
    return batch;
  }

  /** Returns a lent batch; it must be empty. */
  releaseBatch(batch: PacketBatch): void {
    if (batch.count !== 0) {
      this.drops[DROP_ACTION_ERROR] += batch.count;
      batch.freeAll();
    }
    this.#spares.push(batch);
  }
}
