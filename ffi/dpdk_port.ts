/**
 * The `dpdk` port: an ethdev (a NIC or a virtual device such as net_pcap,
 * net_ring, net_null) whose bursts go through the shim, one fast FFI call
 * per burst.
 *
 * receive(): one rx burst into a staging array of mbuf pointers; each
 * pointer becomes a handle by 32-bit arithmetic (`lo32(ptr) - lo32(base)`),
 * and data_off / data_len come from the mbuf header. Multi-segment mbufs are
 * freed and counted (rx_errors, {@linkcode DpdkPort.rxOversize}).
 * transmit(): data_off, data_len and pkt_len are written back into each mbuf
 * header, one tx burst sends them, the shim frees what the queue did not
 * take (counted in tx_dropped).
 *
 * Batches over another pool than the port's (e.g. a MemoryPool) are copied
 * (a slow path: one subarray per packet).
 *
 * Configuration: with more than one rx queue, RSS spreads flows over them
 * (mq_mode RSS, rss_hf = (IP | TCP | UDP) & what the device can hash);
 * `rx_scatter` lets a device deliver long frames as mbuf chains, which are
 * then dropped and counted (rx_oversize) rather than left to the device.
 *
 * Stats: {@linkcode DpdkPort.stats} merges what every thread counted on the
 * port (this one's, plus PMD threads' folded in by
 * {@linkcode DpdkPort.addThreadCounts}) with the device's own counters
 * (`rte_eth_stats_get`, shown under `device`; its drops and errors are also
 * added to rx_dropped / rx_errors / tx_errors).
 *
 * @module
 */

import { DpifError } from "../datapath/errors.ts";
import { W_IN_PORT } from "../datapath/flow_key.ts";
import { BATCH_SIZE, META_SHIFT, PacketBatch } from "../datapath/packet_batch.ts";
import {
  emptyPortStats,
  type Port,
  type PortDeviceStats,
  type PortOptions,
  type PortStats,
} from "../datapath/port.ts";
import { FrameTap } from "../datapath/frame_tap.ts";
import { cString, deviceName, hotplugAdd, hotplugRemove } from "./eal.ts";
import { type DpdkLibraries, loadDpdk } from "./loader.ts";
import { type BurstCounts, moveBurstToBatch, stageBatchForTx } from "./mbuf_burst.ts";
import type { MbufPool } from "./mbuf_pool.ts";
import { ETH_LINK, ETH_STATS, ETHER_ADDR, MBUF } from "./offsets.ts";
import { configureDevice, type RxSetup } from "./dpdk_port_setup.ts";
import {
  type DpdkPortConfig,
  formatMac,
  normalisedOptions,
  parseDpdkPortOptions,
} from "./dpdk_port_options.ts";
import { check } from "./status.ts";

/** The device's own counters (`struct rte_eth_stats` totals). */
export type DpdkDeviceStats = PortDeviceStats;

/** Link state (`rte_eth_link_get_nowait`). */
export interface DpdkLinkState {
  up: boolean;
  speedMbps: number;
  fullDuplex: boolean;
  autoneg: boolean;
}

/** Bursts drained per rx queue at close (a replaying pcap never runs dry). */
const CLOSE_DRAIN_BURSTS = 256;

/** Ethdev ids of the DpdkPorts open in this isolate: a second port on one device is EBUSY. */
const openPortIds = new Set<number>();

