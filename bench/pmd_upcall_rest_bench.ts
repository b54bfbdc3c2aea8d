/**
 * Miss-to-upcall latency as a REST client sees it: the service itself
 * (api/service.ts on the DPDK backend, in this process, listening on
 * loopback: dp0 with its net_ring loopback ports p1 and p2 polled by one PMD
 * Worker with the service's options) and a client in a Worker that
 * long-polls `GET /v1/datapaths/dp0/upcalls` (bench/upcall_poll_client.ts).
 * Each miss is a packet-out to p1 (`dp.execute`) that loops back into the
 * PMD with no flow to match; the clock starts before the packet-out and
 * stops when the client has parsed the answer holding the upcall. The note
 * splits it where a second reader parked on the queue on this thread woke
 * (`queued`: the PMD and the mailbox hand-over, ±5 µs) and the rest
 * (`rest`: the route, upcall to JSON, Hono, Deno.serve, loopback, the
 * client's wake and parse). The service logs every request as it does at
 * its default level (formatted, then discarded, not written to stderr).
 *
 * Figures (2026-11-23, 2-vCPU VM with both CPUs busy with other jobs):
 * see bench/pmd_upcall_bench.ts, "The REST long poll adds".
 *
 * Run alone: `deno run -A bench/pmd_upcall_rest_bench.ts [misses] [--gap-ms=N] [--rt]`
 * (`--rt`: the main thread in SCHED_FIFO, ffi/thread_scheduling.ts; root).
 *
 * @module
 */

import { createLogger } from "../api/logger.ts";
import { startService } from "../api/service.ts";
import type { ServiceConfig } from "../api/service_config.ts";
import { parseServiceArgs } from "../api/service_config.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { setThreadNormal, setThreadRealtime } from "../ffi/thread_scheduling.ts";
import { udp4Frame } from "../tests/fixtures/packets.ts";
import { type BenchRow, formatTable } from "./report.ts";
import { latencyRow, summarizeLatency } from "./upcall_latency_bench.ts";
import { type PollClientStart, TIMES_OFFSET } from "./upcall_poll_client.ts";

/** Misses sent before measuring, not counted. */
const WARMUP_MISSES = 30;
/** Longest wait for the client's answer to one miss. */
const ANSWER_TIMEOUT_MS = 2000;

/** What {@linkcode benchPmdUpcallRest} runs. */
export interface PmdUpcallRestOptions {
  /** Pause before each miss in ms (the client is parked again). Default 5. */
  gapMs?: number;
  /** The main thread in SCHED_FIFO 1 while measuring (root). Default false. */
  realtime?: boolean;
}

/**
 * Measures `misses` misses through the service and its REST long poll;
 * resolves to one row (none, with the reason on stderr, without DPDK).
 * Rejects when an answer does not hold exactly the one upcall, or does not
 * come within ANSWER_TIMEOUT_MS; the service's stop throws when an mbuf is
 * missing.
 */
export async function benchPmdUpcallRest(
  misses = 200,
  options: PmdUpcallRestOptions = {},
): Promise<BenchRow[]> {
  const availability = dpdkAvailability();
  if (!availability.available) {
    console.error(`bench: skipping the REST upcall latency: ${availability.reason}`);
    return [];
  }
  const gapMs = options.gapMs ?? 5;
  initEal({ memoryMb: 512 }); // kept by the service when already up (one EAL per process)
  const config = parseServiceArgs(["--listen", "127.0.0.1:0"]) as ServiceConfig;
  const service = await startService(config, { logger: createLogger({ write: () => {} }) });
  const shared = new SharedArrayBuffer(TIMES_OFFSET + 4 * 8);
  const words = new Int32Array(shared, 0, 16);
  const times = new Float64Array(shared, TIMES_OFFSET, 4);
  const client = new Worker(new URL("./upcall_poll_client.ts", import.meta.url), {
    type: "module",
  });
  try {
    const dp = service.registry.open("dp0");
    dp.setUpcallsEnabled(true);
    const start: PollClientStart = { base: `http://127.0.0.1:${service.port}`, shared };
    client.postMessage(start);
    if (options.realtime) setThreadRealtime(1);
    const frame = udp4Frame({ padTo: 60 });
    const samples = new Float64Array(misses);
    const queued = new Float64Array(misses);
    const rest = new Float64Array(misses);
    let answers = Atomics.load(words, 0);
    let elapsed = 0;
    for (let i = -WARMUP_MISSES; i < misses; i++) {
      await new Promise((resolve) => setTimeout(resolve, gapMs));
      let wokeAt = 0;
      const woke = dp.upcalls.waitReadable(ANSWER_TIMEOUT_MS).then(() => {
        wokeAt = performance.now();
      });
      const t0 = performance.now();
      dp.execute(frame, "1");
      while (Atomics.load(words, 0) === answers) {
        const wait = Atomics.waitAsync(words, 0, answers, ANSWER_TIMEOUT_MS);
        if (!wait.async || await wait.value === "timed-out") break;
      }
      await woke;
      if (Atomics.load(words, 0) === answers || times[1] !== 1) {
        throw new Error(`REST upcall bench: miss ${i} answered with ${times[1]} upcalls`);
      }
      answers = Atomics.load(words, 0);
      const t1 = times[0] - performance.timeOrigin;
      if (i >= 0) {
        samples[i] = t1 - t0;
        queued[i] = wokeAt - t0;
        rest[i] = t1 - wokeAt;
        elapsed += t1 - t0;
      }
    }
    const r = latencyRow("upcall miss->REST long poll (dpdk service)", samples, elapsed);
    const hop = (name: string, ms: Float64Array) => {
      const s = summarizeLatency(ms);
      return `${name} p50=${s.p50} p99=${s.p99}`;
    };
    r.note = `${r.note}; hops us ${hop("queued", queued)}, ${hop("rest", rest)}; ` +
      `packet-out into the service's PMD, a fetch long poll in a Worker, ${gapMs} ms apart` +
      (options.realtime ? ", main thread SCHED_FIFO" : "");
    return [r];
  } finally {
    if (options.realtime) setThreadNormal();
    Atomics.store(words, 1, 1);
    client.terminate();
    await service.stop(); // throws if an mbuf is still out of the pool
  }
}

if (import.meta.main) {
  const gap = Deno.args.find((a) => a.startsWith("--gap-ms="));
  const misses = Number(Deno.args.find((a) => !a.startsWith("--")) ?? 200);
  console.log(formatTable(
    await benchPmdUpcallRest(misses, {
      gapMs: gap === undefined ? undefined : Number(gap.slice("--gap-ms=".length)),
      realtime: Deno.args.includes("--rt"),
    }),
  ));
}
