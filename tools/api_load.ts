/**
 * The REST API under load while the datapath forwards at full rate.
 *
 * Starts the real service (`main.ts --config FILE --eal "--vdev=..."`) on a
 * free loopback port with two extra DPDK virtual devices: a `net_pcap` port
 * replaying 1,000 64-byte UDP flows forever (`infinite_rx=1`) and a
 * `net_null` sink; adds them as ports 3 and 4 of dp0, installs one exact
 * flow per replayed flow (output to 4) and restarts the PMD Worker so it
 * polls them (`PUT .../pmd`). Then, on loopback only:
 *
 * 1. the forwarding rate with no API load (net_null's transmitted packets
 *    per second, from `GET .../ports/out/stats`);
 * 2. for each endpoint, `wrk` for `--duration` seconds with
 *    `--connections` connections (tools/api_load.lua): `GET .../flows` (a
 *    1,000-flow dump page, and a 100-flow one), `GET .../stats`, and
 *    `PUT .../flows` (create or modify, cycling over 1,000 flows that match
 *    no traffic; each answers once the PMD applied it); requests per
 *    second, p50/p90/p99 latency, and the forwarding rate during the run
 *    with its drop against the idle rate;
 * 3. with `--churn-seconds N`: flow puts and deletes through
 *    `POST .../operate` (batches of `--churn-batch`, half deletes, half
 *    puts, by `--churn-clients` concurrent clients over disjoint flows that
 *    match no traffic) at up to `--churn-rate` per second, while another
 *    client dumps the table page by page and parses every entry back, and
 *    the datapath keeps forwarding; puts + deletes per second achieved,
 *    malformed dump entries, and the forwarding rate meanwhile. (The
 *    wrong-forwarding check of churn needs to see every forwarded packet:
 *    it is in tools/flow_churn.ts, in process.)
 *
 * Prints one JSON line per measurement, then stops the service with SIGTERM
 * and reports its exit code (it refuses a clean exit when mbufs leaked).
 * Run: `deno run -A tools/api_load.ts [--duration 10] [--connections 16]
 * [--threads 2] [--endpoints dump,dump100,stats,put] [--churn-seconds 0]
 * [--churn-rate 100000] [--churn-batch 1000] [--churn-clients 4]`.
 * Needs DPDK and `wrk` (tools/run.sh installs both).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { udpFlowFrames } from "../bench/datapath_bench.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { writePcap } from "../tests/fixtures/pcap.ts";
import { malformedFlow } from "./flow_churn.ts";

/** Options of {@linkcode runApiLoad}. */
export interface ApiLoadOptions {
  /** Seconds per wrk run and per idle forwarding measurement. Default 10. */
  duration?: number;
  /** wrk connections. Default 16. */
  connections?: number;
  /** wrk threads. Default 2. */
  threads?: number;
  /** Endpoints to load: any of "dump", "dump100", "stats", "put". Default all. */
  endpoints?: string[];
  /** Seconds of REST flow churn; 0 skips it. Default 0. */
  churnSeconds?: number;
  /** Target puts + deletes per second of the churn. Default 100,000. */
  churnRate?: number;
  /** Operations per operate request (at most 1024). Default 1000. */
  churnBatch?: number;
  /** Concurrent churn clients. Default 4. */
  churnClients?: number;
  /** Called with each measurement (default: printed as a JSON line). */
  onMeasurement?: (m: Record<string, unknown>) => void;
}

const FLOWS = 1000;
const IN = 3;
const OUT = 4;
/** Churned flows match in_port(IN) with sources 10.77.x.y: no replayed frame has them. */
const CHURN_SPACE = 8192;

/** One wrk result, as tools/api_load.lua prints it. */
export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  non_2xx: number;
  errors: number;
}

/** A running service child and its API base URL. */
interface Service {
  child: Deno.ChildProcess;
  base: string;
  log: string;
  /** Suffix of the vdev names given to the EAL. */
  tag: string;
}

/**
 * Runs the whole measurement; returns the measurements, or null (after
 * printing why) when DPDK or wrk is missing.
 * @throws {Error} when the service does not start or answers an error while being set up.
 */
