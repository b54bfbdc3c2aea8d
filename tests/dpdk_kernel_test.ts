/**
 * DPDK ports on Linux interfaces, against the kernel: frames the kernel
 * sends arrive at the DPDK port, and frames the port transmits reach the
 * kernel, compared byte for byte (a python3 AF_PACKET socket is the kernel
 * side, tests/fixtures/raw_frames.py).
 *
 * - `net_af_packet` on one end of a veth pair whose other end is in a
 *   namespace of the test's own.
 * - `net_tap`: the tap interface DPDK creates, moved into a namespace.
 *
 * Every mbuf is back in the pool afterwards. Skipped (with the reason)
 * when DPDK, root, iproute2 or python3 is missing.
 */
import assert from "node:assert/strict";
import { Datapath } from "../datapath/datapath.ts";
import { BATCH_SIZE, PacketBatch } from "../datapath/packet_batch.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { ETH_RSS } from "../ffi/offsets.ts";
import {
  captureOnKernel,
  isTestFrame,
  kernelTestFrame,
  rawFramesUnavailable,
  sendFromKernel,
} from "./fixtures/kernel_frames.ts";
import { mustRun, NetnsLab, netnsUnavailable } from "./fixtures/netns.ts";
import { udp4Frame } from "./fixtures/packets.ts";

const availability = dpdkAvailability();
const reason = !availability.available
  ? availability.reason
  : (netnsUnavailable() ?? rawFramesUnavailable());
const ignore = reason !== null;
if (ignore) console.log(`DPDK kernel-interface tests skipped: ${reason}`);

const SIZES = [14, 60, 64, 100, 512, 1000, 1514];
const tick = () => new Promise((resolve) => setTimeout(resolve, 2));

let sharedPool: MbufPool | undefined;
function pool(): MbufPool {
  initEal({ memoryMb: 512 });
  const suffix = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  sharedPool ??= MbufPool.create({ name: `kt${Deno.pid}_${suffix}`, capacity: 2047 });
  return sharedPool;
}

/** Frames seq first..first+count-1, sizes cycling through SIZES. */
function frames(first: number, count: number, src: number): Uint8Array[] {
  return Array.from(
    { length: count },
    (_, k) => kernelTestFrame(first + k, SIZES[(first + k) % SIZES.length], src),
  );
}

/**
 * Polls every rx queue of `port` until `want` wanted frames (by default
 * test frames) came or `ms` passed; returns copies of them and how many
 * came on each queue (other frames the kernel emits are freed and counted
 * in `other`).
 */
async function receiveTestFrames(
  port: DpdkPort,
  want: number,
  wanted: (bytes: Uint8Array, offset: number, length: number) => boolean = isTestFrame,
  ms = 3000,
): Promise<{ frames: Uint8Array[]; other: number; perQueue: number[] }> {
  const out: Uint8Array[] = [];
  const perQueue = new Array(port.rxQueues).fill(0);
  let other = 0;
  const batch = new PacketBatch(port.pool);
  const deadline = performance.now() + ms;
  while (out.length < want && performance.now() < deadline) {
    let got = 0;
    for (let q = 0; q < port.rxQueues; q++) {
      got += port.receive(q, batch);
      for (let i = 0; i < batch.count; i++) {
        const bytes = batch.pool.bytes;
        if (wanted(bytes, batch.offset[i], batch.length[i])) {
          out.push(bytes.slice(batch.offset[i], batch.offset[i] + batch.length[i]));
          perQueue[q]++;
        } else {
          other++;
        }
      }
      batch.freeAll();
    }
    if (got === 0) await tick();
  }
  return { frames: out, other, perQueue };
}

/** Sends frames out of `port` on tx queue 0, in batches. */
function transmit(port: DpdkPort, list: Uint8Array[]): void {
  for (let k = 0; k < list.length; k += BATCH_SIZE) {
    const batch = new PacketBatch(port.pool);
    for (const frame of list.slice(k, k + BATCH_SIZE)) assert.ok(batch.pushCopy(frame) >= 0);
    port.transmit(0, batch);
  }
}

