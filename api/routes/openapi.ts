/**
 * `GET /openapi.json` (an OpenAPI 3.1 document whose request schemas are
 * generated from the zod schemas that validate requests) and `GET /docs`
 * (a plain HTML page listing every operation).
 *
 * @module
 */

import { Hono } from "hono";
import { z } from "zod";
import type { AppContext } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";
import * as v from "../validate.ts";
import { putPmdBody } from "./pmd.ts";

interface OperationSpec {
  method: "get" | "post" | "put" | "delete";
  path: string;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodType;
}

const DP = "/v1/datapaths/{dp}";
const PORT = `${DP}/ports/{port}`;

/** Every operation of the API, in the order the docs list them. */
export const OPERATIONS: readonly OperationSpec[] = [
  { method: "get", path: "/v1/version", summary: "Versions and datapath type (no token needed)" },
  { method: "get", path: "/v1/datapaths", summary: "List datapaths" },
  {
    method: "post",
    path: "/v1/datapaths",
    summary: "Create a datapath",
    body: v.createDatapathBody,
  },
  { method: "get", path: DP, summary: "A datapath with its ports and stats" },
  { method: "delete", path: DP, summary: "Delete a datapath" },
  { method: "get", path: `${DP}/stats`, summary: "Datapath statistics" },
  { method: "get", path: `${DP}/ports`, summary: "List ports" },
  { method: "post", path: `${DP}/ports`, summary: "Add a port", body: v.addPortBody },
  { method: "get", path: PORT, summary: "A port (by name or number)" },
  { method: "delete", path: PORT, summary: "Delete a port" },
  { method: "get", path: `${PORT}/stats`, summary: "Port counters" },
  {
    method: "post",
    path: `${PORT}/receive`,
    summary: "Inject a frame into a dummy port and process it",
    body: v.receiveBody,
  },
  { method: "get", path: `${PORT}/transmitted`, summary: "Frames a dummy port transmitted" },
  {
    method: "delete",
    path: `${PORT}/transmitted`,
    summary: "Clear a dummy port's captured frames",
  },
  {
    method: "get",
    path: `${PORT}/capture`,
    summary: "pcap of the next frames seen on a port",
    query: v.captureQuery,
  },
  { method: "get", path: `${DP}/flows`, summary: "Dump flows", query: v.dumpFlowsQuery },
  {
    method: "post",
    path: `${DP}/flows`,
    summary: "Create a flow (409 if it exists)",
    body: v.createFlowBody,
  },
  { method: "put", path: `${DP}/flows`, summary: "Modify or create a flow", body: v.putFlowBody },
  { method: "delete", path: `${DP}/flows`, summary: "Delete every flow" },
  { method: "get", path: `${DP}/flows/{ufid}`, summary: "A flow by UFID" },
  { method: "delete", path: `${DP}/flows/{ufid}`, summary: "Delete a flow; returns its stats" },
  {
    method: "post",
    path: `${DP}/execute`,
    summary: "Execute actions on a packet",
    body: v.executeBody,
  },
  {
    method: "post",
    path: `${DP}/operate`,
    summary: "Several operations, a result each",
    body: v.operateBody,
  },
  { method: "post", path: `${DP}/upcalls/enable`, summary: "Enable upcalls" },
  { method: "post", path: `${DP}/upcalls/disable`, summary: "Disable upcalls" },
  { method: "get", path: `${DP}/upcalls`, summary: "Long-poll upcalls", query: v.upcallsQuery },
  { method: "get", path: `${DP}/upcalls/stream`, summary: "Upcalls as Server-Sent Events" },
  {
    method: "get",
    path: `${DP}/pmd`,
    summary: "PMD threads: configuration, rx queue assignment and per-thread stats",
  },
  {
    method: "put",
    path: `${DP}/pmd`,
    summary: "Restart the PMD threads with new options (threads 0 stops them)",
    body: putPmdBody,
  },
  { method: "get", path: `${DP}/events`, summary: "Port and flow changes of a datapath (SSE)" },
  { method: "get", path: "/v1/events", summary: "Port and flow changes of every datapath (SSE)" },
  { method: "get", path: "/metrics", summary: "Prometheus metrics" },
  { method: "get", path: "/openapi.json", summary: "This document" },
  { method: "get", path: "/docs", summary: "API documentation page" },
];

const ERROR_SCHEMA = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: { code: { type: "string" }, message: { type: "string" } },
      required: ["code", "message"],
    },
  },
  required: ["error"],
};

/** Builds the OpenAPI 3.1 document. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    if (op.query !== undefined) {
      const schema = z.toJSONSchema(op.query, { io: "input" }) as {
        properties?: Record<string, unknown>;
      };
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        params.push({ name, in: "query", required: false, schema: property as { type: string } });
      }
    }
    const operation: Record<string, unknown> = {
      summary: op.summary,
      parameters: params,
      responses: {
        "2XX": { description: "Success" },
        default: {
          description: "Error",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
      },
    };
    if (op.body !== undefined) {
      const schema = z.toJSONSchema(op.body, { io: "input" });
      delete (schema as Record<string, unknown>).$schema;
      operation.requestBody = { required: true, content: { "application/json": { schema } } };
    }
    (paths[op.path] ??= {})[op.method] = operation;
  }
  return {
    openapi: "3.1.0",
    info: { title: "deno-dpif", version },
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

/** Routes `/openapi.json` and `/docs` (mount at "/"). */
export function openApiRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const document = openApiDocument(ctx.info.version);
  app.get("/openapi.json", (c) => c.json(document));
  app.all("/openapi.json", methodNotAllowed(["GET"]));
  app.get("/docs", (c) => c.html(docsPage(ctx.info.version)));
  app.all("/docs", methodNotAllowed(["GET"]));
  return app;
}

function docsPage(version: string): string {
  const rows = OPERATIONS.map((op) =>
    `<tr><td><code>${op.method.toUpperCase()}</code></td><td><code>${escapeHtml(op.path)}</code>` +
    `</td><td>${escapeHtml(op.summary)}</td></tr>`
  ).join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>deno-dpif API</title></head>
<body><h1>deno-dpif ${escapeHtml(version)} REST API</h1>
<p>JSON in and out; errors are <code>{"error":{"code","message"}}</code>.
Request schemas: <a href="/openapi.json">/openapi.json</a>.</p>
<table border="1" cellpadding="4"><tr><th>Method</th><th>Path</th><th>What</th></tr>
${rows}
</table></body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
