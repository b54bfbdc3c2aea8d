/**
 * The flows of the two-host test (tools/two_host.ts), in OVS datapath
 * syntax: for each host, what its client sends is pushed into the tunnel
 * towards the other host, what arrives for it on the underlay is popped,
 * and what the tunnel delivers goes to its client. Pure text builders: no
 * I/O, usable on any backend (the tests run them on memory datapaths too).
 *
 * @module
 */

import { CLIENT_PORT, UNDERLAY_PORT } from "./two_host_lab.ts";

/** Tunnel protocols the test runs. */
export type TwoHostTunnel = "vxlan" | "geneve";

/** VNI / tunnel key of the overlay. */
export const OVERLAY_VNI = 0x7b;

interface TunnelSpec {
  type: TwoHostTunnel;
  /** Datapath port number of the tunnel vport (its UDP port, as OVS names them). */
  portNo: number;
  dstPort: number;
  /** tnl_push header type (4 vxlan, 5 geneve). */
  headerType: number;
  /** The tunnel header of the template. */
  headerText: string;
}

function tunnelSpec(type: TwoHostTunnel): TunnelSpec {
  const vni = `0x${OVERLAY_VNI.toString(16)}`;
  return type === "vxlan"
    ? {
      type,
      portNo: 4789,
      dstPort: 4789,
      headerType: 4,
      headerText: `vxlan(flags=0x8000000,vni=${vni})`,
    }
    : { type, portNo: 6081, dstPort: 6081, headerType: 5, headerText: `geneve(vni=${vni})` };
}

/** What the flows need to know of a host: its underlay address and MAC. */
export interface HostAddresses {
  underlayIp: string;
  underlayMac: string;
}

/** The tnl_push action of `local` towards `remote` (src=0: hashed UDP source port). */
export function pushActions(
  tunnel: TwoHostTunnel,
  local: HostAddresses,
  remote: HostAddresses,
): string {
  const t = tunnelSpec(tunnel);
  return `tnl_push(tnl_port(${t.portNo}),header(size=50,type=${t.headerType},` +
    `eth(dst=${remote.underlayMac},src=${local.underlayMac},dl_type=0x0800),` +
    `ipv4(src=${local.underlayIp},dst=${remote.underlayIp},proto=17,tos=0,ttl=64,frag=0x4000),` +
    `udp(src=0,dst=${t.dstPort},csum=0x0),${t.headerText}),out_port(${UNDERLAY_PORT})),` +
    `${UNDERLAY_PORT}`;
}

/** The match of encapsulated packets arriving for `localIp` on the underlay. */
export function popMatch(tunnel: TwoHostTunnel, localIp: string): string {
  const t = tunnelSpec(tunnel);
  return `in_port(${UNDERLAY_PORT}),eth(),eth_type(0x0800),` +
    `ipv4(dst=${localIp},proto=17,frag=no),udp(dst=${t.dstPort})`;
}

/** The match of decapsulated packets from `remoteIp` (any inner frame, ARP included). */
export function decapMatch(tunnel: TwoHostTunnel, localIp: string, remoteIp: string): string {
  const t = tunnelSpec(tunnel);
  return `tunnel(tun_id=0x${OVERLAY_VNI.toString(16)},src=${remoteIp},dst=${localIp},` +
    `flags(+key)),in_port(${t.portNo}),eth()`;
}

/**
 * The flows of one host, as [match, actions] in OVS syntax: the tnl_pop of
 * what arrives for it on the underlay, and unless `learning`, the push of
 * everything from its client and the output of what the tunnel delivers.
 */
export function hostFlows(
  tunnel: TwoHostTunnel,
  local: HostAddresses,
  remote: HostAddresses,
  learning = false,
): [string, string][] {
  const t = tunnelSpec(tunnel);
  const flows: [string, string][] = [
    [popMatch(tunnel, local.underlayIp), `tnl_pop(${t.portNo})`],
  ];
  if (!learning) {
    flows.push(
      [`in_port(${CLIENT_PORT}),eth()`, pushActions(tunnel, local, remote)],
      [decapMatch(tunnel, local.underlayIp, remote.underlayIp), String(CLIENT_PORT)],
    );
  }
  return flows;
}

/** The tunnel vport of a host: name, port number and options. */
export function tunnelPort(
  tunnel: TwoHostTunnel,
): { name: string; port_no: number; type: TwoHostTunnel; options: Record<string, string> } {
  const t = tunnelSpec(tunnel);
  return {
    name: `${tunnel}_sys_${t.dstPort}`,
    type: tunnel,
    port_no: t.portNo,
    options: { remote_ip: "flow", key: "flow" },
  };
}
