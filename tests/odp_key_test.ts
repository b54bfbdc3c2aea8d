/**
 * Flow-key text: OVS dump-flows strings that must survive parse + format,
 * normalisation of other OVS spellings, the word layout produced, and
 * syntax errors with their token and position.
 */

import assert from "node:assert/strict";
import * as K from "../datapath/flow_key.ts";
import { OdpSyntaxError } from "../datapath/errors.ts";
import { formatFlowKey } from "../datapath/odp/key_format.ts";
import { parseFlowKey, parseKeyAttributes } from "../datapath/odp/key_parse.ts";
import { formatIpv6, formatMac, parseIpv4, parseIpv6, parseMac } from "../datapath/odp/net_text.ts";
import { OdpScanner } from "../datapath/odp/scanner.ts";

const ETH = "eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15)";

/** Canonical dump-flows strings (from OVS tests/odp.at and real dumps, recirc_id placed as OVS prints it). */
const CANONICAL = [
  `recirc_id(0),in_port(1),${ETH}`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x1234)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x0800),ipv4(src=35.8.2.41,dst=172.16.0.20,proto=5,tos=0x80,ttl=128,frag=no)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x0800),ipv4(src=35.8.2.41,dst=172.16.0.20,proto=5,tos=0x81,ttl=128,frag=first)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x0800),ipv4(src=35.8.2.41,dst=172.16.0.20,proto=5,tos=0x80,ttl=128,frag=later)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x0800),ipv4(src=35.8.2.41,dst=172.16.0.20,proto=6,tos=0,ttl=128,frag=no),tcp(src=80,dst=8080)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x0800),ipv4(src=35.8.2.41,dst=172.16.0.20,proto=17,tos=0,ttl=128,frag=no),udp(src=81,dst=6632)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x0800),ipv4(src=35.8.2.41,dst=172.16.0.20,proto=1,tos=0,ttl=128,frag=no),icmp(type=1,code=2)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x86dd),ipv6(src=::1,dst=::2,label=0,proto=10,tclass=0x70,hlimit=128,frag=no)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x86dd),ipv6(src=::1,dst=::2,label=0,proto=6,tclass=0,hlimit=128,frag=no),tcp(src=80,dst=8080)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x86dd),ipv6(src=::1,dst=::2,label=0,proto=58,tclass=0,hlimit=128,frag=no),icmpv6(type=136,code=0),nd(target=::3,sll=00:05:06:07:08:09,tll=00:0a:0b:0c:0d:0e)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x0806),arp(sip=1.2.3.4,tip=5.6.7.8,op=1,sha=00:0f:10:11:12:13,tha=00:14:15:16:17:18)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x8847),mpls(label=100,tc=3,ttl=64,bos=1)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x8848),mpls(label=1000,tc=4,ttl=200,bos=0)`,
  // Wildcarded forms (tests/odp.at "parse-wc-keys").
  `recirc_id(0),in_port(1/0xff),eth(src=00:01:02:03:04:05/ff:ff:ff:ff:ff:f0,dst=10:11:12:13:14:15/ff:ff:ff:ff:ff:f0)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x1234/0xfff0)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x0800),ipv4(src=35.8.2.41/255.255.255.0,dst=172.16.0.20/255.255.255.0,proto=5/0xf0,tos=0x80/0xf0,ttl=128/0xf0,frag=no)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x0800),ipv4(src=35.8.2.41,dst=172.16.0.20,proto=17,tos=0,ttl=128,frag=no),udp(src=81/0xff,dst=6632/0xff00)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x86dd),ipv6(src=::1/::255,dst=::2/::255,label=0/0xf0,proto=10/0xf0,tclass=0x70/0xf0,hlimit=128/0xf0,frag=no)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x86dd),ipv6(src=::1,dst=::2,label=0,proto=58,tclass=0,hlimit=128,frag=no),icmpv6(type=135,code=0),nd(target=::3/::250,sll=00:05:06:07:08:09/ff:ff:ff:ff:ff:00)`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x0806),arp(sip=1.2.3.4/255.255.255.250,tip=5.6.7.8/255.255.255.250,op=1/0xf0,sha=00:0f:10:11:12:13/ff:ff:ff:ff:ff:00,tha=00:14:15:16:17:18/ff:ff:ff:ff:ff:00)`,
  `skb_mark(0x1234/0xfff0),recirc_id(0),in_port(1),${ETH},eth_type(0x86dd),ipv6(src=::1,dst=::2,label=0,proto=58,tclass=0,hlimit=128,frag=no),icmpv6(type=136,code=0),nd(target=::3,sll=00:05:06:07:08:09,tll=00:0a:0b:0c:0d:0e)`,
  `skb_priority(0x1234/0xff),recirc_id(0),in_port(1),${ETH},eth_type(0x8847),mpls(label=100/0xff,tc=7/7,ttl=64/0xff,bos=1/1)`,
  `tunnel(tun_id=0x7f10354/0xff,src=10.10.10.10/255.255.255.0,dst=20.20.20.20/255.255.255.0,ttl=64,flags(-df+csum+key)),recirc_id(0),in_port(1),${ETH}`,
  `tunnel(tun_id=0x7f10354/0xff,src=10.10.10.10/255.255.255.0,dst=20.20.20.20/255.255.255.0,ttl=64,geneve({class=0,type=0,len=4,0xa/0xff}{class=0xffff,type=0x1,len=4,0xffffffff}),flags(csum|key)),recirc_id(0),in_port(1),${ETH}`,
  `tunnel(tun_id=0xfedcba9876543210,src=10.0.0.1,dst=10.0.0.2,tos=0x8,ttl=128,flags(key)),recirc_id(0),in_port(1),${ETH},eth_type(0x8100),vlan(vid=99/0xff0,pcp=7/0x6),encap(eth_type(0x0800),ipv4(src=35.8.2.41,dst=172.16.0.20,proto=6,tos=0,ttl=128,frag=no),tcp(src=80/0xff00,dst=8080/0xff))`,
  `recirc_id(0),in_port(1),${ETH},eth_type(0x88a8),vlan(vid=10,pcp=1),encap(eth_type(0x8100),vlan(vid=20),encap(eth_type(0x0800),ipv4(frag=no)))`,
  `recirc_id(0x5),dp_hash(0xab/0xff),in_port(3),eth(),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(dst=443),tcp_flags(+syn-ack)`,
  `recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(proto=6,frag=no),tcp_flags(syn|ack)`,
  `recirc_id(0),in_port(1),eth(),eth_type(0x8100),vlan(vid=5,cfi=0),encap()`,
  `recirc_id(0),in_port(1),eth(),eth_type(0x05ff)`.replace(
    "eth_type(0x05ff)",
    "eth_type(0/0xffff)",
  ),
  `tunnel(ipv6_src=fe80::1,ipv6_dst=2001:db8::2,tp_dst=6081,geneve({class=0x102,type=0x80,len=8,0x1122334455667788}),flags(-oam)),recirc_id(0),in_port(6081),eth()`,
];

