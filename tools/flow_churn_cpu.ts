/**
 * The per-op cost of tools/flow_churn.ts's batches without DPDK, in one
 * thread: the same puts (a fresh `set(eth(...)),2` list each) and deletes
 * through {@linkcode Datapath.operate} with a PMD flow feed listening, a
 * FlowReplica applying the feed's ring records as a PMD would, and one dump
 * page per batch. Prints µs per op: operate, the replica's apply (the PMD's
 * share), the dump, and the thread's CPU for all of it (Linux /proc).
 * Run: `deno run -A tools/flow_churn_cpu.ts [--batches 400]`. Unlike the
 * churn itself it needs no second core, so it compares versions of the code
 * on a loaded machine better than the churn's wall clock does.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Datapath, type Operation } from "../datapath/datapath.ts";
import { PmdFlowFeed } from "../datapath/pmd_flow_feed.ts";
import {
  createFlowRing,
  FlowRingReader,
  REC_LOADED,
  REC_NONE,
  REC_UPCALLS,
} from "../datapath/pmd_flow_ring.ts";
import { applyRingRecord, FlowReplica } from "../datapath/pmd_replica.ts";
import { CHURN_FLOWS, churnActions, churnMatch, mainThreadCpuSeconds } from "./flow_churn.ts";

/** What {@linkcode measureChurnCpu} measured, µs per op (puts + deletes). */
export interface ChurnCpuResult {
  ops: number;
  operate_us: number;
  replica_apply_us: number;
  dump_us: number;
  thread_cpu_us: number;
}

/** Runs `batches` churn batches of `batch` ops (half deletes, half puts) in this thread. */
export function measureChurnCpu(batches = 400, batch = 1000): ChurnCpuResult {
  const half = Math.max(1, Math.floor(batch / 2));
  const dp = new Datapath("churncpu");
  dp.addPort({ name: "a", type: "dummy", port_no: 1 });
  dp.addPort({ name: "b", type: "dummy", port_no: 2 });
  const ring = createFlowRing();
  const feed = new PmdFlowFeed(ring, dp.flows, () => {}, { load: false });
  const unsubscribe = dp.onFlowChange((change) => feed.change(change));
  const reader = new FlowRingReader(ring);
  const replica = new FlowReplica(dp.flows.maxFlows);
  const ufidOf: string[] = new Array(CHURN_FLOWS).fill("");
  let seq = 0;
  const initial: Operation[] = [];
  for (let i = 0; i < CHURN_FLOWS / 2; i++) {
    initial.push({ op: "put", flow: churnMatch(i), actions: churnActions(i, seq++) });
  }
  dp.operate(initial).forEach((r, k) =>
    ufidOf[k] = (r as { result: { ufid: string } }).result.ufid
  );
  const apply = () => {
    reader.begin();
    for (let type = reader.next(); type !== REC_NONE; type = reader.next()) {
      if (type !== REC_UPCALLS && type !== REC_LOADED) applyRingRecord(replica, reader, type);
      reader.done();
    }
  };
  apply();
  let head = 0;
  let operateMs = 0;
  let applyMs = 0;
  let dumpMs = 0;
  let cursor: string | null = null;
  const cpu0 = mainThreadCpuSeconds();
  for (let b = 0; b < batches; b++) {
    const ops: Operation[] = [];
    const added: number[] = [];
    for (let k = 0; k < half; k++) ops.push({ op: "del", ufid: ufidOf[(head + k) % CHURN_FLOWS] });
    for (let k = 0; k < half; k++) {
      const i = (head + CHURN_FLOWS / 2 + k) % CHURN_FLOWS;
      ops.push({ op: "put", flow: churnMatch(i), actions: churnActions(i, seq++) });
      added.push(i);
    }
    head = (head + half) % CHURN_FLOWS;
    const t0 = performance.now();
    const results = dp.operate(ops);
    const t1 = performance.now();
    apply();
    const t2 = performance.now();
    const page = dp.dumpFlows(cursor, 1000);
    cursor = page.next;
    dumpMs += performance.now() - t2;
    applyMs += t2 - t1;
    operateMs += t1 - t0;
    results.forEach((r, k) => {
      if (!r.ok) throw new Error(`churn op ${k}: ${r.error.message}`);
      if (k >= half) ufidOf[added[k - half]] = (r.result as { ufid: string }).ufid;
    });
  }
  const cpu = mainThreadCpuSeconds() - cpu0;
  unsubscribe();
  feed.close();
  dp.close();
  const ops = batches * 2 * half;
  const us = (ms: number) => Math.round((ms * 1000 / ops) * 1000) / 1000;
  return {
    ops,
    operate_us: us(operateMs),
    replica_apply_us: us(applyMs),
    dump_us: us(dumpMs),
    thread_cpu_us: us(cpu * 1000),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { batches: { type: "string", default: "400" } },
  });
  console.log(JSON.stringify(measureChurnCpu(Number(values.batches))));
}
