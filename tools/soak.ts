/**
 * Soak: the datapath forwarding at full rate on real DPDK for minutes, with
 * every kind of packet fate at once, and proof afterwards that nothing
 * leaked. Run:
 *
 * ```sh
 * MALLOC_MMAP_THRESHOLD_=131072 deno run -A --v8-flags=--max-semi-space-size=4 \
 *   tools/soak.ts [--minutes 10] [--seconds N] [--sample-seconds 10] [--flap-seconds 20] \
 *   [--no-upcalls]
 * ```
 *
 * (the environment and V8 flag of `deno task start`; add `--expose-gc` to
 * the V8 flags to collect the main thread's garbage before each sample).
 * One JSON line per sample and a final `{"summary":...}` line; exit code 1
 * when a check failed.
 *
 * What made RSS grow here, found with this tool (samples split RSS into
 * anonymous and shared memory; /proc/PID/smaps showed which mappings grew):
 * - glibc's dynamic mmap threshold. Every PMD Worker allocates typed arrays
 *   of the table's maxFlows (1,000,000) slots, ~35 MiB in all, meant to be
 *   lazily touched mmaps. Once any mmapped block is freed, glibc raises its
 *   mmap threshold to that size (up to 32 MiB), so the next Worker's arrays
 *   come from its thread's malloc arena instead, where calloc zeroes, and
 *   so touches, every page (smaps: a 42 MiB arena per live PMD Worker):
 *   +35 to 45 MiB of RSS per PMD generation, and arena fragmentation as the
 *   port flaps restart the PMD every 20 s. `MALLOC_MMAP_THRESHOLD_` fixes
 *   the threshold (no dynamic raise). 10-minute runs here, with upcalls and
 *   the upcall change below: without it 192 -> 263 MiB, slope 2.2 MiB/min;
 *   with it 188 -> 212 MiB (max 215), slope 0.4 MiB/min.
 * - V8's young generation: each isolate's new space grows to 32 MiB by
 *   default (34.5 MiB measured in a Worker); `--max-semi-space-size=4`
 *   keeps it at 8 MiB. V8 flags apply to Worker isolates too (Deno's Web
 *   Workers take no per-Worker heap limits). The old space is not capped:
 *   these runs were flat without a cap, and a low one (64 MiB) risks an
 *   out-of-memory crash with a large flow table or under API load.
 * - Upcalls: each one was an object with two fresh ArrayBuffers in the
 *   PMD, cloned into two more by postMessage and copied into two more on
 *   the control thread; now they travel packed, one batch per report
 *   (datapath/upcall_queue.ts). Same settings, t = 60..300 s: 1.6 MiB/min
 *   before, 0.4 after.
 * - Report backlog. Since a PMD posts a report as soon as an upcall is
 *   queued (pmd_worker.ts, UPCALL_REPORT_MS), the soak makes ~15,000
 *   reports a second; when the control thread stalled (samples ~2 s late)
 *   they piled up in its message queue: a 10-minute run ended at 364 MiB,
 *   slope 5.4 MiB/min. A PMD now keeps at most REPORTS_IN_FLIGHT unfolded
 *   (pmd_protocol.ts); 5 minutes with it: slope 0.8 MiB/min, max 240 MiB.
 *
 * The rig (one process, one EAL, one MbufPool, one PMD Worker):
 * - port 1 `in`: `net_pcap` replaying forever (`infinite_rx=1`) 1,000
 *   64-byte UDP flows plus 100 VXLAN-encapsulated frames;
 * - port 2 `out`: `net_null` sink; port 3 `full`: one end of a net_ring
 *   pair whose other end is never read, so its tx ring is always full and
 *   sends are counted tx drops; port 4 `flap`: a `net_null` sink that is
 *   removed and re-added every `flapSeconds` while traffic runs (the PMD
 *   set is restarted around each change, as `PUT .../pmd` does: a port a
 *   PMD polls must not be closed under it); port 4789: a VXLAN vport.
 * - flows by flow index i (i % 10): 0-3 output 2; 4 drop; 5-6 VXLAN
 *   tnl_push then output 2; 7 output 3 (tx queue full); 8 output 4 (the
 *   flapping port: an invalid-port drop while it is away); 9 output 2 and 3,
 *   except i % 100 = 99, which has no flow: a miss, queued as an upcall
 *   (enabled) that the control thread drains every 5 ms. The VXLAN frames
 *   hit tnl_pop, recirculate, and their inner flow outputs to 2.
 *
 * Every `sampleSeconds` it records RSS (`Deno.memoryUsage().rss`), mbufs in
 * use, and the forwarding rate. At the end it stops the PMD, closes every
 * port and checks: every mbuf is back in the pool (in use = 0), and RSS is
 * flat: the least-squares slope of the RSS samples after the warm-up (the
 * first minute, or the first 20 % of a shorter run) is at most
 * `maxRssSlopeMiBPerMin` (default 1 MiB per minute, i.e. under 10 MiB over
 * a 10-minute run).
 *
 * @module
 */

