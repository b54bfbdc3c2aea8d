/**
 * Flow churn on real DPDK: flow puts and deletes at a target rate (default
 * 100,000 operations per second) through batched {@linkcode Datapath.operate},
 * while a PMD Worker forwards a full-rate replay and the control thread dumps
 * the table page by page, with two checks: every dumped entry parses, and no
 * packet is forwarded by a flow that was deleted before it arrived.
 * Run: `deno run -A tools/flow_churn.ts [--seconds 60] [--rate 100000]
 * [--batch 1000]`; prints one JSON line with the figures, exit 1 on a failure.
 * Besides the wall-clock rate it reports the control thread's CPU seconds
 * and operations per CPU second: with the PMD on its own core the control
 * thread bounds the rate, and on a shared machine its CPU time says more
 * about the code than the wall clock does.
 *
 * The wrong-forwarding check. Port 1 replays 1,024 UDP flows (flow i has
 * IPv4 source 10.0.i/256.i%256). Every put of flow i gets a fresh sequence
 * number s and the actions `set(eth(src=02:00:00:00:ii:ii,dst=02:00:ss:ss:ss:ss)),2`:
 * a forwarded packet names the flow and the very put it followed. Port 2 is
 * one end of a net_ring pair; the control thread reads the other end. Flows
 * are churned as a sliding window (half of them live): each batch deletes
 * the oldest live ones and puts the next ones, so freed slots are reused by
 * other keys at once (stale exact-match cache entries would show). After
 * each operate, {@linkcode PmdSet.flowsApplied} waits for every PMD to apply
 * the batch (Datapath.operate itself returns before the PMDs have seen it),
 * then the capture ring is drained: packets a PMD forwarded before the
 * acknowledgement are all on the ring by then. From then on, a captured
 * packet carrying a deleted put's sequence number is a violation, and so is
 * any packet whose mark names a different flow than its own header.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Datapath, type Operation } from "../datapath/datapath.ts";
import { parseActions } from "../datapath/odp/action_parse.ts";
import { parseFlowKey } from "../datapath/odp/key_parse.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";
import { threadAffinity } from "../ffi/thread_affinity.ts";
import { udp4Frame } from "../tests/fixtures/packets.ts";
import { writePcap } from "../tests/fixtures/pcap.ts";

/** Options of {@linkcode runFlowChurn}. */
export interface FlowChurnOptions {
  /** Seconds to churn. Default 10. */
  seconds?: number;
  /** Target puts + deletes per second. Default 100,000. */
  rate?: number;
  /** Operations per operate call (half deletes, half puts). Default 1000. */
  batch?: number;
  /** CPUs the process may use (read before any EAL init pins the main thread). */
  cpus?: number[];
  /**
   * The negative control, to show the check can fail: each batch's deleted
   * flows count as deleted from before the operate call instead of from the
   * PMD's acknowledgement, as if the delete had returned before the PMD
   * applied it. Packets the PMD forwards meanwhile must then be caught.
   * Default false.
   */
  claimEarly?: boolean;
}

/** What a churn run measured. */
export interface FlowChurnResult {
  seconds: number;
  puts: number;
  deletes: number;
  failed_ops: number;
  /** Puts + deletes per second achieved (acknowledged by the PMD included). */
  ops_per_s: number;
  /** Mean time of one operate call on the control thread, ms. */
  operate_ms_mean: number;
  /** Mean wait for the PMD to acknowledge a batch, ms. */
  ack_ms_mean: number;
  /**
   * CPU seconds the control (main) thread used over the churn (Linux
   * /proc; NaN elsewhere): with the PMD on another core this is what
   * bounds the rate, and unlike ops_per_s it does not depend on how loaded
   * a shared machine is.
   */
  main_cpu_s: number;
  /** Puts + deletes per CPU second of the control thread. */
  ops_per_main_cpu_s: number;
  dump_pages: number;
  dumped_flows: number;
  malformed: number;
  forwarded_packets: number;
  captured: number;
  violations: number;
  first_violation: string | null;
  mbufs_leaked: number;
}

/** Flows in the replay (and the table's index space). */
export const CHURN_FLOWS = 1024;
const IN = 1;
const CAPTURE = 2;

/** The frame of flow i: IPv4 source 10.0.(i >> 8).(i & 255), UDP 1000 + i -> 9. */
export function churnFrame(i: number): Uint8Array {
  return udp4Frame({
    ethSrc: "00:00:00:00:00:01",
    ethDst: "00:00:00:00:00:02",
    ipSrc: `10.0.${i >> 8}.${i & 255}`,
    ipDst: "10.200.0.1",
    srcPort: 1000 + i,
    dstPort: 9,
    padTo: 60,
  });
}

/** The match of flow i (exact on what distinguishes its frame). */
export function churnMatch(i: number): string {
  return `in_port(${IN}),eth(),eth_type(0x0800),ipv4(src=10.0.${i >> 8}.${i & 255},proto=17,` +
    `frag=no),udp(src=${1000 + i})`;
}

