/**
 * Options of a `dpdk` port, as given to `ovs-dpctl add-if
 * NAME,type=dpdk,KEY=VALUE...`, parsed and normalised.
 *
 * | option | meaning | default |
 * |---|---|---|
 * | `devargs` (or `dpdk-devargs`) | device to open, e.g. `net_pcap0,rx_pcap=in.pcap`; probed when no device of that name exists | the port name |
 * | `n_rxq`, `n_txq` | rx / tx queues | 1, 1 |
 * | `n_rxq_desc`, `n_txq_desc` | descriptors per queue | 1024, 1024 |
 * | `mtu` | MTU to set on the device | the device's |
 * | `mac` | MAC address to set, `aa:bb:cc:dd:ee:ff` | the device's |
 * | `promisc` | `true` or `false` | `true` |
 * | `rx_scatter` | receive frames longer than one mbuf as chains (dropped and counted as rx_oversize, where without it the device drops them): `true` (the device must support it), `false`, or `auto` (on when `mtu` needs it and the device supports it) | `auto` |
 *
 * @module
 */

import { DpifError } from "../datapath/errors.ts";
import type { PortOptions } from "../datapath/port.ts";

/** Parsed dpdk port options. */
export interface DpdkPortConfig {
  devargs: string;
  rxQueues: number;
  txQueues: number;
  rxDescriptors: number;
  txDescriptors: number;
  /** null: leave the device's MTU. */
  mtu: number | null;
  /** Six bytes, or null to leave the device's address. */
  mac: Uint8Array | null;
  promiscuous: boolean;
  /** RTE_ETH_RX_OFFLOAD_SCATTER: "auto" enables it when `mtu` needs it and the device can. */
  rxScatter: "auto" | "true" | "false";
}

const KNOWN = new Set([
  "devargs",
  "dpdk-devargs",
  "n_rxq",
  "n_txq",
  "n_rxq_desc",
  "n_txq_desc",
  "mtu",
  "mac",
  "promisc",
  "rx_scatter",
]);

/**
 * Parses dpdk port options. Throws a DpifError (EINVAL) naming the option
 * for an unknown key or a bad value.
 */
export function parseDpdkPortOptions(portName: string, options: PortOptions): DpdkPortConfig {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new DpifError("EINVAL", `dpdk port ${portName}: unknown option '${key}'`);
    }
  }
  const devargs = (options.devargs ?? options["dpdk-devargs"] ?? portName).trim();
  if (devargs === "" || devargs.startsWith(",")) {
    throw new DpifError("EINVAL", `dpdk port ${portName}: devargs must start with a device name`);
  }
  const promisc = options.promisc ?? "true";
  if (promisc !== "true" && promisc !== "false") {
    throw new DpifError("EINVAL", `dpdk port ${portName}: promisc must be true or false`);
  }
  return {
    devargs,
    rxQueues: integer(portName, options, "n_rxq", 1, 1, 64),
    txQueues: integer(portName, options, "n_txq", 1, 1, 64),
    rxDescriptors: integer(portName, options, "n_rxq_desc", 1024, 1, 32768),
    txDescriptors: integer(portName, options, "n_txq_desc", 1024, 1, 32768),
    mtu: options.mtu === undefined ? null : integer(portName, options, "mtu", 0, 68, 65535),
    mac: options.mac === undefined ? null : parseMac(portName, options.mac),
    promiscuous: promisc === "true",
    rxScatter: parseScatter(portName, options.rx_scatter ?? "auto"),
  };
}

function parseScatter(portName: string, text: string): "auto" | "true" | "false" {
  if (text === "auto" || text === "true" || text === "false") return text;
  throw new DpifError(
    "EINVAL",
    `dpdk port ${portName}: rx_scatter must be auto, true or false, got '${text}'`,
  );
}

/** The normalised option record of a config (what `Port.options` shows). */
export function normalisedOptions(config: DpdkPortConfig): PortOptions {
  const out: PortOptions = {
    devargs: config.devargs,
    n_rxq: String(config.rxQueues),
    n_txq: String(config.txQueues),
    n_rxq_desc: String(config.rxDescriptors),
    n_txq_desc: String(config.txDescriptors),
    promisc: String(config.promiscuous),
  };
  if (config.mtu !== null) out.mtu = String(config.mtu);
  if (config.mac !== null) out.mac = formatMac(config.mac);
  if (config.rxScatter !== "auto") out.rx_scatter = config.rxScatter;
  return out;
}

/** Formats six bytes as `aa:bb:cc:dd:ee:ff`. */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(":");
}

function integer(
  portName: string,
  options: PortOptions,
  key: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = options[key];
  if (text === undefined) return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw new DpifError(
      "EINVAL",
      `dpdk port ${portName}: ${key} must be ${min}..${max}, got '${text}'`,
    );
  }
  return value;
}

function parseMac(portName: string, text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) {
    throw new DpifError(
      "EINVAL",
      `dpdk port ${portName}: mac must be aa:bb:cc:dd:ee:ff, got '${text}'`,
    );
  }
  return new Uint8Array(text.split(":").map((h) => parseInt(h, 16)));
}