import { DPDK_PMD_OPTIONS } from "../api/dpdk_backend.ts";
import { parseArgs } from "node:util";
import { Datapath } from "../datapath/datapath.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";
import { threadAffinity } from "../ffi/thread_affinity.ts";
import {
  exactFlows,
  udpFlowFrames,
  VXLAN_PUSH_ACTIONS,
  vxlanFrames,
  vxlanPopFlows,
} from "../bench/datapath_bench.ts";
import { writePcap } from "../tests/fixtures/pcap.ts";

/** Options of {@linkcode runSoak}. */
export interface SoakOptions {
  /** Total run time in seconds. Default 600. */
  seconds?: number;
  /** Seconds between samples. Default 10. */
  sampleSeconds?: number;
  /** Seconds between removing and re-adding the flapping port. Default 20. */
  flapSeconds?: number;
  /** Largest RSS slope after the warm-up that counts as flat, MiB per minute. Default 1. */
  maxRssSlopeMiBPerMin?: number;
  /** Whether misses are queued as upcalls (and drained); false counts them lost. Default true. */
  upcalls?: boolean;
  /** Called with each sample (default: prints it as a JSON line). */
  onSample?: (sample: SoakSample) => void;
  /** CPUs the process may use (read before any EAL init pins the main thread). */
  cpus?: number[];
}

/** One sample of a soak run. */
export interface SoakSample {
  t_s: number;
  rss_mib: number;
  /** RSS split (Linux /proc/self/status): anonymous memory (V8 heaps, malloc), MiB; -1 elsewhere. */
  rss_anon_mib: number;
  /** Shared memory in RSS (DPDK's memory segments without hugepages), MiB; -1 elsewhere. */
  rss_shmem_mib: number;
  /** V8 heap in use on the main thread (after a collection with --expose-gc). */
  heap_mib: number;
  mbufs_in_use: number;
  /** Packets received on port 1 per second since the previous sample, in millions. */
  rx_mpps: number;
  out_tx_packets: number;
  full_tx_dropped: number;
  upcalls_read: number;
  flaps: number;
  drops: Record<string, number>;
  /** The running PMD's packets, poll iterations and busy ratio (restarted at every flap). */
  pmd: { packets: number; iterations: number; busy_ratio: number };
}

/** What a soak run measured and whether its checks passed. */
export interface SoakResult {
  seconds: number;
  samples: number;
  rss_start_mib: number;
  rss_end_mib: number;
  rss_max_mib: number;
  /** Least-squares RSS slope after the warm-up, MiB per minute. */
  rss_slope_mib_per_min: number;
  rss_flat: boolean;
  mbufs_leaked: number;
  mean_rx_mpps: number;
  rx_packets: number;
  out_tx_packets: number;
  full_tx_dropped: number;
  upcalls_read: number;
  flaps: number;
  /** Packets counted by the flows that push VXLAN, and by the flow that pops it. */
  tunnel_push_packets: number;
  tunnel_pop_packets: number;
  drops: Record<string, number>;
  /** The MALLOC_MMAP_THRESHOLD_ the process ran with (see the module doc), or null. */
  malloc_mmap_threshold: string | null;
  ok: boolean;
}

const IN = 1;
const OUT = 2;
const FULL = 3;
const FLAP = 4;
const FLOWS = 1000;
const POP_FRAMES = 100;

/** Actions of flow i (see the module doc), or null for no flow (a miss). */
function soakActions(i: number): string | null {
  switch (i % 10) {
    case 4:
      return "drop";
    case 5:
    case 6:
      return VXLAN_PUSH_ACTIONS;
    case 7:
      return String(FULL);
    case 8:
      return String(FLAP);
    case 9:
      return i % 100 === 99 ? null : `${OUT},${FULL}`;
    default:
      return String(OUT);
  }
}

