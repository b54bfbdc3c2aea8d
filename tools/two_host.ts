/**
 * The multi-host test: two deno-dpif services in two network namespaces,
 * joined by a veth pair (the underlay) through `net_af_packet` ports, each
 * with a client namespace behind another `net_af_packet` port; client A
 * (10.1.0.1/24) and client B (10.1.0.2/24) share one overlay subnet carried
 * by a VXLAN or Geneve tunnel (see tools/two_host_lab.ts for the topology).
 *
 * Each host gets, through its REST API: the PMD stopped, the default ports
 * removed, a `dpdk` underlay port (10), a `dpdk` client port (20) and the
 * tunnel vport (4789 vxlan / 6081 geneve), the PMD restarted over them, and
 * three explicit flows in OVS syntax:
 *
 * 1. `in_port(20),eth()` (everything from the client, ARP included) ->
 *    `tnl_push(tnl_port(T),header(...),out_port(10)),10`
 * 2. `in_port(10),eth(),eth_type(0x0800),ipv4(dst=LOCAL,proto=17,frag=no),udp(dst=PORT)` ->
 *    `tnl_pop(T)`
 * 3. `tunnel(tun_id=VNI,src=REMOTE,dst=LOCAL,flags(+key)),in_port(T),eth()` -> `20`
 *
 * Then client A pings client B, and a TCP transfer (nc) goes from A to B;
 * the received byte count and SHA-256 are checked. With `--learning` the
 * services run the built-in learning switch instead of explicit client
 * flows (only the tnl_pop flows are installed), and the result says which
 * way the packets went.
 *
 * ```sh
 * deno run -A tools/two_host.ts --tunnel=vxlan        # or geneve, or both (default)
 * deno run -A tools/two_host.ts --tunnel=geneve --bytes=4194304
 * deno run -A tools/two_host.ts --learning
 * ```
 *
 * Exit code 0 when every check passed, 1 when one failed, 2 for bad flags,
 * 77 when the lab cannot run here (the reason is printed).
 *
 * Parts: two_host_lab.ts (namespaces, veths, services, REST through curl),
 * two_host_flows.ts (the flows), two_host_traffic.ts (ping and nc).
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { DatapathStats } from "../datapath/datapath.ts";
import { hostFlows, tunnelPort, type TwoHostTunnel } from "./two_host_flows.ts";
import { ping, type PingResult, tcpTransfer, type TransferResult } from "./two_host_traffic.ts";
import {
  CLIENT_PORT,
  type HostService,
  TwoHostLab,
  twoHostUnavailable,
  UNDERLAY_PORT,
} from "./two_host_lab.ts";

export { hostFlows, OVERLAY_VNI, tunnelPort, type TwoHostTunnel } from "./two_host_flows.ts";
export { parsePing, type PingResult, type TransferResult } from "./two_host_traffic.ts";

/** Options of {@linkcode runTwoHost}. */
export interface TwoHostOptions {
  /** Tunnel protocol. */
  tunnel: TwoHostTunnel;
  /** Bytes of the TCP transfer. Default 1 MiB. */
  bytes?: number;
  /** Echo requests of the ping. Default 3. */
  pings?: number;
  /** Run the learning switch instead of explicit client flows. Default false. */
  learning?: boolean;
  /** Prints a progress line. Default: nothing. */
  log?: (line: string) => void;
}

/** What {@linkcode runTwoHost} measured. */
export interface TwoHostResult {
  tunnel: TwoHostTunnel;
  /** The prefix of every namespace, veth and EAL file prefix of the run. */
  labPrefix: string;
  learning: boolean;
  ping: PingResult;
  transfer: TransferResult | null;
  /** Packets the tnl_pop flow matched on host A and host B. */
  popPackets: [number, number];
  /** The MAC client A's ARP resolved for client B (null: none), proof that ARP crossed. */
  arpResolved: string | null;
  /** True when traffic went through the tunnel both ways (both tnl_pop flows matched packets). */
  tunnelCrossed: boolean;
  /** Per host: the ports' rx/tx counters and the datapath's drop counters. */
  hostStats: HostStats[];
  /** Mbufs still out of each host's pool once its PMD was stopped (0 means no leak). */
  mbufsInUse: [number, number];
  /** Service exit codes after SIGTERM (0 is a clean stop). */
  exitCodes: number[];
  /**
   * True when ping lost nothing, the transfer was complete and intact, the
   * traffic crossed the tunnel, no mbuf leaked and both services stopped cleanly.
   */
  ok: boolean;
}

