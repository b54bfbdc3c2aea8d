/**
 * The REST API of deno-dpif as a Hono app, versioned under `/v1`: one
 * factory taking one options object. Serve it with `Deno.serve(app.fetch)`
 * or call it in tests with `app.request(...)`.
 *
 * Every error answers `{"error":{"code","message"}}` with the status of
 * errors.ts; every body is validated before anything reaches the datapath;
 * with a token, every path except `/v1/version` needs
 * `Authorization: Bearer TOKEN`; bodies over `bodyLimit` get a 413.
 *
 * @example
 * ```ts
 * import { createApp } from "./app.ts";
 * import { DatapathRegistry } from "../datapath/registry.ts";
 *
 * const registry = new DatapathRegistry();
 * const app = createApp({ registry });
 * const res = await app.request("/v1/datapaths", {
 *   method: "POST",
 *   body: JSON.stringify({ name: "dp0" }),
 * });
 * console.log(res.status); // 201
 * registry.closeAll();
 * ```
 *
 * @module
 */

import { PmdControl } from "../datapath/pmd_control.ts";
import { pmdRoutes } from "./routes/pmd.ts";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { timingSafeEqual } from "node:crypto";
import type { DatapathRegistry } from "../datapath/registry.ts";
import { CaptureHub } from "./capture_hub.ts";
import { ChangeFeed } from "./change_feed.ts";
import type { AppContext, ServiceInfo } from "./context.ts";
import { Control } from "./control.ts";
import { ApiError, errorBody, toErrorResponse } from "./errors.ts";
import { type Logger, silentLogger } from "./logger.ts";
import type { StateStore } from "./state_store.ts";
import type { StateWriter } from "./state_writer.ts";
import { captureRoutes } from "./routes/capture.ts";
import { datapathRoutes } from "./routes/datapaths.ts";
import { eventRoutes } from "./routes/events.ts";
import { flowRoutes } from "./routes/flows.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { openApiRoutes } from "./routes/openapi.ts";
import { packetRoutes } from "./routes/packets.ts";
import { portRoutes } from "./routes/ports.ts";
import { upcallRoutes } from "./routes/upcalls.ts";
import { versionRoutes } from "./routes/version.ts";
import denoConfig from "../deno.json" with { type: "json" };

/** deno-dpif's version (from deno.json). */
export const DPIF_VERSION: string = denoConfig.version;
/** Default request body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Options for {@linkcode createApp}. */
export interface AppOptions {
  /** The datapaths the API manages. Required. */
  registry: DatapathRegistry;
  /**
   * Where changes are written before the API answers: a StateWriter
   * (commits on its own thread, as the service does) or a StateStore
   * (commits on this one). Default: not persisted.
   */
  store?: StateStore | StateWriter;
  /** Bearer token required on every path but `/v1/version`. Default: none required. */
  token?: string;
  /** Largest request body in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /** Structured logger. Default: silent. */
  logger?: Logger;
  /** What `/v1/version` reports. Default: this version, dpdk null, type "dummy". */
  info?: Partial<ServiceInfo>;
  /** The change feed (shared with other parts of the service). Default: a new one. */
  feed?: ChangeFeed;
  /** Aborted when the service stops; ends long polls and streams. Default: never. */
  signal?: AbortSignal;
  /**
   * The PMD threads behind `GET|PUT /v1/datapaths/{dp}/pmd`. Default: a
   * PmdControl over `registry` with no threads running (starting threads on
   * a datapath without an mbuf pool answers EOPNOTSUPP).
   */
  pmdControl?: PmdControl;
}

/** The app plus the parts the service shares with it. */
export type DpifApp = Hono & { readonly context: AppContext };

/**
 * Creates the API app.
 * @throws {RangeError} for a bodyLimit that is not a positive integer.
 * @throws {TypeError} for an empty token.
 */
