/**
 * Random ODP action lists and flow matches for the packet fuzzer, written
 * as text so that every case prints and replays as what a client would send.
 *
 * Two kinds of action list:
 * - single-fate ({@linkcode singleFateActions}): header changes followed by
 *   exactly one way out (output, drop, recirc, userspace, tnl_pop, a last
 *   clone or check_pkt_len whose branches are single-fate again). Each input
 *   packet then ends exactly once: sent, dropped and counted, or upcalled,
 *   so the fuzzer can check that the sum equals the input.
 * - any ({@linkcode anyActions}): everything, including copies (outputs and
 *   clones in the middle) and userspace in the middle, checked only for
 *   "at least one fate per packet".
 *
 * @module
 */

import type { Prng } from "./prng.ts";

/** Port numbers actions use: local, the dummy ports, the tunnel vports, and one that is absent. */
export const ACTION_PORTS = [0, 1, 2, 3, 4789, 6081, 47, 99] as const;

/** Valid tunnel header templates (from tests/fixtures/ovs_differential.json). */
export const TUNNEL_TEMPLATES: readonly string[] = [
  "tnl_push(tnl_port(4789),header(size=50,type=4,eth(dst=0a:00:00:00:00:02,src=0a:00:00:00:00:01,dl_type=0x0800),ipv4(src=172.31.1.1,dst=172.31.1.2,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x7b)),out_port(2))",
  "tnl_push(tnl_port(4789),header(size=50,type=4,eth(dst=0a:00:00:00:00:02,src=0a:00:00:00:00:01,dl_type=0x0800),ipv4(src=172.31.1.1,dst=172.31.1.2,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0xffff),vxlan(flags=0x8000000,vni=0x7b)),out_port(2))",
  "tnl_push(tnl_port(4789),header(size=70,type=4,eth(dst=0a:00:00:00:00:02,src=0a:00:00:00:00:01,dl_type=0x86dd),ipv6(src=2001:cafe::1,dst=2001:cafe::2,label=0,proto=17,tclass=0x0,hlimit=64),udp(src=0,dst=4789,csum=0xffff),vxlan(flags=0x8000000,vni=0x7b)),out_port(2))",
  "tnl_push(tnl_port(6081),header(size=58,type=5,eth(dst=0a:00:00:00:00:02,src=0a:00:00:00:00:01,dl_type=0x0800),ipv4(src=172.31.1.1,dst=172.31.1.2,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0x0),geneve(crit,vni=0x1c7,options({class=0xffff,type=0x80,len=4,0xa}))),out_port(2))",
  "tnl_push(tnl_port(47),header(size=46,type=3,eth(dst=0a:00:00:00:00:02,src=0a:00:00:00:00:01,dl_type=0x0800),ipv4(src=172.31.1.1,dst=172.31.1.2,proto=47,tos=0,ttl=64,frag=0x4000),gre((flags=0xa000,proto=0x6558),csum=0x0,key=0x1e241)),out_port(2))",
  "tnl_push(tnl_port(47),header(size=42,type=3,eth(dst=0a:00:00:00:00:02,src=0a:00:00:00:00:01,dl_type=0x0800),ipv4(src=172.31.1.1,dst=172.31.1.2,proto=47,tos=0,ttl=64,frag=0x4000),gre((flags=0x2000,proto=0x6558),key=0x7b)),out_port(2))",
];

function hex(rng: Prng, bits: number): string {
  return "0x" + (bits >= 32 ? rng.next() : rng.int(2 ** bits)).toString(16);
}
function mac(rng: Prng): string {
  return Array.from({ length: 6 }, () => rng.byte().toString(16).padStart(2, "0")).join(":");
}
function ip4(rng: Prng): string {
  return Array.from({ length: 4 }, () => rng.byte()).join(".");
}
function ip6(rng: Prng): string {
  return `2001:${rng.int(0x10000).toString(16)}::${rng.int(0x10000).toString(16)}`;
}
/** `value` or `value/mask` with a mask drawn by `mask`. */
function masked(rng: Prng, value: string, mask: () => string): string {
  return rng.chance(0.3) ? `${value}/${mask()}` : value;
}