/** Counters of one host. */
export interface HostStats {
  host: string;
  /** Per port name: rx / tx packets and drops. */
  ports: Record<string, { rx: number; tx: number; rx_dropped: number; tx_dropped: number }>;
  /** Non-zero drop counters of the datapath, plus n_missed / n_lost. */
  drops: Record<string, number>;
  /** The kernel's counters of the underlay veth end (what af_packet sits on). */
  underlayKernel: { rx: number; tx: number; rx_dropped: number; tx_dropped: number };
}

async function configureHost(
  lab: TwoHostLab,
  host: HostService,
  peer: HostService,
  tunnel: TwoHostTunnel,
  learning: boolean,
  log: (line: string) => void,
): Promise<string> {
  const dp = "/v1/datapaths/dp0";
  const label = host.plan.label;
  // A running PMD keeps polling the ports it started with: stop it while the default
  // (net_ring loopback) ports go and the af_packet ones come, then start it over them.
  await lab.mustRest(host, "PUT", `${dp}/pmd`, { threads: 0 });
  for (const name of ["p1", "p2"]) await lab.mustRest(host, "DELETE", `${dp}/ports/${name}`);
  for (
    const [name, portNo, iface] of [
      ["underlay", UNDERLAY_PORT, host.underlayIface],
      ["client", CLIENT_PORT, host.clientIface],
    ] as const
  ) {
    // framecnt=4096 (default 512): DPDK 22.11's af_packet never reads the socket's drop
    // counter, so a full kernel ring loses frames silently; a deep ring keeps up with TCP bursts.
    const devargs = `net_af_packet_${iface},iface=${iface},qpairs=2,framecnt=4096`;
    await lab.mustRest(host, "POST", `${dp}/ports`, {
      name,
      type: "dpdk",
      port_no: portNo,
      options: { devargs, n_rxq: "2", n_txq: "2" },
    });
    log(`host ${label}: port ${portNo} ${name}: dpdk ${devargs}`);
  }
  const vport = tunnelPort(tunnel);
  await lab.mustRest(host, "POST", `${dp}/ports`, vport);
  log(`host ${label}: port ${vport.port_no} ${vport.name}: remote_ip=flow,key=flow`);
  await lab.mustRest(host, "PUT", `${dp}/pmd`, { threads: 1 });

  let popUfid = "";
  for (const [flow, actions] of hostFlows(tunnel, host.plan, peer.plan, learning)) {
    const answer = await lab.mustRest(host, "POST", `${dp}/flows`, { flow, actions }) as {
      ufid: string;
    };
    if (actions.startsWith("tnl_pop")) popUfid = answer.ufid;
    log(`host ${label}: flow ${flow} actions:${actions}`);
  }
  return popUfid;
}

async function hostStats(
  lab: TwoHostLab,
  host: HostService,
  tunnel: TwoHostTunnel,
): Promise<HostStats> {
  const dp = "/v1/datapaths/dp0";
  const ports: HostStats["ports"] = {};
  for (const name of ["underlay", "client", tunnelPort(tunnel).name]) {
    const s = await lab.mustRest(host, "GET", `${dp}/ports/${name}/stats`) as Record<
      string,
      number
    >;
    ports[name] = {
      rx: s.rx_packets,
      tx: s.tx_packets,
      rx_dropped: s.rx_dropped,
      tx_dropped: s.tx_dropped,
    };
  }
  const stats = await lab.mustRest(host, "GET", `${dp}/stats`) as DatapathStats;
  const drops: Record<string, number> = {};
  for (const [name, count] of Object.entries(stats.drops)) if (count > 0) drops[name] = count;
  if (stats.n_missed > 0) drops.n_missed = stats.n_missed;
  if (stats.n_lost > 0) drops.n_lost = stats.n_lost;
  return { host: host.plan.label, ports, drops, underlayKernel: kernelCounters(lab, host) };
}

