/**
 * A Datapath whose ports are real DPDK devices: the "dpdk" port type
 * registered with the port factory, two net_ring pairs as wires, forwarding
 * by Datapath.poll() on this thread, and the mbuf pool back to its start.
 * Skipped (with the reason) only when DPDK is absent.
 */
import assert from "node:assert/strict";
import { Datapath } from "../datapath/datapath.ts";
import { DpifError } from "../datapath/errors.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";
import { testFrame } from "./port_conformance.ts";

const availability = dpdkAvailability();

/** A pool name unique in the process (each test file runs in its own isolate, same pid). */
function uniquePoolName(tag: string): string {
  return `${tag}${Deno.pid}_${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
}
const ignore = !availability.available;
if (ignore) console.log(`DPDK datapath tests skipped: ${availability.reason}`);

let serial = 0;
function unique(): string {
  return `dd${Deno.pid}_${serial++}`;
}

/** Sends frames into a test-side port as one batch. */
function send(port: DpdkPort, frames: Uint8Array[]): void {
  const batch = new PacketBatch(port.pool);
  for (const frame of frames) assert.ok(batch.pushCopy(frame) >= 0, "a free buffer for each frame");
  port.transmit(0, batch);
}

/** Copies of what a test-side port receives in up to `tries` bursts; frees them. */
function collect(port: DpdkPort, tries: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const batch = new PacketBatch(port.pool);
  for (let t = 0; t < tries; t++) {
    port.receive(0, batch);
    for (let i = 0; i < batch.count; i++) {
      out.push(port.pool.bytes.slice(batch.offset[i], batch.offset[i] + batch.length[i]));
    }
    batch.freeAll();
  }
  return out;
}

Deno.test({
  name: "dpdk port type: a datapath over an MbufPool forwards between net_ring ports",
  ignore,
  fn() {
    initEal({ memoryMb: 512 });
    registerDpdkPortType();
    registerDpdkPortType(); // idempotent
    const pool = MbufPool.create({ name: uniquePoolName("dd"), capacity: 2047 });
    const start = pool.available();
    const id = unique();
    const wire1 = RingPair.create(`${id}a`, `${id}b`);
    const wire2 = RingPair.create(`${id}c`, `${id}d`);
    const dp = new Datapath("dpdk0", { pool });
    const peer1 = DpdkPort.open("peer1", { devargs: wire1.b }, pool);
    const peer2 = DpdkPort.open("peer2", { devargs: wire2.b }, pool);
    try {
      const info = dp.addPort({
        name: "r1",
        type: "dpdk",
        port_no: 1,
        options: { devargs: wire1.a },
      });
      assert.equal(info.type, "dpdk");
      assert.equal(info.options.devargs, wire1.a);
      dp.addPort({ name: "r2", type: "dpdk", port_no: 2, options: { devargs: wire2.a } });
      dp.putFlow({ flow: "in_port(1),eth(),eth_type(0x0800)", actions: "2" });

      const frames = [0, 1, 2, 3, 4].map((seq) => testFrame(seq, 60 + seq * 100));
      send(peer1, frames);
      let polled = 0;
      for (let i = 0; i < 10 && polled < frames.length; i++) polled += dp.poll();
      assert.equal(polled, frames.length);
      const got = collect(peer2, 10);
      assert.deepEqual(got, frames);
      const stats = dp.stats();
      assert.equal(stats.n_hit, frames.length);
      assert.equal(dp.portStats("r1").rx_packets, frames.length);
      assert.equal(dp.portStats("r2").tx_packets, frames.length);

      // A frame of another ethertype misses: queued as an upcall, its mbuf freed.
      dp.setUpcallsEnabled(true);
      const arp = testFrame(9, 60);
      arp[12] = 0x08;
      arp[13] = 0x06;
      send(peer1, [arp]);
      for (let i = 0; i < 10; i++) dp.poll();
      assert.equal(dp.stats().n_missed, 1);
      assert.equal(dp.upcalls.read(10).length, 1);
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
  },
});

Deno.test({
  name: "dpdk port type: refused over a pool that is not an MbufPool",
  ignore,
  fn() {
    registerDpdkPortType();
    const dp = new Datapath("mem0", { pool: new MemoryPool() });
    assert.throws(
      () => dp.addPort({ name: "r1", type: "dpdk", options: { devargs: "net_null_x" } }),
      (error: unknown) => error instanceof DpifError && error.code === "EINVAL",
    );
    assert.equal(dp.listPorts().length, 1);
    dp.close();
  },
});
