/**
 * DpdkPort and MbufPool against real DPDK virtual devices (net_pcap,
 * net_ring pairs, net_null): no mocks.
 *
 * All cases share one EAL: rte_eal_init works once per process, and
 * `deno test` runs every file in one process, so {@linkcode initEal} is
 * idempotent and each case hotplugs its own devices under distinct names.
 * Skipped (with the reason) only when DPDK itself is absent.
 */
import assert from "node:assert/strict";
import { DpifError } from "../datapath/errors.ts";
import { W_IN_PORT } from "../datapath/flow_key.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { BATCH_SIZE, META_SHIFT, PacketBatch } from "../datapath/packet_batch.ts";
import type { PacketPool } from "../datapath/packet_pool.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { ealInitialized, initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";
import { DpdkError } from "../ffi/status.ts";
import { readPcap, writePcap } from "./fixtures/pcap.ts";
import { runPortConformance, testFrame } from "./port_conformance.ts";

let availability = dpdkAvailability();
if (availability.librariesFound && !availability.shimFound) {
  // DPDK is installed but the shim was not built (tools/run.sh builds it): build it now.
  const build = new Deno.Command("bash", { args: ["ffi/shim/build.sh"] }).outputSync();
  if (!build.success) console.error(new TextDecoder().decode(build.stderr));
  availability = dpdkAvailability();
}
const ignore = !availability.available;
if (ignore) console.log(`DPDK tests skipped: ${availability.reason}`);

let sharedPool: MbufPool | undefined;
let serial = 0;

/** The process-wide EAL and one pool shared by the cases. */
function pool(): MbufPool {
  initEal({ memoryMb: 512 });
  sharedPool ??= MbufPool.create({ capacity: 4095 });
  return sharedPool;
}

/** A unique device-name suffix for this process. */
function unique(): string {
  return `t${Deno.pid}_${serial++}`;
}

/** Copies frames into fresh buffers of `p`, as a batch. */
function batchOf(p: PacketPool, frames: Uint8Array[]): PacketBatch {
  const batch = new PacketBatch(p);
  for (const frame of frames) assert.ok(batch.pushCopy(frame) >= 0, "a free buffer for each frame");
  return batch;
}

/** Receives from queue 0 until `want` packets came or 100 empty polls; returns copies, frees. */
function drain(port: DpdkPort, want: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const batch = new PacketBatch(port.pool);
  for (let idle = 0; out.length < want && idle < 100;) {
    const n = port.receive(0, batch);
    if (n === 0) idle++;
    for (let i = 0; i < batch.count; i++) {
      out.push(batch.pool.bytes.slice(batch.offset[i], batch.offset[i] + batch.length[i]));
    }
    batch.freeAll();
  }
  return out;
}

/** Frames of varied sizes 60..1514. */
function frames(count: number, first = 0): Uint8Array[] {
  const sizes = [60, 64, 100, 512, 1514, 777];
  return Array.from({ length: count }, (_, k) => testFrame(first + k, sizes[k % sizes.length]));
}

if (ignore) {
  Deno.test({ name: "DpdkPort port conformance (DPDK absent)", ignore: true, fn() {} });
} else {
  runPortConformance("dpdk port on a net_ring pair", () => {
    const p = pool();
    const id = unique();
    const pair = RingPair.create(`${id}a`, `${id}b`);
    const port = DpdkPort.open(`dpdk_${id}`, { devargs: pair.a }, p);
    const peer = DpdkPort.open(`peer_${id}`, { devargs: pair.b }, p);
    return {
      port,
      pool: p,
      sendToPort(list: Uint8Array[]): Promise<void> {
        for (let k = 0; k < list.length; k += BATCH_SIZE) {
          peer.transmit(0, batchOf(p, list.slice(k, k + BATCH_SIZE)));
        }
        return Promise.resolve();
      },
      collectTransmitted(): Promise<Uint8Array[]> {
        return Promise.resolve(drain(peer, Infinity));
      },
      close(): Promise<void> {
        port.close();
        peer.close();
        pair.destroy();
        return Promise.resolve();
      },
    };
  });
}

Deno.test({
  name: "dpdkAvailability says why when the shim is missing",
  ignore,
  fn() {
    const saved = Deno.env.get("DPIF_SHIM_PATH");
    Deno.env.set("DPIF_SHIM_PATH", "/nonexistent/libdpif_shim.so");
    try {
      const result = dpdkAvailability();
      assert.equal(result.available, false);
      assert.equal(result.librariesFound, true);
      assert.match(result.reason, /shim not built.*ffi\/shim\/build\.sh/);
    } finally {
      if (saved === undefined) Deno.env.delete("DPIF_SHIM_PATH");
      else Deno.env.set("DPIF_SHIM_PATH", saved);
    }
  },
});

