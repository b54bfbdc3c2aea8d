/**
 * A datapath: ports, a flow table, upcall queues and the pipeline that
 * forwards between them, with the semantics of Open vSwitch's `struct dpif`.
 *
 * Every datapath has a local port 0 named after it. Flows are key + mask +
 * actions + stats, written in the OVS datapath flow syntax or its JSON form;
 * there are no priorities and empty actions drop. Misses and `userspace`
 * actions queue upcalls while the client has enabled them.
 *
 * This class is the control side. Packets move in {@linkcode poll} (all rx
 * queues once) and {@linkcode execute}; PMD threads run their own Pipeline
 * over the same tables.
 *
 * @module
 */

import type { Action } from "./action.ts";
import { dropCountersToObject } from "./drop_reason.ts";
import { DpifError } from "./errors.ts";
import { compileActions, type CompiledActions } from "./execute/executor.ts";
import { KEY_WORDS, META_WORDS, newKeys } from "./flow_key.ts";
import { FlowTable } from "./flow_table.ts";
import { dumpTextPage } from "./flow_dump.ts";
import type { FlowEntry, FlowStats } from "./flow_table.ts";
import { MemoryPool } from "./memory_pool.ts";
import { formatActions } from "./odp/action_format.ts";
import { actionsFromJson } from "./odp/action_json.ts";
import { parseActions } from "./odp/action_parse.ts";
import { formatFlowKey } from "./odp/key_format.ts";
import { matchNoTagWithoutVlan } from "./odp/key_build.ts";
import { flowKeyFromJson } from "./odp/key_json.ts";
import { type FlowMatch, parseFlowKey } from "./odp/key_parse.ts";
import { META_SHIFT, PacketBatch } from "./packet_batch.ts";
import type { PacketPool } from "./packet_pool.ts";
import {
  C_EMC_HIT,
  C_HIT,
  C_LOST,
  C_MASK_HIT,
  C_MEGAFLOW_HIT,
  C_MISSED,
  Pipeline,
} from "./pipeline.ts";
import type { Port, PortOptions, PortStats } from "./port.ts";
import { createPort } from "./port_factory.ts";
import { PortTable } from "./port_table.ts";
import { UpcallQueue } from "./upcall_queue.ts";
import { DummyPort } from "./dummy_port.ts";
import { formatUfid, parseUfidInto, UFID_WORDS } from "./ufid.ts";

/** Options for {@linkcode Datapath}. */
export interface DatapathOptions {
  /** The packet pool every port of this datapath uses. Default: a MemoryPool. */
  pool?: PacketPool;
  /** Most flows the table holds. Default 1,000,000. */
  maxFlows?: number;
  /** Exact-match cache entries; 0 disables it. Default DEFAULT_EMC_ENTRIES in pipeline.ts (off). */
  emcEntries?: number;
  /** Upcalls queued per input port before more are lost. Default 256. */
  upcallQueueDepth?: number;
}

/** A port as the API shows it. */
export interface PortInfo {
  name: string;
  port_no: number;
  type: string;
  options: PortOptions;
}

/** A flow as the API shows it: ODP text and stats. */
export interface FlowInfo {
  ufid: string;
  flow: string;
  actions: string;
  stats: FlowStats;
}

/** Datapath statistics, named as in struct dpif_dp_stats plus our own. */
export interface DatapathStats {
  n_hit: number;
  n_missed: number;
  n_lost: number;
  n_flows: number;
  n_mask_hit: number;
  n_masks: number;
  n_emc_hit: number;
  n_megaflow_hit: number;
  drops: Record<string, number>;
  pool: { capacity: number; available: number; in_use: number };
}

/** A flow given as ODP text or as the structured JSON form. */
export type FlowSpec = string | Record<string, unknown>;
/** Actions given as ODP text or as the structured JSON form. */
export type ActionsSpec = string | unknown[];

/** A flow put request (dpif_flow_put). */
export interface FlowPutRequest {
  flow: FlowSpec;
  actions: ActionsSpec;
  /** UFID text; derived from the match when absent. */
  ufid?: string;
  /** Create if absent. Default true. */
  create?: boolean;
  /** Modify if present. Default false. */
  modify?: boolean;
  /** Zero the stats when modifying. Default false. */
  zeroStats?: boolean;
}

/** Result of a put: the flow's UFID, whether it was created, previous stats. */
export interface FlowPutResult {
  ufid: string;
  created: boolean;
  previous: FlowStats | null;
}