/** Both directions between `port` and the kernel interface `iface` in `netns`. */
async function roundTrip(port: DpdkPort, netns: string, iface: string): Promise<void> {
  // Kernel -> DPDK.
  const inbound = frames(0, 40, 1);
  sendFromKernel(netns, iface, inbound);
  const received = await receiveTestFrames(port, inbound.length);
  assert.deepEqual(received.frames, inbound, "kernel -> dpdk, byte for byte");

  // DPDK -> kernel (a capture bound before anything is sent).
  const outbound = frames(100, 40, 2);
  const capture = await captureOnKernel(netns, iface, outbound.length);
  transmit(port, outbound);
  assert.deepEqual(await capture.frames(), outbound, "dpdk -> kernel, byte for byte");

  const stats = port.stats();
  assert.equal(stats.tx_packets, outbound.length);
  assert.equal(stats.tx_bytes, outbound.reduce((s, f) => s + f.length, 0));
  assert.equal(stats.tx_dropped, 0);
  assert.equal(stats.rx_packets, inbound.length + received.other);
  assert.ok(stats.device!.ipackets >= inbound.length, "device counted what it received");
  assert.equal(stats.device!.opackets, outbound.length);
}

Deno.test({
  name: "net_af_packet on a veth: frames both ways between the kernel and DPDK, byte for byte",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const p = pool();
    const start = p.available();
    const lab = new NetnsLab();
    let port: DpdkPort | undefined;
    try {
      const ns = lab.addNamespace("k");
      lab.addVeth({ name: "a" }, { name: "b", netns: ns });
      port = DpdkPort.open("afp", {
        devargs: `net_af_packet_${lab.prefix},iface=${lab.link("a")}`,
      }, p);
      await roundTrip(port, ns, lab.link("b"));
    } finally {
      port?.close();
      lab.cleanup();
    }
    assert.equal(p.available(), start, "every mbuf back in the pool");
  },
});

Deno.test({
  name: "net_tap moved into a namespace: frames both ways between the kernel and DPDK",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const p = pool();
    const start = p.available();
    const lab = new NetnsLab();
    let port: DpdkPort | undefined;
    try {
      const ns = lab.addNamespace("t");
      const tap = `${lab.prefix}tap`;
      port = DpdkPort.open("tap", { devargs: `net_tap_${lab.prefix},iface=${tap}` }, p);
      mustRun("ip", ["link", "set", tap, "netns", ns]);
      mustRun("ip", ["-n", ns, "link", "set", tap, "up"]);
      await roundTrip(port, ns, tap);
    } finally {
      port?.close();
      lab.cleanup();
    }
    assert.equal(p.available(), start, "every mbuf back in the pool");
  },
});

/** UDP/IPv4 frames of `count` flows (source ports 1000..), 10.1.0.1 -> 10.1.0.2. */
function udpFlows(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, k) =>
    udp4Frame({
      ethDst: "02:00:00:00:00:02",
      ethSrc: "02:00:00:00:00:01",
      ipSrc: "10.1.0.1",
      ipDst: "10.1.0.2",
      srcPort: 1000 + k,
      dstPort: 53,
      payload: new Uint8Array(18 + (k % 7)),
    }));
}

function isIpv4Udp(bytes: Uint8Array, offset: number, length: number): boolean {
  return length >= 34 && bytes[offset + 12] === 0x08 && bytes[offset + 13] === 0 &&
    bytes[offset + 23] === 17;
}

