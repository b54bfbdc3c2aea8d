/**
 * Flow churn through a PMD Worker's flow ring on real DPDK (two net_ring
 * pairs), with the ring made tiny (1,024 words) so that both the initial
 * load and every burst of changes overflow it: the start's 2,000 flows are
 * loaded in chunks, then each round deletes and re-puts flows with fresh
 * actions in one synchronous burst; after PmdSet.flowsApplied, packets of
 * deleted flows miss, every live flow forwards with the marks of its latest
 * put (the EMC is on, so reused slots are checked too), and after the stop
 * every mbuf is back in its pool. Skipped (with the reason) only when DPDK
 * is absent.
 */
import assert from "node:assert/strict";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { openRingDatapath } from "./fixtures/ring_datapath.ts";
import { churnActions, churnFrame, churnMatch } from "../tools/flow_churn.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`PMD flow ring DPDK test skipped: ${availability.reason}`);

/** Flow indices (churnMatch / churnFrame of tools/flow_churn.ts). */
const FLOWS = 2000;
/** Flows deleted and put again per round. */
const PER_ROUND = 300;
const ROUNDS = 8;

Deno.test({
  name: "PMD flow ring: churn through a tiny ring on DPDK forwards by the latest puts only",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { dp, peer1, peer2, pool, ...rig } = openRingDatapath("rg");
    const batch = new PacketBatch(pool);
    let pmds: PmdSet | undefined;
    try {
      // Per flow index: its ufid and the sequence number of its live put, or -1.
      const ufid: string[] = new Array(FLOWS).fill("");
      const liveSeq = new Int32Array(FLOWS).fill(-1);
      let seq = 1;
      const put = (i: number) => {
        liveSeq[i] = seq;
        ufid[i] = dp.putFlow({ flow: churnMatch(i), actions: churnActions(i, seq++) }).ufid;
      };
      for (let i = 0; i < FLOWS; i++) put(i);

      pmds = await PmdSet.start(dp, {
        ringWords: 1024,
        emcEntries: 8192,
        reportMs: 5,
        timeoutMs: 30_000, // a loaded CI machine
      });
      const set = pmds;
      const packets = () => set.stats()[0].packets;
      assert.equal(set.stats()[0].flow_updates, FLOWS, "the initial load, every flow once");

      /** Sends one frame per index, waits until the PMD took them all, returns what came out. */
      const probe = async (indices: number[]) => {
        const before = packets();
        for (let k = 0; k < indices.length; k += 32) {
          batch.count = 0;
          for (const i of indices.slice(k, k + 32)) batch.pushCopy(churnFrame(i));
          assert.equal(peer1.transmit(0, batch), 0, "net_ring takes the whole burst");
        }
        const deadline = performance.now() + 5000;
        while (packets() < before + indices.length) {
          assert.ok(performance.now() < deadline, "the PMD did not receive the probe");
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        await set.flowsApplied(); // nothing pending; the probe's outputs are on the ring
        const out: { own: number; marked: number; seq: number }[] = [];
        for (;;) {
          batch.count = 0;
          const n = peer2.receive(0, batch);
          for (let k = 0; k < n; k++) {
            const b = pool.bytes;
            const o = batch.offset[k];
            out.push({
              own: (b[o + 28] << 8) | b[o + 29],
              marked: (b[o + 10] << 8) | b[o + 11],
              seq: ((b[o + 2] << 24) | (b[o + 3] << 16) | (b[o + 4] << 8) | b[o + 5]) >>> 0,
            });
          }
          batch.freeAll();
          if (n === 0) return out;
        }
      };

      let head = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // One burst: delete the PER_ROUND oldest, put them back with fresh actions,
        // and delete another PER_ROUND / 2 for good (re-put next round).
        const again: number[] = [];
        const gone: number[] = [];
        for (let k = 0; k < PER_ROUND; k++) again.push((head + k) % FLOWS);
        for (let k = 0; k < PER_ROUND / 2; k++) gone.push((head + PER_ROUND + k) % FLOWS);
        head = (head + PER_ROUND) % FLOWS;
        for (const i of again) {
          if (liveSeq[i] >= 0) dp.deleteFlow(ufid[i]);
          put(i);
        }
        for (const i of gone) {
          if (liveSeq[i] < 0) continue;
          dp.deleteFlow(ufid[i]);
          liveSeq[i] = -1;
        }
        await set.flowsApplied();
        // Probe every re-put flow, every deleted one, and a sample of the untouched.
        const sample = Array.from(
          { length: 64 },
          (_, k) => (head + PER_ROUND * 2 + k * 13) % FLOWS,
        );
        const indices = [...again, ...gone, ...sample];
        const out = await probe(indices);
        const expected = indices.filter((i) => liveSeq[i] >= 0);
        assert.equal(out.length, expected.length, `round ${round}: one packet out per live flow`);
        for (const p of out) {
          assert.equal(p.marked, p.own, `round ${round}: flow ${p.own} forwarded by its own flow`);
          assert.equal(p.seq, liveSeq[p.own], `round ${round}: flow ${p.own} by its latest put`);
        }
      }
      // Misses reach the shared stats with the PMD's next report.
      const deadline = performance.now() + 5000;
      while (set.stats()[0].misses < ROUNDS * (PER_ROUND / 2)) {
        assert.ok(performance.now() < deadline, "every probe of a deleted flow missed");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(dp.flows.size, FLOWS - PER_ROUND / 2);
      await set.stop();
    } finally {
      await pmds?.stop();
      rig.close();
    }
    rig.assertPoolBalanced();
  },
});