/** Metadata for an executed packet: ODP key text (e.g. "in_port(1),skb_mark(5)") or an object. */
export type ExecuteMetadata = string | Record<string, unknown>;

/** One operation of {@linkcode Datapath.operate}. */
export type Operation =
  | ({ op: "put" } & FlowPutRequest)
  | { op: "del"; ufid: string }
  | { op: "get"; ufid: string }
  | { op: "execute"; packet: Uint8Array; actions: ActionsSpec; metadata?: ExecuteMetadata };

/** The result of one operation: `ok` with data, or the error. */
export type OperationResult =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string } };

/**
 * A change to the flow table, as {@linkcode Datapath.onFlowChange} reports it
 * (for PMD threads keeping a replica). `key` is masked; `generation` is the
 * slot's generation while this flow holds it. `key` and `mask` are the
 * listener's to keep and are never written again, but they are views on a
 * buffer that up to 255 other puts' matches share: a listener that keeps
 * one for long should keep a copy (`slice()`), and one that posts it to a
 * Worker should post a copy (a view transfers its whole buffer). While
 * every listener was registered with `withMatch: false`, they are empty
 * (length 0).
 */
export type FlowChange =
  | {
    op: "put";
    slot: number;
    generation: number;
    key: Uint32Array;
    mask: Uint32Array;
    actions: Action[];
    /** The flow's UFID (canonical text) and whether the put created it (else modified). */
    ufid: string;
    created: boolean;
  }
  | { op: "del"; slot: number; ufid: string }
  | { op: "flush" }
  | { op: "upcalls"; enabled: boolean };

/** Options of {@linkcode Datapath.onFlowChange}. */
export interface FlowListenerOptions {
  /**
   * Whether put changes must carry the flow's key and mask (default true).
   * With false they carry empty arrays unless another listener wants the
   * match, and a put costs no copy for this listener: copying the two 64-word arrays for the API's change feed
   * (which needs only the UFID) was 2 µs of a 6 µs put
   * (bench/flow_setup_bench.ts shape, in process).
   */
  withMatch?: boolean;
}

/** The key and mask of put changes for `withMatch: false` listeners. */
const NO_WORDS = new Uint32Array(0);

/** Put changes whose key and mask share one buffer (128 KiB). */
const MATCH_SLAB_PUTS = 256;

/**
 * Action texts whose parsed list and program a datapath keeps, and the
 * longest text kept (see `Datapath.#parsedActions`).
 */
const ACTION_CACHE_ENTRIES = 1024;
const ACTION_CACHE_TEXT = 256;
/** Entries per hit below which a fill counts as thrashing (see `Datapath.#actionTexts`). */
const ACTION_CACHE_THRASH = 8;
/** While thrashing, one miss in this many is kept. */
const ACTION_CACHE_SAMPLE = 16;

/** A parsed action list and its program. */
interface ParsedActions {
  list: Action[];
  program: CompiledActions;
}

