import assert from "node:assert/strict";
import {
  buildDatapath,
  type DatapathCase,
  feedBatches,
  maskedFlowAt,
  MAX_MASKS,
  udpFlowFrames,
  verifyCase,
} from "../bench/datapath_bench.ts";
import { benchFlowInstall } from "../bench/flow_install_bench.ts";
import { jsonLine } from "../bench/main.ts";
import {
  flowLines,
  matrixCases,
  ourEmcEntries,
  TRAFFIC_PACKETS,
  trafficFrames,
} from "../bench/matrix_cases.ts";
import { parsePmdStats } from "../bench/ovs_dpdk_peer.ts";
import { runOurCase } from "../bench/pmd_case_runner.ts";
import { formatTable, median, row, valueRow } from "../bench/report.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { BATCH_SIZE, PacketBatch } from "../datapath/packet_batch.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { threadAffinity } from "../ffi/thread_affinity.ts";
import { writePcap } from "./fixtures/pcap.ts";

/** Runs a case's flows and frames through a memory datapath: no miss, drop or leak. */
function forwardsAll(c: DatapathCase, batches: number): void {
  const pool = new MemoryPool({ capacity: 256 });
  const dp = buildDatapath(c, pool);
  try {
    const start = pool.available();
    feedBatches(dp, new PacketBatch(pool), new Int32Array(BATCH_SIZE), c.frames, 0, batches);
    verifyCase(dp, c.name, start);
    assert.equal(dp.portStats(2).tx_packets, batches * BATCH_SIZE, c.name);
  } finally {
    dp.close();
  }
}

Deno.test("median: odd and even counts, unsorted input kept; none is a RangeError", () => {
  const values = [3, 1, 2];
  assert.equal(median(values), 2);
  assert.deepEqual(values, [3, 1, 2]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), RangeError);
});

Deno.test("value rows: mpps null, value and unit in the table and the JSON line", () => {
  const r = valueRow("memory: bytes per flow", 412, "B/flow", "n");
  assert.equal(r.mpps, null);
  const json = JSON.parse(jsonLine(r));
  assert.equal(json.mpps, null);
  assert.equal(json.value, 412);
  assert.equal(json.unit, "B/flow");
  assert.deepEqual(Object.keys(json).slice(0, 7), [
    "case",
    "mpps",
    "testpmd_mpps",
    "ovs_mpps",
    "ratio_testpmd",
    "ratio_ovs",
    "cycles_per_packet",
  ]);
  assert.match(formatTable([r, row("x", 1.5)]), /412 B\/flow/);
  assert.equal(JSON.parse(jsonLine(row("x", 1))).value, undefined);
});

