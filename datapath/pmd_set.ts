/**
 * The control side of a datapath's PMD threads: starts the Workers, gives
 * each a share of the DPDK ports' rx queues and its own tx queue per port,
 * keeps their flow replicas in step, folds their reports into the
 * datapath's stats and upcall queue, and stops them gracefully.
 *
 * Flow changes: {@linkcode Datapath.onFlowChange} fires after every put,
 * delete and flush; each becomes binary records on every PMD's flow ring
 * (pmd_flow_ring.ts, a shared-memory single-producer single-consumer ring,
 * fed by pmd_flow_feed.ts: puts carry the flow table's interned action id,
 * each action list crosses once per PMD), followed by an `Atomics.notify`
 * on the PMD's wake word. A PMD applies waiting records between bursts
 * (every CHECK_EVERY iterations), never in the middle of one, so the
 * pipeline sees each change whole. When a ring is full, changes wait in
 * order in that PMD's overflow queue (nothing is dropped, nothing blocks).
 * The flows present at start go through the same ring before the PMD
 * reports ready. {@linkcode PmdSet.lastUpdateDelayMs} reports the latest
 * send-to-applied delay.
 *
 * Why a ring: it replaced one structured-clone `postMessage` per change per
 * PMD (an object with a 64-word key and mask and the actions as REST JSON,
 * which the replica stringified again per put to share programs), and a
 * start that posted every existing flow that way. Measured 2026-11-23 on
 * the 2-vCPU EPYC, shared with other work (load average 4 to 7, so CPU
 * time is the figure to trust), medians of 3 alternated runs before/after:
 *
 * | what (how) | before | ring |
 * |---|---|---|
 * | churn: control-thread CPU per 1,000 ops (500 deletes, 500 puts each with a fresh `set(eth),output` list; operate + PMD feed, one process) | 22.7 ms | 12.0 ms (operate alone ~10) |
 * | churn: PMD-side apply CPU per 1,000 such ops | 19.7 ms | 3.6 ms |
 * | tools/flow_churn.ts --rate 100000 --seconds 10: puts + deletes per control-thread CPU second (violations 0) | 22,200 | 34,100 |
 * | same: achieved ops/s (wall, machine loaded) / mean wait for the PMD acknowledgement per batch | 4,300 / 49 ms | 7,200 / 21 ms |
 * | bench/flow_install_bench.ts 100000 (REST, PMD acknowledged): installs/s (wall) | 17,600 | 54,700 |
 * | same: installs per CPU second of the service's main thread | 73,500 | 175,000 |
 * | tools/pmd_start.ts 1000000: PMD start, wall / process CPU | 72.5 s / 40.3 s | 4.0 s / 2.0 s |
 * | same: process RSS per flow with the PMD running (control tables alone ~240 B) | 2,801 B | 385 B |
 * | bench/matrix_bench.ts --case="curve: 1M flows": memory row, B/flow after the run (1 run) | 2,745 | 377 |
 *
 * After the ring, the churn rate was bound by the control thread's own
 * work (operate ~10 µs per op, the tool's dump-and-parse check ~5 µs per
 * op), not by the hand-over to the PMD; cheaper action text and UFIDs
 * later took it to ~100,000 ops per control-thread CPU second (figures in
 * tools/flow_churn.ts). {@linkcode flowsApplied} waits on the ring's
 * applied word (`Atomics.waitAsync`, notified by the PMD after each run of
 * changes) rather than polling with `setTimeout(0)`.
 *
 * Stats: a PMD reports every `reportMs` the per-flow deltas (tagged with the
 * slot's generation, so deltas for a flow deleted meanwhile are dropped,
 * not credited to a newer flow in the same slot), pipeline and drop counter
 * deltas (added to the datapath's), and the upcalls it queued (re-queued on
 * the datapath's {@linkcode UpcallQueue}). Upcalls mostly come sooner,
 * through the PMD's shared mailbox (upcall_mailbox.ts): an
 * `Atomics.waitAsync` on it drains them as soon as the PMD fills it, and
 * each report's fold drains it too, before the report's own upcalls. Its
 * per-port counters (received, sent, tx drops and errors, chained mbufs
 * dropped) are folded into each
 * {@linkcode DpdkPort} as deltas, so `Datapath.portStats` shows every
 * thread's packets beside the device's counters; its classifier's
 * n_mask_hit goes into the control classifier's running total, which is
 * what the datapath's n_mask_hit reads. Packets a PMD counted for a flow
 * in the last report period before its deletion are not in the deleted
 * flow's final stats.
 *
 * Limits: only `dpdk` and tunnel ports exist inside a PMD; output to a
 * dummy or internal port from a PMD is a counted drop (invalid port).
 * While PMDs run, the control thread still transmits on tx queue 0 of a
 * DPDK port (Datapath.execute); polling PMDs use queues 1.. when the port
 * has one more than there are polling PMDs, and 0.. otherwise (then the
 * first PMD shares queue 0 with packet-out, which is only safe while nothing
 * executes packets to that port). Fewer tx queues than polling PMDs: EINVAL.
 *
 * @module
 */