Deno.test({
  name: "initEal is idempotent: a second call hotplugs its vdevs into the running EAL",
  ignore,
  fn() {
    const p = pool();
    assert.ok(ealInitialized());
    const name = `net_null_${unique()}`;
    const session = initEal({ vdevs: [`${name},no-rx=1`] });
    assert.equal(session.alreadyInitialized, true);
    assert.equal(Deno.statSync(session.runtimeDir.replace(/\/[^/]*$/, "")).isDirectory, true);
    assert.throws(() => Deno.statSync(session.runtimeDir), "runtime dir removed after init");
    const port = DpdkPort.open("n", { devargs: name }, p); // attaches to the existing device
    assert.equal(port.deviceName, name);
    port.close();
  },
});

Deno.test({
  name: "MbufPool: partial allocBulk, headroom, holding checks on free",
  ignore,
  fn() {
    const p = MbufPool.create({ name: `pool_${unique()}`, capacity: 63, cacheSize: 0 });
    try {
      assert.equal(p.available(), 63);
      const handles = new Int32Array(100);
      assert.equal(p.allocBulk(handles, 0, 100), 63);
      assert.equal(p.available(), 0);
      assert.equal(p.inUse(), 63);
      assert.equal(p.allocBulk(handles, 63, 1), 0);
      for (let i = 0; i < 63; i++) {
        const h = handles[i];
        assert.equal(p.bufferEnd(h) - p.bufferStart(h), 2176);
        assert.ok(p.bufferStart(h) >= h + 128, "buffer follows the mbuf header");
        assert.equal(p.view.getUint16(h + 16, true), p.headroom, "fresh data_off is the headroom");
      }
      assert.equal(new Set(handles.subarray(0, 63)).size, 63);
      p.free(handles[0]);
      assert.throws(() => p.free(handles[0]), RangeError, "double free");
      assert.throws(() => p.free(handles[1] + 8), RangeError, "not an mbuf");
      assert.throws(() => p.free(-1), RangeError);
      for (let i = 1; i < 63; i++) p.free(handles[i]);
      assert.equal(p.available(), 63);
    } finally {
      p.close();
    }
  },
});

