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
import type { PmdSetOptions } from "../datapath/pmd_set.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { cleanupEal, initEal } from "../ffi/eal.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { threadAffinity } from "../ffi/thread_affinity.ts";
import type { BackendConfig, BackendPlan } from "./backend.ts";
import { DEFAULT_DATAPATH } from "./backend.ts";

/** DPDK release the Debian packages install (ABI 23). */
export const DPDK_VERSION = "22.11";

/**
 * PMD options of the service (what `deno task start` runs; the upcall
 * benches use them too). Busy-poll while traffic flows; after 4096 empty
 * polls (~1 ms) nap in 50 µs slices for a second, then 1 ms at a time
 * (any flow change wakes it at once), so an idle service does not burn a
 * core and a miss after a short lull still reaches its consumer fast.
 *
 * Figures (2-vCPU VM shared with other jobs, load 4 to 7;
 * bench/pmd_upcall_bench.ts, medians of 3 runs, and
 * bench/pmd_idle_cpu_bench.ts): with 1 ms naps and upcalls in reports, a
 * miss 5 ms after the last one reached a parked reader in p50 1.2-1.3 ms,
 * the idle PMD using 4.7 % of a CPU; with 50 µs slices and the upcall
 * mailbox, p50 0.21-0.29 ms, at ~24 % of a CPU (14-30 %) while in them
 * (20 µs slices: 35 %, 100 µs: 15 %, busy polling: 100 %). After the first
 * idle second the PMD is back to 1 ms naps (4.7 %, as before), and a miss
 * then waits up to a nap longer (p50 0.9 ms). p99 stayed 1.3 to 5 ms on
 * this machine, both before and after: it is the wait for a CPU taken by
 * other processes, and busy polling there made it worse. A hop-by-hop
 * trace (bench/pmd_upcall_bench.ts) confirmed it: the ms tails are the PMD
 * and the control thread each waiting for a CPU after their wake-up; with
 * both in SCHED_FIFO (`--rt-pmd`) p99 was 339 µs. These options leave the
 * scheduling alone: a FIFO PMD that busy-polls under traffic would take its
 * CPU from everything else. On a host with CPUs to spare, isolate the PMD's
 * CPU (`isolcpus`) or run the service's threads in SCHED_FIFO.
 */
export const DPDK_PMD_OPTIONS: PmdSetOptions = {
  idleIterationsBeforeNap: 4096,
  napMs: 1,
  shortNapUs: 50,
  shortNapForMs: 1000,
};

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
        ...DPDK_PMD_OPTIONS,
        threads: 1,
        cpus: [pmdCpus],
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
