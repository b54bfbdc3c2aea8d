/**
 * The PMD thread: a Worker that polls its rx queues in bursts of 32, runs
 * each burst through its own {@linkcode Pipeline} over a
 * {@linkcode FlowReplica}, and transmits on its own tx queues.
 *
 * Loop: poll every assigned rx queue once; every {@linkcode CHECK_EVERY}
 * iterations, check the stop flag, apply the flow updates waiting on the
 * flow ring (pmd_flow_ring.ts, shared memory: between bursts, so the
 * pipeline never sees a half-applied change), and post a report when
 * one is due. After many empty iterations it may nap on the control block's
 * wake word (`Atomics.wait`), which the control thread notifies with every
 * update: in `shortNapUs` slices for the first `shortNapForMs` of
 * idleness, then `napMs` at a time. A nap is as long as a packet may wait
 * unseen, and each wake-up costs ~20 µs of CPU on the test VM, so on an
 * idle PMD: 1 ms naps cost 4.7 % of a CPU and delay a miss by up to 1 ms;
 * 50 µs slices ~24 % (100 µs: 15 %, 20 µs: 35 %, busy polling: 100 %).
 * Queued upcalls go to the control thread at once through a shared mailbox
 * (upcall_mailbox.ts), not only in reports. On stop: drain the rx queues, free every mbuf this thread holds,
 * post "stopped" and close. The control thread then stops the ports.
 *
 * Started only by pmd_thread.ts; its first message is a PmdStartMessage.
 *
 * @module
 */

/// <reference lib="deno.worker" />

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
  STOP_FAULT,
} from "./pmd_protocol.ts";
import { applyRingRecord, FlowReplica } from "./pmd_replica.ts";
import {
  FlowRingReader,
  isFlowChange,
  REC_LOADED,
  REC_NONE,
  REC_UPCALLS,
  wallClockUs,
} from "./pmd_flow_ring.ts";
import { PortTable } from "./port_table.ts";
import { TunnelPort } from "./tunnel_port.ts";
import { UpcallQueue } from "./upcall_queue.ts";
import { UpcallMailbox } from "./upcall_mailbox.ts";
import { setTimerSlackNs } from "../ffi/timer_slack.ts";

/** Iterations between checks of the stop flag, the update port and the report clock. */
export const CHECK_EVERY = 32;
/**
 * Shortest gap between two hand-overs of queued upcalls (a mailbox fill
 * plus an early report). An idle datapath's first miss goes at once; a miss
 * storm adds at most one of each per ms (at 0.05 ms a storm of ~17,000
 * upcalls/s made ~15,000 reports/s, and RSS climbed 5.4 MiB/min in the
 * soak).
 */
export const UPCALL_REPORT_MS = 1;
/**
 * Timer slack of a PMD that naps in short slices (ffi/timer_slack.ts):
 * with Linux's default 50 µs a 50 µs `Atomics.wait` lasted 125 µs.
 */
const SHORT_NAP_TIMER_SLACK_NS = 1000;

function post(event: PmdEvent): void {
  self.postMessage(event);
}

