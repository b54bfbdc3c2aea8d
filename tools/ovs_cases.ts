/**
 * The cases of the differential check against Open vSwitch: flows in OVS
 * datapath flow syntax and input frames built with the test fixtures.
 * tools/ovs_record.ts runs them through a real OVS (dummy datapath) and
 * records what it transmits in tests/fixtures/ovs_differential.json;
 * tests/ovs_differential_test.ts replays them through deno-dpif.
 *
 * Every case uses the same port set ({@linkcode OVS_PORTS}): three dummy
 * ports and one tunnel port of each type.
 *
 * @module
 */

import {
  bytesToHex,
  concatBytes,
  ethFrame,
  ipv4Packet,
  mplsFrame,
  tcp4Frame,
  udp4Frame,
  udp6Frame,
} from "../tests/fixtures/packets.ts";

/** A port of the differential datapath. */
export interface OvsPortSpec {
  name: string;
  port_no: number;
  type: "dummy" | "vxlan" | "geneve" | "gre";
  /** Tunnel options (as given to both OVS and deno-dpif). */
  options?: Record<string, string>;
}

/** One case before recording: flows (no ufid) and input frames. */
export interface OvsCase {
  name: string;
  flows: { flow: string; actions: string }[];
  input: { port: number; hex: string }[];
  /** What a reader should know about the case (an OVS quirk it avoids). */
  note?: string;
}

/** The ports every case has. */
export const OVS_PORTS: OvsPortSpec[] = [
  { name: "p1", port_no: 1, type: "dummy" },
  { name: "p2", port_no: 2, type: "dummy" },
  { name: "p3", port_no: 3, type: "dummy" },
  {
    name: "vxlan_sys_4789",
    port_no: 4789,
    type: "vxlan",
    options: { remote_ip: "flow", key: "flow", dst_port: "4789" },
  },
  {
    name: "genev_sys_6081",
    port_no: 6081,
    type: "geneve",
    options: { remote_ip: "flow", key: "flow", dst_port: "6081" },
  },
  { name: "gre_sys", port_no: 47, type: "gre", options: { remote_ip: "flow", key: "flow" } },
];

const PAYLOAD = Uint8Array.from({ length: 16 }, (_, i) => 0x41 + i);
const UDP4 = udp4Frame({ payload: PAYLOAD });
const TCP4 = tcp4Frame({ payload: PAYLOAD });
const UDP6 = udp6Frame({ payload: PAYLOAD });
const UDP4_VLAN = udp4Frame({ payload: PAYLOAD, vlans: [{ tci: 10 }] });

const IN1 = "in_port(1),eth()";
const IP4_UDP = "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no)";
const M_UDP4 = `${IN1},${IP4_UDP},udp(src=1234,dst=80)`;
const M_TCP4 =
  `${IN1},eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=1234,dst=80)`;
const M_UDP6 =
  `${IN1},eth_type(0x86dd),ipv6(src=2001:db8::1,dst=2001:db8::2,label=0,proto=17,tclass=0,hlimit=64,frag=no),udp(src=1234,dst=80)`;

// Outer headers of tunnel pushes (the remote end is 172.31.1.2 behind 0a:..:02).
const OUT_ETH = "eth(dst=0a:00:00:00:00:02,src=0a:00:00:00:00:01,dl_type=0x0800)";
const OUT_IP = (proto: number) =>
  `ipv4(src=172.31.1.1,dst=172.31.1.2,proto=${proto},tos=0,ttl=64,frag=0x4000)`;

/** A VXLAN header (I flag) with `vni`. */
function vxlanHeader(vni: number): Uint8Array {
  return Uint8Array.of(0x08, 0, 0, 0, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0);
}

/** A Geneve header without options (protocol transparent Ethernet bridging). */
function geneveHeader(vni: number): Uint8Array {
  return Uint8Array.of(0, 0, 0x65, 0x58, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0);
}

/** A GRE header with the key flag (no checksum), protocol transparent Ethernet bridging. */
function greKeyHeader(key: number): Uint8Array {
  return Uint8Array.of(
    0x20,
    0,
    0x65,
    0x58,
    key >>> 24,
    (key >> 16) & 0xff,
    (key >> 8) & 0xff,
    key & 0xff,
  );
}

const OUTER = { ethDst: "0a:00:00:00:00:01", ethSrc: "0a:00:00:00:00:02", ipSrc: "172.31.1.2" };
const OUTER_IP = { ...OUTER, ipDst: "172.31.1.1", dontFragment: true };
const TUN_M_INNER = `eth(),${IP4_UDP},udp(src=1234,dst=80)`;

const hex = bytesToHex;

