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
 * Hops: the note splits each miss at the moment the PMD queued it (the
 * upcall's `queuedAt`, carried from the PMD, upcall_queue.ts UM_QUEUED_AT):
 * `pmd` is transmit to queued (the PMD's nap or poll, rx, the miss),
 * `handover` is queued to read (mailbox fill and notify, the control
 * thread's wake-up, the copy into the queue, the reader's wake).
 *
 * Hop by hop (2026-11-23, a trace with shared-memory timestamps in every
 * hop, since removed; `performance.timeOrigin + performance.now()` agreed
 * within 0.5 µs between threads; p50 / p99 µs, 200 misses 5 ms apart,
 * service options, the 2 CPUs kept busy by other jobs, CPU pressure
 * 30-45 %): transmit 10-15 / 20-50; PMD nap until rx 45-65 / 0.5-3.6 ms;
 * the miss (processBatch of one packet) 35-55 / 70-300; mailbox fill 10 /
 * 15-25; notify 20-30 / 35-75; notify to the control thread's waitAsync
 * callback 40-65 / 0.9-5.7 ms; callback to reader 38-41 / 310-860, then
 * 26-32 / 80-730 once the reader runs before the mailbox re-arms its wait
 * and before the woken waiters' timers are cleared (`clearTimeout` alone
 * 7-11 µs). `--busy` only shortens the first hop (10-20 µs p50, still ms
 * at p99: the busy PMD is preempted by the other jobs; at CPU pressure
 * 90 % its p50 was 1.2-1.6 ms). Every hop is 5-10 times its hot cost (the
 * same chain back to back: 67 µs p50) because both threads slept and the
 * other jobs took the caches. The p99 is CPU contention: a woken thread
 * waits for a CPU (`nice -20` did not help: autogroups). `--rt` runs the
 * control thread in SCHED_FIFO (ffi/thread_scheduling.ts): its wake-up's
 * p99 went from 4-5 ms to 125-165 µs; `--rt-pmd` also the PMD (service
 * options only: a busy-polling FIFO thread would hog its CPU): miss to
 * reader p50 191, p99 339 µs (3-6 ms without). Raw primitives, a Worker
 * spinning and signalling an idle main thread, p50: spin 15 µs, blocking
 * `Atomics.wait` 22-42, `Atomics.waitAsync` 30-68, `postMessage` 128-166,
 * a MessageChannel 178: the mailbox's waitAsync is the fastest way to wake
 * Deno's event loop.
 *
 * The REST long poll adds, after the reader wakes (service on loopback,
 * the client in a Worker, main thread in SCHED_FIFO so contention does not
 * hide it): upcall to JSON 120-130 µs (formatFlowKey and hex, 20 µs hot),
 * then Hono, Deno.serve and loopback to the client's first byte 220-250
 * µs; without SCHED_FIFO the body often came 1+ ms after the headers (the
 * control thread preempted in between). A bare `fetch` round trip here is
 * 430-470 µs p50, raw TCP 190: that path cannot reach 100 µs on this VM.
 *
 * Run alone: `deno run -A bench/pmd_upcall_bench.ts [misses] [--gap-ms=N]
 * [--busy | --nap-ms=N --short-nap-us=N --short-nap-for-ms=N] [--rt | --rt-pmd]`
 * (defaults: the service's PMD options, api/dpdk_backend.ts, 5 ms apart).
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
import { setThreadNormal, setThreadRealtime } from "../ffi/thread_scheduling.ts";
import { udp4Frame } from "../tests/fixtures/packets.ts";
import { type BenchRow, formatTable } from "./report.ts";
import { latencyRow, summarizeLatency } from "./upcall_latency_bench.ts";

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
  /**
   * Real-time (SCHED_FIFO 1) threads while measuring: "main" the control
   * thread, "main+pmd" the PMD Worker too. Default: none. Needs root.
   */
  realtime?: "main" | "main+pmd";
}

/** Priority of the `realtime` threads: the lowest SCHED_FIFO one. */
const REALTIME_PRIORITY = 1;

/** Thread id of this process's PMD Worker (Deno names Worker threads "worker-N"). */
function pmdThreadId(): number {
  for (const entry of Deno.readDirSync("/proc/self/task")) {
    const comm = Deno.readTextFileSync(`/proc/self/task/${entry.name}/comm`).trim();
    if (comm.startsWith("worker-")) return Number(entry.name);
  }
  throw new Error("pmd upcall bench: no PMD Worker thread found for --rt-pmd");
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
    if (options.realtime !== undefined) {
      setThreadRealtime(REALTIME_PRIORITY);
      if (options.realtime === "main+pmd") setThreadRealtime(REALTIME_PRIORITY, pmdThreadId());
    }
    const frame = udp4Frame({ padTo: 60 });
    const batch = new PacketBatch(pool);
    const samples = new Float64Array(misses);
    const pmdHop = new Float64Array(misses);
    const handover = new Float64Array(misses);
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
      const upcalls = dp.upcalls.read(1);
      if (!readable || upcalls.length !== 1) {
        throw new Error("pmd upcall bench: no upcall within 1 s of a miss");
      }
      if (i >= 0) {
        samples[i] = t1 - t0;
        pmdHop[i] = upcalls[0].queuedAt - t0;
        handover[i] = t1 - upcalls[0].queuedAt;
        elapsed += t1 - t0;
      }
    }
    const r = latencyRow(
      `upcall miss->wake via PMD (dpdk)${options.label ? ` ${options.label}` : ""}`,
      samples,
      elapsed,
    );
    const hop = (name: string, ms: Float64Array) => {
      const s = summarizeLatency(ms);
      return `${name} p50=${s.p50} p99=${s.p99}`;
    };
    r.note = `${r.note}; hops us ${hop("pmd", pmdHop)}, ${hop("handover", handover)}; ` +
      `net_ring into one PMD Worker ` +
      `(${options.pmd ? JSON.stringify(options.pmd) : "service options"}), ${gapMs} ms apart` +
      (options.realtime ? `, SCHED_FIFO ${options.realtime}` : "");
    return [r];
  } finally {
    if (options.realtime !== undefined) setThreadNormal();
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
  // [--rt | --rt-pmd]
  const flag = (name: string) => {
    const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
    return arg === undefined ? undefined : Number(arg.slice(name.length + 3));
  };
  const custom = Deno.args.some((a) =>
    a.startsWith("--") && !a.startsWith("--gap-ms") && !a.startsWith("--rt")
  );
  const realtime = Deno.args.includes("--rt-pmd")
    ? "main+pmd"
    : Deno.args.includes("--rt")
    ? "main"
    : undefined;
  if (realtime === "main+pmd" && Deno.args.includes("--busy")) {
    throw new RangeError("--rt-pmd with --busy would hog the PMD's CPU: use --rt");
  }
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
    await benchPmdUpcall(misses, threadAffinity(), { pmd, gapMs: flag("gap-ms"), realtime }),
  ));
}