Deno.test({
  name: "net_af_packet qpairs=2: the kernel fanout spreads flows over both rx queues",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const p = pool();
    const start = p.available();
    const lab = new NetnsLab();
    let port: DpdkPort | undefined;
    try {
      const ns = lab.addNamespace("q");
      lab.addVeth({ name: "a" }, { name: "b", netns: ns });
      port = DpdkPort.open("afq", {
        devargs: `net_af_packet_${lab.prefix}q,iface=${lab.link("a")},qpairs=2`,
        n_rxq: "2",
        n_txq: "2",
      }, p);
      assert.equal(port.rssHashFunctions, 0, "af_packet hashes nothing itself: the fanout does");
      const flows = udpFlows(64);
      sendFromKernel(ns, lab.link("b"), flows);
      const got = await receiveTestFrames(port, flows.length, isIpv4Udp);
      assert.equal(got.frames.length, flows.length);
      console.log(`64 UDP flows over af_packet qpairs=2: per rx queue ${got.perQueue}`);
      assert.ok(got.perQueue.every((n) => n > 0), `flows on both queues: ${got.perQueue}`);
      const key = (f: Uint8Array) => Array.from(f).join(",");
      assert.deepEqual(got.frames.map(key).sort(), flows.map(key).sort(), "byte for byte");
    } finally {
      port?.close();
      lab.cleanup();
    }
    assert.equal(p.available(), start, "every mbuf back in the pool");
  },
});

Deno.test({
  name: "net_tap with 2 rx queues: RSS configured, flows land on both queues, both PMDs poll",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const p = pool();
    const start = p.available();
    registerDpdkPortType();
    const lab = new NetnsLab();
    const dp = new Datapath("rss0", { pool: p });
    let pmds: PmdSet | undefined;
    try {
      const ns = lab.addNamespace("r");
      const tap = `${lab.prefix}rss`;
      dp.addPort({
        name: "tap",
        type: "dpdk",
        port_no: 1,
        options: {
          devargs: `net_tap_${lab.prefix}r,iface=${tap}`,
          n_rxq: "2",
          n_txq: "2",
          n_rxq_desc: "256", // net_tap fills every rx descriptor with an mbuf up front
        },
      });
      const port = dp.ports.byName("tap") as DpdkPort;
      console.log(`net_tap rss_hf 0x${port.rssHashFunctions.toString(16)}`);
      assert.notEqual(port.rssHashFunctions & ETH_RSS.UDP, 0, "net_tap hashes UDP");
      mustRun("ip", ["link", "set", tap, "netns", ns]);
      mustRun("ip", ["-n", ns, "link", "set", tap, "up"]);
      dp.putFlow({
        flow: "in_port(1),eth(),eth_type(0x0800),ipv4(proto=17,frag=no)",
        actions: "drop",
      });
      pmds = await PmdSet.start(dp, {
        threads: 2,
        reportMs: 5,
        idleIterationsBeforeNap: 64,
        timeoutMs: 30_000,
      });
      assert.deepEqual(pmds.stats().map((s) => s.rx_queues), [["tap:0"], ["tap:1"]]);
      const flows = udpFlows(64);
      sendFromKernel(ns, tap, flows);
      for (let i = 0; i < 1500 && dp.stats().n_hit < flows.length; i++) await tick();
      await pmds.stop();
      const hits = pmds.stats().map((s) => s.emc_hits + s.megaflow_hits);
      assert.equal(hits[0] + hits[1], flows.length, `hits per PMD: ${hits}`);
      console.log(`64 UDP flows over net_tap, 2 rx queues, 2 PMDs: hits per PMD ${hits}`);
      assert.ok(hits.every((n) => n > 0), `both PMDs got flows: ${hits}`);
      assert.ok(dp.portStats("tap").rx_packets >= flows.length);
    } finally {
      await pmds?.stop();
      dp.close();
      lab.cleanup();
    }
    assert.equal(p.available(), start, "every mbuf back in the pool");
  },
});

