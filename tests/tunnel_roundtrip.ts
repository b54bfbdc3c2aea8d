/**
 * Shared steps of the tunnel tests: push a template onto frames through the
 * executor (tnl_push + output) and pop frames through it (tnl_pop), each on
 * a fresh pool that must come back full. Not a test file itself.
 *
 * @module
 */

import assert from "node:assert/strict";
import { compileActions } from "../datapath/execute/compile.ts";
import { executeActions } from "../datapath/execute/executor.ts";
import { loadBatch, newPool, RecordingContext, type Sent } from "./execute_test_context.ts";

const TYPE_NAMES: Record<number, "gre" | "vxlan" | "geneve"> = {
  3: "gre",
  4: "vxlan",
  5: "geneve",
};

/** tnl_push(tnl_port(port), header, out_port(1)), output(1) on frames; returns the outputs. */
export function pushOnce(
  headerType: number,
  header: Uint8Array,
  frames: Uint8Array[],
  port: number,
): Sent[] {
  const pool = newPool();
  const ctx = new RecordingContext(pool);
  ctx.tunnels.set(port, { type: TYPE_NAMES[headerType], dstPort: port });
  const program = compileActions([
    { type: "tnl_push", tunnelPort: port, headerType, header, outPort: 1 },
    { type: "output", port: 1 },
  ]);
  executeActions(program, loadBatch(pool, frames), ctx);
  assert.equal(ctx.totalDrops(), 0);
  assert.equal(pool.available(), pool.capacity);
  return ctx.outputs;
}

/** tnl_pop(port) on frames with a tunnel port of `type` on UDP `port`; returns the context. */
export function popOnce(
  type: "gre" | "vxlan" | "geneve",
  port: number,
  frames: Uint8Array[],
  meta: Record<number, number> = {},
): RecordingContext {
  const pool = newPool();
  const ctx = new RecordingContext(pool);
  ctx.tunnels.set(port, { type, dstPort: port });
  executeActions(compileActions([{ type: "tnl_pop", port }]), loadBatch(pool, frames, meta), ctx);
  assert.equal(pool.available(), pool.capacity);
  return ctx;
}
