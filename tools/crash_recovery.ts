/**
 * Crash recovery, rerunnable: starts the real service (`main.ts --state
 * DIR`), drives concurrent port adds and removes, flow puts, modifies,
 * deletes and `operate` batches through the REST API, kills it with
 * SIGKILL at a random moment, restarts it on the same state directory and
 * checks (tools/crash_model.ts) that every acknowledged port and flow is
 * there with the same key and actions, that nothing unacknowledged is half
 * there (a flow is complete or absent, an operate batch all or nothing),
 * and that nothing appears that was never asked for. Repeats for
 * `--rounds`; the last restart is stopped with SIGTERM and must exit 0.
 *
 * ```sh
 * deno run -A tools/crash_recovery.ts --rounds 50 --seed 7        # dummy backend
 * deno run -A tools/crash_recovery.ts --rounds 10 --seed 7 --dpdk # DPDK backend
 * ```
 *
 * Options: `--rounds N` (default 20), `--seed S` (default: random, printed),
 * `--workers N` concurrent clients (default 6), `--kill-ms MIN-MAX` when to
 * kill after the writes start (default 20-400), `--dpdk` (default
 * `--no-dpdk`), `--state DIR` (default a temporary directory, removed),
 * `--json` (one JSON line per round), `--help`. Exit code 0 when no round
 * found a violation, 1 otherwise, 2 for bad options. Timing makes each kill
 * land differently; the seed fixes the operations, UFIDs and kill delays.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DatapathRegistry } from "../datapath/registry.ts";
import { flowRecord } from "../api/flow_text.ts";
import { type Change, CrashModel, type SeenFlow, type SeenPort } from "./crash_model.ts";
import { ServiceProcess } from "./service_process.ts";

/** Options of {@linkcode runCrashRecovery}. */
export interface CrashRecoveryOptions {
  /** Kill-and-restart rounds. Default 20. */
  rounds?: number;
  /** Seed of the operation sequence and kill delays. Default 1. */
  seed?: number;
  /** Concurrent API clients. Default 6. */
  workers?: number;
  /** Kill delay range after the writes start, ms. Default [20, 400]. */
  killMs?: [number, number];
  /** Run on DPDK (default false: `--no-dpdk`). */
  dpdk?: boolean;
  /** State directory (default: a temporary one, removed at the end). */
  stateDir?: string;
  /** Called after each round. */
  onRound?: (result: RoundResult) => void;
}

/** What one round did and found. */
export interface RoundResult {
  round: number;
  /** When the SIGKILL came, ms after the writes started. */
  killedAfterMs: number;
  /** Requests answered 2xx, by kind. */
  acknowledged: Record<OpKind, number>;
  /** Requests in flight when the process died (never answered). */
  unanswered: number;
  /** The same, by kind: which writes the kill cut. */
  unansweredByKind: Partial<Record<OpKind, number>>;
  /**
   * Unanswered flow and port changes found applied after the restart (the
   * kill came between the commit and the answer) and not applied.
   */
  settled: { applied: number; notApplied: number };
  /** Ports and flows of dp0 after the restart. */
  restored: { ports: number; flows: number };
  /** ms from spawning the restarted service to its "listening" line. */
  restartMs: number;
  /** Everything that was wrong; empty when the round passed. */
  violations: string[];
}

/** Summary of a whole run. */
export interface CrashRecoveryReport {
  seed: number;
  rounds: RoundResult[];
  /** Exit code of the final SIGTERM stop (0 expected). */
  finalExitCode: number | null;
  /** Whether the final stop logged "stopped" and left no EAL runtime directory. */
  finalStopped: boolean;
  /** Violations over all rounds plus the final stop. */
  violations: number;
}

/** The kinds of write the workers send. */
export type OpKind = "port_add" | "port_del" | "flow_put" | "flow_modify" | "flow_del" | "operate";
const OP_KINDS: OpKind[] = [
  "port_add",
  "port_del",
  "flow_put",
  "flow_modify",
  "flow_del",
  "operate",
];
/** Output actions flows are put with (canonical text). */
const ACTIONS = ["1", "2", "1,2", "2,1"];
const DP = "dp0";