Deno.test({
  name: "net_tap, rx_scatter=true: a jumbo frame arrives as an mbuf chain, is dropped and counted",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const p = pool();
    const start = p.available();
    registerDpdkPortType();
    const lab = new NetnsLab();
    const dp = new Datapath("seg0", { pool: p });
    let pmds: PmdSet | undefined;
    try {
      const ns = lab.addNamespace("s");
      const tap = `${lab.prefix}seg`;
      dp.addPort({
        name: "tap",
        type: "dpdk",
        port_no: 1,
        options: {
          devargs: `net_tap_${lab.prefix}s,iface=${tap}`,
          n_rxq_desc: "256",
          rx_scatter: "true",
        },
      });
      const port = dp.ports.byName("tap") as DpdkPort;
      assert.equal(port.rxScatter, true);
      assert.equal(port.options.rx_scatter, "true");
      mustRun("ip", ["link", "set", tap, "netns", ns]);
      // net_tap caps its own MTU at 1500; the kernel side may send jumbo frames all the same.
      mustRun("ip", ["-n", ns, "link", "set", tap, "mtu", "9000", "up"]);
      // The PMD receives: its chained-mbuf drops reach the port's stats through its reports.
      pmds = await PmdSet.start(dp, {
        reportMs: 5,
        idleIterationsBeforeNap: 64,
        timeoutMs: 30_000,
      });
      const small = [kernelTestFrame(1, 64), kernelTestFrame(3, 1514)];
      const jumbo = kernelTestFrame(2, 3000); // over one mbuf's 2048-byte data room
      sendFromKernel(ns, tap, [small[0], jumbo, small[1]]);
      for (let i = 0; i < 1500 && (dp.portStats("tap").rx_oversize ?? 0) < 1; i++) await tick();
      await pmds.stop();
      const stats = dp.portStats("tap");
      assert.equal(stats.rx_oversize, 1, "the chained mbuf was dropped and counted");
      assert.ok(stats.rx_errors >= 1);
      assert.ok(stats.rx_packets >= small.length, "the frames around it went on");
      assert.ok(stats.device!.ipackets >= 3);
    } finally {
      await pmds?.stop();
      dp.close();
      lab.cleanup();
    }
    assert.equal(p.available(), start, "every mbuf, every segment, back in the pool");
  },
});

Deno.test({
  name: "datapath with a PMD forwards between two namespaces over net_af_packet, byte for byte",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const p = pool();
    const start = p.available();
    registerDpdkPortType();
    const lab = new NetnsLab();
    const dp = new Datapath("fwd0", { pool: p });
    let pmds: PmdSet | undefined;
    try {
      const left = lab.addNamespace("l");
      const right = lab.addNamespace("r");
      lab.addVeth({ name: "a1" }, { name: "b1", netns: left });
      lab.addVeth({ name: "a2" }, { name: "b2", netns: right });
      for (const n of [1, 2]) {
        dp.addPort({
          name: `k${n}`,
          type: "dpdk",
          port_no: n,
          options: { devargs: `net_af_packet_${lab.prefix}f${n},iface=${lab.link(`a${n}`)}` },
        });
      }
      dp.putFlow({ flow: "in_port(1),eth(),eth_type(0x88b5)", actions: "2" });
      pmds = await PmdSet.start(dp, {
        reportMs: 5,
        idleIterationsBeforeNap: 64,
        timeoutMs: 30_000,
      });
      const sent = frames(0, 30, 1);
      const capture = await captureOnKernel(right, lab.link("b2"), sent.length);
      sendFromKernel(left, lab.link("b1"), sent);
      assert.deepEqual(await capture.frames(), sent, "left namespace -> datapath -> right");
      for (let i = 0; i < 500 && dp.portStats("k2").tx_packets < sent.length; i++) await tick();
      await pmds.stop();
      assert.equal(dp.portStats("k2").tx_packets, sent.length);
      assert.ok(dp.portStats("k1").rx_packets >= sent.length);
    } finally {
      await pmds?.stop();
      dp.close();
      lab.cleanup();
    }
    assert.equal(p.available(), start, "every mbuf back in the pool");
  },
});