/** The kernel's packet counters of the host's underlay veth end (zeros when unreadable). */
function kernelCounters(lab: TwoHostLab, host: HostService): HostStats["underlayKernel"] {
  const out = lab.netns.exec(host.hostNs, "ip", ["-s", "-j", "link", "show", host.underlayIface]);
  try {
    const { rx, tx } = JSON.parse(out.stdout)[0].stats64;
    return { rx: rx.packets, tx: tx.packets, rx_dropped: rx.dropped, tx_dropped: tx.dropped };
  } catch {
    return { rx: 0, tx: 0, rx_dropped: 0, tx_dropped: 0 };
  }
}

/** The link-layer address a namespace's neighbour table holds for `ip`, or null. */
function neighbourMac(lab: TwoHostLab, netns: string, ip: string): string | null {
  const out = lab.netns.exec(netns, "ip", ["-j", "neigh", "show", ip]);
  try {
    return JSON.parse(out.stdout)[0]?.lladdr ?? null;
  } catch {
    return null;
  }
}

/** Stops the host's PMD (which returns what it holds) and reads the pool's in-use count. */
async function mbufsInUse(lab: TwoHostLab, host: HostService): Promise<number> {
  const dp = "/v1/datapaths/dp0";
  await lab.mustRest(host, "PUT", `${dp}/pmd`, { threads: 0 });
  const stats = await lab.mustRest(host, "GET", `${dp}/stats`) as DatapathStats;
  return stats.pool.in_use;
}

async function flowPackets(lab: TwoHostLab, host: HostService, ufid: string): Promise<number> {
  const flow = await lab.mustRest(host, "GET", `/v1/datapaths/dp0/flows/${ufid}`) as {
    stats?: { packets?: number };
    packets?: number;
  };
  return flow.stats?.packets ?? flow.packets ?? 0;
}

/**
 * Builds the lab, configures both hosts, runs ping and the TCP transfer,
 * collects counters and always tears everything down.
 * @throws {Error} when the lab cannot be built or an API call fails (after cleanup).
 */
export async function runTwoHost(options: TwoHostOptions): Promise<TwoHostResult> {
  const log = options.log ?? (() => {});
  const learning = options.learning ?? false;
  const lab = await TwoHostLab.create({ log, serviceFlags: learning ? ["--learning"] : [] });
  let exitCodes: number[] = [];
  try {
    const [a, b] = lab.hosts;
    const popA = await configureHost(lab, a, b, options.tunnel, learning, log);
    const popB = await configureHost(lab, b, a, options.tunnel, learning, log);
    log(`ping -c ${options.pings ?? 3} ${b.plan.clientAddress.split("/")[0]} from client A`);
    const pingResult = await ping(lab, options.pings ?? 3);
    let transfer: TransferResult | null = null;
    if (pingResult.received > 0) {
      log(`nc: ${options.bytes ?? 1 << 20} bytes from client A to client B`);
      transfer = await tcpTransfer(lab, options.bytes ?? 1 << 20);
    }
    const arpResolved = neighbourMac(lab, a.clientNs, b.plan.clientAddress.split("/")[0]);
    // Stopping the PMDs first folds their last report in: the counters below are final.
    const inUse: [number, number] = [await mbufsInUse(lab, a), await mbufsInUse(lab, b)];
    const popPackets: [number, number] = [
      await flowPackets(lab, a, popA),
      await flowPackets(lab, b, popB),
    ];
    const stats = [
      await hostStats(lab, a, options.tunnel),
      await hostStats(lab, b, options.tunnel),
    ];
    log("stopping both services (SIGTERM), removing namespaces");
    exitCodes = await lab.cleanup();
    const tunnelCrossed = popPackets[0] > 0 && popPackets[1] > 0;
    const ok = pingResult.lossPercent === 0 && transfer !== null && transfer.hashMatches &&
      tunnelCrossed && inUse[0] === 0 && inUse[1] === 0 && exitCodes.every((c) => c === 0);
    if (!ok) { for (const tail of lab.logTails) log(`service log tail, ${tail}`); }
    return {
      tunnel: options.tunnel,
      labPrefix: lab.netns.prefix,
      learning,
      ping: pingResult,
      transfer,
      popPackets,
      tunnelCrossed,
      arpResolved,
      hostStats: stats,
      mbufsInUse: inUse,
      exitCodes,
      ok,
    };
  } catch (error) {
    await lab.cleanup();
    for (const tail of lab.logTails) log(`service log tail, ${tail}`);
    throw error;
  } finally {
    await lab.cleanup();
  }
}

