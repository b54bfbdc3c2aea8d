/**
 * Change notifications as Server-Sent Events: `GET /v1/events` (every
 * datapath) and `GET /v1/datapaths/{dp}/events` (one). Each change is a
 * `change` event whose data is
 * `{"kind":"datapath|port|flow","action":"added|deleted|modified|flushed","datapath",...}`;
 * a client that falls more than `?max=` changes behind (default 256) gets
 * one `overflow` event and must dump ports and flows again. A comment every
 * 15 s keeps the connection open. Every port and flow change is streamed,
 * whoever made it (the API, the learning switch, another client of the
 * datapath): see change_feed.ts.
 *
 * @module
 */

import { type Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { type AppContext, linkSignals } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";
import { readQuery, streamQuery } from "../validate.ts";
import { SSE_KEEPALIVE_MS } from "./upcalls.ts";

/** Routes `/v1/events` (mount at "/v1") and `/v1/datapaths/:dp/events` (mount at the datapath). */
export function eventRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  app.get("/events", (c) => {
    const dpName = c.req.param("dp");
    if (dpName !== undefined) ctx.control.open(dpName);
    return changeStream(c, ctx, dpName);
  });
  app.all("/events", methodNotAllowed(["GET"]));
  return app;
}

function changeStream(c: Context, ctx: AppContext, datapath: string | undefined): Response {
  const query = readQuery(c.req.query(), streamQuery);
  const subscription = ctx.control.feed.subscribe(query.max ?? 256);
  return streamSSE(c, async (stream) => {
    const linked = linkSignals(c.req.raw.signal, ctx.shutdown);
    const controller = new AbortController();
    const abort = () => controller.abort();
    linked.signal.addEventListener("abort", abort, { once: true });
    stream.onAbort(abort);
    try {
      await stream.writeSSE({ event: "ready", data: "{}" });
      while (!controller.signal.aborted) {
        const wait = new AbortController();
        const timer = setTimeout(() => wait.abort(), SSE_KEEPALIVE_MS);
        const batch = await subscription.next(AbortSignal.any([controller.signal, wait.signal]));
        clearTimeout(timer);
        if (batch === "overflow") {
          await stream.writeSSE({ event: "overflow", data: "{}" });
          continue;
        }
        let sent = 0;
        for (const event of batch) {
          if (datapath !== undefined && event.datapath !== datapath) continue;
          await stream.writeSSE({ event: "change", data: JSON.stringify(event) });
          sent++;
        }
        if (sent === 0 && batch.length === 0 && !controller.signal.aborted) {
          await stream.write(": keep-alive\n\n");
        }
      }
    } finally {
      linked.dispose();
      subscription.close();
    }
  });
}
