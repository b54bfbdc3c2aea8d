import assert from "node:assert/strict";
import { KEY_WORDS, W_IN_PORT, W_NW_DST } from "../datapath/flow_key.ts";
import { DUMP_PAGE_MAX, dumpPage, FLOW_DUMP_CHUNK, FlowDump } from "../datapath/flow_dump.ts";
import { type FlowEntry, FlowTable } from "../datapath/flow_table.ts";
import { formatUfid } from "../datapath/ufid.ts";

function tableWith(n: number): FlowTable {
  const table = new FlowTable({ maxFlows: 1000 });
  for (let i = 0; i < n; i++) addFlow(table, i);
  return table;
}

function addFlow(table: FlowTable, i: number, port = i) {
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  key[W_IN_PORT] = 1;
  mask[W_IN_PORT] = 0xffffffff;
  key[W_NW_DST] = i;
  mask[W_NW_DST] = 0xffffffff;
  return table.put({
    ufid: new Uint32Array([i, 0, 0, 0]),
    key,
    mask,
    actions: [{ type: "output", port }],
    create: true,
    modify: true,
    zeroStats: false,
  });
}

const ids = (flows: FlowEntry[]) => flows.map((f) => f.ufidWords[0]).sort((a, b) => a - b);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

Deno.test("flow dump: one reader gets every flow once, as copies", () => {
  const table = tableWith(130);
  const reader = new FlowDump(table).thread();
  const got: FlowEntry[] = [];
  for (let e = reader.next(); e !== null; e = reader.next()) got.push(e);
  assert.deepEqual(ids(got), range(130));
  const f = got.find((e) => e.ufidWords[0] === 7)!;
  assert.equal(f.key[W_NW_DST], 7);
  assert.equal(f.mask[W_IN_PORT], 0xffffffff);
  assert.deepEqual(f.actions, [{ type: "output", port: 7 }]);
  assert.equal(reader.next(), null, "stays finished");
});

Deno.test("flow dump: several readers split the flows, each flow to one reader", () => {
  const table = tableWith(333);
  const dump = table.dump();
  const readers = [dump.thread(), dump.thread(), dump.thread()];
  const per: FlowEntry[][] = [[], [], []];
  let active = readers.length;
  while (active > 0) {
    active = 0;
    readers.forEach((r, i) => {
      const batch = r.nextBatch(17);
      per[i].push(...batch);
      if (batch.length > 0) active++;
    });
  }
  assert.ok(per.every((p) => p.length > 0), "every reader got some flows");
  assert.deepEqual(ids(per.flat()), range(333));
  assert.ok(dump.done);
});

Deno.test("flow dump: two dumps at once are independent", () => {
  const table = tableWith(120);
  const a = new FlowDump(table).thread();
  const b = new FlowDump(table).thread();
  const fromA = a.nextBatch(60);
  const fromB = b.nextBatch(1000);
  fromA.push(...a.nextBatch(1000));
  assert.deepEqual(ids(fromA), range(120));
  assert.deepEqual(ids(fromB), range(120));
});

Deno.test("flow dump: changes during a dump never give a half-updated flow", () => {
  const table = tableWith(200);
  const reader = table.dump().thread();
  const first = reader.next()!;
  const snapshot = { key: first.key.slice(), actions: first.actions, stats: { ...first.stats } };
  // Change everything: modify, delete, add, bump stats.
  for (let i = 0; i < 200; i += 2) addFlow(table, i, 1000 + i);
  for (let i = 1; i < 200; i += 4) table.delete(new Uint32Array([i, 0, 0, 0]));
  for (let i = 200; i < 260; i++) addFlow(table, i);
  table.packets.fill(99);
  assert.deepEqual(first.key, snapshot.key);
  assert.equal(first.actions, snapshot.actions);
  assert.deepEqual(first.stats, snapshot.stats, "stats were copied at fetch time");
  const rest: FlowEntry[] = [];
  for (let e = reader.next(); e !== null; e = reader.next()) rest.push(e);
  for (const e of rest) {
    const i = e.ufidWords[0];
    assert.equal(e.key[W_NW_DST], i, "key matches its UFID");
    const port = (e.actions[0] as { port: number }).port;
    assert.ok(port === i || port === 1000 + i, `actions of flow ${i} are whole`);
  }
  // Flows in the chunk fetched first (before the changes) may be stale; later ones are current.
  const later = rest.slice(FLOW_DUMP_CHUNK);
  assert.ok(
    later.every((e) => e.ufidWords[0] >= 200 || e.ufidWords[0] % 4 !== 1),
    "deleted flows are not dumped later",
  );
  assert.ok(rest.some((e) => e.ufidWords[0] >= 200), "flows added in reused slots show up");
});

Deno.test("flow dump: pages with an opaque cursor cover every flow", () => {
  const table = tableWith(95);
  table.delete(new Uint32Array([94, 0, 0, 0])); // the last slot is free
  const seen: FlowEntry[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = table.dumpPage(cursor, 10);
    assert.ok(page.flows.length <= 10);
    seen.push(...page.flows);
    cursor = page.next;
    pages++;
    if (cursor !== null) assert.match(cursor, /^[A-Za-z0-9+/]+$/);
  } while (cursor !== null);
  assert.equal(pages, 10);
  assert.deepEqual(ids(seen), range(94));
  assert.deepEqual(dumpPage(new FlowTable(), null, 5), { flows: [], next: null });
  assert.equal(seen[0].ufid, formatUfid(seen[0].ufidWords));
});

Deno.test("flow dump: a bad cursor is a TypeError, a bad limit a RangeError", () => {
  const table = tableWith(30);
  const { next } = table.dumpPage(null, 10);
  assert.ok(next !== null);
  for (
    const bad of ["", "!!!", "abc", btoa("fd1:"), btoa("fd2:1"), btoa("fd1:-1"), "x".repeat(40)]
  ) {
    assert.throws(() => table.dumpPage(bad, 10), TypeError, bad);
  }
  assert.throws(() => table.dumpPage(7 as unknown as string, 10), TypeError);
  assert.throws(() => table.dumpPage(null, 0), RangeError);
  assert.throws(() => table.dumpPage(null, DUMP_PAGE_MAX + 1), RangeError);
  assert.throws(() => table.dumpPage(null, 1.5), RangeError);
  assert.equal(table.dumpPage(next, 100).flows.length, 20);
});