self.onmessage = (event: MessageEvent<PmdStartMessage>) => {
  const start = event.data;
  self.onmessage = null;
  try {
    run(start);
  } catch (error) {
    // Failed: flowsApplied stops waiting for this thread (it forwards nothing now).
    Atomics.store(new Int32Array(start.control), CTL_STATE, 3);
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
  const mailbox = start.upcallMailbox === undefined ? null : new UpcallMailbox(start.upcallMailbox);
  const reported = new Float64Array(COUNTER_COUNT);
  const reportedDrops = newDropCounters();
  let updateDelayMs = -1;
  const ring = new FlowRingReader(start.ring);
  /** Whether the initial load's end (LOADED) has been applied. */
  let loaded = false;

  /**
   * Applies the records the control thread had published when it started
   * (not those it writes meanwhile: a full ring's worth at most, so a
   * producer that keeps writing cannot hold the PMD away from its queues).
   */
  const applyUpdates = (): void => {
    ring.begin();
    for (let type = ring.next(); type !== REC_NONE; type = ring.next()) {
      if (type === REC_UPCALLS) upcalls.setEnabled(ring.enabled);
      else if (type === REC_LOADED) loaded = true;
      else applyRingRecord(replica, ring, type);
      if (isFlowChange(type)) {
        stats[PS_FLOW_UPDATES]++;
        updateDelayMs = ((wallClockUs() - ring.sentUs) >>> 0) / 1000;
      }
      ring.done();
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
    // Upcalls go packed, their buffers transferred (upcall_queue.ts,
    // UpcallBatch). With a mailbox, only the final report carries them: the
    // control thread may drain a newer mailbox fill before it folds this
    // report, which would put newer upcalls ahead of older ones.
    const batch = final || mailbox === null ? upcalls.takeBatch() : null;
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

  // The flows present at start arrive through the ring as the control
  // thread refills it: apply until their end marker (or a stop) before
  // reporting ready, napping on the wake word the control thread bumps
  // after every write.
  for (;;) {
    const wake = Atomics.load(control, CTL_WAKE);
    applyUpdates();
    if (loaded || Atomics.load(control, CTL_STOP) !== 0) break;
    if (!ring.waiting) Atomics.wait(control, CTL_WAKE, wake, 1);
  }
  Atomics.store(control, CTL_STATE, 1);
  post({ op: "ready", index: start.index, cpus });

  const rxCount = rx.length;
  const napAfter = start.idleIterationsBeforeNap > 0 ? start.idleIterationsBeforeNap : Infinity;
  // Naps: `shortNapUs` slices while idle for less than `shortNapForMs`, then
  // `napMs` (see the module doc for why and what each costs).
  const shortNapMs = (start.shortNapUs ?? 0) / 1000;
  const shortNapForMs = shortNapMs > 0 ? start.shortNapForMs ?? Infinity : 0;
  if (shortNapMs > 0 && napAfter < Infinity) setTimerSlackNs(SHORT_NAP_TIMER_SLACK_NS);
  let lastPacketAt = performance.now();
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
      lastPacketAt = now;
    } else {
      stats[PS_IDLE_MS] += now - last;
      emptyRun++;
    }
    last = now;
    // Upcalls leave as soon as one is queued, at most once per
    // UPCALL_REPORT_MS: into the shared mailbox, whose notify wakes the
    // control thread's Atomics.waitAsync (postMessage alone took 190-250 µs
    // p50, 1.3 ms p99 to arrive), then an early report carries the counters;
    // upcalls that did not fit wait for the next fill (the mailbox holds
    // 1,024). Waiting for the periodic report (10 ms) made p50 4.4 ms.
    if (upcalls.size > 0 && now >= nextUpcallReport) {
      mailbox?.fill(upcalls);
      report();
      nextUpcallReport = now + UPCALL_REPORT_MS;
    }
    // Once napping, every iteration naps (and checks), not every CHECK_EVERY-th.
    if (++iteration % CHECK_EVERY !== 0 && emptyRun < napAfter) continue;
    stats[PS_ITERATIONS] = iteration;
    const stop = Atomics.load(control, CTL_STOP);
    if (stop === STOP_FAULT) throw new Error("PMD fault injected (PmdSet.injectFault)");
    if (stop !== 0) break;
    applyUpdates();
    if (now >= nextReport) {
      report();
      nextReport = now + start.reportMs;
    }
    if (emptyRun >= napAfter) {
      const wake = Atomics.load(control, CTL_WAKE);
      applyUpdates();
      if (Atomics.load(control, CTL_STOP) !== 0) break;
      const napMs = now - lastPacketAt < shortNapForMs ? shortNapMs : start.napMs;
      Atomics.wait(control, CTL_WAKE, wake, napMs);
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
