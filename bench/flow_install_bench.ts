/**
 * Flow setup rate through the REST API: the service (`main.ts`, its default
 * backend: DPDK with a PMD Worker when present, else dummy ports; no state
 * directory) runs as its own process on a free loopback port, and this
 * process installs `flows` exact-match flows in batches of 1,024 puts
 * (`POST /v1/datapaths/dp0/operate`, the largest batch the API takes) over
 * real HTTP, two requests in flight. Request bodies are encoded before the
 * clock starts. Every put must succeed and the datapath must hold every
 * flow afterwards, or the bench throws.
 *
 * Run alone: `deno run -A bench/flow_install_bench.ts [flows] [--with-state]
 * [service flags]`; `--with-state` gives the service a fresh temporary
 * `--state` directory (removed afterwards), so every operate is committed
 * (synchronous=FULL, on the state writer's thread: api/state_writer.ts)
 * before it is answered, as in a service run with `--state`.
 *
 * Figures of 2026-11-23, 2 vCPU EPYC shared with three other engineers,
 * DPDK backend (one core busy-polled by the PMD, so the main thread, the
 * state writer, the runtime's threads and this client share the other),
 * 100,000 flows, before/after alternated, 6 runs each, medians:
 * - `--with-state`: 70,000 -> 91,500 installs/s with the state writer
 *   (api/state_writer.ts; before: the commit, fsync included, on the main
 *   thread). Runs: before 115k 60k 51k 80k 62k 78k; after 101k 77k 89k 94k
 *   110k 54k. With one core left, the main thread is the bottleneck, and
 *   the time it spent waiting on the fsync now goes to the next request.
 * - without a state dir (the writer plays no part): 56,000 to 103,000
 *   depending on the neighbours' load.
 *
 * @module
 */

import { exactFlowAt } from "./datapath_bench.ts";
import { type BenchRow, formatTable, row } from "./report.ts";

/** Puts per operate request (api/validate.ts MAX_OPERATIONS). */
const BATCH = 1024;
/** Requests in flight. */
const IN_FLIGHT = 2;

/**
 * Starts the service, installs `flows` flows through operate, stops it;
 * resolves to one row: mpps is millions of flow installs per second,
 * `value` installs per second. `serviceArgs` go to the service (e.g.
 * `--no-dpdk`).
 * @throws {Error} when the service does not start or a put fails.
 */
export async function benchFlowInstall(
  flows = 100_000,
  serviceArgs: string[] = [],
): Promise<BenchRow[]> {
  const service = await startService(serviceArgs);
  try {
    const base = `http://127.0.0.1:${service.port}/v1`;
    const info = await (await fetch(`${base}/version`)).json();
    const bodies: string[] = [];
    for (let first = 0; first < flows; first += BATCH) {
      const ops = [];
      for (let i = first; i < Math.min(flows, first + BATCH); i++) {
        const [flow, actions] = exactFlowAt(i, "2");
        ops.push({ op: "put", flow, actions });
      }
      bodies.push(JSON.stringify({ ops }));
    }
    let next = 0;
    let failed = 0;
    const send = async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const res = await fetch(`${base}/datapaths/dp0/operate`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const json = await res.json();
        if (!res.ok) throw new Error(`operate: HTTP ${res.status} ${JSON.stringify(json)}`);
        for (const r of json.results as { ok: boolean }[]) if (!r.ok) failed++;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, send));
    const seconds = (performance.now() - t0) / 1000;
    if (failed > 0) throw new Error(`flow install bench: ${failed} of ${flows} puts failed`);
    const stats = await (await fetch(`${base}/datapaths/dp0/stats`)).json();
    const held = stats.n_flows;
    if (typeof held !== "number" || held < flows) {
      throw new Error(`flow install bench: dp0 holds ${held} flows, ${flows} were put`);
    }
    const rate = flows / seconds;
    const r = row(
      "flow installs via REST operate",
      rate / 1e6,
      `${flows} exact-match flows, ${BATCH} puts per POST .../operate, ${IN_FLIGHT} in ` +
        `flight, HTTP on loopback to the service (${info.datapath_type}` +
        ` backend, ${serviceArgs.includes("--state") ? "with" : "no"} state dir); ` +
        `${seconds.toFixed(2)} s; mpps is M installs/s`,
    );
    r.value = Math.round(rate);
    r.unit = "flows/s";
    return [r];
  } finally {
    await service.stop();
  }
}

/** The service as a child process on a free loopback port. */
async function startService(
  serviceArgs: string[],
): Promise<{ port: number; stop(): Promise<void> }> {
  const main = new URL("../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      main,
      "--listen",
      "127.0.0.1:0",
      "--log-level",
      "info",
      ...serviceArgs,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let port = 0;
  const deadline = Date.now() + 60_000;
  try {
    while (port === 0) {
      if (Date.now() > deadline) throw new Error("the service did not listen within 60 s");
      const { value, done } = await lines.read();
      if (done) throw new Error(`the service exited before listening: ${buffer.slice(-500)}`);
      buffer += value;
      const m = /"listening".*?"port":\s*(\d+)/.exec(buffer);
      if (m !== null) port = Number(m[1]);
    }
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  }
  // Keep draining stderr so the service never blocks on a full pipe.
  const drained = (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })();
  return {
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const status = await Promise.race([
        child.status,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
      ]);
      if (status === null) {
        child.kill("SIGKILL");
        await child.status;
      }
      await drained.catch(() => {});
    },
  };
}

if (import.meta.main) {
  const flows = Number(Deno.args[0] ?? 100_000);
  const serviceArgs = Deno.args.slice(1).filter((a) => a !== "--with-state");
  const stateDir = Deno.args.includes("--with-state")
    ? Deno.makeTempDirSync({ prefix: "dpif-install-" })
    : null;
  try {
    if (stateDir !== null) serviceArgs.push("--state", stateDir);
    console.log(formatTable(await benchFlowInstall(flows, serviceArgs)));
  } finally {
    if (stateDir !== null) Deno.removeSync(stateDir, { recursive: true });
  }
}
