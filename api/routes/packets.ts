/**
 * `POST .../execute {"packet","actions","metadata"?}` (dpif_execute) and
 * `POST .../operate {"ops":[...]}` (dpif_operate, a result per op). The whole
 * body is validated before any operation runs.
 *
 * @module
 */

import { Hono } from "hono";
import type { Operation, OperationResult } from "../../datapath/datapath.ts";
import { type DatapathFlowStats, flowRecord, flowStatsJson } from "../flow_text.ts";
import type { AppContext } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";
import { hexToBytes } from "../hex.ts";
import { executeBody, operateBody, readBody, readOperateBody } from "../validate.ts";
import type { z } from "zod";

/** Routes `/v1/datapaths/:dp/execute` and `/v1/datapaths/:dp/operate`. */
export function packetRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const { control } = ctx;

  app.post("/execute", async (c) => {
    const dp = control.open(c.req.param("dp")!);
    const body = await readBody(c.req.raw, executeBody);
    dp.execute(hexToBytes(body.packet), body.actions, body.metadata);
    ctx.captures.collectTransmitted(dp);
    return c.json({ executed: true });
  });
  app.all("/execute", methodNotAllowed(["POST"]));

  app.post("/operate", async (c) => {
    const dpName = c.req.param("dp")!;
    const dp = control.open(dpName);
    const body = await readOperateBody(c.req.raw);
    const ops = body.ops.map(toOperation);
    const applied = control.operate(dpName, ops);
    const durable = control.durable();
    const results = applied.map((r, i) => operationJson(ops[i].op, r));
    ctx.captures.collectTransmitted(dp);
    await durable;
    return c.json({ results });
  });
  app.all("/operate", methodNotAllowed(["POST"]));
  return app;
}

/**
 * The datapath operation of a validated op. A put without `zero_stats` is
 * already one (Datapath.putFlow defaults create, modify and zeroStats as
 * the API does: true, false, false), so it is passed as it is: one object
 * less per op (bench/flow_setup_bench.ts, 1,000 puts per request).
 */
function toOperation(op: z.infer<typeof operateBody>["ops"][number]): Operation {
  switch (op.op) {
    case "put":
      if (op.zero_stats === undefined) return op;
      return {
        op: "put",
        flow: op.flow,
        actions: op.actions,
        ufid: op.ufid,
        create: op.create ?? true,
        modify: op.modify ?? false,
        zeroStats: op.zero_stats ?? false,
      };
    case "del":
      return { op: "del", ufid: op.ufid };
    case "get":
      return { op: "get", ufid: op.ufid };
    case "execute":
      return {
        op: "execute",
        packet: hexToBytes(op.packet),
        actions: op.actions,
        metadata: op.metadata,
      };
  }
}

/**
 * An operation's result with stats in the API's JSON form. A created flow's
 * result (`{ufid, created, previous: null}` from Datapath.putFlow) already
 * is, and is answered as it is (no copy per op).
 */
function operationJson(op: Operation["op"], result: OperationResult): OperationResult {
  if (!result.ok) return result;
  const value = result.result as Record<string, unknown> | null;
  if (value === null) return result;
  switch (op) {
    case "get":
      return { ok: true, result: flowRecord(value as Parameters<typeof flowRecord>[0]) };
    case "put": {
      const previous = value.previous as DatapathFlowStats | null;
      if (previous === null) return result;
      return {
        ok: true,
        result: {
          ufid: value.ufid,
          created: value.created,
          previous: previous === null ? null : flowStatsJson(previous),
        },
      };
    }
    case "del":
      return {
        ok: true,
        result: { ufid: value.ufid, stats: flowStatsJson(value.stats as DatapathFlowStats) },
      };
    default:
      return result;
  }
}
