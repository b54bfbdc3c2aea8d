import assert from "node:assert/strict";
import type { Action, UserspaceAction } from "../datapath/action.ts";
import { DROP_FLOW_ACTION, DROP_INVALID_PORT, DROP_NO_BUFFER } from "../datapath/drop_reason.ts";
import { DpifError } from "../datapath/errors.ts";
import { compileActions } from "../datapath/execute/compile.ts";
import { executeActions } from "../datapath/execute/executor.ts";
import { KEY_WORDS, W_DP_HASH, W_IN_PORT, W_NW_SRC, W_RECIRC_ID } from "../datapath/flow_key.ts";
import {
  hex,
  loadBatch,
  newPool,
  RecordingContext,
  tcp4Frame,
  toHex,
  udp4Frame,
} from "./execute_test_context.ts";

function setSrc(value: number): Action {
  const key = new Uint32Array(KEY_WORDS), mask = new Uint32Array(KEY_WORDS);
  key[W_NW_SRC] = value;
  mask[W_NW_SRC] = 0xffffffff;
  return { type: "set", masked: false, key, mask };
}

/** Runs actions over frames; checks the pool and batch come back clean. */
function run(actions: Action[], frames: Uint8Array[], capacity = 64, meta = {}) {
  const pool = newPool(capacity);
  const ctx = new RecordingContext(pool);
  const batch = loadBatch(pool, frames, meta);
  const start = pool.available() + frames.length;
  executeActions(compileActions(actions), batch, ctx);
  assert.equal(batch.count, 0, "batch emptied");
  assert.equal(ctx.borrowed, 0, "borrowed batches returned");
  assert.equal(pool.available(), start, "no buffer leaked");
  return ctx;
}

const userspace: UserspaceAction = {
  type: "userspace",
  pid: 7,
  userdata: null,
  tunnelOutPort: null,
  actions: false,
};

Deno.test("output: one port sends the original bytes", () => {
  const ctx = run([{ type: "output", port: 1 }], [udp4Frame(), tcp4Frame()]);
  assert.deepEqual(ctx.outputs.map((o) => [o.port, toHex(o.bytes)]), [
    [1, toHex(udp4Frame())],
    [1, toHex(tcp4Frame())],
  ]);
});

Deno.test("several outputs clone; actions between them apply to later ones only", () => {
  const ctx = run([{ type: "output", port: 1 }, setSrc(0x01010101), { type: "output", port: 2 }], [
    udp4Frame(),
  ]);
  assert.equal(ctx.outputs.length, 2);
  assert.equal(toHex(ctx.outputs[0].bytes), toHex(udp4Frame()));
  assert.equal(toHex(ctx.outputs[1].bytes.subarray(26, 30)), "01010101");
});

Deno.test("empty list and drop count flow_action; bad port counts invalid_port", () => {
  assert.equal(run([], [udp4Frame(), udp4Frame()]).drops[DROP_FLOW_ACTION], 2);
  assert.equal(run([{ type: "drop" }], [udp4Frame()]).drops[DROP_FLOW_ACTION], 1);
  const ctx = run([{ type: "output", port: 99 }, { type: "output", port: 1 }], [udp4Frame()]);
  assert.equal(ctx.drops[DROP_INVALID_PORT], 1);
  assert.equal(ctx.outputs.length, 1);
});

Deno.test("no buffer for a clone: no_buffer drop, the original still goes out", () => {
  // Pool of 3 buffers, 3 packets: copies for the first output cannot be made.
  const ctx = run(
    [{ type: "output", port: 1 }, { type: "output", port: 2 }],
    [udp4Frame(), udp4Frame(), udp4Frame()],
    3,
  );
  assert.equal(ctx.drops[DROP_NO_BUFFER], 3);
  assert.deepEqual(ctx.outputs.map((o) => o.port), [2, 2, 2]);
});

Deno.test("trunc cuts the next output only", () => {
  const ctx = run(
    [{ type: "trunc", maxLength: 20 }, { type: "output", port: 1 }, { type: "output", port: 2 }],
    [udp4Frame()],
  );
  assert.equal(toHex(ctx.outputs[0].bytes), toHex(udp4Frame().subarray(0, 20)));
  assert.equal(toHex(ctx.outputs[1].bytes), toHex(udp4Frame()));
  const last = run([{ type: "trunc", maxLength: 30 }, { type: "output", port: 1 }], [udp4Frame()]);
  assert.equal(last.outputs[0].bytes.length, 30);
});

Deno.test("userspace upcalls each packet; last userspace frees without a drop", () => {
  const ctx = run([userspace], [udp4Frame(), tcp4Frame()]);
  assert.equal(ctx.upcalls.length, 2);
  assert.equal(toHex(ctx.upcalls[1].bytes), toHex(tcp4Frame()));
  assert.equal(ctx.totalDrops(), 0);
  const both = run([userspace, { type: "output", port: 3 }], [udp4Frame()]);
  assert.equal(both.upcalls.length, 1);
  assert.equal(both.outputs[0].port, 3);
});

