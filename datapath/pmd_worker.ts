/**
 * The PMD thread: a Worker that polls its rx queues in bursts of 32, runs
 * each burst through its own {@linkcode Pipeline} over a
 * {@linkcode FlowReplica}, and transmits on its own tx queues.
 *
 * Loop: poll every assigned rx queue once; every {@linkcode CHECK_EVERY}
 * iterations, check the stop flag, apply the flow updates waiting on the
 * update port (synchronously, `receiveMessageOnPort`: between bursts, so
 * the pipeline never sees a half-applied change), and post a report when
 * one is due. After many empty iterations it may nap on the control block's
 * wake word (`Atomics.wait`), which the control thread notifies with every
 * update. On stop: drain the rx queues, free every mbuf this thread holds,
 * post "stopped" and close. The control thread then stops the ports.
 *
 * Started only by pmd_thread.ts; its first message is a PmdStartMessage.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { type MessagePort as NodeMessagePort, receiveMessageOnPort } from "node:worker_threads";
import { newDropCounters } from "./drop_reason.ts";
import { registerThread } from "../ffi/eal.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { PmdPort } from "../ffi/pmd_port.ts";
import { setThreadAffinity } from "../ffi/thread_affinity.ts";
import { PacketBatch } from "./packet_batch.ts";
import {
  C_EMC_HIT,
  C_LOST,
  C_MEGAFLOW_HIT,
  C_MISSED,
  COUNTER_COUNT,
  Pipeline,
} from "./pipeline.ts";
import {
  CTL_REPORTS_FOLDED,
  CTL_STATE,
  CTL_STOP,
  CTL_WAKE,
  type PmdEvent,
  type PmdFlowMessage,
  type PmdStartMessage,
  PS_BATCHES,
  PS_BUSY_MS,
  PS_DRAINED,
  PS_EMC_HITS,
  PS_FLOW_UPDATES,
  PS_IDLE_MS,
  PS_ITERATIONS,
  PS_LOST,
  PS_MEGAFLOW_HITS,
  PS_MISSES,
  PS_PACKETS,
  REPORTS_IN_FLIGHT,
} from "./pmd_protocol.ts";
import { FlowReplica } from "./pmd_replica.ts";
import { PortTable } from "./port_table.ts";
import { TunnelPort } from "./tunnel_port.ts";
import { UpcallQueue } from "./upcall_queue.ts";

/** Iterations between checks of the stop flag, the update port and the report clock. */
export const CHECK_EVERY = 32;
/**
 * Shortest gap between two reports sent early for queued upcalls. An idle
 * datapath's first miss is reported at once; a miss storm adds at most one
 * report per ms (at 0.05 ms a storm of ~17,000 upcalls/s made ~15,000
 * reports/s, and RSS climbed 5.4 MiB/min in the soak).
 */
export const UPCALL_REPORT_MS = 1;

function post(event: PmdEvent): void {
  self.postMessage(event);
}

self.onmessage = (event: MessageEvent<PmdStartMessage>) => {
  const start = event.data;
  self.onmessage = null;
  try {
    run(start);
  } catch (error) {
    post({ op: "error", index: start.index, message: String((error as Error)?.stack ?? error) });
  }
  self.close();
};

