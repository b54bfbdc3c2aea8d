/**
 * Structured logs: one JSON object per line with `time`, `level`, `msg` and
 * any fields given, written to stderr by default. Levels below the
 * configured one are skipped.
 *
 * @example
 * ```ts
 * import { createLogger } from "./logger.ts";
 * const lines: string[] = [];
 * const log = createLogger({ level: "info", write: (line) => lines.push(line) });
 * log.info("listening", { port: 8080 });
 * log.debug("skipped");
 * ```
 *
 * @module
 */

/** Log levels, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Writes structured log lines. */
export interface Logger {
  /** Logs at debug level. */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Logs at info level. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Logs at warn level. */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Logs at error level. */
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. Default "info". */
  level?: LogLevel;
  /** Receives each line (without the newline). Default: written to stderr. */
  write?: (line: string) => void;
  /** Fields added to every line (e.g. `{ service: "dpif" }`). Default none. */
  base?: Record<string, unknown>;
}

const encoder = new TextEncoder();

/**
 * Creates a logger.
 * @throws {RangeError} for an unknown level.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const threshold = LOG_LEVELS.indexOf(level);
  if (threshold < 0) throw new RangeError(`unknown log level '${level}'`);
  const write = options.write ?? writeStderr;
  const base = options.base ?? {};
  function emit(at: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (LOG_LEVELS.indexOf(at) < threshold) return;
    const record = { time: new Date().toISOString(), level: at, msg, ...base, ...fields };
    write(JSON.stringify(record, replaceErrors));
  }
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
  };
}

/** A logger that writes nothing (the default of createApp). */
export function silentLogger(): Logger {
  return createLogger({ level: "error", write: () => {} });
}

function writeStderr(line: string): void {
  let bytes = encoder.encode(line + "\n");
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
}

function replaceErrors(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  return value;
}