Deno.test("recirc sets recirc_id: a copy when not last, the original when last", () => {
  const ctx = run([{ type: "recirc", id: 5 }, { type: "output", port: 1 }], [udp4Frame()]);
  assert.equal(ctx.recirculated.length, 1);
  assert.equal(ctx.recirculated[0].meta[W_RECIRC_ID], 5);
  assert.equal(ctx.outputs[0].meta[W_RECIRC_ID], 0);
  const last = run([{ type: "recirc", id: 0xffffffff }], [udp4Frame(), udp4Frame()]);
  assert.deepEqual(last.recirculated.map((r) => r.meta[W_RECIRC_ID]), [0xffffffff, 0xffffffff]);
});

Deno.test("hash: stable per flow, differs across flows, sym_l4 ignores direction", () => {
  const a = tcp4Frame();
  const reversed = hex(
    "000000000001 000000000002 0800 4500002a 12344000 40060000 c0a80202 c0a80101 005003e8",
  );
  const ctx = run([{ type: "hash", algorithm: "l4", basis: 0 }, { type: "output", port: 1 }], [
    a,
    a,
    udp4Frame(),
    reversed,
  ]);
  const h = ctx.outputs.map((o) => o.meta[W_DP_HASH]);
  assert.equal(h[0], h[1]);
  assert.notEqual(h[0], h[2]);
  assert.notEqual(h[0], h[3]);
  assert.ok(h.every((x) => x !== 0));
  const sym = run([{ type: "hash", algorithm: "sym_l4", basis: 9 }, { type: "output", port: 1 }], [
    a,
    reversed,
  ]).outputs.map((o) => o.meta[W_DP_HASH]);
  assert.equal(sym[0], sym[1]);
  const basis = run([{ type: "hash", algorithm: "l4", basis: 1 }, { type: "output", port: 1 }], [
    a,
  ]);
  assert.notEqual(basis.outputs[0].meta[W_DP_HASH], h[0]);
});

Deno.test("clone runs nested actions on copies; the original continues", () => {
  const ctx = run([
    { type: "clone", actions: [setSrc(0x09090909), { type: "output", port: 2 }] },
    { type: "output", port: 1 },
  ], [udp4Frame()]);
  assert.deepEqual(ctx.outputs.map((o) => o.port), [2, 1]);
  assert.equal(toHex(ctx.outputs[0].bytes.subarray(26, 30)), "09090909");
  assert.equal(toHex(ctx.outputs[1].bytes), toHex(udp4Frame()));
  const last = run([{ type: "clone", actions: [{ type: "output", port: 4 }] }], [udp4Frame()]);
  assert.equal(last.outputs[0].port, 4);
  const empty = run([{ type: "clone", actions: [] }, { type: "output", port: 1 }], [udp4Frame()]);
  assert.equal(empty.totalDrops(), 0);
});

Deno.test("check_pkt_len splits by length (originals when last, copies otherwise)", () => {
  const small = udp4Frame(); // 46 bytes
  const big = tcp4Frame(); // 56 bytes
  const split: Action = {
    type: "check_pkt_len",
    size: 50,
    greater: [{ type: "output", port: 2 }],
    lessEqual: [{ type: "output", port: 3 }],
  };
  const ctx = run([split], [small, big, small]);
  assert.deepEqual(ctx.outputs.map((o) => [o.port, o.bytes.length]).sort(), [
    [2, 56],
    [3, 46],
    [3, 46],
  ]);
  const notLast = run([split, { type: "output", port: 1 }], [small, big]);
  assert.equal(notLast.outputs.filter((o) => o.port === 1).length, 2);
  assert.equal(notLast.outputs.length, 4);
  const dropGreater = run([{ ...split, greater: [] }], [small, big]);
  assert.equal(dropGreater.drops[DROP_FLOW_ACTION], 1);
  assert.equal(dropGreater.outputs.length, 1);
});

Deno.test("compile rejects invalid actions with DpifError EINVAL", () => {
  const key = new Uint32Array(KEY_WORDS), mask = new Uint32Array(KEY_WORDS);
  mask[W_IN_PORT] = 0xffffffff;
  const bad: Action[][] = [
    [{ type: "drop" }, { type: "output", port: 1 }],
    [{ type: "output", port: -1 }],
    [{ type: "push_vlan", tpid: 0x9100, vid: 1, pcp: 0 }],
    [{ type: "push_vlan", tpid: 0x8100, vid: 4096, pcp: 0 }],
    [{ type: "set", masked: false, key, mask }],
    [{ type: "set", masked: false, key: new Uint32Array(3), mask: new Uint32Array(3) }],
    [{ type: "trunc", maxLength: 10 }],
    [{ type: "push_mpls", label: 1 << 20, tc: 0, ttl: 64, bos: 1, ethType: 0x8847 }],
    [{ type: "push_mpls", label: 1, tc: 0, ttl: 64, bos: 1, ethType: 0x0800 }],
    [{ type: "hash", algorithm: "l3" as "l4", basis: 0 }],
    [{ type: "tnl_push", tunnelPort: 4789, headerType: 4, header: new Uint8Array(10), outPort: 1 }],
    [{ type: "bogus" } as unknown as Action],
  ];
  let deep: Action[] = [{ type: "output", port: 1 }];
  for (let d = 0; d < 10; d++) deep = [{ type: "clone", actions: deep }];
  bad.push(deep);
  for (const actions of bad) {
    assert.throws(
      () => compileActions(actions),
      (e) => e instanceof DpifError && e.code === "EINVAL",
    );
  }
});