Deno.test("canonical OVS dump-flows keys parse and format back identically", () => {
  for (const text of CANONICAL) {
    const m = parseFlowKey(text);
    assert.equal(formatFlowKey(m.key, m.mask), text);
  }
});

/** Other OVS spellings and what we print for them (dpif-netdev order, wildcards left out). */
const NORMALISED: [string, string][] = [
  // Kernel ovs-dpctl order.
  [
    "recirc_id(0),tunnel(tun_id=0x294d36,src=10.1.1.1,dst=10.2.2.2,flags(-df-csum+key)),in_port(1),eth(src=00:00:00:00:00:00/01:00:00:00:00:00,dst=1c:13:34:39:3c:a2),eth_type(0x0800),ipv4(dst=10.3.3.3,frag=no)",
    "tunnel(tun_id=0x294d36,src=10.1.1.1,dst=10.2.2.2,flags(-df-csum+key)),recirc_id(0),in_port(1),eth(src=00:00:00:00:00:00/01:00:00:00:00:00,dst=1c:13:34:39:3c:a2),eth_type(0x0800),ipv4(dst=10.3.3.3,frag=no)",
  ],
  // The catch-all: a wildcarded eth_type is not printed; recirc_id(0) is implied.
  ["in_port(1),eth(),eth_type(0x1234/0)", "recirc_id(0),in_port(1),eth()"],
  // Upcall-style exact keys with zero conntrack fields and Ethernet packet_type.
  [
    "skb_priority(0),skb_mark(0),ct_state(0),ct_zone(0),ct_mark(0),ct_label(0),recirc_id(0),dp_hash(0),in_port(1),packet_type(ns=0,id=0),eth(),eth_type(0x0800),ipv4(frag=no)",
    "skb_priority(0),skb_mark(0),recirc_id(0),dp_hash(0),in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)",
  ],
  // Spaces between attributes, a trailing comma, numeric and decimal forms.
  [
    "in_port(2) eth(dst=ff:ff:ff:ff:ff:ff,) ,eth_type(2054)",
    "recirc_id(0),in_port(2),eth(dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806)",
  ],
  [
    "in_port(1),eth(),eth_type(0x0800),ipv4(proto=6),tcp_flags(0x012/0xfff)",
    "recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(proto=6),tcp_flags(syn|ack)",
  ],
  [
    "in_port(1),eth(),eth_type(0x0800),ipv4(proto=6),tcp_flags(0x2/0x12)",
    "recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(proto=6),tcp_flags(+syn-ack)",
  ],
  // vlan(tci=) and an exact op=1/0xff (8 bits here).
  [
    "in_port(1),eth(),eth_type(0x8100),vlan(tci=0x3063),encap(eth_type(0x0806),arp(op=1/0xff))",
    "recirc_id(0),in_port(1),eth(),eth_type(0x8100),vlan(vid=99,pcp=1),encap(eth_type(0x0806),arp(op=1))",
  ],
  // Selectors given by the attributes only are filled in and shown as wildcarded.
  [
    "in_port(1),eth(),ipv4(src=1.2.3.4),tcp(dst=80)",
    "recirc_id(0),in_port(1),eth(),eth_type(0x0800/0x0000),ipv4(src=1.2.3.4,proto=6/0),tcp(dst=80)",
  ],
  // Numeric tunnel flags use OVS's bit numbering (df=2, key=8).
  [
    "tunnel(dst=1.1.1.1,flags(0xa/0xe)),in_port(1),eth()",
    "tunnel(dst=1.1.1.1,flags(+df-csum+key)),recirc_id(0),in_port(1),eth()",
  ],
];

