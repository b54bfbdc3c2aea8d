/**
 * Tunnel push and pop on real DPDK ports: a Datapath over an MbufPool with
 * two "dpdk" ports on net_ring pairs, driven by Datapath.poll(). The test
 * side reads and writes the other ends of the rings. net_ring hands the
 * mbufs themselves across, so what the test receives is the very mbuf the
 * datapath transmitted: its data offset shows whether the push used the
 * headroom (offset moved back by the header size, payload left in place).
 * Skipped (with the reason) only when DPDK is absent.
 */
import assert from "node:assert/strict";
import { Datapath } from "../datapath/datapath.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";
import { VXLAN_PUSH_ACTIONS, vxlanPopFlows } from "../bench/datapath_bench.ts";
import {
  bytesToHex,
  concatBytes,
  finishChecksum,
  hexToBytes,
  onesSum,
  udp4Frame,
} from "./fixtures/packets.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`DPDK tunnel tests skipped: ${availability.reason}`);

let serial = 0;
function unique(): string {
  return `dt${Deno.pid}_${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}_${serial++}`;
}

/** What the test side received: the bytes and the mbuf's data offset from its buffer start. */
interface Received {
  bytes: Uint8Array;
  dataOffset: number;
}

/** A datapath with dpdk ports 1 and 2 over ring pairs, and the test-side peers. */
interface Rig {
  pool: MbufPool;
  start: number;
  dp: Datapath;
  peer1: DpdkPort;
  peer2: DpdkPort;
}

/** Builds the rig, runs `body`, tears everything down and checks the pool came back whole. */
function withRig(body: (rig: Rig) => void): void {
  initEal({ memoryMb: 512 });
  registerDpdkPortType();
  const pool = MbufPool.create({ name: unique(), capacity: 2047 });
  const start = pool.available();
  const id = unique();
  const wire1 = RingPair.create(`${id}a`, `${id}b`);
  const wire2 = RingPair.create(`${id}c`, `${id}d`);
  const dp = new Datapath("dpdkt", { pool });
  const peer1 = DpdkPort.open("peer1", { devargs: wire1.b }, pool);
  const peer2 = DpdkPort.open("peer2", { devargs: wire2.b }, pool);
  try {
    dp.addPort({ name: "r1", type: "dpdk", port_no: 1, options: { devargs: wire1.a } });
    dp.addPort({ name: "r2", type: "dpdk", port_no: 2, options: { devargs: wire2.a } });
    body({ pool, start, dp, peer1, peer2 });
    assert.equal(pool.available(), start);
  } finally {
    dp.close();
    peer1.close();
    peer2.close();
    wire1.destroy();
    wire2.destroy();
  }
  assert.equal(pool.available(), start);
  pool.close();
}

/** Sends frames into a test-side port as one batch (each at the pool's headroom). */
function send(port: DpdkPort, frames: Uint8Array[]): void {
  const batch = new PacketBatch(port.pool);
  for (const frame of frames) assert.ok(batch.pushCopy(frame) >= 0, "a free buffer for each frame");
  port.transmit(0, batch);
}

/** Polls the datapath until `expected` packets went through (or 20 polls). */
function pollFor(dp: Datapath, expected: number): void {
  let polled = 0;
  for (let i = 0; i < 20 && polled < expected; i++) polled += dp.poll();
  assert.equal(polled, expected);
}

/** Copies what a test-side port receives in a few bursts, with data offsets; frees the mbufs. */
function collect(port: DpdkPort): Received[] {
  const pool = port.pool;
  const out: Received[] = [];
  const batch = new PacketBatch(pool);
  for (let t = 0; t < 10; t++) {
    port.receive(0, batch);
    for (let i = 0; i < batch.count; i++) {
      out.push({
        bytes: pool.bytes.slice(batch.offset[i], batch.offset[i] + batch.length[i]),
        dataOffset: batch.offset[i] - pool.bufferStart(batch.handle[i]),
      });
    }
    batch.freeAll();
  }
  return out;
}

/** Inner UDP frames of a few sizes (distinct sources, as one flow each). */
function innerFrames(): Uint8Array[] {
  return [0, 18, 200, 1400].map((size, k) =>
    udp4Frame({
      ethSrc: "00:00:00:00:00:01",
      ethDst: "00:00:00:00:00:02",
      ipSrc: `10.0.0.${k + 1}`,
      ipDst: "10.200.0.1",
      srcPort: 1024 + k,
      dstPort: 5678,
      payload: new Uint8Array(size).map((_, i) => (i * 7 + k) & 0xff),
    })
  );
}

const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];

/** The IPv4 header checksum verified independently: the ones' sum over the header is 0xffff. */
function assertIpv4Checksum(frame: Uint8Array): void {
  const ihl = (frame[14] & 0x0f) * 4;
  assert.equal(finishChecksum(onesSum(frame.subarray(14, 14 + ihl))), 0);
}

