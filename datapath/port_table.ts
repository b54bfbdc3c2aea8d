/**
 * The datapath's port table: ports keyed by a 32-bit port number and by a
 * unique name, with a change feed for clients, as in Open vSwitch's
 * `dpif_port_add` / `dpif_port_del` / `dpif_port_query_by_*` /
 * `dpif_port_dump` / `dpif_port_poll` (lib/dpif.h).
 *
 * Port 0 is the local port (OVS's ODPP_LOCAL): the datapath adds it with its
 * own name and type "internal", and it can never be deleted. 0xffffffff is
 * ODPP_NONE and is never a valid port number.
 *
 * Lookups and changes are control-path work (per batch at most), so a `Map`
 * is used; nothing here runs per packet.
 *
 * @module
 */

import { DpifError } from "./errors.ts";
import type { Port } from "./port.ts";
import { TunnelPort } from "./tunnel_port.ts";

/** The local port's number (OVS's ODPP_LOCAL). */
export const LOCAL_PORT_NO = 0;
/** "No port" (OVS's ODPP_NONE): never a valid port number. */
export const PORT_NO_NONE = 0xffffffff;
/** Default number of changes a {@linkcode PortPoller} holds before it overflows. */
export const DEFAULT_POLLER_DEPTH = 64;

/** One change of the port table, as a {@linkcode PortPoller} reports it. */
export interface PortChange {
  /** Whether the port was added or deleted. */
  kind: "added" | "deleted";
  /** The port's name. */
  name: string;
  /** The port's number. */
  portNo: number;
}

/** Options for {@linkcode PortTable}. */
export interface PortTableOptions {
  /** Changes each poller queues before it reports "overflow". Default 64. */
  pollerDepth?: number;
}

/**
 * A reader of the port table's change feed (like one `dpif_port_poll`
 * client). Readers are independent: each sees every change made after it was
 * created, until it is closed.
 */
export class PortPoller {
  readonly #depth: number;
  readonly #onClose: (poller: PortPoller) => void;
  #changes: PortChange[] = [];
  #overflowed = false;
  #closed = false;

  /** Created by {@linkcode PortTable.poller}; not meant to be built directly. */
  constructor(depth: number, onClose: (poller: PortPoller) => void) {
    this.#depth = depth;
    this.#onClose = onClose;
  }

  /**
   * Returns the changes queued since the last call, oldest first (an empty
   * array when nothing changed), or `"overflow"` once when more changes
   * happened than the queue holds (dpif_port_poll's ENOBUFS): the queued
   * changes were discarded, and the reader must dump the table again. Changes
   * made after this call are reported normally.
   */
  poll(): PortChange[] | "overflow" {
    if (this.#overflowed) {
      this.#overflowed = false;
      return "overflow";
    }
    const changes = this.#changes;
    this.#changes = [];
    return changes;
  }

  /** Stops receiving changes. Polling a closed reader returns `[]`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#changes = [];
    this.#overflowed = false;
    this.#onClose(this);
  }

  /** Called by the table for every change. */
  record(change: PortChange): void {
    if (this.#closed || this.#overflowed) return;
    if (this.#changes.length >= this.#depth) {
      this.#changes = [];
      this.#overflowed = true;
      return;
    }
    this.#changes.push(change);
  }
}

/**
 * Ports of one datapath, by number and by name. The table owns the ports it
 * holds: {@linkcode remove} and {@linkcode closeAll} close them.
 */
export class PortTable {
  readonly #byNumber = new Map<number, Port>();
  readonly #byName = new Map<string, Port>();
  readonly #pollers = new Set<PortPoller>();
  readonly #listeners = new Set<(change: PortChange) => void>();
  readonly #pollerDepth: number;

  /**
   * Creates an empty table.
   * @throws {RangeError} when `pollerDepth` is not a positive integer.
   */
  constructor(options: PortTableOptions = {}) {
    const depth = options.pollerDepth ?? DEFAULT_POLLER_DEPTH;
    if (!Number.isInteger(depth) || depth < 1) {
      throw new RangeError(`PortTable: pollerDepth must be a positive integer, got ${depth}`);
    }
    this.#pollerDepth = depth;
  }

  /** Number of ports, the local port included. */
  get size(): number {
    return this.#byNumber.size;
  }

