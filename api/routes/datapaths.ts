/**
 * Datapaths: `GET|POST /v1/datapaths`, `GET|DELETE /v1/datapaths/{dp}`
 * (with ports and stats) and `GET /v1/datapaths/{dp}/stats`.
 *
 * @module
 */

import { Hono } from "hono";
import type { AppContext } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";
import { createDatapathBody, readBody } from "../validate.ts";

/** Routes under `/v1/datapaths` (the datapath itself, not its sub-resources). */
export function datapathRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const { control } = ctx;

  app.get("/", (c) => {
    const datapaths = control.registry.names().map((name) => {
      const dp = control.open(name);
      return { name, n_ports: dp.listPorts().length, n_flows: dp.stats().n_flows };
    });
    return c.json({ datapaths });
  });
  app.post("/", async (c) => {
    const body = await readBody(c.req.raw, createDatapathBody);
    const dp = control.createDatapath(body.name);
    await control.durable();
    ctx.logger.info("datapath created", { datapath: dp.name });
    return c.json({ name: dp.name, ports: dp.listPorts() }, 201);
  });
  app.all("/", methodNotAllowed(["GET", "POST"]));

  app.get("/:dp", (c) => {
    const dp = control.open(c.req.param("dp"));
    return c.json({ name: dp.name, ports: dp.listPorts(), stats: dp.stats() });
  });
  app.delete("/:dp", async (c) => {
    const name = c.req.param("dp");
    control.destroyDatapath(name);
    await control.durable();
    ctx.logger.info("datapath deleted", { datapath: name });
    return c.body(null, 204);
  });
  app.all("/:dp", methodNotAllowed(["GET", "DELETE"]));

  app.get("/:dp/stats", (c) => c.json(control.open(c.req.param("dp")).stats()));
  app.all("/:dp/stats", methodNotAllowed(["GET"]));
  return app;
}