/** Fields `name=value` drawn from `fields`, at least one, each at most once. */
function someFields(rng: Prng, fields: readonly (() => string)[]): string {
  const out: string[] = [];
  for (const f of fields) if (rng.chance(0.5)) out.push(f());
  if (out.length === 0) out.push(rng.pick(fields)());
  return out.join(",");
}

/** A random `set(...)` action over every settable attribute, masked or not. */
export function setAction(rng: Prng): string {
  switch (rng.int(12)) {
    case 0:
      return `set(eth(${
        someFields(rng, [
          () => `src=${masked(rng, mac(rng), () => mac(rng))}`,
          () => `dst=${masked(rng, mac(rng), () => mac(rng))}`,
        ])
      }))`;
    case 1:
      return `set(ipv4(${
        someFields(rng, [
          () => `src=${masked(rng, ip4(rng), () => ip4(rng))}`,
          () => `dst=${masked(rng, ip4(rng), () => ip4(rng))}`,
          () => `tos=${masked(rng, hex(rng, 8), () => hex(rng, 8))}`,
          () => `ttl=${rng.edgy(255)}`,
        ])
      }))`;
    case 2:
      return `set(ipv6(${
        someFields(rng, [
          () => `src=${masked(rng, ip6(rng), () => ip6(rng))}`,
          () => `dst=${ip6(rng)}`,
          () => `label=${masked(rng, hex(rng, 20), () => hex(rng, 20))}`,
          () => `tclass=${hex(rng, 8)}`,
          () => `hlimit=${rng.edgy(255)}`,
        ])
      }))`;
    case 3:
    case 4:
    case 5: {
      const proto = rng.pick(["tcp", "udp", "sctp"]);
      return `set(${proto}(${
        someFields(rng, [
          () => `src=${masked(rng, String(rng.edgy(65535)), () => hex(rng, 16))}`,
          () => `dst=${rng.edgy(65535)}`,
        ])
      }))`;
    }
    case 6:
      return `set(${rng.pick(["icmp", "icmpv6"])}(${
        someFields(rng, [() => `type=${rng.edgy(255)}`, () => `code=${rng.edgy(255)}`])
      }))`;
    case 7:
      return `set(mpls(${
        someFields(rng, [
          () => `label=${rng.edgy(0xfffff)}`,
          () => `tc=${rng.int(8)}`,
          () => `ttl=${rng.edgy(255)}`,
          () => `bos=${rng.int(2)}`,
        ])
      }))`;
    case 8:
      return `set(skb_mark(${masked(rng, hex(rng, 32), () => hex(rng, 32))}))`;
    case 9:
      return `set(skb_priority(${hex(rng, 32)}))`;
    case 10:
      return `set(tunnel(tun_id=${hex(rng, 32)},src=${ip4(rng)},dst=${ip4(rng)},ttl=${
        rng.range(1, 255)
      },flags(df|key)))`;
    default:
      return "set(ipv4(ttl=1))";
  }
}

/** A tnl_push: a valid template, sometimes pointed at the wrong port or with a changed field. */
export function tunnelPush(rng: Prng): string {
  let text = rng.pick(TUNNEL_TEMPLATES);
  if (rng.chance(0.2)) {
    text = text.replace(/tnl_port\(\d+\)/, `tnl_port(${rng.pick(ACTION_PORTS)})`);
  }
  if (rng.chance(0.2)) text = text.replace(/vni=0x[0-9a-f]+/, `vni=${hex(rng, 24)}`);
  if (rng.chance(0.1)) text = text.replace(/flags=0x[0-9a-f]+/, `flags=${hex(rng, 16)}`);
  if (rng.chance(0.1)) text = text.replace(/src=0,/, `src=${rng.edgy(65535)},`);
  if (rng.chance(0.1)) text = text.replace(/ttl=64/, `ttl=${rng.edgy(255)}`);
  return text;
}

