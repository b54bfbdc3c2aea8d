import assert from "node:assert/strict";
import type { Action } from "../datapath/action.ts";
import { DROP_ACTION_ERROR } from "../datapath/drop_reason.ts";
import { compileActions } from "../datapath/execute/compile.ts";
import { executeActions } from "../datapath/execute/executor.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import {
  hex,
  loadBatch,
  newPool,
  RecordingContext,
  toHex,
  udp4Frame,
} from "./execute_test_context.ts";

function run(actions: Action[], frames: Uint8Array[]) {
  const pool = newPool();
  const ctx = new RecordingContext(pool);
  executeActions(
    compileActions([...actions, { type: "output", port: 1 }]),
    loadBatch(pool, frames),
    ctx,
  );
  assert.equal(pool.available(), pool.capacity);
  return ctx;
}

const macs = "000000000002000000000001";
const ipUdp = toHex(udp4Frame().subarray(12));

Deno.test("push_vlan inserts a tag after the MACs; QinQ pushes in front", () => {
  const one = run([{ type: "push_vlan", tpid: 0x8100, vid: 10, pcp: 5 }], [udp4Frame()]);
  assert.equal(toHex(one.outputs[0].bytes), macs + "8100a00a" + ipUdp);
  const two = run([
    { type: "push_vlan", tpid: 0x8100, vid: 10, pcp: 0 },
    { type: "push_vlan", tpid: 0x88a8, vid: 0xfff, pcp: 7 },
  ], [udp4Frame()]);
  assert.equal(toHex(two.outputs[0].bytes), macs + "88a8efff" + "8100000a" + ipUdp);
});

Deno.test("pop_vlan removes the outer tag; untagged frames drop as action_error", () => {
  const tagged = hex(macs + "88a8efff8100000a" + ipUdp);
  const ctx = run([{ type: "pop_vlan" }], [tagged, udp4Frame(), tagged]);
  assert.equal(ctx.drops[DROP_ACTION_ERROR], 1);
  assert.deepEqual(ctx.outputs.map((o) => toHex(o.bytes)), [
    macs + "8100000a" + ipUdp,
    macs + "8100000a" + ipUdp,
  ]);
  const both = run([{ type: "pop_vlan" }, { type: "pop_vlan" }], [tagged]);
  assert.equal(toHex(both.outputs[0].bytes), toHex(udp4Frame()));
});

Deno.test("push_vlan without headroom drops as action_error", () => {
  const pool = new MemoryPool({ capacity: 4, bufferSize: 256, headroom: 2 });
  const ctx = new RecordingContext(pool);
  const batch = loadBatch(pool, [udp4Frame()]);
  executeActions(
    compileActions([{ type: "push_vlan", tpid: 0x8100, vid: 1, pcp: 0 }, {
      type: "output",
      port: 1,
    }]),
    batch,
    ctx,
  );
  assert.equal(ctx.drops[DROP_ACTION_ERROR], 1);
  assert.equal(pool.available(), 4);
  assert.ok(batch instanceof PacketBatch);
});

Deno.test("push_mpls / pop_mpls: exact bytes, on tagged frames too", () => {
  const push: Action = { type: "push_mpls", label: 100, tc: 3, ttl: 64, bos: 1, ethType: 0x8847 };
  const pushed = run([push], [udp4Frame()]).outputs[0].bytes;
  // label 100 = 0x00064, tc 3, bos 1 -> 0x00064 << 12 | 3 << 9 | 1 << 8 | 64
  assert.equal(toHex(pushed), macs + "8847" + "00064740" + ipUdp.slice(4));
  const popped = run([{ type: "pop_mpls", ethType: 0x0800 }], [pushed]).outputs[0].bytes;
  assert.equal(toHex(popped), toHex(udp4Frame()));
  const tagged = hex(macs + "8100000a" + ipUdp);
  const pushedTagged = run([push], [tagged]).outputs[0].bytes;
  assert.equal(toHex(pushedTagged), macs + "8100000a8847" + "00064740" + ipUdp.slice(4));
  assert.equal(
    toHex(run([{ type: "pop_mpls", ethType: 0x0800 }], [pushedTagged]).outputs[0].bytes),
    toHex(tagged),
  );
});

Deno.test("pop_mpls on a non-MPLS or too short frame drops as action_error", () => {
  const ctx = run([{ type: "pop_mpls", ethType: 0x0800 }], [
    udp4Frame(),
    hex(macs + "8847" + "0006"),
  ]);
  assert.equal(ctx.drops[DROP_ACTION_ERROR], 2);
  assert.equal(ctx.outputs.length, 0);
});
