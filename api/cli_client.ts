/**
 * The HTTP client the `dpif` CLI uses: JSON requests to the service with an
 * optional bearer token, and errors that carry the exit code the CLI
 * returns.
 *
 * @module
 */

/** Exit codes of the `dpif` CLI. */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** The service answered an error (no such flow, exists, bad flow text...). */
  API_ERROR: 1,
  /** Bad command line. */
  USAGE: 2,
  /** The service could not be reached. */
  UNREACHABLE: 3,
  /** The service refused the token (401). */
  AUTH: 4,
} as const;

/** A failure with the CLI exit code it maps to. */
export class CliError extends Error {
  /** The process exit code. */
  readonly exitCode: number;
  /** The API's error code (EINVAL, ENOENT, ...) when the service answered one. */
  readonly code: string | null;

  /** Creates an error. */
  constructor(message: string, exitCode: number, code: string | null = null) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
    this.code = code;
  }
}

/** Talks to one service. */
export class ApiClient {
  readonly #base: string;
  readonly #token: string | undefined;

  /** `base` like "http://127.0.0.1:8080". */
  constructor(base: string, token?: string) {
    this.#base = base.replace(/\/+$/, "");
    this.#token = token;
  }

  /**
   * Sends a request and returns the raw response when it succeeded.
   * @throws {CliError} UNREACHABLE when the service cannot be reached, AUTH
   *   for a 401, API_ERROR with the body's message for any other error status.
   */
  async raw(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers["Authorization"] = `Bearer ${this.#token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(this.#base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new CliError(
        `cannot reach the service at ${this.#base}: ${(error as Error).message}`,
        EXIT.UNREACHABLE,
      );
    }
    if (response.ok) return response;
    const text = await response.text();
    let code: string | null = null;
    let message = text;
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = parsed.error?.code ?? null;
      message = parsed.error?.message ?? text;
    } catch {
      // not JSON: keep the text
    }
    throw new CliError(
      `${code ?? `HTTP ${response.status}`}: ${message}`,
      response.status === 401 ? EXIT.AUTH : EXIT.API_ERROR,
      code,
    );
  }

  /** Sends a request and parses a JSON answer (null for 204). */
  async json<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.raw(method, path, body);
    if (response.status === 204) return null as T;
    return await response.json() as T;
  }
}
