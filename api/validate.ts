/**
 * Strict validation of request bodies and query strings, with zod schemas
 * that also generate the OpenAPI document. Unknown fields, wrong types,
 * bad hex and out-of-range numbers are rejected with an EINVAL that names
 * the field; nothing reaches the datapath before its whole request is valid.
 * ODP text itself is checked by the datapath's parser (also EINVAL).
 *
 * @module
 */

import { z } from "zod";
import { ApiError } from "./errors.ts";
import { isHex } from "./hex.ts";

/** Longest ODP flow or action text accepted. */
export const MAX_ODP_TEXT = 16 * 1024;
/** Most operations in one `operate` request. */
export const MAX_OPERATIONS = 1024;

const UFID_PATTERN =
  /^(?:ufid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Packet bytes as hex text. */
export const hexPacket = z.string().max(2 * 65536).refine(isHex, {
  message: "must be an even number of hex digits",
});
/** A UFID, `ufid:` prefix optional. */
export const ufidText = z.string().regex(UFID_PATTERN, {
  message: "must be a UFID like ufid:01234567-89ab-cdef-0123-456789abcdef",
});
/** A flow: ODP key/mask text or the structured JSON form. */
export const flowSpec = z.union([
  z.string().max(MAX_ODP_TEXT),
  z.record(z.string(), z.unknown()),
]);
/** Actions: ODP action text or the structured JSON form. */
export const actionsSpec = z.union([z.string().max(MAX_ODP_TEXT), z.array(z.unknown())]);
/** Metadata of an executed packet: ODP key text or JSON. */
export const metadataSpec = flowSpec;
/** A datapath or port name ("." and ".." could not be addressed in a URL path). */
export const nameText = z.string().min(1).max(64).refine((n) => n !== "." && n !== "..", {
  message: "must not be '.' or '..'",
});

/** `POST /v1/datapaths` */
export const createDatapathBody = z.strictObject({ name: nameText });

/** `POST /v1/datapaths/{dp}/ports` */
export const addPortBody = z.strictObject({
  name: nameText,
  type: z.string().min(1).max(32),
  port_no: z.number().int().min(0).max(0xfffffffe).optional(),
  options: z.record(z.string(), z.string()).optional(),
});

/** `POST .../ports/{port}/receive` */
export const receiveBody = z.strictObject({ packet: hexPacket });

/** `POST .../flows` */
export const createFlowBody = z.strictObject({
  flow: flowSpec,
  actions: actionsSpec,
  ufid: ufidText.optional(),
});

/** `PUT .../flows`: create/modify/zero_stats default to true/true/false. */
export const putFlowBody = z.strictObject({
  flow: flowSpec,
  actions: actionsSpec,
  ufid: ufidText.optional(),
  create: z.boolean().optional(),
  modify: z.boolean().optional(),
  zero_stats: z.boolean().optional(),
});

/** `POST .../execute` */
export const executeBody = z.strictObject({
  packet: hexPacket,
  actions: actionsSpec,
  metadata: metadataSpec.optional(),
});

/** One operation of `POST .../operate`. */
export const operationBody = z.discriminatedUnion("op", [
  z.strictObject({
    op: z.literal("put"),
    flow: flowSpec,
    actions: actionsSpec,
    ufid: ufidText.optional(),
    create: z.boolean().optional(),
    modify: z.boolean().optional(),
    zero_stats: z.boolean().optional(),
  }),
  z.strictObject({ op: z.literal("del"), ufid: ufidText }),
  z.strictObject({ op: z.literal("get"), ufid: ufidText }),
  z.strictObject({
    op: z.literal("execute"),
    packet: hexPacket,
    actions: actionsSpec,
    metadata: metadataSpec.optional(),
  }),
]);

/** `POST .../operate` */
export const operateBody = z.strictObject({
  ops: z.array(operationBody).max(MAX_OPERATIONS),
});

/** An empty body (`{}` or nothing). */
export const emptyBody = z.strictObject({});

/** Query of `GET .../flows`. */
export const dumpFlowsQuery = z.strictObject({
  format: z.enum(["odp", "json"]).optional(),
  limit: z.coerce.number().int().min(1).max(100000).optional(),
  cursor: z.string().max(256).optional(),
});

/** Query of `GET .../upcalls`: batch size and long-poll timeout in seconds. */
export const upcallsQuery = z.strictObject({
  max: z.coerce.number().int().min(1).max(1024).optional(),
  timeout: z.coerce.number().min(0).max(60).optional(),
});

/** Query of `GET .../ports/{port}/capture`. */
export const captureQuery = z.strictObject({
  count: z.coerce.number().int().min(1).max(100000).optional(),
  timeout: z.coerce.number().min(0).max(300).optional(),
});

/** Query of the SSE streams: how many events a client may fall behind by. */
export const streamQuery = z.strictObject({
  max: z.coerce.number().int().min(1).max(1024).optional(),
});

/** A query with no parameters. */
export const noQuery = z.strictObject({});

/**
 * Parses a request's JSON body against `schema`. An empty body is read as
 * `{}`.
 * @throws {ApiError} EINVAL naming the bad field, or saying the body is not JSON.
 */
export async function readBody<T>(request: Request, schema: z.ZodType<T>): Promise<T> {
  return check(parseJsonBody(await request.text()), schema, "body");
}

/**
 * Reads a `POST .../operate` body, as `readBody(request, operateBody)`
 * would, with a fast check for the common case: only `put` ops with ODP
 * text flow and actions. Any other body goes through the zod schema, which
 * gives the same value or the exact error. Why: zod took about 0.5 µs per
 * op and a copy of every op (bench/flow_setup_bench.ts, 1,000 puts per
 * request); this check takes a tenth of that and keeps the parsed ops.
 * @throws {ApiError} EINVAL naming the bad field, or saying the body is not JSON.
 */
export async function readOperateBody(request: Request): Promise<z.infer<typeof operateBody>> {
  const value = parseJsonBody(await request.text());
  if (isTextPutBatch(value)) return value;
  return check(value, operateBody, "body");
}

function parseJsonBody(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError("EINVAL", `body is not valid JSON: ${(error as Error).message}`);
  }
}

