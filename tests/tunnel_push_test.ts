import assert from "node:assert/strict";
import { type Action, TUNNEL_TYPE_GRE, TUNNEL_TYPE_VXLAN } from "../datapath/action.ts";
import { DROP_TUNNEL_PUSH_ERROR, DROP_TUNNEL_PUSH_NO_OUTPUT } from "../datapath/drop_reason.ts";
import { DpifError } from "../datapath/errors.ts";
import { compileActions } from "../datapath/execute/compile.ts";
import { executeActions } from "../datapath/execute/executor.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import {
  greTemplate,
  hex,
  loadBatch,
  newPool,
  outerHeaders,
  RecordingContext,
  toHex,
  udp4Frame,
  vxlanTemplate,
} from "./execute_test_context.ts";

const push = (header = vxlanTemplate(false, false), headerType = TUNNEL_TYPE_VXLAN): Action => ({
  type: "tnl_push",
  tunnelPort: 4789,
  headerType,
  header,
  outPort: 1,
});

function run(actions: Action[], frames: Uint8Array[], pool = newPool(), tunnel = true) {
  const ctx = new RecordingContext(pool);
  if (tunnel) ctx.tunnels.set(4789, { type: "vxlan", dstPort: 4789 });
  executeActions(compileActions(actions), loadBatch(pool, frames), ctx);
  assert.equal(pool.available(), pool.capacity);
  return ctx;
}

Deno.test("tnl_push with nothing after it drops as tunnel_push_no_output", () => {
  const ctx = run([push()], [udp4Frame(), udp4Frame()]);
  assert.equal(ctx.drops[DROP_TUNNEL_PUSH_NO_OUTPUT], 2);
});

Deno.test("tnl_push without headroom, to a missing or mistyped tunnel port: push errors", () => {
  const tight = new MemoryPool({ capacity: 8, bufferSize: 512, headroom: 40 });
  const ctx = run([push(), { type: "output", port: 1 }], [udp4Frame()], tight);
  assert.equal(ctx.drops[DROP_TUNNEL_PUSH_ERROR], 1);
  assert.equal(ctx.outputs.length, 0);
  const missing = run([push(), { type: "output", port: 1 }], [udp4Frame()], newPool(), false);
  assert.equal(missing.drops[DROP_TUNNEL_PUSH_ERROR], 1);
  const mistyped = run(
    [push(greTemplate(false, 0), TUNNEL_TYPE_GRE), { type: "output", port: 1 }],
    [udp4Frame()],
  );
  assert.equal(mistyped.drops[DROP_TUNNEL_PUSH_ERROR], 1);
});

Deno.test("tnl_push applies a pending trunc to the inner frame", () => {
  const ctx = run([{ type: "trunc", maxLength: 20 }, push(), { type: "output", port: 1 }], [
    udp4Frame(),
  ]);
  assert.equal(toHex(ctx.outputs[0].bytes.subarray(50)), toHex(udp4Frame().subarray(0, 20)));
  assert.equal(new DataView(ctx.outputs[0].bytes.buffer).getUint16(16), 20 + 16 + 20);
});

Deno.test("tnl_push then more actions: output after push sees the outer frame", () => {
  const ctx = run([push(), { type: "output", port: 1 }, { type: "output", port: 2 }], [
    udp4Frame(),
  ]);
  assert.equal(ctx.outputs.length, 2);
  assert.equal(toHex(ctx.outputs[0].bytes), toHex(ctx.outputs[1].bytes));
});

Deno.test("bad header templates are refused at compile with EINVAL", () => {
  const vx = vxlanTemplate(false, false);
  const bad: [Uint8Array, number][] = [
    [vx, 9], // unknown type
    [vx.subarray(0, 30), TUNNEL_TYPE_VXLAN], // cut
    [hex(toHex(vx) + "00"), TUNNEL_TYPE_VXLAN], // trailing byte
    [greTemplate(false, 0), TUNNEL_TYPE_VXLAN], // GRE header, VXLAN type
    [vx, TUNNEL_TYPE_GRE], // UDP header, GRE type
    [hex(outerHeaders(false, "11") + "0000 12b5 0000 0000 0c000000 00007b00"), TUNNEL_TYPE_VXLAN],
    [hex(outerHeaders(false, "2f") + "40006558"), TUNNEL_TYPE_GRE], // routing flag
    [hex(outerHeaders(false, "2f") + "00000800"), TUNNEL_TYPE_GRE], // not Ethernet
    [hex("0000000000bb0000000000aa0806" + toHex(vx.subarray(14))), TUNNEL_TYPE_VXLAN], // ARP
  ];
  for (const [header, type] of bad) {
    assert.throws(
      () => compileActions([push(header, type), { type: "output", port: 1 }]),
      (e) => e instanceof DpifError && e.code === "EINVAL",
      toHex(header),
    );
  }
});