/** Same masks, and same key bits wherever the mask is set. */
function assertSameMatch(
  a: { key: Uint32Array; mask: Uint32Array },
  b: typeof a,
  what: string,
): void {
  assert.deepEqual(a.mask, b.mask, `${what}: mask`);
  for (let w = 0; w < K.KEY_WORDS; w++) {
    assert.equal((a.key[w] ^ b.key[w]) & a.mask[w], 0, `${what}: key word ${w}`);
  }
}

Deno.test("other OVS spellings normalise to the dump-flows form", () => {
  for (const [input, expected] of NORMALISED) {
    const m = parseFlowKey(input);
    assert.equal(formatFlowKey(m.key, m.mask), expected, input);
    assertSameMatch(parseFlowKey(expected), m, `re-parse of ${expected}`);
  }
});

Deno.test("fields land in the flow-key words with exact, partial and wildcard masks", () => {
  const m = parseFlowKey(
    "in_port(7),eth(src=00:01:02:03:04:05),eth_type(0x8100),vlan(vid=99,pcp=5)," +
      "encap(eth_type(0x0800),ipv4(src=10.0.0.5/255.255.255.0,tos=0x10,frag=later))",
  );
  assert.equal(m.key[K.W_IN_PORT], 7);
  assert.equal(m.mask[K.W_IN_PORT], 0xffffffff);
  assert.equal(m.mask[K.W_RECIRC_ID], 0xffffffff, "recirc_id defaults to exact 0");
  assert.equal(m.key[K.W_ETH_SRC_HI], 0x00010203);
  assert.equal(m.key[K.W_ETH_SRC_LO], 0x0405);
  assert.equal(m.mask[K.W_ETH_DST_HI], 0, "omitted field is wildcarded");
  assert.equal(m.key[K.W_VLAN_OUTER], ((0x8100 << 16) | (5 << 13) | K.VLAN_CFI | 99) >>> 0);
  assert.equal(m.mask[K.W_VLAN_OUTER], 0xffffffff);
  assert.equal(m.key[K.W_ETH_TYPE], 0x0800);
  assert.equal(m.key[K.W_NW_SRC], 0x0a000005, "key kept as given under a partial mask");
  assert.equal(m.mask[K.W_NW_SRC], 0xffffff00);
  assert.equal(m.key[K.W_NW_PROTO_TOS_TTL_FRAG], (0x10 << 16) | K.FRAG_ANY | K.FRAG_LATER);
  assert.equal(m.mask[K.W_NW_PROTO_TOS_TTL_FRAG], (0xff << 16) | 0x3);
  for (let w = K.USED_WORDS; w < K.KEY_WORDS; w++) assert.equal(m.mask[w], 0);

  const qinq = parseFlowKey(
    "eth(),eth_type(0x88a8),vlan(vid=10),encap(eth_type(0x8100),vlan(vid=20),encap(eth_type(0x86dd)))",
  );
  assert.equal(qinq.key[K.W_VLAN_OUTER] >>> 16, 0x88a8);
  assert.equal(qinq.key[K.W_VLAN_INNER] >>> 16, 0x8100);
  assert.equal(qinq.key[K.W_VLAN_INNER] & 0xfff, 20);
  assert.equal(qinq.key[K.W_ETH_TYPE], 0x86dd);

  const frags = ["no", "first", "later"].map((f) =>
    parseFlowKey(`eth_type(0x86dd),ipv6(frag=${f})`)
  );
  assert.deepEqual(frags.map((m) => m.key[K.W_NW_PROTO_TOS_TTL_FRAG] & 3), [0, 1, 3]);

  const dot3 = parseFlowKey("eth(),eth_type(0/0xffff)");
  assert.equal(dot3.key[K.W_ETH_TYPE], K.ETH_TYPE_NONE);

  const geneve = parseFlowKey(
    "tunnel(dst=1.1.1.1,geneve({class=0x102,type=0x80,len=4,0xa0b0c0d0})),eth()",
  );
  assert.equal(geneve.key[K.W_TUN_OPTS_LEN], 8);
  assert.equal(geneve.mask[K.W_TUN_OPTS_LEN], 0xffffffff);
  assert.equal(geneve.key[K.W_TUN_OPTS], 0x01028001);
  assert.equal(geneve.mask[K.W_TUN_OPTS], 0xffffff1f);
  assert.equal(geneve.key[K.W_TUN_OPTS + 1], 0xa0b0c0d0);
});

