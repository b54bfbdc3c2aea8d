/**
 * The service's control layer: every change the API makes goes through
 * here, so that it is applied to the datapath and written to the state
 * store (before the API answers). Port and flow changes reach the change
 * feed from the datapath itself ({@linkcode ChangeFeed.watch}, set up for
 * every datapath this layer sees), so changes made around the API are
 * published too; datapath creation and deletion are published here.
 * A change that the datapath refuses is neither stored nor published; a
 * store write that fails is undone in the datapath where it can be (the
 * feed then shows the change and its undoing).
 *
 * The store is a {@linkcode StateStore} (each write committed before the
 * method returns) or a {@linkcode StateWriter} (committed on its own
 * thread, with group commit): then a method returns once the change is
 * applied to the datapath and its write queued, and
 * {@linkcode Control.durable}, called right after it, resolves once that
 * write is durable, or rejects (ApiError EIO) once it failed and the change
 * was undone. The API answers only after that (api/routes/*). Failed writes
 * are undone newest first (the writer rejects them in that order). Known
 * and accepted: a request that writes nothing (a GET, or a put refused
 * with EEXIST) may see a change whose write is still committing; if that
 * write then fails, the change is undone and its own request gets EIO.
 *
 * @module
 */

import type {
  Datapath,
  FlowPutRequest,
  FlowPutResult,
  Operation,
  OperationResult,
  PortInfo,
} from "../datapath/datapath.ts";
import type { DatapathRegistry } from "../datapath/registry.ts";
import type { FlowStats } from "../datapath/flow_table.ts";
import { ChangeFeed } from "./change_feed.ts";
import type { Logger } from "./logger.ts";
import { silentLogger } from "./logger.ts";
import { checkPortRequest } from "./devargs_policy.ts";
import type { FlowChange, StateStore, StoredDatapath } from "./state_store.ts";
import type { StateWriter } from "./state_writer.ts";
import { ApiError } from "./errors.ts";

/** A port to add, as the API receives it. */
export interface PortRequest {
  name: string;
  type: string;
  port_no?: number;
  options?: Record<string, string>;
}

/** Options for {@linkcode Control}. */
export interface ControlOptions {
  /** Where changes are persisted. Default: nowhere. */
  store?: StateStore | StateWriter;
  /** The feed changes are published on. Default: a new one. */
  feed?: ChangeFeed;
  /** Default: silent. */
  logger?: Logger;
}

/** Applies, persists and publishes changes to the datapaths of a registry. */
export class Control {
  /** The datapaths. */
  readonly registry: DatapathRegistry;
  /** The change feed. */
  readonly feed: ChangeFeed;
  readonly #store: StateStore | StateWriter | undefined;
  readonly #log: Logger;
  /** The outcome of the store write of the last change (see {@linkcode durable}). */
  #lastWrite: Promise<void> = DURABLE;

  /** Creates the layer over a registry. */
  constructor(registry: DatapathRegistry, options: ControlOptions = {}) {
    this.registry = registry;
    this.feed = options.feed ?? new ChangeFeed();
    this.#store = options.store;
    this.#log = options.logger ?? silentLogger();
    for (const name of registry.names()) this.feed.watch(registry.open(name));
  }

  /** Opens a datapath (DpifError ENOENT). */
  open(name: string): Datapath {
    const dp = this.registry.open(name);
    this.feed.watch(dp);
    return dp;
  }

  /**
   * Resolves once the store write of the last change made through this
   * layer (the call just before this one) is durable, at once when it made
   * none or the store is synchronous; rejects with ApiError EIO when that
   * write failed, after the change was undone where it can be. Call it
   * right after the change, before any await, and answer only once it
   * resolved. Writes are committed in order, so it resolving means every
   * earlier write is durable too.
   */
  durable(): Promise<void> {
    return this.#lastWrite;
  }

