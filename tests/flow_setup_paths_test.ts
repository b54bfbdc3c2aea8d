/**
 * The flow install path's shortcuts keep the behaviour they replaced: UFID
 * derivation and text (pinned), the fast key parser writing into a caller's
 * scratch match, the datapath's action-text cache and the interner's
 * identity lookup, flow listeners without the match, and the operate
 * route's answers for created, modified and failed puts.
 */

import assert from "node:assert/strict";
import { Datapath, type FlowChange } from "../datapath/datapath.ts";
import { ActionInterner } from "../datapath/flow_table_actions.ts";
import { FlowTable } from "../datapath/flow_table.ts";
import { KEY_WORDS, newKeys } from "../datapath/flow_key.ts";
import { parseFlowKey, parseFlowKeyGeneral } from "../datapath/odp/key_parse.ts";
import { parseActions } from "../datapath/odp/action_parse.ts";
import { deriveUfid, deriveUfidInto, formatUfid, parseUfid } from "../datapath/ufid.ts";
import { ChangeFeed } from "../api/change_feed.ts";
import { call, testApp, udpHex } from "./api_fixtures.ts";

const UDP_TEXT = "in_port(1),eth(),eth_type(0x0800),ipv4(src=10.0.0.1/255.255.255.255," +
  "dst=172.16.0.1,proto=17,frag=no),udp(dst=1)";
const TCP6_TEXT = "recirc_id(0),in_port(7),eth(src=00:11:22:33:44:55,dst=66:77:88:99:aa:bb)," +
  "eth_type(0x86dd),ipv6(src=2001:db8::1/ffff:ffff::,proto=6),tcp(dst=443)";

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function newDatapath(): Datapath {
  const dp = new Datapath("dp0");
  for (let i = 1; i <= 3; i++) dp.addPort({ name: `p${i}`, type: "dummy", port_no: i });
  return dp;
}

Deno.test("flow setup: derived UFIDs are those of earlier versions (pinned)", () => {
  // Values computed with the implementation before the written-out derivation.
  const pinned: [string, string][] = [
    [UDP_TEXT, "ufid:92bb28f1-6c26-ad7f-aac4-64797ff92c55"],
    [TCP6_TEXT, "ufid:2bb3c1ee-56fd-98d8-245a-847971139b35"],
    ["in_port(2)", "ufid:29b15d9b-ba06-5c50-60bf-32576f05ea5b"],
  ];
  const out = new Uint32Array(4);
  for (const [text, ufid] of pinned) {
    const m = parseFlowKeyGeneral(text);
    assert.equal(formatUfid(deriveUfid(m.key, 0, m.mask, 0)), ufid, text);
    assert.equal(formatUfid(deriveUfidInto(m.key, m.mask, out)), ufid, text);
  }
  const dp = newDatapath();
  assert.equal(
    dp.putFlow({ flow: UDP_TEXT, actions: "" }).ufid,
    "ufid:1a14ae06-d3ff-a464-5c26-448e67ab9cc5",
  );
  assert.equal(
    dp.putFlow({ flow: TCP6_TEXT, actions: "" }).ufid,
    "ufid:8802c0fe-0159-b90c-e16b-2bed7a24662e",
  );
  assert.equal(
    dp.putFlow({ flow: "in_port(2)", actions: "" }).ufid,
    "ufid:27d4622f-5e5d-ac63-bcd1-e5c2dd7ddb03",
  );
});

