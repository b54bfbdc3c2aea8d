/**
 * `dpif`: the command-line client of the service, with the verbs of
 * ovs-dpctl (`show`, `add-dp`, `del-dp`, `add-if`, `del-if`, `dump-flows`,
 * `add-flow`, `mod-flow`, `del-flow`, `del-flows`, `get-flow`) plus
 * `execute`, `upcalls`, `stats`, `capture` and `serve` (runs the service).
 * Human-readable output by default, JSON with `--json`. Exit codes: see
 * {@linkcode EXIT} (0 ok, 1 the service answered an error, 2 usage,
 * 3 service unreachable, 4 token refused).
 *
 * A datapath argument may be left out when the service has exactly one.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ApiClient, CliError, EXIT } from "./cli_client.ts";
import { type FlowRecord, formatFlowLine } from "./flow_text.ts";
import { hexToBytes } from "./hex.ts";
import { parseFlowSpec } from "../datapath/datapath.ts";
import { deriveUfid, formatUfid } from "../datapath/ufid.ts";
import { runService } from "./service.ts";

/** Where the CLI finds the service unless --server or DPIF_SERVER says otherwise. */
export const DEFAULT_SERVER = "http://127.0.0.1:8080";

/** Every verb the CLI knows. */
export const CLI_VERBS: ReadonlySet<string> = new Set([
  "show",
  "add-dp",
  "del-dp",
  "add-if",
  "del-if",
  "dump-flows",
  "add-flow",
  "mod-flow",
  "del-flow",
  "del-flows",
  "get-flow",
  "execute",
  "upcalls",
  "stats",
  "capture",
  "serve",
  "help",
]);

/** Text of `dpif help`. */
export const CLI_HELP = `dpif: administer a deno-dpif service (verbs as in ovs-dpctl)

Usage: dpif [--server URL] [--token-file FILE] [--json] VERB [ARGS]

  show [DP]                         datapaths, their ports and lookup stats
  add-dp DP [IFACE...]              create a datapath (optionally with dummy ports)
  del-dp DP                         delete a datapath
  add-if DP IFACE[,type=T,port_no=N,KEY=VALUE...]...   add ports (type default dummy)
  del-if DP IFACE...                delete ports (name or number)
  dump-flows [DP] [--limit N]       print every flow (paged)
  add-flow [DP] FLOW ACTIONS        create a flow (fails if it exists)
  mod-flow [DP] FLOW ACTIONS [--zero-stats] [--may-create]   change a flow's actions
  del-flow [DP] FLOW|UFID           delete one flow
  del-flows [DP]                    delete every flow
  get-flow [DP] UFID                print one flow
  execute [DP] PACKET_HEX ACTIONS [--metadata KEY]   run actions on a packet
  upcalls [DP] [--enable|--disable] [--count N] [--timeout S]   print upcalls
  stats [DP]                        datapath statistics
  capture [DP] PORT [--count N] [--timeout S] --output FILE   write a pcap file
  serve [FLAGS]                     run the service (see: dpif serve --help)

Options: --server URL (default $DPIF_SERVER or ${DEFAULT_SERVER}), --token-file FILE
(default: token in $DPIF_TOKEN), --json (JSON output).
Exit codes: 0 ok, 1 the service answered an error, 2 usage, 3 unreachable, 4 token refused.
`;

/** Where the CLI writes; tests capture it. */
export interface CliIo {
  /** Standard output (one call per line or block). */
  out(text: string): void;
  /** Standard error. */
  err(text: string): void;
  /** Environment variable lookup. */
  env(name: string): string | undefined;
}

const defaultIo: CliIo = {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
  env: (name) => Deno.env.get(name),
};

interface Parsed {
  client: ApiClient;
  json: boolean;
  args: string[];
  flags: Record<string, string | boolean | undefined>;
  io: CliIo;
}

