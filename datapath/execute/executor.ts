/**
 * Runs a compiled action program on a batch: OVS's odp_execute_actions with
 * dpif-netdev's dp_execute_cb, a whole batch per step.
 *
 * Ownership: {@linkcode executeActions} takes every packet of the batch.
 * Each one ends exactly one way: transmitted (`ctx.output`), recirculated
 * (`ctx.recirculate`), freed after an action upcall (`ctx.upcall`, not a
 * drop), or freed and counted under a DROP_* reason (`ctx.drop`). The batch
 * is empty on return. Copies come from `batch.pool`; batches borrowed from
 * the context are returned empty.
 *
 * Semantics, step by step (see datapath/execute/program.ts):
 * - output: the last step sends the originals; an earlier one sends copies
 *   (no free buffer: DROP_NO_BUFFER). A pending trunc cuts what is sent and
 *   is then cleared; the originals keep their length.
 * - recirc, tnl_pop, clone, check_pkt_len: work on the originals when last,
 *   on copies otherwise. A pending trunc goes with the copies of a clone
 *   and is then cleared. tnl_pop failures count DROP_TUNNEL_POP_ERROR.
 * - tnl_push: in place (after a pending trunc); no tunnel port behind
 *   `tnl_port`, a port of another type, or no headroom: DROP_TUNNEL_PUSH_ERROR.
 * - push_vlan / pop_vlan / push_mpls / pop_mpls failures: DROP_ACTION_ERROR.
 * - packets left when the program ends are freed: silently after an action
 *   upcall in this program, else counted as DROP_FLOW_ACTION.
 *
 * Fast path: no allocation (the context lends batches), no closures, one
 * switch per step and per packet at most.
 *
 * @module
 */

import {
  DROP_ACTION_ERROR,
  DROP_FLOW_ACTION,
  DROP_NO_BUFFER,
  DROP_TUNNEL_POP_ERROR,
  DROP_TUNNEL_PUSH_ERROR,
} from "../drop_reason.ts";
import { W_DP_HASH, W_IN_PORT, W_RECIRC_ID } from "../flow_key.ts";
import { META_SHIFT, type PacketBatch } from "../packet_batch.ts";
import { popTunnel, tunnelTypeNumber } from "../tunnel/pop.ts";
import { pushTunnel, templateFitsPort } from "../tunnel/push.ts";
import type { ExecutionContext } from "./context.ts";
import { copyBatchInto, copyPacketInto, moveSlot, truncateBatch } from "./batch_copy.ts";
import { popMpls, pushMpls } from "./mpls.ts";
import { hashPacketL4 } from "./packet_hash.ts";
import {
  type CompiledActions,
  OP_CHECK_PKT_LEN,
  OP_CLONE,
  OP_DROP,
  OP_HASH,
  OP_OUTPUT,
  OP_POP_MPLS,
  OP_POP_VLAN,
  OP_PUSH_MPLS,
  OP_PUSH_VLAN,
  OP_RECIRC,
  OP_SET,
  OP_TRUNC,
  OP_TUNNEL_POP,
  OP_TUNNEL_PUSH,
  OP_USERSPACE,
  type Step,
} from "./program.ts";
import { applySet } from "./set_field.ts";
import { popVlan, pushVlan } from "./vlan.ts";

export { CompiledActions } from "./program.ts";
export { compileActions } from "./compile.ts";
export type { ExecutionContext } from "./context.ts";

/**
 * Runs the program on every packet of batch; takes ownership of all packets:
 * each is output, recirculated, upcalled-then-freed, or freed and counted.
 * Empties the batch. Never throws on packet data.
 */
export function executeActions(
  program: CompiledActions,
  batch: PacketBatch,
  ctx: ExecutionContext,
): void {
  run(program, batch, ctx, -1);
}

