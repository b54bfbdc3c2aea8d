/**
 * Errors of the REST API: the errno-style codes of the datapath mapped to
 * HTTP statuses, and the one JSON error body every failure answers with:
 * `{"error":{"code":"EINVAL","message":"..."}}`.
 *
 * @module
 */

import { DpifError } from "../datapath/errors.ts";

/** HTTP status for each error code the API answers with. */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  EINVAL: 400, // bad argument: body, query, flow text, hex, options
  ENOENT: 404, // no such datapath, port, flow
  EEXIST: 409, // datapath, port name or flow already there
  EBUSY: 409, // port number in use
  EPERM: 403, // not permitted (deleting the local port)
  EACCES: 401, // missing or wrong bearer token
  EFBIG: 507, // a table is full (flows, ports, buffers)
  E2BIG: 413, // request body over the size limit
  ENODEV: 400, // the device of a port could not be opened
  EOPNOTSUPP: 400, // not supported by this port type or backend
  EIO: 500, // anything unexpected
};

/** An API failure with its code, message and (optional) explicit HTTP status. */
export class ApiError extends Error {
  /** The errno-style code put in the body, e.g. "EINVAL". */
  readonly code: string;
  /** The HTTP status; defaults to {@linkcode statusForCode}(code). */
  readonly status: number;

  /** Creates an error; `status` overrides the status the code maps to. */
  constructor(code: string, message: string, status?: number) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status ?? statusForCode(code);
  }
}

/** The HTTP status for an error code (500 for unknown codes). */
export function statusForCode(code: string): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/** The JSON body of an error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * Maps anything thrown by a handler or the datapath to a status and body:
 * ApiError and DpifError keep their code; SyntaxError (bad ODP text, bad
 * JSON), TypeError and RangeError become EINVAL; anything else EIO with a
 * generic message (the details go to the log, not to the client).
 */
export function toErrorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof ApiError) {
    return { status: error.status, body: errorBody(error.code, error.message) };
  }
  if (error instanceof DpifError) {
    return {
      status: statusForCode(error.code),
      body: errorBody(error.code, stripCodePrefix(error.code, error.message)),
    };
  }
  if (error instanceof SyntaxError || error instanceof TypeError || error instanceof RangeError) {
    return { status: 400, body: errorBody("EINVAL", error.message) };
  }
  return { status: 500, body: errorBody("EIO", "internal error") };
}

/** Builds `{"error":{"code","message"}}`. */
export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** DpifError messages start with "CODE: "; the body carries the code separately. */
function stripCodePrefix(code: string, message: string): string {
  return message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message;
}

/**
 * A handler for the methods a path does not support: a 405 with code
 * EOPNOTSUPP naming the allowed ones. Register it with `app.all` after the
 * path's real handlers.
 */
export function methodNotAllowed(allowed: string[]): (c: { req: { method: string } }) => never {
  return (c) => {
    throw new ApiError(
      "EOPNOTSUPP",
      `method ${c.req.method} not allowed here; allowed: ${allowed.join(", ")}`,
      405,
    );
  };
}