/** The case list. */
export const OVS_CASES: OvsCase[] = [
  {
    name: "output to one port",
    flows: [{ flow: M_UDP4, actions: "2" }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "output to two ports",
    flows: [{ flow: M_UDP4, actions: "2,3" }],
    input: [{ port: 1, hex: hex(UDP4) }, { port: 1, hex: hex(UDP4) }],
  },
  {
    name: "set ipv4 src dst tos ttl, UDP checksum",
    flows: [{
      flow: M_UDP4,
      actions: "set(ipv4(src=35.8.2.41,dst=172.16.0.20,tos=0x80,ttl=128)),2",
    }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "set ipv4 src dst tos ttl, TCP checksum",
    flows: [{
      flow: M_TCP4,
      actions: "set(ipv4(src=35.8.2.41,dst=172.16.0.20,tos=0x80,ttl=128)),2",
    }],
    input: [{ port: 1, hex: hex(TCP4) }],
  },
  {
    name: "masked set eth",
    flows: [{
      flow: M_UDP4,
      actions: "set(eth(src=00:01:02:00:00:00/ff:ff:ff:00:00:00,dst=10:11:12:13:14:15)),2",
    }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "masked set eth, key bits outside the mask",
    note: "OVS ORs key bits outside the mask into the packet; deno-dpif ignores them.",
    flows: [{
      flow: M_UDP4,
      actions: "set(eth(src=00:01:02:03:04:05/ff:ff:ff:00:00:00,dst=10:11:12:13:14:15)),2",
    }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "masked set ipv4",
    flows: [{ flow: M_UDP4, actions: "set(ipv4(src=35.8.2.0/255.255.255.0,tos=0x80/0xfc)),2" }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "masked set ipv4, key bits outside the mask",
    note: "OVS ORs key bits outside the mask into the packet; deno-dpif ignores them.",
    flows: [{ flow: M_UDP4, actions: "set(ipv4(src=35.8.2.41/255.255.255.0,tos=0x80/0xfc)),2" }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "masked set udp and ipv6",
    flows: [{
      flow: M_UDP6,
      actions:
        "set(ipv6(src=2001:cafe::/ffff:ffff::,label=0x45/0xff,hlimit=7)),set(udp(src=0x1200/0xff00)),2",
    }],
    input: [{ port: 1, hex: hex(UDP6) }],
  },
  {
    name: "set ipv6, UDP checksum",
    flows: [{
      flow: M_UDP6,
      actions:
        "set(ipv6(src=2001:cafe::88,dst=2001:cafe::92,label=0x12345,tclass=0x70,hlimit=128)),2",
    }],
    input: [{ port: 1, hex: hex(UDP6) }],
  },
  {
    name: "set udp ports",
    flows: [{ flow: M_UDP4, actions: "set(udp(src=81,dst=6632)),2" }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "set tcp ports",
    flows: [{ flow: M_TCP4, actions: "set(tcp(src=80,dst=8080)),2" }],
    input: [{ port: 1, hex: hex(TCP4) }],
  },
  {
    name: "push_vlan",
    flows: [{ flow: M_UDP4, actions: "push_vlan(vid=12,pcp=5),2" }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "pop_vlan",
    flows: [{
      flow: `${IN1},eth_type(0x8100),vlan(vid=10,pcp=0),encap(${IP4_UDP},udp(src=1234,dst=80))`,
      actions: "pop_vlan,2",
    }],
    input: [{ port: 1, hex: hex(UDP4_VLAN) }],
  },
  {
    name: "QinQ push",
    flows: [{
      flow: `${IN1},eth_type(0x8100),vlan(vid=10,pcp=0),encap(${IP4_UDP},udp(src=1234,dst=80))`,
      actions: "push_vlan(tpid=0x88a8,vid=100,pcp=3),2",
    }],
    input: [{ port: 1, hex: hex(UDP4_VLAN) }],
  },
  {
    name: "push_mpls",
    flows: [{
      flow: M_UDP4,
      actions: "push_mpls(label=100,tc=3,ttl=32,bos=1,eth_type=0x8847),2",
    }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "pop_mpls",
    flows: [{
      flow: `${IN1},eth_type(0x8847),mpls(label=100,tc=0,ttl=64,bos=1)`,
      actions: "pop_mpls(eth_type=0x800),2",
    }],
    input: [{
      port: 1,
      hex: hex(mplsFrame([{ label: 100 }], udp4Frame({ payload: PAYLOAD }).subarray(14))),
    }],
  },
  {
    name: "vxlan tnl_push, src=0 csum=0xffff, then output",
    flows: [{
      flow: M_UDP4,
      actions: `tnl_push(tnl_port(4789),header(size=50,type=4,${OUT_ETH},${
        OUT_IP(17)
      },udp(src=0,dst=4789,csum=0xffff),vxlan(flags=0x8000000,vni=0x7b)),out_port(2)),2`,
    }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "vxlan tnl_push, no checksum",
    flows: [{
      flow: M_UDP4,
      actions: `tnl_push(tnl_port(4789),header(size=50,type=4,${OUT_ETH},${
        OUT_IP(17)
      },udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x7b)),out_port(2)),2`,
    }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "geneve tnl_push with an option",
    flows: [{
      flow: M_UDP4,
      actions: `tnl_push(tnl_port(6081),header(size=58,type=5,${OUT_ETH},${
        OUT_IP(17)
      },udp(src=0,dst=6081,csum=0x0),geneve(crit,vni=0x1c7,options({class=0xffff,type=0x80,len=4,0xa}))),out_port(2)),2`,
    }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "gre tnl_push with key and csum",
    flows: [{
      flow: M_UDP4,
      actions: `tnl_push(tnl_port(47),header(size=46,type=3,${OUT_ETH},${
        OUT_IP(47)
      },gre((flags=0xa000,proto=0x6558),csum=0x0,key=0x1e241)),out_port(2)),2`,
    }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "vxlan tnl_pop then tunnel flow",
    flows: [
      {
        flow:
          `${IN1},eth_type(0x0800),ipv4(src=172.31.1.2,dst=172.31.1.1,proto=17,tos=0,ttl=64,frag=no),udp(src=5000,dst=4789)`,
        actions: "tnl_pop(4789)",
      },
      {
        flow:
          `tunnel(tun_id=0x7b,src=172.31.1.2,dst=172.31.1.1,ttl=64,tp_src=5000,tp_dst=4789,flags(-df+csum+key)),in_port(4789),${TUN_M_INNER}`,
        actions: "2",
      },
    ],
    input: [{
      port: 1,
      hex: hex(
        udp4Frame({
          ...OUTER_IP,
          srcPort: 5000,
          dstPort: 4789,
          payload: concatBytes(vxlanHeader(0x7b), UDP4),
        }),
      ),
    }],
  },
  {
    name: "geneve tnl_pop then tunnel flow",
    note: "The encapsulated frame carries no Geneve option: with one, OVS 3.1's userspace " +
      "datapath matched no flow given through dpctl/add-flow after tnl_pop (the packet's " +
      "options are kept in UDPIF form), so options are checked only in the tnl_push case.",
    flows: [
      {
        flow:
          `${IN1},eth_type(0x0800),ipv4(src=172.31.1.2,dst=172.31.1.1,proto=17,tos=0,ttl=64,frag=no),udp(src=5000,dst=6081)`,
        actions: "tnl_pop(6081)",
      },
      {
        flow:
          `tunnel(tun_id=0x1c7,src=172.31.1.2,dst=172.31.1.1,ttl=64,tp_src=5000,tp_dst=6081,flags(-df+csum+key)),in_port(6081),${TUN_M_INNER}`,
        actions: "2",
      },
    ],
    input: [{
      port: 1,
      hex: hex(
        udp4Frame({
          ...OUTER_IP,
          srcPort: 5000,
          dstPort: 6081,
          payload: concatBytes(geneveHeader(0x1c7), UDP4),
        }),
      ),
    }],
  },
  {
    name: "gre tnl_pop then tunnel flow",
    note: "OVS 3.1's userspace tnl_pop never sets the df flag, even with DF in the outer " +
      "header, and sets csum for UDP tunnels whose outer UDP checksum is not zero.",
    flows: [
      {
        flow:
          `${IN1},eth_type(0x0800),ipv4(src=172.31.1.2,dst=172.31.1.1,proto=47,tos=0,ttl=64,frag=no)`,
        actions: "tnl_pop(47)",
      },
      {
        flow:
          `tunnel(tun_id=0x1e241,src=172.31.1.2,dst=172.31.1.1,ttl=64,flags(-df-csum+key)),in_port(47),${TUN_M_INNER}`,
        actions: "2",
      },
    ],
    input: [{
      port: 1,
      hex: hex(
        ethFrame(0x0800, ipv4Packet(47, concatBytes(greKeyHeader(0x1e241), UDP4), OUTER_IP), OUTER),
      ),
    }],
  },
  {
    name: "trunc then output",
    flows: [{ flow: M_UDP4, actions: "trunc(40),2,3" }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "check_pkt_len",
    flows: [{ flow: M_UDP4, actions: "check_pkt_len(size=60,gt(2),le(3))" }],
    input: [
      { port: 1, hex: hex(UDP4) },
      { port: 1, hex: hex(udp4Frame({ payload: new Uint8Array(2), padTo: 60 })) },
    ],
  },
];