/** Runs `program` with a pending trunc length (-1: none). */
function run(program: CompiledActions, batch: PacketBatch, ctx: ExecutionContext, trunc: number) {
  const steps = program.steps;
  let upcalled = false;
  for (let s = 0; s < steps.length; s++) {
    if (batch.count === 0) return;
    const step = steps[s];
    switch (step.op) {
      case OP_DROP:
        ctx.drop(step.arg0, batch.count);
        batch.freeAll();
        return;
      case OP_OUTPUT:
        if (step.last) {
          truncateBatch(batch, trunc);
          ctx.output(step.arg0, batch);
          return;
        }
        sendCopies(step, batch, ctx, trunc);
        trunc = -1;
        break;
      case OP_SET:
      case OP_HASH:
        applyEach(step, batch);
        break;
      case OP_PUSH_VLAN:
      case OP_POP_VLAN:
      case OP_PUSH_MPLS:
      case OP_POP_MPLS:
        applyFallible(step, batch, ctx, DROP_ACTION_ERROR, 0, 0);
        break;
      case OP_TUNNEL_PUSH:
        truncateBatch(batch, trunc);
        trunc = -1;
        tunnelPush(step, batch, ctx);
        break;
      case OP_TRUNC:
        trunc = step.arg0;
        break;
      case OP_USERSPACE: {
        const action = step.userspace!;
        for (let i = 0; i < batch.count; i++) ctx.upcall(batch, i, action);
        upcalled = true;
        break;
      }
      case OP_RECIRC:
      case OP_TUNNEL_POP:
      case OP_CLONE:
        if (step.last) {
          consume(step, batch, ctx, trunc);
          return;
        }
        if (step.op !== OP_CLONE || !step.nested!.dropsAll) {
          const copies = ctx.borrowBatch();
          const lost = copyBatchInto(batch, copies, -1);
          if (lost !== 0) ctx.drop(DROP_NO_BUFFER, lost);
          consume(step, copies, ctx, trunc);
          ctx.releaseBatch(copies);
        }
        // The clone's copies took the pending trunc; as odp_execute_clone
        // does, the originals go on uncut.
        if (step.op === OP_CLONE) trunc = -1;
        break;
      case OP_CHECK_PKT_LEN:
        checkPacketLength(step, batch, ctx, trunc);
        if (step.last) return;
        break;
    }
  }
  if (batch.count === 0) return;
  if (!upcalled) ctx.drop(DROP_FLOW_ACTION, batch.count);
  batch.freeAll();
}

/** Sends copies of the batch to the step's port, cut to `trunc` when >= 0. */
function sendCopies(step: Step, batch: PacketBatch, ctx: ExecutionContext, trunc: number): void {
  const copies = ctx.borrowBatch();
  const lost = copyBatchInto(batch, copies, trunc);
  if (lost !== 0) ctx.drop(DROP_NO_BUFFER, lost);
  if (copies.count !== 0) ctx.output(step.arg0, copies);
  ctx.releaseBatch(copies);
}

/** Runs a step that consumes its batch: recirc, tnl_pop or clone. */
function consume(step: Step, batch: PacketBatch, ctx: ExecutionContext, trunc: number): void {
  if (step.op === OP_RECIRC) {
    const meta = batch.meta;
    for (let i = 0; i < batch.count; i++) meta[(i << META_SHIFT) + W_RECIRC_ID] = step.arg0;
    ctx.recirculate(batch);
  } else if (step.op === OP_TUNNEL_POP) {
    const port = ctx.tunnelPort(step.arg0);
    if (port === null) {
      ctx.drop(DROP_TUNNEL_POP_ERROR, batch.count);
      batch.freeAll();
      return;
    }
    applyFallible(
      step,
      batch,
      ctx,
      DROP_TUNNEL_POP_ERROR,
      tunnelTypeNumber(port.type),
      port.dstPort,
    );
    if (batch.count !== 0) ctx.recirculate(batch);
  } else {
    run(step.nested!, batch, ctx, trunc);
  }
}

/** tnl_push on every packet; checks the tunnel port once per batch. */
function tunnelPush(step: Step, batch: PacketBatch, ctx: ExecutionContext): void {
  const template = step.tunnel!;
  const port = ctx.tunnelPort(template.tunnelPort);
  if (port === null || tunnelTypeNumber(port.type) !== template.headerType) {
    ctx.drop(DROP_TUNNEL_PUSH_ERROR, batch.count);
    batch.freeAll();
    return;
  }
  applyFallible(step, batch, ctx, DROP_TUNNEL_PUSH_ERROR, 0, 0);
}

/** Applies a step that cannot fail (set, hash) to every packet. */
function applyEach(step: Step, batch: PacketBatch): void {
  const n = batch.count;
  if (step.op === OP_SET) {
    const set = step.set!;
    for (let i = 0; i < n; i++) applySet(set, batch, i);
    return;
  }
  for (let i = 0; i < n; i++) hashOne(step, batch, i);
}

/** dp_hash of packet i from its 5-tuple (the hash step). */
function hashOne(step: Step, batch: PacketBatch, i: number): void {
  const pool = batch.pool;
  const h = hashPacketL4(
    pool.bytes,
    pool.view,
    batch.offset[i],
    batch.length[i],
    step.arg0,
    step.arg1 === 1,
  );
  batch.meta[(i << META_SHIFT) + W_DP_HASH] = h === 0 ? 1 : h; // 0 means "no hash" in OVS
}