Deno.test("a null mask formats a packet's exact key, at any offset", () => {
  const m = parseFlowKey(
    "tunnel(tun_id=0x5,src=1.1.1.1,dst=2.2.2.2,ttl=64,flags(key)),in_port(3),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02)," +
      "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,ttl=64,frag=no),tcp(src=1,dst=2),tcp_flags(syn)",
  );
  const keys = K.newKeys(3);
  keys.set(m.key, 2 * K.KEY_WORDS);
  assert.equal(
    formatFlowKey(keys, null, 2 * K.KEY_WORDS),
    "skb_priority(0),tunnel(tun_id=0x5,src=1.1.1.1,dst=2.2.2.2,ttl=64,flags(key)),skb_mark(0),recirc_id(0),dp_hash(0)," +
      "in_port(3),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800)," +
      "ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=1,dst=2),tcp_flags(syn)",
  );
  const masks = K.newKeys(2);
  masks.set(m.mask, K.KEY_WORDS);
  assert.equal(
    formatFlowKey(keys, masks, 2 * K.KEY_WORDS, K.KEY_WORDS),
    formatFlowKey(m.key, m.mask),
  );
});

/** [text, message fragment, offending token, position]. */
const ERRORS: [string, string, string, number][] = [
  ["in_port(1),foo(2)", "unknown attribute 'foo'", "foo", 11],
  ["in_port(1),ct_tuple4(src=1.1.1.1)", "unsupported attribute 'ct_tuple4'", "ct_tuple4", 11],
  ["in_port(1),ct_state(0x21)", "unsupported attribute 'ct_state'", "ct_state", 11],
  ["in_port(1),ct_mark(0x5)", "no connection tracking", "ct_mark", 11],
  ["packet_type(ns=1,id=0x800)", "only Ethernet", "packet_type", 0],
  ["in_port(4294967296)", "out of range", "4294967296", 8],
  ["in_port(1", "expected ')'", "", 9],
  ["in_port(1)),eth()", "unexpected text", ")", 10],
  ["in_port 1", "expected '('", " ", 7],
  ["eth(src=00:01:02:03:04)", "bad MAC address", "00:01:02:03:04", 8],
  ["eth(src=00:01:02:03:04:05,foo=1)", "unknown field 'foo' in eth", "foo", 26],
  ["eth(src=00:01:02:03:04:05,src=00:01:02:03:04:05)", "duplicate field 'src'", "src", 26],
  ["eth_type(0x0800),ipv4(src=1.2.3.256)", "bad IPv4 address", "1.2.3.256", 26],
  ["eth_type(0x0800),ipv4(tos=256)", "out of range for 8 bits", "256", 26],
  ["eth_type(0x0800),ipv4(ttl=010)", "bad number", "010", 26],
  ["eth_type(0x0800),ipv4(frag=maybe)", "bad frag", "maybe", 27],
  ["eth_type(0x0800),ipv4(frag=no/3)", "frag cannot be masked", "/", 29],
  ["eth_type(0x86dd),ipv6(src=1::2::3)", "bad IPv6 address", "1::2::3", 26],
  ["eth_type(0x0806),ipv4(src=1.1.1.1)", "'ipv4' requires eth_type(0x0800)", "ipv4", 17],
  ["eth_type(0x0800),ipv4(proto=17),tcp(src=1)", "'tcp' requires proto=6", "tcp", 32],
  ["eth_type(0x0800),ipv4(frag=later),udp(src=1)", "later fragments", "udp", 34],
  ["eth_type(0x0800),ipv4(),ipv6()", "'ipv6' conflicts with 'ipv4'", "ipv6", 24],
  ["eth(),tcp(src=1)", "'tcp' requires ipv4(...) or ipv6(...)", "tcp", 6],
  ["eth_type(0x86dd),ipv6(),icmpv6(type=1),nd(target=::1)", "'nd' requires icmpv6", "nd", 39],
  ["eth_type(0x8100),vlan(vid=1),ipv4()", "must be inside encap", "ipv4", 29],
  ["eth_type(0x8100),vlan(vid=4096)", "out of range for 12 bits", "4096", 26],
  ["eth_type(0x8100),vlan(tci=0x1001,vid=1)", "tci= cannot be combined", "tci", 22],
  ["encap(encap(encap()))", "at most two VLAN tags", "encap", 12],
  ["encap(in_port(1))", "not allowed inside encap", "in_port", 6],
  ["in_port(1),in_port(2)", "duplicate attribute 'in_port'", "in_port", 11],
  ["recirc_id(1/0xff)", "recirc_id cannot be masked", "1", 10],
  ["eth_type(0x8847),mpls(label=1,label=2)", "only one MPLS label stack entry", "label", 30],
  ["tcp_flags(+syn-bogus)", "unknown flag 'bogus'", "bogus", 15],
  ["tcp_flags(0x1000)", "unknown flag bits", "0x1000", 10],
  ["tunnel(vxlan(gbp(id=1)))", "unsupported tunnel option 'vxlan'", "vxlan", 7],
  ["tunnel(flags(df|weird))", "unknown flag 'weird'", "weird", 16],
  ["tunnel(geneve({class=1,len=3}))", "multiple of 4", "3", 27],
  [
    "tunnel(geneve({len=12}{len=8}{len=4}))",
    "Geneve options exceed 32 bytes",
    "4",
    34,
  ],
  ["tunnel(geneve({len=12}{len=12}{}))", "Geneve options exceed 32 bytes", "{", 30],
  ["tunnel(geneve({len=4,0x1122334455}))", "does not fit in 4 bytes", "0x1122334455", 21],
];

