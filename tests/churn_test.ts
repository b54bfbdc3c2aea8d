/**
 * Flow churn on real DPDK (tools/flow_churn.ts, a short run): batched puts
 * and deletes through Datapath.operate while a PMD Worker forwards a
 * net_pcap replay and the control thread dumps the table. No operation
 * fails, every dumped entry parses back, no captured packet followed a
 * flow deleted (and acknowledged by the PMD, PmdSet.flowsApplied) before
 * it arrived or a flow of another key, and every mbuf is back in the pool.
 * Skipped (with the reason) only when DPDK is absent.
 */
import assert from "node:assert/strict";
import { dpdkAvailability } from "../ffi/loader.ts";
import {
  churnActions,
  churnFrame,
  churnMatch,
  malformedFlow,
  runFlowChurn,
} from "../tools/flow_churn.ts";
import { parseActions } from "../datapath/odp/action_parse.ts";
import { Datapath } from "../datapath/datapath.ts";
import { createApp } from "../api/app.ts";
import { PmdControl } from "../datapath/pmd_control.ts";
import { DatapathRegistry } from "../datapath/registry.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`churn test skipped: ${availability.reason}`);

Deno.test("churn marks name the flow and the put; frames match their flow", () => {
  const dp = new Datapath("churnmark");
  try {
    dp.addPort({ name: "a", type: "dummy", port_no: 1 });
    dp.addPort({ name: "b", type: "dummy", port_no: 2 });
    dp.putFlow({ flow: churnMatch(300), actions: churnActions(300, 0x01020304) });
    assert.ok(dp.receive(1, churnFrame(300)));
    assert.ok(dp.receive(1, churnFrame(301)), "a miss is taken (and lost: upcalls off)");
    const [out, ...rest] = dp.dummyPort(2).transmitted();
    assert.equal(rest.length, 0, "only flow 300 forwards");
    assert.deepEqual([...out.subarray(0, 6)], [2, 0, 1, 2, 3, 4], "dst: the put's sequence");
    assert.deepEqual([...out.subarray(10, 12)], [1, 44], "src: flow index 300");
    assert.equal((out[28] << 8) | out[29], 300, "its own IPv4 source names flow 300");
  } finally {
    dp.close();
  }
});

Deno.test("malformedFlow accepts dumped flows and names broken ones", () => {
  assert.equal(malformedFlow({ ufid: "u", flow: churnMatch(1), actions: "2" }), null);
  assert.equal(parseActions(churnActions(1, 7)).length, 2);
  assert.match(String(malformedFlow({ ufid: "u", flow: "in_port(", actions: "2" })), /^u: /);
  assert.equal(malformedFlow({ flow: churnMatch(1), actions: "2" }), "no ufid");
});

Deno.test({
  name: "flow churn under traffic: no wrong forwarding, dumps parse, no leak",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const result = await runFlowChurn({ seconds: 3, rate: 100_000, batch: 512 });
    assert.ok(result !== null);
    console.log(JSON.stringify(result));
    assert.equal(result.failed_ops, 0);
    assert.ok(result.puts >= 256 && result.deletes >= 256, "churned at least one batch");
    assert.equal(result.malformed, 0, result.first_violation ?? "");
    assert.equal(result.violations, 0, result.first_violation ?? "");
    assert.ok(result.captured > 0, "forwarded packets were checked");
    assert.ok(result.dumped_flows > 0);
    assert.equal(result.mbufs_leaked, 0, "every mbuf back in the pool");
  },
});

Deno.test({
  name: "flow churn, deletes claimed before the PMD applied them: the check catches it",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // The negative control: a delete taken as done before the PMD applied it must fail.
    const result = await runFlowChurn({
      seconds: 1,
      rate: 100_000,
      batch: 256,
      claimEarly: true,
    });
    assert.ok(result !== null);
    console.log(JSON.stringify(result));
    assert.ok(result.violations > 0, "packets that followed deleted flows were caught");
    assert.match(String(result.first_violation), /followed deleted put/);
    assert.equal(result.mbufs_leaked, 0);
  },
});

Deno.test({
  name: "REST flow changes answer only after the PMD applied them (PmdSet.flowsApplied)",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    initEal({ memoryMb: 512 });
    registerDpdkPortType();
    const tag = `ca${Deno.pid % 100000}_${crypto.getRandomValues(new Uint32Array(1))[0] % 100000}`;
    const pool = MbufPool.create({ name: tag, capacity: 1023 });
    const registry = new DatapathRegistry({ pool });
    const dp = registry.create("dpack");
    dp.addPort({
      name: "n1",
      type: "dpdk",
      port_no: 1,
      options: { devargs: `net_null_${tag},no-rx=1` },
    });
    // The PMD naps when idle (woken by each change): without the acknowledgement the
    // answer would come back before it has applied anything.
    const pmdControl = new PmdControl(registry, { idleIterationsBeforeNap: 64, napMs: 20 });
    const app = createApp({ registry, pmdControl });
    const json = (method: string, path: string, body: unknown) =>
      app.request(`/v1/datapaths/dpack${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    try {
      const set = (await pmdControl.configure("dpack", { threads: 1 }))!;
      const applied = () => set.stats()[0].flow_updates;
      let sent = applied();
      for (let round = 0; round < 20; round++) {
        let res = await json("POST", "/flows", { flow: churnMatch(round), actions: "1" });
        assert.equal(res.status, 201);
        const { ufid } = await res.json();
        assert.equal(applied(), ++sent, "put applied by the PMD when POST answers");
        res = await app.request(`/v1/datapaths/dpack/flows/${ufid}`, { method: "DELETE" });
        assert.equal(res.status, 200);
        assert.equal(applied(), ++sent, "delete applied by the PMD when DELETE answers");
      }
      const ops = Array.from({ length: 50 }, (_, i) => ({
        op: "put",
        flow: churnMatch(100 + i),
        actions: "1",
      }));
      const res = await json("POST", "/operate", { ops });
      assert.equal(res.status, 200);
      assert.equal(applied(), sent + 50, "a whole operate batch applied when it answers");
      await pmdControl.stopAll();
    } finally {
      await pmdControl.stopAll();
      registry.closeAll();
    }
    assert.equal(pool.inUse(), 0, "every mbuf back in the pool");
    pool.close();
  },
});