import type { Datapath } from "./datapath.ts";
import { DpifError } from "./errors.ts";
import { C_MASK_HIT, DEFAULT_EMC_ENTRIES } from "./pipeline.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import {
  PP_COUNTER_COUNT,
  PP_RX_BYTES,
  PP_RX_ERRORS,
  PP_RX_PACKETS,
  PP_TX_BYTES,
  PP_TX_DROPPED,
  PP_TX_ERRORS,
  PP_TX_PACKETS,
} from "../ffi/pmd_port.ts";
import { emptyPortStats, type PortStats } from "./port.ts";
import {
  CTL_REPORTS_FOLDED,
  CTL_STATE,
  CTL_STOP,
  CTL_WAKE,
  CTL_WORDS,
  type PmdEvent,
  type PmdQueueAssignment,
  type PmdReport,
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
  PS_WORDS,
  STOP_FAULT,
} from "./pmd_protocol.ts";
import { DELTA_STRIDE } from "./pmd_replica.ts";
import { createFlowRing } from "./pmd_flow_ring.ts";
import { PmdFlowFeed } from "./pmd_flow_feed.ts";
import { UpcallMailbox } from "./upcall_mailbox.ts";

/** Options of {@linkcode PmdSet.start}. */
export interface PmdSetOptions {
  /** Number of PMD threads. Default 1. */
  threads?: number;
  /** CPUs per thread (index i for PMD i); missing or empty: every CPU. */
  cpus?: number[][];
  /** Empty iterations before a PMD naps; 0 never naps (pure busy poll). Default 0. */
  idleIterationsBeforeNap?: number;
  /** Nap length in ms (any update wakes it). Default 1. */
  napMs?: number;
  /**
   * Nap length in µs while idle for less than `shortNapForMs`, so an idle
   * PMD notices a packet within tens of µs; 0 (default): naps are `napMs`.
   */
  shortNapUs?: number;
  /** ms of idleness after which naps grow from `shortNapUs` to `napMs`. Default Infinity. */
  shortNapForMs?: number;
  /** Report period in ms. Default 10. */
  reportMs?: number;
  /** EMC entries per PMD; 0 turns it off. Default DEFAULT_EMC_ENTRIES (off). */
  emcEntries?: number;
  /**
   * ms to wait for a Worker to stop, or to start while its initial load
   * makes no progress. Default 5000.
   */
  timeoutMs?: number;
  /**
   * Data words of each PMD's flow ring (a power of two, at least 1024).
   * Default DEFAULT_RING_WORDS (1 MiB).
   */
  ringWords?: number;
}

