/**
 * Miss-to-upcall latency on the path the service runs: an idle datapath
 * (no flows, upcalls on) whose port 1 is a DPDK `net_ring` polled by one
 * PMD Worker with the service's options (it naps after ~1 ms without
 * packets). This thread sends one 64-byte frame at a time into the other
 * end of the ring; the clock starts just before the transmit and stops when
 * a consumer parked in `dp.upcalls.waitReadable` (as the REST long poll
 * is) wakes and reads the upcall. The PMD queues the miss and hands it over
 * in its next report, so the figure includes the report period.
 *
 * Run alone: `deno run -A bench/pmd_upcall_bench.ts [misses]`.
 *
 * @module
 */

import { Datapath } from "../datapath/datapath.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";
import { setThreadAffinity, threadAffinity } from "../ffi/thread_affinity.ts";
import { udp4Frame } from "../tests/fixtures/packets.ts";
import { type BenchRow, formatTable } from "./report.ts";
import { latencyRow } from "./upcall_latency_bench.ts";

/** Misses sent before measuring (JIT and PMD warm-up), not counted. */
const WARMUP_MISSES = 50;
/** Pause between two misses, so the PMD is idle (napping) when each arrives. */
const IDLE_GAP_MS = 5;

/**
 * Measures `misses` misses; resolves to one row (none, with the reason on
 * stderr, without DPDK). `cpus` are the CPUs the process may use: EAL's
 * main thread on the first, the PMD on the second. Rejects when an upcall
 * does not arrive within a second, or (a RangeError from the pool) when
 * mbufs are missing afterwards.
 */
export async function benchPmdUpcall(
  misses = 200,
  cpus: number[] = threadAffinity(),
): Promise<BenchRow[]> {
  const availability = dpdkAvailability();
  if (!availability.available) {
    console.error(`bench: skipping the PMD upcall latency: ${availability.reason}`);
    return [];
  }
  initEal({ cores: [cpus[0]] });
  registerDpdkPortType();
  const tag = `pu${Deno.pid % 100000}_${Date.now() % 100000}`;
  const pool = MbufPool.create({ name: tag, capacity: 4095 });
  const wire = RingPair.create(`${tag}a`, `${tag}b`);
  const dp = new Datapath(`upcall_${tag}`, { pool });
  const sender = DpdkPort.open("sender", { devargs: wire.b }, pool);
  let pmds: PmdSet | undefined;
  const affinity = threadAffinity();
  setThreadAffinity([cpus[0]]); // an earlier EAL init may have pinned us to the PMD's CPU
  try {
    dp.addPort({ name: "in", type: "dpdk", port_no: 1, options: { devargs: wire.a } });
    dp.setUpcallsEnabled(true);
    pmds = await PmdSet.start(dp, {
      cpus: [[cpus[1] ?? cpus[0]]],
      idleIterationsBeforeNap: 4096,
      napMs: 1,
    });
    const frame = udp4Frame({ padTo: 60 });
    const batch = new PacketBatch(pool);
    const samples = new Float64Array(misses);
    let elapsed = 0;
    for (let i = -WARMUP_MISSES; i < misses; i++) {
      await new Promise((resolve) => setTimeout(resolve, IDLE_GAP_MS));
      const woken = dp.upcalls.waitReadable(1000);
      batch.count = 0;
      if (batch.pushCopy(frame) < 0) throw new Error("pmd upcall bench: the pool is empty");
      const t0 = performance.now();
      sender.transmit(0, batch);
      const readable = await woken;
      const t1 = performance.now();
      if (!readable || dp.upcalls.read(1).length !== 1) {
        throw new Error("pmd upcall bench: no upcall within 1 s of a miss");
      }
      if (i >= 0) {
        samples[i] = t1 - t0;
        elapsed += t1 - t0;
      }
    }
    const r = latencyRow("upcall miss->wake via PMD (dpdk)", samples, elapsed);
    r.note = `${r.note}; net_ring into one PMD Worker (service options), ` +
      `${IDLE_GAP_MS} ms apart`;
    return [r];
  } finally {
    setThreadAffinity(affinity);
    await pmds?.stop();
    dp.close();
    sender.close();
    wire.destroy();
    pool.close(); // throws a RangeError when mbufs are not back
  }
}

if (import.meta.main) {
  console.log(formatTable(await benchPmdUpcall(Number(Deno.args[0] ?? 200))));
}
