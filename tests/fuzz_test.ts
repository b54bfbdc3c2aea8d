/**
 * The fuzzers in CI: each target for a fixed seed and a bounded number of
 * iterations (a few seconds in all), the regression corpus replayed case by
 * case, and the guard zones of the packet fuzzer's pool shown to catch a
 * stray write. The packet target on DPDK is skipped, with the reason, only
 * when DPDK is absent. Long runs: `deno task fuzz --duration=600`.
 */

import assert from "node:assert/strict";
import { DatapathRegistry } from "../datapath/registry.ts";
import { createApp } from "../api/app.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { checkApiCase, openApiSession } from "../fuzz/api_target.ts";
import { GuardedPool } from "../fuzz/guarded_pool.ts";
import { checkOdpCase, openOdpSession } from "../fuzz/odp_target.ts";
import { dpdkBackend, memoryBackend, type PacketBackend } from "../fuzz/packet_backends.ts";
import { checkPacketCase, openPacketSession } from "../fuzz/packet_target.ts";
import { REGRESSIONS } from "../fuzz/regressions.ts";
import { type FuzzSession, runSession } from "../fuzz/target.ts";
import { failureText } from "../fuzz/main.ts";

const SEED = 20261123;
const dpdk = dpdkAvailability();
if (!dpdk.available) console.log(`DPDK packet fuzzing skipped: ${dpdk.reason}`);

async function runBounded(name: string, session: FuzzSession | string, iterations: number) {
  if (typeof session === "string") throw new Error(`${name} did not open: ${session}`);
  const { summary, failures } = await runSession(name, session, {
    seed: SEED,
    // The iteration count bounds the run; the duration is only a safety net,
    // generous so that a loaded CI machine finishes the same iterations.
    durationMs: 120_000,
    maxIterations: iterations,
  });
  assert.deepEqual(failures.map(failureText), []);
  assert.ok(summary.inputs > 0, `${name} fed nothing`);
  return summary;
}

Deno.test("fuzz packets[memory]: truncation sweep and random frames, every fate counted", async () => {
  const summary = await runBounded("packets[memory]", openPacketSession("memory"), 200);
  assert.equal(summary.iterations, 200);
});

Deno.test({
  name: "fuzz packets[dpdk]: the same over an MbufPool with net_ring / net_null ports",
  ignore: !dpdk.available,
  async fn() {
    await runBounded("packets[dpdk]", openPacketSession("dpdk"), 120);
  },
});

Deno.test("fuzz odp: mutated flow and action text parses and round-trips or is refused", async () => {
  await runBounded("odp", openOdpSession(), 150);
});

Deno.test("fuzz api: bad requests at every endpoint get a 4xx and change nothing", async () => {
  await runBounded("api", openApiSession(), 100);
});

Deno.test("fuzz regressions: every input a fuzzer failed on passes", async () => {
  const backends: PacketBackend[] = [memoryBackend()];
  if (dpdk.available) {
    const b = dpdkBackend();
    if (typeof b !== "string") backends.push(b);
  }
  const registry = new DatapathRegistry();
  const dp = registry.create("dp0");
  for (let i = 1; i <= 3; i++) dp.addPort({ name: `p${i}`, type: "dummy", port_no: i });
  const shutdown = new AbortController();
  const app = createApp({ registry, signal: shutdown.signal });
  try {
    for (const r of REGRESSIONS) {
      const where = `${r.target} ${JSON.stringify(r.input).slice(0, 200)} (${r.bug})`;
      if (r.target === "odp") assert.equal(checkOdpCase(r.input), null, where);
      else if (r.target === "api") {
        assert.equal(await checkApiCase(app, registry, r.input), null, where);
      } else {for (const b of backends) {
          assert.equal(checkPacketCase(b, r.input), null, `${b.name}: ${where}`);
        }}
    }
    // The zero-mask set is refused with a message naming the problem.
    const res = await app.request("/v1/datapaths/dp0/flows", {
      method: "POST",
      body: JSON.stringify({
        flow: "in_port(1),eth(),eth_type(0x1234/0)",
        actions: "set(tcp(src=0/0))",
      }),
    });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /all-zero mask/);
  } finally {
    for (const b of backends) b.close();
    shutdown.abort();
    registry.closeAll();
  }
});

Deno.test("fuzz guarded pool: a write before or after a buffer is found and reported", () => {
  const pool = new GuardedPool({ capacity: 4, bufferSize: 256, headroom: 64 });
  const handles = new Int32Array(4);
  assert.equal(pool.allocBulk(handles, 0, 4), 4);
  const h = handles[2];
  pool.bytes.fill(0, pool.bufferStart(h), pool.bufferEnd(h)); // inside: allowed
  assert.equal(pool.damagedGuard(), null);
  pool.bytes[pool.bufferEnd(h)] = 0; // one past the end
  assert.match(pool.damagedGuard() ?? "", /guard before buffer 3, byte 0/);
  pool.bytes[pool.bufferStart(h) - 1] = 0; // one before the start
  assert.match(pool.damagedGuard() ?? "", /guard before buffer 2, byte 255/);
  assert.equal(pool.damagedGuard(), null, "a reported guard is restored");
  for (const x of handles) pool.free(x);
  assert.equal(pool.available(), 4);
});