/** Runs the rounds and returns what they found (never throws for a violation). */
export async function runCrashRecovery(
  options: CrashRecoveryOptions = {},
): Promise<CrashRecoveryReport> {
  const rounds = options.rounds ?? 20;
  const seed = options.seed ?? 1;
  const random = mulberry32(seed);
  const [killMin, killMax] = options.killMs ?? [20, 400];
  const ownDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? Deno.makeTempDirSync({ prefix: "dpif-crash-" });
  const args = ["--state", stateDir, ...(options.dpdk ? [] : ["--no-dpdk"])];
  const reference = new ReferenceFlows();
  const model = new CrashModel([DP, "p1", "p2"]);
  const workers = Array.from(
    { length: options.workers ?? 6 },
    (_, id) => new Worker(id, random, model, reference),
  );
  const results: RoundResult[] = [];
  let service = await startLogged(args);
  let finalExitCode: number | null = null;
  let finalStopped = false;
  try {
    for (let round = 0; round < rounds; round++) {
      const killedAfterMs = Math.round(killMin + random() * (killMax - killMin));
      const acknowledged = Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as Record<
        OpKind,
        number
      >;
      const violations: string[] = [];
      const unansweredByKind: Partial<Record<OpKind, number>> = {};
      const running = workers.map((w) =>
        w.run(service.base, acknowledged, violations).then((kind) => {
          unansweredByKind[kind] = (unansweredByKind[kind] ?? 0) + 1;
        })
      );
      await new Promise((resolve) => setTimeout(resolve, killedAfterMs));
      await service.kill();
      await Promise.all(running);
      if (options.dpdk) service.removeEalRunDir();

      const spawned = performance.now();
      service = await startLogged(args);
      const restartMs = Math.round(performance.now() - spawned);
      if (!service.logged("state restored")) violations.push("no 'state restored' log line");
      const version = await getJson(service.base, "/v1/version") as { datapath_type: string };
      const wanted = options.dpdk ? "dpdk" : "dummy";
      if (version.datapath_type !== wanted) {
        violations.push(`backend is ${version.datapath_type}, not ${wanted}`);
      }
      const ports = await getJson(service.base, `/v1/datapaths/${DP}/ports`) as {
        ports: SeenPort[];
      };
      const flows = await dumpFlows(service.base);
      violations.push(...model.verify(ports.ports, flows));
      const result: RoundResult = {
        round,
        killedAfterMs,
        acknowledged,
        unanswered: Object.values(unansweredByKind).reduce((a, b) => a + b, 0),
        unansweredByKind,
        settled: model.lastSettled,
        restored: { ports: ports.ports.length, flows: flows.length },
        restartMs,
        violations,
      };
      results.push(result);
      options.onRound?.(result);
    }
    const status = await service.terminate();
    finalExitCode = status.code;
    finalStopped = service.logged("stopped") && !service.ealRunDirExists();
  } finally {
    await service.kill();
    if (options.dpdk) service.removeEalRunDir();
    reference.close();
    if (ownDir) Deno.removeSync(stateDir, { recursive: true });
  }
  const violations = results.reduce((n, r) => n + r.violations.length, 0) +
    (finalExitCode === 0 && finalStopped ? 0 : 1);
  return { seed, rounds: results, finalExitCode, finalStopped, violations };
}

function startLogged(args: string[]): Promise<ServiceProcess> {
  return ServiceProcess.start({ args });
}

/** One API client with its own flows and ports, one request in flight at a time. */
class Worker {
  readonly #id: number;
  readonly #random: () => number;
  readonly #model: CrashModel;
  readonly #reference: ReferenceFlows;
  readonly #flows: string[] = [];
  readonly #ports: string[] = [];
  #nextFlow = 0;
  #nextPort = 0;

  constructor(id: number, random: () => number, model: CrashModel, reference: ReferenceFlows) {
    this.#id = id;
    this.#random = random;
    this.#model = model;
    this.#reference = reference;
  }

