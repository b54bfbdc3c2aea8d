/**
 * `GET|PUT /v1/datapaths/{dp}/pmd` on a datapath with a DPDK port (a
 * net_ring pair): stats of the running PMD, restart with 0 and 2 threads,
 * bad bodies and unknown datapaths refused. Skipped when DPDK is absent.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { call, testApp } from "./api_fixtures.ts";
import { toErrorResponse } from "../api/errors.ts";
import { createLogger } from "../api/logger.ts";
import { pmdRoutes } from "../api/routes/pmd.ts";
import { PmdControl } from "../datapath/pmd_control.ts";
import { DatapathRegistry } from "../datapath/registry.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`PMD route tests skipped: ${availability.reason}`);

Deno.test({
  name: "pmd routes: GET stats, PUT restarts, errors",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    initEal({ memoryMb: 512 });
    registerDpdkPortType();
    const suffix = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
    const pool = MbufPool.create({ name: `pr${Deno.pid}_${suffix}`, capacity: 2047 });
    const start = pool.available();
    const wire = RingPair.create(`pr${Deno.pid}a`, `pr${Deno.pid}b`);
    const registry = new DatapathRegistry({ pool });
    const dp = registry.create("dp9");
    dp.addPort({ name: "r1", type: "dpdk", port_no: 1, options: { devargs: wire.a } });
    const control = new PmdControl(registry, { threads: 1 });
    const app = new Hono();
    app.onError((error, c) => {
      const { status, body } = toErrorResponse(error);
      return c.json(body, status as 400);
    });
    app.route(
      "/v1/datapaths/:dp/pmd",
      pmdRoutes({ logger: createLogger({ write() {} }) }, control),
    );
    const put = (dpName: string, body: unknown) =>
      app.request(`/v1/datapaths/${dpName}/pmd`, {
        method: "PUT",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      });
    try {
      let res = await app.request("/v1/datapaths/dp9/pmd");
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), {
        datapath: "dp9",
        threads: 0,
        emc_entries: 0,
        last_update_delay_ms: -1,
        pmds: [],
      });

      res = await put("dp9", {});
      assert.equal(res.status, 200);
      let json = await res.json();
      assert.equal(json.threads, 1);
      assert.deepEqual(json.pmds[0].rx_queues, ["r1:0"]);
      for (
        const key of ["packets", "batches", "ns_per_packet", "emc_hits", "megaflow_hits", "misses"]
      ) {
        assert.equal(typeof json.pmds[0][key], "number", key);
      }

      res = await put("dp9", { threads: 2 });
      json = await res.json();
      assert.equal(json.threads, 2);
      assert.deepEqual(json.pmds.map((p: { rx_queues: string[] }) => p.rx_queues), [["r1:0"], []]);

      res = await put("dp9", { threads: 1, emc_entries: 1024 });
      json = await res.json();
      assert.equal(json.emc_entries, 1024, "the exact-match cache can be turned on");
      res = await put("dp9", { emc_entries: 1000 });
      assert.equal(res.status, 400, "emc_entries must be a power of two");
      assert.match((await res.json()).error.message, /power of two/);

      res = await put("dp9", { short_nap_us: 100, short_nap_for_ms: 250 });
      assert.equal(res.status, 200);
      assert.equal(control.options("dp9").shortNapUs, 100, "short naps are configurable");
      assert.equal(control.options("dp9").shortNapForMs, 250);
      res = await put("dp9", { short_nap_us: -1 });
      assert.equal(res.status, 400, "a negative nap is refused");
      assert.equal(control.options("dp9").shortNapUs, 100, "a refused PUT changes nothing");

      res = await put("dp9", { threads: 0 });
      assert.equal((await res.json()).threads, 0);

      res = await put("dp9", { threads: "many" });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.code, "EINVAL");
      res = await put("dp9", { bogus: 1 });
      assert.equal(res.status, 400);
      res = await app.request("/v1/datapaths/nope/pmd");
      assert.equal(res.status, 404);
      res = await app.request("/v1/datapaths/dp9/pmd", { method: "DELETE" });
      assert.equal(res.status, 405);
    } finally {
      await control.stopAll();
      registry.closeAll();
      wire.destroy();
    }
    assert.equal(pool.available(), start);
    pool.close();
  },
});

Deno.test("api: /v1/datapaths/{dp}/pmd is mounted by createApp on every backend", async () => {
  const { app, close } = testApp();
  try {
    const got = await call(app, "GET", "/v1/datapaths/dp0/pmd");
    assert.equal(got.status, 200);
    assert.equal(got.json.threads, 0);
    const put = await call(app, "PUT", "/v1/datapaths/dp0/pmd", { threads: 1 });
    assert.equal(put.status, 400, "dummy ports have no mbuf pool for PMD threads");
    assert.equal(put.json.error.code, "EOPNOTSUPP");
    const missing = await call(app, "GET", "/v1/datapaths/nope/pmd");
    assert.equal(missing.status, 404);
  } finally {
    close();
  }
});