export function createApp(options: AppOptions): DpifApp {
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`bodyLimit must be a positive integer, got ${limit}`);
  }
  if (options.token !== undefined && options.token === "") {
    throw new TypeError("token must not be empty");
  }
  const logger = options.logger ?? silentLogger();
  const pmdControl = options.pmdControl ?? new PmdControl(options.registry);
  const ctx: AppContext = {
    control: new Control(options.registry, {
      store: options.store,
      feed: options.feed ?? new ChangeFeed(),
      logger,
    }),
    pmds: pmdControl,
    logger,
    info: {
      version: options.info?.version ?? DPIF_VERSION,
      dpdkVersion: options.info?.dpdkVersion ?? null,
      datapathType: options.info?.datapathType ?? "dummy",
    },
    captures: new CaptureHub(),
    shutdown: options.signal ?? new AbortController().signal,
  };

  const app = new Hono();
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    logger.info("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  });
  if (options.token !== undefined) app.use("*", bearerAuth(options.token));
  app.use(
    "*",
    bodyLimit({
      maxSize: limit,
      onError: (c) => c.json(errorBody("E2BIG", `request body over ${limit} bytes`), 413),
    }),
  );

  // A flow change answers only once every PMD thread has applied it: after a
  // DELETE returns, no packet follows the deleted flow (Datapath alone returns before).
  const flowsApplied = async (c: Context, next: () => Promise<void>) => {
    await next();
    if (c.req.method === "GET" || c.res.status >= 400) return;
    const dp = c.req.param("dp");
    const pmds = dp === undefined || !options.registry.has(dp) ? undefined : pmdControl.get(dp);
    await pmds?.flowsApplied();
  };
  app.use("/v1/datapaths/:dp/flows", flowsApplied);
  app.use("/v1/datapaths/:dp/flows/*", flowsApplied);
  app.use("/v1/datapaths/:dp/operate", flowsApplied);
  // Destroying a datapath closes its ports: its PMDs stop first, and are forgotten.
  app.use("/v1/datapaths/:dp", async (c, next) => {
    const dp = c.req.param("dp");
    if (c.req.method !== "DELETE" || !options.registry.has(dp)) return await next();
    await pmdControl.changePorts(dp, next);
  });

  app.route("/v1/version", versionRoutes(ctx));
  app.route("/v1", eventRoutes(ctx));
  app.route("/v1/datapaths", datapathRoutes(ctx));
  app.route("/v1/datapaths/:dp", eventRoutes(ctx));
  app.route("/v1/datapaths/:dp", packetRoutes(ctx));
  app.route("/v1/datapaths/:dp/ports", portRoutes(ctx));
  app.route("/v1/datapaths/:dp/ports", captureRoutes(ctx));
  app.route("/v1/datapaths/:dp/flows", flowRoutes(ctx));
  app.route("/v1/datapaths/:dp/upcalls", upcallRoutes(ctx));
  app.route(
    "/v1/datapaths/:dp/pmd",
    pmdRoutes(ctx, pmdControl),
  );
  app.route("/", metricsRoutes(ctx));
  app.route("/", openApiRoutes(ctx));

  app.notFound((c) => c.json(errorBody("ENOENT", `no route ${c.req.method} ${c.req.path}`), 404));
  app.onError((error, c) => {
    const { status, body } = toErrorResponse(error);
    if (status >= 500) {
      logger.error("request failed", { method: c.req.method, path: c.req.path, error });
    }
    return c.json(body, status as 400);
  });
  return Object.assign(app, { context: ctx });
}

function bearerAuth(token: string) {
  const expected = new TextEncoder().encode(token);
  return async (
    c: { req: { path: string; header(name: string): string | undefined } },
    next: () => Promise<void>,
  ) => {
    if (c.req.path !== "/v1/version") {
      const header = c.req.header("Authorization") ?? "";
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const given = new TextEncoder().encode(match?.[1] ?? "");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new ApiError(
          "EACCES",
          match === null ? "missing bearer token" : "wrong bearer token",
        );
      }
    }
    await next();
  };
}
