/**
 * Upcalls of a datapath: `POST .../upcalls/enable|disable`,
 * `GET .../upcalls?max=N&timeout=S` (long poll: answers as soon as at least
 * one upcall is queued, or after S seconds with none; at most N upcalls,
 * default 64, S default 5) and `GET .../upcalls/stream` (Server-Sent Events,
 * one `upcall` event per upcall, a comment every 15 s to keep the
 * connection open).
 *
 * @module
 */

import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { type AppContext, linkSignals } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";
import { upcallJson } from "../upcall_json.ts";
import { emptyBody, readBody, readQuery, streamQuery, upcallsQuery } from "../validate.ts";

/** Upcalls returned per long poll when no max is given. */
export const DEFAULT_UPCALL_BATCH = 64;
/** Long-poll wait when no timeout is given, in seconds. */
export const DEFAULT_UPCALL_TIMEOUT = 5;
/** Keep-alive period of the SSE stream, ms. */
export const SSE_KEEPALIVE_MS = 15_000;

/** Routes under `/v1/datapaths/:dp/upcalls`. */
export function upcallRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const { control } = ctx;

  for (const [verb, enabled] of [["enable", true], ["disable", false]] as const) {
    app.post(`/${verb}`, async (c) => {
      const dp = control.open(c.req.param("dp")!);
      await readBody(c.req.raw, emptyBody);
      dp.setUpcallsEnabled(enabled);
      ctx.logger.info(`upcalls ${verb}d`, { datapath: dp.name });
      return c.json({ enabled: dp.upcalls.enabled });
    });
    app.all(`/${verb}`, methodNotAllowed(["POST"]));
  }

  app.get("/", async (c) => {
    const dp = control.open(c.req.param("dp")!);
    const query = readQuery(c.req.query(), upcallsQuery);
    const max = query.max ?? DEFAULT_UPCALL_BATCH;
    const timeoutMs = (query.timeout ?? DEFAULT_UPCALL_TIMEOUT) * 1000;
    let upcalls = dp.upcalls.read(max);
    if (upcalls.length === 0 && timeoutMs > 0) {
      const linked = linkSignals(c.req.raw.signal, ctx.shutdown);
      try {
        if (await dp.upcalls.waitReadable(timeoutMs, linked.signal)) {
          upcalls = dp.upcalls.read(max);
        }
      } finally {
        linked.dispose();
      }
    }
    return c.json({ enabled: dp.upcalls.enabled, upcalls: upcalls.map(upcallJson) });
  });
  app.all("/", methodNotAllowed(["GET"]));

  app.get("/stream", (c) => {
    const dp = control.open(c.req.param("dp")!);
    const query = readQuery(c.req.query(), streamQuery);
    const max = query.max ?? DEFAULT_UPCALL_BATCH;
    const signal = c.req.raw.signal;
    return streamSSE(c, async (stream) => {
      const stop = new AbortController();
      const abort = () => stop.abort();
      signal.addEventListener("abort", abort, { once: true });
      ctx.shutdown.addEventListener("abort", abort, { once: true });
      stream.onAbort(abort);
      try {
        while (!stop.signal.aborted) {
          const upcalls = dp.upcalls.read(max);
          for (const upcall of upcalls) {
            await stream.writeSSE({ event: "upcall", data: JSON.stringify(upcallJson(upcall)) });
          }
          if (upcalls.length > 0) continue;
          if (!(await dp.upcalls.waitReadable(SSE_KEEPALIVE_MS, stop.signal))) {
            if (!stop.signal.aborted) await stream.write(": keep-alive\n\n");
          }
        }
      } finally {
        signal.removeEventListener("abort", abort);
        ctx.shutdown.removeEventListener("abort", abort);
      }
    });
  });
  app.all("/stream", methodNotAllowed(["GET"]));
  return app;
}
