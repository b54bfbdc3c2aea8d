import assert from "node:assert/strict";
import { GROUPS, parseBenchArgs } from "../bench/main.ts";
import { benchPmdUpcall } from "../bench/pmd_upcall_bench.ts";
import { benchPmdUpcallRest } from "../bench/pmd_upcall_rest_bench.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import {
  benchUpcallRead,
  benchUpcallWake,
  latencyRow,
  summarizeLatency,
} from "../bench/upcall_latency_bench.ts";

Deno.test("bench flags: --only=upcall and --only=pmd are groups; pmd runs last", () => {
  assert.equal(parseBenchArgs(["--only=upcall"]).only, "upcall");
  assert.deepEqual(parseBenchArgs(["--quick", "--only=pmd"]), {
    quick: true,
    json: false,
    only: "pmd",
  });
  assert.equal(GROUPS[GROUPS.length - 1], "pmd");
  assert.ok(
    GROUPS.indexOf("matrix") < GROUPS.indexOf("pmd"),
    "the matrix runs before the EAL ends",
  );
  assert.equal(parseBenchArgs(["--only=matrix"]).only, "matrix");
  assert.equal(parseBenchArgs(["--only=install"]).only, "install");
  assert.throws(() => parseBenchArgs(["--only=upcalls"]), TypeError);
});

Deno.test("latency summary: nearest-rank p50 / p99 / max in microseconds", () => {
  // 1..100 us given in milliseconds, shuffled.
  const samples = Float64Array.from({ length: 100 }, (_, i) => ((i * 37) % 100 + 1) / 1000);
  assert.deepEqual(summarizeLatency(samples), { p50: 50, p99: 99, max: 100 });
  assert.deepEqual(summarizeLatency(Float64Array.of(0.0123)), { p50: 12.3, p99: 12.3, max: 12.3 });
  assert.throws(() => summarizeLatency(new Float64Array(0)), RangeError);
  const r = latencyRow("x", Float64Array.of(0.001, 0.003), 0.004);
  assert.equal(r.mpps, 0.5); // 2 upcalls in 4 us
  assert.match(r.note ?? "", /p50=1 p99=3 max=3, n=2/);
});

Deno.test("upcall latency bench: every miss becomes one upcall, read or woken, pool whole", async () => {
  // benchUpcallRead / benchUpcallWake throw on a lost upcall, an extra one or a leak.
  for (const r of [benchUpcallRead(50), await benchUpcallWake(50)]) {
    assert.ok((r.mpps ?? 0) > 0, r.case);
    assert.match(r.note ?? "", /p50=[\d.]+ p99=[\d.]+ max=[\d.]+, n=50,/);
  }
});

Deno.test({
  name: "upcall latency via a PMD Worker: each miss on a DPDK port wakes the consumer once",
  ignore: !dpdkAvailability().available,
  fn: async () => {
    // benchPmdUpcall throws on a missing upcall and (pool.close) on a missing mbuf.
    const [r] = await benchPmdUpcall(5);
    assert.match(r.note ?? "", /p50=[\d.]+ p99=[\d.]+ max=[\d.]+, n=5,/);
    assert.match(r.note ?? "", /PMD Worker/);
    // The split at the PMD's queue time (carried in the upcall's queuedAt).
    assert.match(r.note ?? "", /hops us pmd p50=[\d.]+ p99=[\d.]+, handover p50=[\d.]+ p99=/);
  },
});

Deno.test({
  name: "upcall latency via the service's REST long poll: each miss answers the poll once",
  ignore: !dpdkAvailability().available,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Throws when an answer holds other than the one upcall, or (service stop) on a lost mbuf.
    const [r] = await benchPmdUpcallRest(5);
    assert.match(r.note ?? "", /p50=[\d.]+ p99=[\d.]+ max=[\d.]+, n=5,/);
    assert.match(r.note ?? "", /hops us queued p50=[\d.]+ p99=[\d.]+, rest p50=/);
  },
});