/** One datapath and everything it owns. */
export class Datapath {
  /** The datapath's name; also its local port's name. */
  readonly name: string;
  /** The pool all of its packets live in. */
  readonly pool: PacketPool;
  /** Ports by number and name. */
  readonly ports: PortTable = new PortTable();
  /** Flows and the megaflow classifier. */
  readonly flows: FlowTable;
  /** Upcalls waiting for the client. */
  readonly upcalls: UpcallQueue;
  /** The pipeline the control thread runs (poll, execute). */
  readonly pipeline: Pipeline;
  readonly #programs: CompiledActions[] = [];
  /**
   * One compiled program per interned action list (by the flow table's
   * action id), shared by every flow with that list: a program per flow cost
   * ~150 bytes of heap each. An entry is valid while its list is the one the
   * table holds under that id (ids are reused after a list is released).
   */
  readonly #shared: ({ list: Action[]; program: CompiledActions } | undefined)[] = [];
  readonly #rxBatch: PacketBatch;
  /** Flow listeners, each with whether it wants the key and mask of puts. */
  readonly #flowListeners = new Map<(change: FlowChange) => void, boolean>();
  /** Listeners that want the key and mask of puts. */
  #matchListeners = 0;
  /**
   * Where put changes' keys and masks are copied for those listeners: each
   * put takes the next unused (zeroed) pair of `KEY_WORDS` words, as two
   * views. Why: two new 64-word arrays per put cost 1.5 to 2 µs on this
   * Deno (each typed array gets its own backing store), as much as the rest
   * of the put (bench/flow_setup_bench.ts's flows in process, one listener
   * reading the match: 4.6 µs per put, 2.9 with the slab).
   */
  #matchSlab = new Uint32Array(0);
  #matchNext = MATCH_SLAB_PUTS;
  /** Where putFlow parses the match of text flows (the flow table copies it). */
  readonly #putMatch: FlowMatch = { key: newKeys(1), mask: newKeys(1) };
  /** Where puts, gets and deletes parse a UFID given as text (see ufid.ts, parseUfidInto). */
  readonly #ufid = new Uint32Array(UFID_WORDS);
  /**
   * Parsed and compiled action lists by ODP text. Why: flow setup sends a
   * few distinct action texts ("2", "3", ...) for many flows; parsing and
   * compiling each again, then spelling its canonical text to intern it,
   * was 0.4 µs of a 5 µs put (bench/flow_setup_bench.ts shape, profiled in
   * process). Parsing and compiling depend on the text alone; at most
   * ACTION_CACHE_ENTRIES texts of at most ACTION_CACHE_TEXT characters,
   * forgotten all at once when full.
   *
   * Admission: while texts hardly repeat (fewer than 1 hit in
   * ACTION_CACHE_THRASH per entry over the last fill), only every
   * ACTION_CACHE_SAMPLE-th miss is kept. Why: flow churn (every put a fresh
   * `set(eth(...))` list, tools/flow_churn.ts) never hits, and inserting
   * each text and clearing the full map cost ~1 µs per put (a Map insert
   * and its share of the clear and regrowth, micro-benchmark of 400,000
   * churn texts: get only 0.2 to 0.3 µs, get + insert + clear 1.5 to 3 µs
   * on the loaded 2-vCPU machine); a text that does repeat still gets in
   * among the sampled ones, and the next fill measures the hits again.
   */
  readonly #actionTexts = new Map<string, ParsedActions>();
  /** Hits of #actionTexts since it was last cleared. */
  #actionHits = 0;
  /** Misses since the last kept one; a miss is kept when this reaches #actionAdmitEvery. */
  #actionMisses = 0;
  /** 1, or ACTION_CACHE_SAMPLE while texts hardly repeat. */
  #actionAdmitEvery = 1;
  readonly #polledElsewhere = new Set<number>();

