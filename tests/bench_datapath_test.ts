import assert from "node:assert/strict";
import { buildDatapath, datapathCases, feedBatches, verifyCase } from "../bench/datapath_bench.ts";
import { jsonLine, parseBenchArgs } from "../bench/main.ts";
import { row } from "../bench/report.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { C_RECIRCULATED } from "../datapath/pipeline.ts";
import { BATCH_SIZE, PacketBatch } from "../datapath/packet_batch.ts";

Deno.test("every datapath bench case forwards all its frames: no miss, drop or leak", () => {
  for (const c of datapathCases()) {
    const pool = new MemoryPool({ capacity: 256 });
    const dp = buildDatapath(c, pool);
    try {
      const start = pool.available();
      const batches = Math.min(Math.ceil(c.frames.length / BATCH_SIZE), 40);
      feedBatches(dp, new PacketBatch(pool), new Int32Array(BATCH_SIZE), c.frames, 0, batches);
      verifyCase(dp, c.name, start);
      assert.equal(dp.portStats(2).tx_packets, batches * BATCH_SIZE, c.name);
      if (c.name.includes("pop")) {
        assert.ok(dp.pipeline.counters[C_RECIRCULATED] > 0, "pop recirculates");
      }
    } finally {
      dp.close();
    }
  }
});

Deno.test("verifyCase reports misses and a leaked buffer", () => {
  const c = datapathCases()[0];
  const pool = new MemoryPool({ capacity: 64 });
  const dp = buildDatapath({ ...c, flows: [] }, pool);
  try {
    const start = pool.available();
    feedBatches(dp, new PacketBatch(pool), new Int32Array(BATCH_SIZE), c.frames, 0, 1);
    assert.throws(() => verifyCase(dp, c.name, start), /32 misses/);
    const handle = new Int32Array(1);
    pool.allocBulk(handle, 0, 1);
    assert.throws(() => verifyCase(dp, c.name, start), /pool has/);
    pool.free(handle[0]);
  } finally {
    dp.close();
  }
});

Deno.test("bench flags: --quick, --json, --only; unknown ones are refused", () => {
  assert.deepEqual(parseBenchArgs([]), { quick: false, json: false, only: null });
  assert.deepEqual(parseBenchArgs(["--quick", "--json", "--only=dpdk"]), {
    quick: true,
    json: true,
    only: "dpdk",
  });
  assert.throws(() => parseBenchArgs(["--only=ovs"]), TypeError);
  assert.throws(() => parseBenchArgs(["--fast"]), TypeError);
});

Deno.test("JSON lines carry exactly the public fields, note only when given", () => {
  const fields = [
    "case",
    "mpps",
    "testpmd_mpps",
    "ovs_mpps",
    "ratio_testpmd",
    "ratio_ovs",
    "cycles_per_packet",
  ];
  assert.deepEqual(Object.keys(JSON.parse(jsonLine(row("x", 1.23456)))), fields);
  const withNote = JSON.parse(jsonLine(row("x", 2, "n")));
  assert.deepEqual(Object.keys(withNote), [...fields, "note"]);
  assert.equal(withNote.mpps, 2);
  assert.equal(withNote.ovs_mpps, null);
});
