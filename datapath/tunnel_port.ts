/**
 * Tunnel virtual ports (`vxlan`, `geneve`, `gre`), as Open vSwitch's
 * userspace datapath has them (lib/netdev-vport.c, lib/netdev-native-tnl.c).
 *
 * A tunnel port has no queues of its own. Encapsulated packets arrive on a
 * physical port and are decapsulated by a `tnl_pop(N)` action, which makes
 * tunnel port N their new in_port; packets leave through a tunnel by a
 * `tnl_push(tnl_port(N), header(...), out_port(M))` action followed by an
 * output to the physical port. So {@linkcode TunnelPort.receive} never
 * delivers anything, and a packet output directly to a tunnel port is freed
 * and counted in tx_dropped. The executor looks a port up by number and reads
 * {@linkcode TunnelPort.tunnelType} and {@linkcode TunnelPort.dstPort}.
 *
 * Options (checked as netdev-vport's `set_tunnel_config` does, but strictly:
 * every unknown option or bad value is an error):
 * - `remote_ip` (required): an IPv4 or IPv6 unicast address, or `flow`.
 * - `local_ip`: an address, or `flow` (which needs `remote_ip=flow`); of
 *   the same address family as `remote_ip`.
 * - `key`, `in_key`, `out_key`: `flow` or a 64-bit number (decimal or 0x
 *   hex); `key` sets both directions.
 * - `dst_port` (vxlan, geneve only): UDP port 1..65535; defaults 4789
 *   (vxlan) and 6081 (geneve).
 * - `ttl`: 1..255 or `inherit` (default 64); `tos`: a DSCP value (low two
 *   bits clear) or `inherit`; `csum`, `df_default`: `true` or `false`.
 *
 * @module
 */

import { DpifError } from "./errors.ts";
import type { PacketBatch } from "./packet_batch.ts";
import { emptyPortStats, type Port, type PortOptions, type PortStats } from "./port.ts";

/** The tunnel protocols a {@linkcode TunnelPort} can be. */
export type TunnelType = "vxlan" | "geneve" | "gre";
/** IANA UDP port of VXLAN. */
export const VXLAN_DST_PORT = 4789;
/** IANA UDP port of Geneve. */
export const GENEVE_DST_PORT = 6081;
/** Outer TTL used when the `ttl` option is absent (OVS's DEFAULT_TTL). */
export const DEFAULT_TUNNEL_TTL = 64;

/** A tunnel key setting: taken from the flow, a fixed value, or absent. */
export type TunnelKeySetting = "flow" | bigint | null;

/** The parsed configuration of a tunnel port. */
export interface TunnelConfig {
  /** Outer destination: "flow" or a normalised address. */
  remoteIp: string;
  /** Outer source: "flow", a normalised address, or null (chosen by route). */
  localIp: string | null;
  /** Key expected on received packets. */
  inKey: TunnelKeySetting;
  /** Key put on sent packets. */
  outKey: TunnelKeySetting;
  /** Outer TTL, or "inherit". */
  ttl: number | "inherit";
  /** Outer TOS, or "inherit". */
  tos: number | "inherit";
  /** Whether the outer header carries a checksum. */
  csum: boolean;
  /** Whether the outer IPv4 header sets don't-fragment. */
  dfDefault: boolean;
}

const KNOWN_OPTIONS = new Set([
  "remote_ip",
  "local_ip",
  "key",
  "in_key",
  "out_key",
  "dst_port",
  "ttl",
  "tos",
  "csum",
  "df_default",
]);

/** A tunnel virtual port: configuration only, no queues. */
export class TunnelPort implements Port {
  readonly name: string;
  readonly type: TunnelType;
  /** Same as `type`: the tunnel protocol. */
  readonly tunnelType: TunnelType;
  /** The options, normalised and with defaults omitted, as OVS reports them. */
  readonly options: PortOptions;
  portNo = 0;
  readonly rxQueues = 0;
  /** UDP destination port of the tunnel (0 for GRE, which has none). */
  readonly dstPort: number;
  /** The parsed options. */
  readonly config: Readonly<TunnelConfig>;
  #txDropped = 0;

  /**
   * Creates a tunnel port.
   * @throws {DpifError} EINVAL naming the option for an unknown option, a bad
   *   value, a missing `remote_ip`, or inconsistent addresses.
   */
  constructor(name: string, type: TunnelType, options: PortOptions = {}) {
    if (type !== "vxlan" && type !== "geneve" && type !== "gre") {
      throw new DpifError("EINVAL", `${name}: '${type}' is not a tunnel type`);
    }
    this.name = name;
    this.type = type;
    this.tunnelType = type;
    for (const key of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(key) || (key === "dst_port" && type === "gre")) {
        throw new DpifError("EINVAL", `${name}: unknown ${type} option '${key}'`);
      }
    }
    const fail = (option: string, why: string): never => {
      throw new DpifError("EINVAL", `${name}: bad ${type} option '${option}': ${why}`);
    };

    const remote = options.remote_ip;
    if (remote === undefined) fail("remote_ip", "required (an address or 'flow')");
    const remoteIp = parseTunnelIp(remote!, (why) => fail("remote_ip", why));
    if (remoteIp.address !== "flow" && remoteIp.multicast) fail("remote_ip", "multicast");
    const localIp = options.local_ip === undefined
      ? null
      : parseTunnelIp(options.local_ip, (why) => fail("local_ip", why));
    if (localIp?.address === "flow" && remoteIp.address !== "flow") {
      fail("local_ip", "'flow' needs remote_ip=flow");
    }
    if (localIp && localIp.family !== 0 && remoteIp.family !== 0) {
      if (localIp.family !== remoteIp.family) {
        fail("local_ip", "not of the same address family as remote_ip");
      }
    }

