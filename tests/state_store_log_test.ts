/**
 * The state store's flow log (api/state_store.ts): batches stored as one
 * record each and replayed on restore, compaction (by hand and automatic),
 * the move from the row-per-flow table of earlier versions, and what a
 * kill -9 in the middle of a batch or a torn WAL tail leaves behind.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Control } from "../api/control.ts";
import { STATE_FILE, StateStore, type StoredDatapath } from "../api/state_store.ts";
import { DatapathRegistry } from "../datapath/registry.ts";

/** ODP text of flow `j` (distinct for j below 65536). */
function flowText(j: number): string {
  return `in_port(1),eth(),eth_type(0x0800),ipv4(src=10.1.${j >> 8}.${j & 255},frag=no)`;
}

function withDir(body: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "dpif-log-" });
    try {
      await body(dir);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

/** Flow text and actions of every flow, by UFID, as the datapath shows them. */
function flowsOf(registry: DatapathRegistry, dp: string): Map<string, [string, string]> {
  const shown = new Map<string, [string, string]>();
  const datapath = registry.open(dp);
  for (const flow of datapath.dumpFlows(null, 10000).flows) {
    shown.set(flow.ufid, [flow.flow, flow.actions]);
  }
  return shown;
}

function restored(stored: StoredDatapath[]): DatapathRegistry {
  const registry = new DatapathRegistry();
  new Control(registry).restore(stored);
  return registry;
}

Deno.test(
  "flow log: operate batches (puts, replacements, deletes) come back after a restart",
  withDir((dir) => {
    let store = StateStore.open(dir);
    const registry = new DatapathRegistry();
    const control = new Control(registry, { store });
    control.createDatapath("dp0");
    for (let i = 1; i <= 4; i++) control.addPort("dp0", { name: `p${i}`, type: "dummy" });
    const ufids: string[] = [];
    for (let batch = 0; batch < 5; batch++) {
      const ops = [];
      for (let j = batch * 100; j < batch * 100 + 100; j++) {
        ops.push({ op: "put" as const, flow: flowText(j), actions: String(1 + (j & 3)) });
      }
      for (const r of control.operate("dp0", ops)) {
        assert.ok(r.ok);
        ufids.push((r.result as { ufid: string }).ufid);
      }
    }
    // One batch mixing a delete, a modification, a failing op and a new flow.
    const mixed = control.operate("dp0", [
      { op: "del", ufid: ufids[3].toUpperCase().replace("UFID:", "") },
      { op: "put", flow: flowText(7), actions: "set(ipv4(ttl=9)),4", create: false, modify: true },
      { op: "put", flow: flowText(8), actions: "2" }, // exists: EEXIST, not stored
      { op: "put", flow: flowText(600), actions: "1,2" },
    ]);
    assert.deepEqual(mixed.map((r) => r.ok), [true, true, false, true]);
    control.flushFlows("dp0");
    control.operate("dp0", [{ op: "put", flow: flowText(1), actions: "3" }]);
    for (let j = 0; j < 500; j += 50) {
      control.operate("dp0", [{ op: "put", flow: flowText(j + 1000), actions: "1" }]);
    }
    const expected = flowsOf(registry, "dp0");
    assert.equal(expected.size, 11);
    registry.closeAll();
    store.close();

    store = StateStore.open(dir);
    const loaded = store.load();
    const fresh = restored(loaded);
    assert.deepEqual(flowsOf(fresh, "dp0"), expected);
    // Insertion order is kept.
    assert.equal(loaded[0].flows[0].flow, flowText(1));
    fresh.closeAll();
    store.close();
  }),
);

Deno.test(
  "flow log: compaction keeps every live flow, in order, and shrinks the log",
  withDir((dir) => {
    const store = StateStore.open(dir);
    store.addDatapath("dp0");
    store.addDatapath("dp1");
    for (let j = 0; j < 50; j++) {
      store.recordFlowChanges("dp0", [{
        op: "put",
        ufid: `ufid:${j}`,
        flow: flowText(j),
        actions: "1",
      }]);
    }
    store.recordFlowChanges("dp1", [{
      op: "put",
      ufid: "ufid:x",
      flow: { in_port: 1 },
      actions: [],
    }]);
    for (let j = 0; j < 40; j++) store.deleteFlow("dp0", `ufid:${j}`);
    store.putFlow("dp0", { ufid: "ufid:45", flow: flowText(45), actions: "2" });
    const before = store.load();
    assert.deepEqual(store.logSize(), { records: 92, changes: 92 });
    store.compact();
    assert.deepEqual(store.logSize(), { records: 2, changes: 11 });
    assert.deepEqual(store.load(), before);
    assert.deepEqual(
      before[0].flows.map((f) => f.ufid),
      [40, 41, 42, 43, 44, 45, 46, 47, 48, 49]
        .map((j) => `ufid:${j}`),
    );
    assert.equal(before[0].flows[5].actions, "2");
    store.close();
    const reopened = StateStore.open(dir);
    assert.deepEqual(reopened.load(), before);
    reopened.close();
  }),
);

Deno.test("flow log: compacts by itself once the log is over twice the live flows", () => {
  const store = StateStore.open(":memory:", { compactMinChanges: 20 });
  store.addDatapath("dp0");
  // Puts of new flows never make the log worth compacting.
  for (let j = 0; j < 30; j++) {
    store.putFlow("dp0", { ufid: `ufid:${j}`, flow: flowText(j), actions: "1" });
  }
  assert.equal(store.logSize().records, 30);
  // Replacing one flow, the caller telling the live count: the log holds
  // 30 + r changes after r rounds and is rewritten when it passes 60.
  for (let round = 0; round < 31; round++) {
    const change = { op: "put" as const, ufid: "ufid:7", flow: flowText(7), actions: `${round}` };
    store.recordFlowChanges("dp0", [change], 30);
    if (round < 30) assert.equal(store.logSize().changes, 31 + round);
  }
  assert.deepEqual(store.logSize(), { records: 1, changes: 30 });
  const flows = store.load()[0].flows;
  assert.equal(flows.length, 30);
  assert.deepEqual(flows[7], { ufid: "ufid:7", flow: flowText(7), actions: "30" });
  assert.equal(store.compactionError, null);
  store.close();
});

Deno.test(
  "flow log: flows of the row-per-flow table of earlier versions are moved into the log",
  withDir((dir) => {
    const db = new DatabaseSync(join(dir, STATE_FILE));
    db.exec(`
      CREATE TABLE datapaths (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
      CREATE TABLE flows (dp TEXT NOT NULL, ufid TEXT NOT NULL, flow TEXT NOT NULL,
        actions TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (dp, ufid));
      INSERT INTO datapaths VALUES ('dp0', 1);
      INSERT INTO flows VALUES ('dp0', 'ufid:b', '"in_port(2)"', '"1"', 3);
      INSERT INTO flows VALUES ('dp0', 'ufid:a', '{"in_port":1}', '[{"output":2}]', 2);
    `);
    db.close();
    const store = StateStore.open(dir);
    assert.deepEqual(store.load()[0].flows, [
      { ufid: "ufid:a", flow: { in_port: 1 }, actions: [{ output: 2 }] },
      { ufid: "ufid:b", flow: "in_port(2)", actions: "1" },
    ]);
    store.addDatapath("dp1"); // datapath order numbers go on from the old ones
    assert.deepEqual(store.load().map((d) => d.name), ["dp0", "dp1"]);
    store.close();
    const check = new DatabaseSync(join(dir, STATE_FILE));
    const tables = check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
      .map((row) => (row as { name: string }).name);
    check.close();
    assert.ok(!tables.includes("flows"), `old table still there: ${tables}`);
  }),
);

/** Runs `code` in a child Deno that kills itself with SIGKILL; returns its exit signal. */
async function runAndKill(code: string): Promise<string | null> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.signal, "SIGKILL", new TextDecoder().decode(out.stderr));
  return out.signal;
}

