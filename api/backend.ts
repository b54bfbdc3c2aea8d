/**
 * The backend hook: given the service configuration, decides what the
 * datapath runs on and which datapath and ports exist on a first start.
 *
 * Today this is always the in-memory `dummy` backend: datapath `dp0` with
 * dummy ports `p1` (port 1) and `p2` (port 2). The DPDK backend plugs in
 * here (in {@linkcode selectBackend}): when DPDK is present and `--no-dpdk`
 * is not given, initialise EAL with `config.eal`, register the `dpdk` port
 * type, and return its pool, default ports, version and a `close` that
 * stops the ports and cleans EAL up.
 *
 * @module
 */

import type { DatapathOptions } from "../datapath/datapath.ts";
import type { PortRequest } from "./control.ts";

/** What the backend hook is given (a part of the service configuration). */
export interface BackendConfig {
  /** False when `--no-dpdk` was given. */
  dpdk: boolean;
  /** Extra EAL arguments (`--eal "..."`), split on whitespace. */
  eal: string[];
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
  const reason = config.dpdk
    ? "the DPDK backend is not plugged in yet: dummy ports"
    : "--no-dpdk: dummy ports";
  return dummyBackend(reason);
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
