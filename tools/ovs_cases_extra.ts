/**
 * More cases for the differential check against Open vSwitch (see
 * tools/ovs_cases.ts for the format): corner cases of checksums, nested
 * and recirculating actions, SCTP, ICMP and tunnels over IPv6.
 *
 * @module
 */

import {
  bytesToHex,
  icmp4Frame,
  icmp6Frame,
  sctp4Frame,
  tcp6Frame,
  udp4Frame,
} from "../tests/fixtures/packets.ts";
import type { OvsCase } from "./ovs_cases.ts";

const PAYLOAD = Uint8Array.from({ length: 16 }, (_, i) => 0x61 + i);
const UDP4 = udp4Frame({ payload: PAYLOAD });
const IN1 = "in_port(1),eth()";
const IP4 = (proto: number) =>
  `eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=${proto},tos=0,ttl=64,frag=no)`;
const M_UDP4 = `${IN1},${IP4(17)},udp(src=1234,dst=80)`;
const M_VLAN = (vid: number, inner: string) =>
  `eth_type(0x8100),vlan(vid=${vid},pcp=0),encap(${inner})`;

/** A UDP/IPv4 frame whose UDP checksum is 0 (no checksum). */
function udp4NoChecksum(): Uint8Array {
  const frame = udp4Frame({ payload: PAYLOAD });
  frame[40] = 0;
  frame[41] = 0;
  return frame;
}

const OUT6_ETH = "eth(dst=0a:00:00:00:00:02,src=0a:00:00:00:00:01,dl_type=0x86dd)";
const OUT6_IP = "ipv6(src=2001:cafe::1,dst=2001:cafe::2,label=0,proto=17,tclass=0x0,hlimit=64)";

const hex = bytesToHex;

/** The extra case list. */
export const OVS_EXTRA_CASES: OvsCase[] = [
  {
    name: "set ipv4 addresses, UDP checksum 0 stays 0",
    flows: [{ flow: M_UDP4, actions: "set(ipv4(src=192.168.7.7,ttl=3)),set(udp(dst=53)),2" }],
    input: [{ port: 1, hex: hex(udp4NoChecksum()) }],
  },
  {
    name: "set sctp ports (CRC32c kept consistent)",
    flows: [{
      flow: `${IN1},${IP4(132)},sctp(src=1234,dst=80)`,
      actions: "set(sctp(src=5,dst=6)),2",
    }],
    input: [{ port: 1, hex: hex(sctp4Frame({ payload: PAYLOAD })) }],
  },
  {
    name: "set icmp type and code",
    flows: [{
      flow: `${IN1},${IP4(1)},icmp(type=8,code=0)`,
      actions: "set(icmp(type=0,code=3)),2",
    }],
    input: [{ port: 1, hex: hex(icmp4Frame()) }],
  },
  {
    name: "set icmpv6 type and code",
    flows: [{
      flow:
        `${IN1},eth_type(0x86dd),ipv6(src=2001:db8::1,dst=2001:db8::2,label=0,proto=58,tclass=0,hlimit=64,frag=no),icmpv6(type=128,code=0)`,
      actions: "set(icmpv6(type=129,code=1)),2",
    }],
    input: [{ port: 1, hex: hex(icmp6Frame()) }],
  },
  {
    name: "set ipv6 on TCP",
    flows: [{
      flow:
        `${IN1},eth_type(0x86dd),ipv6(src=2001:db8::1,dst=2001:db8::2,label=0,proto=6,tclass=0,hlimit=64,frag=no),tcp(src=1234,dst=80)`,
      actions: "set(ipv6(dst=2001:db8::99)),set(tcp(src=443)),2",
    }],
    input: [{ port: 1, hex: hex(tcp6Frame({ payload: PAYLOAD })) }],
  },
  {
    name: "clone",
    flows: [{ flow: M_UDP4, actions: "clone(push_vlan(vid=12,pcp=0),2),3" }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "sample 100%",
    flows: [{ flow: M_UDP4, actions: "sample(sample=100.0%,actions(set(ipv4(ttl=9)),2)),3" }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "catch-all flow, tagged and untagged frames",
    flows: [{ flow: `${IN1},eth_type(0x1234/0)`, actions: "2" }],
    input: [
      { port: 1, hex: hex(udp4Frame({ payload: PAYLOAD, vlans: [{ tci: 10 }] })) },
      { port: 1, hex: hex(UDP4) },
    ],
  },
  {
    name: "untagged flow and one-tag flow, frames with 0, 1 and 2 tags",
    flows: [
      { flow: M_UDP4, actions: "2" },
      { flow: `${IN1},${M_VLAN(10, `${IP4(17)},udp(src=1234,dst=80)`)}`, actions: "3" },
    ],
    input: [
      { port: 1, hex: hex(UDP4) },
      { port: 1, hex: hex(udp4Frame({ payload: PAYLOAD, vlans: [{ tci: 10 }] })) },
      { port: 1, hex: hex(udp4Frame({ payload: PAYLOAD, vlans: [{ tci: 10 }, { tci: 20 }] })) },
    ],
  },
  {
    name: "check_pkt_len with nested set",
    flows: [{
      flow: M_UDP4,
      actions: "check_pkt_len(size=60,gt(set(ipv4(ttl=1)),2),le(push_vlan(vid=7,pcp=1),3))",
    }],
    input: [
      { port: 1, hex: hex(UDP4) },
      { port: 1, hex: hex(udp4Frame({ payload: new Uint8Array(2), padTo: 60 })) },
    ],
  },
  {
    name: "recirc to a second flow",
    flows: [
      { flow: M_UDP4, actions: "push_vlan(vid=5,pcp=0),recirc(7)" },
      {
        flow: `recirc_id(7),${IN1},${M_VLAN(5, `${IP4(17)},udp(src=1234,dst=80)`)}`,
        actions: "set(eth(dst=00:00:00:00:00:77)),2",
      },
    ],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "trunc longer than the frame, and trunc before clone",
    flows: [{ flow: M_UDP4, actions: "trunc(1000),2,trunc(20),clone(3),2" }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "vxlan tnl_push over IPv6 with checksum",
    flows: [{
      flow: M_UDP4,
      actions:
        `tnl_push(tnl_port(4789),header(size=70,type=4,${OUT6_ETH},${OUT6_IP},udp(src=0,dst=4789,csum=0xffff),vxlan(flags=0x8000000,vni=0x7b)),out_port(2)),2`,
    }],
    input: [{ port: 1, hex: hex(UDP4) }],
  },
  {
    name: "vxlan tnl_push of a tagged frame, template source port 5555",
    flows: [{
      flow: `${IN1},${M_VLAN(10, `${IP4(17)},udp(src=1234,dst=80)`)}`,
      actions:
        "tnl_push(tnl_port(4789),header(size=50,type=4,eth(dst=0a:00:00:00:00:02,src=0a:00:00:00:00:01,dl_type=0x0800),ipv4(src=172.31.1.1,dst=172.31.1.2,proto=17,tos=0x20,ttl=9,frag=0x4000),udp(src=5555,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0xffffff)),out_port(2)),2",
    }],
    input: [{ port: 1, hex: hex(udp4Frame({ payload: PAYLOAD, vlans: [{ tci: 10 }] })) }],
  },
];