/** Runs the CLI; returns the process exit code. */
export async function runCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  if (argv[0] === "serve") return await runService(argv.slice(1));
  let parsed: Parsed;
  let verb: string;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        server: { type: "string" },
        "token-file": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        limit: { type: "string" },
        "zero-stats": { type: "boolean" },
        "may-create": { type: "boolean" },
        metadata: { type: "string" },
        enable: { type: "boolean" },
        disable: { type: "boolean" },
        count: { type: "string" },
        timeout: { type: "string" },
        output: { type: "string", short: "o" },
      },
    });
    verb = positionals[0] ?? "help";
    if (values.help || verb === "help") {
      io.out(CLI_HELP);
      return EXIT.OK;
    }
    if (!CLI_VERBS.has(verb)) {
      throw new CliError(`unknown verb '${verb}' (see dpif help)`, EXIT.USAGE);
    }
    let token = io.env("DPIF_TOKEN");
    if (values["token-file"] !== undefined) {
      try {
        token = Deno.readTextFileSync(values["token-file"]).trim();
      } catch (error) {
        throw new CliError(`--token-file: ${(error as Error).message}`, EXIT.USAGE);
      }
    }
    const server = values.server ?? io.env("DPIF_SERVER") ?? DEFAULT_SERVER;
    parsed = {
      client: new ApiClient(server, token),
      json: values.json ?? false,
      args: positionals.slice(1),
      flags: values,
      io,
    };
  } catch (error) {
    return fail(
      io,
      error instanceof CliError ? error : new CliError(
        `${(error as Error).message} (see dpif help)`,
        EXIT.USAGE,
      ),
    );
  }
  try {
    await VERBS[verb](parsed);
    return EXIT.OK;
  } catch (error) {
    if (error instanceof CliError) return fail(io, error);
    if (error instanceof SyntaxError || error instanceof TypeError) {
      return fail(io, new CliError(error.message, EXIT.USAGE));
    }
    throw error;
  }
}

function fail(io: CliIo, error: CliError): number {
  io.err(`dpif: ${error.message}`);
  return error.exitCode;
}

type VerbHandler = (p: Parsed) => Promise<void>;

const VERBS: Record<string, VerbHandler> = {
  show,
  "add-dp": addDp,
  "del-dp": async (p) => {
    const [dp] = positional(p, 1, 1, "del-dp DP");
    await p.client.json("DELETE", dpPath(dp));
  },
  "add-if": addIf,
  "del-if": async (p) => {
    const [dp, ...ports] = positional(p, 2, Infinity, "del-if DP IFACE...");
    for (const port of ports) {
      await p.client.json("DELETE", `${dpPath(dp)}/ports/${encodeURIComponent(port)}`);
    }
  },
  "dump-flows": dumpFlows,
  "add-flow": async (p) => {
    const [dp, flow, actions] = await withDatapath(p, 2, "add-flow [DP] FLOW ACTIONS");
    const result = await p.client.json<{ ufid: string }>("POST", `${dpPath(dp)}/flows`, {
      flow,
      actions,
    });
    p.io.out(p.json ? JSON.stringify(result) : result.ufid);
  },
  "mod-flow": async (p) => {
    const [dp, flow, actions] = await withDatapath(p, 2, "mod-flow [DP] FLOW ACTIONS");
    const result = await p.client.json<{ ufid: string; created: boolean }>(
      "PUT",
      `${dpPath(dp)}/flows`,
      {
        flow,
        actions,
        create: p.flags["may-create"] === true,
        modify: true,
        zero_stats: p.flags["zero-stats"] === true,
      },
    );
    p.io.out(
      p.json ? JSON.stringify(result) : `${result.ufid}${result.created ? " (created)" : ""}`,
    );
  },
  "del-flow": async (p) => {
    const [dp, flowOrUfid] = await withDatapath(p, 1, "del-flow [DP] FLOW|UFID");
    const ufid = flowOrUfid.startsWith("ufid:") ? flowOrUfid : ufidOfFlow(flowOrUfid);
    const result = await p.client.json<FlowRecord>(
      "DELETE",
      `${dpPath(dp)}/flows/${encodeURIComponent(ufid)}`,
    );
    if (p.json) p.io.out(JSON.stringify(result));
  },
  "del-flows": async (p) => {
    const [dp] = await withDatapath(p, 0, "del-flows [DP]");
    const result = await p.client.json<{ deleted: number }>("DELETE", `${dpPath(dp)}/flows`);
    p.io.out(p.json ? JSON.stringify(result) : `deleted ${result.deleted} flows`);
  },
  "get-flow": async (p) => {
    const [dp, ufid] = await withDatapath(p, 1, "get-flow [DP] UFID");
    const flow = await p.client.json<FlowRecord>(
      "GET",
      `${dpPath(dp)}/flows/${encodeURIComponent(ufid)}`,
    );
    p.io.out(p.json ? JSON.stringify(flow) : formatFlowLine(flow));
  },
  execute: async (p) => {
    const [dp, packet, actions] = await withDatapath(p, 2, "execute [DP] PACKET_HEX ACTIONS");
    hexToBytes(packet); // a clear usage error before anything is sent
    const body: Record<string, unknown> = { packet, actions };
    if (typeof p.flags.metadata === "string") body.metadata = p.flags.metadata;
    const result = await p.client.json("POST", `${dpPath(dp)}/execute`, body);
    if (p.json) p.io.out(JSON.stringify(result));
  },
  upcalls,
  stats: async (p) => {
    const [dp] = await withDatapath(p, 0, "stats [DP]");
    const stats = await p.client.json<Record<string, unknown>>("GET", `${dpPath(dp)}/stats`);
    if (p.json) {
      p.io.out(JSON.stringify(stats));
      return;
    }
    for (const [key, value] of Object.entries(stats)) {
      if (value !== null && typeof value === "object") {
        p.io.out(`${key}:`);
        for (const [k, v] of Object.entries(value)) p.io.out(`  ${k}: ${v}`);
      } else {
        p.io.out(`${key}: ${value}`);
      }
    }
  },
  capture,
};

