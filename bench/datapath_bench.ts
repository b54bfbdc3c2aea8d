/**
 * Whole-pipeline benchmark on the memory backend: a {@linkcode Datapath}
 * with dummy ports (`capture_limit=0`, so transmit counts and frees without
 * copying), flows installed through `putFlow` in OVS datapath flow syntax,
 * and batches of 32 pre-built frames handed to `dp.pipeline.processBatch`,
 * the same call a polling thread makes after an rx burst. Flow stats, the
 * exact-match cache, the megaflow classifier and drop counters all run.
 *
 * Per batch the loop allocates 32 buffers, copies each frame in (what a
 * NIC's DMA does for a real port) and sets in_port; the figure includes that
 * copy. After each case the bench checks that nothing missed, nothing was
 * dropped, every packet reached the output port and the pool is whole again.
 *
 * Cases: 1 flow; 1,000 flows (EMC hits); 1,000 flows with the EMC off;
 * 10,000 flows over 10 masks (exact IPv4 source, UDP source port under one
 * of 10 masks, as /work/shared/peers/gen_masks.py); VXLAN tnl_push + output;
 * VXLAN tnl_pop + second lookup on the tunnel metadata + output;
 * set(ipv4(src,ttl)) + output.
 *
 * Run alone: `deno run --allow-all bench/datapath_bench.ts [--quick]`.
 *
 * @module
 */

import { C_EMC_HIT, C_HIT, C_MISSED, C_RX_PACKETS } from "../datapath/pipeline.ts";
import { Datapath } from "../datapath/datapath.ts";
import { META_WORDS, W_IN_PORT } from "../datapath/flow_key.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { BATCH_SIZE, META_SHIFT, PacketBatch } from "../datapath/packet_batch.ts";
import type { PacketPool } from "../datapath/packet_pool.ts";
import { udp4Frame } from "../tests/fixtures/packets.ts";
import { type BenchRow, formatTable, measureMops, round, row } from "./report.ts";

/** Input port number of every case. */
export const BENCH_IN_PORT = 1;
/** Output port number of every case. */
export const BENCH_OUT_PORT = 2;
/** Port number (and UDP port) of the VXLAN tunnel port. */
export const BENCH_VXLAN_PORT = 4789;
/** Outer addresses of the VXLAN cases: pushed from A to B, popped at B. */
const TUNNEL_LOCAL = "172.31.1.1";
const TUNNEL_REMOTE = "172.31.1.2";
const VNI = 0x7b;

/** UDP destination port of every frame of udpFlowFrames. */
const FLOW_DST_PORT = 5678;

/** What the datapath of a case needs: flows, frames, and EMC size. */
export interface DatapathCase {
  /** Row name. */
  name: string;
  /** Row note (what the case does). */
  note: string;
  /** Flows as `[match, actions]` in OVS datapath flow syntax. */
  flows: [string, string][];
  /** Frames fed in order, cycling. */
  frames: Uint8Array[];
  /** Exact-match cache entries (0 disables it). Default 8192. */
  emcEntries?: number;
}

/** The actions of the VXLAN push case (header as OVS's tnl_push prints it). */
export const VXLAN_PUSH_ACTIONS = `tnl_push(tnl_port(${BENCH_VXLAN_PORT}),header(size=50,type=4,` +
  `eth(dst=00:00:00:00:00:aa,src=00:00:00:00:00:bb,dl_type=0x0800),` +
  `ipv4(src=${TUNNEL_REMOTE},dst=${TUNNEL_LOCAL},proto=17,tos=0,ttl=64,frag=0x4000),` +
  `udp(src=0,dst=${BENCH_VXLAN_PORT},csum=0x0),vxlan(flags=0x8000000,vni=0x${VNI.toString(16)})),` +
  `out_port(${BENCH_OUT_PORT})),${BENCH_OUT_PORT}`;

/** The action of the set case: rewrite the IPv4 source and TTL, then output. */
export const SET_IPV4_ACTIONS =
  `set(ipv4(src=11.0.0.1/255.255.255.255,ttl=63/0xff)),${BENCH_OUT_PORT}`;

