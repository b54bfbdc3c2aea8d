import assert from "node:assert/strict";
import type { Action } from "../datapath/action.ts";
import { DpifError, OdpSyntaxError } from "../datapath/errors.ts";
import { KEY_WORDS, W_ETH_TYPE, W_IN_PORT, W_NW_DST, W_TP } from "../datapath/flow_key.ts";
import { type FlowPutRequest, FlowTable } from "../datapath/flow_table.ts";
import { formatUfid, parseUfid } from "../datapath/ufid.ts";
import { lookupConformance } from "./lookup_conformance.ts";

lookupConformance("flow table", () => {
  const table = new FlowTable({ maxFlows: 4096 });
  const toHarness = new Int32Array(4096).fill(-1);
  return {
    lookup(keys, keyOffset, maps, mapOffset) {
      const slot = table.lookup(keys, keyOffset, maps, mapOffset);
      return slot < 0 ? -1 : toHarness[slot];
    },
    insert(slot, key, mask) {
      const r = table.put({
        ufid: new Uint32Array([slot, 0, 0, 1]),
        key,
        mask,
        actions: [{ type: "output", port: slot }],
        create: true,
        modify: false,
        zeroStats: false,
      });
      toHarness[r.slot] = slot;
      assert.deepEqual(table.actionsOf(r.slot), [{ type: "output", port: slot }]);
    },
    remove(slot) {
      table.delete(new Uint32Array([slot, 0, 0, 1]));
    },
  };
});

const UFID_A = "ufid:11111111-2222-3333-4444-555555555555";
const UFID_B = "ufid:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

function flow(dst: number, actions: Action[] = [{ type: "output", port: 2 }]): FlowPutRequest {
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  key[W_IN_PORT] = 1;
  mask[W_IN_PORT] = 0xffffffff;
  key[W_ETH_TYPE] = 0x0800;
  mask[W_ETH_TYPE] = 0xffff;
  key[W_NW_DST] = dst;
  mask[W_NW_DST] = 0xffffff00;
  return { key, mask, actions, create: true, modify: false, zeroStats: false };
}

function packetTo(dst: number): Uint32Array {
  const key = new Uint32Array(KEY_WORDS);
  key[W_IN_PORT] = 1;
  key[W_ETH_TYPE] = 0x0800;
  key[W_NW_DST] = dst;
  key[W_TP] = 0x12340050;
  return key;
}

const maps = new Uint32Array(2);

function code(c: string, text?: RegExp) {
  return (e: unknown) => e instanceof DpifError && e.code === c && (!text || text.test(e.message));
}

Deno.test("flow table: create, get and lookup a flow", () => {
  const table = new FlowTable();
  const r = table.put({ ...flow(0x0a0001ff), ufid: UFID_A });
  assert.equal(r.created, true);
  assert.equal(r.previous, null);
  assert.equal(r.ufid, UFID_A);
  assert.equal(formatUfid(r.ufidWords), UFID_A);
  assert.equal(table.size, 1);
  const got = table.get(UFID_A);
  assert.equal(got.key[W_NW_DST], 0x0a000100, "the key is stored masked");
  assert.equal(got.mask[W_NW_DST], 0xffffff00);
  assert.deepEqual(got.actions, [{ type: "output", port: 2 }]);
  assert.deepEqual(got.stats, { packets: 0, bytes: 0, used: 0, tcp_flags: 0 });
  assert.equal(table.lookup(packetTo(0x0a000142), 0, maps, 0), r.slot);
  assert.equal(table.lookup(packetTo(0x0a000242), 0, maps, 0), -1);
  assert.deepEqual(table.get(parseUfid(UFID_A)).key, got.key);
});

Deno.test("flow table: put flags follow dpif_flow_put", () => {
  const table = new FlowTable();
  assert.throws(
    () => table.put({ ...flow(1), ufid: UFID_A, create: false, modify: true }),
    code("ENOENT", /ufid:11111111/),
  );
  table.put({ ...flow(1), ufid: UFID_A });
  assert.throws(() => table.put({ ...flow(1), ufid: UFID_A }), code("EEXIST", /ufid:11111111/));
  table.addStats(table.slotOf(UFID_A), 3, 180, 0x12, 1000);
  const drop: Action[] = [{ type: "drop" }];
  const m = table.put({ ...flow(1, drop), ufid: UFID_A, create: true, modify: true });
  assert.equal(m.created, false);
  assert.deepEqual(m.previous, { packets: 3, bytes: 180, used: 1000, tcp_flags: 0x12 });
  assert.deepEqual(table.get(UFID_A).actions, drop);
  assert.deepEqual(table.get(UFID_A).stats.packets, 3, "stats kept without zeroStats");
  const z = table.put({ ...flow(1), ufid: UFID_A, create: false, modify: true, zeroStats: true });
  assert.equal(z.previous!.packets, 3);
  assert.deepEqual(table.get(UFID_A).stats, { packets: 0, bytes: 0, used: 0, tcp_flags: 0 });
  assert.throws(() => table.put({ ...flow(1), create: false, modify: false }), code("EINVAL"));
  assert.throws(
    () => table.put({ ...flow(0x0b000000), ufid: UFID_A, modify: true }),
    code("EINVAL", /different match/),
  );
});