Deno.test("flow setup: formatUfid round-trips every digit position", () => {
  const words = new Uint32Array(4);
  for (let i = 0; i < 200; i++) {
    for (let w = 0; w < 4; w++) words[w] = (Math.random() * 2 ** 32) >>> 0;
    const text = formatUfid(words);
    assert.match(text, /^ufid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(parseUfid(text), words);
  }
  assert.equal(
    formatUfid(new Uint32Array([0, 0, 0, 0])),
    "ufid:00000000-0000-0000-0000-000000000000",
  );
  assert.equal(
    formatUfid(new Uint32Array([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff])),
    "ufid:ffffffff-ffff-ffff-ffff-ffffffffffff",
  );
});

Deno.test("flow setup: parseFlowKey into a scratch match zeroes it and equals the general parser", () => {
  const into = { key: newKeys(1), mask: newKeys(1) };
  into.key.fill(0xdeadbeef);
  into.mask.fill(0xdeadbeef);
  for (const text of [UDP_TEXT, "in_port(3),eth_type(0x0806)", "in_port(1)"]) {
    const got = parseFlowKey(text, into);
    assert.equal(got, into, "fast-path forms are written into the scratch");
    const want = parseFlowKeyGeneral(text);
    assert.deepEqual([...got.key], [...want.key], text);
    assert.deepEqual([...got.mask], [...want.mask], text);
  }
  // A form outside the fast subset gets a new match from the general parser.
  const general = parseFlowKey(TCP6_TEXT, into);
  assert.notEqual(general, into);
  assert.deepEqual([...general.mask], [...parseFlowKeyGeneral(TCP6_TEXT).mask]);
  assert.throws(() => parseFlowKey("in_port(1),bogus(2)", into), SyntaxError);
});

Deno.test("flow setup: a cached action text forwards like a fresh one, and bad text is never cached", () => {
  const dp = newDatapath();
  const flow = (src: number) =>
    `in_port(1),eth(),eth_type(0x0800),ipv4(src=10.0.0.${src},proto=17,frag=no),udp(dst=53)`;
  const a = dp.putFlow({ flow: flow(1), actions: "2" });
  const b = dp.putFlow({ flow: flow(3), actions: "2" });
  const c = dp.putFlow({ flow: flow(4), actions: "3" });
  const listId = (ufid: string) => dp.flows.actionsIdOf(dp.flows.slotOf(ufid));
  assert.equal(listId(a.ufid), listId(b.ufid), "one interned list");
  assert.notEqual(listId(a.ufid), listId(c.ufid));
  for (let k = 0; k < 2; k++) {
    assert.throws(() => dp.putFlow({ flow: flow(5), actions: "output(" }), SyntaxError);
    assert.throws(() => dp.putFlow({ flow: flow(5), actions: "4294967296" }));
  }
  assert.equal(dp.stats().n_flows, 3, "failed puts changed nothing");
  assert.equal(dp.receive("p1", fromHex(udpHex(3))), true);
  assert.equal(dp.receive("p1", fromHex(udpHex(4))), true);
  assert.equal(dp.dummyPort("p2").transmitted().length, 1);
  assert.equal(dp.dummyPort("p3").transmitted().length, 1);
  // After a flush (which forgets interned lists and programs) the cached text still works.
  dp.flushFlows();
  dp.putFlow({ flow: flow(3), actions: "3" });
  dp.putFlow({ flow: flow(4), actions: "3" });
  assert.equal(dp.receive("p1", fromHex(udpHex(3))), true);
  assert.equal(dp.receive("p1", fromHex(udpHex(4))), true);
  assert.equal(dp.dummyPort("p3").transmitted().length, 3, "one before the flush, two after");
  // An equal list given as JSON first, then as text: one interned list, both forward.
  dp.flushFlows();
  dp.putFlow({ flow: flow(4), actions: "2" });
  const fromJson = dp.putFlow({ flow: flow(5), actions: [{ type: "output", port: 2 }] });
  const fromText = dp.putFlow({ flow: flow(6), actions: "2" });
  assert.equal(listId(fromJson.ufid), listId(fromText.ufid));
  assert.equal(dp.receive("p1", fromHex(udpHex(4))), true);
  assert.equal(dp.dummyPort("p2").transmitted().length, 2);
  assert.equal(dp.pool.inUse(), 0, "every buffer is back in the pool");
  dp.close();
});

Deno.test("flow setup: the interner knows a held list by identity and forgets it on release", () => {
  const interner = new ActionInterner();
  const list = parseActions("2,3");
  const id = interner.acquire(list);
  assert.equal(interner.acquire(list), id);
  assert.equal(interner.acquire(parseActions("2,3")), id, "an equal list shares the id");
  interner.release(id);
  interner.release(id);
  interner.release(id);
  assert.equal(interner.size, 0);
  const other = parseActions("4");
  const reused = interner.acquire(other);
  assert.equal(interner.list(reused), other);
  const again = interner.acquire(list);
  assert.notEqual(again, reused, "a released list is interned afresh");
  assert.equal(interner.list(again), list);
});

Deno.test("flow setup: listeners without the match get empty key and mask while nobody wants it", () => {
  const dp = newDatapath();
  const light: FlowChange[] = [];
  const full: FlowChange[] = [];
  const stopLight = dp.onFlowChange((c) => light.push(c), { withMatch: false });
  dp.putFlow({ flow: UDP_TEXT, actions: "2" });
  const stopFull = dp.onFlowChange((c) => full.push(c));
  const r = dp.putFlow({ flow: "in_port(2),eth_type(0x0806)", actions: "1" });
  stopFull();
  dp.putFlow({ flow: "in_port(3)", actions: "1" });
  stopLight();
  assert.equal(light.length, 3);
  assert.equal(full.length, 1);
  // Alone, they get empty arrays; beside a listener that wants the match, its copies.
  assert.deepEqual(light.map((c) => c.op === "put" ? c.key.length : -1), [0, KEY_WORDS, 0]);
  assert.deepEqual(light.map((c) => c.op === "put" ? c.mask.length : -1), [0, KEY_WORDS, 0]);
  const put = full[0];
  assert.ok(put.op === "put");
  assert.equal(put.ufid, r.ufid);
  assert.equal(put.key.length, KEY_WORDS);
  const stored = dp.flows.get(r.ufid);
  assert.deepEqual([...put.key], [...stored.key]);
  assert.deepEqual([...put.mask], [...stored.mask]);
  dp.close();
});

Deno.test("flow setup: the change feed publishes flow events only to its readers", async () => {
  const dp = newDatapath();
  const feed = new ChangeFeed();
  feed.watch(dp);
  dp.putFlow({ flow: "in_port(1)", actions: "2" }); // nobody listening: nothing queued
  const reader = feed.subscribe();
  const r = dp.putFlow({ flow: "in_port(2)", actions: "1" });
  dp.deleteFlow(r.ufid);
  const events = await reader.next();
  assert.deepEqual(events, [
    { kind: "flow", action: "added", datapath: "dp0", ufid: r.ufid },
    { kind: "flow", action: "deleted", datapath: "dp0", ufid: r.ufid },
  ]);
  feed.closeAll();
  dp.close();
});

Deno.test("flow setup: FlowTable put results give the UFID words on demand", () => {
  const table = new FlowTable({ maxFlows: 8 });
  const { key, mask } = parseFlowKey("in_port(1),eth_type(0x0800)");
  const r = table.put({ key, mask, actions: [], create: true, modify: false, zeroStats: false });
  assert.deepEqual(r.ufidWords, parseUfid(r.ufid));
  assert.equal(formatUfid(r.ufidWords), r.ufid);
  const given = "ufid:01234567-89ab-cdef-0123-456789abcdef";
  const g = table.put({
    key: parseFlowKey("in_port(2)").key,
    mask: parseFlowKey("in_port(2)").mask,
    actions: [],
    ufid: given.toUpperCase().replace("UFID:", ""),
    create: true,
    modify: false,
    zeroStats: false,
  });
  assert.equal(g.ufid, given);
  assert.equal(table.slotOf(parseUfid(given)), g.slot);
});

Deno.test("flow setup: operate answers created, modified and failed puts as before", async () => {
  const t = testApp();
  const flow = "in_port(1),eth(),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53)";
  let r = await call(t.app, "POST", "/v1/datapaths/dp0/operate", {
    ops: [{ op: "put", flow, actions: "2" }, {
      op: "put",
      flow: "in_port(1),bogus()",
      actions: "2",
    }],
  });
  assert.equal(r.status, 200, r.text);
  const ufid = r.json.results[0].result.ufid;
  assert.equal(
    JSON.stringify(r.json.results[0]),
    JSON.stringify({ ok: true, result: { ufid, created: true, previous: null } }),
  );
  assert.equal(r.json.results[1].ok, false);
  assert.equal(r.json.results[1].error.code, "EINVAL");
  await call(t.app, "POST", "/v1/datapaths/dp0/ports/p1/receive", { packet: udpHex() });
  r = await call(t.app, "POST", "/v1/datapaths/dp0/operate", {
    ops: [
      { op: "put", flow, actions: "3", modify: true, create: false },
      { op: "put", flow, actions: "3", modify: true, zero_stats: true },
      { op: "put", flow, actions: "3" },
    ],
  });
  assert.equal(r.status, 200, r.text);
  const [modified, zeroed, exists] = r.json.results;
  assert.equal(modified.result.created, false);
  assert.equal(modified.result.previous.packets, 1);
  assert.deepEqual(Object.keys(modified.result.previous), [
    "packets",
    "bytes",
    "used",
    "tcp_flags",
  ]);
  assert.equal(zeroed.result.previous.packets, 1);
  assert.equal(exists.ok, false);
  assert.equal(exists.error.code, "EEXIST");
  r = await call(t.app, "GET", `/v1/datapaths/dp0/flows/${ufid}`);
  assert.equal(r.json.stats.packets, 0, "zero_stats applied");
  assert.equal(r.json.actions, "3");
  t.close();
});

Deno.test("flow setup: put changes' key and mask stay as they were across many puts", () => {
  const dp = newDatapath();
  const kept: { ufid: string; key: Uint32Array; mask: Uint32Array }[] = [];
  dp.onFlowChange((c) => {
    if (c.op === "put") kept.push({ ufid: c.ufid, key: c.key, mask: c.mask });
  });
  for (let i = 0; i < 700; i++) { // past two slabs of 256 puts
    const src = `10.${(i >> 8) & 255}.${i & 255}.1`;
    dp.putFlow({
      flow: `in_port(1),eth(),eth_type(0x0800),ipv4(src=${src}/255.255.255.${i % 2 ? 255 : 0})`,
      actions: "2",
    });
  }
  assert.equal(kept.length, 700);
  for (const k of kept) {
    const stored = dp.flows.get(k.ufid);
    assert.deepEqual([...k.key], [...stored.key], k.ufid);
    assert.deepEqual([...k.mask], [...stored.mask], k.ufid);
  }
  dp.close();
});
