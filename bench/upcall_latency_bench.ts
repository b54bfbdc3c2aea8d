/**
 * Miss-to-upcall latency on an idle datapath (memory backend: a
 * {@linkcode Datapath} with two dummy ports, no flows, upcalls enabled).
 * One frame at a time is injected into port 1 and misses; the clock starts
 * just before `dp.poll()` hands it to the pipeline and stops when the
 * consumer holds the upcall:
 *
 * - `upcall miss->read (sync)`: on the same thread right after `poll()`
 *   returns, `dp.upcalls.read(1)` returns the upcall (miss handling, key
 *   and packet copies, enqueue, read).
 * - `upcall miss->wake (async)`: a consumer already parked in
 *   `await dp.upcalls.waitReadable(...)` wakes up (promise resolution, then a
 *   microtask) and reads it, as the REST long poll does.
 *
 * Row note: p50 / p99 / max in microseconds over all misses (performance.now()
 * resolves to about 1 us here, so the lowest figures are coarse); mpps is
 * upcalls per second (in millions) over the measured loop, one at a time,
 * so it is 1 / mean latency, not a throughput under load.
 *
 * Run alone: `deno run --allow-all bench/upcall_latency_bench.ts [misses]`.
 *
 * @module
 */

import { Datapath } from "../datapath/datapath.ts";
import type { DummyPort } from "../datapath/dummy_port.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { udp4Frame } from "../tests/fixtures/packets.ts";
import { type BenchRow, formatTable, row } from "./report.ts";

/** Misses measured per case by default. */
export const DEFAULT_MISSES = 10_000;
/** Misses run before measuring (JIT warm-up), not counted. */
const WARMUP_MISSES = 1_000;

/** Latency percentiles in microseconds. */
export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}

/**
 * p50 / p99 / max of `samplesMs` (milliseconds), in microseconds rounded to
 * 0.1 us; nearest-rank percentiles. Sorts `samplesMs` in place.
 * @throws {RangeError} when there are no samples.
 */
export function summarizeLatency(samplesMs: Float64Array): LatencySummary {
  const n = samplesMs.length;
  if (n === 0) throw new RangeError("summarizeLatency: no samples");
  samplesMs.sort();
  const rank = (p: number) => samplesMs[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
  const us = (ms: number) => Math.round(ms * 10_000) / 10;
  return { p50: us(rank(0.5)), p99: us(rank(0.99)), max: us(samplesMs[n - 1]) };
}

/** The row of one latency case: mpps is upcalls/s in millions, the note the percentiles. */
export function latencyRow(name: string, samplesMs: Float64Array, elapsedMs: number): BenchRow {
  const n = samplesMs.length;
  const s = summarizeLatency(samplesMs);
  return row(
    name,
    n / elapsedMs / 1000,
    `latency us p50=${s.p50} p99=${s.p99} max=${s.max}, n=${n}, idle datapath, M upcalls/s`,
  );
}

/** An idle datapath over a memory pool: dummy ports 1 and 2, no flows, upcalls on. */
function idleDatapath(): { dp: Datapath; port: DummyPort; pool: MemoryPool } {
  const pool = new MemoryPool({ capacity: 256 });
  const dp = new Datapath("upcall_bench", { pool });
  dp.addPort({ name: "p1", type: "dummy", port_no: 1, options: { capture_limit: "0" } });
  dp.addPort({ name: "p2", type: "dummy", port_no: 2, options: { capture_limit: "0" } });
  dp.setUpcallsEnabled(true);
  return { dp, port: dp.ports.get(1) as DummyPort, pool };
}

/** Checks the run left nothing behind: every miss read, pool whole. */
function verify(dp: Datapath, pool: MemoryPool, expected: number): void {
  const stats = dp.upcalls.stats();
  if (stats.lost !== 0 || stats.queued !== 0 || stats.enqueued !== expected) {
    throw new Error(`upcall bench: ${JSON.stringify(stats)}, expected ${expected} enqueued`);
  }
  if (pool.available() !== pool.capacity) throw new Error("upcall bench: the pool leaked");
}

/** Polls the injected frame into the pipeline, where it misses; throws when nothing came in. */
function missOnce(dp: Datapath): void {
  if (dp.poll() !== 1) throw new Error("upcall bench: the frame was not polled");
}

/**
 * Synchronous path: poll() -> miss -> enqueue, then read(1) on the same
 * thread. Returns the row. Throws if an upcall goes missing.
 */
export function benchUpcallRead(misses = DEFAULT_MISSES): BenchRow {
  const { dp, port, pool } = idleDatapath();
  const frame = udp4Frame({ padTo: 60 });
  const samples = new Float64Array(misses);
  try {
    let elapsed = 0;
    for (let i = -WARMUP_MISSES; i < misses; i++) {
      port.inject(frame);
      const t0 = performance.now();
      missOnce(dp);
      const got = dp.upcalls.read(1);
      const t1 = performance.now();
      if (got.length !== 1) throw new Error("upcall bench: no upcall after a miss");
      if (i >= 0) {
        samples[i] = t1 - t0;
        elapsed += t1 - t0;
      }
    }
    verify(dp, pool, misses + WARMUP_MISSES);
    return latencyRow("upcall miss->read (sync)", samples, elapsed);
  } finally {
    dp.close();
  }
}

/**
 * Asynchronous path: a consumer parked in `waitReadable` is woken by the
 * miss and reads the upcall; the clock stops in the consumer. Resolves to the
 * row. Rejects if a wait times out or an upcall goes missing.
 */
export async function benchUpcallWake(misses = DEFAULT_MISSES): Promise<BenchRow> {
  const { dp, port, pool } = idleDatapath();
  const frame = udp4Frame({ padTo: 60 });
  const samples = new Float64Array(misses);
  try {
    let elapsed = 0;
    for (let i = -WARMUP_MISSES; i < misses; i++) {
      port.inject(frame);
      // The consumer parks first (nothing queued), as a long poll would.
      const consumer = dp.upcalls.waitReadable(1000).then((readable) => {
        const t1 = performance.now();
        if (!readable || dp.upcalls.read(1).length !== 1) {
          throw new Error("upcall bench: woke without an upcall");
        }
        return t1;
      });
      const t0 = performance.now();
      missOnce(dp);
      const t1 = await consumer;
      if (i >= 0) {
        samples[i] = t1 - t0;
        elapsed += t1 - t0;
      }
    }
    verify(dp, pool, misses + WARMUP_MISSES);
    return latencyRow("upcall miss->wake (async)", samples, elapsed);
  } finally {
    dp.close();
  }
}

/** Both cases over `misses` misses each. */
export async function benchUpcallLatency(misses = DEFAULT_MISSES): Promise<BenchRow[]> {
  const sync = benchUpcallRead(misses);
  return [sync, await benchUpcallWake(misses)];
}

if (import.meta.main) {
  const misses = Number(Deno.args[0] ?? DEFAULT_MISSES);
  console.log(formatTable(await benchUpcallLatency(misses)));
}