export async function runApiLoad(
  options: ApiLoadOptions = {},
): Promise<Record<string, unknown>[] | null> {
  const availability = dpdkAvailability();
  if (!availability.available) {
    console.log(`api load skipped: ${availability.reason}`);
    return null;
  }
  if (!(await hasWrk())) {
    console.log("api load skipped: wrk is not installed (bash tools/run.sh installs it)");
    return null;
  }
  const duration = options.duration ?? 10;
  const endpoints = options.endpoints ?? ["dump", "dump100", "stats", "put"];
  const emit = options.onMeasurement ?? ((m) => console.log(JSON.stringify(m)));
  const out: Record<string, unknown>[] = [];
  const record = (m: Record<string, unknown>) => {
    out.push(m);
    emit(m);
  };
  const dir = Deno.makeTempDirSync({ prefix: "dpif_api_load_" });
  const service = await startService(dir);
  try {
    await setUpForwarding(service.base, service.tag);
    const idle = await forwardingRate(service.base, duration);
    record({ measurement: "forwarding_idle", mpps: idle });
    for (const endpoint of endpoints) {
      const wrkRun = runWrk(service.base, endpoint, {
        duration,
        connections: options.connections ?? 16,
        threads: options.threads ?? 2,
      });
      const underLoad = await forwardingRate(service.base, Math.max(1, duration - 1), 0.5);
      const wrk = await wrkRun;
      record({
        measurement: "api_load",
        endpoint: ENDPOINTS[endpoint].label,
        connections: options.connections ?? 16,
        rps: Math.round(wrk.rps),
        p50_ms: wrk.p50_us / 1000,
        p99_ms: wrk.p99_us / 1000,
        max_ms: wrk.max_us / 1000,
        non_2xx: wrk.non_2xx,
        errors: wrk.errors,
        fwd_mpps: underLoad,
        fwd_idle_mpps: idle,
        fwd_drop_pct: dropPct(idle, underLoad),
      });
    }
    if ((options.churnSeconds ?? 0) > 0) {
      const churn = restChurn(service.base, {
        seconds: options.churnSeconds!,
        rate: options.churnRate ?? 100_000,
        batch: Math.min(1024, options.churnBatch ?? 1000),
        clients: options.churnClients ?? 4,
      });
      const dumps = dumpChecker(service.base, options.churnSeconds!);
      const rate = forwardingRate(service.base, Math.max(1, options.churnSeconds! - 1), 0.5);
      const [c, d, fwd] = await Promise.all([churn, dumps, rate]);
      record({
        measurement: "rest_churn",
        ...c,
        ...d,
        fwd_mpps: fwd,
        fwd_idle_mpps: idle,
        fwd_drop_pct: dropPct(idle, fwd),
      });
    }
    const stats = await api(service.base, "GET", "/v1/datapaths/dp0/stats") as {
      pool: Record<string, number>;
      drops: Record<string, number>;
    };
    record({ measurement: "datapath_after", pool: stats.pool, drops: nonZero(stats.drops) });
  } finally {
    const code = await stopService(service);
    record({ measurement: "service_exit", code, log_tail: tail(service.log) });
    Deno.removeSync(dir, { recursive: true });
  }
  return out;
}

/** The endpoints wrk can load: URL path and lua mode. */
const ENDPOINTS: Record<string, { label: string; path: string; mode: string }> = {
  dump: { label: "GET flows (dump, 1000/page)", path: "/v1/datapaths/dp0/flows", mode: "get" },
  dump100: {
    label: "GET flows (dump, 100/page)",
    path: "/v1/datapaths/dp0/flows?limit=100",
    mode: "get",
  },
  stats: { label: "GET stats", path: "/v1/datapaths/dp0/stats", mode: "get" },
  put: { label: "PUT flows", path: "/v1/datapaths/dp0/flows", mode: "put_flows" },
};

async function hasWrk(): Promise<boolean> {
  try {
    await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    return false;
  }
}