Deno.test({
  name: "dpdk tunnel: VXLAN tnl_push in the mbuf headroom, out on a dpdk port",
  ignore,
  fn() {
    withRig(({ pool, dp, peer1, peer2 }) => {
      dp.addPort({
        name: "vxlan_sys_4789",
        type: "vxlan",
        port_no: 4789,
        options: { remote_ip: "flow", key: "flow" },
      });
      dp.putFlow({ flow: "in_port(1),eth(),eth_type(0x0800)", actions: VXLAN_PUSH_ACTIONS });
      const frames = innerFrames();
      send(peer1, frames);
      pollFor(dp, frames.length);
      const got = collect(peer2);
      assert.equal(got.length, frames.length);
      const ports = new Set<number>();
      got.forEach(({ bytes, dataOffset }, k) => {
        const inner = frames[k];
        assert.equal(bytes.length, inner.length + 50);
        // No payload copy: the inner frame stays where it was received, headers went in front.
        assert.equal(dataOffset, pool.headroom - 50);
        // Outer Ethernet + IPv4 (DF, ttl 64, UDP, 172.31.1.2 -> 172.31.1.1) as the template.
        const ipLength = inner.length + 36;
        const expectedIp = `4500${ipLength.toString(16).padStart(4, "0")}00004000 4011` +
          bytesToHex(bytes.subarray(24, 26)) + "ac1f0102 ac1f0101";
        assert.equal(
          bytesToHex(bytes.subarray(0, 34)),
          bytesToHex(hexToBytes("0000000000aa 0000000000bb 0800" + expectedIp)),
        );
        assertIpv4Checksum(bytes);
        // UDP: hashed source port in OVS's range, dst 4789, length, checksum 0.
        const srcPort = u16(bytes, 34);
        assert.ok(srcPort >= 32768 && srcPort < 61000, `source port ${srcPort}`);
        ports.add(srcPort);
        assert.equal(u16(bytes, 36), 4789);
        assert.equal(u16(bytes, 38), inner.length + 16);
        assert.equal(u16(bytes, 40), 0);
        // VXLAN: I flag, VNI 0x7b.
        assert.equal(bytesToHex(bytes.subarray(42, 50)), "0800000000007b00");
        assert.equal(bytesToHex(bytes.subarray(50)), bytesToHex(inner));
      });
      assert.ok(ports.size > 1, "the source port is hashed per inner flow");
      assert.equal(dp.portStats("r2").tx_packets, frames.length);
    });
  },
});

/** VXLAN encapsulation of `inner` as a remote end would send it (UDP checksum 0). */
function vxlanFrame(inner: Uint8Array, srcPort: number): Uint8Array {
  const frame = udp4Frame({
    ethSrc: "00:00:00:00:00:aa",
    ethDst: "00:00:00:00:00:bb",
    ipSrc: "172.31.1.2",
    ipDst: "172.31.1.1",
    srcPort,
    dstPort: 4789,
    payload: concatBytes(hexToBytes("0800000000007b00"), inner),
  });
  frame[40] = 0; // UDP checksum 0, as OVS sends VXLAN
  frame[41] = 0;
  return frame;
}

Deno.test({
  name: "dpdk tunnel: VXLAN tnl_pop, recirculated lookup on tun_id, inner frame out intact",
  ignore,
  fn() {
    withRig(({ dp, peer1, peer2 }) => {
      dp.addPort({
        name: "vxlan_sys_4789",
        type: "vxlan",
        port_no: 4789,
        options: { remote_ip: "flow", key: "flow" },
      });
      for (const [flow, actions] of vxlanPopFlows()) dp.putFlow({ flow, actions });
      const inner = innerFrames();
      send(peer1, inner.map((frame, k) => vxlanFrame(frame, 40000 + k)));
      pollFor(dp, inner.length);
      const got = collect(peer2);
      assert.deepEqual(got.map((r) => bytesToHex(r.bytes)), inner.map(bytesToHex));
      // The pop moved the data offset forward past the outer 50 bytes: no copy either way.
      for (const r of got) assert.equal(r.dataOffset, peer2.pool.headroom + 50);
      // A VXLAN frame with another VNI misses the second lookup: counted, nothing out.
      const before = dp.stats();
      const other = vxlanFrame(inner[0], 40000);
      other[48] = 0x7c;
      send(peer1, [other]);
      pollFor(dp, 1);
      assert.equal(collect(peer2).length, 0);
      assert.equal(dp.stats().n_missed, before.n_missed + 1);
    });
  },
});

Deno.test({
  name: "dpdk tunnel: GRE tnl_push with a key, out on a dpdk port",
  ignore,
  fn() {
    withRig(({ pool, dp, peer1, peer2 }) => {
      dp.addPort({ name: "gre_sys", type: "gre", port_no: 3, options: { remote_ip: "flow" } });
      dp.putFlow({
        flow: "in_port(1),eth(),eth_type(0x0800)",
        actions: "tnl_push(tnl_port(3),header(size=42,type=3," +
          "eth(dst=00:00:00:00:00:aa,src=00:00:00:00:00:bb,dl_type=0x0800)," +
          "ipv4(src=172.31.1.2,dst=172.31.1.1,proto=47,tos=0,ttl=64,frag=0x4000)," +
          "gre((flags=0x2000,proto=0x6558),key=0x7b)),out_port(2)),2",
      });
      const frames = innerFrames();
      send(peer1, frames);
      pollFor(dp, frames.length);
      const got = collect(peer2);
      assert.equal(got.length, frames.length);
      got.forEach(({ bytes, dataOffset }, k) => {
        const inner = frames[k];
        assert.equal(dataOffset, pool.headroom - 42);
        const ipLength = (inner.length + 28).toString(16).padStart(4, "0");
        assert.equal(
          bytesToHex(bytes.subarray(0, 42)),
          bytesToHex(hexToBytes(
            `0000000000aa 0000000000bb 0800 4500${ipLength}00004000 402f` +
              bytesToHex(bytes.subarray(24, 26)) + "ac1f0102 ac1f0101 20006558 0000007b",
          )),
        );
        assertIpv4Checksum(bytes);
        assert.equal(bytesToHex(bytes.subarray(42)), bytesToHex(inner));
      });
    });
  },
});