/** IPv4 source of flow `i` (10.x.y.z, as gen_masks.py). */
function flowSource(i: number): string {
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

/** UDP source port of flow `i` (as gen_masks.py). */
function flowSourcePort(i: number): number {
  return 1024 + (i * 7) % 60000;
}

/** `n` 64-byte UDP frames (60 B + FCS), one per flow: distinct IPv4 source and UDP source port. */
export function udpFlowFrames(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) =>
    udp4Frame({
      ethSrc: "00:00:00:00:00:01",
      ethDst: "00:00:00:00:00:02",
      ipSrc: flowSource(i),
      ipDst: "10.200.0.1",
      srcPort: flowSourcePort(i),
      dstPort: FLOW_DST_PORT,
      padTo: 60,
    }));
}

/** Flow `i` of udpFlowFrames: exact IPv4 source and UDP source port, with `actions`. */
export function exactFlowAt(i: number, actions: string): [string, string] {
  return [
    `in_port(${BENCH_IN_PORT}),eth(),eth_type(0x0800),ipv4(src=${flowSource(i)},proto=17,` +
    `frag=no),udp(src=${flowSourcePort(i)})`,
    actions,
  ];
}

/**
 * The OpenFlow rule (ovs-ofctl syntax, OpenFlow ports 1 and 2) from which
 * OVS's ofproto makes exactFlowAt(i)'s datapath flow with output to port 2.
 */
export function exactOpenFlowAt(i: number): string {
  return `udp,in_port=1,nw_src=${flowSource(i)},tp_src=${flowSourcePort(i)},actions=output:2`;
}

/** `n` flows matching udpFlowFrames(n) exactly on source address and port, with `actions`. */
export function exactFlows(n: number, actions: string): [string, string][] {
  return Array.from({ length: n }, (_, i) => exactFlowAt(i, actions));
}

/** UDP destination-port masks beyond gen_masks.py's (which leaves the destination wildcarded). */
const DST_PORT_MASKS = [0, 0xffff, 0xfff0, 0xff00];
/** Most distinct masks {@linkcode maskedFlowAt} spreads flows over. */
export const MAX_MASKS = 16 * DST_PORT_MASKS.length;

/**
 * Flow `i` of udpFlowFrames spread over `masks` masks: exact IPv4 source,
 * UDP source port under mask `i % masks`. Mask k has source-port mask
 * 0xffff with its low `k % 16` bits cleared and, for k >= 16, a destination
 * port mask too (0xffff, 0xfff0, 0xff00 for k / 16 = 1, 2, 3). Masks 0..9
 * are gen_masks.py's; with `masks` 1 the flows are exactFlowAt's.
 * @throws {RangeError} for masks outside 1..MAX_MASKS.
 */
export function maskedFlowAt(i: number, masks: number, actions: string): [string, string] {
  if (!(Number.isInteger(masks) && masks >= 1 && masks <= MAX_MASKS)) {
    throw new RangeError(`masks must be 1..${MAX_MASKS}, got ${masks}`);
  }
  const k = i % masks;
  const srcMask = 0xffff ^ ((1 << (k % 16)) - 1);
  const dstMask = DST_PORT_MASKS[k >> 4];
  const dst = dstMask === 0 ? "" : `,dst=${FLOW_DST_PORT & dstMask}/0x${dstMask.toString(16)}`;
  return [
    `in_port(${BENCH_IN_PORT}),eth(),eth_type(0x0800),ipv4(src=${flowSource(i)},proto=17,` +
    `frag=no),udp(src=${flowSourcePort(i) & srcMask}/0x${srcMask.toString(16)}${dst})`,
    actions,
  ];
}

/** `n` flows over 10 masks as gen_masks.py: exact source, UDP source port under mask i % 10. */
export function maskedFlows(n: number, actions: string): [string, string][] {
  return Array.from({ length: n }, (_, i) => maskedFlowAt(i, 10, actions));
}

/** The two flows of the pop case: pop on the outer header, then output on tunnel metadata. */
export function vxlanPopFlows(): [string, string][] {
  return [
    [
      `in_port(${BENCH_IN_PORT}),eth(),eth_type(0x0800),ipv4(dst=${TUNNEL_LOCAL},proto=17,` +
      `frag=no),udp(dst=${BENCH_VXLAN_PORT})`,
      `tnl_pop(${BENCH_VXLAN_PORT})`,
    ],
    [
      // ttl=64/0 and udp(): OVS's key parser wants a tunnel TTL and an L4 key after
      // proto=17 (EINVAL otherwise); both mask nothing, so the flow is the same.
      `tunnel(tun_id=0x${VNI.toString(16)},src=${TUNNEL_REMOTE},dst=${TUNNEL_LOCAL},ttl=64/0,` +
      `flags(+key)),in_port(${BENCH_VXLAN_PORT}),eth(),eth_type(0x0800),ipv4(proto=17,frag=no),` +
      `udp()`,
      String(BENCH_OUT_PORT),
    ],
  ];
}