/** One human-readable summary of a result. */
export function formatResult(r: TwoHostResult): string {
  const p = r.ping;
  const lines = [
    `${r.tunnel}${r.learning ? " (learning switch)" : ""}: ping ${p.received}/${p.transmitted} ` +
    `received, ${p.lossPercent}% loss, rtt min/avg/max ${p.rttMinMs}/${p.rttAvgMs}/${p.rttMaxMs} ms`,
  ];
  const t = r.transfer;
  lines.push(
    t === null
      ? `  tcp: not run (ping got nothing back)`
      : `  tcp: ${t.receivedBytes}/${t.sentBytes} bytes, sha256 ${
        t.hashMatches ? "matches" : "DIFFERS"
      }, ${t.seconds.toFixed(3)} s, ${t.mbitPerSecond.toFixed(1)} Mbit/s`,
  );
  lines.push(
    `  tnl_pop flow packets: host A ${r.popPackets[0]}, host B ${r.popPackets[1]}: ` +
      (r.tunnelCrossed ? "the traffic crossed the tunnel" : "the traffic did NOT cross the tunnel" +
        (r.learning
          ? " (the learning switch bridges plain frames over the underlay port; its " +
            "outputs to the tunnel vport are dropped, see the vport's tx_dropped)"
          : "")),
  );
  for (const h of r.hostStats) {
    lines.push(
      `  host ${h.host}: ports ${JSON.stringify(h.ports)} drops ${JSON.stringify(h.drops)} ` +
        `underlay veth (kernel) ${JSON.stringify(h.underlayKernel)}`,
    );
  }
  lines.push(`  client A's ARP entry for client B: ${r.arpResolved ?? "none"}`);
  lines.push(`  mbufs in use after the PMDs stopped: ${r.mbufsInUse.join(", ")}`);
  lines.push(`  services stopped with exit codes ${r.exitCodes.join(", ")}`);
  lines.push(`  ${r.ok ? "OK" : "FAILED"}`);
  return lines.join("\n");
}

async function main(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      strict: true,
      options: {
        tunnel: { type: "string", default: "both" },
        bytes: { type: "string", default: String(1 << 20) },
        pings: { type: "string", default: "3" },
        learning: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    console.error(`two_host: ${(error as Error).message}`);
    return 2;
  }
  if (flags.help) {
    console.log(
      "Usage: deno run -A tools/two_host.ts [--tunnel=vxlan|geneve|both] [--bytes=N] " +
        "[--pings=N] [--learning] [--json]",
    );
    return 0;
  }
  const tunnels: TwoHostTunnel[] = flags.tunnel === "both"
    ? ["vxlan", "geneve"]
    : flags.tunnel === "vxlan" || flags.tunnel === "geneve"
    ? [flags.tunnel]
    : [];
  const bytes = Number(flags.bytes);
  const pings = Number(flags.pings);
  if (tunnels.length === 0 || !(Number.isInteger(bytes) && bytes > 0) || !(pings >= 1)) {
    console.error("two_host: --tunnel must be vxlan, geneve or both; --bytes and --pings > 0");
    return 2;
  }
  const unavailable = twoHostUnavailable();
  if (unavailable !== null) {
    console.error(`two_host: cannot run here: ${unavailable}`);
    return 77;
  }
  let allOk = true;
  for (const tunnel of tunnels) {
    const log = flags.json ? () => {} : (line: string) => console.log(`[${tunnel}] ${line}`);
    const result = await runTwoHost({ tunnel, bytes, pings, learning: flags.learning, log });
    console.log(flags.json ? JSON.stringify(result) : formatResult(result));
    allOk &&= result.ok;
  }
  return allOk ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
