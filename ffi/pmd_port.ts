/**
 * A PMD thread's handle on one started ethdev: receive and transmit on the
 * queues given to this thread, by port id. The control thread opened,
 * configured and started the device (a {@linkcode DpdkPort}) and still owns
 * it (stop, close); this class only moves packets, zero-copy over the
 * thread's own view of the same mbuf pool ({@linkcode MbufPool.lookup}).
 *
 * Not thread-safe per queue: each rx queue is polled by one thread and each
 * tx queue is used by one thread.
 *
 * @module
 */

import { BATCH_SIZE, type PacketBatch } from "../datapath/packet_batch.ts";
import { emptyPortStats, type Port, type PortOptions, type PortStats } from "../datapath/port.ts";
import { FrameTap } from "../datapath/frame_tap.ts";
import { type DpdkLibraries, loadDpdk } from "./loader.ts";
import type { MbufPool } from "./mbuf_pool.ts";
import { type BurstCounts, moveBurstToBatch, stageBatchForTx } from "./mbuf_burst.ts";

/** Bursts drained per rx queue when the thread stops. */
const DRAIN_BURSTS = 256;

/** Indices into {@linkcode PmdPort.counters}. */
export const PP_RX_PACKETS = 0;
/** Bytes received. */
export const PP_RX_BYTES = 1;
/** Multi-segment packets dropped at receive. */
export const PP_RX_ERRORS = 2;
/** Packets the tx queue took. */
export const PP_TX_PACKETS = 3;
/** Bytes the tx queue took. */
export const PP_TX_BYTES = 4;
/** Packets the tx queue refused (freed). */
export const PP_TX_DROPPED = 5;
/** Packets given to transmit that were not in this pool or out of their buffer. */
export const PP_TX_ERRORS = 6;
/** Number of PmdPort counters. */
export const PP_COUNTER_COUNT = 7;

/** One ethdev as a PMD thread sees it. */
export class PmdPort implements Port {
  readonly name: string;
  readonly type = "dpdk";
  readonly options: PortOptions = {};
  portNo: number;
  /** Rx queues this thread polls (`receive(i)` polls `rxQueueIds[i]`). */
  readonly rxQueues: number;
  /** The ethdev port id. */
  readonly portId: number;
  /** Counters, indexed by the PP_* constants. */
  readonly counters: Float64Array = new Float64Array(PP_COUNTER_COUNT);
  readonly #pool: MbufPool;
  readonly #rxQueueIds: number[];
  readonly #txQueue: number;
  readonly #lib: DpdkLibraries = loadDpdk();
  readonly #stage = new BigUint64Array(BATCH_SIZE);
  readonly #stageBytes = new Uint8Array(this.#stage.buffer);
  readonly #stage32 = new Uint32Array(this.#stage.buffer);
  readonly #burstCounts: BurstCounts = { rejected: 0, bytes: 0 };
  readonly #txLength = new Int32Array(BATCH_SIZE);
  /** The port's capture tap (shared with the control thread's DpdkPort). */
  readonly tap: FrameTap;

  /**
   * Wraps a started ethdev. `rxQueueIds` are the rx queues this thread
   * polls (may be empty), `txQueue` the tx queue it alone transmits on,
   * `tap` the buffer of the DpdkPort's FrameTap (a private one when absent).
   */
  constructor(
    name: string,
    portNo: number,
    portId: number,
    pool: MbufPool,
    rxQueueIds: number[],
    txQueue: number,
    tap?: SharedArrayBuffer,
  ) {
    this.tap = new FrameTap(tap);
    this.name = name;
    this.portNo = portNo;
    this.portId = portId;
    this.#pool = pool;
    this.#rxQueueIds = rxQueueIds.slice();
    this.rxQueues = rxQueueIds.length;
    this.#txQueue = txQueue;
  }

  /** One rx burst from this thread's `queue`-th rx queue into `batch` (which must be over this pool). */
  receive(queue: number, batch: PacketBatch): number {
    const room = BATCH_SIZE - batch.count;
    if (room <= 0) return 0;
    const n = this.#lib.shim.dpif_rx_burst(
      this.portId,
      this.#rxQueueIds[queue],
      this.#stageBytes,
      room,
    );
    if (n === 0) return 0;
    const counts = this.#burstCounts;
    const first = batch.count;
    moveBurstToBatch(this.#pool, this.#stage32, n, batch, this.portNo, counts);
    if (this.tap.on[0] !== 0) this.tap.recordBatch(this.#pool.bytes, batch, first);
    const bad = counts.rejected;
    const bytes = counts.bytes;
    if (bad > 0) {
      this.#lib.mbuf.rte_pktmbuf_free_bulk(this.#stageBytes, bad);
      this.counters[PP_RX_ERRORS] += bad;
    }
    this.counters[PP_RX_PACKETS] += n - bad;
    this.counters[PP_RX_BYTES] += bytes;
    return n - bad;
  }

  /**
   * Sends a batch on this thread's tx queue (the `queue` argument is
   * ignored); empties it. Returns how many the full queue refused (freed).
   */
  transmit(_queue: number, batch: PacketBatch): number {
    const n = batch.count;
    if (n === 0) return 0;
    const pool = this.#pool;
    if (batch.pool !== pool) {
      this.counters[PP_TX_ERRORS] += n;
      batch.freeAll();
      return 0;
    }
    if (this.tap.on[0] !== 0) this.tap.recordBatch(pool.bytes, batch, 0);
    const lengths = this.#txLength;
    const counts = this.#burstCounts;
    const k = stageBatchForTx(pool, batch, this.#stage32, lengths, counts);
    this.counters[PP_TX_ERRORS] += counts.rejected;
    if (k === 0) return 0;
    const sent = this.#lib.shim.dpif_tx_burst_or_free(
      this.portId,
      this.#txQueue,
      this.#stageBytes,
      k,
    );
    let bytes = 0;
    for (let i = 0; i < sent; i++) bytes += lengths[i];
    this.counters[PP_TX_PACKETS] += sent;
    this.counters[PP_TX_BYTES] += bytes;
    this.counters[PP_TX_DROPPED] += k - sent;
    return k - sent;
  }

  /** This thread's counters for the port. */
  stats(): PortStats {
    const c = this.counters;
    const stats = emptyPortStats();
    stats.rx_packets = c[PP_RX_PACKETS];
    stats.rx_bytes = c[PP_RX_BYTES];
    stats.rx_errors = c[PP_RX_ERRORS];
    stats.tx_packets = c[PP_TX_PACKETS];
    stats.tx_bytes = c[PP_TX_BYTES];
    stats.tx_dropped = c[PP_TX_DROPPED];
    stats.tx_errors = c[PP_TX_ERRORS];
    return stats;
  }

  /**
   * Drains this thread's rx queues, freeing what they hold (the device
   * itself stays up: the control thread stops and closes it). Returns how
   * many mbufs were freed.
   */
  close(): number {
    let freed = 0;
    for (const q of this.#rxQueueIds) {
      for (let b = 0; b < DRAIN_BURSTS; b++) {
        const n = this.#lib.shim.dpif_rx_burst(this.portId, q, this.#stageBytes, BATCH_SIZE);
        if (n === 0) break;
        this.#lib.mbuf.rte_pktmbuf_free_bulk(this.#stageBytes, n);
        freed += n;
      }
    }
    return freed;
  }
}
