/**
 * Watches the ports of every datapath and logs their faults: a link that
 * goes down or comes back (ports that can tell, e.g. `dpdk` ports through
 * `rte_eth_link_get_nowait`), and errors or drops that grew since the last
 * look (`rx_errors`, `tx_errors`, `tx_dropped`, as in the port stats API).
 * One pass every `intervalMs`, on the control thread; the datapath keeps
 * forwarding on its other ports whatever a faulty port does, so this is
 * where an operator hears about it.
 *
 * Log lines: `port link down` (warn), `port link up` (info), `port errors`
 * (warn) with the port's totals and what grew since the last pass.
 *
 * @module
 */

import type { Port, PortStats } from "../datapath/port.ts";
import type { DatapathRegistry } from "../datapath/registry.ts";
import type { Logger } from "./logger.ts";

/** Options for {@linkcode PortMonitor}. */
export interface PortMonitorOptions {
  /** The datapaths to watch. Required. */
  registry: DatapathRegistry;
  /** Where faults are logged. Required. */
  logger: Logger;
  /** Time between passes in ms. Default 1000. */
  intervalMs?: number;
}

/** A port that can report its link state (a `dpdk` port). */
interface LinkPort extends Port {
  link(): { up: boolean };
}

interface Seen {
  port: Port;
  up: boolean | null;
  rxErrors: number;
  txErrors: number;
  txDropped: number;
}

/** Logs port faults; see the module doc. */
export class PortMonitor {
  readonly #registry: DatapathRegistry;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #seen = new Map<string, Seen>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Creates a stopped monitor. */
  constructor(options: PortMonitorOptions) {
    this.#registry = options.registry;
    this.#log = options.logger;
    this.#intervalMs = options.intervalMs ?? 1000;
  }

  /** Takes a first look now, then one every interval (idempotent). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.check();
    this.#timer = setInterval(() => this.check(), this.#intervalMs);
  }

  /** Stops the passes (idempotent). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One pass over every port; logs what changed. Never throws. */
  check(): void {
    const live = new Set<string>();
    for (const dpName of this.#registry.names()) {
      let ports: Port[];
      try {
        ports = this.#registry.open(dpName).ports.dump();
      } catch {
        continue; // destroyed meanwhile
      }
      for (const port of ports) {
        const key = `${dpName}\u0000${port.name}`;
        live.add(key);
        try {
          this.#look(dpName, key, port);
        } catch (error) {
          this.#log.warn("port monitor: cannot read port", {
            datapath: dpName,
            port: port.name,
            error,
          });
        }
      }
    }
    for (const key of this.#seen.keys()) if (!live.has(key)) this.#seen.delete(key);
  }

  #look(datapath: string, key: string, port: Port): void {
    const stats: PortStats = port.stats();
    const up = hasLink(port) ? port.link().up : null;
    let seen = this.#seen.get(key);
    if (seen === undefined || seen.port !== port) {
      // A new port (or a new one under an old name): start from its totals.
      seen = { port, up: null, rxErrors: 0, txErrors: 0, txDropped: 0 };
      this.#seen.set(key, seen);
      if (up === false) this.#log.warn("port link down", { datapath, port: port.name });
    } else if (up !== null && seen.up !== null && up !== seen.up) {
      if (up) this.#log.info("port link up", { datapath, port: port.name });
      else this.#log.warn("port link down", { datapath, port: port.name });
    }
    const grew = {
      rx_errors: stats.rx_errors - seen.rxErrors,
      tx_errors: stats.tx_errors - seen.txErrors,
      tx_dropped: stats.tx_dropped - seen.txDropped,
    };
    if (grew.rx_errors > 0 || grew.tx_errors > 0 || grew.tx_dropped > 0) {
      this.#log.warn("port errors", {
        datapath,
        port: port.name,
        rx_errors: stats.rx_errors,
        tx_errors: stats.tx_errors,
        tx_dropped: stats.tx_dropped,
        since_last: grew,
      });
    }
    seen.up = up;
    seen.rxErrors = stats.rx_errors;
    seen.txErrors = stats.tx_errors;
    seen.txDropped = stats.tx_dropped;
  }
}

function hasLink(port: Port): port is LinkPort {
  return typeof (port as Partial<LinkPort>).link === "function";
}
