/**
 * A change feed of ports, flows and datapaths for the API's Server-Sent
 * Events. Each subscriber has its own bounded queue and, when it falls
 * further behind than that, gets one "overflow" telling it to dump again
 * (like dpif_port_poll's ENOBUFS).
 *
 * Port and flow changes come from the datapaths themselves
 * ({@linkcode ChangeFeed.watch}: `Datapath.onFlowChange` and
 * `PortTable.onChange`), so every change is seen, whoever made it: the API,
 * the learning switch, a restore, any other client of the datapath. PMD
 * threads never change the flow table on their own (they only report stats
 * and upcalls), so changes made while they run are seen the same way.
 * Datapath creation and deletion are published by the API's control layer.
 *
 * @module
 */

import type { Datapath, FlowChange } from "../datapath/datapath.ts";
import type { PortChange } from "../datapath/port_table.ts";

/** One change. */
export interface ChangeEvent {
  /** What changed. */
  kind: "datapath" | "port" | "flow";
  /** How it changed ("flushed" deletes every flow of a datapath). */
  action: "added" | "deleted" | "modified" | "flushed";
  /** The datapath concerned. */
  datapath: string;
  /** Port name, for port changes. */
  name?: string;
  /** Port number, for port changes. */
  port_no?: number;
  /** Flow UFID, for flow changes. */
  ufid?: string;
}

/** What {@linkcode Subscription.next} returns. */
export type ChangeBatch = ChangeEvent[] | "overflow";

/** One reader of the feed. */
export class Subscription {
  readonly #depth: number;
  readonly #onClose: (s: Subscription) => void;
  #queue: ChangeEvent[] = [];
  #overflowed = false;
  #closed = false;
  #wake: (() => void) | null = null;

  /** Created by {@linkcode ChangeFeed.subscribe}. */
  constructor(depth: number, onClose: (s: Subscription) => void) {
    this.#depth = depth;
    this.#onClose = onClose;
  }

  /** Queues a change (called by the feed). */
  push(event: ChangeEvent): void {
    if (this.#closed) return;
    if (!this.#overflowed) {
      if (this.#queue.length >= this.#depth) {
        this.#queue = [];
        this.#overflowed = true;
      } else {
        this.#queue.push(event);
      }
    }
    this.#wakeUp();
  }

  /**
   * Waits until something is queued, `signal` aborts or the subscription is
   * closed, then returns the queued changes (oldest first), `"overflow"`
   * once after falling behind, or `[]` when aborted or closed.
   */
  async next(signal?: AbortSignal): Promise<ChangeBatch> {
    while (!this.#closed && !signal?.aborted && !this.#overflowed && this.#queue.length === 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener("abort", done);
          this.#wake = null;
          resolve();
        };
        this.#wake = done;
        signal?.addEventListener("abort", done, { once: true });
      });
    }
    if (this.#overflowed) {
      this.#overflowed = false;
      return "overflow";
    }
    const out = this.#queue;
    this.#queue = [];
    return out;
  }

  /** Stops the subscription and wakes a waiting reader. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#onClose(this);
    this.#wakeUp();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** The feed: publish changes, subscribe readers. */
export class ChangeFeed {
  readonly #subscribers = new Set<Subscription>();
  readonly #watched = new Map<Datapath, () => void>();

  /** Sends a change to every subscriber. */
  publish(event: ChangeEvent): void {
    for (const s of this.#subscribers) s.push(event);
  }

  /** A new reader seeing changes from now on; `depth` (default 256) bounds its queue. */
  subscribe(depth = 256): Subscription {
    const s = new Subscription(depth, (x) => this.#subscribers.delete(x));
    this.#subscribers.add(s);
    return s;
  }

  /** Number of readers. */
  get size(): number {
    return this.#subscribers.size;
  }

  /**
   * Publishes every flow put, delete and flush and every port addition and
   * removal of `dp` from now on, until the returned function is called.
   * Watching a datapath again returns the same function (no duplicates).
   */
  watch(dp: Datapath): () => void {
    const existing = this.#watched.get(dp);
    if (existing !== undefined) return existing;
    const datapath = dp.name;
    // Only the UFID is published, so the listener takes puts without their
    // key and mask, and builds no event while nobody reads the feed (the
    // common case during flow setup): both were per-flow allocations on the
    // REST install path (bench/flow_setup_bench.ts).
    const stopFlows = dp.onFlowChange((change) => {
      if (this.#subscribers.size === 0) return;
      const event = flowEvent(datapath, change);
      if (event !== null) this.publish(event);
    }, { withMatch: false });
    const stopPorts = dp.ports.onChange((change: PortChange) => {
      this.publish({
        kind: "port",
        action: change.kind,
        datapath,
        name: change.name,
        port_no: change.portNo,
      });
    });
    const stop = () => {
      stopFlows();
      stopPorts();
      this.#watched.delete(dp);
    };
    this.#watched.set(dp, stop);
    return stop;
  }

  /** Closes every reader and stops watching every datapath (service shutdown). */
  closeAll(): void {
    for (const s of [...this.#subscribers]) s.close();
    for (const stop of [...this.#watched.values()]) stop();
  }
}

/** The feed's event for a datapath's flow change, or null for an upcall switch. */
function flowEvent(datapath: string, change: FlowChange): ChangeEvent | null {
  switch (change.op) {
    case "put":
      return {
        kind: "flow",
        action: change.created ? "added" : "modified",
        datapath,
        ufid: change.ufid,
      };
    case "del":
      return { kind: "flow", action: "deleted", datapath, ufid: change.ufid };
    case "flush":
      return { kind: "flow", action: "flushed", datapath };
    default:
      return null;
  }
}