/** An ethdev port. */
export class DpdkPort implements Port {
  readonly name: string;
  readonly type = "dpdk";
  readonly options: PortOptions;
  portNo = 0;
  readonly rxQueues: number;
  /** Number of tx queues. */
  readonly txQueues: number;
  /** The ethdev port id. */
  readonly portId: number;
  /** The device name (devargs up to the first comma). */
  readonly deviceName: string;
  /** The device's NUMA socket (`rte_eth_dev_socket_id`; -1: the device does not say). */
  readonly socketId: number;
  /** The pool rx queues allocate from; batches over it move without copies. */
  readonly pool: MbufPool;
  /**
   * RTE_ETH_RSS_* flow types the device hashes to spread packets over its
   * rx queues: (IP | TCP | UDP) & what the device supports, on ports with
   * more than one rx queue; 0 when RSS is off (one queue, or a device that
   * hashes nothing, such as net_af_packet, whose kernel fanout spreads instead).
   */
  readonly rssHashFunctions: number;
  /**
   * Whether the device may deliver a frame as a chain of mbufs
   * (RTE_ETH_RX_OFFLOAD_SCATTER): the `rx_scatter` option, by default on
   * when the `mtu` option asks for frames longer than one mbuf's data room
   * and the device supports it.
   * Chains are dropped and counted (rx_oversize), never misread; without
   * scatter the device itself drops such frames (ierrors).
   */
  readonly rxScatter: boolean;
  /** Received multi-segment packets dropped (also in rx_errors). */
  rxOversize = 0;
  /** Frames received and given to transmit while a capture runs (PMD threads share it). */
  readonly tap: FrameTap = new FrameTap();
  readonly #probed: boolean;
  readonly #lib: DpdkLibraries;
  readonly #rxBurst: DpdkLibraries["shim"]["dpif_rx_burst"];
  readonly #txBurst: DpdkLibraries["shim"]["dpif_tx_burst_or_free"];
  readonly #stage = new BigUint64Array(BATCH_SIZE);
  readonly #stageBytes = new Uint8Array(this.#stage.buffer);
  readonly #stage32 = new Uint32Array(this.#stage.buffer);
  readonly #burstCounts: BurstCounts = { rejected: 0, bytes: 0 };
  readonly #txLength = new Int32Array(BATCH_SIZE);
  readonly #copyHandle = new Int32Array(1);
  readonly #copyBatch: PacketBatch;
  #rxPackets = 0;
  #rxBytes = 0;
  #rxDropped = 0;
  #rxErrors = 0;
  #txPackets = 0;
  #txBytes = 0;
  #txDropped = 0;
  #txErrors = 0;
  /** What other threads (PMDs) counted on this port, folded in by {@linkcode addThreadCounts}. */
  readonly #thread: PortStats = emptyPortStats();
  #threadOversize = 0;
  #closed = false;

  private constructor(
    name: string,
    config: DpdkPortConfig,
    pool: MbufPool,
    portId: number,
    probed: boolean,
    rx: RxSetup,
  ) {
    this.name = name;
    this.rssHashFunctions = rx.rssHashFunctions;
    this.rxScatter = rx.scatter;
    this.options = normalisedOptions(config);
    this.rxQueues = config.rxQueues;
    this.txQueues = config.txQueues;
    this.pool = pool;
    this.portId = portId;
    this.deviceName = deviceName(config.devargs);
    this.socketId = loadDpdk().ethdev.rte_eth_dev_socket_id(portId);
    this.#probed = probed;
    openPortIds.add(portId);
    this.#copyBatch = new PacketBatch(pool);
    this.#lib = loadDpdk();
    this.#rxBurst = this.#lib.shim.dpif_rx_burst;
    this.#txBurst = this.#lib.shim.dpif_tx_burst_or_free;
  }

  /**
   * Opens, configures and starts the device named by the `devargs` option
   * (probing it when it does not exist yet), with rx queues on `pool`. The
   * EAL must be up. Throws a DpifError: EINVAL for bad options, EBUSY when
   * another DpdkPort has the device open (it is left alone), ENODEV (with
   * the DpdkError as `cause`) when DPDK refuses; nothing is left behind.
   */
  static open(name: string, options: PortOptions, pool: MbufPool): DpdkPort {
    const config = parseDpdkPortOptions(name, options);
    const lib = loadDpdk();
    const device = deviceName(config.devargs);
    const existing = new Uint16Array(1);
    if (
      lib.ethdev.rte_eth_dev_get_port_by_name(cString(device), existing) === 0 &&
      openPortIds.has(existing[0])
    ) {
      throw new DpifError("EBUSY", `dpdk port ${name}: device ${device} is used by another port`);
    }
    let probed = false;
    let portId = -1;
    try {
      probed = hotplugAdd(config.devargs);
      const id = new Uint16Array(1);
      check(
        "rte_eth_dev_get_port_by_name",
        lib.ethdev.rte_eth_dev_get_port_by_name(cString(device), id),
        {
          detail: device,
        },
      );
      portId = id[0];
      const rx = configureDevice(lib, portId, config, pool);
      return new DpdkPort(name, config, pool, portId, probed, rx);
    } catch (error) {
      if (portId >= 0) {
        lib.ethdev.rte_eth_dev_stop(portId);
        lib.ethdev.rte_eth_dev_close(portId);
      }
      if (probed) {
        try {
          hotplugRemove(device);
        } catch { /* the original error matters more */ }
      }
      throw new DpifError("ENODEV", `dpdk port ${name}: cannot open '${config.devargs}'`, {
        cause: error,
      });
    }
  }

