/**
 * `GET /v1/version`: deno-dpif's version, Deno's, DPDK's (or null) and the
 * datapath type. The one path that needs no token.
 *
 * @module
 */

import { Hono } from "hono";
import type { AppContext } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";

/** Routes under `/v1/version`. */
export function versionRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  app.get("/", (c) =>
    c.json({
      version: ctx.info.version,
      deno: Deno.version.deno,
      dpdk: ctx.info.dpdkVersion,
      datapath_type: ctx.info.datapathType,
    }));
  app.all("/", methodNotAllowed(["GET"]));
  return app;
}