  /** Creates a datapath (EEXIST, EINVAL). */
  createDatapath(name: string): Datapath {
    const dp = this.registry.create(name);
    this.feed.watch(dp);
    this.#persist(() => this.#store?.addDatapath(name), () => this.registry.destroy(name));
    this.feed.publish({ kind: "datapath", action: "added", datapath: name });
    return dp;
  }

  /** Destroys a datapath with its ports and flows (ENOENT). */
  destroyDatapath(name: string): void {
    const stopWatching = this.feed.watch(this.registry.open(name));
    this.registry.destroy(name);
    stopWatching();
    this.#persist(() => this.#store?.removeDatapath(name));
    this.feed.publish({ kind: "datapath", action: "deleted", datapath: name });
  }

  /**
   * Adds a port (EEXIST, EBUSY, EINVAL, EOPNOTSUPP, ENODEV; EPERM for DPDK
   * devargs the API does not allow, see devargs_policy.ts).
   */
  addPort(dpName: string, request: PortRequest): PortInfo {
    const dp = this.open(dpName);
    checkPortRequest(request, this.#store?.dir ?? null);
    const info = dp.addPort(request);
    this.#persist(
      () => this.#store?.addPort(dpName, { ...info, options: { ...info.options } }),
      () => dp.removePort(info.name),
    );
    return info;
  }

  /** Removes a port by name or number (ENOENT, EPERM for the local port). */
  removePort(dpName: string, port: string | number): PortInfo {
    const dp = this.open(dpName);
    const info = dp.port(port);
    dp.removePort(port);
    this.#persist(() => this.#store?.removePort(dpName, info.name));
    return info;
  }