Deno.test("flow table: same match under another UFID is EEXIST naming the existing UFID", () => {
  const table = new FlowTable();
  table.put({ ...flow(0x0a000100), ufid: UFID_A });
  assert.throws(
    () => table.put({ ...flow(0x0a000177), ufid: UFID_B }),
    code("EEXIST", /ufid:11111111-2222-3333-4444-555555555555/),
  );
  assert.equal(table.size, 1);
});

Deno.test("flow table: without a UFID the same flow gets the same derived UFID", () => {
  const table = new FlowTable();
  const a = table.put(flow(0x0a000100));
  assert.throws(() => table.put(flow(0x0a000105)), code("EEXIST"));
  const other = new FlowTable().put(flow(0x0a0001aa));
  assert.equal(other.ufid, a.ufid);
  const wider = flow(0x0a000100);
  wider.mask[W_NW_DST] = 0xffff0000;
  assert.notEqual(table.put(wider).ufid, a.ufid, "another mask, another UFID");
});

Deno.test("flow table: invalid matches are EINVAL or TypeError, bad UFID text OdpSyntaxError", () => {
  const table = new FlowTable();
  const partial = flow(1);
  partial.mask[W_IN_PORT] = 0xffff;
  assert.throws(() => table.put(partial), code("EINVAL", /in_port/));
  const wild = flow(1);
  wild.mask[W_IN_PORT] = 0;
  assert.throws(() => table.put(wild), code("EINVAL", /in_port/));
  const past = flow(1);
  past.mask[60] = 1;
  assert.throws(() => table.put(past), code("EINVAL"));
  assert.throws(() => table.put({ ...flow(1), key: new Uint32Array(10) }), TypeError);
  assert.throws(() => table.put({ ...flow(1), mask: [] as unknown as Uint32Array }), TypeError);
  assert.throws(() => table.put({ ...flow(1), actions: null as unknown as Action[] }), TypeError);
  assert.throws(() => table.put({ ...flow(1), ufid: "ufid:nope" }), OdpSyntaxError);
  assert.throws(() => table.get("nope"), OdpSyntaxError);
  assert.equal(table.size, 0);
});

Deno.test("flow table: delete returns final stats, bumps the generation, reuses the slot", () => {
  const table = new FlowTable();
  const r = table.put({ ...flow(0x0a000100), ufid: UFID_A });
  table.packets[r.slot] += 10;
  table.bytes[r.slot] += 640;
  table.used[r.slot] = 5;
  table.tcpFlags[r.slot] |= 2;
  assert.deepEqual(table.stats(r.slot), { packets: 10, bytes: 640, used: 5, tcp_flags: 2 });
  const gen = table.generation[r.slot];
  assert.deepEqual(table.delete(UFID_A), { packets: 10, bytes: 640, used: 5, tcp_flags: 2 });
  assert.equal(table.generation[r.slot], gen + 1);
  assert.equal(table.isLive(r.slot), false);
  assert.throws(() => table.delete(UFID_A), code("ENOENT"));
  assert.throws(() => table.get(UFID_A), code("ENOENT"));
  assert.equal(table.lookup(packetTo(0x0a000101), 0, maps, 0), -1);
  const again = table.put({ ...flow(0x0a000200), ufid: UFID_B });
  assert.equal(again.slot, r.slot);
  assert.deepEqual(table.stats(again.slot), { packets: 0, bytes: 0, used: 0, tcp_flags: 0 });
});

Deno.test("flow table: flush removes everything and invalidates every slot", () => {
  const table = new FlowTable();
  const slots = [1, 2, 3].map((i) => table.put(flow(i << 8)).slot);
  const gens = slots.map((s) => table.generation[s]);
  assert.equal(table.flush(), 3);
  assert.equal(table.size, 0);
  assert.equal(table.megaflow.maskCount, 0);
  slots.forEach((s, i) => assert.equal(table.generation[s], gens[i] + 1));
  assert.equal(table.lookup(packetTo(1 << 8), 0, maps, 0), -1);
  table.put(flow(1 << 8));
  assert.equal(table.size, 1);
});

