/**
 * The flow set the flow-dump bench and tests install: exact 5-tuple flows
 * spread over 10 masks (IPv4 and IPv6, UDP and TCP, prefixes, a VLAN tag
 * and a tunnel match), with output, set(), push_vlan and VXLAN tnl_push
 * actions in turn, as ODP text for `Datapath.putFlow`.
 *
 * @module
 */

const ETH = "eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x0800)";
const IP4 = "ipv4(src=1.1.2.88,dst=1.1.2.92,proto=17,tos=0,ttl=64,frag=0x4000)";

/** Dotted IPv4 of a flow number in 10.x.y.z. */
function ip4(i: number): string {
  return `10.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`;
}

/** An IPv6 address of a flow number. */
function ip6(i: number): string {
  return `2001:db8::${((i >>> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}`;
}

/** The match of flow `i` (unique over all i): mask number i % 10. */
export function dumpBenchFlow(i: number): string {
  const n = Math.floor(i / 10);
  const port = 1 + (n % 60000);
  const hi = Math.floor(n / 60000);
  switch (i % 10) {
    case 0:
      return `in_port(1),eth(),eth_type(0x0800),ipv4(src=${ip4(n)},dst=192.168.${hi}.1,proto=17,` +
        `frag=no),udp(src=${port},dst=53)`;
    case 1:
      return `in_port(1),eth(),eth_type(0x0800),ipv4(src=${ip4(n)},dst=192.168.${hi}.2,proto=6,` +
        `frag=no),tcp(src=${port},dst=80)`;
    case 2:
      return `in_port(2),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),` +
        `ipv4(src=${ip4(n)},dst=192.168.${hi}.3,proto=17,tos=0/0xfc,ttl=64,frag=no),` +
        `udp(src=${port},dst=4789)`;
    case 3:
      return `in_port(1),eth(),eth_type(0x86dd),ipv6(src=${ip6(n)},dst=2001:db8::${hi}:1,` +
        `proto=17,frag=no),udp(src=${port},dst=53)`;
    case 4:
      return `in_port(1),eth(),eth_type(0x86dd),ipv6(src=${ip6(n)},dst=2001:db8::${hi}:2,` +
        `label=0/0xfffff,proto=6,frag=no),tcp(src=${port},dst=443),tcp_flags(+syn-ack)`;
    case 5:
      return `recirc_id(0x${(n + 1).toString(16)}),in_port(3),eth(),eth_type(0x0800),` +
        `ipv4(src=${ip4(n)},dst=172.16.0.0/255.240.0.0,proto=17,frag=no),udp(src=${port})`;
    case 6:
      return `in_port(1),eth(src=00:00:00:00:00:01),eth_type(0x8100),` +
        `vlan(vid=${1 + (n % 4000)},pcp=0),encap(eth_type(0x0800),ipv4(src=${ip4(n)},` +
        `dst=192.168.${hi}.6,proto=17,frag=no),udp(src=${port},dst=53))`;
    case 7:
      return `tunnel(tun_id=0x${(n + 1).toString(16)},src=172.31.0.1,dst=172.31.0.2,` +
        `flags(-df+key)),in_port(4),eth(),eth_type(0x0800),ipv4(src=${ip4(n)},` +
        `dst=192.168.${hi}.7,proto=17,frag=no),udp(src=${port},dst=53)`;
    case 8:
      return `skb_mark(0x${(n + 1).toString(16)}/0xffff),in_port(1),eth(),eth_type(0x0800),` +
        `ipv4(src=${ip4(n)},dst=192.168.${hi}.8,proto=1,frag=no),icmp(type=8,code=0)`;
    default:
      return `in_port(1),eth(),eth_type(0x0800),ipv4(src=${ip4(n)},dst=192.168.${hi}.9,` +
        `proto=6,frag=no),tcp(src=${port},dst=22)`;
  }
}

/** The actions of flow `i`: output, set(ipv4), set(eth)+push_vlan, VXLAN tnl_push in turn. */
export function dumpBenchActions(i: number): string {
  const n = Math.floor(i / 10);
  switch (Math.floor(i / 10) % 4) {
    case 0:
      return "2";
    case 1:
      return `set(ipv4(src=${ip4(n)},ttl=63)),2`;
    case 2:
      return `set(eth(src=00:00:00:00:00:0a,dst=00:00:00:00:00:0b)),push_vlan(vid=${
        1 + (n % 4000)
      },pcp=0),3`;
    default:
      return `tnl_push(tnl_port(6),header(size=50,type=4,${ETH},${IP4},` +
        `udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x${
          (n & 0xffffff).toString(16)
        })),out_port(1))`;
  }
}
