/**
 * Flow dump cost: installs `flows` flows (bench/flow_dump_workload.ts: 10
 * masks, output/set/push_vlan/tnl_push actions) into a datapath, then pages
 * through all of them 1,000 at a time three ways: `Datapath.dumpFlows`,
 * `GET .../flows?format=odp` and `GET .../flows?format=json` (the Hono app
 * in-process, no sockets). Each is timed over 3 runs (wall and CPU time,
 * medians, in ms per 1,000 flows); the first pass after install is reported
 * on its own, as it is the one that fills any per-flow text cache.
 *
 * Run alone: `deno run -A bench/flow_dump_bench.ts [flows] [--cpu-prof]`.
 *
 * @module
 */

import process from "node:process";
import { createApp } from "../api/app.ts";
import { DatapathRegistry } from "../datapath/registry.ts";
import { dumpBenchActions, dumpBenchFlow } from "./flow_dump_workload.ts";
import { median } from "./report.ts";

/** One measured way of dumping. */
export interface DumpFigure {
  /** What was timed. */
  name: string;
  /** Wall ms per 1,000 flows of the first pass after install. */
  firstMs: number;
  /** Median wall ms per 1,000 flows over 3 runs. */
  wallMs: number;
  /** Median CPU (user+system) ms per 1,000 flows over 3 runs. */
  cpuMs: number;
  /** Bytes of output per full dump (text length). */
  bytes: number;
}

const PAGE = 1000;

/** Installs `flows` flows and measures the three dump paths. */
export async function benchFlowDump(flows: number): Promise<DumpFigure[]> {
  const registry = new DatapathRegistry();
  const shutdown = new AbortController();
  try {
    const dp = registry.create("dp0", { maxFlows: Math.max(flows, 1000) });
    for (let i = 0; i < flows; i++) {
      dp.putFlow({ flow: dumpBenchFlow(i), actions: dumpBenchActions(i) });
    }
    const app = createApp({ registry, signal: shutdown.signal });
    const ways: [string, () => Promise<number>][] = [
      ["Datapath.dumpFlows", () => {
        let bytes = 0;
        let cursor: string | null = null;
        do {
          const page = dp.dumpFlows(cursor, PAGE);
          for (const f of page.flows) bytes += f.flow.length + f.actions.length;
          cursor = page.next;
        } while (cursor !== null);
        return Promise.resolve(bytes);
      }],
      ["GET flows?format=odp", () => getAll(app, "odp")],
      ["GET flows?format=json", () => getAll(app, "json")],
    ];
    const out: DumpFigure[] = [];
    const repeat = Math.max(1, Math.floor(20_000 / flows));
    for (const [name, run] of ways) {
      const t0 = performance.now();
      const bytes = await run();
      const firstMs = (performance.now() - t0) / flows * 1000;
      const walls: number[] = [], cpus: number[] = [];
      for (let r = 0; r < 3; r++) {
        const c0 = process.cpuUsage();
        const w0 = performance.now();
        for (let k = 0; k < repeat; k++) await run();
        const wall = performance.now() - w0;
        const cpu = process.cpuUsage(c0);
        walls.push(wall / (flows * repeat) * 1000);
        cpus.push((cpu.user + cpu.system) / 1000 / (flows * repeat) * 1000);
      }
      out.push({ name, firstMs, wallMs: median(walls), cpuMs: median(cpus), bytes });
    }
    return out;
  } finally {
    shutdown.abort();
    registry.closeAll();
  }
}

async function getAll(app: ReturnType<typeof createApp>, format: string): Promise<number> {
  let bytes = 0;
  let cursor: string | null = null;
  do {
    const q = `format=${format}&limit=${PAGE}` + (cursor === null ? "" : `&cursor=${cursor}`);
    const res = await app.request(`/v1/datapaths/dp0/flows?${q}`);
    if (res.status !== 200) throw new Error(`GET flows: HTTP ${res.status} ${await res.text()}`);
    if (format === "odp") {
      const text = await res.text();
      bytes += text.length;
      cursor = res.headers.get("Dpif-Next-Cursor");
    } else {
      const text = await res.text();
      bytes += text.length;
      cursor = JSON.parse(text).next;
    }
  } while (cursor !== null);
  return bytes;
}

if (import.meta.main) {
  const counts = Deno.args.filter((a) => /^\d+$/.test(a)).map(Number);
  for (const flows of counts.length > 0 ? counts : [1000, 100_000]) {
    for (const f of await benchFlowDump(flows)) {
      console.log(
        `${flows} flows  ${f.name.padEnd(22)} first ${f.firstMs.toFixed(2)} ms/1k  ` +
          `median ${f.wallMs.toFixed(2)} ms/1k wall, ${f.cpuMs.toFixed(2)} ms/1k cpu  ` +
          `(${f.bytes} bytes)`,
      );
    }
  }
}