/** One PMD thread's statistics (pmd-stats-show). */
export interface PmdStats {
  index: number;
  cpus: number[];
  /** Rx queues as "port:queue". */
  rx_queues: string[];
  packets: number;
  batches: number;
  /** Mean packets per non-empty burst. */
  avg_batch: number;
  emc_hits: number;
  megaflow_hits: number;
  misses: number;
  lost: number;
  flow_updates: number;
  iterations: number;
  busy_ms: number;
  idle_ms: number;
  /** busy_ms / (busy_ms + idle_ms), 0..1. */
  busy_ratio: number;
  /** Busy time per packet in ns. */
  ns_per_packet: number;
  /** Per port this PMD serves: packets received and sent, tx drops. */
  ports: { port_no: number; rx_packets: number; tx_packets: number; tx_dropped: number }[];
  /**
   * Why the thread failed (the first line of what it threw), or null while
   * it runs or after a graceful stop. A failed PMD polls nothing: its rx
   * queues go unread until the PMDs are restarted (PUT .../pmd).
   */
  error: string | null;
}

interface PmdHandle {
  index: number;
  worker: Worker;
  control: Int32Array;
  stats: Float64Array;
  /** Writes this PMD's flow ring. */
  feed: PmdFlowFeed;
  assignments: PmdQueueAssignment[];
  cpus: number[];
  /** Latest cumulative PP_* counters per port number (from the last report). */
  ports: Map<number, Float64Array>;
  stopped: PromiseWithResolvers<number>;
  ready: PromiseWithResolvers<number[]>;
  /** Where the PMD hands its upcalls over (upcall_mailbox.ts). */
  mailbox: UpcallMailbox;
  /** Stops watching the mailbox. */
  unwatch?: () => void;
  /** What the thread threw, once it failed. */
  error: string | null;
}

/**
 * Longest wait in {@linkcode PmdSet.flowsApplied} between two looks at a
 * PMD's progress when no notify comes. Waiting on the ring's applied word
 * instead of polling with `setTimeout(0)`: see the module doc for the figures.
 */
const APPLIED_WAIT_MS = 2;

/** The PMD threads of one datapath. */
export class PmdSet {
  /** The datapath they serve. */
  readonly datapath: Datapath;
  readonly #pmds: PmdHandle[];
  readonly #unsubscribe: () => void;
  readonly #polled: number[];
  /** The DPDK ports the PMDs serve, by port number: their per-port counts are folded into them. */
  readonly #dpdkPorts: Map<number, DpdkPort>;
  /** Scratch for one port's counter deltas while folding a report. */
  readonly #portDelta: PortStats = emptyPortStats();
  readonly #timeoutMs: number;
  #upcallsEnabled: boolean;
  #lastDelayMs = -1;
  #stopping: Promise<void> | undefined;

