/**
 * PMD Worker threads over real DPDK devices (two net_ring pairs): a flow
 * installed while traffic runs takes effect in the PMD, deletes stop it,
 * PMD reports reach the datapath's flow and pipeline stats, a miss reaches
 * the datapath's upcall queue, and a graceful stop leaves every mbuf back
 * in its pool. Skipped (with the reason) only when DPDK is absent.
 */
import assert from "node:assert/strict";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { openRingDatapath } from "./fixtures/ring_datapath.ts";
import { testFrame } from "./port_conformance.ts";

const availability = dpdkAvailability();

const ignore = !availability.available;
if (ignore) console.log(`PMD tests skipped: ${availability.reason}`);

const FLOW = "in_port(1),eth(),eth_type(0x0800)";

function send(port: DpdkPort, frames: Uint8Array[]): void {
  const batch = new PacketBatch(port.pool);
  for (const frame of frames) if (batch.pushCopy(frame) < 0) break; // sends what the pool can hold
  port.transmit(0, batch);
}

/** Packets a test-side port receives in one burst (freed). */
function receiveCount(port: DpdkPort): number {
  const batch = new PacketBatch(port.pool);
  const n = port.receive(0, batch);
  batch.freeAll();
  return n;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

/** Sends a burst and yields until `done()` or `limit` rounds; returns the rounds used. */
async function trafficUntil(
  peer: DpdkPort,
  frames: Uint8Array[],
  done: () => boolean,
  limit = 5000,
): Promise<number> {
  for (let round = 0; round < limit; round++) {
    send(peer, frames);
    if (done()) return round;
    await tick();
  }
  throw new Error(`condition not met after ${limit} rounds`);
}

Deno.test({
  name: "PMD set: flow changes reach a running PMD; stats, upcalls, clean stop",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { dp, peer1, peer2, ...rig } = openRingDatapath("pm");
    let pmds: PmdSet | undefined;
    try {
      pmds = await PmdSet.start(dp, { reportMs: 5 });
      assert.equal(pmds.threads, 1);
      assert.deepEqual(pmds.stats()[0].rx_queues, ["r1:0", "r2:0"]);
      const frames = Array.from({ length: 16 }, (_, k) => testFrame(k, 64 + k));
      const pmdStats = () => pmds!.stats()[0];

      // No flow yet: everything misses (upcalls disabled: lost), nothing comes out.
      await trafficUntil(peer1, frames, () => pmdStats().misses >= 64);
      assert.equal(receiveCount(peer2), 0);
      assert.equal(dp.poll(), 0, "the control thread leaves PMD ports alone");

      // Install the flow while traffic runs: packets start coming out.
      const { ufid } = dp.putFlow({ flow: FLOW, actions: "2" });
      let arrived = 0;
      await trafficUntil(peer1, frames, () => (arrived += receiveCount(peer2)) > 0);
      assert.ok(arrived > 0);
      await trafficUntil(peer1, frames, () => dp.getFlow(ufid).stats.packets >= 64);
      assert.ok(dp.stats().n_hit >= 64);
      assert.ok(pmdStats().emc_hits + pmdStats().megaflow_hits >= 64);
      assert.ok(pmdStats().packets >= 128);
      assert.ok(pmdStats().busy_ms > 0);
      assert.ok(pmds.lastUpdateDelayMs >= 0);

      // Delete it: once the PMD applied the delete, sent packets miss again.
      const updates = pmdStats().flow_updates;
      dp.deleteFlow(ufid);
      while (pmdStats().flow_updates <= updates) await tick();
      while (receiveCount(peer2) > 0) await tick(); // what was in flight
      const missesBefore = pmdStats().misses;
      send(peer1, frames);
      while (pmdStats().misses < missesBefore + frames.length) await tick();
      assert.equal(receiveCount(peer2), 0);

      // Put/delete repeatedly while traffic runs, measured synchronously on this thread
      // (the PMD runs on its own): put -> first packet out, delete -> packets stop.
      const putDelays: number[] = [];
      const applyDelays: number[] = [];
      for (let rep = 0; rep < 20; rep++) {
        const before = pmdStats().flow_updates;
        const t0 = performance.now();
        const flow = dp.putFlow({ flow: FLOW, actions: "2" });
        let appliedAt = -1;
        for (let spins = 0;; spins++) {
          if (appliedAt < 0 && pmdStats().flow_updates > before) appliedAt = performance.now() - t0;
          send(peer1, frames.slice(0, 4));
          if (receiveCount(peer2) > 0) break;
          assert.ok(spins < 1_000_000, "the flow never took effect");
          await Promise.resolve(); // a control thread is event-driven, not a spin loop
        }
        putDelays.push(performance.now() - t0);
        if (appliedAt >= 0) applyDelays.push(appliedAt);
        const applied = pmdStats().flow_updates;
        dp.deleteFlow(flow.ufid);
        while (pmdStats().flow_updates <= applied) await Promise.resolve();
        await tick();
        while (receiveCount(peer2) > 0) await tick();
      }
      const p50 = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1]?.toFixed(3);
      console.log(
        `over 20 puts while traffic runs: put -> PMD applied p50 ${p50(applyDelays)} ms, ` +
          `put -> first forwarded packet p50 ${p50(putDelays)} ms, max ${
            putDelays.at(-1)!.toFixed(3)
          } ms`,
      );

      // A miss with upcalls enabled reaches the datapath's queue.
      dp.setUpcallsEnabled(true);
      await trafficUntil(peer1, frames.slice(0, 1), () => dp.upcalls.size > 0);
      const [upcall] = dp.upcalls.read(1);
      assert.equal(upcall.type, "miss");
      assert.equal(upcall.inPort, 1);
      assert.deepEqual(upcall.packet, frames[0]);

      await pmds.stop();
      assert.equal(dp.pipeline.counters[1] > 0, true); // n_missed folded in
    } finally {
      await pmds?.stop();
      rig.close();
    }
    rig.assertPoolBalanced();
  },
});

Deno.test({
  name: "PMD set: a PMD that fails is reported, flow changes do not wait for it, mbufs come back",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { dp, peer1, peer2, ...rig } = openRingDatapath("pf");
    let pmds: PmdSet | undefined;
    try {
      pmds = await PmdSet.start(dp, { reportMs: 5, timeoutMs: 5000 });
      const frames = Array.from({ length: 16 }, (_, k) => testFrame(k, 64 + k));
      const { ufid } = dp.putFlow({ flow: FLOW, actions: "2" });
      let arrived = 0;
      await trafficUntil(peer1, frames, () => (arrived += receiveCount(peer2)) > 0);
      assert.equal(pmds.stats()[0].error, null);

      pmds.injectFault(0);
      await trafficUntil(peer1, frames.slice(0, 1), () => pmds!.stats()[0].error !== null);
      assert.match(pmds.stats()[0].error!, /fault injected/);
      assert.throws(() => pmds!.injectFault(1), RangeError);

      // A failed PMD forwards nothing, so a change need not wait for it (before,
      // every change waited out the 5 s timeout and then failed with ENODEV).
      dp.deleteFlow(ufid);
      const t0 = performance.now();
      await pmds.flowsApplied();
      assert.ok(performance.now() - t0 < 1000, "flowsApplied does not wait for a failed PMD");
      await pmds.stop();
      while (receiveCount(peer1) + receiveCount(peer2) > 0) { /* drain the wires */ }
    } finally {
      await pmds?.stop();
      rig.close();
    }
    rig.assertPoolBalanced();
  },
});