  receive(queue: number, batch: PacketBatch): number {
    const room = BATCH_SIZE - batch.count;
    if (room <= 0 || this.#closed) return 0;
    const n = this.#rxBurst(this.portId, queue, this.#stageBytes, room);
    if (n === 0) return 0;
    if (batch.pool !== this.pool) return this.#receiveByCopy(batch, n);
    const counts = this.#burstCounts;
    const first = batch.count;
    moveBurstToBatch(this.pool, this.#stage32, n, batch, this.portNo, counts);
    const bad = counts.rejected;
    const bytes = counts.bytes;
    if (bad > 0) {
      this.#lib.mbuf.rte_pktmbuf_free_bulk(this.#stageBytes, bad);
      this.rxOversize += bad;
      this.#rxErrors += bad;
    }
    if (this.tap.on[0] !== 0) this.tap.recordBatch(this.pool.bytes, batch, first);
    this.#rxPackets += n - bad;
    this.#rxBytes += bytes;
    return n - bad;
  }

  transmit(queue: number, batch: PacketBatch): number {
    const n = batch.count;
    if (n === 0) return 0;
    if (batch.pool !== this.pool || this.#closed) return this.#transmitByCopy(queue, batch);
    if (this.tap.on[0] !== 0) this.tap.recordBatch(this.pool.bytes, batch, 0);
    const pool = this.pool;
    const lengths = this.#txLength;
    const counts = this.#burstCounts;
    const k = stageBatchForTx(pool, batch, this.#stage32, lengths, counts);
    this.#txErrors += counts.rejected;
    if (k === 0) return 0;
    const sent = this.#txBurst(this.portId, queue, this.#stageBytes, k);
    let bytes = 0;
    for (let i = 0; i < sent; i++) bytes += lengths[i];
    this.#txPackets += sent;
    this.#txBytes += bytes;
    this.#txDropped += k - sent;
    return k - sent;
  }

  /**
   * The datapath's counters for this port (this thread's plus what
   * {@linkcode addThreadCounts} folded in from PMD threads), with the
   * device's drops (imissed, rx_nombuf) and errors added in, and the
   * device's own counters under `device`. Throws a DpdkError when the
   * device refuses its stats.
   */
  stats(): PortStats {
    const device = this.deviceStats();
    const t = this.#thread;
    return {
      rx_packets: this.#rxPackets + t.rx_packets,
      rx_bytes: this.#rxBytes + t.rx_bytes,
      rx_dropped: this.#rxDropped + t.rx_dropped + device.imissed + device.rx_nombuf,
      rx_errors: this.#rxErrors + t.rx_errors + device.ierrors,
      tx_packets: this.#txPackets + t.tx_packets,
      tx_bytes: this.#txBytes + t.tx_bytes,
      tx_dropped: this.#txDropped + t.tx_dropped,
      tx_errors: this.#txErrors + t.tx_errors + device.oerrors,
      rx_oversize: this.rxOversize + this.#threadOversize,
      device,
    };
  }

  /**
   * Adds counts another thread (a PMD polling or sending on this port's
   * queues) made since its previous call: `delta` holds differences, not
   * totals (`rx_oversize`, when given, counts within `rx_errors`). Called by
   * the control thread only (PmdSet folding a report).
   */
  addThreadCounts(delta: PortStats): void {
    const t = this.#thread;
    t.rx_packets += delta.rx_packets;
    t.rx_bytes += delta.rx_bytes;
    t.rx_dropped += delta.rx_dropped;
    t.rx_errors += delta.rx_errors;
    t.tx_packets += delta.tx_packets;
    t.tx_bytes += delta.tx_bytes;
    t.tx_dropped += delta.tx_dropped;
    t.tx_errors += delta.tx_errors;
    this.#threadOversize += delta.rx_oversize ?? 0;
  }

  /** The device's own counters (all zero once closed). Throws a DpdkError. */
  deviceStats(): DpdkDeviceStats {
    const buffer = new Uint8Array(ETH_STATS.SIZE);
    if (!this.#closed) {
      check("rte_eth_stats_get", this.#lib.ethdev.rte_eth_stats_get(this.portId, buffer));
    }
    const view = new DataView(buffer.buffer);
    const read = (offset: number) => Number(view.getBigUint64(offset, true));
    return {
      ipackets: read(ETH_STATS.IPACKETS),
      opackets: read(ETH_STATS.OPACKETS),
      ibytes: read(ETH_STATS.IBYTES),
      obytes: read(ETH_STATS.OBYTES),
      imissed: read(ETH_STATS.IMISSED),
      ierrors: read(ETH_STATS.IERRORS),
      oerrors: read(ETH_STATS.OERRORS),
      rx_nombuf: read(ETH_STATS.RX_NOMBUF),
    };
  }

  /** Current link state, without waiting. Throws a DpdkError. */
  link(): DpdkLinkState {
    const buffer = new Uint8Array(ETH_LINK.SIZE);
    check("rte_eth_link_get_nowait", this.#lib.ethdev.rte_eth_link_get_nowait(this.portId, buffer));
    const bit = (n: number) => ((buffer[n >>> 3] >>> (n & 7)) & 1) === 1;
    return {
      up: bit(ETH_LINK.STATUS_BIT),
      speedMbps: new DataView(buffer.buffer).getUint32(ETH_LINK.SPEED, true),
      fullDuplex: bit(ETH_LINK.DUPLEX_BIT),
      autoneg: bit(ETH_LINK.AUTONEG_BIT),
    };
  }

  /** The device's MAC address as `aa:bb:cc:dd:ee:ff`. Throws a DpdkError. */
  macAddress(): string {
    const mac = new Uint8Array(ETHER_ADDR.SIZE);
    check("rte_eth_macaddr_get", this.#lib.ethdev.rte_eth_macaddr_get(this.portId, mac));
    return formatMac(mac);
  }

  /** The device's MTU. Throws a DpdkError. */
  mtu(): number {
    const mtu = new Uint16Array(1);
    check("rte_eth_dev_get_mtu", this.#lib.ethdev.rte_eth_dev_get_mtu(this.portId, mtu));
    return mtu[0];
  }

  /**
   * Drains and frees what the rx queues hold, stops and closes the device,
   * and removes it when this port probed it. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const { ethdev, mbuf, shim } = this.#lib;
    for (let q = 0; q < this.rxQueues; q++) {
      for (let b = 0; b < CLOSE_DRAIN_BURSTS; b++) {
        const n = shim.dpif_rx_burst(this.portId, q, this.#stageBytes, BATCH_SIZE);
        if (n === 0) break;
        mbuf.rte_pktmbuf_free_bulk(this.#stageBytes, n);
      }
    }
    ethdev.rte_eth_dev_stop(this.portId);
    ethdev.rte_eth_dev_close(this.portId);
    openPortIds.delete(this.portId);
    if (this.#probed) hotplugRemove(this.deviceName);
  }

  #receiveByCopy(batch: PacketBatch, n: number): number {
    const src = this.pool;
    const dst = batch.pool;
    const stage = this.#stage32;
    let added = 0;
    for (let i = 0; i < n; i++) {
      const handle = (stage[i << 1] - src.baseLo) | 0;
      const length = src.u16[(handle + MBUF.DATA_LEN) >>> 1];
      const data = src.bufferStart(handle) + src.u16[(handle + MBUF.DATA_OFF) >>> 1];
      if (src.u16[(handle + MBUF.NB_SEGS) >>> 1] !== 1) {
        this.rxOversize++;
        this.#rxErrors++;
      } else if (dst.allocBulk(this.#copyHandle, 0, 1) === 0) {
        this.#rxDropped++;
      } else if (
        dst.bufferStart(this.#copyHandle[0]) + dst.headroom + length >
          dst.bufferEnd(this.#copyHandle[0])
      ) {
        dst.free(this.#copyHandle[0]);
        this.rxOversize++;
        this.#rxErrors++;
      } else {
        const h = this.#copyHandle[0];
        const at = dst.bufferStart(h) + dst.headroom;
        dst.bytes.set(src.bytes.subarray(data, data + length), at);
        const j = batch.push(h, at, length);
        batch.meta[(j << META_SHIFT) + W_IN_PORT] = this.portNo;
        this.#rxPackets++;
        this.#rxBytes += length;
        added++;
      }
    }
    this.#lib.mbuf.rte_pktmbuf_free_bulk(this.#stageBytes, n);
    return added;
  }

  #transmitByCopy(queue: number, batch: PacketBatch): number {
    const src = batch.pool;
    const dst = this.pool;
    const staged = this.#copyBatch;
    for (let i = 0; i < batch.count; i++) {
      const length = batch.length[i];
      if (this.#closed || dst.allocBulk(this.#copyHandle, 0, 1) === 0) {
        this.#txDropped++;
      } else {
        const h = this.#copyHandle[0];
        const at = dst.bufferStart(h) + dst.headroom;
        if (length <= 0 || at + length > dst.bufferEnd(h)) {
          dst.free(h);
          this.#txErrors++;
        } else {
          dst.bytes.set(src.bytes.subarray(batch.offset[i], batch.offset[i] + length), at);
          staged.push(h, at, length);
        }
      }
      src.free(batch.handle[i]);
    }
    batch.count = 0;
    return staged.count > 0 ? this.transmit(queue, staged) : 0;
  }
}