const STORE_MODULE = new URL("../api/state_store.ts", import.meta.url).href;

Deno.test(
  "flow log: kill -9 in the middle of a batch keeps the acknowledged batches and none of it",
  withDir(async (dir) => {
    await runAndKill(`
      import { StateStore } from ${JSON.stringify(STORE_MODULE)};
      const store = StateStore.open(${JSON.stringify(dir)});
      store.addDatapath("dp0");
      store.recordFlowChanges("dp0", [{ op: "put", ufid: "ufid:1", flow: "in_port(1)", actions: "2" }]);
      store.transaction(() => {
        store.recordFlowChanges("dp0", [{ op: "del", ufid: "ufid:1" }]);
        store.recordFlowChanges("dp0", [{ op: "put", ufid: "ufid:2", flow: "in_port(2)", actions: "1" }]);
        Deno.kill(Deno.pid, "SIGKILL");
      });
    `);
    assert.ok(Deno.statSync(join(dir, `${STATE_FILE}-wal`)).size > 0, "the WAL was left behind");
    const store = StateStore.open(dir);
    assert.deepEqual(store.load()[0].flows, [{ ufid: "ufid:1", flow: "in_port(1)", actions: "2" }]);
    store.close();
  }),
);

Deno.test(
  "flow log: a torn last record in the WAL is dropped whole, earlier records stay",
  withDir(async (dir) => {
    await runAndKill(`
      import { StateStore } from ${JSON.stringify(STORE_MODULE)};
      const store = StateStore.open(${JSON.stringify(dir)});
      store.addDatapath("dp0");
      store.recordFlowChanges("dp0", [{ op: "put", ufid: "ufid:1", flow: "in_port(1)", actions: "2" }]);
      const big = [];
      for (let j = 0; j < 200; j++) {
        big.push({ op: "put", ufid: "ufid:b" + j, flow: "in_port(1),skb_mark(" + j + ")", actions: "3" });
      }
      store.recordFlowChanges("dp0", big);
      Deno.kill(Deno.pid, "SIGKILL");
    `);
    const wal = join(dir, `${STATE_FILE}-wal`);
    const size = Deno.statSync(wal).size;
    // Cut into the last frame: the commit frame of the big record.
    Deno.truncateSync(wal, size - 100);
    const store = StateStore.open(dir);
    assert.deepEqual(store.load()[0].flows, [{ ufid: "ufid:1", flow: "in_port(1)", actions: "2" }]);
    store.putFlow("dp0", { ufid: "ufid:2", flow: "in_port(2)", actions: "1" });
    assert.equal(store.load()[0].flows.length, 2);
    store.close();
  }),
);