/** Starts main.ts with a config file and EAL vdevs; resolves when the API answers. */
async function startService(dir: string): Promise<Service> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const pcap = `${dir}/flows1k.pcap`;
  writePcap(pcap, udpFlowFrames(FLOWS));
  const config = `${dir}/config.json`;
  Deno.writeTextFileSync(
    config,
    JSON.stringify({ listen: `127.0.0.1:${port}`, log_level: "warn" }),
  );
  const tag = `al${Deno.pid % 100000}`;
  const eal =
    `--vdev=net_pcap_${tag}i,rx_pcap=${pcap},infinite_rx=1 --vdev=net_null_${tag}o,no-rx=1`;
  const log = `${dir}/service.log`;
  const main = new URL("../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", main, "--config", config, `--eal=${eal}`],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const file = await Deno.open(log, { write: true, create: true });
  const writer = file.writable.getWriter();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await writer.write(chunk);
  };
  Promise.all([pump(child.stdout), pump(child.stderr)]).finally(() => writer.close());
  const base = `http://127.0.0.1:${port}`;
  const service: Service = { child, base, log, tag };
  let exited: number | null = null;
  child.status.then((status) => (exited = status.code));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) throw new Error(`service exited with ${exited}: ${tail(log)}`);
    try {
      const r = await fetch(`${base}/v1/version`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch { /* not yet listening */ }
    if (Date.now() > deadline) {
      await stopService(service);
      throw new Error(`service did not start in 30 s: ${tail(log)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return service;
}

/** Adds the replay and sink ports, one flow per replayed flow, and restarts the PMD over them. */
async function setUpForwarding(base: string, tag: string): Promise<void> {
  const dp = "/v1/datapaths/dp0";
  await api(base, "POST", `${dp}/ports`, {
    name: "in",
    type: "dpdk",
    port_no: IN,
    options: { devargs: `net_pcap_${tag}i` },
  });
  await api(base, "POST", `${dp}/ports`, {
    name: "out",
    type: "dpdk",
    port_no: OUT,
    options: { devargs: `net_null_${tag}o` },
  });
  // udpFlowFrames(i): source 10.(i>>16).(i>>8).(i&255), UDP source 1024 + 7i.
  const ops = Array.from({ length: FLOWS }, (_, i) => ({
    op: "put",
    flow: `in_port(${IN}),eth(),eth_type(0x0800),ipv4(src=10.0.${i >> 8}.${i & 255},proto=17,` +
      `frag=no),udp(src=${1024 + (i * 7) % 60000})`,
    actions: String(OUT),
  }));
  const res = await api(base, "POST", `${dp}/operate`, { ops }) as { results: { ok?: boolean }[] };
  const failed = res.results.filter((r) => r.ok === false).length;
  if (failed > 0) throw new Error(`${failed} of ${FLOWS} flow puts failed`);
  await api(base, "PUT", `${dp}/pmd`, { threads: 1 });
}

/** Transmitted packets per second on the sink over `seconds` (after `warmup`), in Mpps. */
async function forwardingRate(base: string, seconds: number, warmup = 0): Promise<number> {
  if (warmup > 0) await new Promise((r) => setTimeout(r, warmup * 1000));
  const read = async () =>
    (await api(base, "GET", "/v1/datapaths/dp0/ports/out/stats") as { tx_packets: number })
      .tx_packets;
  const p0 = await read();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const p1 = await read();
  return Math.round(((p1 - p0) / ((performance.now() - t0) / 1000) / 1e6) * 1000) / 1000;
}

/** Runs wrk against one endpoint with tools/api_load.lua; its JSON line. */
async function runWrk(
  base: string,
  endpoint: string,
  o: { duration: number; connections: number; threads: number },
): Promise<WrkResult> {
  const e = ENDPOINTS[endpoint];
  if (e === undefined) {
    throw new TypeError(`unknown endpoint '${endpoint}' (${Object.keys(ENDPOINTS).join(", ")})`);
  }
  const script = new URL("./api_load.lua", import.meta.url).pathname;
  const result = await new Deno.Command("wrk", {
    args: [
      `-t${o.threads}`,
      `-c${o.connections}`,
      `-d${o.duration}s`,
      "--timeout",
      "10s",
      "-s",
      script,
      `${base}${e.path}`,
    ],
    env: { WRK_MODE: e.mode, WRK_PUT_IN_PORT: "9", WRK_PUT_OUT_PORT: String(OUT) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(result.stdout);
  const line = text.split("\n").find((l) => l.startsWith('{"wrk":true'));
  if (!result.success || line === undefined) {
    throw new Error(`wrk failed: ${text}${new TextDecoder().decode(result.stderr)}`);
  }
  return JSON.parse(line) as WrkResult;
}

/** REST churn: puts and deletes through operate by several clients; figures. */
async function restChurn(
  base: string,
  o: { seconds: number; rate: number; batch: number; clients: number },
): Promise<Record<string, number>> {
  const url = `${base}/v1/datapaths/dp0/operate`;
  const half = Math.floor(o.batch / 2);
  const perClient = Math.floor(CHURN_SPACE / o.clients);
  let puts = 0;
  let deletes = 0;
  let failed = 0;
  let requests = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  const match = (i: number) =>
    `in_port(${IN}),eth(),eth_type(0x0800),ipv4(src=10.77.${i >> 8}.${i & 255},proto=17,` +
    `frag=no),udp(src=7)`;
  const client = async (c: number) => {
    // A live window over this client's indices, as tools/flow_churn.ts; UFIDs kept from puts.
    const first = c * perClient;
    const ufids: string[] = new Array(perClient).fill("");
    let head = 0;
    const window = Math.floor(perClient / 2);
    const send = async (ops: unknown[]) => {
      const s = performance.now();
      const r = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ops }),
      });
      const body = await r.json() as { results: { ok: boolean; result?: { ufid?: string } }[] };
      latencies.push(performance.now() - s);
      requests++;
      if (!r.ok) throw new Error(`operate: HTTP ${r.status}: ${JSON.stringify(body)}`);
      return body.results;
    };
    const initial = await send(
      Array.from(
        { length: window },
        (_, k) => ({ op: "put", flow: match(first + k), actions: "drop" }),
      ),
    );
    initial.forEach((r, k) => (ufids[k] = r.result?.ufid ?? ""));
    while (performance.now() < end) {
      const ops: unknown[] = [];
      const added: number[] = [];
      for (let k = 0; k < half; k++) ops.push({ op: "del", ufid: ufids[(head + k) % perClient] });
      for (let k = 0; k < half; k++) {
        const j = (head + window + k) % perClient;
        added.push(j);
        ops.push({ op: "put", flow: match(first + j), actions: "drop" });
      }
      head = (head + half) % perClient;
      const results = await send(ops);
      results.forEach((r, k) => {
        if (!r.ok) failed++;
        else if (k < half) deletes++;
        else {
          puts++;
          ufids[added[k - half]] = r.result?.ufid ?? "";
        }
      });
      const due = t0 + ((puts + deletes) / o.rate) * 1000;
      const now = performance.now();
      if (due > now) await new Promise((r) => setTimeout(r, due - now));
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, c) => client(c)));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    puts,
    deletes,
    failed_ops: failed,
    ops_per_s: Math.round((puts + deletes) / elapsed),
    operate_requests: requests,
    operate_p50_ms: round3(latencies[Math.floor(latencies.length * 0.5)] ?? 0),
    operate_p99_ms: round3(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
  };
}

/** Dumps the whole table page by page until `seconds` pass, parsing every entry. */
async function dumpChecker(base: string, seconds: number): Promise<Record<string, number>> {
  const end = performance.now() + seconds * 1000;
  let pages = 0;
  let entries = 0;
  let malformed = 0;
  let cursor: string | null = null;
  while (performance.now() < end) {
    const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await api(base, "GET", `/v1/datapaths/dp0/flows?limit=1000${query}`) as {
      flows: { ufid: string; flow: string; actions: string }[];
      next: string | null;
    };
    pages++;
    for (const f of page.flows) {
      entries++;
      const bad = malformedFlow(f);
      if (bad !== null) {
        malformed++;
        if (malformed === 1) console.error(`malformed dump entry: ${bad}`);
      }
    }
    cursor = page.next;
  }
  return { dump_pages: pages, dumped_flows: entries, malformed_entries: malformed };
}

/** One JSON request; throws with the answer on a non-2xx status. */
async function api(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status}: ${text}`);
  return JSON.parse(text);
}

/** SIGTERM, then waits up to 20 s (SIGKILL after); the exit code. */
async function stopService(service: Service): Promise<number> {
  try {
    service.child.kill("SIGTERM");
  } catch { /* already gone */ }
  const timer = setTimeout(() => {
    try {
      service.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 20_000);
  const status = await service.child.status;
  clearTimeout(timer);
  return status.code;
}

function dropPct(idle: number, loaded: number): number {
  return idle > 0 ? Math.round((1 - loaded / idle) * 1000) / 10 : 0;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function nonZero(counters: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counters).filter(([, n]) => n !== 0));
}

function tail(path: string): string {
  try {
    return Deno.readTextFileSync(path).split("\n").filter((l) => l !== "").slice(-3).join("\n");
  } catch {
    return "";
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      duration: { type: "string", default: "10" },
      connections: { type: "string", default: "16" },
      threads: { type: "string", default: "2" },
      endpoints: { type: "string", default: "dump,dump100,stats,put" },
      "churn-seconds": { type: "string", default: "0" },
      "churn-rate": { type: "string", default: "100000" },
      "churn-batch": { type: "string", default: "1000" },
      "churn-clients": { type: "string", default: "4" },
    },
  });
  const results = await runApiLoad({
    duration: Number(values.duration),
    connections: Number(values.connections),
    threads: Number(values.threads),
    endpoints: values.endpoints.split(",").filter((e) => e !== ""),
    churnSeconds: Number(values["churn-seconds"]),
    churnRate: Number(values["churn-rate"]),
    churnBatch: Number(values["churn-batch"]),
    churnClients: Number(values["churn-clients"]),
  });
  const bad = results?.some((m) =>
    (m.measurement === "service_exit" && m.code !== 0) ||
    (typeof m.malformed_entries === "number" && m.malformed_entries > 0) ||
    (typeof m.non_2xx === "number" && m.non_2xx > 0)
  );
  Deno.exit(bad ? 1 : 0);
}
