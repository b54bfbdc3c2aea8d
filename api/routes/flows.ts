/**
 * Flows of a datapath: `GET .../flows` (dump: `?format=odp|json`,
 * `?limit=`, `?cursor=`), `POST .../flows` (create, 409 if it exists),
 * `PUT .../flows` (modify or create, with create/modify/zero_stats flags),
 * `DELETE .../flows` (flush), `GET|DELETE .../flows/{ufid}`.
 *
 * With `format=odp` the dump is text/plain, one `ovs-dpctl dump-flows` line
 * per flow, and the cursor of the next page is in the `Dpif-Next-Cursor`
 * header (absent on the last page); with `format=json` (the default) the
 * body is `{"flows":[...],"next":cursor|null}`.
 *
 * @module
 */

import { Hono } from "hono";
import type { AppContext } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";
import { flowRecord, flowStatsJson, formatFlowLine } from "../flow_text.ts";
import {
  createFlowBody,
  dumpFlowsQuery,
  putFlowBody,
  readBody,
  readQuery,
  ufidText,
} from "../validate.ts";
import { ApiError } from "../errors.ts";

/** Flows per dump page when no limit is given. */
export const DEFAULT_DUMP_LIMIT = 1000;

/** Routes under `/v1/datapaths/:dp/flows`. */
export function flowRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const { control } = ctx;

  app.get("/", (c) => {
    const dp = control.open(c.req.param("dp")!);
    const query = readQuery(c.req.query(), dumpFlowsQuery);
    const page = dp.dumpFlows(query.cursor ?? null, query.limit ?? DEFAULT_DUMP_LIMIT);
    const flows = page.flows.map(flowRecord);
    if (query.format === "odp") {
      const now = Date.now();
      const text = flows.map((f) => formatFlowLine(f, now) + "\n").join("");
      if (page.next !== null) c.header("Dpif-Next-Cursor", page.next);
      return c.text(text);
    }
    return c.json({ flows, next: page.next });
  });
  app.post("/", async (c) => {
    const dpName = c.req.param("dp")!;
    control.open(dpName);
    const body = await readBody(c.req.raw, createFlowBody);
    const result = control.putFlow(dpName, { ...body, create: true, modify: false });
    await control.durable();
    return c.json({ ufid: result.ufid, created: true }, 201);
  });
  app.put("/", async (c) => {
    const dpName = c.req.param("dp")!;
    control.open(dpName);
    const body = await readBody(c.req.raw, putFlowBody);
    const create = body.create ?? true;
    const modify = body.modify ?? true;
    if (!create && !modify) {
      throw new ApiError("EINVAL", "create and modify cannot both be false");
    }
    const result = control.putFlow(dpName, {
      flow: body.flow,
      actions: body.actions,
      ufid: body.ufid,
      create,
      modify,
      zeroStats: body.zero_stats ?? false,
    });
    await control.durable();
    return c.json({
      ufid: result.ufid,
      created: result.created,
      previous: result.previous === null ? null : flowStatsJson(result.previous),
    }, result.created ? 201 : 200);
  });
  app.delete("/", async (c) => {
    const deleted = control.flushFlows(c.req.param("dp")!);
    await control.durable();
    return c.json({ deleted });
  });
  app.all("/", methodNotAllowed(["GET", "POST", "PUT", "DELETE"]));

  app.get("/:ufid", (c) => {
    const dp = control.open(c.req.param("dp")!);
    return c.json(flowRecord(dp.getFlow(checkUfid(c.req.param("ufid")))));
  });
  app.delete("/:ufid", async (c) => {
    const deleted = control.deleteFlow(c.req.param("dp")!, checkUfid(c.req.param("ufid")));
    await control.durable();
    return c.json({ ufid: deleted.ufid, stats: flowStatsJson(deleted.stats) });
  });
  app.all("/:ufid", methodNotAllowed(["GET", "DELETE"]));
  return app;
}

function checkUfid(text: string): string {
  const parsed = ufidText.safeParse(text);
  if (!parsed.success) {
    throw new ApiError("EINVAL", `bad UFID '${text}': ${parsed.error.issues[0].message}`);
  }
  return text;
}
