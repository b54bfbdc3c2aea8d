/**
 * `GET .../ports/{port}/capture` on `dpdk` ports (net_ring wires): frames
 * the port receives and transmits, whether the control thread moves them
 * (Datapath.poll) or a PMD thread does, come back as a pcap that decodes
 * to exactly those frames; the tap is off again afterwards and every mbuf
 * is back in the pool. Skipped (with the reason) when DPDK is absent.
 */

import assert from "node:assert/strict";
import { createApp, type DpifApp } from "../api/app.ts";
import { Datapath } from "../datapath/datapath.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import { DatapathRegistry } from "../datapath/registry.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";
import { decodePcap } from "./fixtures/pcap.ts";
import { testFrame } from "./port_conformance.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`dpdk capture tests skipped: ${availability.reason}`);

let serial = 0;
function unique(tag: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${tag}${Deno.pid}_${serial++}_${random}`;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

function send(port: DpdkPort, frames: Uint8Array[]): void {
  const batch = new PacketBatch(port.pool);
  for (const frame of frames) assert.ok(batch.pushCopy(frame) >= 0);
  port.transmit(0, batch);
}

/** Frees what a test-side port received; returns how many. */
function drain(port: DpdkPort): number {
  const batch = new PacketBatch(port.pool);
  const n = port.receive(0, batch);
  batch.freeAll();
  return n;
}

interface Rig {
  app: DpifApp;
  dp: Datapath;
  peer1: DpdkPort;
  peer2: DpdkPort;
  close(): void;
}

/** dp0 with dpdk ports r1, r2 on net_ring wires to peer1, peer2; flow in_port(1) -> 2. */
function rig(pool: MbufPool): Rig {
  registerDpdkPortType();
  const id = unique("cap");
  const wire1 = RingPair.create(`${id}a`, `${id}b`);
  const wire2 = RingPair.create(`${id}c`, `${id}d`);
  const registry = new DatapathRegistry({ pool });
  const dp = registry.create("dp0");
  const peer1 = DpdkPort.open("peer1", { devargs: wire1.b }, pool);
  const peer2 = DpdkPort.open("peer2", { devargs: wire2.b }, pool);
  dp.addPort({ name: "r1", type: "dpdk", port_no: 1, options: { devargs: wire1.a } });
  dp.addPort({ name: "r2", type: "dpdk", port_no: 2, options: { devargs: wire2.a } });
  dp.putFlow({ flow: "in_port(1),eth(),eth_type(0x0800)", actions: "2" });
  const shutdown = new AbortController();
  const app = createApp({ registry, signal: shutdown.signal });
  return {
    app,
    dp,
    peer1,
    peer2,
    close() {
      shutdown.abort();
      registry.closeAll();
      peer1.close();
      peer2.close();
      wire1.destroy();
      wire2.destroy();
    },
  };
}

function tapOf(dp: Datapath, port: string): Int32Array {
  return (dp.ports.byName(port) as DpdkPort).tap.on;
}

/** Starts a capture request and waits until the port's tap is on (the answer comes later). */
async function startCapture(
  rig: Rig,
  port: string,
  query: string,
): Promise<{ response: Promise<Response> }> {
  const response = Promise.resolve(
    rig.app.request(`/v1/datapaths/dp0/ports/${port}/capture?${query}`),
  );
  for (let i = 0; i < 1000 && tapOf(rig.dp, port)[0] === 0; i++) await tick();
  assert.equal(tapOf(rig.dp, port)[0], 1, `the tap of ${port} is on while capturing`);
  return { response };
}

async function pcapFrames(capture: { response: Promise<Response> }): Promise<Uint8Array[]> {
  const res = await capture.response;
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/vnd.tcpdump.pcap");
  const frames = decodePcap(new Uint8Array(await res.arrayBuffer()));
  assert.equal(res.headers.get("dpif-frames"), String(frames.length));
  return frames;
}

Deno.test({
  name: "capture: a dpdk port polled by the control thread, rx and tx",
  ignore,
  async fn() {
    initEal({ memoryMb: 512 });
    const pool = MbufPool.create({ name: unique("capp"), capacity: 2047 });
    const start = pool.available();
    const r = rig(pool);
    try {
      const frames = [0, 1, 2, 3, 4].map((k) => testFrame(k, 64 + k * 50));
      // Traffic before any capture is not seen.
      send(r.peer1, frames);
      while (r.dp.poll() > 0) { /* forward */ }
      assert.equal(drain(r.peer2), frames.length);

      const rx = await startCapture(r, "r1", "count=5&timeout=5");
      const tx = await startCapture(r, "r2", "count=3&timeout=5");
      send(r.peer1, frames);
      while (r.dp.poll() > 0) { /* forward */ }
      assert.deepEqual(await pcapFrames(rx), frames, "r1 received the five frames");
      assert.deepEqual(await pcapFrames(tx), frames.slice(0, 3), "r2 sent them; first three");
      assert.equal(tapOf(r.dp, "r1")[0], 0, "tap off after the capture");
      assert.equal(tapOf(r.dp, "r2")[0], 0);
      assert.equal(drain(r.peer2), frames.length);

      // A capture that times out answers what it saw: nothing.
      const idle = await startCapture(r, "r2", "count=2&timeout=0.05");
      assert.deepEqual(await pcapFrames(idle), []);
    } finally {
      r.close();
    }
    assert.equal(pool.available(), start, "every mbuf is back in the pool");
    pool.close();
  },
});

Deno.test({
  name: "capture: a dpdk port served by a PMD thread",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    initEal({ memoryMb: 512 });
    const pool = MbufPool.create({ name: unique("capm"), capacity: 2047 });
    const start = pool.available();
    const r = rig(pool);
    let pmds: PmdSet | undefined;
    try {
      pmds = await PmdSet.start(r.dp, { reportMs: 5, timeoutMs: 15_000 });
      const frames = [0, 1, 2, 3].map((k) => testFrame(k, 100 + k));
      const tx = await startCapture(r, "r2", "count=4&timeout=5");
      send(r.peer1, frames);
      const captured = await pcapFrames(tx);
      assert.deepEqual(captured, frames, "what the PMD sent on r2");
      let out = 0;
      for (let i = 0; i < 1000 && out < frames.length; i++) {
        out += drain(r.peer2);
        await tick();
      }
      assert.equal(out, frames.length);
    } finally {
      await pmds?.stop();
      r.close();
    }
    assert.equal(pool.available(), start, "every mbuf is back in the pool");
    pool.close();
  },
});
