/**
 * The DPDK backend of the service: EAL up, one mbuf pool for every
 * datapath, the `dpdk` port type registered, and PMD Worker threads that
 * poll the default datapath's DPDK ports while the main thread keeps the
 * HTTP server and signal handling.
 *
 * Default ports on a first start: `p1` and `p2`, each a `net_ring` virtual
 * device in loopback (what the datapath sends out of a port comes back in
 * on the same port), with two queue pairs: queue 0 for the control thread
 * (packet-out), queue 1 for the PMD, so no ring ever has two producers.
 * They need no NIC, no hugepages and no root. With the learning switch
 * (`--learning`) there are none: every flood would come straight back in on
 * them and circle forever, so dp0 starts with its local port only and the
 * user adds real ports (net_tap, net_af_packet, a NIC).
 *
 * EAL pins the thread that initialises it (this one) to the main lcore; the
 * PMD resets its own affinity to the other CPUs (all CPUs on a one-CPU
 * machine). The EAL is cleaned up at close when this backend started it;
 * `close` throws a RangeError when mbufs are still out of the pool (a leak).
 *
 * @module
 */

import type { DatapathRegistry } from "../datapath/registry.ts";
import { PmdControl } from "../datapath/pmd_control.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { cleanupEal, initEal } from "../ffi/eal.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { threadAffinity } from "../ffi/thread_affinity.ts";
import type { BackendConfig, BackendPlan } from "./backend.ts";
import { DEFAULT_DATAPATH } from "./backend.ts";

/** DPDK release the Debian packages install (ABI 23). */
export const DPDK_VERSION = "22.11";

/** Ports of the default datapath on a first start with DPDK. */
export function dpdkDefaultPorts(): {
  name: string;
  type: string;
  port_no: number;
  options: Record<string, string>;
}[] {
  return [1, 2].map((n) => ({
    name: `p${n}`,
    type: "dpdk",
    port_no: n,
    options: { devargs: `net_ring_dpif_p${n}`, n_rxq: "2", n_txq: "2" },
  }));
}

/**
 * Starts the EAL and returns the DPDK plan. Throws (a DpdkError or
 * RangeError) when the EAL or the pool cannot start; the caller falls back
 * to dummy ports and logs why.
 */
export function dpdkBackend(config: BackendConfig): BackendPlan {
  const cpus = threadAffinity();
  const mainCore = cpus[0] ?? 0;
  const pmdCpus = cpus.length > 1 ? cpus.filter((c) => c !== mainCore) : cpus;
  // When the EAL is already up in this process (tests), it is kept and not cleaned up here.
  const ownsEal = !initEal({ cores: [mainCore], extraArgs: config.eal }).alreadyInitialized;
  let pool: MbufPool;
  try {
    // Named per process and call: isolates of one process (tests) share DPDK's names.
    const suffix = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
    pool = MbufPool.create({ name: `svc${Deno.pid}_${suffix}`, capacity: 16383 });
  } catch (error) {
    if (ownsEal) cleanupEal();
    throw error;
  }
  registerDpdkPortType();
  let pmdControl: PmdControl | undefined;
  let closed = false;
  return {
    datapathType: "dpdk",
    dpdkVersion: DPDK_VERSION,
    datapathOptions: { pool },
    defaultDatapath: DEFAULT_DATAPATH,
    defaultPorts: config.learning ? [] : dpdkDefaultPorts(),
    reason: `DPDK ${DPDK_VERSION}: EAL up on core ${mainCore}, PMD on CPUs ${pmdCpus.join(",")}` +
      (config.learning ? "; no loopback ports with the learning switch (they would loop)" : ""),
    async start(registry: DatapathRegistry) {
      pmdControl = new PmdControl(registry, {
        threads: 1,
        cpus: [pmdCpus],
        // Busy-poll while traffic flows; after ~1 ms of empty polls nap 1 ms at a time
        // (woken at once by any flow change), so an idle service does not burn a core.
        idleIterationsBeforeNap: 4096,
        napMs: 1,
      });
      await pmdControl.configure(DEFAULT_DATAPATH, {});
    },
    get pmdControl() {
      return pmdControl;
    },
    async stop() {
      await pmdControl?.stopAll();
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        pool.close();
      } finally {
        if (ownsEal) cleanupEal();
      }
    },
  };
}