Deno.test("masked flows: k masks give k distinct masks and every frame hits its flow", () => {
  for (const masks of [1, 4, 10, 16, MAX_MASKS]) {
    const flows = Array.from({ length: 256 }, (_, i) => maskedFlowAt(i, masks, "2"));
    const distinct = new Set(flows.map(([m]) =>
      m.replace(/src=10\.[\d.]+,/, "").replace(
        /udp\(src=\d+\//,
        "udp(/",
      ).replace(/dst=\d+\//, "dst=/")
    ));
    assert.equal(distinct.size, masks, `${masks} masks`);
    forwardsAll({ name: `${masks} masks`, note: "", flows, frames: udpFlowFrames(256) }, 8);
  }
  assert.throws(() => maskedFlowAt(0, 0, "2"), RangeError);
  assert.throws(() => maskedFlowAt(0, MAX_MASKS + 1, "2"), RangeError);
});

Deno.test("matrix cases: names unique; each case up to 10k flows forwards its traffic", () => {
  const cases = matrixCases();
  const names = cases.flatMap((c) => [c.name, ...(c.alsoCurve ?? [])]);
  assert.equal(new Set(names).size, names.length);
  for (const n of [1, 1000, 10_000, 100_000, 1_000_000]) {
    assert.ok(cases.some((c) => c.flowCount === n && c.name.includes("flow")), `${n} flows`);
  }
  // OpenFlow forms (OVS bridge mode) name the same source address and port as the flow.
  for (const c of cases.filter((c) => c.openflowAt !== undefined)) {
    for (const i of [0, 1, c.flowCount - 1]) {
      const [match] = c.flowAt(i);
      const rule = c.openflowAt!(i);
      const src = /ipv4\(src=([\d.]+)/.exec(match)![1];
      const port = /udp\(src=(\d+)\)/.exec(match)![1];
      assert.ok(rule.includes(`nw_src=${src},tp_src=${port},`), `${match} vs ${rule}`);
    }
  }
  const framesOf = new Map<string, Uint8Array[]>();
  for (const c of cases.filter((c) => c.flowCount <= 10_000)) {
    let frames = framesOf.get(c.traffic);
    if (frames === undefined) {
      frames = trafficFrames(c.traffic);
      assert.equal(frames.length, TRAFFIC_PACKETS[c.traffic]);
      framesOf.set(c.traffic, frames);
    }
    const flows = Array.from({ length: c.flowCount }, (_, i) => c.flowAt(i));
    const lines = [...flowLines(c)];
    assert.equal(lines.length, c.flowCount);
    assert.equal(lines[0], flows[0].join(" "));
    forwardsAll({ name: c.name, note: "", flows, frames, emcEntries: ourEmcEntries(c) }, 4);
  }
});

Deno.test("OVS pmd-stats-show: the PMD thread's section, not the main thread's", () => {
  const text = `pmd thread numa_id 0 core_id 1:
  packets received: 19032256
  packet recirculations: 0
  emc hits: 15000000
  smc hits: 0
  megaflow hits: 5000000
  avg. subtable lookups per megaflow hit: 5.41
  miss with success upcall: 3
  miss with failed upcall: 4
  avg cycles per packet: 276.29 (5258449689/19032256)
main thread:
  emc hits: 1
  megaflow hits: 0
  avg cycles per packet: 9.00 (9/1)
`;
  const figures = parsePmdStats(text, [1, 2]);
  assert.deepEqual(figures, {
    mpps: [1, 2],
    cyclesPerPacket: 276.29,
    subtableLookups: 5.41,
    emcHitRatio: 0.75,
    misses: 7,
  });
  const idle = parsePmdStats("main thread:\n  emc hits: 0\n", []);
  assert.equal(idle.cyclesPerPacket, null);
  assert.equal(idle.emcHitRatio, null);
});

Deno.test({
  name: "matrix on DPDK: one case through a PMD Worker forwards, no miss, every mbuf back",
  ignore: !dpdkAvailability().available,
  fn: async () => {
    const cpus = threadAffinity();
    initEal({ cores: [cpus[0]] });
    registerDpdkPortType();
    const dir = Deno.makeTempDirSync({ prefix: "dpif_matrix_test_" });
    const pool = MbufPool.create({ capacity: 4095 });
    try {
      const c = matrixCases().find((c) => c.name === "(5) set(ipv4(src,ttl))+output")!;
      const pcap = `${dir}/udp1k.pcap`;
      writePcap(pcap, trafficFrames(c.traffic));
      const figures = await runOurCase(c, {
        pool,
        pcap,
        pmdCpu: cpus[1] ?? cpus[0],
        seconds: 0.3,
        runs: 2,
        warmupSeconds: 0.2,
        tag: `t${Deno.pid % 100000}_${Date.now() % 100000}`,
      });
      assert.equal(figures.mpps.length, 2);
      assert.ok(figures.mpps.every((x) => x > 0), JSON.stringify(figures));
      if (ourEmcEntries(c) === 0) assert.equal(figures.emcHitRatio, 0, "the EMC is off");
      else assert.ok(figures.emcHitRatio > 0.9, "1,000 flows fit the EMC");
      assert.ok(figures.nsPerPacket > 0);
    } finally {
      assert.equal(pool.inUse(), 0);
      pool.close();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

if (!dpdkAvailability().available) {
  console.log(`bench matrix DPDK test skipped: ${dpdkAvailability().reason}`);
}

Deno.test("flow install bench: the service takes every batched put over HTTP", async () => {
  // benchFlowInstall throws when a put fails or dp0 holds fewer flows than were put.
  const [r] = await benchFlowInstall(3000);
  assert.equal(r.unit, "flows/s");
  assert.ok((r.value ?? 0) > 0 && (r.mpps ?? 0) > 0, JSON.stringify(r));
  assert.match(r.note ?? "", /3000 exact-match flows, 1024 puts per POST/);
});
