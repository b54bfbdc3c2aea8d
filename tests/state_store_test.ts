/**
 * The SQLite state store and the restore path of the control layer.
 */

import assert from "node:assert/strict";
import { Control } from "../api/control.ts";
import { StateStore } from "../api/state_store.ts";
import { DatapathRegistry } from "../datapath/registry.ts";

Deno.test("state store: datapaths, ports and flows round-trip, in order, through a file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    let store = StateStore.open(dir);
    assert.equal(store.isInitialized(), false);
    store.addDatapath("dp0");
    store.addDatapath("br1");
    store.addPort("dp0", { name: "p2", type: "dummy", port_no: 2, options: {} });
    store.addPort("dp0", { name: "p1", type: "dummy", port_no: 1, options: { n_rxq: "2" } });
    store.putFlow("dp0", { ufid: "ufid:1", flow: "in_port(1)", actions: "2" });
    store.putFlow("dp0", { ufid: "ufid:2", flow: { in_port: 2 }, actions: [{ output: 1 }] });
    store.putFlow("dp0", { ufid: "ufid:1", flow: "in_port(1)", actions: "3" });
    store.markInitialized();
    store.close();

    store = StateStore.open(dir);
    assert.equal(store.isInitialized(), true);
    const state = store.load();
    assert.deepEqual(state.map((d) => d.name), ["dp0", "br1"]);
    assert.deepEqual(state[0].ports, [
      { name: "p1", type: "dummy", port_no: 1, options: { n_rxq: "2" } },
      { name: "p2", type: "dummy", port_no: 2, options: {} },
    ]);
    assert.deepEqual(state[0].flows, [
      { ufid: "ufid:1", flow: "in_port(1)", actions: "3" },
      { ufid: "ufid:2", flow: { in_port: 2 }, actions: [{ output: 1 }] },
    ]);
    store.removePort("dp0", "p2");
    store.deleteFlow("dp0", "ufid:2");
    store.removeDatapath("br1");
    assert.deepEqual(store.load().map((d) => [d.name, d.ports.length, d.flows.length]), [
      ["dp0", 1, 1],
    ]);
    store.flushFlows("dp0");
    assert.equal(store.load()[0].flows.length, 0);
    store.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("state store: a failed transaction writes nothing", () => {
  const store = StateStore.open(":memory:");
  store.addDatapath("dp0");
  assert.throws(() =>
    store.transaction(() => {
      store.addPort("dp0", { name: "p1", type: "dummy", port_no: 1, options: {} });
      throw new Error("boom");
    }), /boom/);
  assert.equal(store.load()[0].ports.length, 0);
  store.close();
});

Deno.test("control: changes are stored and restored into a fresh registry", () => {
  const store = StateStore.open(":memory:");
  const registry = new DatapathRegistry();
  const control = new Control(registry, { store });
  control.createDatapath("dp0");
  control.addPort("dp0", { name: "p1", type: "dummy", port_no: 1 });
  control.addPort("dp0", { name: "p2", type: "dummy" });
  control.addPort("dp0", { name: "p3", type: "dummy" });
  control.removePort("dp0", "p3");
  const kept = control.putFlow("dp0", { flow: "in_port(1),eth_type(0x0800)", actions: "2" });
  const gone = control.putFlow("dp0", { flow: "in_port(2),eth_type(0x0800)", actions: "1" });
  control.deleteFlow("dp0", gone.ufid);
  control.operate("dp0", [{ op: "put", flow: "in_port(2),eth_type(0x86dd)", actions: "1" }]);
  assert.throws(() => control.addPort("dp0", { name: "p1", type: "dummy" }), /EEXIST/);
  assert.throws(() => control.putFlow("dp0", { flow: "in_port(1),nonsense", actions: "2" }));
  registry.closeAll();

  const fresh = new DatapathRegistry();
  const counts = new Control(fresh).restore(store.load());
  assert.deepEqual(counts, { datapaths: 1, ports: 2, flows: 2 });
  const dp = fresh.open("dp0");
  assert.deepEqual(dp.listPorts().map((p) => [p.name, p.port_no]), [["dp0", 0], ["p1", 1], [
    "p2",
    2,
  ]]);
  assert.equal(dp.getFlow(kept.ufid).actions, "2");
  assert.throws(() => dp.getFlow(gone.ufid), /ENOENT/);
  assert.equal(dp.stats().n_flows, 2);
  fresh.closeAll();
  store.close();
});