Deno.test("flow table: grows from a small start up to maxFlows, then EFBIG", () => {
  const table = new FlowTable({ maxFlows: 3000 });
  const generation = table.generation;
  for (let i = 0; i < 3000; i++) table.put(flow(i << 8, [{ type: "output", port: i & 7 }]));
  assert.equal(table.generation, generation, "arrays are never replaced");
  assert.equal(table.generation.length, 3000);
  assert.throws(() => table.put(flow(5000 << 8)), code("EFBIG"));
  for (let i = 0; i < 3000; i += 7) {
    const slot = table.lookup(packetTo((i << 8) | 1), 0, maps, 0);
    assert.ok(slot >= 0);
    assert.deepEqual(table.actionsOf(slot), [{ type: "output", port: i & 7 }]);
  }
  assert.throws(() => new FlowTable({ maxFlows: 0 }), RangeError);
});

Deno.test("flow table: identical action lists are stored once", () => {
  const table = new FlowTable();
  const set: Action = {
    type: "set",
    masked: false,
    key: new Uint32Array(KEY_WORDS),
    mask: new Uint32Array(KEY_WORDS),
  };
  const a = table.put(flow(1 << 8, [{ type: "output", port: 3 }, set]));
  const b = table.put(
    flow(2 << 8, [{ type: "output", port: 3 }, { ...set, key: set.key.slice() }]),
  );
  const c = table.put(flow(3 << 8, [{ type: "output", port: 4 }]));
  assert.equal(table.actionsIdOf(a.slot), table.actionsIdOf(b.slot));
  assert.equal(table.actionsOf(a.slot), table.actionsOf(b.slot));
  assert.notEqual(table.actionsIdOf(a.slot), table.actionsIdOf(c.slot));
  const changed = new Uint32Array(KEY_WORDS);
  changed[3] = 1;
  const d = table.put(flow(4 << 8, [{ type: "output", port: 3 }, { ...set, key: changed }]));
  assert.notEqual(table.actionsIdOf(a.slot), table.actionsIdOf(d.slot));
  table.delete(a.ufid);
  assert.deepEqual(table.actionsOf(b.slot)[0], { type: "output", port: 3 });
});

Deno.test("flow table: a twin put takes no slot, and on a full table is still EEXIST", () => {
  const table = new FlowTable({ maxFlows: 2 });
  table.put({ ...flow(1 << 8), ufid: UFID_A });
  const twin = () => table.put({ ...flow(1 << 8), ufid: UFID_B });
  assert.throws(
    twin,
    (e) => e instanceof DpifError && e.code === "EEXIST" && e.message.includes(UFID_A),
  );
  assert.equal(table.size, 1);
  const second = table.put(flow(2 << 8));
  assert.equal(table.size, 2);
  assert.ok(second.slot < 2, "the slot the twin tried is reused");
  assert.throws(
    twin,
    (e) => e instanceof DpifError && e.code === "EEXIST" && e.message.includes(UFID_A),
  );
  assert.throws(() => table.put(flow(3 << 8)), (e) => e instanceof DpifError && e.code === "EFBIG");
});

Deno.test("flow table: action lists with and without typed arrays intern by value", () => {
  const table = new FlowTable({ maxFlows: 8 });
  const header = (b: number): Action[] => [
    { type: "output", port: 2, extra: new Uint8Array([b]) } as unknown as Action,
  ];
  const a = table.put({ ...flow(1 << 8), actions: header(1) });
  const b = table.put({ ...flow(2 << 8), actions: header(1) });
  const c = table.put({ ...flow(3 << 8), actions: header(2) });
  const d = table.put({
    ...flow(4 << 8),
    actions: [{ type: "output", port: 2, extra: { 0: 1 } } as unknown as Action],
  });
  const e = table.put({ ...flow(5 << 8), actions: [{ type: "output", port: 2 }] });
  const f = table.put({ ...flow(6 << 8), actions: [{ type: "output", port: 2 }] });
  assert.equal(table.actionsIdOf(a.slot), table.actionsIdOf(b.slot));
  assert.notEqual(table.actionsIdOf(a.slot), table.actionsIdOf(c.slot));
  assert.notEqual(
    table.actionsIdOf(a.slot),
    table.actionsIdOf(d.slot),
    "Uint8Array is not an object",
  );
  assert.equal(table.actionsIdOf(e.slot), table.actionsIdOf(f.slot));
});
