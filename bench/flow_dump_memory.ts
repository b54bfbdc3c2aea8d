/**
 * Memory of the flow text cache (datapath/flow_text_cache.ts): installs
 * `flows` flows, then dumps them all (which fills the cache), measuring the
 * V8 heap plus array buffers after a full GC before and after, per flow.
 * `mixed` uses bench/flow_dump_workload.ts (10 masks, a distinct set() or
 * tnl_push action list on half the flows); `exact` uses exact UDP 5-tuple
 * flows that all output to port 2.
 *
 * Run alone: `deno run -A --v8-flags=--expose-gc bench/flow_dump_memory.ts [flows] [exact|mixed]`.
 *
 * @module
 */

import { Datapath } from "../datapath/datapath.ts";
import { dumpBenchActions, dumpBenchFlow } from "./flow_dump_workload.ts";

function usedBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  gc();
  gc();
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

function exactFlow(i: number): string {
  return `in_port(1),eth(),eth_type(0x0800),ipv4(src=10.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${
    i & 0xff
  },dst=192.168.${i >>> 24}.1,proto=17,frag=no),udp(src=${1 + (i % 60000)},dst=53)`;
}

/** Bytes per flow of the table (after install) and of the text cache (after a dump). */
export function measureDumpMemory(
  flows: number,
  workload: "exact" | "mixed",
): { tableBytesPerFlow: number; cacheBytesPerFlow: number } {
  const before = usedBytes();
  const dp = new Datapath("dp0", { maxFlows: flows });
  for (let i = 0; i < flows; i++) {
    dp.putFlow(
      workload === "mixed"
        ? { flow: dumpBenchFlow(i), actions: dumpBenchActions(i) }
        : { flow: exactFlow(i), actions: "2" },
    );
  }
  const installed = usedBytes();
  let cursor: string | null = null;
  let seen = 0;
  do {
    const page = dp.dumpFlows(cursor, 10_000);
    seen += page.flows.length;
    cursor = page.next;
  } while (cursor !== null);
  if (seen !== flows) throw new Error(`dumped ${seen} of ${flows} flows`);
  const dumped = usedBytes();
  const result = {
    tableBytesPerFlow: (installed - before) / flows,
    cacheBytesPerFlow: (dumped - installed) / flows,
  };
  dp.flushFlows();
  return result;
}

if (import.meta.main) {
  const flows = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  const workload = Deno.args.includes("mixed") ? "mixed" : "exact";
  const r = measureDumpMemory(flows, workload);
  console.log(
    `${flows} ${workload} flows: table ${r.tableBytesPerFlow.toFixed(0)} B/flow, ` +
      `text cache after a full dump ${r.cacheBytesPerFlow.toFixed(0)} B/flow, total ` +
      `${(r.tableBytesPerFlow + r.cacheBytesPerFlow).toFixed(0)} B/flow`,
  );
}
