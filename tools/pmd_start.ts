/**
 * PMD start time and resident memory per flow at a large flow count: puts
 * the matrix's exact-match flows (bench/datapath_bench.ts exactFlowAt, as
 * in the "curve: 1M flows" case) into a datapath over an MbufPool with two
 * `net_null` ports, starts one PMD Worker with the bench's options, and
 * measures how long the start took (wall and process CPU: the Worker loads
 * its replica through the flow ring before it reports ready) and RSS growth
 * per flow as bench/pmd_case_runner.ts does (from before the datapath
 * existed; control tables alone, with the PMD, and 4 s later).
 *
 * Run: `deno run -A tools/pmd_start.ts [flows=1000000]`; prints one JSON
 * line. Prints why and exits 0 when DPDK is absent.
 *
 * @module
 */

import { Datapath } from "../datapath/datapath.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { setThreadAffinity, threadAffinity } from "../ffi/thread_affinity.ts";
import { BENCH_IN_PORT, BENCH_OUT_PORT, exactFlowAt } from "../bench/datapath_bench.ts";
import { rss } from "../bench/pmd_case_runner.ts";

/** What {@linkcode measurePmdStart} measured. */
export interface PmdStartFigures {
  flows: number;
  /** Wall time of PmdSet.start, ms. */
  start_ms: number;
  /** CPU time of the whole process (every thread) during PmdSet.start, ms. */
  start_process_cpu_ms: number;
  /** Flow changes the PMD had applied when it reported ready (the initial load). */
  flow_updates: number;
  bytes_per_flow_control: number;
  bytes_per_flow_with_pmd: number;
  bytes_per_flow_4s_later: number;
}

/** Runs the measurement; null (after printing why) when DPDK is absent. */
export async function measurePmdStart(flows: number): Promise<PmdStartFigures | null> {
  const availability = dpdkAvailability();
  if (!availability.available) {
    console.log(`pmd start measurement skipped: ${availability.reason}`);
    return null;
  }
  const cpus = threadAffinity();
  initEal({ cores: [cpus[0]], memoryMb: 2048 });
  registerDpdkPortType();
  setThreadAffinity([cpus[0]]);
  const tag = `ps${Deno.pid}`;
  const pool = MbufPool.create({ name: tag, capacity: 16383 });
  const rssStart = rss();
  const dp = new Datapath(tag, { pool, emcEntries: 8192 });
  let pmds: PmdSet | undefined;
  try {
    for (const [portNo, name] of [[BENCH_IN_PORT, "in"], [BENCH_OUT_PORT, "out"]] as const) {
      const devargs = `net_null_${tag}${name},no-rx=1`;
      dp.addPort({ name, type: "dpdk", port_no: portNo, options: { devargs } });
    }
    for (let i = 0; i < flows; i++) {
      const [flow, actions] = exactFlowAt(i, String(BENCH_OUT_PORT));
      dp.putFlow({ flow, actions });
    }
    const rssFlows = rss();
    const cpu0 = processCpuMs();
    const t0 = performance.now();
    pmds = await PmdSet.start(dp, {
      cpus: [[cpus[1] ?? cpus[0]]],
      emcEntries: 8192,
      idleIterationsBeforeNap: 4096,
      napMs: 1,
    });
    const startMs = performance.now() - t0;
    const startCpuMs = processCpuMs() - cpu0;
    const rssPmd = rss();
    const flowUpdates = pmds.stats()[0].flow_updates;
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const perFlow = (bytes: number) => Math.round((bytes - rssStart) / flows);
    return {
      flows,
      start_ms: Math.round(startMs),
      start_process_cpu_ms: startCpuMs,
      flow_updates: flowUpdates,
      bytes_per_flow_control: perFlow(rssFlows),
      bytes_per_flow_with_pmd: perFlow(rssPmd),
      bytes_per_flow_4s_later: perFlow(rss()),
    };
  } finally {
    await pmds?.stop();
    dp.close();
    if (pool.inUse() === 0) pool.close();
  }
}

/** User + system CPU of the whole process so far, ms (Linux /proc; NaN elsewhere). */
function processCpuMs(): number {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms (USER_HZ)
  } catch {
    return NaN;
  }
}

if (import.meta.main) {
  const figures = await measurePmdStart(Number(Deno.args[0] ?? 1_000_000));
  if (figures !== null) console.log(JSON.stringify(figures));
}
