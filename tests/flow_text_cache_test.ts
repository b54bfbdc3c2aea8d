import assert from "node:assert/strict";
import { Datapath } from "../datapath/datapath.ts";
import { dumpPage, dumpTextPage } from "../datapath/flow_dump.ts";
import { flowTextCache } from "../datapath/flow_text_cache.ts";
import { formatActions } from "../datapath/odp/action_format.ts";
import { formatFlowKey } from "../datapath/odp/key_format.ts";
import { dumpBenchActions, dumpBenchFlow } from "../bench/flow_dump_workload.ts";

/** Every flow of `dp` as the uncached path formats it: `ufid match actions` per flow. */
function uncachedDump(dp: Datapath, limit: number): { lines: string[]; cursors: string[] } {
  const lines: string[] = [], cursors: string[] = [];
  let cursor: string | null = null;
  do {
    const page = dumpPage(dp.flows, cursor, limit);
    for (const e of page.flows) {
      lines.push(`${e.ufid} ${formatFlowKey(e.key, e.mask)} ${formatActions(e.actions)}`);
    }
    cursor = page.next;
    if (cursor !== null) cursors.push(cursor);
  } while (cursor !== null);
  return { lines, cursors };
}

/** Every flow of `dp` through `Datapath.dumpFlows` (the cached path). */
function cachedDump(dp: Datapath, limit: number): { lines: string[]; cursors: string[] } {
  const lines: string[] = [], cursors: string[] = [];
  let cursor: string | null = null;
  do {
    const page = dp.dumpFlows(cursor, limit);
    for (const f of page.flows) lines.push(`${f.ufid} ${f.flow} ${f.actions}`);
    cursor = page.next;
    if (cursor !== null) cursors.push(cursor);
  } while (cursor !== null);
  return { lines, cursors };
}

function datapathWith(n: number): Datapath {
  const dp = new Datapath("dp0", { maxFlows: 4096 });
  for (let i = 0; i < n; i++) dp.putFlow({ flow: dumpBenchFlow(i), actions: dumpBenchActions(i) });
  return dp;
}

Deno.test("flow text cache: dumps are byte-identical to the uncached formatter, cold and warm", () => {
  const dp = datapathWith(2000);
  const expected = uncachedDump(dp, 333);
  assert.equal(expected.lines.length, 2000);
  assert.deepEqual(cachedDump(dp, 333), expected, "first dump fills the cache");
  assert.deepEqual(cachedDump(dp, 333), expected, "second dump reads it");
  assert.deepEqual(cachedDump(dp, 1000).lines, expected.lines, "other page sizes");
  assert.equal(flowTextCache(dp.flows).cachedCount, 2000);
});

Deno.test("flow text cache: stats are read at dump time, not cached", () => {
  const dp = datapathWith(3);
  const first = dp.dumpFlows(null, 10).flows[1];
  assert.equal(first.stats.packets, 0);
  dp.flows.addStats(1, 5, 300, 0x12, 1234);
  const again = dp.dumpFlows(null, 10).flows[1];
  assert.deepEqual(again.stats, { packets: 5, bytes: 300, used: 1234, tcp_flags: 0x12 });
  assert.equal(again.flow, first.flow);
});

Deno.test("flow text cache: modify, delete, slot reuse and flush never show stale text", () => {
  const dp = datapathWith(20);
  cachedDump(dp, 100);
  const victim = dp.dumpFlows(null, 100).flows[4];
  // Modify: same match, new actions.
  dp.putFlow({ flow: dumpBenchFlow(4), actions: "9", create: false, modify: true });
  assert.deepEqual(cachedDump(dp, 100), uncachedDump(dp, 100));
  assert.equal(dp.dumpFlows(null, 100).flows[4].actions, "9");
  // Delete then put a different flow: it takes the freed slot.
  dp.deleteFlow(victim.ufid);
  assert.deepEqual(cachedDump(dp, 100), uncachedDump(dp, 100));
  assert.equal(cachedDump(dp, 100).lines.some((l) => l.startsWith(victim.ufid)), false);
  const fresh = dp.putFlow({ flow: dumpBenchFlow(1000), actions: "3" });
  const reused = dp.dumpFlows(null, 100).flows[4];
  assert.equal(reused.ufid, fresh.ufid, "the new flow reuses slot 4");
  assert.equal(reused.flow, uncachedDump(dp, 100).lines[4].split(" ")[1]);
  assert.notEqual(reused.flow, victim.flow);
  assert.deepEqual(cachedDump(dp, 100), uncachedDump(dp, 100));
  // Flush, then other flows in the same slots.
  dp.flushFlows();
  assert.deepEqual(dp.dumpFlows(null, 100), { flows: [], next: null });
  for (let i = 0; i < 20; i++) dp.putFlow({ flow: dumpBenchFlow(500 + i), actions: "drop" });
  const after = cachedDump(dp, 7);
  assert.deepEqual(after, uncachedDump(dp, 7));
  assert.equal(after.lines[0].endsWith(" drop"), true);
});

Deno.test("flow text cache: paging and errors match dumpPage", () => {
  const dp = datapathWith(50);
  for (let i = 0; i < 50; i += 3) dp.deleteFlow(dp.dumpFlows(null, 100).flows[0].ufid);
  const a = dumpPage(dp.flows, null, 7), b = dumpTextPage(dp.flows, null, 7);
  assert.equal(b.next, a.next);
  assert.deepEqual(b.flows.map((f) => f.ufid), a.flows.map((f) => f.ufid));
  assert.throws(() => dumpTextPage(dp.flows, null, 0), RangeError);
  assert.throws(() => dumpTextPage(dp.flows, null, 10_001), RangeError);
  assert.throws(() => dumpTextPage(dp.flows, "not a cursor!", 5), TypeError);
  assert.throws(() => dumpTextPage(dp.flows, "Zm9vOjE", 5), TypeError);
});
