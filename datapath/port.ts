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
  /**
   * Ports backed by a device (`dpdk`): the device's own counters, as
   * `rte_eth_stats_get` reports them. The fields above are the datapath's
   * (every thread that polls or sends on the port, PMDs included), with
   * the device's drops and errors added in.
   */
  device?: PortDeviceStats;
  /**
   * Received packets dropped because they did not fit one buffer: a chain of
   * segments (nb_segs > 1), or longer than the datapath pool's buffers. Also in rx_errors.
   */
  rx_oversize?: number;
}

/** A device's own counters (`struct rte_eth_stats` totals). */
export interface PortDeviceStats {
  ipackets: number;
  opackets: number;
  ibytes: number;
  obytes: number;
  /** Packets the hardware dropped because no rx descriptor was free. */
  imissed: number;
  ierrors: number;
  oerrors: number;
  /** Receives that failed because the mbuf pool was empty. */
  rx_nombuf: number;
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
   * metadata zeroed (the tunnel words may instead be left as they were with
   * the tunnel destination zeroed: FIRST_TUNNEL_WORD). Returns how many were added. Never throws on the fast
   * path; errors are counted in the stats.
   */
  receive(queue: number, batch: PacketBatch): number;
  /**
   * Transmits every packet of `batch` on tx queue `queue` and empties the
   * batch. The port takes ownership of all of them: each is sent or freed and
   * counted in `tx_dropped`. Reads buffers, offsets and lengths only, never
   * the metadata (the pipeline fills tx batches with `pushPacket`).
   * Returns how many packets the tx queue had no room for (freed and counted
   * in `tx_dropped`): the pipeline counts them as `tx_full` drops.
   */
  transmit(queue: number, batch: PacketBatch): number;
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
