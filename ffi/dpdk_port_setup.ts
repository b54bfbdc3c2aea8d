/**
 * Bringing an ethdev up for a {@linkcode DpdkPort}: queues, RSS over
 * several rx queues, rx scatter, MTU, MAC, promiscuous mode, start. Slow
 * path (runs once per port open); struct fields through ffi/offsets.ts.
 *
 * @module
 */

import { DpifError } from "../datapath/errors.ts";
import type { DpdkPortConfig } from "./dpdk_port_options.ts";
import type { DpdkLibraries } from "./loader.ts";
import type { MbufPool } from "./mbuf_pool.ts";
import { ETH_CONF, ETH_DEV_INFO, ETH_RSS, ETH_RX_OFFLOAD } from "./offsets.ts";
import { check } from "./status.ts";

/** How a device's rx side was set up. */
export interface RxSetup {
  /** RTE_ETH_RSS_* flow types hashed over the rx queues (0: RSS off). */
  rssHashFunctions: number;
  /** Whether RTE_ETH_RX_OFFLOAD_SCATTER is on. */
  scatter: boolean;
}

/** Bytes a frame has beyond its MTU: Ethernet header, one VLAN tag, FCS. */
const FRAME_OVERHEAD = 14 + 4 + 4;

/**
 * Configures queues (RSS over several rx queues; scatter when asked or the
 * MTU needs it), MTU, MAC and promiscuous mode, then starts the device with
 * its rx queues on `pool`. Throws a DpdkError when DPDK refuses a step, a
 * DpifError EOPNOTSUPP for rx_scatter=true on a device that cannot.
 */
export function configureDevice(
  lib: DpdkLibraries,
  portId: number,
  config: DpdkPortConfig,
  pool: MbufPool,
): RxSetup {
  const { ethdev } = lib;
  const info = new Uint8Array(ETH_DEV_INFO.SIZE);
  check("rte_eth_dev_info_get", ethdev.rte_eth_dev_info_get(portId, info));
  const infoView = new DataView(info.buffer);
  const conf = new Uint8Array(ETH_CONF.SIZE);
  const confView = new DataView(conf.buffer);
  // RSS: (IP | TCP | UDP) limited to what the device can hash.
  const hashable = infoView.getBigUint64(ETH_DEV_INFO.FLOW_TYPE_RSS_OFFLOADS, true);
  const rss = config.rxQueues > 1
    ? Number(BigInt(ETH_RSS.IP | ETH_RSS.TCP | ETH_RSS.UDP) & hashable)
    : 0;
  if (rss !== 0) {
    confView.setUint32(ETH_CONF.RXMODE_MQ_MODE, ETH_RSS.MQ_RX_RSS, true);
    confView.setBigUint64(ETH_CONF.RSS_HF, BigInt(rss), true); // rss_key NULL: the driver's key
  }
  // Scatter: when asked, or (auto) when the MTU needs frames longer than one mbuf holds.
  const capabilities = infoView.getBigUint64(ETH_DEV_INFO.RX_OFFLOAD_CAPA, true);
  const canScatter = (capabilities & BigInt(ETH_RX_OFFLOAD.SCATTER)) !== 0n;
  if (config.rxScatter === "true" && !canScatter) {
    throw new DpifError("EOPNOTSUPP", "rx_scatter=true: the device cannot scatter received frames");
  }
  const room = lib.shim.dpif_pktmbuf_data_room_size(pool.mempool) - pool.headroom;
  const mtuNeedsIt = config.mtu !== null && config.mtu + FRAME_OVERHEAD > room;
  const scatter = config.rxScatter === "true" ||
    (config.rxScatter === "auto" && mtuNeedsIt && canScatter);
  if (scatter) {
    confView.setBigUint64(ETH_CONF.RXMODE_OFFLOADS, BigInt(ETH_RX_OFFLOAD.SCATTER), true);
  }
  check(
    "rte_eth_dev_configure",
    ethdev.rte_eth_dev_configure(portId, config.rxQueues, config.txQueues, conf),
  );
  if (config.mtu !== null) {
    check("rte_eth_dev_set_mtu", ethdev.rte_eth_dev_set_mtu(portId, config.mtu));
  }
  const socket = ethdev.rte_eth_dev_socket_id(portId) >>> 0;
  for (let q = 0; q < config.rxQueues; q++) {
    check(
      "rte_eth_rx_queue_setup",
      ethdev.rte_eth_rx_queue_setup(portId, q, config.rxDescriptors, socket, null, pool.mempool),
    );
  }
  for (let q = 0; q < config.txQueues; q++) {
    check(
      "rte_eth_tx_queue_setup",
      ethdev.rte_eth_tx_queue_setup(portId, q, config.txDescriptors, socket, null),
    );
  }
  if (config.mac !== null) {
    check(
      "rte_eth_dev_default_mac_addr_set",
      ethdev.rte_eth_dev_default_mac_addr_set(portId, config.mac),
    );
  }
  check("rte_eth_dev_start", ethdev.rte_eth_dev_start(portId));
  const promisc = config.promiscuous
    ? ethdev.rte_eth_promiscuous_enable(portId)
    : ethdev.rte_eth_promiscuous_disable(portId);
  if (promisc < 0 && promisc !== -95) check("rte_eth_promiscuous_enable", promisc); // -ENOTSUP: the device has no filter
  return { rssHashFunctions: rss, scatter };
}