  /** Sends requests until one goes unanswered (the service died); returns its kind. */
  async run(
    base: string,
    acknowledged: Record<OpKind, number>,
    violations: string[],
  ): Promise<OpKind> {
    for (;;) {
      const kind = this.#pickKind();
      const outcome = await this.#perform(base, kind);
      if (outcome === "unanswered") return kind;
      if (outcome === "ok") acknowledged[kind]++;
      else violations.push(`worker ${this.#id} ${kind}: ${outcome}`);
    }
  }

  #pickKind(): OpKind {
    const r = this.#random();
    const present = this.#flows.filter((u) => typeof this.#model.flowState(u) === "string");
    if (r < 0.08) return "port_add";
    if (r < 0.12 && this.#presentPorts().length > 0) return "port_del";
    if (r < 0.25 && present.length > 0) return "flow_modify";
    if (r < 0.38 && present.length > 0) return "flow_del";
    if (r < 0.58) return "operate";
    return "flow_put";
  }

  #presentPorts(): string[] {
    return this.#ports.filter((n) => this.#model.portState(n) !== null);
  }

  #presentFlows(): string[] {
    return this.#flows.filter((u) => typeof this.#model.flowState(u) === "string");
  }

  #pick<T>(items: T[]): T {
    return items[Math.floor(this.#random() * items.length)];
  }

  /** A new flow of this worker: its UFID, canonical key recorded in the model. */
  #newFlow(): { ufid: string; flow: string } {
    const n = this.#nextFlow++;
    const flow = `in_port(1),eth(),eth_type(0x0800),ipv4(src=10.${this.#id}.${(n >> 8) & 255}.${
      n & 255
    },frag=no)`;
    const ufid = uuid(this.#random);
    this.#model.flowKeys.set(ufid, this.#reference.canonicalKey(flow));
    this.#flows.push(ufid);
    return { ufid, flow };
  }

  #otherActions(current: string | null): string {
    const choices = ACTIONS.filter((a) => a !== current);
    return this.#pick(choices);
  }

  async #perform(base: string, kind: OpKind): Promise<"ok" | "unanswered" | string> {
    const model = this.#model;
    switch (kind) {
      case "port_add": {
        const n = this.#nextPort++;
        const name = `c${this.#id}_${n}`;
        const port = { port_no: 1000 + this.#id * 10000 + n, type: "dummy" };
        this.#ports.push(name);
        const change: Change<typeof port> = { id: name, before: null, after: port };
        const status = await send(base, "POST", `/v1/datapaths/${DP}/ports`, { name, ...port });
        return this.#settle(status, 201, () => model.ackPort(change), () => {
          model.unansweredPort(change);
        });
      }
      case "port_del": {
        const name = this.#pick(this.#presentPorts());
        const change = { id: name, before: model.portState(name)!, after: null };
        const status = await send(base, "DELETE", `/v1/datapaths/${DP}/ports/${name}`);
        return this.#settle(status, 204, () => model.ackPort(change), () => {
          model.unansweredPort(change);
        });
      }
      case "flow_put": {
        const { ufid, flow } = this.#newFlow();
        const actions = this.#pick(ACTIONS);
        const change = { id: ufid, before: null, after: actions };
        const status = await send(base, "POST", `/v1/datapaths/${DP}/flows`, {
          flow,
          actions,
          ufid,
        });
        return this.#settle(status, 201, () => model.ackFlow(change), () => {
          model.unansweredFlow(change);
        });
      }
      case "flow_modify": {
        const ufid = this.#pick(this.#presentFlows());
        const before = model.flowState(ufid) as string;
        const change = { id: ufid, before, after: this.#otherActions(before) };
        const status = await send(base, "PUT", `/v1/datapaths/${DP}/flows`, {
          flow: model.flowKeys.get(ufid),
          actions: change.after,
          ufid,
          create: false,
        });
        return this.#settle(status, 200, () => model.ackFlow(change), () => {
          model.unansweredFlow(change);
        });
      }
      case "flow_del": {
        const ufid = this.#pick(this.#presentFlows());
        const change = { id: ufid, before: model.flowState(ufid) as string, after: null };
        const status = await send(base, "DELETE", `/v1/datapaths/${DP}/flows/${ufid}`);
        return this.#settle(status, 200, () => model.ackFlow(change), () => {
          model.unansweredFlow(change);
        });
      }
      case "operate": {
        const { ops, changes } = this.#batch();
        const status = await send(base, "POST", `/v1/datapaths/${DP}/operate`, { ops });
        if (status !== null && status.status === 200) {
          const failed = (status.json as { results: { ok?: boolean; error?: unknown }[] })
            .results.findIndex((r) => r.error !== undefined || r.ok === false);
          if (failed >= 0) return `operate op ${failed} failed: ${JSON.stringify(status.json)}`;
        }
        const label = `w${this.#id}:${changes.map((c) => c.id.slice(5, 13)).join("+")}`;
        return this.#settle(status, 200, () => changes.forEach((c) => model.ackFlow(c)), () => {
          model.unansweredBatch(label, changes);
        });
      }
    }
  }

  /** 1-3 new flows, up to 2 deletes and up to 1 modify of this worker's present flows. */
  #batch(): { ops: Record<string, unknown>[]; changes: Change<string>[] } {
    const ops: Record<string, unknown>[] = [];
    const changes: Change<string>[] = [];
    const present = this.#presentFlows();
    const touched = new Set<string>();
    for (let i = Math.floor(this.#random() * 2); i >= 0 && present.length > 0; i--) {
      const ufid = this.#pick(present);
      if (touched.has(ufid)) continue;
      touched.add(ufid);
      const before = this.#model.flowState(ufid) as string;
      if (i === 0 && this.#random() < 0.5) {
        const after = this.#otherActions(before);
        ops.push({
          op: "put",
          flow: this.#model.flowKeys.get(ufid),
          actions: after,
          ufid,
          create: false,
          modify: true,
        });
        changes.push({ id: ufid, before, after });
      } else {
        ops.push({ op: "del", ufid });
        changes.push({ id: ufid, before, after: null });
      }
    }
    for (let i = 1 + Math.floor(this.#random() * 3); i > 0; i--) {
      const { ufid, flow } = this.#newFlow();
      const actions = this.#pick(ACTIONS);
      ops.push({ op: "put", flow, actions, ufid });
      changes.push({ id: ufid, before: null, after: actions });
    }
    return { ops, changes };
  }

  #settle(
    answer: Answer | null,
    expected: number,
    ack: () => void,
    unanswered: () => void,
  ): "ok" | "unanswered" | string {
    if (answer === null) {
      unanswered();
      return "unanswered";
    }
    if (answer.status !== expected) {
      return `status ${answer.status} (expected ${expected}): ${JSON.stringify(answer.json)}`;
    }
    ack();
    return "ok";
  }
}