/** An action that changes the packet and lets it go on (it may fail and drop it, counted). */
export function transformAction(rng: Prng): string {
  switch (rng.int(10)) {
    case 0:
    case 1:
    case 2:
      return setAction(rng);
    case 3:
      return rng.chance(0.7)
        ? `push_vlan(vid=${rng.edgy(4095)},pcp=${rng.int(8)})`
        : `push_vlan(tpid=0x88a8,vid=${rng.edgy(4095)},pcp=${rng.int(8)})`;
    case 4:
      return "pop_vlan";
    case 5:
      return `push_mpls(label=${rng.edgy(0xfffff)},tc=${rng.int(8)},ttl=${rng.edgy(255)},bos=${
        rng.int(2)
      },eth_type=${rng.pick(["0x8847", "0x8848"])})`;
    case 6:
      return `pop_mpls(eth_type=${rng.pick(["0x800", "0x86dd", "0x8847", "0x806", "0x1234"])})`;
    case 7:
      return `hash(${rng.pick(["l4", "sym_l4"])}(${rng.edgy(0xffffffff)}))`;
    case 8:
      return `trunc(${rng.edgy(2000)})`;
    default:
      return tunnelPush(rng);
  }
}

/** The one way out of a single-fate list. */
function terminalAction(rng: Prng, depth: number): string {
  const nest = depth < 3;
  switch (rng.int(nest ? 10 : 7)) {
    case 0:
    case 1:
    case 2:
      return String(rng.pick(ACTION_PORTS));
    case 3:
      return rng.chance(0.5) ? "drop" : "";
    case 4:
      return `recirc(${rng.range(1, 3)})`;
    case 5:
      return rng.chance(0.5)
        ? `userspace(pid=${rng.next()})`
        : `userspace(pid=${rng.int(100)},userdata(0102030405060708))`;
    case 6:
      return `tnl_pop(${rng.pick([4789, 6081, 47, 2, 99])})`;
    case 7:
    case 8:
      return `clone(${singleFateActions(rng, depth + 1)})`;
    default:
      return `check_pkt_len(size=${rng.edgy(1600)},gt(${singleFateActions(rng, depth + 1)}),le(${
        singleFateActions(rng, depth + 1)
      }))`;
  }
}

/** Header changes then exactly one way out: each packet ends exactly once. */
export function singleFateActions(rng: Prng, depth = 0): string {
  const parts: string[] = [];
  for (let n = rng.int(4); n > 0; n--) parts.push(transformAction(rng));
  const last = terminalAction(rng, depth);
  if (last !== "") parts.push(last);
  return parts.join(",");
}

/** Any action list: copies, userspace in the middle, nested clones and branches. */
export function anyActions(rng: Prng, depth = 0): string {
  const parts: string[] = [];
  for (let n = rng.range(1, 6); n > 0; n--) {
    const roll = rng.int(10);
    if (roll < 4) parts.push(transformAction(rng));
    else if (roll < 6) parts.push(String(rng.pick(ACTION_PORTS)));
    else if (roll < 7) parts.push(`userspace(pid=${rng.int(1000)})`);
    else if (roll < 8 && depth < 3) parts.push(`clone(${anyActions(rng, depth + 1)})`);
    else if (roll < 9 && depth < 3) {
      parts.push(
        `check_pkt_len(size=${rng.edgy(1600)},gt(${anyActions(rng, depth + 1)}),le(${
          anyActions(rng, depth + 1)
        }))`,
      );
    } else parts.push(terminalAction(rng, depth));
  }
  return parts.filter((p) => p !== "").join(",");
}

/** Flow matches (for in_port 1 and the tunnel vports) from catch-all to specific. */
export function flowMatch(rng: Prng, inPort: number, recircId: number): string {
  const head = `recirc_id(${recircId}),in_port(${inPort}),eth()`;
  switch (rng.int(8)) {
    case 0:
      return `${head},eth_type(0x0800),ipv4(proto=17,frag=no),udp()`;
    case 1:
      return `${head},eth_type(0x0800),ipv4(frag=no)`;
    case 2:
      return `${head},eth_type(0x86dd),ipv6(frag=no)`;
    case 3:
      return `${head},eth_type(0x8100),vlan(vid=${rng.edgy(4095)}),encap(eth_type(0x0800))`;
    case 4:
      return `${head},eth_type(0x0806),arp()`;
    case 5:
      return `${head},eth_type(0x0800),ipv4(proto=6,frag=no),tcp(dst=80)`;
    default:
      return `recirc_id(${recircId}),in_port(${inPort}),eth(),eth_type(0x1234/0)`;
  }
}