/**
 * Runs the soak; returns null (after printing why) when DPDK is absent.
 * Leaves the EAL up (tests share it); the pool is closed unless mbufs leaked.
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakResult | null> {
  const availability = dpdkAvailability();
  if (!availability.available) {
    console.log(`soak skipped: ${availability.reason}`);
    return null;
  }
  const seconds = options.seconds ?? 600;
  const sampleMs = (options.sampleSeconds ?? 10) * 1000;
  const flapMs = (options.flapSeconds ?? 20) * 1000;
  const maxSlope = options.maxRssSlopeMiBPerMin ?? 1;
  const onSample = options.onSample ?? ((s: SoakSample) => console.log(JSON.stringify(s)));
  const cpus = options.cpus ?? threadAffinity();
  const tag = `sk${Deno.pid % 100000}_${crypto.getRandomValues(new Uint32Array(1))[0] % 100000}`;
  const dir = Deno.makeTempDirSync({ prefix: "dpif_soak_" });
  const pcap = `${dir}/soak.pcap`;
  writePcap(pcap, [...udpFlowFrames(FLOWS), ...vxlanFrames(udpFlowFrames(POP_FRAMES))]);

  initEal({ cores: [cpus[0]] });
  registerDpdkPortType();
  const mainCpus = threadAffinity();
  const others = cpus.filter((c) => !mainCpus.includes(c));
  const pmdCpus = others.length > 0 ? others : cpus;
  const pool = MbufPool.create({ name: tag, capacity: 16383 });
  const wire = RingPair.create(`${tag}f`, `${tag}g`, 256);
  const peer = DpdkPort.open("full_peer", { devargs: wire.b }, pool);
  const dp = new Datapath(`soak_${tag}`, { pool });
  const flapSpec = {
    name: "flap",
    type: "dpdk",
    port_no: FLAP,
    options: { devargs: `net_null_${tag}x,no-rx=1` },
  };
  let pmds: PmdSet | undefined;
  // The service's PMD options (naps never start at full rate; upcalls go by mailbox).
  const startPmds = () => PmdSet.start(dp, { ...DPDK_PMD_OPTIONS, cpus: [pmdCpus] });
  let upcallsRead = 0;
  let flaps = 0;
  const drain = setInterval(() => {
    upcallsRead += dp.upcalls.read(4096).length;
  }, 5);
  const rssSamples: [number, number][] = [];
  const samples: SoakSample[] = [];
  let rxStart = 0;
  let rxEnd = 0;
  const tunnel = { push: 0, pop: 0 };
  try {
    dp.addPort({
      name: "in",
      type: "dpdk",
      port_no: IN,
      options: { devargs: `net_pcap_${tag}i,rx_pcap=${pcap},infinite_rx=1` },
    });
    dp.addPort({
      name: "out",
      type: "dpdk",
      port_no: OUT,
      options: { devargs: `net_null_${tag}o,no-rx=1` },
    });
    dp.addPort({ name: "full", type: "dpdk", port_no: FULL, options: { devargs: wire.a } });
    dp.addPort(flapSpec);
    dp.addPort({
      name: "vxlan_sys_4789",
      type: "vxlan",
      port_no: 4789,
      options: { remote_ip: "flow", key: "flow" },
    });
    exactFlows(FLOWS, "").forEach(([flow], i) => {
      const actions = soakActions(i);
      if (actions !== null) dp.putFlow({ flow, actions });
    });
    for (const [flow, actions] of vxlanPopFlows()) dp.putFlow({ flow, actions });
    dp.setUpcallsEnabled(options.upcalls ?? true);
    pmds = await startPmds();

    const inPort = () => (dp.ports.get(IN) as DpdkPort).deviceStats().ipackets;
    const t0 = performance.now();
    rxStart = inPort();
    let lastRx = rxStart;
    let lastT = t0;
    let nextSample = t0 + sampleMs;
    let nextFlap = t0 + flapMs;
    const end = t0 + seconds * 1000;
    const record = (now: number) => {
      const rx = inPort();
      rxEnd = rx;
      // With --v8-flags=--expose-gc, collect first so the sample shows live memory, not garbage.
      (globalThis as { gc?: () => void }).gc?.();
      const memory = Deno.memoryUsage();
      const rss = memory.rss / 2 ** 20;
      const t = (now - t0) / 1000;
      rssSamples.push([t, rss]);
      const sample: SoakSample = {
        t_s: round(t, 1),
        rss_mib: round(rss, 1),
        ...rssSplit(),
        heap_mib: round(memory.heapUsed / 2 ** 20, 1),
        mbufs_in_use: pool.inUse(),
        rx_mpps: round((rx - lastRx) / ((now - lastT) / 1000) / 1e6, 3),
        out_tx_packets: (dp.ports.get(OUT) as DpdkPort).deviceStats().opackets,
        full_tx_dropped: dp.portStats(FULL).tx_dropped,
        upcalls_read: upcallsRead,
        flaps,
        drops: nonZero(dp.stats().drops),
        pmd: pmdFigures(pmds),
      };
      lastRx = rx;
      lastT = now;
      samples.push(sample);
      onSample(sample);
    };
    record(t0);
    while (performance.now() < end) {
      await sleep(Math.max(1, Math.min(nextSample, nextFlap, end) - performance.now()));
      const now = performance.now();
      if (now >= nextFlap && now < end) {
        // Port removal under traffic: the PMD is restarted around it (it polls the port).
        await pmds.stop();
        if (dp.ports.get(FLAP) !== undefined) dp.removePort(FLAP);
        else dp.addPort(flapSpec);
        pmds = await startPmds();
        flaps++;
        nextFlap += flapMs;
      }
      if (now >= nextSample) {
        record(now);
        nextSample += sampleMs;
      }
    }
    record(performance.now());
    await pmds.stop(); // its last report folds the flows' final stats in
    for (let page = dp.dumpFlows(null, 1000);; page = dp.dumpFlows(page.next, 1000)) {
      for (const f of page.flows) {
        if (f.actions.startsWith("tnl_push")) tunnel.push += f.stats.packets;
        if (f.actions.startsWith("tnl_pop")) tunnel.pop += f.stats.packets;
      }
      if (page.next === null) break;
    }
  } finally {
    clearInterval(drain);
    await pmds?.stop();
    dp.close();
    peer.close();
    wire.destroy();
    upcallsRead += dp.upcalls.read(1 << 20).length;
    Deno.removeSync(dir, { recursive: true });
  }
  const leaked = pool.inUse();
  if (leaked === 0) pool.close();
  const warm = Math.min(60, seconds * 0.2);
  const slope = slopePerMinute(rssSamples.filter(([t]) => t >= warm));
  const rss = rssSamples.map(([, r]) => r);
  const last = samples[samples.length - 1];
  const result: SoakResult = {
    seconds,
    samples: samples.length,
    rss_start_mib: round(rss[0], 1),
    rss_end_mib: round(rss[rss.length - 1], 1),
    rss_max_mib: round(Math.max(...rss), 1),
    rss_slope_mib_per_min: round(slope, 3),
    rss_flat: slope <= maxSlope,
    mbufs_leaked: leaked,
    mean_rx_mpps: round(
      samples.slice(1).reduce((sum, s) => sum + s.rx_mpps, 0) / Math.max(1, samples.length - 1),
      3,
    ),
    rx_packets: rxEnd - rxStart,
    out_tx_packets: last.out_tx_packets,
    full_tx_dropped: last.full_tx_dropped,
    upcalls_read: upcallsRead,
    flaps,
    tunnel_push_packets: tunnel.push,
    tunnel_pop_packets: tunnel.pop,
    drops: last.drops,
    malloc_mmap_threshold: Deno.env.get("MALLOC_MMAP_THRESHOLD_") ?? null,
    ok: leaked === 0 && slope <= maxSlope,
  };
  return result;
}

/** Least-squares slope of (seconds, MiB) points, in MiB per minute (0 for fewer than 2). */
export function slopePerMinute(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

function pmdFigures(pmds: PmdSet | undefined): SoakSample["pmd"] {
  const s = pmds?.stats()[0];
  return {
    packets: s?.packets ?? 0,
    iterations: s?.iterations ?? 0,
    busy_ratio: round(s?.busy_ratio ?? 0, 3),
  };
}

/** RssAnon and RssShmem of /proc/self/status in MiB (-1 when unreadable). */
function rssSplit(): { rss_anon_mib: number; rss_shmem_mib: number } {
  let status = "";
  try {
    status = Deno.readTextFileSync("/proc/self/status");
  } catch { /* not Linux */ }
  const kib = (field: string) => {
    const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return m === null ? -1 : round(Number(m[1]) / 1024, 1);
  };
  return { rss_anon_mib: kib("RssAnon"), rss_shmem_mib: kib("RssShmem") };
}

function nonZero(counters: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counters).filter(([, n]) => n !== 0));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      minutes: { type: "string", default: "10" },
      seconds: { type: "string" },
      "sample-seconds": { type: "string", default: "10" },
      "flap-seconds": { type: "string", default: "20" },
      "no-upcalls": { type: "boolean", default: false },
    },
  });
  const seconds = values.seconds !== undefined
    ? Number(values.seconds)
    : Number(values.minutes) * 60;
  if (!(seconds > 0)) {
    console.error("soak: --minutes / --seconds must be a positive number");
    Deno.exit(2);
  }
  const result = await runSoak({
    seconds,
    sampleSeconds: Number(values["sample-seconds"]),
    flapSeconds: Number(values["flap-seconds"]),
    upcalls: !values["no-upcalls"],
  });
  if (result !== null) console.log(JSON.stringify({ summary: result }));
  Deno.exit(result === null || result.ok ? 0 : 1);
}