/** Positional arguments, checked for count. */
function positional(p: Parsed, min: number, max: number, usage: string): string[] {
  if (p.args.length < min || p.args.length > max) {
    throw new CliError(`usage: dpif ${usage}`, EXIT.USAGE);
  }
  return p.args;
}

/**
 * Arguments of a verb whose datapath is optional: with `count` further
 * arguments the datapath is the only one the service has; with one more it
 * is the first argument. Returns [dp, ...rest].
 */
async function withDatapath(p: Parsed, count: number, usage: string): Promise<string[]> {
  if (p.args.length === count + 1) return p.args;
  if (p.args.length !== count) throw new CliError(`usage: dpif ${usage}`, EXIT.USAGE);
  const { datapaths } = await p.client.json<{ datapaths: { name: string }[] }>(
    "GET",
    "/v1/datapaths",
  );
  if (datapaths.length !== 1) {
    throw new CliError(
      `${datapaths.length} datapaths exist: name one (usage: dpif ${usage})`,
      EXIT.USAGE,
    );
  }
  return [datapaths[0].name, ...p.args];
}

function dpPath(dp: string): string {
  return `/v1/datapaths/${encodeURIComponent(dp)}`;
}

/** The UFID the datapath derives for a flow given as ODP text. */
function ufidOfFlow(flow: string): string {
  const match = parseFlowSpec(flow);
  return formatUfid(deriveUfid(match.key, 0, match.mask, 0));
}

function count(p: Parsed, name: string, fallback: number): number {
  const text = p.flags[name];
  if (text === undefined) return fallback;
  const value = typeof text === "string" && /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0)) throw new CliError(`--${name} must be a number`, EXIT.USAGE);
  return value;
}

async function show(p: Parsed): Promise<void> {
  const names = p.args.length > 0
    ? positional(p, 1, 1, "show [DP]")
    : (await p.client.json<{ datapaths: { name: string }[] }>("GET", "/v1/datapaths"))
      .datapaths.map((d) => d.name);
  const all = [];
  for (const name of names) {
    all.push(
      await p.client.json<{
        name: string;
        ports: { name: string; port_no: number; type: string; options: Record<string, string> }[];
        stats: Record<string, number>;
      }>("GET", dpPath(name)),
    );
  }
  if (p.json) {
    p.io.out(JSON.stringify(all));
    return;
  }
  for (const dp of all) {
    const s = dp.stats;
    p.io.out(`${dp.name}:`);
    p.io.out(`  lookups: hit:${s.n_hit} missed:${s.n_missed} lost:${s.n_lost}`);
    p.io.out(`  flows: ${s.n_flows}`);
    p.io.out(`  masks: hit:${s.n_mask_hit} total:${s.n_masks}`);
    for (const port of dp.ports) {
      const options = Object.entries(port.options).map(([k, v]) => `${k}=${v}`).join(", ");
      const detail = port.type === "dummy" || options === ""
        ? port.type
        : `${port.type}: ${options}`;
      p.io.out(
        `  port ${port.port_no}: ${port.name}${
          port.type === "internal" ? " (internal)" : ` (${detail})`
        }`,
      );
    }
  }
}

async function addDp(p: Parsed): Promise<void> {
  const [dp, ...ifaces] = positional(p, 1, Infinity, "add-dp DP [IFACE...]");
  await p.client.json("POST", "/v1/datapaths", { name: dp });
  for (const iface of ifaces) await p.client.json("POST", `${dpPath(dp)}/ports`, parseIface(iface));
}