Deno.test({
  name: "net_pcap: frames in through rx_pcap come out of tx_pcap byte for byte",
  ignore,
  fn() {
    const p = pool();
    const start = p.available();
    const dir = Deno.makeTempDirSync({ prefix: "dpif_pcap_" });
    try {
      const input = frames(100);
      writePcap(`${dir}/in.pcap`, input);
      const port = DpdkPort.open(`pcap_${unique()}`, {
        devargs: `net_pcap_${unique()},rx_pcap=${dir}/in.pcap,tx_pcap=${dir}/out.pcap`,
      }, p);
      port.portNo = 7;
      const batch = new PacketBatch(p);
      let received = 0;
      for (let idle = 0; received < input.length && idle < 100;) {
        const n = port.receive(0, batch);
        if (n === 0) idle++;
        for (let i = 0; i < n; i++) assert.equal(batch.meta[(i << META_SHIFT) + W_IN_PORT], 7);
        received += n;
        port.transmit(0, batch);
      }
      assert.equal(received, 100);
      const stats = port.stats();
      assert.equal(stats.rx_packets, 100);
      assert.equal(stats.tx_packets, 100);
      assert.equal(stats.rx_bytes, input.reduce((s, f) => s + f.length, 0));
      assert.equal(stats.tx_bytes, stats.rx_bytes);
      assert.equal(port.deviceStats().ipackets, 100);
      port.close();
      assert.deepEqual(readPcap(`${dir}/out.pcap`), input);
      assert.equal(p.available(), start);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "net_pcap: a multi-segment frame is freed and counted as an rx error",
  ignore,
  fn() {
    const p = pool();
    const start = p.available();
    const dir = Deno.makeTempDirSync({ prefix: "dpif_pcap_" });
    try {
      writePcap(`${dir}/in.pcap`, [testFrame(1, 64), testFrame(2, 3000), testFrame(3, 100)]);
      const port = DpdkPort.open(`pcap_${unique()}`, {
        devargs: `net_pcap_${unique()},rx_pcap=${dir}/in.pcap`,
      }, p);
      const got = drain(port, 2);
      assert.deepEqual(got, [testFrame(1, 64), testFrame(3, 100)]);
      assert.equal(port.rxOversize, 1);
      assert.equal(port.stats().rx_errors, 1);
      assert.equal(port.stats().rx_packets, 2);
      assert.equal(port.stats().rx_oversize, 1);
      port.close();
      assert.equal(p.available(), start);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "net_ring pair: a full tx ring drops and frees the excess, counted in tx_dropped",
  ignore,
  fn() {
    const p = pool();
    const start = p.available();
    const id = unique();
    const pair = RingPair.create(`${id}a`, `${id}b`, 64); // 63 usable slots
    const a = DpdkPort.open("a", { devargs: pair.a }, p);
    const b = DpdkPort.open("b", { devargs: pair.b }, p);
    try {
      const sent = frames(96);
      for (let k = 0; k < 96; k += BATCH_SIZE) {
        a.transmit(0, batchOf(p, sent.slice(k, k + BATCH_SIZE)));
      }
      const stats = a.stats();
      assert.equal(stats.tx_packets, 63);
      assert.equal(stats.tx_dropped, 33);
      assert.equal(p.inUse(), 4095 - start + 63, "only the queued frames are held");
      assert.deepEqual(drain(b, 63), sent.slice(0, 63));
    } finally {
      a.close();
      b.close();
      pair.destroy();
    }
    assert.equal(p.available(), start);
  },
});

Deno.test({
  name: "net_ring pair: closing a port with frames in flight frees them",
  ignore,
  fn() {
    const p = pool();
    const start = p.available();
    const id = unique();
    const pair = RingPair.create(`${id}a`, `${id}b`);
    const a = DpdkPort.open("a", { devargs: pair.a }, p);
    const b = DpdkPort.open("b", { devargs: pair.b }, p);
    a.transmit(0, batchOf(p, frames(20)));
    b.transmit(0, batchOf(p, frames(5)));
    const held = batchOf(p, frames(3));
    assert.equal(p.available(), start - 28);
    b.close(); // 20 queued for b
    a.close(); // 5 queued for a
    pair.destroy();
    held.freeAll();
    assert.equal(p.available(), start);
  },
});

Deno.test({
  name: "net_null sink: transmit counts, device counters, batches from another pool are copied",
  ignore,
  fn() {
    const p = pool();
    const start = p.available();
    const port = DpdkPort.open(`null_${unique()}`, { devargs: `net_null_${unique()},no-rx=1` }, p);
    for (let r = 0; r < 10; r++) port.transmit(0, batchOf(p, frames(BATCH_SIZE)));
    const memory = new MemoryPool({ capacity: 64 });
    const foreign = batchOf(memory, frames(10));
    port.transmit(0, foreign);
    assert.equal(foreign.count, 0);
    assert.equal(memory.available(), 64, "the foreign pool's buffers were freed");
    const stats = port.stats();
    assert.equal(stats.tx_packets, 330);
    assert.equal(stats.tx_dropped, 0);
    assert.equal(port.deviceStats().opackets, 330);
    assert.equal(p.available(), start);
    port.close();
  },
});

Deno.test({
  name: "transmit: a packet region outside its buffer is freed and counted as a tx error",
  ignore,
  fn() {
    const p = pool();
    const start = p.available();
    const port = DpdkPort.open(`null_${unique()}`, { devargs: `net_null_${unique()},no-rx=1` }, p);
    const batch = batchOf(p, frames(3));
    batch.offset[1] = p.bufferEnd(batch.handle[1]) - 10; // 60 bytes from 10 before the end
    batch.length[2] = 5000;
    port.transmit(0, batch);
    const stats = port.stats();
    assert.equal(stats.tx_packets, 1);
    assert.equal(stats.tx_errors, 2);
    assert.equal(p.available(), start);
    port.close();
  },
});

Deno.test({
  name: "options: mtu, mac, promisc applied; link up; bad options and devices rejected",
  ignore,
  fn() {
    const p = pool();
    const port = DpdkPort.open(`null_${unique()}`, {
      "dpdk-devargs": `net_null_${unique()},no-rx=1`,
      mtu: "9000",
      mac: "02:00:00:00:00:09",
      promisc: "false",
      n_txq: "2",
    }, p);
    try {
      assert.equal(port.mtu(), 9000);
      assert.equal(port.macAddress(), "02:00:00:00:00:09");
      assert.equal(port.txQueues, 2);
      assert.equal(port.options.n_txq, "2");
      assert.equal(port.options.mac, "02:00:00:00:00:09");
      assert.equal(port.link().up, true);
      assert.equal(port.rssHashFunctions, 0, "one rx queue: no RSS");
      assert.equal(port.rxScatter, false, "net_null cannot scatter: left to the device");
    } finally {
      port.close();
    }
    assert.throws(
      () => DpdkPort.open("x", { speed: "1" }, p),
      (e) => e instanceof DpifError && e.code === "EINVAL",
    );
    assert.throws(
      () => DpdkPort.open("x", { devargs: "net_null_q", n_rxq: "0" }, p),
      /n_rxq must be 1..64/,
    );
    assert.throws(() => DpdkPort.open("x", { devargs: "net_null_q", mac: "zz" }, p), /mac must be/);
    assert.throws(
      () => DpdkPort.open("x", { devargs: "net_null_q", rx_scatter: "yes" }, p),
      /rx_scatter must be auto, true or false/,
    );
    assert.throws(
      () => DpdkPort.open("x", { devargs: `net_null_${unique()}`, rx_scatter: "true" }, p),
      (e) =>
        e instanceof DpifError && e.code === "ENODEV" &&
        /cannot scatter/.test(String((e.cause as Error).message)),
      "net_null cannot scatter",
    );
    assert.throws(
      () => DpdkPort.open("x", { devargs: `net_nosuchdriver_${unique()}` }, p),
      (e) => e instanceof DpifError && e.code === "ENODEV" && e.cause instanceof DpdkError,
    );
  },
});