  /** Puts a flow (dpif_flow_put: EEXIST, ENOENT, EINVAL, EFBIG). */
  putFlow(dpName: string, request: FlowPutRequest): FlowPutResult {
    const dp = this.open(dpName);
    const result = dp.putFlow(request);
    this.#persist(
      () =>
        this.#store?.putFlow(dpName, {
          ufid: result.ufid,
          flow: request.flow,
          actions: request.actions,
        }),
      () => {
        if (result.created) dp.deleteFlow(result.ufid);
      },
    );
    return result;
  }

  /** Deletes a flow and returns its final stats (ENOENT). */
  deleteFlow(dpName: string, ufid: string): { ufid: string; stats: FlowStats } {
    const dp = this.open(dpName);
    const canonical = dp.getFlow(ufid).ufid;
    const stats = dp.deleteFlow(canonical);
    this.#persist(() => this.#store?.deleteFlow(dpName, canonical));
    return { ufid: canonical, stats };
  }

  /** Deletes every flow; returns how many there were. */
  flushFlows(dpName: string): number {
    const dp = this.open(dpName);
    const count = dp.flushFlows();
    this.#persist(() => this.#store?.flushFlows(dpName));
    return count;
  }

  /**
   * Applies operations in order, each with its own result; the flow changes
   * that succeeded are persisted in one transaction before returning.
   */
  operate(dpName: string, ops: Operation[]): OperationResult[] {
    const dp = this.open(dpName);
    // The whole batch in one call, and its changes as one store record
    // (one INSERT, see state_store.ts): no closure or object per op beyond
    // the change itself. Profiled at 1,000 puts per request.
    const results = dp.operate(ops);
    const changes: FlowChange[] = [];
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      const result = results[i];
      if (!result.ok) continue;
      if (op.op === "put") {
        const ufid = (result.result as FlowPutResult).ufid;
        changes.push({ op: "put", ufid, flow: op.flow, actions: op.actions });
      } else if (op.op === "del") {
        // Report and persist the canonical UFID of what was deleted.
        const ufid = normaliseUfid(op.ufid);
        results[i] = { ok: true, result: { ...(result.result as object), ufid } };
        changes.push({ op: "del", ufid });
      }
    }
    if (changes.length > 0 && this.#store !== undefined) {
      const store = this.#store;
      const live = dp.stats().n_flows;
      this.#persist(
        () => store.recordFlowChanges(dpName, changes, live),
        () => undoCreatedFlows(dp, ops, results),
      );
    } else {
      this.#lastWrite = DURABLE;
    }
    return results;
  }

  /**
   * Restores stored datapaths, ports and flows into the registry (datapaths
   * that already exist are reused). Items that fail are logged and skipped.
   * Returns what was restored.
   */
  restore(stored: StoredDatapath[]): { datapaths: number; ports: number; flows: number } {
    const counts = { datapaths: 0, ports: 0, flows: 0 };
    for (const entry of stored) {
      let dp: Datapath;
      try {
        dp = this.registry.has(entry.name)
          ? this.registry.open(entry.name)
          : this.registry.create(entry.name);
        this.feed.watch(dp);
        counts.datapaths++;
      } catch (error) {
        this.#log.error("restore: datapath failed", { datapath: entry.name, error });
        continue;
      }
      for (const port of entry.ports) {
        try {
          dp.addPort(port);
          counts.ports++;
        } catch (error) {
          this.#log.error("restore: port failed", { datapath: entry.name, port: port.name, error });
        }
      }
      for (const flow of entry.flows) {
        try {
          dp.putFlow({ flow: flow.flow, actions: flow.actions, ufid: flow.ufid });
          counts.flows++;
        } catch (error) {
          this.#log.error("restore: flow failed", { datapath: entry.name, ufid: flow.ufid, error });
        }
      }
    }
    return counts;
  }

  /**
   * Runs a store write. A synchronous one that fails undoes the datapath
   * change and throws; an asynchronous one becomes {@linkcode durable},
   * which on failure undoes the change, then rejects.
   */
  #persist(write: () => void | Promise<void>, undo?: () => void): void {
    let pending: void | Promise<void>;
    try {
      pending = write();
    } catch (error) {
      this.#lastWrite = DURABLE;
      throw this.#writeFailed(error, undo);
    }
    if (pending === undefined) {
      this.#lastWrite = DURABLE;
      return;
    }
    const written = pending.then(undefined, (error) => {
      throw this.#writeFailed(error, undo);
    });
    // Handled here so that a write nobody awaits (a caller that never asks
    // for durable()) is no unhandled rejection; durable() still rejects.
    written.catch(() => {});
    this.#lastWrite = written;
  }

  /** Logs a failed store write, undoes its change; returns the error to answer. */
  #writeFailed(error: unknown, undo: (() => void) | undefined): ApiError {
    this.#log.error("state store write failed", { error });
    try {
      undo?.();
    } catch (undoError) {
      this.#log.error("undo after a failed store write failed", { error: undoError });
    }
    return new ApiError(
      "EIO",
      `state store write failed (${(error as Error)?.message ?? String(error)}): ` +
        "the change is not stored",
    );
  }
}

/**
 * Deletes the flows a batch created (its undo when the store write fails);
 * modifications and deletes cannot be undone (the previous actions are not
 * kept), as with single writes.
 */
function undoCreatedFlows(dp: Datapath, ops: Operation[], results: OperationResult[]): void {
  for (let i = ops.length - 1; i >= 0; i--) {
    const result = results[i];
    if (ops[i].op !== "put" || !result.ok) continue;
    const put = result.result as FlowPutResult;
    if (!put.created) continue;
    try {
      dp.deleteFlow(put.ufid);
    } catch {
      // deleted since (by a later op of the batch or a later request)
    }
  }
}

/** What {@linkcode Control.durable} returns after a change with no store write. */
const DURABLE: Promise<void> = Promise.resolve();

/** Lower-cases a UFID and adds the `ufid:` prefix (the datapath's text form). */
export function normaliseUfid(ufid: string): string {
  const lower = ufid.toLowerCase();
  return lower.startsWith("ufid:") ? lower : `ufid:${lower}`;
}