async function addIf(p: Parsed): Promise<void> {
  const [dp, ...ifaces] = positional(p, 2, Infinity, "add-if DP IFACE[,type=T,...]...");
  for (const iface of ifaces) {
    const port = await p.client.json<{ name: string; port_no: number }>(
      "POST",
      `${dpPath(dp)}/ports`,
      parseIface(iface),
    );
    p.io.out(p.json ? JSON.stringify(port) : `port ${port.port_no}: ${port.name}`);
  }
}

/** Parses ovs-dpctl's "NAME,type=T,port_no=N,KEY=VALUE". */
export function parseIface(text: string): {
  name: string;
  type: string;
  port_no?: number;
  options?: Record<string, string>;
} {
  const [name, ...pairs] = text.split(",");
  const out: { name: string; type: string; port_no?: number; options?: Record<string, string> } = {
    name,
    type: "dummy",
  };
  const options: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(`bad interface option '${pair}' (want KEY=VALUE)`, EXIT.USAGE);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (key === "type") out.type = value;
    else if (key === "port_no") {
      if (!/^[0-9]+$/.test(value)) throw new CliError(`bad port_no '${value}'`, EXIT.USAGE);
      out.port_no = Number(value);
    } else options[key] = value;
  }
  if (Object.keys(options).length > 0) out.options = options;
  return out;
}

async function dumpFlows(p: Parsed): Promise<void> {
  const [dp] = await withDatapath(p, 0, "dump-flows [DP]");
  const limit = count(p, "limit", 1000);
  const progress = Deno.stderr.isTerminal();
  const all: FlowRecord[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1_000_000; page++) {
    const query: string = `?format=json&limit=${limit}` +
      (cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`);
    const result: { flows: FlowRecord[]; next: string | null } = await p.client.json(
      "GET",
      `${dpPath(dp)}/flows${query}`,
    );
    if (p.json) all.push(...result.flows);
    else for (const flow of result.flows) p.io.out(formatFlowLine(flow));
    cursor = result.next;
    if (progress && cursor !== null) p.io.err(`dpif: ${(page + 1) * limit} flows dumped...`);
    if (cursor === null) break;
  }
  if (p.json) p.io.out(JSON.stringify(all));
}

async function upcalls(p: Parsed): Promise<void> {
  const [dp] = await withDatapath(p, 0, "upcalls [DP] [--enable|--disable]");
  if (p.flags.enable) await p.client.json("POST", `${dpPath(dp)}/upcalls/enable`);
  if (p.flags.disable) await p.client.json("POST", `${dpPath(dp)}/upcalls/disable`);
  if ((p.flags.enable || p.flags.disable) && p.flags.count === undefined) return;
  const wanted = count(p, "count", 1);
  const timeout = count(p, "timeout", 5);
  const deadline = Date.now() + timeout * 1000;
  let got = 0;
  while (got < wanted) {
    const left = Math.max(0, (deadline - Date.now()) / 1000);
    const max = Math.min(1024, wanted - got);
    const result = await p.client.json<{ upcalls: Record<string, unknown>[] }>(
      "GET",
      `${dpPath(dp)}/upcalls?max=${max}&timeout=${Math.min(60, left).toFixed(3)}`,
    );
    for (const u of result.upcalls) {
      p.io.out(
        p.json
          ? JSON.stringify(u)
          : `${u.type} in_port(${u.in_port}) ${u.key}${
            u.userdata === null ? "" : ` userdata:${u.userdata}`
          }\n  ${u.packet}`,
      );
    }
    got += result.upcalls.length;
    if (Date.now() >= deadline) break;
  }
  if (got < wanted) p.io.err(`dpif: ${got} of ${wanted} upcalls before the timeout`);
}

async function capture(p: Parsed): Promise<void> {
  const [dp, port] = await withDatapath(p, 1, "capture [DP] PORT --output FILE");
  const output = p.flags.output;
  if (typeof output !== "string") throw new CliError("capture needs --output FILE", EXIT.USAGE);
  const n = count(p, "count", 10);
  const timeout = count(p, "timeout", 10);
  p.io.err(`dpif: capturing up to ${n} frames on ${port} for ${timeout} s...`);
  const response = await p.client.raw(
    "GET",
    `${dpPath(dp)}/ports/${encodeURIComponent(port)}/capture?count=${n}&timeout=${timeout}`,
  );
  const bytes = new Uint8Array(await response.arrayBuffer());
  Deno.writeFileSync(output, bytes);
  const frames = Number(response.headers.get("Dpif-Frames") ?? "0");
  p.io.out(
    p.json ? JSON.stringify({ frames, file: output }) : `${frames} frames written to ${output}`,
  );
}

if (import.meta.main) Deno.exit(await runCli(Deno.args));
