/**
 * The service's configuration: command-line flags, an optional JSON config
 * file (`--config FILE`, same settings with snake_case keys; flags given on
 * the command line win), and the `--help` text.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { z } from "zod";
import { describeIssues } from "./validate.ts";
import { LOG_LEVELS, type LogLevel } from "./logger.ts";

/** Where the API listens when nothing else is said. */
export const DEFAULT_LISTEN = "127.0.0.1:8080";

/** The service's settings after flags and config file are merged. */
export interface ServiceConfig {
  /** Address to listen on. */
  hostname: string;
  /** TCP port; 0 picks a free one (logged). */
  port: number;
  /** State directory, or null for no persistence. */
  stateDir: string | null;
  /** False with `--no-dpdk`. */
  dpdk: boolean;
  /** Extra EAL arguments. */
  eal: string[];
  /** Whether the built-in learning switch runs on the default datapath. */
  learning: boolean;
  /** File holding the bearer token, or null. */
  tokenFile: string | null;
  /** Lowest log level written. */
  logLevel: LogLevel;
  /** Largest request body in bytes. */
  bodyLimit: number;
}

/** Text of `--help`. */
export const SERVICE_HELP = `deno-dpif service: a userspace datapath with a REST API (/v1) and state

Usage: deno task start [flags]      (or: dpif serve [flags])

Flags:
  --listen HOST:PORT   where the REST API listens (default ${DEFAULT_LISTEN}); an address
                       other than loopback needs --token-file; port 0 picks a free port
  --state DIR          keep datapaths, ports and flows in DIR/dpif.sqlite and restore
                       them on start (default: nothing is kept)
  --no-dpdk            use the in-memory dummy backend even when DPDK is present
  --eal "ARGS"         extra DPDK EAL arguments, e.g. "--vdev=net_null0 -l 1"
  --config FILE        read settings from a JSON file: {"listen","state","no_dpdk","eal",
                       "learning","token_file","log_level","body_limit"}; flags win
  --learning           run the built-in learning switch on datapath dp0 (with DPDK,
                       a first start then creates no loopback ports p1/p2: add real ones)
  --token-file FILE    require "Authorization: Bearer <token>" (token read from FILE)
                       on every request except GET /v1/version
  --log-level LEVEL    debug, info, warn or error (default info); logs are JSON lines
                       on stderr
  --body-limit BYTES   largest request body (default 1048576)
  --help               show this text
`;

const configFileSchema = z.strictObject({
  listen: z.string().optional(),
  state: z.string().optional(),
  no_dpdk: z.boolean().optional(),
  eal: z.string().optional(),
  learning: z.boolean().optional(),
  token_file: z.string().optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
  body_limit: z.number().int().min(1).optional(),
});

/**
 * Parses service flags (reading `--config` if given).
 * @returns the configuration, or "help" when `--help` was asked for.
 * @throws {TypeError} for an unknown flag or a bad value, with a message for the user.
 */
export function parseServiceArgs(args: string[]): ServiceConfig | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: "string" },
        state: { type: "string" },
        "no-dpdk": { type: "boolean" },
        eal: { type: "string" },
        config: { type: "string" },
        learning: { type: "boolean" },
        "token-file": { type: "string" },
        "log-level": { type: "string" },
        "body-limit": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new TypeError(`${(error as Error).message} (see --help)`);
  }
  const flags = parsed.values;
  if (flags.help) return "help";
  const file = flags.config === undefined ? {} : readConfigFile(flags.config);
  const listen = flags.listen ?? file.listen ?? DEFAULT_LISTEN;
  const { hostname, port } = parseListen(listen);
  const logLevel = flags["log-level"] ?? file.log_level ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new TypeError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got '${logLevel}'`);
  }
  let bodyLimit = file.body_limit ?? 1024 * 1024;
  if (flags["body-limit"] !== undefined) {
    bodyLimit = /^[0-9]{1,10}$/.test(flags["body-limit"]) ? Number(flags["body-limit"]) : 0;
    if (bodyLimit < 1) throw new TypeError(`--body-limit must be a positive integer`);
  }
  const eal = flags.eal ?? file.eal ?? "";
  return {
    hostname,
    port,
    stateDir: flags.state ?? file.state ?? null,
    dpdk: !(flags["no-dpdk"] ?? file.no_dpdk ?? false),
    eal: eal.split(/\s+/).filter((a) => a !== ""),
    learning: flags.learning ?? file.learning ?? false,
    tokenFile: flags["token-file"] ?? file.token_file ?? null,
    logLevel: logLevel as LogLevel,
    bodyLimit,
  };
}

/**
 * Splits "HOST:PORT" ("[::1]:8080" for IPv6).
 * @throws {TypeError} naming the bad value.
 */
export function parseListen(text: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):([0-9]{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) {
    throw new TypeError(`--listen must be HOST:PORT (e.g. ${DEFAULT_LISTEN}), got '${text}'`);
  }
  return { hostname: m[1] ?? m[2], port };
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function readConfigFile(path: string): z.infer<typeof configFileSchema> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new TypeError(`--config ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TypeError(`--config ${path}: not valid JSON: ${(error as Error).message}`);
  }
  const result = configFileSchema.safeParse(value);
  if (!result.success) {
    throw new TypeError(`--config ${path}: ${describeIssues(result.error.issues)}`);
  }
  return result.data;
}
