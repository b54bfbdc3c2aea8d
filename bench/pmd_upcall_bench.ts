/**
 * Miss-to-upcall latency on the path the service runs: an idle datapath
 * (no flows, upcalls on) whose port 1 is a DPDK `net_ring` polled by one
 * PMD Worker with the service's options (it naps after ~1 ms without
 * packets). This thread sends one 64-byte frame at a time into the other
 * end of the ring; the clock starts just before the transmit and stops when
 * a consumer parked in `dp.upcalls.waitReadable` (as the REST long poll
 * is) wakes and reads the upcall. The PMD queues the miss and hands it over
 * through its shared mailbox (datapath/upcall_mailbox.ts), so the figure
 * includes the PMD's nap (the service naps in 50 µs slices for its first
 * idle second: `--gap-ms=1500` shows a miss after a long lull, 1 ms naps)
 * and the control thread's wake-up.
 *
 * Where the time went (instrumented runs, p50, service options, 2-vCPU VM
 * at load 3 to 5): before, transmit to PMD rx 800 µs (the 1 ms nap),
 * report posted to `onmessage` 245 µs (p99 1.3 ms); after, rx 60 µs
 * (50 µs naps), mailbox fill to drain 20-27 µs, and ~45 µs each for the
 * PMD's handling of the miss, its fill (the notify alone ~12 µs) and the
 * reader's wake. Those are slow because both threads slept: the same miss
 * on the control thread took 5.5 µs back to back, 22 µs after a 1 ms
 * sleep and 63 µs after 5 ms (caches lost to the machine's other jobs).
 *
 * Run alone: `deno run -A bench/pmd_upcall_bench.ts [misses] [--gap-ms=N]
 * [--busy | --nap-ms=N --short-nap-us=N --short-nap-for-ms=N]` (defaults:
 * the service's PMD options, api/dpdk_backend.ts, 5 ms apart).
 *
 * @module
 */

import { Datapath } from "../datapath/datapath.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { PmdSet, type PmdSetOptions } from "../datapath/pmd_set.ts";
import { DPDK_PMD_OPTIONS } from "../api/dpdk_backend.ts";
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

/** What {@linkcode benchPmdUpcall} runs; the defaults are the service's (api/dpdk_backend.ts). */
export interface PmdUpcallBenchOptions {
  /** PmdSetOptions the PMD starts with. Default: DPDK_PMD_OPTIONS. */
  pmd?: PmdSetOptions;
  /** Pause before each miss in ms. Default IDLE_GAP_MS. */
  gapMs?: number;
  /** Label for the row. */
  label?: string;
}

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
  options: PmdUpcallBenchOptions = {},
): Promise<BenchRow[]> {
  const gapMs = options.gapMs ?? IDLE_GAP_MS;
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
      ...(options.pmd ?? DPDK_PMD_OPTIONS),
      threads: 1,
      cpus: [[cpus[1] ?? cpus[0]]],
    });
    const frame = udp4Frame({ padTo: 60 });
    const batch = new PacketBatch(pool);
    const samples = new Float64Array(misses);
    let elapsed = 0;
    for (let i = -WARMUP_MISSES; i < misses; i++) {
      await new Promise((resolve) => setTimeout(resolve, gapMs));
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
    const r = latencyRow(
      `upcall miss->wake via PMD (dpdk)${options.label ? ` ${options.label}` : ""}`,
      samples,
      elapsed,
    );
    r.note = `${r.note}; net_ring into one PMD Worker ` +
      `(${options.pmd ? JSON.stringify(options.pmd) : "service options"}), ${gapMs} ms apart`;
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
  // [misses] [--gap-ms=N] [--busy | --nap-ms=N --short-nap-us=N --short-nap-for-ms=N]
  const flag = (name: string) => {
    const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
    return arg === undefined ? undefined : Number(arg.slice(name.length + 3));
  };
  const custom = Deno.args.some((a) => a.startsWith("--") && !a.startsWith("--gap-ms"));
  const pmd: PmdSetOptions | undefined = !custom
    ? undefined
    : Deno.args.includes("--busy")
    ? { idleIterationsBeforeNap: 0 }
    : {
      ...DPDK_PMD_OPTIONS,
      ...(flag("nap-ms") !== undefined ? { napMs: flag("nap-ms") } : {}),
      ...(flag("short-nap-us") !== undefined ? { shortNapUs: flag("short-nap-us") } : {}),
      ...(flag("short-nap-for-ms") !== undefined
        ? { shortNapForMs: flag("short-nap-for-ms") }
        : {}),
    };
  const misses = Number(Deno.args.find((a) => !a.startsWith("--")) ?? 200);
  console.log(formatTable(
    await benchPmdUpcall(misses, threadAffinity(), { pmd, gapMs: flag("gap-ms") }),
  ));
}