/**
 * Builds a datapath for a case over `pool`: ports 1 and 2 (or the given
 * ones), a VXLAN port 4789, and the case's flows. The caller owns it (close).
 * @throws whatever putFlow / addPort throw for a bad case.
 */
export function buildDatapath(
  c: DatapathCase,
  pool: PacketPool,
  captureLimit = 0,
): Datapath {
  const dp = new Datapath("bench", { pool, emcEntries: c.emcEntries, maxFlows: 65536 });
  const sink = { capture_limit: String(captureLimit) };
  dp.addPort({ name: "p1", type: "dummy", port_no: BENCH_IN_PORT, options: sink });
  dp.addPort({ name: "p2", type: "dummy", port_no: BENCH_OUT_PORT, options: sink });
  dp.addPort({
    name: "vxlan_sys_4789",
    type: "vxlan",
    port_no: BENCH_VXLAN_PORT,
    options: { remote_ip: "flow", key: "flow" },
  });
  for (const [flow, actions] of c.flows) dp.putFlow({ flow, actions });
  return dp;
}

/**
 * Feeds `batches` full batches of `frames` (starting at index `next`,
 * cycling) into `dp.pipeline.processBatch`, in_port 1; returns the next
 * frame index. `batch` must be empty and over `dp.pool`; `handles` holds 32.
 * @throws {Error} when the pool cannot supply a batch (a leak).
 */
export function feedBatches(
  dp: Datapath,
  batch: PacketBatch,
  handles: Int32Array,
  frames: Uint8Array[],
  next: number,
  batches: number,
): number {
  const pool = dp.pool;
  const bytes = pool.bytes;
  const headroom = pool.headroom;
  const meta = batch.meta;
  const pipeline = dp.pipeline;
  const frameCount = frames.length;
  let f = next;
  for (let b = 0; b < batches; b++) {
    if (pool.allocBulk(handles, 0, BATCH_SIZE) !== BATCH_SIZE) {
      throw new Error("datapath bench: the pool ran dry (a packet leaked)");
    }
    for (let i = 0; i < BATCH_SIZE; i++) {
      const frame = frames[f];
      const handle = handles[i];
      const at = pool.bufferStart(handle) + headroom;
      bytes.set(frame, at);
      // batch.push inlined as DpdkPort.receive does (fill() per packet costs more).
      batch.handle[i] = handle;
      batch.offset[i] = at;
      batch.length[i] = frame.length;
      batch.l3[i] = -1;
      batch.l4[i] = -1;
      const m = i << META_SHIFT;
      for (let w = 0; w < META_WORDS; w++) meta[m + w] = 0;
      meta[m + W_IN_PORT] = BENCH_IN_PORT;
      if (++f === frameCount) f = 0;
    }
    batch.count = BATCH_SIZE;
    pipeline.processBatch(batch);
  }
  return f;
}

