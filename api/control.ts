/**
 * The service's control layer: every change the API makes goes through
 * here, so that it is applied to the datapath, written to the state store
 * (before the API answers) and published on the change feed, in that order.
 * A change that the datapath refuses is neither stored nor published; a
 * store write that fails is undone in the datapath where it can be.
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
import type { StateStore, StoredDatapath } from "./state_store.ts";

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
  store?: StateStore;
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
  readonly #store: StateStore | undefined;
  readonly #log: Logger;

  /** Creates the layer over a registry. */
  constructor(registry: DatapathRegistry, options: ControlOptions = {}) {
    this.registry = registry;
    this.feed = options.feed ?? new ChangeFeed();
    this.#store = options.store;
    this.#log = options.logger ?? silentLogger();
  }

  /** Opens a datapath (DpifError ENOENT). */
  open(name: string): Datapath {
    return this.registry.open(name);
  }

  /** Creates a datapath (EEXIST, EINVAL). */
  createDatapath(name: string): Datapath {
    const dp = this.registry.create(name);
    this.#persist(() => this.#store?.addDatapath(name), () => this.registry.destroy(name));
    this.feed.publish({ kind: "datapath", action: "added", datapath: name });
    return dp;
  }

  /** Destroys a datapath with its ports and flows (ENOENT). */
  destroyDatapath(name: string): void {
    this.registry.destroy(name);
    this.#persist(() => this.#store?.removeDatapath(name));
    this.feed.publish({ kind: "datapath", action: "deleted", datapath: name });
  }

  /** Adds a port (EEXIST, EBUSY, EINVAL, EOPNOTSUPP, ENODEV). */
  addPort(dpName: string, request: PortRequest): PortInfo {
    const dp = this.registry.open(dpName);
    const info = dp.addPort(request);
    this.#persist(
      () => this.#store?.addPort(dpName, { ...info, options: { ...info.options } }),
      () => dp.removePort(info.name),
    );
    this.feed.publish({
      kind: "port",
      action: "added",
      datapath: dpName,
      name: info.name,
      port_no: info.port_no,
    });
    return info;
  }

  /** Removes a port by name or number (ENOENT, EPERM for the local port). */
  removePort(dpName: string, port: string | number): PortInfo {
    const dp = this.registry.open(dpName);
    const info = dp.port(port);
    dp.removePort(port);
    this.#persist(() => this.#store?.removePort(dpName, info.name));
    this.feed.publish({
      kind: "port",
      action: "deleted",
      datapath: dpName,
      name: info.name,
      port_no: info.port_no,
    });
    return info;
  }

  /** Puts a flow (dpif_flow_put: EEXIST, ENOENT, EINVAL, EFBIG). */
  putFlow(dpName: string, request: FlowPutRequest): FlowPutResult {
    const dp = this.registry.open(dpName);
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
    this.feed.publish({
      kind: "flow",
      action: result.created ? "added" : "modified",
      datapath: dpName,
      ufid: result.ufid,
    });
    return result;
  }

  /** Deletes a flow and returns its final stats (ENOENT). */
  deleteFlow(dpName: string, ufid: string): { ufid: string; stats: FlowStats } {
    const dp = this.registry.open(dpName);
    const canonical = dp.getFlow(ufid).ufid;
    const stats = dp.deleteFlow(canonical);
    this.#persist(() => this.#store?.deleteFlow(dpName, canonical));
    this.feed.publish({ kind: "flow", action: "deleted", datapath: dpName, ufid: canonical });
    return { ufid: canonical, stats };
  }

  /** Deletes every flow; returns how many there were. */
  flushFlows(dpName: string): number {
    const dp = this.registry.open(dpName);
    const count = dp.flushFlows();
    this.#persist(() => this.#store?.flushFlows(dpName));
    this.feed.publish({ kind: "flow", action: "flushed", datapath: dpName });
    return count;
  }

  /**
   * Applies operations in order, each with its own result; the flow changes
   * that succeeded are persisted in one transaction before returning.
   */
  operate(dpName: string, ops: Operation[]): OperationResult[] {
    const dp = this.registry.open(dpName);
    const results: OperationResult[] = [];
    const writes: (() => void)[] = [];
    for (const op of ops) {
      let [result] = dp.operate([op]);
      if (result.ok && op.op === "del") {
        // Report and persist the canonical UFID of what was deleted.
        const ufid = normaliseUfid(op.ufid);
        result = { ok: true, result: { ...(result.result as object), ufid } };
        writes.push(() => this.#store?.deleteFlow(dpName, ufid));
        this.feed.publish({ kind: "flow", action: "deleted", datapath: dpName, ufid });
      } else if (result.ok && op.op === "put") {
        const put = result.result as FlowPutResult;
        writes.push(() =>
          this.#store?.putFlow(dpName, { ufid: put.ufid, flow: op.flow, actions: op.actions })
        );
        this.feed.publish({
          kind: "flow",
          action: put.created ? "added" : "modified",
          datapath: dpName,
          ufid: put.ufid,
        });
      }
      results.push(result);
    }
    if (writes.length > 0 && this.#store !== undefined) {
      const store = this.#store;
      this.#persist(() => store.transaction(() => writes.forEach((write) => write())));
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

  /** Runs a store write; on failure undoes the datapath change and rethrows. */
  #persist(write: () => void, undo?: () => void): void {
    try {
      write();
    } catch (error) {
      this.#log.error("state store write failed", { error });
      try {
        undo?.();
      } catch (undoError) {
        this.#log.error("undo after a failed store write failed", { error: undoError });
      }
      throw error;
    }
  }
}

/** Lower-cases a UFID and adds the `ufid:` prefix (the datapath's text form). */
export function normaliseUfid(ufid: string): string {
  const lower = ufid.toLowerCase();
  return lower.startsWith("ufid:") ? lower : `ufid:${lower}`;
}
