/**
 * deno-dpif's side of one matrix case, on the path the service runs: a
 * {@linkcode Datapath} over an {@linkcode MbufPool} with `dpdk` ports made
 * by the port factory (port 1 a net_pcap replay with `infinite_rx=1`, port
 * 2 a `net_null,no-rx=1` sink) and a VXLAN port 4789, the case's flows put
 * through `putFlow`, and one PMD Worker ({@linkcode PmdSet}, the service's
 * options: busy poll under load, nap when idle; the exact-match cache as
 * {@linkcode ourEmcEntries} says) on its own CPU. Flow stats, drop counters
 * and PMD stats all run.
 *
 * The rate is what net_null transmitted (the device's own counter, as for
 * testpmd and OVS) over each interval after a warm-up. Afterwards the case
 * must have had no miss and no drop, and every mbuf must be back in the
 * pool once the datapath is closed; otherwise it throws.
 *
 * Memory: resident set size before the datapath exists, after the flows
 * are in, after the PMD holds its replica, and at the start and end of the
 * measured intervals.
 *
 * @module
 */

import { Datapath } from "../datapath/datapath.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import type { DpdkPort } from "../ffi/dpdk_port.ts";
import type { MbufPool } from "../ffi/mbuf_pool.ts";
import { BENCH_IN_PORT, BENCH_OUT_PORT, BENCH_VXLAN_PORT } from "./datapath_bench.ts";
import { type MatrixCase, ourEmcEntries } from "./matrix_cases.ts";
import { sleep } from "./system_tools.ts";

/** Where and how long one case runs. */
export interface CaseRun {
  /** Pool of the datapath; must hold the capture plus queues and caches. */
  pool: MbufPool;
  /** The capture for port 1. */
  pcap: string;
  /** CPU of the PMD Worker. */
  pmdCpu: number;
  /** Seconds per interval. */
  seconds: number;
  /** Intervals. */
  runs: number;
  /** Seconds forwarded before the first interval. */
  warmupSeconds: number;
  /** Unique suffix for device names. */
  tag: string;
}

/** What one case measured on deno-dpif. */
export interface OurFigures {
  /** Mpps of each interval. */
  mpps: number[];
  /** PMD busy nanoseconds per packet over the intervals. */
  nsPerPacket: number;
  /**
   * CPU time of the Worker threads (the PMD, whose polling keeps it on the
   * CPU) per packet over the intervals, ns; null where /proc is unreadable.
   * Unlike busy time, time the PMD spent preempted by other processes is not
   * in it, so it is the figure to compare runs on a shared machine by.
   */
  cpuNsPerPacket: number | null;
  /** EMC hits / all hits over the intervals. */
  emcHitRatio: number;
  /** Seconds the flow puts took. */
  installSeconds: number;
  /** RSS growth from before the datapath to the flows installed, per flow. */
  bytesPerFlowControl: number;
  /** The same with the PMD Worker and its replica of the flows started. */
  bytesPerFlowWithPmd: number;
  /** The same at the end of the measured intervals (garbage of the install collected by then). */
  bytesPerFlowAfterRun: number;
  /** RSS at the end of the last interval minus RSS at the start of the first, bytes. */
  rssGrowthBytes: number;
  /** RSS at the start of the first interval and at the end of each, bytes. */
  rssSamples: number[];
}

/**
 * Runs one case; resolves to its figures. Rejects when the datapath missed
 * or dropped a packet, or when mbufs are missing after close.
 */
export async function runOurCase(c: MatrixCase, run: CaseRun): Promise<OurFigures> {
  const rssStart = rss();
  const dp = new Datapath(`mx_${run.tag}`, { pool: run.pool, emcEntries: ourEmcEntries(c) });
  const running: { pmds: PmdSet | null } = { pmds: null };
  let figures: OurFigures;
  try {
    figures = await forward(c, run, dp, rssStart, running);
  } finally {
    await running.pmds?.stop();
    dp.close();
  }
  const inUse = run.pool.inUse();
  if (inUse !== 0) throw new Error(`${c.name}: ${inUse} mbufs not back in the pool`);
  return figures;
}