    const key = parseKey(options.key, (why) => fail("key", why));
    const inKey = options.in_key === undefined
      ? key
      : parseKey(options.in_key, (why) => fail("in_key", why));
    const outKey = options.out_key === undefined
      ? key
      : parseKey(options.out_key, (why) => fail("out_key", why));

    const defaultPort = type === "vxlan" ? VXLAN_DST_PORT : type === "geneve" ? GENEVE_DST_PORT : 0;
    this.dstPort = options.dst_port === undefined
      ? defaultPort
      : parseInteger(options.dst_port, 1, 65535, (why) => fail("dst_port", why));

    const ttl = options.ttl === undefined
      ? DEFAULT_TUNNEL_TTL
      : options.ttl === "inherit"
      ? "inherit"
      : parseInteger(options.ttl, 1, 255, (why) => fail("ttl", why));
    let tos: number | "inherit" = 0;
    if (options.tos !== undefined) {
      tos = options.tos === "inherit"
        ? "inherit"
        : parseInteger(options.tos, 0, 255, (why) => fail("tos", why));
      if (tos !== "inherit" && (tos & 3) !== 0) fail("tos", "the two ECN bits must be 0");
    }
    const csum = parseBoolean(options.csum, false, (why) => fail("csum", why));
    const dfDefault = parseBoolean(options.df_default, true, (why) => fail("df_default", why));

    this.config = Object.freeze({
      remoteIp: remoteIp.address,
      localIp: localIp?.address ?? null,
      inKey,
      outKey,
      ttl,
      tos,
      csum,
      dfDefault,
    });
    this.options = normalisedOptions(this.config, this.dstPort, defaultPort);
  }

  /** Always 0: tunnel packets arrive through `tnl_pop` on a physical port. */
  receive(_queue: number, _batch: PacketBatch): number {
    return 0;
  }

  /**
   * Frees every packet and counts it in tx_dropped: packets reach a tunnel
   * through `tnl_push` and an output to a physical port, not by direct output.
   * No queue is involved: returns 0.
   */
  transmit(_queue: number, batch: PacketBatch): number {
    this.#txDropped += batch.count;
    batch.freeAll();
    return 0;
  }

  /** Current counters: only tx_dropped ever moves. */
  stats(): PortStats {
    const stats = emptyPortStats();
    stats.tx_dropped = this.#txDropped;
    return stats;
  }

  /** Nothing to release. */
  close(): void {}
}

interface ParsedIp {
  /** "flow" or the normalised address. */
  address: string;
  /** 4, 6, or 0 for "flow". */
  family: 0 | 4 | 6;
  multicast: boolean;
}

function parseTunnelIp(text: string, fail: (why: string) => never): ParsedIp {
  if (text === "flow") return { address: "flow", family: 0, multicast: false };
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) fail(`'${text}' is not an IPv4 address`);
    return { address: parts.join("."), family: 4, multicast: parts[0] >= 224 && parts[0] <= 239 };
  }
  if (/^[0-9a-fA-F:.]+$/.test(text) && text.includes(":")) {
    let host: string | undefined;
    try {
      host = new URL(`http://[${text}]/`).hostname;
    } catch {
      host = undefined;
    }
    if (host !== undefined) {
      const address = host.slice(1, -1);
      return { address, family: 6, multicast: address.startsWith("ff") };
    }
  }
  return fail(`'${text}' is not an IP address or 'flow'`);
}

function parseKey(text: string | undefined, fail: (why: string) => never): TunnelKeySetting {
  if (text === undefined) return null;
  if (text === "flow") return "flow";
  if (!/^(0[xX][0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(text)) {
    fail(`'${text}' is not 'flow' or a number`);
  }
  const value = BigInt(text);
  if (value > 0xffffffffffffffffn) fail(`'${text}' does not fit 64 bits`);
  return value;
}

function parseInteger(
  text: string,
  min: number,
  max: number,
  fail: (why: string) => never,
): number {
  const value = /^[0-9]{1,10}$/.test(text)
    ? Number(text)
    : /^0[xX][0-9a-fA-F]{1,8}$/.test(text)
    ? parseInt(text, 16)
    : NaN;
  if (!(value >= min && value <= max)) fail(`'${text}' is not an integer in ${min}..${max}`);
  return value;
}

function parseBoolean(
  text: string | undefined,
  fallback: boolean,
  fail: (why: string) => never,
): boolean {
  if (text === undefined) return fallback;
  if (text === "true") return true;
  if (text === "false") return false;
  return fail(`'${text}' is not 'true' or 'false'`);
}

/** Options as OVS's get_tunnel_config reports them: defaults left out. */
function normalisedOptions(
  config: TunnelConfig,
  dstPort: number,
  defaultPort: number,
): PortOptions {
  const out: PortOptions = { remote_ip: config.remoteIp };
  if (config.localIp !== null) out.local_ip = config.localIp;
  if (config.inKey !== null && config.inKey === config.outKey) {
    out.key = String(config.inKey);
  } else {
    if (config.inKey !== null) out.in_key = String(config.inKey);
    if (config.outKey !== null) out.out_key = String(config.outKey);
  }
  if (config.ttl !== DEFAULT_TUNNEL_TTL) out.ttl = String(config.ttl);
  if (config.tos !== 0) {
    out.tos = config.tos === "inherit" ? "inherit" : `0x${config.tos.toString(16)}`;
  }
  if (dstPort !== defaultPort) out.dst_port = String(dstPort);
  if (config.csum) out.csum = "true";
  if (!config.dfDefault) out.df_default = "false";
  return out;
}
