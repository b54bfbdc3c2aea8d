/**
 * PMD thread figures: forwarding rate of one PMD Worker (net_pcap replay of
 * 1,000 64-byte UDP flows -> one megaflow -> net_null,no-rx=1) and the delay
 * from a flow put on the control thread to the PMD applying it, under that
 * load. Run: `deno run -A bench/pmd_bench.ts [seconds]`.
 *
 * @module
 */

import { Datapath } from "../datapath/datapath.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { cleanupEal, initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { threadAffinity } from "../ffi/thread_affinity.ts";
import { writePcap } from "../tests/fixtures/pcap.ts";
import { type BenchRow, row } from "./report.ts";

function udpFlows(count: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let f = 0; f < count; f++) {
    const frame = new Uint8Array(64);
    const view = new DataView(frame.buffer);
    frame.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    view.setUint16(12, 0x0800);
    view.setUint8(14, 0x45);
    view.setUint16(16, 50);
    view.setUint8(22, 64);
    view.setUint8(23, 17);
    view.setUint32(26, 0x0a000000 + f + 1);
    view.setUint32(30, 0x0a640001);
    view.setUint16(34, 1024 + f);
    view.setUint16(36, 4790);
    view.setUint16(38, 30);
    frames.push(frame);
  }
  return frames;
}

/**
 * Runs the measurement; prints (unless `quiet`: then only a skip reason, on
 * stderr) and returns the figures, or null when DPDK is unavailable.
 */
export async function benchPmd(
  seconds = 5,
  quiet = false,
  cpus: number[] = threadAffinity(),
): Promise<Record<string, number> | null> {
  const availability = dpdkAvailability();
  if (!availability.available) {
    if (quiet) console.error(`bench: skipping the pmd group: ${availability.reason}`);
    else console.log(`PMD bench skipped: ${availability.reason}`);
    return null;
  }
  const dir = Deno.makeTempDirSync();
  const pcap = `${dir}/flows1k.pcap`;
  writePcap(pcap, udpFlows(1000));
  initEal({ cores: [cpus[0]] });
  registerDpdkPortType();
  const pool = MbufPool.create({ capacity: 16383 });
  const dp = new Datapath("bench0", { pool });
  dp.addPort({
    name: "in",
    type: "dpdk",
    port_no: 1,
    options: { devargs: `net_pcap_b0,rx_pcap=${pcap},infinite_rx=1` },
  });
  dp.addPort({
    name: "out",
    type: "dpdk",
    port_no: 2,
    options: { devargs: "net_null_b0,no-rx=1" },
  });
  dp.putFlow({ flow: "in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)", actions: "2" });
  // The PMD goes where the (EAL-pinned) main thread is not, when it can.
  const mainCpus = threadAffinity();
  const others = cpus.filter((cpu) => !mainCpus.includes(cpu));
  const pmdCpus = others.length > 0 ? others : cpus;
  const pmds = await PmdSet.start(dp, { cpus: [pmdCpus] });
  await new Promise((r) => setTimeout(r, 500));
  const p0 = pmds.stats()[0];
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const p1 = pmds.stats()[0];
  const elapsed = (performance.now() - t0) / 1000;
  const mpps = (p1.packets - p0.packets) / elapsed / 1e6;
  // Flow updates under load: put and delete an unrelated flow, wait for each to apply.
  const delays: number[] = [];
  for (let i = 0; i < 200; i++) {
    const before = pmds.stats()[0].flow_updates;
    const start = performance.now();
    const { ufid } = dp.putFlow({ flow: `in_port(1),eth(),eth_type(0x86dd)`, actions: "2" });
    while (pmds.stats()[0].flow_updates === before) await Promise.resolve();
    delays.push(performance.now() - start);
    dp.deleteFlow(ufid);
    while (pmds.stats()[0].flow_updates === before + 1) await Promise.resolve();
  }
  delays.sort((a, b) => a - b);
  const s = pmds.stats()[0];
  await pmds.stop();
  dp.close();
  const leaked = pool.inUse();
  pool.close();
  cleanupEal();
  Deno.removeSync(dir, { recursive: true });
  const figures = {
    pmd_mpps: Math.round(mpps * 100) / 100,
    ns_per_packet: Math.round(s.ns_per_packet),
    avg_batch: Math.round(s.avg_batch * 10) / 10,
    emc_hit_ratio: Math.round((s.emc_hits / Math.max(1, s.packets)) * 1000) / 1000,
    update_p50_ms: Math.round(delays[100] * 1000) / 1000,
    update_p99_ms: Math.round(delays[198] * 1000) / 1000,
    mbufs_leaked: leaked,
  };
  if (!quiet) console.log(JSON.stringify(figures));
  return figures;
}

/**
 * The figures of {@linkcode benchPmd} as one bench row (for `deno task bench
 * --only=pmd`): the forwarding rate, with the flow-update delay p50 / p99
 * in the note. Empty when DPDK is unavailable (benchPmd says why).
 * Cleans up the EAL at the end, so run it last in a process. `cpus` are
 * the CPUs the process may use, read before any EAL init pinned the main
 * thread (EAL's first, the PMD's the rest).
 * @throws {Error} when mbufs leaked.
 */
export async function benchPmdRows(
  seconds = 5,
  cpus: number[] = threadAffinity(),
): Promise<BenchRow[]> {
  const f = await benchPmd(seconds, true, cpus);
  if (f === null) return [];
  if (f.mbufs_leaked !== 0) throw new Error(`pmd bench: ${f.mbufs_leaked} mbufs leaked`);
  return [row(
    "pmd net_pcap->net_null 1k flows",
    f.pmd_mpps,
    `one PMD Worker, ${f.ns_per_packet} ns/pkt, avg batch ${f.avg_batch}, ` +
      `EMC hit ratio ${f.emc_hit_ratio}; flow put->applied under load ` +
      `ms p50=${f.update_p50_ms} p99=${f.update_p99_ms}`,
  )];
}

if (import.meta.main) await benchPmd(Number(Deno.args[0] ?? 5));