  /**
   * Adds `port` under `requestedPortNo`, or under the lowest free number
   * >= 1 when none is requested, sets `port.portNo` and returns the number.
   * The table takes ownership of the port. Port 0 (the local port) must be
   * requested explicitly.
   * @throws {DpifError} EINVAL when the requested number is not an integer in
   *   0..0xfffffffe; EEXIST when a port with that name exists; EBUSY when the
   *   requested number is in use; EFBIG when no number is free.
   */
  add(port: Port, requestedPortNo?: number): number {
    if (requestedPortNo !== undefined) {
      if (
        !Number.isInteger(requestedPortNo) || requestedPortNo < 0 ||
        requestedPortNo >= PORT_NO_NONE
      ) {
        throw new DpifError(
          "EINVAL",
          `port number ${requestedPortNo} is not in 0..${PORT_NO_NONE - 1}`,
        );
      }
    }
    if (this.#byName.has(port.name)) {
      throw new DpifError("EEXIST", `a port named '${port.name}' already exists`);
    }
    let portNo: number;
    if (requestedPortNo !== undefined) {
      if (this.#byNumber.has(requestedPortNo)) {
        const holder = this.#byNumber.get(requestedPortNo)!;
        throw new DpifError("EBUSY", `port number ${requestedPortNo} is used by '${holder.name}'`);
      }
      portNo = requestedPortNo;
    } else {
      portNo = this.#lowestFreeNumber();
    }
    port.portNo = portNo;
    this.#byNumber.set(portNo, port);
    this.#byName.set(port.name, port);
    this.#notify({ kind: "added", name: port.name, portNo });
    return portNo;
  }

  /**
   * Removes the port with this number or name and closes it.
   * @throws {DpifError} ENOENT when there is no such port; EPERM for the
   *   local port (number 0).
   */
  remove(portNoOrName: number | string): void {
    const port = typeof portNoOrName === "number"
      ? this.#byNumber.get(portNoOrName)
      : this.#byName.get(portNoOrName);
    if (port === undefined) {
      throw new DpifError("ENOENT", `no port ${JSON.stringify(portNoOrName)}`);
    }
    if (port.portNo === LOCAL_PORT_NO) {
      throw new DpifError("EPERM", `the local port '${port.name}' cannot be deleted`);
    }
    this.#byNumber.delete(port.portNo);
    this.#byName.delete(port.name);
    this.#notify({ kind: "deleted", name: port.name, portNo: port.portNo });
    port.close();
  }

  /** The port with this number, or undefined. */
  get(portNo: number): Port | undefined {
    return this.#byNumber.get(portNo);
  }

  /** The port with this name, or undefined. */
  byName(name: string): Port | undefined {
    return this.#byName.get(name);
  }

  /**
   * The tunnel port with this number (its `type`, `tunnelType` and
   * `dstPort` are what tnl_push checks), or null when the number is not a
   * tunnel port. Allocates nothing.
   */
  tunnelInfo(portNo: number): TunnelPort | null {
    const port = this.#byNumber.get(portNo);
    return port instanceof TunnelPort ? port : null;
  }

  /** All ports in port-number order (a fresh array; the ports are shared). */
  dump(): Port[] {
    return [...this.#byNumber.values()].sort((a, b) => a.portNo - b.portNo);
  }

  /**
   * Returns a new, independent reader of the change feed. It sees changes
   * made from now on; dump the table for the current state.
   */
  poller(): PortPoller {
    const poller = new PortPoller(this.#pollerDepth, (p) => this.#pollers.delete(p));
    this.#pollers.add(poller);
    return poller;
  }

  /**
   * Closes and forgets every port, the local port included (datapath
   * teardown). Pollers see a "deleted" change for each port.
   */
  closeAll(): void {
    for (const port of this.dump()) {
      this.#byNumber.delete(port.portNo);
      this.#byName.delete(port.name);
      this.#notify({ kind: "deleted", name: port.name, portNo: port.portNo });
      port.close();
    }
  }

  #lowestFreeNumber(): number {
    for (let n = 1; n < PORT_NO_NONE; n++) {
      if (!this.#byNumber.has(n)) return n;
    }
    throw new DpifError("EFBIG", "no free port number");
  }

  /**
   * Calls `listener` synchronously after every change (the API's change
   * feed); returns a function that removes it. A listener must not throw.
   */
  onChange(listener: (change: PortChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(change: PortChange): void {
    for (const poller of this.#pollers) poller.record(change);
    for (const listener of this.#listeners) listener(change);
  }
}