/** True for `{"ops": [...]}` whose ops all pass {@linkcode isTextPut} (what the schema accepts). */
function isTextPutBatch(value: unknown): value is z.infer<typeof operateBody> {
  if (!isPlainObject(value)) return false;
  for (const key in value) if (key !== "ops") return false;
  const ops = value.ops;
  if (!Array.isArray(ops) || ops.length > MAX_OPERATIONS) return false;
  for (let i = 0; i < ops.length; i++) if (!isTextPut(ops[i])) return false;
  return true;
}

/** A put op with text flow and actions and only the fields the schema allows, well typed. */
function isTextPut(op: unknown): boolean {
  if (!isPlainObject(op)) return false;
  const o = op;
  if (o.op !== "put" || !isOdpText(o.flow) || !isOdpText(o.actions)) return false;
  for (const key in o) {
    switch (key) {
      case "op":
      case "flow":
      case "actions":
        break;
      case "ufid":
        if (typeof o.ufid !== "string" || !UFID_PATTERN.test(o.ufid)) return false;
        break;
      case "create":
      case "modify":
      case "zero_stats":
        if (typeof o[key] !== "boolean") return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function isOdpText(value: unknown): boolean {
  return typeof value === "string" && value.length <= MAX_ODP_TEXT;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * Parses query parameters against `schema` (unknown parameters rejected).
 * @throws {ApiError} EINVAL naming the bad parameter.
 */
export function readQuery<T>(query: Record<string, string>, schema: z.ZodType<T>): T {
  return check(query, schema, "query");
}

function check<T>(value: unknown, schema: z.ZodType<T>, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ApiError("EINVAL", `invalid ${where}: ${describeIssues(result.error.issues)}`);
}

/** Formats zod issues as "field: problem; field: problem". */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.slice(0, 5).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join(".") : "(root)";
    return `${path}: ${issue.message}`;
  }).join("; ");
}
