/**
 * I/O ceiling: dpdk-testpmd io forwarding against our TypeScript io loop on
 * the same input (a net_pcap replay of 1,000 64-byte UDP flows into
 * net_null,no-rx=1), about 5 s each, one forwarding core.
 *
 * Run alone: `deno run --allow-all bench/dpdk_io_bench.ts`.
 *
 * @module
 */

import { BATCH_SIZE, PacketBatch } from "../datapath/packet_batch.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { writePcap } from "../tests/fixtures/pcap.ts";
import { type BenchRow, formatTable, round, row } from "./report.ts";

/** Seconds each side forwards. */
const SECONDS = Number(Deno.env.get("DPIF_BENCH_SECONDS") ?? 5);
/** Distinct flows (and frames) in the replayed capture. */
const FLOWS = 1000;
/** Bursts between two looks at the clock in our loop. */
const BURSTS_PER_CLOCK_CHECK = 1024;

/**
 * Measures testpmd io and our io loop on the same capture; returns one row
 * ("io net_pcap->net_null") with both rates and their ratio. Returns a row
 * with a note and rate 0 when DPDK (or testpmd) is unavailable.
 */
export async function benchDpdkIo(): Promise<BenchRow[]> {
  const name = "io net_pcap->net_null";
  const availability = dpdkAvailability();
  if (!availability.available) return [row(name, 0, `skipped: ${availability.reason}`)];
  const dir = Deno.makeTempDirSync({ prefix: "dpif_io_bench_" });
  try {
    const pcap = `${dir}/flows1k.pcap`;
    writePcap(pcap, udpFlows(FLOWS));
    const testpmd = await runTestpmd(pcap, SECONDS);
    const ours = runTypeScriptIo(pcap, SECONDS);
    const result = row(
      name,
      ours,
      `64-byte UDP, ${FLOWS} flows, burst ${BATCH_SIZE}, ${SECONDS} s each`,
    );
    if (testpmd !== null) {
      result.testpmd_mpps = round(testpmd);
      result.ratio_testpmd = round(ours / testpmd);
    }
    return [result];
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** 64-byte Ethernet/IPv4/UDP frames, one per flow (distinct source address and port). */
function udpFlows(count: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let f = 0; f < count; f++) {
    const frame = new Uint8Array(64);
    const view = new DataView(frame.buffer);
    frame.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    view.setUint16(12, 0x0800);
    view.setUint8(14, 0x45);
    view.setUint16(16, 50); // IPv4 total length: 64 - 14
    view.setUint8(22, 64); // ttl
    view.setUint8(23, 17); // udp
    view.setUint32(26, 0x0a000000 + f + 1); // source 10.0.x.y
    view.setUint32(30, 0x0a640001); // destination 10.100.0.1
    let sum = 0;
    for (let i = 14; i < 34; i += 2) sum += view.getUint16(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    view.setUint16(24, ~sum & 0xffff);
    view.setUint16(34, 1024 + (f % 50000)); // udp source port
    view.setUint16(36, 4789 + 1); // udp destination port
    view.setUint16(38, 30); // udp length
    frames.push(frame);
  }
  return frames;
}

/**
 * dpdk-testpmd io forwarding of a pcap replay into net_null for `seconds`
 * (as /work/shared/peers/testpmd_io.sh runs it, lcores 0,1); Mpps, or null
 * when testpmd is missing or printed no statistics. Also used by
 * dpdk_datapath_bench.ts.
 */
export async function runTestpmd(pcap: string, seconds: number): Promise<number | null> {
  const prefix = `dpif_tpbench_${Deno.pid}`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("dpdk-testpmd", {
      args: [
        "--no-huge",
        "--no-pci",
        "-m",
        "1024",
        `--file-prefix=${prefix}`,
        "--no-telemetry",
        "-l",
        "0,1",
        `--vdev=net_pcap0,rx_pcap=${pcap},infinite_rx=1`,
        "--vdev=net_null0,no-rx=1",
        "--",
        "-i",
        "--forward-mode=io",
        "--auto-start",
        "--no-mlockall",
        "--total-num-mbufs=16384",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch {
    return null; // testpmd not installed
  }
  const output = child.output();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("stop\n"));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await writer.write(new TextEncoder().encode("quit\n"));
  await writer.close();
  const text = new TextDecoder().decode((await output).stdout);
  try {
    Deno.removeSync(`/var/run/dpdk/${prefix}`, { recursive: true });
  } catch { /* testpmd left nothing */ }
  const port1 = text.split("Forward statistics for port 1")[1] ?? "";
  const tx = /TX-packets:\s*(\d+)/.exec(port1);
  return tx === null ? null : Number(tx[1]) / seconds / 1e6;
}

/** Our io loop through DpdkPort receive/transmit, on lcore 1 when there is one; Mpps. */
function runTypeScriptIo(pcap: string, seconds: number): number {
  initEal({ cores: [navigator.hardwareConcurrency > 1 ? 1 : 0], memoryMb: 1024 });
  const pool = MbufPool.create({ capacity: 16383 });
  const tag = `${Deno.pid}_${Date.now() % 100000}`;
  const input = DpdkPort.open("bench_in", {
    devargs: `net_pcap_io${tag},rx_pcap=${pcap},infinite_rx=1`,
  }, pool);
  const output = DpdkPort.open("bench_out", { devargs: `net_null_io${tag},no-rx=1` }, pool);
  const batch = new PacketBatch(pool);
  try {
    forward(input, output, batch, 0.5); // warm up the JIT
    const before = output.stats().tx_packets;
    const elapsed = forward(input, output, batch, seconds);
    return (output.stats().tx_packets - before) / elapsed / 1e6;
  } finally {
    input.close();
    output.close();
    pool.close();
  }
}

/** Receives and transmits bursts for `seconds`; returns the seconds it really took. */
function forward(input: DpdkPort, output: DpdkPort, batch: PacketBatch, seconds: number): number {
  const start = performance.now();
  const end = start + seconds * 1000;
  for (;;) {
    for (let b = 0; b < BURSTS_PER_CLOCK_CHECK; b++) {
      input.receive(0, batch);
      output.transmit(0, batch);
    }
    const now = performance.now();
    if (now >= end) return (now - start) / 1000;
  }
}

if (import.meta.main) {
  console.log(formatTable(await benchDpdkIo()));
}
