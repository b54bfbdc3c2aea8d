/**
 * The backend hook: given the service configuration, decides what the
 * datapath runs on and which datapath and ports exist on a first start.
 *
 * With DPDK present and no `--no-dpdk`: the DPDK backend (api/dpdk_backend.ts:
 * EAL, an mbuf pool, `dpdk` ports p1 and p2 on loopback net_ring devices,
 * PMD Worker threads). Otherwise, or when EAL fails to start, the in-memory
 * `dummy` backend: datapath `dp0` with dummy ports `p1` (port 1) and `p2`
 * (port 2), and `reason` says plainly why.
 *
 * @module
 */

import type { DatapathOptions } from "../datapath/datapath.ts";
import type { PmdControl } from "../datapath/pmd_control.ts";
import type { DatapathRegistry } from "../datapath/registry.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import type { PortRequest } from "./control.ts";
import { dpdkBackend } from "./dpdk_backend.ts";

/** What the backend hook is given (a part of the service configuration). */
export interface BackendConfig {
  /** False when `--no-dpdk` was given. */
  dpdk: boolean;
  /** Extra EAL arguments (`--eal "..."`), split on whitespace. */
  eal: string[];
  /**
   * True when the learning switch runs (`--learning`): the DPDK backend then
   * creates no loopback ports on a first start, since a switch floods every
   * broadcast out of them and gets it straight back (a loop). Default false.
   */
  learning?: boolean;
}

/** What the backend hook decides. */
export interface BackendPlan {
  /** The datapath type `/v1/version` reports, e.g. "dummy" or "dpdk". */
  datapathType: string;
  /** DPDK's version, or null. */
  dpdkVersion: string | null;
  /** Options every datapath is created with (pool, table sizes). */
  datapathOptions: DatapathOptions;
  /** The datapath created on a first start. */
  defaultDatapath: string;
  /** Its ports on a first start. */
  defaultPorts: PortRequest[];
  /** Why this backend was chosen, for the log. */
  reason: string;
  /** Starts what runs once the datapaths exist (the PMD threads). */
  start?(registry: DatapathRegistry): Promise<void>;
  /** The datapaths' PMD threads, when the backend runs them (after start). */
  readonly pmdControl?: PmdControl;
  /** Stops what {@linkcode start} started (before the datapaths close). */
  stop?(): Promise<void>;
  /** Releases what the backend set up (after every datapath is closed). */
  close(): void;
}

/** Name of the datapath created on a first start. */
export const DEFAULT_DATAPATH = "dp0";

/**
 * Chooses the backend. Never throws for the dummy backend; a DPDK backend
 * that fails to initialise should fall back to dummy and say why in `reason`.
 */
export function selectBackend(config: BackendConfig): BackendPlan {
  if (!config.dpdk) return dummyBackend("--no-dpdk: dummy ports");
  const availability = dpdkAvailability();
  if (!availability.available) {
    return dummyBackend(`DPDK is not usable (${availability.reason}): dummy ports`);
  }
  try {
    return dpdkBackend(config);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return dummyBackend(`DPDK failed to start (${message}): dummy ports`);
  }
}

/** The in-memory backend: dp0 with dummy ports p1 and p2. */
export function dummyBackend(reason: string): BackendPlan {
  return {
    datapathType: "dummy",
    dpdkVersion: null,
    datapathOptions: {},
    defaultDatapath: DEFAULT_DATAPATH,
    defaultPorts: [
      { name: "p1", type: "dummy", port_no: 1 },
      { name: "p2", type: "dummy", port_no: 2 },
    ],
    reason,
    close() {},
  };
}
