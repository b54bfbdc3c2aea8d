/**
 * `GET /v1/datapaths/{dp}/ports/{port}/capture?count=N&timeout=S`: waits for
 * the next N frames seen on the port (default 10) for at most S seconds
 * (default 10) and answers a pcap file (`application/vnd.tcpdump.pcap`) of
 * what it saw, possibly empty: frames the port received and frames given to
 * it to transmit, on `dummy` ports and on `dpdk` ports (also when a PMD
 * thread moves them). See capture_hub.ts for how frames are seen.
 *
 * @module
 */

import { Hono } from "hono";
import { type AppContext, linkSignals, portRef } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";
import { encodePcap } from "../pcap.ts";
import { captureQuery, readQuery } from "../validate.ts";

/** Routes `/v1/datapaths/:dp/ports/:port/capture` (mount at `.../ports`). */
export function captureRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  app.get("/:port/capture", async (c) => {
    const dp = ctx.control.open(c.req.param("dp")!);
    const port = dp.port(portRef(c.req.param("port")));
    const query = readQuery(c.req.query(), captureQuery);
    const linked = linkSignals(c.req.raw.signal, ctx.shutdown);
    let frames;
    try {
      frames = await ctx.captures.capture(
        dp,
        port.name,
        query.count ?? 10,
        (query.timeout ?? 10) * 1000,
        linked.signal,
      );
    } finally {
      linked.dispose();
    }
    c.header("Content-Type", "application/vnd.tcpdump.pcap");
    c.header("Content-Disposition", `attachment; filename="${dp.name}-${port.name}.pcap"`);
    c.header("Dpif-Frames", String(frames.length));
    return c.body(encodePcap(frames));
  });
  app.all("/:port/capture", methodNotAllowed(["GET"]));
  return app;
}