/** Canonical flow key text, from an in-memory datapath with the same parser. */
class ReferenceFlows {
  readonly #registry = new DatapathRegistry();
  readonly #dp = this.#registry.create("reference");

  canonicalKey(flow: string): string {
    const { ufid } = this.#dp.putFlow({ flow, actions: "1" });
    const text = flowRecord(this.#dp.getFlow(ufid)).flow;
    this.#dp.deleteFlow(ufid);
    return text;
  }

  close(): void {
    this.#registry.closeAll();
  }
}

interface Answer {
  status: number;
  json: unknown;
}

/** Sends a request; null when no answer came (connection refused or reset). */
async function send(base: string, method: string, path: string, body?: unknown) {
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return null;
  }
  let text: string;
  try {
    text = await res.text();
  } catch {
    return null; // headers came but the body was cut: the change may or may not be kept
  }
  let json: unknown = null;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json } satisfies Answer;
}

async function getJson(base: string, path: string): Promise<unknown> {
  const answer = await send(base, "GET", path);
  if (answer === null || answer.status !== 200) {
    throw new Error(`GET ${path}: ${answer === null ? "no answer" : JSON.stringify(answer)}`);
  }
  return answer.json;
}

/** Every flow of dp0, page by page. */
async function dumpFlows(base: string): Promise<SeenFlow[]> {
  const flows: SeenFlow[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await getJson(base, `/v1/datapaths/${DP}/flows?limit=10000${query}`) as {
      flows: SeenFlow[];
      next: string | null;
    };
    flows.push(...page.flows);
    cursor = page.next;
  } while (cursor !== null);
  return flows;
}