/**
 * Runs the steps before the final output of a program whose
 * `directOutput` is set on packet i alone, in place. Returns false when a
 * step failed: the packet is then freed and the drop counted (as the batch
 * path does). The caller sends the packet on when true. Fast path.
 */
export function applyInPlace(
  program: CompiledActions,
  batch: PacketBatch,
  i: number,
  ctx: ExecutionContext,
): boolean {
  const steps = program.steps;
  const n = steps.length - 1;
  for (let s = 0; s < n; s++) {
    const step = steps[s];
    let ok = true;
    let reason = DROP_ACTION_ERROR;
    if (step.op === OP_SET) applySet(step.set!, batch, i);
    else if (step.op === OP_HASH) hashOne(step, batch, i);
    else if (step.op === OP_TUNNEL_PUSH) {
      reason = DROP_TUNNEL_PUSH_ERROR;
      const template = step.tunnel!;
      ok = templateFitsPort(template, ctx.tunnelPort(template.tunnelPort)) &&
        applyOne(step, batch, i, 0, 0);
    } else ok = applyOne(step, batch, i, 0, 0);
    if (!ok) {
      batch.pool.free(batch.handle[i]);
      ctx.drop(reason, 1);
      return false;
    }
  }
  return true;
}

/**
 * Applies a step that may fail (push/pop VLAN or MPLS, tnl_push, tnl_pop)
 * to packet i; false when it failed (the packet is left for the caller to
 * free). `a` and `b` are the tunnel type and UDP port for tnl_pop. The one
 * per-packet body of the batch path and of applyInPlace.
 */
function applyOne(step: Step, batch: PacketBatch, i: number, a: number, b: number): boolean {
  switch (step.op) {
    case OP_PUSH_VLAN:
      return pushVlan(batch, i, step.arg0, step.arg1);
    case OP_POP_VLAN:
      return popVlan(batch, i);
    case OP_PUSH_MPLS:
      return pushMpls(batch, i, step.arg1, step.arg0);
    case OP_POP_MPLS:
      return popMpls(batch, i, step.arg0);
    case OP_TUNNEL_PUSH:
      if (!pushTunnel(step.tunnel!, batch, i)) return false;
      batch.meta[(i << META_SHIFT) + W_IN_PORT] = step.arg0;
      return true;
    case OP_TUNNEL_POP:
      return popTunnel(batch, i, a, b, step.arg0);
    default:
      return false;
  }
}

/**
 * Applies a step that may fail per packet; failed packets are freed and
 * counted under `reason`, the others keep their order. `a` and `b` are the
 * tunnel type and UDP port for tnl_pop.
 */
function applyFallible(
  step: Step,
  batch: PacketBatch,
  ctx: ExecutionContext,
  reason: number,
  a: number,
  b: number,
): void {
  const n = batch.count;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    if (applyOne(step, batch, i, a, b)) {
      if (kept !== i) moveSlot(batch, i, kept);
      kept++;
    } else {
      batch.pool.free(batch.handle[i]);
    }
  }
  batch.count = kept;
  if (kept !== n) ctx.drop(reason, n - kept);
}

/**
 * check_pkt_len: packets longer than `arg0` run `nested`, the others
 * `nested2`. When last, the originals are split; otherwise copies are.
 */
function checkPacketLength(
  step: Step,
  batch: PacketBatch,
  ctx: ExecutionContext,
  trunc: number,
): void {
  const greater = ctx.borrowBatch();
  const lessEqual = ctx.borrowBatch();
  const size = step.arg0;
  const skipGreater = !step.last && step.nested!.dropsAll;
  const skipLessEqual = !step.last && step.nested2!.dropsAll;
  let lost = 0;
  for (let i = 0; i < batch.count; i++) {
    const isGreater = batch.length[i] > size;
    const target = isGreater ? greater : lessEqual;
    if (step.last) target.pushFrom(batch, i);
    else if (!(isGreater ? skipGreater : skipLessEqual) && !copyPacketInto(batch, i, target)) {
      lost++;
    }
  }
  if (step.last) batch.count = 0;
  if (lost !== 0) ctx.drop(DROP_NO_BUFFER, lost);
  if (greater.count !== 0) run(step.nested!, greater, ctx, trunc);
  if (lessEqual.count !== 0) run(step.nested2!, lessEqual, ctx, trunc);
  ctx.releaseBatch(greater);
  ctx.releaseBatch(lessEqual);
}
