/**
 * What every route module of the API is given: the control layer, the
 * logger, the service's identity and the shared helpers that turn route
 * parameters into datapath references.
 *
 * @module
 */

import type { Control } from "./control.ts";
import type { Logger } from "./logger.ts";
import type { CaptureHub } from "./capture_hub.ts";
import type { PmdControl } from "../datapath/pmd_control.ts";

/** The service's identity, as `GET /v1/version` reports it. */
export interface ServiceInfo {
  /** deno-dpif's version. */
  version: string;
  /** DPDK's version, or null when DPDK is not in use. */
  dpdkVersion: string | null;
  /** The backend's datapath type, e.g. "dummy" or "dpdk". */
  datapathType: string;
}

/** Shared state of the route modules of one app. */
export interface AppContext {
  /** Applies, persists and publishes changes. */
  control: Control;
  /**
   * The datapaths' PMD threads. Port changes go through
   * {@linkcode PmdControl.changePorts}, which keeps running PMDs away from
   * them and restarts the PMDs over the new set of ports.
   */
  pmds: PmdControl;
  /** Structured logger. */
  logger: Logger;
  /** What `GET /v1/version` reports. */
  info: ServiceInfo;
  /** Frames seen on ports, for the capture endpoint. */
  captures: CaptureHub;
  /** Aborted when the service stops: long polls and streams end. */
  shutdown: AbortSignal;
}

/** A `{port}` route parameter: all digits is a port number, anything else a name. */
export function portRef(text: string): string | number {
  return /^[0-9]{1,10}$/.test(text) ? Number(text) : text;
}

/**
 * A signal aborted when either `a` or `b` aborts; call `dispose` when done
 * so that no listener stays on the request's signal.
 */
export function linkSignals(
  a: AbortSignal,
  b: AbortSignal,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (a.aborted || b.aborted) controller.abort();
  a.addEventListener("abort", abort, { once: true });
  b.addEventListener("abort", abort, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      a.removeEventListener("abort", abort);
      b.removeEventListener("abort", abort);
    },
  };
}