/** Nominal CPU clock in MHz from /proc/cpuinfo, or null. */
export function cpuMhz(): number | null {
  try {
    const m = /cpu MHz\s*:\s*([0-9.]+)/.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Checks a finished case: no miss, no drop, every received packet out on
 * port 2 (`expectedOut` per received packet), the pool whole. Returns the
 * EMC hit rate. Throws an Error describing the first problem.
 */
export function verifyCase(dp: Datapath, name: string, poolStart: number): number {
  const stats = dp.stats();
  const counters = dp.pipeline.counters;
  const problems: string[] = [];
  if (counters[C_MISSED] !== 0) problems.push(`${counters[C_MISSED]} misses`);
  for (const [reason, count] of Object.entries(stats.drops)) {
    if (count !== 0) problems.push(`${count} ${reason} drops`);
  }
  const out = dp.portStats(BENCH_OUT_PORT).tx_packets;
  if (out !== counters[C_RX_PACKETS]) {
    problems.push(`${counters[C_RX_PACKETS]} received but ${out} transmitted`);
  }
  if (dp.pool.available() !== poolStart) {
    problems.push(`pool has ${dp.pool.available()} free buffers, started with ${poolStart}`);
  }
  if (problems.length > 0) throw new Error(`datapath bench ${name}: ${problems.join(", ")}`);
  return counters[C_HIT] === 0 ? 0 : counters[C_EMC_HIT] / counters[C_HIT];
}

/** Measures one case on a fresh MemoryPool datapath; returns its row. */
export function measureDatapathCase(c: DatapathCase, minMillis: number): BenchRow {
  const pool = new MemoryPool({ capacity: 1024 });
  const dp = buildDatapath(c, pool);
  const poolStart = pool.available();
  const batch = new PacketBatch(pool);
  const handles = new Int32Array(BATCH_SIZE);
  let next = 0;
  try {
    const mpps = measureMops((iterations) => {
      next = feedBatches(dp, batch, handles, c.frames, next, Math.ceil(iterations / BATCH_SIZE));
    }, minMillis);
    const emcRate = verifyCase(dp, c.name, poolStart);
    return withCycles(
      row(c.name, mpps, `${c.note}; ${(emcRate * 100).toFixed(0)}% EMC hits`),
      mpps,
    );
  } finally {
    dp.close();
  }
}

/** Fills cycles_per_packet from the nominal clock (when known) and the rate. */
export function withCycles(r: BenchRow, mpps: number): BenchRow {
  const mhz = cpuMhz();
  if (mhz !== null && mpps > 0) r.cycles_per_packet = round(mhz / mpps);
  return r;
}

/** Pushes frames through the push case once and returns the encapsulated outputs. */
export function vxlanFrames(inner: Uint8Array[]): Uint8Array[] {
  const pool = new MemoryPool({ capacity: inner.length + 64 });
  const pushCase: DatapathCase = {
    name: "encapsulate",
    note: "",
    flows: exactFlows(inner.length, VXLAN_PUSH_ACTIONS),
    frames: inner,
  };
  const dp = buildDatapath(pushCase, pool, inner.length);
  try {
    for (const frame of inner) dp.receive(BENCH_IN_PORT, frame);
    const out = dp.dummyPort(BENCH_OUT_PORT).transmitted();
    if (out.length !== inner.length) throw new Error("datapath bench: VXLAN push lost frames");
    return out;
  } finally {
    dp.close();
  }
}

/** The cases, with their frames built once. */
export function datapathCases(): DatapathCase[] {
  const out = String(BENCH_OUT_PORT);
  const frames1k = udpFlowFrames(1000);
  return [
    {
      name: "datapath 1 flow",
      note: "64 B UDP, output",
      flows: exactFlows(1, out),
      frames: udpFlowFrames(1),
    },
    {
      name: "datapath 1k flows",
      note: "exact match, output",
      flows: exactFlows(1000, out),
      frames: frames1k,
    },
    {
      name: "datapath 1k flows, EMC off",
      note: "megaflow only, output",
      flows: exactFlows(1000, out),
      frames: frames1k,
      emcEntries: 0,
    },
    {
      name: "datapath 10k flows/10 masks",
      note: "gen_masks.py scheme, output",
      flows: maskedFlows(10000, out),
      frames: udpFlowFrames(10000),
    },
    {
      name: "datapath vxlan push",
      note: "1k flows, tnl_push+output",
      flows: exactFlows(1000, VXLAN_PUSH_ACTIONS),
      frames: frames1k,
    },
    {
      name: "datapath vxlan pop",
      note: "1k inner flows, tnl_pop+lookup+output",
      flows: vxlanPopFlows(),
      frames: vxlanFrames(frames1k),
    },
    {
      name: "datapath set(ipv4)",
      note: "1k flows, set src+ttl, output",
      flows: exactFlows(1000, SET_IPV4_ACTIONS),
      frames: frames1k,
    },
  ];
}

/** Runs every datapath case; `minMillis` per case (default 1,000). */
export function benchDatapath(minMillis = 1000): BenchRow[] {
  return datapathCases().map((c) => measureDatapathCase(c, minMillis));
}

if (import.meta.main) {
  console.log(formatTable(benchDatapath(Deno.args.includes("--quick") ? 200 : 1000)));
}
