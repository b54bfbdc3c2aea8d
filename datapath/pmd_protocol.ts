/**
 * What the control thread and its PMD Workers say to each other, and the
 * layout of the shared memory between them.
 *
 * Control -> PMD: the start message, then flow changes (puts, deletes,
 * flushes, the upcall switch, action lists by id, the initial load) as
 * binary records on a shared-memory ring the PMD drains between bursts
 * (pmd_flow_ring.ts; written by pmd_flow_feed.ts). PMD -> control, posted
 * from the Worker: ready, periodic reports (per-flow stat deltas tagged
 * with the slot's generation, counter deltas, upcalls), stopped, error.
 *
 * The control block (an Int32Array over a SharedArrayBuffer) carries the
 * stop flag and a wake word the control thread notifies after each write to
 * the ring, so a PMD napping on an idle queue picks a flow update up at once. PMD
 * statistics live in a Float64Array over another SharedArrayBuffer, which
 * the control thread reads at any time without a message.
 *
 * @module
 */

import type { UpcallBatch } from "./upcall_queue.ts";

/**
 * Control block word: non-zero asks the PMD to stop; {@linkcode STOP_FAULT}
 * asks it to fail instead (fault injection: PmdSet.injectFault).
 */
export const CTL_STOP = 0;
/** The CTL_STOP value that makes a PMD throw where it would stop, as a crash would. */
export const STOP_FAULT = 2;
/** Control block word the PMD waits on while idle; the control thread bumps and notifies it. */
export const CTL_WAKE = 1;
/** Control block word: 0 starting, 1 polling, 2 stopped, 3 failed (the thread threw). */
export const CTL_STATE = 2;
/**
 * Control block word: reports the control thread has folded (it adds 1 per
 * report; wraps as an Int32). A PMD posts a report only while fewer than
 * {@linkcode REPORTS_IN_FLIGHT} are unfolded, so a busy control thread
 * cannot make reports pile up in its message queue (memory grew by tens of
 * MiB when it fell behind); skipped deltas and counters go in the next one.
 */
export const CTL_REPORTS_FOLDED = 3;
/** Words in the control block. */
export const CTL_WORDS = 4;
/** Reports a PMD may have posted and not yet seen folded (see CTL_REPORTS_FOLDED). */
export const REPORTS_IN_FLIGHT = 4;

/** PMD statistics words (Float64Array over a SharedArrayBuffer). */
export const PS_PACKETS = 0;
/** Non-empty rx bursts processed. */
export const PS_BATCHES = 1;
/** Milliseconds spent on iterations that received packets. */
export const PS_BUSY_MS = 2;
/** Milliseconds spent on empty iterations (and naps). */
export const PS_IDLE_MS = 3;
/** Exact-match cache hits. */
export const PS_EMC_HITS = 4;
/** Megaflow classifier hits. */
export const PS_MEGAFLOW_HITS = 5;
/** Misses (upcalls queued or lost). */
export const PS_MISSES = 6;
/** Upcalls lost. */
export const PS_LOST = 7;
/** Flow changes applied (puts of the initial load included; action list records not). */
export const PS_FLOW_UPDATES = 8;
/** Poll-loop iterations. */
export const PS_ITERATIONS = 9;
/** Mbufs freed from the rx queues when stopping. */
export const PS_DRAINED = 10;
/** Number of PMD statistics words. */
export const PS_WORDS = 11;

/** One rx queue (or tx queue) of a started ethdev, given to one PMD. */
export interface PmdQueueAssignment {
  /** Datapath port number. */
  portNo: number;
  /** Port name (for logs and stats). */
  name: string;
  /** ethdev port id. */
  portId: number;
  /** Rx queues this PMD polls. */
  rxQueues: number[];
  /** Tx queue this PMD alone sends on. */
  txQueue: number;
  /** The port's capture tap (FrameTap buffer), shared with the control thread. */
  tap?: SharedArrayBuffer;
}

/** The first message to a PMD Worker. */
export interface PmdStartMessage {
  op: "start";
  /** PMD index, for names and logs. */
  index: number;
  /** Name of the mbuf pool (the Worker looks it up). */
  poolName: string;
  /** Flow slots the replica reserves (the control table's maxFlows). */
  maxFlows: number;
  /** EMC entries (0 disables). */
  emcEntries: number;
  /** Upcalls queued per input port inside the PMD between reports. */
  upcallDepth: number;
  /** Whether misses are queued as upcalls. */
  upcallsEnabled: boolean;
  /** DPDK ports with the queues this PMD owns. */
  ports: PmdQueueAssignment[];
  /** Tunnel ports of the datapath (pure vports) to mirror: name, type, options, port number. */
  vports: { name: string; type: string; portNo: number; options: Record<string, string> }[];
  /** Control block (CTL_* words). */
  control: SharedArrayBuffer;
  /** Statistics (PS_* words). */
  stats: SharedArrayBuffer;
  /** The flow ring (pmd_flow_ring.ts createFlowRing): flow updates and the initial load. */
  ring: SharedArrayBuffer;
  /** CPUs the Worker may run on (empty: every CPU). EAL pinned its creator; this resets it. */
  cpus: number[];
  /** Empty iterations before napping; 0 never naps (pure busy polling). */
  idleIterationsBeforeNap: number;
  /** Nap length in ms (woken early by any update). */
  napMs: number;
  /**
   * Nap length in µs while the PMD has been idle for less than
   * `shortNapForMs` (then `napMs`); 0 or absent: always `napMs`.
   */
  shortNapUs?: number;
  /** How long (ms of idleness) naps stay `shortNapUs` long; Infinity: always. */
  shortNapForMs?: number;
  /** The PMD's upcall mailbox (upcall_mailbox.ts); absent: upcalls go in reports only. */
  upcallMailbox?: SharedArrayBuffer;
  /** Report period in ms. */
  reportMs: number;
}

/** A periodic report from a PMD: deltas since its previous report. */
export interface PmdReport {
  op: "report";
  index: number;
  /** Per flow, 5 numbers: slot, generation, packets, bytes, tcpFlags. */
  flows: Float64Array;
  /** When the flows in `flows` were last used (ms since the epoch). */
  usedMs: number;
  /** Pipeline counter deltas (index = C_* of pipeline.ts). */
  counters: Float64Array;
  /** Drop counter deltas (index = DROP_*). */
  drops: Float64Array;
  /** Upcalls the PMD queued since the last report, packed (buffers transferred), or null for none. */
  upcalls: UpcallBatch | null;
  /** Per assigned port: portNo and PP_* counters (cumulative). */
  ports: { portNo: number; counters: Float64Array }[];
  /** Latest flow-update delay seen (ms from send to applied), or -1. */
  updateDelayMs: number;
}

/** Messages a PMD Worker posts. */
export type PmdEvent =
  | { op: "ready"; index: number; cpus: number[] }
  | PmdReport
  | { op: "stopped"; index: number; drained: number }
  | { op: "error"; index: number; message: string };