Deno.test("syntax errors name the offending token and its position", () => {
  for (const [text, message, token, position] of ERRORS) {
    assert.throws(
      () => parseFlowKey(text),
      (e: unknown) => {
        assert.ok(e instanceof OdpSyntaxError, `${text}: ${e}`);
        assert.ok(e.message.includes(message), `${text}: '${e.message}' lacks '${message}'`);
        assert.equal(e.token, token, `${text}: token`);
        assert.equal(e.position, position, `${text}: position`);
        return true;
      },
    );
  }
});

Deno.test("parseKeyAttributes stops at the enclosing ')' for set(...) actions", () => {
  const text = "set(ipv4(src=1.2.3.4,ttl=9/0xf)),output(2)";
  const s = new OdpScanner(text, 4);
  const match = { key: K.newKeys(1), mask: K.newKeys(1) };
  assert.deepEqual(parseKeyAttributes(s, match), ["ipv4"]);
  assert.equal(s.pos, text.indexOf(")),") + 1);
  assert.equal(match.key[K.W_NW_SRC], 0x01020304);
  assert.equal(match.mask[K.W_NW_SRC], 0xffffffff);
  assert.equal(match.mask[K.W_NW_PROTO_TOS_TTL_FRAG], 0x0f00);
  assert.equal(match.mask[K.W_RECIRC_ID], 0, "no implicit recirc_id for set actions");
  assert.equal(match.key[K.W_ETH_TYPE], 0, "no coherence fill-in outside strict mode");
});

Deno.test("address text forms match OVS spellings", () => {
  assert.equal(formatMac(0x00010203, 0x0a0b), "00:01:02:03:0a:0b");
  assert.deepEqual(parseMac("0:1:2:3:a:B"), { hi: 0x00010203, lo: 0x0a0b });
  assert.equal(parseMac("00:01:02:03:04:05:06"), null);
  assert.equal(parseIpv4("255.255.255.255"), 0xffffffff);
  assert.equal(parseIpv4("1.2.3"), null);
  const cases: [string, string][] = [
    ["0:0:0:0:0:0:0:1", "::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
    ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
    ["::10.0.0.1", "::10.0.0.1"],
    ["fe80::", "fe80::"],
    ["::", "::"],
  ];
  for (const [input, printed] of cases) assert.equal(formatIpv6(parseIpv6(input)!), printed);
  for (const bad of [":::", "1::2::3", "12345::", "::1.2.3", "1:2:3:4:5:6:7:8:9", "g::"]) {
    assert.equal(parseIpv6(bad), null, bad);
  }
});