function run(start: PmdStartMessage): void {
  const control = new Int32Array(start.control);
  const stats = new Float64Array(start.stats);
  const cpus = setThreadAffinity(start.cpus);
  registerThread();
  const pool = MbufPool.lookup(start.poolName);
  const replica = new FlowReplica(start.maxFlows);
  const upcalls = new UpcallQueue({
    depthPerPort: start.upcallDepth,
    enabled: start.upcallsEnabled,
  });
  const ports = new PortTable();
  const rx: PmdPort[] = [];
  for (const a of start.ports) {
    const port = new PmdPort(a.name, a.portNo, a.portId, pool, a.rxQueues, a.txQueue, a.tap);
    ports.add(port, a.portNo);
    rx.push(port);
  }
  for (const v of start.vports) {
    ports.add(new TunnelPort(v.name, v.type as "vxlan" | "geneve" | "gre", v.options), v.portNo);
  }
  const pipeline = new Pipeline(pool, replica.asFlowTable(), replica.programs, ports, upcalls, {
    emcEntries: start.emcEntries,
    touchedSlots: replica.touched,
  });
  const batch = new PacketBatch(pool);
  const reported = new Float64Array(COUNTER_COUNT);
  const reportedDrops = newDropCounters();
  let updateDelayMs = -1;

  const applyUpdates = (): void => {
    for (;;) {
      const got = receiveMessageOnPort(start.updates as unknown as NodeMessagePort);
      if (got === undefined) return;
      const message = got.message as PmdFlowMessage;
      if (message.op === "upcalls") upcalls.setEnabled(message.enabled);
      else replica.apply(message);
      stats[PS_FLOW_UPDATES]++;
      updateDelayMs = performance.timeOrigin + performance.now() - message.sentAt;
    }
  };
  let reportsPosted = 0;
  /**
   * Posts a report, unless REPORTS_IN_FLIGHT are still unfolded (then the
   * deltas wait for the next one; `final` always posts).
   */
  const report = (final = false): void => {
    const unfolded = (reportsPosted - Atomics.load(control, CTL_REPORTS_FOLDED)) | 0;
    if (!final && unfolded >= REPORTS_IN_FLIGHT) return;
    reportsPosted = (reportsPosted + 1) | 0;
    const c = pipeline.counters;
    const counters = new Float64Array(COUNTER_COUNT);
    for (let i = 0; i < COUNTER_COUNT; i++) {
      counters[i] = c[i] - reported[i];
      reported[i] = c[i];
    }
    const drops = new Float64Array(reportedDrops.length);
    for (let i = 0; i < drops.length; i++) {
      drops[i] = pipeline.drops[i] - reportedDrops[i];
      reportedDrops[i] = pipeline.drops[i];
    }
    stats[PS_EMC_HITS] = c[C_EMC_HIT];
    stats[PS_MEGAFLOW_HITS] = c[C_MEGAFLOW_HIT];
    stats[PS_MISSES] = c[C_MISSED];
    stats[PS_LOST] = c[C_LOST];
    // Upcalls go packed, their buffers transferred (upcall_queue.ts, UpcallBatch).
    const batch = upcalls.takeBatch();
    const event: PmdEvent = {
      op: "report",
      index: start.index,
      flows: replica.takeDeltas(),
      usedMs: Date.now(),
      counters,
      drops,
      upcalls: batch,
      ports: rx.map((p) => ({ portNo: p.portNo, counters: p.counters.slice() })),
      updateDelayMs,
    };
    const transfer = batch === null
      ? []
      : [batch.meta.buffer, batch.keys.buffer, batch.bytes.buffer];
    self.postMessage(event, transfer);
  };

  applyUpdates();
  Atomics.store(control, CTL_STATE, 1);
  post({ op: "ready", index: start.index, cpus });

  const rxCount = rx.length;
  const napAfter = start.idleIterationsBeforeNap;
  let emptyRun = 0;
  let iteration = 0;
  let last = performance.now();
  let nextReport = last + start.reportMs;
  let nextUpcallReport = last;
  for (;;) {
    let got = 0;
    for (let p = 0; p < rxCount; p++) {
      const port = rx[p];
      for (let q = 0; q < port.rxQueues; q++) {
        batch.count = 0;
        const n = port.receive(q, batch);
        if (n > 0) {
          got += n;
          stats[PS_BATCHES]++;
          pipeline.processBatch(batch);
        }
      }
    }
    const now = performance.now();
    if (got > 0) {
      stats[PS_PACKETS] += got;
      stats[PS_BUSY_MS] += now - last;
      emptyRun = 0;
    } else {
      stats[PS_IDLE_MS] += now - last;
      emptyRun++;
    }
    last = now;
    // Upcalls leave with the next report; waiting for the periodic one (10
    // ms) made miss-to-upcall p50 4.4 ms through a PMD. A report goes out
    // as soon as an upcall is queued, at most one per UPCALL_REPORT_MS.
    if (upcalls.size > 0 && now >= nextUpcallReport) {
      report();
      nextUpcallReport = now + UPCALL_REPORT_MS;
    }
    if (++iteration % CHECK_EVERY !== 0) continue;
    stats[PS_ITERATIONS] = iteration;
    if (Atomics.load(control, CTL_STOP) !== 0) break;
    applyUpdates();
    if (now >= nextReport) {
      report();
      nextReport = now + start.reportMs;
    }
    if (napAfter > 0 && emptyRun >= napAfter) {
      const wake = Atomics.load(control, CTL_WAKE);
      applyUpdates();
      if (Atomics.load(control, CTL_STOP) !== 0) break;
      Atomics.wait(control, CTL_WAKE, wake, start.napMs);
      const after = performance.now();
      stats[PS_IDLE_MS] += after - last;
      last = after;
    }
  }

  // Graceful stop: take the last updates, drain the rx queues, report, account.
  applyUpdates();
  let drained = 0;
  for (const port of rx) drained += port.close();
  stats[PS_DRAINED] = drained;
  report(true);
  Atomics.store(control, CTL_STATE, 2);
  post({ op: "stopped", index: start.index, drained });
}