/** Ports, flows, PMD, warm-up, intervals, checks; the PMD goes into `running` for the caller to stop. */
async function forward(
  c: MatrixCase,
  run: CaseRun,
  dp: Datapath,
  rssStart: number,
  running: { pmds: PmdSet | null },
): Promise<OurFigures> {
  dp.addPort({
    name: "in",
    type: "dpdk",
    port_no: BENCH_IN_PORT,
    options: { devargs: `net_pcap_mx${run.tag},rx_pcap=${run.pcap},infinite_rx=1` },
  });
  dp.addPort({
    name: "out",
    type: "dpdk",
    port_no: BENCH_OUT_PORT,
    options: { devargs: `net_null_mx${run.tag},no-rx=1` },
  });
  dp.addPort({
    name: `vxlan_sys_${BENCH_VXLAN_PORT}`,
    type: "vxlan",
    port_no: BENCH_VXLAN_PORT,
    options: { remote_ip: "flow", key: "flow" },
  });
  const out = dp.ports.get(BENCH_OUT_PORT) as DpdkPort;
  const t0 = performance.now();
  for (let i = 0; i < c.flowCount; i++) {
    const [flow, actions] = c.flowAt(i);
    dp.putFlow({ flow, actions });
  }
  const installSeconds = (performance.now() - t0) / 1000;
  const rssFlows = rss();
  const pmds = await PmdSet.start(dp, {
    cpus: [[run.pmdCpu]],
    emcEntries: ourEmcEntries(c),
    idleIterationsBeforeNap: 4096,
    napMs: 1,
    // The replica of a million flows takes a while to load before the PMD reports ready.
    timeoutMs: 600_000,
  });
  running.pmds = pmds;
  const rssPmd = rss();
  await sleep(run.warmupSeconds * 1000);
  const first = pmds.stats()[0];
  const cpuFirst = workerCpuMs();
  const rssBefore = rss();
  const rssSamples = [rssBefore];
  const mpps: number[] = [];
  let before = txSample(out);
  for (let r = 0; r < run.runs; r++) {
    await sleep(run.seconds * 1000);
    const after = txSample(out);
    mpps.push((after.packets - before.packets) / (after.at - before.at) / 1000);
    rssSamples.push(rss());
    before = after;
  }
  const rssAfter = rss();
  const last = pmds.stats()[0];
  const cpuLast = workerCpuMs();
  await pmds.stop();
  check(c, dp, last.misses);
  const packets = last.packets - first.packets;
  const hits = (last.emc_hits - first.emc_hits) + (last.megaflow_hits - first.megaflow_hits);
  return {
    mpps,
    nsPerPacket: packets > 0 ? ((last.busy_ms - first.busy_ms) * 1e6) / packets : 0,
    cpuNsPerPacket: cpuFirst !== null && cpuLast !== null && packets > 0
      ? ((cpuLast - cpuFirst) * 1e6) / packets
      : null,
    emcHitRatio: hits > 0 ? (last.emc_hits - first.emc_hits) / hits : 0,
    installSeconds,
    bytesPerFlowControl: (rssFlows - rssStart) / c.flowCount,
    bytesPerFlowWithPmd: (rssPmd - rssStart) / c.flowCount,
    bytesPerFlowAfterRun: (rssAfter - rssStart) / c.flowCount,
    rssGrowthBytes: rssAfter - rssBefore,
    rssSamples,
  };
}

/** Throws when the case missed or dropped anything. */
function check(c: MatrixCase, dp: Datapath, misses: number): void {
  const problems: string[] = [];
  if (misses !== 0) problems.push(`${misses} misses`);
  for (const [reason, count] of Object.entries(dp.stats().drops)) {
    if (count !== 0) problems.push(`${count} ${reason} drops`);
  }
  const out = dp.portStats(BENCH_OUT_PORT);
  if (out.tx_dropped !== 0) problems.push(`${out.tx_dropped} tx drops`);
  if (problems.length > 0) throw new Error(`matrix ${c.name}: ${problems.join(", ")}`);
}

/** net_null's transmitted packets (the device's counter) and when they were read (ms). */
function txSample(port: DpdkPort): { packets: number; at: number } {
  const packets = port.deviceStats().opackets;
  return { packets, at: performance.now() };
}

/**
 * CPU time (user + system) of this process's Worker threads (named
 * `worker-N` by Deno), ms, from /proc/self/task/N/stat; null when
 * unreadable. Clock-tick resolution (10 ms): measure over seconds.
 */
export function workerCpuMs(): number | null {
  try {
    const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
    let ticks = 0;
    for (const task of Deno.readDirSync("/proc/self/task")) {
      const stat = Deno.readTextFileSync(`/proc/self/task/${task.name}/stat`);
      const open = stat.indexOf("(");
      const close = stat.lastIndexOf(")");
      if (!stat.slice(open + 1, close).startsWith("worker-")) continue;
      const fields = stat.slice(close + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
    }
    return ticks / ticksPerMs;
  } catch {
    return null;
  }
}

/** Resident set size of the process in bytes. */
export function rss(): number {
  return Deno.memoryUsage().rss;
}
