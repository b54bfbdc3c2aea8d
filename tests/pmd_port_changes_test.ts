/**
 * Port changes while PMD threads run (PmdControl.changePorts, through the
 * REST API): a `dpdk` port added over REST is polled and is a valid output
 * at once, without `PUT .../pmd`; a port removed under traffic is closed
 * only after the PMDs stopped, the other ports keep forwarding and nothing
 * is counted under the removed port's number, even when a new port reuses
 * its ethdev id; a restart that fails leaves the change standing and says
 * so (`pmd_restart_error`, 0 threads) until a later change lets it start;
 * deleting a datapath stops its PMDs first. Real DPDK (net_ring pairs,
 * net_null); every mbuf is back afterwards. Skipped when DPDK is absent.
 * Without PMDs (dummy backend) port changes work as before.
 */
import assert from "node:assert/strict";
import { call, testApp } from "./api_fixtures.ts";
import { testFrame } from "./port_conformance.ts";
import { createApp, type DpifApp } from "../api/app.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { PmdControl } from "../datapath/pmd_control.ts";
import { DatapathRegistry } from "../datapath/registry.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`PMD port change tests skipped: ${availability.reason}`);

const tag = () => `${Deno.pid}_${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));
const FRAMES = Array.from({ length: 8 }, (_, k) => testFrame(k, 64 + k));

/** Sends FRAMES on a test-side port (what the pool can hold). */
function send(port: DpdkPort): void {
  const batch = new PacketBatch(port.pool);
  for (const frame of FRAMES) if (batch.pushCopy(frame) < 0) break;
  port.transmit(0, batch);
}

/** Frames waiting on a test-side port, received and freed. */
function drain(port: DpdkPort): number {
  const batch = new PacketBatch(port.pool);
  let total = 0;
  for (let n = port.receive(0, batch); n > 0; n = port.receive(0, batch)) {
    total += n;
    batch.freeAll();
  }
  return total;
}

/** Sends on `from` until `to` has received `count` frames; returns how many arrived. */
async function forwarded(from: DpdkPort, to: DpdkPort, count = 64): Promise<number> {
  let arrived = 0;
  for (let round = 0; round < 3000 && arrived < count; round++) {
    send(from);
    await tick();
    arrived += drain(to);
  }
  assert.ok(arrived >= count, `only ${arrived} of ${count} frames forwarded`);
  return arrived;
}

function invalidPortDrops(app: DpifApp, dp: string): number {
  return app.context.control.open(dp).stats().drops.invalid_port;
}

function ethdevId(app: DpifApp, dp: string, name: string): number {
  const port = app.context.control.open(dp).ports.dump().find((p) => p.name === name);
  assert.ok(port instanceof DpdkPort, `${name} is a dpdk port`);
  return port.portId;
}

/** Port numbers any PMD reported counters for (GET .../pmd). */
async function pmdPortNumbers(app: DpifApp, dp: string): Promise<number[]> {
  const pmd = (await call(app, "GET", `/v1/datapaths/${dp}/pmd`)).json;
  return pmd.pmds.flatMap((p: { ports: { port_no: number }[] }) => p.ports.map((x) => x.port_no));
}

Deno.test({
  name: "pmd port changes: add is polled and an output at once, remove under traffic, id reuse",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    initEal({ memoryMb: 512 });
    registerDpdkPortType();
    const pool = MbufPool.create({ name: `pc${tag()}`, capacity: 4095 });
    const start = pool.available();
    const id = `pc${Deno.pid}`;
    const wires = [1, 2, 3].map((n) => RingPair.create(`${id}${n}a`, `${id}${n}b`, 512));
    const peers = wires.map((w, n) => DpdkPort.open(`peer${n + 1}`, { devargs: w.b }, pool));
    let wire4: RingPair | undefined;
    let peer4: DpdkPort | undefined;
    const registry = new DatapathRegistry({ pool });
    const pmds = new PmdControl(registry, { threads: 1, reportMs: 5, timeoutMs: 30_000 });
    const app = createApp({ registry, pmdControl: pmds });
    /** Replaces the flows; resolves once the PMDs applied the change. */
    const flows = async (actions: Record<number, string>) => {
      const dp = registry.open("dpc");
      dp.flushFlows();
      for (const [inPort, out] of Object.entries(actions)) {
        dp.putFlow({ flow: `in_port(${inPort}),eth(),eth_type(0x0800)`, actions: out });
      }
      await pmds.get("dpc")?.flowsApplied();
    };
    try {
      const dp = registry.create("dpc");
      dp.addPort({ name: "r1", type: "dpdk", port_no: 1, options: { devargs: wires[0].a } });
      dp.addPort({ name: "r2", type: "dpdk", port_no: 2, options: { devargs: wires[1].a } });
      await pmds.configure("dpc", {});
      await flows({ 1: "3", 3: "2" });

      // Output to a port that does not exist yet: counted drops.
      const before = invalidPortDrops(app, "dpc");
      for (let i = 0; i < 200 && invalidPortDrops(app, "dpc") === before; i++) {
        send(peers[0]);
        await tick();
      }
      assert.ok(invalidPortDrops(app, "dpc") > before, "output to a missing port is counted");

      // Add r3 over REST while the PMD runs: no PUT .../pmd needed.
      let t0 = performance.now();
      const added = await call(app, "POST", "/v1/datapaths/dpc/ports", {
        name: "r3",
        type: "dpdk",
        port_no: 3,
        options: { devargs: wires[2].a },
      });
      const addMs = performance.now() - t0;
      assert.equal(added.status, 201, added.text);
      assert.equal(added.json.pmd_restart_error, undefined);
      const pmd = (await call(app, "GET", "/v1/datapaths/dpc/pmd")).json;
      assert.equal(pmd.threads, 1);
      assert.deepEqual(pmd.pmds[0].rx_queues, ["r1:0", "r2:0", "r3:0"]);
      const dropsAfterAdd = invalidPortDrops(app, "dpc");
      await forwarded(peers[0], peers[2]); // output to the new port
      await forwarded(peers[2], peers[1]); // the new port is polled
      assert.equal(invalidPortDrops(app, "dpc"), dropsAfterAdd, "no output counted as invalid");

      // A second port on r1's device is refused and leaves r1 (and the PMD) alone.
      const twin = await call(app, "POST", "/v1/datapaths/dpc/ports", {
        name: "r1twin",
        type: "dpdk",
        options: { devargs: wires[0].a },
      });
      assert.equal(twin.status, 409, twin.text);
      assert.equal(twin.json.error.code, "EBUSY");
      assert.equal((await call(app, "GET", "/v1/datapaths/dpc/pmd")).json.threads, 1);
      await forwarded(peers[0], peers[2]);

      // Remove r3 while traffic flows into and out of it.
      await flows({ 1: "3,2", 3: "2" });
      let stopPump = false;
      let atPeer2 = 0;
      let sendOnPeer3 = true;
      const pump = (async () => {
        while (!stopPump) {
          send(peers[0]);
          if (sendOnPeer3) send(peers[2]);
          await tick();
          atPeer2 += drain(peers[1]);
          drain(peers[2]);
        }
      })();
      await forwarded(peers[2], peers[1], 16); // both directions flowing
      const r3Id = ethdevId(app, "dpc", "r3");
      t0 = performance.now();
      const deleting = call(app, "DELETE", "/v1/datapaths/dpc/ports/r3");
      sendOnPeer3 = false; // r3's rx ring is drained when it closes; nothing may land after
      const removed = await deleting;
      const removeMs = performance.now() - t0;
      assert.equal(removed.status, 204, removed.text);
      const forwardedBefore = atPeer2;
      for (let i = 0; i < 3000 && atPeer2 < forwardedBefore + 64; i++) await tick();
      assert.ok(atPeer2 >= forwardedBefore + 64, "r1 -> r2 keeps forwarding after the remove");
      stopPump = true;
      await pump;
      const after = (await call(app, "GET", "/v1/datapaths/dpc/pmd")).json;
      assert.equal(after.threads, 1);
      assert.deepEqual(after.pmds[0].rx_queues, ["r1:0", "r2:0"]);
      assert.ok(!(await pmdPortNumbers(app, "dpc")).includes(3), "no PMD counts port 3");

      // A new port on the freed ethdev id is known under its own number.
      drain(peers[2]);
      peers[2].close();
      wires[2].destroy();
      wire4 = RingPair.create(`${id}4a`, `${id}4b`, 512);
      peer4 = DpdkPort.open("peer4", { devargs: wire4.b }, pool);
      const readded = await call(app, "POST", "/v1/datapaths/dpc/ports", {
        name: "r4",
        type: "dpdk",
        port_no: 4,
        options: { devargs: wire4.a },
      });
      assert.equal(readded.status, 201, readded.text);
      const r4Id = ethdevId(app, "dpc", "r4");
      assert.equal(r4Id, r3Id, "DPDK hands out the lowest free ethdev id: r3's");
      await flows({ 1: "2", 4: "2" }); // a stale in_port(3) would miss
      drain(peers[1]);
      const missesBefore = dp.stats().n_missed;
      await forwarded(peer4, peers[1]);
      assert.equal(dp.stats().n_missed, missesBefore, "r4's packets match in_port(4)");
      for (let i = 0; i < 500 && dp.portStats(4).rx_packets < 64; i++) await tick();
      assert.ok(dp.portStats(4).rx_packets >= 64, "counted under port 4");
      const numbers = await pmdPortNumbers(app, "dpc");
      assert.ok(numbers.includes(4) && !numbers.includes(3), `PMD ports ${numbers}`);
      console.log(
        `port add with PMD restart ${addMs.toFixed(1)} ms, remove ${removeMs.toFixed(1)} ms`,
      );
    } finally {
      await pmds.stopAll();
      registry.closeAll();
      for (const peer of [...peers, peer4]) {
        if (peer !== undefined) {
          drain(peer);
          peer.close();
        }
      }
      for (const wire of [...wires, wire4]) wire?.destroy();
    }
    assert.equal(pool.available(), start, "every mbuf is back");
    pool.close();
  },
});

Deno.test({
  name: "pmd port changes: a failed restart is reported, retried on the next change; dp delete",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    initEal({ memoryMb: 512 });
    registerDpdkPortType();
    const pool = MbufPool.create({ name: `pf${tag()}`, capacity: 2047 });
    const start = pool.available();
    const id = tag();
    const registry = new DatapathRegistry({ pool });
    const pmds = new PmdControl(registry, { threads: 2, reportMs: 5, timeoutMs: 30_000 });
    const app = createApp({ registry, pmdControl: pmds });
    const nullPort = (name: string, txq: number) => ({
      name,
      type: "dpdk",
      options: { devargs: `net_null_${name}${id},no-rx=1`, n_txq: String(txq) },
    });
    try {
      registry.create("dpf");
      for (const name of ["n1", "n2"]) {
        const res = await call(app, "POST", "/v1/datapaths/dpf/ports", nullPort(name, 2));
        assert.equal(res.status, 201, res.text);
      }
      await pmds.configure("dpf", {});
      assert.equal(pmds.get("dpf")?.threads, 2);

      // Two polling PMDs need two tx queues on every port: the restart fails, the port stays.
      const bad = await call(app, "POST", "/v1/datapaths/dpf/ports", nullPort("n3", 1));
      assert.equal(bad.status, 201, bad.text);
      assert.equal(bad.json.name, "n3");
      assert.equal(bad.json.pmd_restart_error.code, "EINVAL");
      assert.match(bad.json.pmd_restart_error.message, /n3 has 1 tx queues/);
      assert.equal((await call(app, "GET", "/v1/datapaths/dpf/pmd")).json.threads, 0);
      assert.equal((await call(app, "GET", "/v1/datapaths/dpf/ports/n3")).status, 200);

      // Other changes do not help: each says so; a DELETE answers 200 with the port.
      const other = await call(app, "POST", "/v1/datapaths/dpf/ports", nullPort("n5", 2));
      assert.equal(other.status, 201, other.text);
      assert.equal(other.json.pmd_restart_error.code, "EINVAL");
      const otherGone = await call(app, "DELETE", "/v1/datapaths/dpf/ports/n5");
      assert.equal(otherGone.status, 200, otherGone.text);
      assert.equal(otherGone.json.name, "n5");
      assert.equal(otherGone.json.pmd_restart_error.code, "EINVAL");
      assert.equal((await call(app, "GET", "/v1/datapaths/dpf/ports/n5")).status, 404);
      assert.equal((await call(app, "GET", "/v1/datapaths/dpf/pmd")).json.threads, 0);

      // Removing the port that stood in the way starts them again.
      const removed = await call(app, "DELETE", "/v1/datapaths/dpf/ports/n3");
      assert.equal(removed.status, 204, removed.text);
      assert.equal((await call(app, "GET", "/v1/datapaths/dpf/pmd")).json.threads, 2);

      // A port change the datapath refuses leaves the PMDs as they were.
      const dup = await call(app, "POST", "/v1/datapaths/dpf/ports", nullPort("n1", 2));
      assert.equal(dup.status, 409, dup.text);
      assert.equal((await call(app, "GET", "/v1/datapaths/dpf/pmd")).json.threads, 2);
      const missing = await call(app, "DELETE", "/v1/datapaths/dpf/ports/nope");
      assert.equal(missing.status, 404);
      assert.equal((await call(app, "GET", "/v1/datapaths/dpf/pmd")).json.threads, 2);

      // Deleting the datapath stops its PMDs before the ports close; a new one starts without.
      const deleted = await call(app, "DELETE", "/v1/datapaths/dpf");
      assert.equal(deleted.status, 204, deleted.text);
      assert.equal((await call(app, "POST", "/v1/datapaths", { name: "dpf" })).status, 201);
      const fresh = await call(app, "POST", "/v1/datapaths/dpf/ports", nullPort("n4", 2));
      assert.equal(fresh.status, 201, fresh.text);
      assert.equal((await call(app, "GET", "/v1/datapaths/dpf/pmd")).json.threads, 0);
    } finally {
      await pmds.stopAll();
      registry.closeAll();
    }
    assert.equal(pool.available(), start, "every mbuf is back");
    pool.close();
  },
});

Deno.test("pmd port changes: without PMDs (dummy backend) add and remove work as before", async () => {
  const { app, close } = testApp();
  try {
    // A PUT that fails (no mbuf pool) leaves no PMDs to restart.
    assert.equal((await call(app, "PUT", "/v1/datapaths/dp0/pmd", { threads: 1 })).status, 400);
    const added = await call(app, "POST", "/v1/datapaths/dp0/ports", { name: "p9", type: "dummy" });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.json.name, "p9");
    assert.equal(added.json.pmd_restart_error, undefined);
    const port = (await call(app, "GET", "/v1/datapaths/dp0/ports/p9")).json;
    assert.equal(port.port_no, added.json.port_no);
    const removed = await call(app, "DELETE", `/v1/datapaths/dp0/ports/${port.port_no}`);
    assert.equal(removed.status, 204);
    assert.equal((await call(app, "GET", "/v1/datapaths/dp0/ports/p9")).status, 404);
    assert.equal((await call(app, "DELETE", "/v1/datapaths/dp0/ports/p9")).status, 404);
    assert.equal((await call(app, "DELETE", "/v1/datapaths/nope/ports/p1")).status, 404);
    assert.equal((await call(app, "GET", "/v1/datapaths/dp0/pmd")).json.threads, 0);
    assert.equal((await call(app, "DELETE", "/v1/datapaths/dp0")).status, 204);
    assert.equal((await call(app, "DELETE", "/v1/datapaths/dp0")).status, 404);
  } finally {
    close();
  }
});

Deno.test("openapi: lists GET and PUT /v1/datapaths/{dp}/pmd with the PUT body schema", async () => {
  const { app, close } = testApp();
  try {
    const spec = (await call(app, "GET", "/openapi.json")).json;
    const pmd = spec.paths["/v1/datapaths/{dp}/pmd"];
    assert.ok(pmd?.get, "GET listed");
    const schema = pmd?.put?.requestBody?.content["application/json"].schema;
    assert.ok(schema?.properties?.threads, "PUT body has threads");
    assert.ok(schema?.properties?.emc_entries, "PUT body has emc_entries");
  } finally {
    close();
  }
});