  private constructor(
    datapath: Datapath,
    pmds: PmdHandle[],
    dpdkPorts: DpdkPort[],
    timeoutMs: number,
  ) {
    this.datapath = datapath;
    this.#pmds = pmds;
    this.#dpdkPorts = new Map(dpdkPorts.map((p) => [p.portNo, p]));
    this.#polled = dpdkPorts.map((p) => p.portNo);
    this.#timeoutMs = timeoutMs;
    this.#upcallsEnabled = datapath.upcalls.enabled;
    this.#unsubscribe = datapath.onFlowChange((change) => {
      if (change.op === "upcalls") this.#upcallsEnabled = change.enabled;
      for (const pmd of pmds) pmd.feed.change(change);
    });
  }

  /**
   * Starts the PMD threads for every `dpdk` port of `datapath` and waits
   * until each polls. From then on `datapath.poll()` leaves those ports
   * alone. Throws a DpifError: EOPNOTSUPP when the datapath's pool is not an
   * MbufPool, EINVAL when a port has fewer tx queues than polling threads, ENODEV when a Worker fails to start (the others are stopped).
   */
  static async start(datapath: Datapath, options: PmdSetOptions = {}): Promise<PmdSet> {
    const pool = datapath.pool;
    if (!(pool instanceof MbufPool)) {
      throw new DpifError("EOPNOTSUPP", `datapath ${datapath.name}: PMD threads need an MbufPool`);
    }
    const threads = options.threads ?? 1;
    if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64)) {
      throw new RangeError(`PMD threads must be 1..64, got ${threads}`);
    }
    const dpdkPorts = datapath.ports.dump().filter((p): p is DpdkPort => p instanceof DpdkPort);
    const vports = datapath.ports.dump()
      .filter((p) => p.type === "vxlan" || p.type === "geneve" || p.type === "gre")
      .map((p) => ({ name: p.name, type: p.type, portNo: p.portNo, options: { ...p.options } }));
    // Rx queues round-robin over the threads; then a tx queue of its own on every
    // port for each thread that polls something (only those ever transmit).
    const rxOf: number[][][] = dpdkPorts.map(() => Array.from({ length: threads }, () => []));
    let next = 0;
    dpdkPorts.forEach((port, p) => {
      for (let q = 0; q < port.rxQueues; q++) rxOf[p][next++ % threads].push(q);
    });
    const active: number[] = [];
    for (let i = 0; i < threads; i++) {
      if (rxOf.some((perPmd) => perPmd[i].length > 0)) active.push(i);
    }
    const assignments: PmdQueueAssignment[][] = Array.from({ length: threads }, () => []);
    dpdkPorts.forEach((port, p) => {
      if (port.txQueues < active.length) {
        throw new DpifError(
          "EINVAL",
          `port ${port.name} has ${port.txQueues} tx queues; ${active.length} polling PMD ` +
            "threads need one each (set n_txq)",
        );
      }
      // With a spare queue, queue 0 stays the control thread's (packet-out).
      const base = port.txQueues > active.length ? 1 : 0;
      for (let i = 0; i < threads; i++) {
        const rank = active.indexOf(i);
        assignments[i].push({
          portNo: port.portNo,
          name: port.name,
          portId: port.portId,
          rxQueues: rxOf[p][i],
          txQueue: rank < 0 ? 0 : base + rank,
          tap: port.tap.buffer,
        });
      }
    });
    const pmds: PmdHandle[] = [];
    for (let i = 0; i < threads; i++) {
      const control = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
      const ring = createFlowRing(options.ringWords);
      // The feed streams the flows the table holds now first (then LOADED); the
      // PmdSet subscribes to changes below, with no await in between.
      const feed = new PmdFlowFeed(ring, datapath.flows, () => wakeWord(control));
      const handle: PmdHandle = {
        index: i,
        worker: new Worker(new URL("./pmd_worker.ts", import.meta.url), { type: "module" }),
        control,
        stats: new Float64Array(new SharedArrayBuffer(PS_WORDS * 8)),
        feed,
        assignments: assignments[i],
        cpus: [],
        ports: new Map(),
        stopped: Promise.withResolvers<number>(),
        ready: Promise.withResolvers<number[]>(),
        mailbox: UpcallMailbox.create(),
        error: null,
      };
      pmds.push(handle);
      const start: PmdStartMessage = {
        op: "start",
        index: i,
        poolName: pool.name,
        maxFlows: datapath.flows.maxFlows,
        emcEntries: options.emcEntries ?? DEFAULT_EMC_ENTRIES,
        upcallDepth: 256,
        upcallsEnabled: datapath.upcalls.enabled,
        ports: assignments[i],
        vports,
        control: handle.control.buffer as SharedArrayBuffer,
        stats: handle.stats.buffer as SharedArrayBuffer,
        ring,
        cpus: options.cpus?.[i] ?? [],
        idleIterationsBeforeNap: options.idleIterationsBeforeNap ?? 0,
        napMs: options.napMs ?? 1,
        shortNapUs: options.shortNapUs ?? 0,
        shortNapForMs: options.shortNapForMs ?? Infinity,
        upcallMailbox: handle.mailbox.buffer,
        reportMs: options.reportMs ?? 10,
      };
      handle.worker.postMessage(start);
    }
    const set = new PmdSet(datapath, pmds, dpdkPorts, options.timeoutMs ?? 5000);
    for (const pmd of pmds) {
      pmd.worker.onmessage = (event: MessageEvent<PmdEvent>) => set.#onEvent(pmd, event.data);
      pmd.worker.onerror = (event) => {
        event.preventDefault();
        set.#onEvent(pmd, { op: "error", index: pmd.index, message: String(event.message) });
      };
      pmd.unwatch = pmd.mailbox.watch(() => set.#drainUpcalls(pmd));
    }
    for (const portNo of set.#polled) datapath.setPolledElsewhere(portNo, true);
    try {
      for (const pmd of pmds) pmd.cpus = await set.#whenReady(pmd);
    } catch (error) {
      await set.stop();
      throw new DpifError("ENODEV", `PMD threads did not start: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return set;
  }

  /**
   * A PMD's ready (its CPUs). The timeout runs only while its initial load
   * makes no progress, so a large table is not a failed start: a million
   * flows take a few seconds to load.
   */
  async #whenReady(pmd: PmdHandle): Promise<number[]> {
    for (;;) {
      const consumed = pmd.feed.consumed;
      try {
        return await withTimeout(pmd.ready.promise, this.#timeoutMs);
      } catch (error) {
        if (pmd.feed.consumed === consumed) throw error;
      }
    }
  }

  /**
   * Fault injection: makes PMD `index` throw at its next check, as a crash
   * inside it would (tests of what a failed PMD looks like: `error` in
   * {@linkcode stats}, flow changes not waiting for it). RangeError for a
   * bad index.
   */
  injectFault(index: number): void {
    const pmd = this.#pmds[index];
    if (pmd === undefined) throw new RangeError(`no PMD ${index}`);
    Atomics.store(pmd.control, CTL_STOP, STOP_FAULT);
    wakeWord(pmd.control);
  }

  /** Number of PMD threads. */
  get threads(): number {
    return this.#pmds.length;
  }

  /** The latest delay from a flow change to a PMD applying it, in ms (-1 before any). */
  get lastUpdateDelayMs(): number {
    return this.#lastDelayMs;
  }

  /**
   * Resolves once every PMD has applied every flow change sent to it before
   * this call (the acknowledgement of puts, deletes and flushes:
   * Datapath.deleteFlow returns before the PMDs apply it). After it, no PMD
   * forwards a packet by a flow deleted before the call, and every packet a
   * PMD forwarded by it is already on its tx queue. A PMD applies changes
   * between bursts, within CHECK_EVERY (32) poll iterations or at once when
   * napping. A stopped PMD counts as done. Changes still waiting for room
   * in a PMD's ring are moved in while this waits. Compares sequence
   * numbers: the changes fed to each PMD's ring against those it published
   * as applied in the ring's header.
   * @throws {DpifError} ENODEV when a PMD has not caught up within `timeoutMs`.
   */
  async flowsApplied(timeoutMs: number = this.#timeoutMs): Promise<void> {
    const targets = this.#pmds.map((pmd) => pmd.feed.sent);
    /** The first PMD still behind (moving its waiting changes into its ring), or undefined. */
    const laggard = () =>
      this.#pmds.find((pmd, i) => {
        if (pmd.feed.hasApplied(targets[i])) return false;
        if (Atomics.load(pmd.control, CTL_STATE) >= 2) return false; // stopped or failed
        pmd.feed.pump();
        return true;
      });
    const deadline = performance.now() + timeoutMs;
    // A busy PMD catches up within tens of microseconds: spin briefly before yielding.
    const spinUntil = performance.now() + 0.2;
    while (laggard() !== undefined && performance.now() < spinUntil) { /* spin */ }
    for (let pmd = laggard(); pmd !== undefined; pmd = laggard()) {
      if (performance.now() > deadline) {
        throw new DpifError(
          "ENODEV",
          `PMD threads did not apply flow changes in ${timeoutMs} ms`,
        );
      }
      // The PMD notifies the ring's applied word after each run of changes; the
      // timer bounds the wait and keeps Deno's event loop alive, which a pending
      // Atomics.waitAsync alone does not.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        pmd.feed.appliedChange(APPLIED_WAIT_MS),
        new Promise((resolve) => timer = setTimeout(resolve, APPLIED_WAIT_MS)),
      ]);
      clearTimeout(timer);
    }
  }

  /** Statistics of every PMD thread. */
  stats(): PmdStats[] {
    return this.#pmds.map((pmd) => {
      const s = pmd.stats;
      const busy = s[PS_BUSY_MS];
      const idle = s[PS_IDLE_MS];
      return {
        index: pmd.index,
        cpus: pmd.cpus,
        rx_queues: pmd.assignments.flatMap((a) => a.rxQueues.map((q) => `${a.name}:${q}`)),
        packets: s[PS_PACKETS],
        batches: s[PS_BATCHES],
        avg_batch: s[PS_BATCHES] > 0 ? s[PS_PACKETS] / s[PS_BATCHES] : 0,
        emc_hits: s[PS_EMC_HITS],
        megaflow_hits: s[PS_MEGAFLOW_HITS],
        misses: s[PS_MISSES],
        lost: s[PS_LOST],
        error: pmd.error,
        flow_updates: s[PS_FLOW_UPDATES],
        iterations: s[PS_ITERATIONS],
        busy_ms: busy,
        idle_ms: idle,
        busy_ratio: busy + idle > 0 ? busy / (busy + idle) : 0,
        ns_per_packet: s[PS_PACKETS] > 0 ? (busy * 1e6) / s[PS_PACKETS] : 0,
        ports: [...pmd.ports].map(([portNo, c]) => ({
          port_no: portNo,
          rx_packets: c[PP_RX_PACKETS],
          tx_packets: c[PP_TX_PACKETS],
          tx_dropped: c[PP_TX_DROPPED],
        })),
      };
    });
  }

  /**
   * Stops every PMD: sets the stop flag, waits for each to drain its rx
   * queues, free what it holds and post its last report; then gives the
   * ports back to `datapath.poll()`. The ports stay open (Datapath.close
   * stops and closes them). Idempotent; a PMD that does not answer within
   * the timeout is terminated.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const pmd of this.#pmds) {
        Atomics.store(pmd.control, CTL_STOP, 1);
        wakeWord(pmd.control);
      }
      for (const pmd of this.#pmds) {
        try {
          await withTimeout(pmd.stopped.promise, this.#timeoutMs);
        } catch { /* terminated below */ }
        pmd.worker.terminate();
        pmd.feed.close();
        pmd.unwatch?.();
        this.#drainUpcalls(pmd);
      }
      this.#unsubscribe();
      for (const portNo of this.#polled) this.datapath.setPolledElsewhere(portNo, false);
    })();
    return this.#stopping;
  }

  #onEvent(pmd: PmdHandle, event: PmdEvent): void {
    switch (event.op) {
      case "ready":
        pmd.ready.resolve(event.cpus);
        return;
      case "report":
        this.#fold(pmd, event);
        return;
      case "stopped":
        pmd.stats[PS_DRAINED] = event.drained;
        pmd.feed.close();
        pmd.stopped.resolve(event.drained);
        return;
      case "error":
        pmd.error = event.message.split("\n")[0];
        pmd.feed.close(); // nothing reads its ring any more
        pmd.ready.reject(new Error(event.message));
        pmd.stopped.resolve(0);
        return;
    }
  }

  #fold(pmd: PmdHandle, report: PmdReport): void {
    const dp = this.datapath;
    const flows = dp.flows;
    const d = report.flows;
    for (let i = 0; i + DELTA_STRIDE <= d.length; i += DELTA_STRIDE) {
      const slot = d[i];
      if (!flows.isLive(slot) || flows.generation[slot] !== d[i + 1]) continue;
      flows.addStats(slot, d[i + 2], d[i + 3], d[i + 4], report.usedMs);
    }
    const counters = dp.pipeline.counters;
    for (let i = 0; i < report.counters.length; i++) {
      if (i !== C_MASK_HIT) counters[i] += report.counters[i];
    }
    // The control pipeline sets n_mask_hit from its classifier's running total
    // (pipeline.ts), so the PMDs' share goes into that total, not only the counter.
    const megaflow = dp.flows.megaflow;
    megaflow.maskHits += report.counters[C_MASK_HIT] ?? 0;
    counters[C_MASK_HIT] = megaflow.maskHits;
    const drops = dp.pipeline.drops;
    for (let i = 0; i < report.drops.length && i < drops.length; i++) drops[i] += report.drops[i];
    // The mailbox holds older upcalls than the report (filled first).
    this.#drainUpcalls(pmd);
    if (report.upcalls !== null) dp.upcalls.enqueueBatch(report.upcalls);
    for (const p of report.ports) {
      if (p.counters.length !== PP_COUNTER_COUNT) continue;
      this.#foldPortCounts(p.portNo, pmd.ports.get(p.portNo), p.counters);
      pmd.ports.set(p.portNo, p.counters);
    }
    if (report.updateDelayMs >= 0) this.#lastDelayMs = report.updateDelayMs;
    Atomics.add(pmd.control, CTL_REPORTS_FOLDED, 1); // lets the PMD post its next report
    if (dp.upcalls.enabled !== this.#upcallsEnabled) {
      // Switched behind the Datapath's back (dp.upcalls.setEnabled): catch up.
      this.#upcallsEnabled = dp.upcalls.enabled;
      for (const p of this.#pmds) p.feed.upcalls(this.#upcallsEnabled);
    }
  }

  /**
   * Queues the upcalls waiting in a PMD's mailbox on the datapath's queue,
   * waking its readers (the REST long poll and SSE); the mailbox's
   * `Atomics.waitAsync` calls it as soon as the PMD fills it.
   */
  #drainUpcalls(pmd: PmdHandle): void {
    pmd.mailbox.drainInto(this.datapath.upcalls);
  }

  /** Adds what a PMD counted on a port since its previous report to that DpdkPort. */
  #foldPortCounts(portNo: number, previous: Float64Array | undefined, now: Float64Array): void {
    const port = this.#dpdkPorts.get(portNo);
    if (port === undefined) return;
    const was = (i: number) => previous === undefined ? 0 : previous[i];
    const d = this.#portDelta;
    d.rx_packets = now[PP_RX_PACKETS] - was(PP_RX_PACKETS);
    d.rx_bytes = now[PP_RX_BYTES] - was(PP_RX_BYTES);
    d.rx_errors = now[PP_RX_ERRORS] - was(PP_RX_ERRORS);
    d.rx_oversize = d.rx_errors; // a PMD's only rx error is a chained mbuf
    d.tx_packets = now[PP_TX_PACKETS] - was(PP_TX_PACKETS);
    d.tx_bytes = now[PP_TX_BYTES] - was(PP_TX_BYTES);
    d.tx_dropped = now[PP_TX_DROPPED] - was(PP_TX_DROPPED);
    d.tx_errors = now[PP_TX_ERRORS] - was(PP_TX_ERRORS);
    port.addThreadCounts(d);
  }
}

/** Bumps a PMD's wake word and wakes it if it naps. */
function wakeWord(control: Int32Array): void {
  Atomics.add(control, CTL_WAKE, 1);
  Atomics.notify(control, CTL_WAKE);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