/** A small seeded PRNG (mulberry32): floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random UUID-shaped UFID (`ufid:xxxxxxxx-...`) from the seeded PRNG. */
function uuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join("");
  return `ufid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** What `--help` prints. */
const USAGE = `usage: deno run -A tools/crash_recovery.ts [options]
Kills the service (main.ts --state DIR) with SIGKILL while REST writes are in
flight, restarts it and checks that every acknowledged change is back and
nothing unacknowledged is half there. Exit code 0 when no round found a
violation, 1 otherwise, 2 for bad options.
  --rounds N       kill-and-restart rounds (default 20)
  --seed S         seed of the operations, UFIDs and kill delays (default random, printed)
  --workers N      concurrent API clients (default 6)
  --kill-ms A-B    kill between A and B ms after the writes start (default 20-400)
  --dpdk           run the service on DPDK (default --no-dpdk)
  --state DIR      state directory (default a temporary one, removed)
  --json           one JSON line per round and a JSON summary
  --help           this text`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        rounds: { type: "string" },
        seed: { type: "string" },
        workers: { type: "string" },
        "kill-ms": { type: "string" },
        dpdk: { type: "boolean" },
        state: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean" },
      },
    }));
  } catch (error) {
    console.error(`crash_recovery: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const seed = values.seed === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(values.seed);
  const killMs = (values["kill-ms"] ?? "20-400").split("-").map(Number) as [number, number];
  const options: CrashRecoveryOptions = {
    rounds: values.rounds === undefined ? 20 : Number(values.rounds),
    seed,
    workers: values.workers === undefined ? 6 : Number(values.workers),
    killMs,
    dpdk: values.dpdk ?? false,
    stateDir: values.state,
  };
  for (const [name, value] of Object.entries(options)) {
    if (typeof value === "number" && !(Number.isInteger(value) && value >= 0)) {
      console.error(`crash_recovery: --${name} must be a non-negative integer`);
      return 2;
    }
  }
  if (!(killMs.length === 2 && killMs[0] >= 0 && killMs[1] >= killMs[0])) {
    console.error("crash_recovery: --kill-ms must be MIN-MAX in ms");
    return 2;
  }
  console.error(`crash_recovery: seed ${seed}, ${options.rounds} rounds`);
  const report = await runCrashRecovery({
    ...options,
    onRound(r) {
      if (values.json) {
        console.log(JSON.stringify(r));
        return;
      }
      const acked = Object.values(r.acknowledged).reduce((a, b) => a + b, 0);
      console.log(
        `round ${r.round}: killed at ${r.killedAfterMs} ms, ${acked} acknowledged, ` +
          `${r.unanswered} unanswered, restored ${r.restored.ports} ports ` +
          `${r.restored.flows} flows in ${r.restartMs} ms, ${r.violations.length} violations`,
      );
      for (const v of r.violations) console.log(`  violation: ${v}`);
    },
  });
  const acked = report.rounds.reduce(
    (n, r) => n + Object.values(r.acknowledged).reduce((a, b) => a + b, 0),
    0,
  );
  const summary = {
    seed: report.seed,
    rounds: report.rounds.length,
    acknowledged: acked,
    unanswered: report.rounds.reduce((n, r) => n + r.unanswered, 0),
    unanswered_by_kind: report.rounds.reduce((sum, r) => {
      for (const [k, v] of Object.entries(r.unansweredByKind)) sum[k] = (sum[k] ?? 0) + v;
      return sum;
    }, {} as Record<string, number>),
    unanswered_changes_applied: report.rounds.reduce((n, r) => n + r.settled.applied, 0),
    unanswered_changes_not_applied: report.rounds.reduce((n, r) => n + r.settled.notApplied, 0),
    violations: report.violations,
    final_exit_code: report.finalExitCode,
    final_stopped: report.finalStopped,
  };
  console.log(values.json ? JSON.stringify({ summary }) : `summary: ${JSON.stringify(summary)}`);
  return report.violations === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
