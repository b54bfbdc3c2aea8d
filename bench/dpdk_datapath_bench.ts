/**
 * The whole datapath pipeline on real DPDK: a net_pcap port replaying a
 * capture of 1,000 64-byte UDP flows forever (`infinite_rx=1`) as port 1, a
 * net_null sink (`no-rx=1`) as port 2, both on one {@linkcode MbufPool}, and
 * the main thread looping `port.receive(0, batch)` ->
 * `dp.pipeline.processBatch(batch)` for DPIF_BENCH_SECONDS (default 5) per
 * case, beside dpdk-testpmd io forwarding of the same capture in the same
 * run. The rate is what net_null transmitted.
 *
 * Cases: 1,000 exact-match flows with output; the same with set(ipv4(src,
 * ttl)); the same with VXLAN tnl_push. Each case checks afterwards that no
 * packet missed or was dropped.
 *
 * Run alone: `deno run --allow-all bench/dpdk_datapath_bench.ts`.
 *
 * @module
 */

import { C_MISSED } from "../datapath/pipeline.ts";
import { Datapath } from "../datapath/datapath.ts";
import { BATCH_SIZE, PacketBatch } from "../datapath/packet_batch.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { writePcap } from "../tests/fixtures/pcap.ts";
import {
  BENCH_IN_PORT,
  BENCH_OUT_PORT,
  BENCH_VXLAN_PORT,
  exactFlows,
  SET_IPV4_ACTIONS,
  udpFlowFrames,
  VXLAN_PUSH_ACTIONS,
  withCycles,
} from "./datapath_bench.ts";
import { runTestpmd } from "./dpdk_io_bench.ts";
import { type BenchRow, formatTable, round, row } from "./report.ts";

/** Flows (and frames) in the replayed capture. */
const FLOWS = 1000;
/** Bursts between two looks at the clock. */
const BURSTS_PER_CLOCK_CHECK = 1024;

/** Options of {@linkcode benchDpdkDatapath}. */
export interface DpdkDatapathBenchOptions {
  /** Seconds each side runs. Default DPIF_BENCH_SECONDS, else 5. */
  seconds?: number;
}

/** One case: a name, a note and the actions of every flow. */
interface DpdkCase {
  name: string;
  note: string;
  actions: string;
}

const CASES: DpdkCase[] = [
  { name: "dpdk datapath 1k flows", note: "output", actions: String(BENCH_OUT_PORT) },
  { name: "dpdk datapath set(ipv4)", note: "set src+ttl, output", actions: SET_IPV4_ACTIONS },
  { name: "dpdk datapath vxlan push", note: "tnl_push+output", actions: VXLAN_PUSH_ACTIONS },
];

/**
 * Runs testpmd io once on the capture, then each case through our pipeline;
 * one row per case with testpmd's rate and the ratio. Returns rows with rate
 * 0 and a note when DPDK is unavailable.
 */
export async function benchDpdkDatapath(
  options: DpdkDatapathBenchOptions = {},
): Promise<BenchRow[]> {
  const seconds = options.seconds ?? Number(Deno.env.get("DPIF_BENCH_SECONDS") ?? 5);
  const availability = dpdkAvailability();
  if (!availability.available) {
    return CASES.map((c) => row(c.name, 0, `skipped: ${availability.reason}`));
  }
  const dir = Deno.makeTempDirSync({ prefix: "dpif_dp_bench_" });
  try {
    const pcap = `${dir}/flows1k.pcap`;
    writePcap(pcap, udpFlowFrames(FLOWS));
    const testpmd = await runTestpmd(pcap, seconds);
    initEal({ cores: [navigator.hardwareConcurrency > 1 ? 1 : 0], memoryMb: 1024 });
    const pool = MbufPool.create({ capacity: 16383 });
    try {
      return CASES.map((c, k) => {
        const mpps = runCase(c, k, pool, pcap, seconds);
        const result = withCycles(
          row(c.name, mpps, `${FLOWS} flows, ${c.note}, burst ${BATCH_SIZE}, ${seconds} s`),
          mpps,
        );
        if (testpmd !== null) {
          result.testpmd_mpps = round(testpmd);
          result.ratio_testpmd = round(mpps / testpmd);
        }
        return result;
      });
    } finally {
      pool.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Builds the case's datapath on DPDK ports, forwards for `seconds`, checks it; Mpps. */
function runCase(c: DpdkCase, k: number, pool: MbufPool, pcap: string, seconds: number): number {
  const tag = `${Deno.pid % 100000}_${k}`;
  const dp = new Datapath(`bench_dpdk${k}`, { pool, maxFlows: 65536 });
  try {
    // The "dpdk" type may not be in the port factory: open the ports directly.
    const input = DpdkPort.open("p1", {
      devargs: `net_pcap_dp${tag},rx_pcap=${pcap},infinite_rx=1`,
    }, pool);
    dp.ports.add(input, BENCH_IN_PORT);
    const output = DpdkPort.open("p2", { devargs: `net_null_dp${tag},no-rx=1` }, pool);
    dp.ports.add(output, BENCH_OUT_PORT);
    dp.addPort({
      name: "vxlan_sys_4789",
      type: "vxlan",
      port_no: BENCH_VXLAN_PORT,
      options: { remote_ip: "flow", key: "flow" },
    });
    for (const [flow, actions] of exactFlows(FLOWS, c.actions)) dp.putFlow({ flow, actions });
    const batch = new PacketBatch(pool);
    forward(dp, input, batch, 0.5); // warm up the JIT
    const before = output.stats().tx_packets;
    const elapsed = forward(dp, input, batch, seconds);
    const mpps = (output.stats().tx_packets - before) / elapsed / 1e6;
    const stats = dp.stats();
    const drops = Object.entries(stats.drops).filter(([, n]) => n !== 0);
    const txDropped = output.stats().tx_dropped;
    if (dp.pipeline.counters[C_MISSED] !== 0 || drops.length > 0 || txDropped !== 0) {
      throw new Error(
        `${c.name}: ${dp.pipeline.counters[C_MISSED]} misses, ${txDropped} tx drops, ` +
          `drops ${JSON.stringify(Object.fromEntries(drops))}`,
      );
    }
    return mpps;
  } finally {
    dp.close();
  }
}

/** receive -> processBatch for `seconds`; returns the seconds it really took. */
function forward(dp: Datapath, input: DpdkPort, batch: PacketBatch, seconds: number): number {
  const pipeline = dp.pipeline;
  const start = performance.now();
  const end = start + seconds * 1000;
  for (;;) {
    for (let b = 0; b < BURSTS_PER_CLOCK_CHECK; b++) {
      batch.count = 0;
      if (input.receive(0, batch) > 0) pipeline.processBatch(batch);
    }
    const now = performance.now();
    if (now >= end) return (now - start) / 1000;
  }
}

if (import.meta.main) {
  console.log(formatTable(await benchDpdkDatapath()));
}
