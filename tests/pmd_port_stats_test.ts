/**
 * Port and datapath statistics while two PMD Workers poll: what the PMDs
 * count per port reaches `Datapath.portStats` and `GET .../ports/{port}/stats`
 * beside the device's own counters (`device`), and n_mask_hit adds up over
 * the PMDs. Two loopback net_ring devices with two queue pairs each (tx
 * queue q comes back on rx queue q), one rx queue of each per PMD.
 * Skipped (with the reason) only when DPDK is absent.
 */
import assert from "node:assert/strict";
import { createApp } from "../api/app.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { PmdControl } from "../datapath/pmd_control.ts";
import { DatapathRegistry } from "../datapath/registry.ts";
import type { DpdkPort } from "../ffi/dpdk_port.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { call } from "./api_fixtures.ts";
import { testFrame } from "./port_conformance.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`PMD port stats tests skipped: ${availability.reason}`);

const tick = () => new Promise((resolve) => setTimeout(resolve, 2));

Deno.test({
  name: "PMD port stats: per-port PMD counters and device counters merged; n_mask_hit over PMDs",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    initEal({ memoryMb: 512 });
    registerDpdkPortType();
    const suffix = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
    const pool = MbufPool.create({ name: `ps${Deno.pid}_${suffix}`, capacity: 2047 });
    const start = pool.available();
    const registry = new DatapathRegistry({ pool });
    const dp = registry.create("dps");
    const pmds = new PmdControl(registry, {
      idleIterationsBeforeNap: 64,
      napMs: 1,
      reportMs: 5,
      timeoutMs: 30_000,
    });
    const shutdown = new AbortController();
    const app = createApp({ registry, pmdControl: pmds, signal: shutdown.signal });
    try {
      for (const n of [1, 2]) {
        dp.addPort({
          name: `l${n}`,
          type: "dpdk",
          port_no: n,
          // Short: the ring PMD names its rings ETH_RXTX<q>_<device> in 28 characters.
          options: { devargs: `net_ring_ps${n}_${suffix.slice(0, 4)}`, n_rxq: "2", n_txq: "2" },
        });
      }
      dp.putFlow({ flow: "in_port(1),eth(),eth_type(0x0800)", actions: "2" });
      dp.putFlow({ flow: "in_port(2),eth(),eth_type(0x0800)", actions: "drop" });
      // No EMC: every hit is a megaflow lookup probing the one subtable (n_mask_hit 1 each).
      const set = (await pmds.configure("dps", { threads: 2, emcEntries: 0 }))!;
      assert.deepEqual(set.stats().map((s) => s.rx_queues), [["l1:0", "l2:0"], ["l1:1", "l2:1"]]);

      // The control thread sends 256 frames on each queue of l1: they loop back into
      // l1's rx queues (one per PMD), go out of l2 on each PMD's own tx queue, loop back
      // into l2 and are dropped there by the second flow.
      const l1 = dp.ports.byName("l1") as DpdkPort;
      const sizes = [60, 64, 128, 333, 1514];
      let bytes = 0;
      for (let round = 0; round < 8; round++) {
        for (const queue of [0, 1]) {
          const batch = new PacketBatch(pool);
          for (let k = 0; k < 32; k++) {
            const frame = testFrame(round * 64 + queue * 32 + k, sizes[k % sizes.length]);
            assert.ok(batch.pushCopy(frame) >= 0);
            bytes += frame.length;
          }
          l1.transmit(queue, batch);
        }
      }
      const total = 512;
      for (let i = 0; i < 3000 && dp.portStats("l2").rx_packets < total; i++) await tick();
      await pmds.stopAll(); // the last reports are folded in
      const perPmd = set.stats().map((s) => s.packets);
      assert.ok(perPmd.every((p) => p === total), `each PMD saw its queues: ${perPmd}`);

      const s1 = (await call(app, "GET", "/v1/datapaths/dps/ports/l1/stats")).json;
      const s2 = (await call(app, "GET", "/v1/datapaths/dps/ports/2/stats")).json;
      assert.deepEqual(
        [s1.rx_packets, s1.rx_bytes, s1.tx_packets, s1.tx_bytes, s1.rx_errors, s1.tx_dropped],
        [total, bytes, total, bytes, 0, 0],
        "l1: sent by the control thread, received by the PMDs",
      );
      assert.deepEqual(
        [s2.rx_packets, s2.rx_bytes, s2.tx_packets, s2.tx_bytes, s2.tx_dropped, s2.rx_oversize],
        [total, bytes, total, bytes, 0, 0],
        "l2: sent and received by the PMDs",
      );
      for (const s of [s1, s2]) {
        assert.deepEqual(s.device, {
          ipackets: total,
          opackets: total,
          ibytes: 0, // net_ring counts no bytes
          obytes: 0,
          imissed: 0,
          ierrors: 0,
          oerrors: 0,
          rx_nombuf: 0,
        });
      }

      const stats = (await call(app, "GET", "/v1/datapaths/dps/stats")).json;
      assert.equal(stats.n_hit, 2 * total);
      assert.equal(stats.n_megaflow_hit, 2 * total);
      assert.equal(stats.n_mask_hit, 2 * total, "one subtable probed per hit, on both PMDs");
      assert.equal(stats.n_missed, 0);

      // The control thread's own lookups add to the same running total.
      dp.execute(testFrame(9999, 64), "1"); // loops back into l1, now polled by dp.poll()
      for (let i = 0; i < 100 && dp.poll() === 0; i++) await tick();
      while (dp.poll() > 0) { /* l2 loops it back once more, then it is dropped */ }
      assert.equal(dp.stats().n_mask_hit, 2 * total + 2);
      assert.equal(dp.portStats("l1").rx_packets, total + 1);
    } finally {
      await pmds.stopAll();
      shutdown.abort();
      registry.closeAll();
    }
    assert.equal(pool.available(), start, "every mbuf back in the pool");
    pool.close();
  },
});
