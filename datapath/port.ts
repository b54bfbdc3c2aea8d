/**
 * The port backend interface. A datapath owns ports; each port receives
 * batches from its rx queues and transmits batches handed to it.
 *
 * Implementations: the `dummy` port (in memory), tunnel virtual ports
 * (`vxlan`, `geneve`, `gre`), and the DPDK port (`dpdk`). All of them pass one
 * conformance suite (tests/port_conformance.ts).
 *
 * @module
 */

import type { PacketBatch } from "./packet_batch.ts";

/** Per-port counters, as `ovs-dpctl show -s` reports them. */
export interface PortStats {
  rx_packets: number;
  rx_bytes: number;
  rx_dropped: number;
  rx_errors: number;
  tx_packets: number;
  tx_bytes: number;
  tx_dropped: number;
  tx_errors: number;
}

/** Options given when a port is added, as in `ovs-dpctl add-if`. */
export type PortOptions = Record<string, string>;

/** What a port backend must provide. */
export interface Port {
  /** Unique name within the datapath (for the local port, the datapath's name). */
  readonly name: string;
  /** Port type: "internal", "dummy", "vxlan", "geneve", "gre", "dpdk", ... */
  readonly type: string;
  /** The options the port was created with (normalised). */
  readonly options: PortOptions;
  /** Port number in the datapath; set once when the port is added. */
  portNo: number;
  /** Number of rx queues the datapath polls (0 for ports that never receive). */
  readonly rxQueues: number;
  /**
   * Moves up to `BATCH_SIZE - batch.count` received packets from rx queue
   * `queue` into `batch`, with in_port set to this port's number and the other
   * metadata zeroed. Returns how many were added. Never throws on the fast
   * path; errors are counted in the stats.
   */
  receive(queue: number, batch: PacketBatch): number;
  /**
   * Transmits every packet of `batch` on tx queue `queue` and empties the
   * batch. The port takes ownership of all of them: each is sent or freed and
   * counted in `tx_dropped`.
   */
  transmit(queue: number, batch: PacketBatch): void;
  /** Current counters (a fresh object). */
  stats(): PortStats;
  /** Releases the port's resources; frees any packet it still holds. */
  close(): void;
}

/** Returns a zeroed stats object. */
export function emptyPortStats(): PortStats {
  return {
    rx_packets: 0,
    rx_bytes: 0,
    rx_dropped: 0,
    rx_errors: 0,
    tx_packets: 0,
    tx_bytes: 0,
    tx_dropped: 0,
    tx_errors: 0,
  };
}