  /** Creates a datapath with its local port 0. */
  constructor(name: string, options: DatapathOptions = {}) {
    validateName(name);
    this.name = name;
    this.pool = options.pool ?? new MemoryPool();
    this.flows = new FlowTable({ maxFlows: options.maxFlows });
    this.upcalls = new UpcallQueue({ depthPerPort: options.upcallQueueDepth });
    this.pipeline = new Pipeline(this.pool, this.flows, this.#programs, this.ports, this.upcalls, {
      emcEntries: options.emcEntries,
    });
    this.#rxBatch = new PacketBatch(this.pool);
    this.ports.add(createPort({ name, type: "internal", options: {}, pool: this.pool }), 0);
  }

  // --- Ports

  /** Adds a port; `port_no` requests a number (EBUSY if taken). */
  addPort(spec: { name: string; type: string; port_no?: number; options?: PortOptions }): PortInfo {
    validateName(spec.name);
    // Refuse a taken name or number before opening anything: opening the DPDK
    // device of the port already holding it would reconfigure and close it.
    if (this.ports.byName(spec.name) !== undefined) {
      throw new DpifError("EEXIST", `a port named '${spec.name}' already exists`);
    }
    const holder = spec.port_no === undefined ? undefined : this.ports.get(spec.port_no);
    if (holder !== undefined) {
      throw new DpifError("EBUSY", `port number ${spec.port_no} is used by '${holder.name}'`);
    }
    const port = createPort({
      name: spec.name,
      type: spec.type,
      options: spec.options ?? {},
      pool: this.pool,
    });
    try {
      this.ports.add(port, spec.port_no);
    } catch (error) {
      port.close();
      throw error;
    }
    return portInfo(port);
  }

  /** Removes a port by name or number (EPERM for the local port, ENOENT if absent). */
  removePort(port: string | number): void {
    this.ports.remove(port);
  }

  /** A port's description by name or number (ENOENT if absent). */
  port(port: string | number): PortInfo {
    return portInfo(this.#port(port));
  }

  /** All ports in port-number order. */
  listPorts(): PortInfo[] {
    return this.ports.dump().map(portInfo);
  }

  /** A port's counters. */
  portStats(port: string | number): PortStats {
    return this.#port(port).stats();
  }

  /** The dummy port behind a name or number (EOPNOTSUPP for other types). */
  dummyPort(port: string | number): DummyPort {
    const p = this.#port(port);
    if (!(p instanceof DummyPort)) {
      throw new DpifError("EOPNOTSUPP", `port ${p.name} is of type ${p.type}, not dummy`);
    }
    return p;
  }

  #port(port: string | number): Port {
    const p = typeof port === "number" ? this.ports.get(port) : this.ports.byName(port);
    if (p === undefined) throw new DpifError("ENOENT", `no port ${port} in datapath ${this.name}`);
    return p;
  }

  // --- Flows

  /**
   * Creates or modifies a flow (dpif_flow_put semantics).
   *
   * In process, bench/flow_setup_bench.ts's flows (ODP text, 10 masks,
   * output to one of 4 ports) took 4.9 µs of CPU per put, 6.1 µs with the
   * API's change feed listening (203,000 and 165,000 puts/s); with the
   * scratch match, the action-text cache, `withMatch: false` listeners and
   * the flow table's scratch UFID (see those), 3.0 and 2.6 µs (334,000 and
   * 382,000 puts/s; `deno run -A bench/flow_setup_bench.ts --in-process`).
   */
  putFlow(request: FlowPutRequest): FlowPutResult {
    const match = parseFlowSpec(request.flow, this.#putMatch);
    const parsed = this.#parsedActions(request.actions);
    const result = this.flows.put({
      ufid: request.ufid === undefined ? undefined : parseUfidInto(request.ufid, this.#ufid),
      key: match.key,
      mask: match.mask,
      actions: parsed.list,
      create: request.create ?? true,
      modify: request.modify ?? false,
      zeroStats: request.zeroStats ?? false,
    });
    this.#programs[result.slot] = this.#sharedProgram(result.slot, parsed);
    if (this.#flowListeners.size > 0) {
      let key = NO_WORDS;
      let mask = NO_WORDS;
      if (this.#matchListeners > 0) {
        if (this.#matchNext === MATCH_SLAB_PUTS) {
          this.#matchSlab = new Uint32Array(2 * KEY_WORDS * MATCH_SLAB_PUTS);
          this.#matchNext = 0;
        }
        const at = 2 * KEY_WORDS * this.#matchNext++;
        key = this.#matchSlab.subarray(at, at + KEY_WORDS);
        mask = this.#matchSlab.subarray(at + KEY_WORDS, at + 2 * KEY_WORDS);
        this.flows.megaflow.readKey(result.slot, key, 0);
        this.flows.megaflow.readMask(result.slot, mask, 0);
      }
      const generation = this.flows.generation[result.slot];
      const { ufid, created } = result;
      const actions = parsed.list;
      this.#notify({ op: "put", slot: result.slot, generation, key, mask, actions, ufid, created });
    }
    return { ufid: result.ufid, created: result.created, previous: result.previous };
  }

  /**
   * The parsed list and program of an actions spec: from the action-text
   * cache for short ODP text, else parsed and compiled (which throw for bad
   * actions, before anything changes).
   */
  #parsedActions(spec: ActionsSpec): ParsedActions {
    if (typeof spec !== "string" || spec.length > ACTION_CACHE_TEXT) {
      const list = parseActionsSpec(spec);
      return { list, program: compileActions(list) };
    }
    let parsed = this.#actionTexts.get(spec);
    if (parsed !== undefined) {
      this.#actionHits++;
      return parsed;
    }
    const list = parseActions(spec);
    parsed = { list, program: compileActions(list) };
    if (++this.#actionMisses < this.#actionAdmitEvery) return parsed;
    this.#actionMisses = 0;
    if (this.#actionTexts.size >= ACTION_CACHE_ENTRIES) {
      this.#actionAdmitEvery = this.#actionHits * ACTION_CACHE_THRASH < ACTION_CACHE_ENTRIES
        ? ACTION_CACHE_SAMPLE
        : 1;
      this.#actionTexts.clear();
      this.#actionHits = 0;
    }
    this.#actionTexts.set(spec, parsed);
    return parsed;
  }

  /** A flow by UFID (ENOENT if absent). */
  getFlow(ufid: string): FlowInfo {
    return flowInfo(this.flows.get(parseUfidInto(ufid, this.#ufid)));
  }

  /** Deletes a flow and returns its final stats (ENOENT if absent). */
  deleteFlow(ufid: string): FlowStats {
    const words = parseUfidInto(ufid, this.#ufid);
    const slot = this.flows.slotOf(words);
    const stats = this.flows.delete(words);
    this.#notify({ op: "del", slot, ufid: formatUfid(words) });
    return stats;
  }

  /** Deletes every flow; returns how many there were. */
  flushFlows(): number {
    const count = this.flows.flush();
    this.#shared.length = 0;
    this.#notify({ op: "flush" });
    return count;
  }

  /**
   * Calls `listener` after every flow put, delete and flush, and every
   * upcall switch, made through this class (PMD threads keep their replicas
   * with it). Returns a function that removes the listener. A listener must
   * not throw. See {@linkcode FlowListenerOptions} for `withMatch`.
   */
  onFlowChange(
    listener: (change: FlowChange) => void,
    options: FlowListenerOptions = {},
  ): () => void {
    this.#flowListeners.set(listener, options.withMatch ?? true);
    this.#countMatchListeners();
    return () => {
      this.#flowListeners.delete(listener);
      this.#countMatchListeners();
    };
  }

  #countMatchListeners(): void {
    let n = 0;
    for (const withMatch of this.#flowListeners.values()) if (withMatch) n++;
    this.#matchListeners = n;
  }

  #notify(change: FlowChange): void {
    for (const listener of this.#flowListeners.keys()) listener(change);
  }

  /**
   * Marks a port as polled by another thread (a PMD), so {@linkcode poll}
   * leaves its rx queues alone; `false` gives them back.
   */
  setPolledElsewhere(portNo: number, elsewhere: boolean): void {
    if (elsewhere) this.#polledElsewhere.add(portNo);
    else this.#polledElsewhere.delete(portNo);
  }

  /**
   * The program shared by flows with the slot's action list; `parsed` is
   * what the put gave. When the table keeps an equal list given earlier,
   * `parsed` (an action-text cache entry) takes that list and its program,
   * so that later puts of the same text hand the table its own list (the
   * interner then knows it by identity).
   */
  #sharedProgram(slot: number, parsed: ParsedActions): CompiledActions {
    const id = this.flows.actionsIdOf(slot);
    const list = this.flows.actionsOf(slot);
    const entry = this.#shared[id];
    if (entry !== undefined && entry.list === list) {
      parsed.list = list;
      parsed.program = entry.program;
      return entry.program;
    }
    this.#shared[id] = { list, program: parsed.program };
    parsed.list = list;
    return parsed.program;
  }

  /** One page of a flow dump; pass `next` back as the cursor for the following page. */
  dumpFlows(cursor: string | null, limit: number): { flows: FlowInfo[]; next: string | null } {
    return dumpTextPage(this.flows, cursor, limit); // text cached per flow: flow_text_cache.ts
  }

  // --- Packets

  /**
   * Polls every rx queue of every port once and runs what arrived through
   * the pipeline. Returns the number of packets received.
   */
  poll(): number {
    let received = 0;
    for (const port of this.ports.dump()) {
      if (this.#polledElsewhere.has(port.portNo)) continue;
      for (let q = 0; q < port.rxQueues; q++) {
        const batch = this.#rxBatch;
        batch.count = 0;
        const n = port.receive(q, batch);
        if (n > 0) {
          received += n;
          this.pipeline.processBatch(batch);
        }
      }
    }
    return received;
  }

  /**
   * Injects a frame into a dummy port as if received and processes it
   * (recirculations included) before returning. Returns false if the port
   * could not take it (counted in its stats).
   */
  receive(port: string | number, frame: Uint8Array): boolean {
    const dummy = this.dummyPort(port);
    if (!dummy.inject(frame)) return false;
    while (this.poll() > 0) { /* drain */ }
    return true;
  }

  /** Runs actions on a packet given with its metadata (dpif_execute). */
  execute(packet: Uint8Array, actions: ActionsSpec, metadata?: ExecuteMetadata): void {
    const program = compileActions(parseActionsSpec(actions));
    const meta = metadata === undefined ? newKeys(1) : parseFlowSpec(metadata).key;
    const batch = this.pipeline.borrowBatch();
    let i: number;
    try {
      i = batch.pushCopy(packet);
    } catch (error) {
      this.pipeline.releaseBatch(batch);
      throw new DpifError("EINVAL", `packet of ${packet.length} bytes does not fit a buffer`, {
        cause: error,
      });
    }
    if (i < 0) {
      this.pipeline.releaseBatch(batch);
      throw new DpifError("EFBIG", "no free packet buffer for execute");
    }
    for (let w = 0; w < META_WORDS; w++) batch.meta[(i << META_SHIFT) + w] = meta[w];
    this.pipeline.executeBatch(program, batch);
    this.pipeline.releaseBatch(batch);
  }

  /** Applies operations in order, each with its own result or error. */
  operate(ops: Operation[]): OperationResult[] {
    // A plain loop: `ops.map` with a closure per call showed in the churn's profile.
    const results = new Array<OperationResult>(ops.length);
    for (let i = 0; i < ops.length; i++) results[i] = this.#operateOne(ops[i]);
    return results;
  }

  #operateOne(op: Operation): OperationResult {
    try {
      switch (op.op) {
        case "put":
          return { ok: true, result: this.putFlow(op) };
        case "del":
          return { ok: true, result: { ufid: op.ufid, stats: this.deleteFlow(op.ufid) } };
        case "get":
          return { ok: true, result: this.getFlow(op.ufid) };
        case "execute":
          this.execute(op.packet, op.actions, op.metadata);
          return { ok: true, result: null };
        default:
          throw new DpifError("EINVAL", `unknown op ${(op as { op: unknown }).op}`);
      }
    } catch (error) {
      return { ok: false, error: errorResult(error) };
    }
  }

  // --- Upcalls and stats

  /** Enables or disables upcalls (while disabled, misses count as lost). */
  setUpcallsEnabled(enabled: boolean): void {
    this.upcalls.setEnabled(enabled);
    this.#notify({ op: "upcalls", enabled });
  }

  /** The datapath's statistics. */
  stats(): DatapathStats {
    const c = this.pipeline.counters;
    return {
      n_hit: c[C_HIT],
      n_missed: c[C_MISSED],
      n_lost: c[C_LOST],
      n_flows: this.flows.size,
      n_mask_hit: c[C_MASK_HIT],
      n_masks: this.flows.megaflow.maskCount,
      n_emc_hit: c[C_EMC_HIT],
      n_megaflow_hit: c[C_MEGAFLOW_HIT],
      drops: dropCountersToObject(this.pipeline.drops),
      pool: {
        capacity: this.pool.capacity,
        available: this.pool.available(),
        in_use: this.pool.inUse(),
      },
    };
  }

  /** Closes every port (freeing what they hold) and drops all flows and upcalls. */
  close(): void {
    for (const port of this.ports.dump()) port.close();
    this.flows.flush();
    this.upcalls.purge();
  }
}

/**
 * Parses a flow given as ODP text or JSON into the match the flow table
 * holds (levels without `vlan(...)` match untagged: matchNoTagWithoutVlan).
 * For common ODP text the match may be written into `into` (see
 * parseFlowKey): use the returned match. Throws OdpSyntaxError, TypeError.
 */
export function parseFlowSpec(flow: FlowSpec, into?: FlowMatch): FlowMatch {
  let match: FlowMatch;
  if (typeof flow === "string") match = parseFlowKey(flow, into);
  else if (flow !== null && typeof flow === "object") match = flowKeyFromJson(flow);
  else throw new TypeError("flow must be ODP text or a JSON object");
  matchNoTagWithoutVlan(match);
  return match;
}

/** Parses actions given as ODP text or JSON. */
export function parseActionsSpec(actions: ActionsSpec): Action[] {
  if (typeof actions === "string") return parseActions(actions);
  if (Array.isArray(actions)) return actionsFromJson(actions);
  throw new TypeError("actions must be ODP text or a JSON array");
}

/** Maps any error to the `{code, message}` shape of an operation result. */
export function errorResult(error: unknown): { code: string; message: string } {
  if (error instanceof DpifError) return { code: error.code, message: error.message };
  if (error instanceof SyntaxError || error instanceof TypeError || error instanceof RangeError) {
    return { code: "EINVAL", message: error.message };
  }
  return { code: "EIO", message: String(error) };
}

function portInfo(port: Port): PortInfo {
  return { name: port.name, port_no: port.portNo, type: port.type, options: port.options };
}

function flowInfo(entry: FlowEntry): FlowInfo {
  return {
    ufid: entry.ufid,
    flow: formatFlowKey(entry.key, entry.mask),
    actions: formatActions(entry.actions),
    stats: entry.stats,
  };
}

const NAME_PATTERN = /^[A-Za-z0-9_.:@-]{1,64}$/;

function validateName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new DpifError(
      "EINVAL",
      `invalid name ${JSON.stringify(name)}: 1 to 64 of letters, digits and _.:@-`,
    );
  }
}