/** The actions of put `seq` of flow i: mark the frame with both, output to the capture. */
export function churnActions(i: number, seq: number, out = CAPTURE): string {
  const h = (n: number) => n.toString(16).padStart(2, "0");
  const src = `02:00:00:00:${h(i >> 8)}:${h(i & 255)}`;
  const dst = `02:00:${h((seq >>> 24) & 255)}:${h((seq >>> 16) & 255)}:${h((seq >>> 8) & 255)}:` +
    h(seq & 255);
  return `set(eth(src=${src},dst=${dst})),${out}`;
}

/**
 * Checks one dumped flow: its match and actions parse back. Returns null when
 * well-formed, else what is wrong.
 */
export function malformedFlow(flow: { ufid?: unknown; flow?: unknown; actions?: unknown }) {
  if (typeof flow.ufid !== "string" || flow.ufid === "") return "no ufid";
  try {
    parseFlowKey(String(flow.flow));
    parseActions(String(flow.actions));
  } catch (error) {
    return `${flow.ufid}: ${(error as Error).message}`;
  }
  return null;
}

/**
 * Runs the churn; returns null (after printing why) when DPDK is absent.
 * Leaves the EAL up; closes the pool unless mbufs leaked.
 */
export async function runFlowChurn(
  options: FlowChurnOptions = {},
): Promise<FlowChurnResult | null> {
  const availability = dpdkAvailability();
  if (!availability.available) {
    console.log(`flow churn skipped: ${availability.reason}`);
    return null;
  }
  const seconds = options.seconds ?? 10;
  const rate = options.rate ?? 100_000;
  const half = Math.max(1, Math.floor((options.batch ?? 1000) / 2));
  const cpus = options.cpus ?? threadAffinity();
  const tag = `ch${Deno.pid % 100000}_${crypto.getRandomValues(new Uint32Array(1))[0] % 100000}`;
  const dir = Deno.makeTempDirSync({ prefix: "dpif_churn_" });
  const pcap = `${dir}/churn.pcap`;
  writePcap(pcap, Array.from({ length: CHURN_FLOWS }, (_, i) => churnFrame(i)));

  initEal({ cores: [cpus[0]] });
  registerDpdkPortType();
  const mainCpus = threadAffinity();
  const others = cpus.filter((c) => !mainCpus.includes(c));
  const pool = MbufPool.create({ name: tag, capacity: 16383 });
  const wire = RingPair.create(`${tag}a`, `${tag}b`, 8192);
  const capture = DpdkPort.open("capture", { devargs: wire.b }, pool);
  const dp = new Datapath(`churn_${tag}`, { pool });
  const batch = new PacketBatch(pool);
  const bytes = pool.bytes;
  // Per flow index: sequence number of its live put (-1 none), and the highest deleted one
  // whose deletion the PMD acknowledged and whose earlier packets were drained.
  const liveSeq = new Int32Array(CHURN_FLOWS).fill(-1);
  const ufidOf: string[] = new Array(CHURN_FLOWS).fill("");
  const deadUpTo = new Int32Array(CHURN_FLOWS).fill(-1);
  let seq = 0;
  const r: FlowChurnResult = {
    seconds,
    puts: 0,
    deletes: 0,
    failed_ops: 0,
    ops_per_s: 0,
    operate_ms_mean: 0,
    ack_ms_mean: 0,
    main_cpu_s: 0,
    ops_per_main_cpu_s: 0,
    dump_pages: 0,
    dumped_flows: 0,
    malformed: 0,
    forwarded_packets: 0,
    captured: 0,
    violations: 0,
    first_violation: null,
    mbufs_leaked: 0,
  };
  const violation = (what: string) => {
    r.violations++;
    r.first_violation ??= what;
  };
  /** Reads everything on the capture ring and checks each packet's mark. */
  const drainCapture = () => {
    for (;;) {
      batch.count = 0;
      const n = capture.receive(0, batch);
      for (let k = 0; k < n; k++) {
        const o = batch.offset[k];
        const own = (bytes[o + 28] << 8) | bytes[o + 29];
        const marked = (bytes[o + 10] << 8) | bytes[o + 11];
        const s =
          ((bytes[o + 2] << 24) | (bytes[o + 3] << 16) | (bytes[o + 4] << 8) | bytes[o + 5]) >>> 0;
        if (marked !== own) {
          violation(`packet of flow ${own} forwarded by flow ${marked} (put ${s})`);
        } else if (s <= deadUpTo[own]) violation(`packet of flow ${own} followed deleted put ${s}`);
      }
      r.captured += n;
      batch.freeAll();
      if (n === 0) return;
    }
  };
  const put = (i: number): Operation => {
    const s = seq++;
    liveSeq[i] = s;
    return { op: "put", flow: churnMatch(i), actions: churnActions(i, s) };
  };

  let pmds: PmdSet | undefined;
  try {
    dp.addPort({
      name: "in",
      type: "dpdk",
      port_no: IN,
      options: { devargs: `net_pcap_${tag}i,rx_pcap=${pcap},infinite_rx=1` },
    });
    dp.addPort({ name: "cap", type: "dpdk", port_no: CAPTURE, options: { devargs: wire.a } });
    // The live window: indices head .. head + CHURN_FLOWS / 2 - 1 (mod CHURN_FLOWS).
    let head = 0;
    const initial: Operation[] = [];
    for (let i = 0; i < CHURN_FLOWS / 2; i++) initial.push(put(i));
    for (const [k, result] of dp.operate(initial).entries()) {
      if (!result.ok) throw new Error(`initial put ${k}: ${result.error.message}`);
      ufidOf[k] = (result.result as { ufid: string }).ufid;
    }
    pmds = await PmdSet.start(dp, { cpus: [others.length > 0 ? others : cpus] });
    let cursor: string | null = null;
    let ackMs = 0;
    let operateMs = 0;
    let batches = 0;
    const t0 = performance.now();
    const cpu0 = mainThreadCpuSeconds();
    const end = t0 + seconds * 1000;
    while (performance.now() < end) {
      // One batch: delete the `half` oldest live flows, put the `half` next ones.
      const ops: Operation[] = [];
      const deleted: number[] = [];
      const added: number[] = [];
      for (let k = 0; k < half; k++) {
        const i = (head + k) % CHURN_FLOWS;
        ops.push({ op: "del", ufid: ufidOf[i] });
        deleted.push(i);
      }
      for (let k = 0; k < half; k++) {
        const i = (head + CHURN_FLOWS / 2 + k) % CHURN_FLOWS;
        ops.push(put(i));
        added.push(i);
      }
      const deletedSeq = deleted.map((i) => liveSeq[i]);
      for (const i of deleted) liveSeq[i] = -1;
      head = (head + half) % CHURN_FLOWS;
      const o0 = performance.now();
      // Drain first: what the PMD forwards during operate is then captured, not dropped.
      drainCapture();
      if (options.claimEarly) deleted.forEach((i, k) => (deadUpTo[i] = deletedSeq[k]));
      const results = dp.operate(ops);
      operateMs += performance.now() - o0;
      results.forEach((result, k) => {
        if (!result.ok) {
          r.failed_ops++;
          return;
        }
        if (k < half) r.deletes++;
        else {
          r.puts++;
          ufidOf[added[k - half]] = (result.result as { ufid: string }).ufid;
        }
      });
      const a0 = performance.now();
      await pmds.flowsApplied();
      ackMs += performance.now() - a0;
      batches++;
      drainCapture();
      deleted.forEach((i, k) => (deadUpTo[i] = deletedSeq[k]));
      // A page of a concurrent dump, each entry parsed back.
      const page = dp.dumpFlows(cursor, 1000);
      r.dump_pages++;
      for (const f of page.flows) {
        r.dumped_flows++;
        const bad = malformedFlow(f);
        if (bad !== null) {
          r.malformed++;
          r.first_violation ??= `malformed dump entry ${bad}`;
        }
      }
      cursor = page.next;
      // Pace to the target rate; run flat out when behind.
      const due = t0 + ((r.puts + r.deletes) / rate) * 1000;
      const now = performance.now();
      if (due > now) await new Promise((res) => setTimeout(res, due - now));
      else if (batches % 8 === 0) await new Promise((res) => setTimeout(res, 0));
    }
    const elapsed = (performance.now() - t0) / 1000;
    r.main_cpu_s = Math.round((mainThreadCpuSeconds() - cpu0) * 100) / 100;
    r.ops_per_main_cpu_s = Math.round((r.puts + r.deletes) / r.main_cpu_s);
    r.ops_per_s = Math.round((r.puts + r.deletes) / elapsed);
    r.ack_ms_mean = Math.round((ackMs / Math.max(1, batches)) * 1000) / 1000;
    r.operate_ms_mean = Math.round((operateMs / Math.max(1, batches)) * 1000) / 1000;
    r.forwarded_packets = pmds.stats().reduce((sum, s) => sum + s.packets, 0);
    await pmds.stop();
    drainCapture();
  } finally {
    await pmds?.stop();
    dp.close();
    capture.close();
    wire.destroy();
    Deno.removeSync(dir, { recursive: true });
  }
  r.mbufs_leaked = pool.inUse();
  if (r.mbufs_leaked === 0) pool.close();
  return r;
}

/** CPU seconds (user + system) of this process's main thread so far; NaN without Linux /proc. */
export function mainThreadCpuSeconds(): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/self/task/${Deno.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime (fields 14 and 15 of stat(5)) in clock ticks of 1/100 s (USER_HZ).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "60" },
      rate: { type: "string", default: "100000" },
      batch: { type: "string", default: "1000" },
    },
  });
  const result = await runFlowChurn({
    seconds: Number(values.seconds),
    rate: Number(values.rate),
    batch: Number(values.batch),
  });
  if (result !== null) console.log(JSON.stringify(result));
  const ok = result === null ||
    (result.violations === 0 && result.malformed === 0 && result.mbufs_leaked === 0 &&
      result.failed_ops === 0);
  Deno.exit(ok ? 0 : 1);
}
