import assert from "node:assert/strict";
import * as K from "../datapath/flow_key.ts";
import { formatFlowKey, formatFlowKeyGeneric } from "../datapath/odp/key_format.ts";
import { formatFlowKeyFast } from "../datapath/odp/key_format_fast.ts";
import { parseFlowKey } from "../datapath/odp/key_parse.ts";
import { dumpBenchFlow } from "../bench/flow_dump_workload.ts";
import { xorshift32 as prng } from "./fixtures/xorshift.ts";

const ETH_TYPES = [0x0800, 0x86dd, 0x0806, 0x8035, 0x8847, 0x8848, 0x88cc, 0x05ff, 0x0600, 0x42, 0];
const PROTOS = [6, 17, 132, 1, 58, 47, 0, 255];

/** A random key and mask, shaped like real matches often enough to reach every branch. */
function randomMatch(next: () => number): { key: Uint32Array; mask: Uint32Array } {
  const key = new Uint32Array(K.KEY_WORDS);
  const mask = new Uint32Array(K.KEY_WORDS);
  const pick = <T>(list: readonly T[]): T => list[next() % list.length];
  const randomMask = (): number => {
    switch (next() % 6) {
      case 0:
      case 1:
        return 0;
      case 2:
      case 3:
        return 0xffffffff;
      case 4:
        return (0xffffffff << (next() % 32)) >>> 0;
      default:
        return next();
    }
  };
  for (let w = 0; w < K.USED_WORDS; w++) {
    key[w] = next() % 4 === 0 ? next() % 300 : next();
    mask[w] = randomMask();
  }
  mask[K.W_IN_PORT] = 0xffffffff;
  if (next() % 3 !== 0) { // no tunnel most of the time
    for (let w = K.W_TUN_ID_HI; w < K.META_WORDS; w++) mask[w] = 0;
  } else if (next() % 4 !== 0) {
    mask[K.W_TUN_OPTS_LEN] = 0; // a tunnel without Geneve options
  }
  if (next() % 4 !== 0) { // no VLAN most of the time
    for (const w of [K.W_VLAN_OUTER, K.W_VLAN_INNER]) {
      key[w] = 0;
      mask[w] = next() % 2 === 0 ? 0 : 0xffffffff;
    }
  }
  key[K.W_ETH_TYPE] = pick(ETH_TYPES) | (next() % 8 === 0 ? 0x12340000 : 0);
  mask[K.W_ETH_TYPE] = pick([0xffff, 0xffff, 0xffff, 0, 0xff00, 0xffffffff]);
  const nw = K.W_NW_PROTO_TOS_TTL_FRAG;
  key[nw] = ((pick(PROTOS) << 24) | (key[nw] & 0xffffff)) >>> 0;
  if (next() % 2 === 0) key[nw] &= ~K.FRAG_LATER;
  if (next() % 2 === 0) mask[nw] = pick([0xff000003, 0xffffff03, 0x00000003, 0xff000000]);
  if (next() % 2 === 0) {
    for (let w = 0; w < K.KEY_WORDS; w++) key[w] &= mask[w];
  }
  return { key, mask };
}

Deno.test("key format fast path: byte-identical to the general formatter on 20,000 random matches", () => {
  const next = prng(0x5eed1234);
  let fast = 0;
  for (let i = 0; i < 20_000; i++) {
    const { key, mask } = randomMatch(next);
    const expected = formatFlowKeyGeneric(key, mask);
    const quick = formatFlowKeyFast(key, 0, mask, 0);
    if (quick !== null) {
      fast++;
      assert.equal(quick, expected, `match ${i}: key ${key} mask ${mask}`);
    }
    assert.equal(formatFlowKey(key, mask), expected);
  }
  assert.ok(fast > 10_000, `the fast path took ${fast} of 20,000 random matches`);
});

Deno.test("key format fast path: offsets, and the bench flows and OVS examples agree", () => {
  const texts = [
    ...Array.from({ length: 200 }, (_, i) => dumpBenchFlow(i)),
    "in_port(1),eth(src=00:01:02:03:04:05/ff:ff:ff:00:00:00),eth_type(0x0806),arp(sip=1.2.3.4," +
    "tip=5.6.7.8/255.255.0.0,op=1,sha=00:0f:10:11:12:13,tha=00:14:15:16:17:18)",
    "skb_priority(0x1234/0xff00),in_port(2),eth(),eth_type(0x86dd),ipv6(src=::1/::ffff," +
    "dst=fe80::1,label=0x12345/0xf0000,proto=132,tclass=0x3/0xf,hlimit=7,frag=first)",
    "tunnel(tun_id=0x0/0xff,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,tos=0x3,ttl=5,tp_src=1," +
    "tp_dst=2,flags(df|csum)),dp_hash(0x7/0xf),in_port(3),eth(),eth_type(0x0800/0xff00)",
    "in_port(1),eth(),eth_type(0x0800),ipv4(src=1.2.3.4,proto=6,frag=later)",
    "in_port(1),eth(),eth_type(0x88a8),vlan(vid=5/0xf00,pcp=3),encap(eth_type(0x8100)," +
    "vlan(vid=7,cfi=0),encap(eth_type(0x0800),ipv4(frag=no),udp(dst=53)))",
    "in_port(1),eth(),eth_type(0x8100),vlan(vid=5,pcp=0/0x1),encap()",
    "in_port(1),eth(),eth_type(0x8100),vlan(vid=5,pcp=0),encap(eth_type(0x0806),arp(op=2))",
  ];
  let fast = 0;
  for (const text of texts) {
    const { key, mask } = parseFlowKey(text);
    const expected = formatFlowKeyGeneric(key, mask);
    const bigKey = new Uint32Array(K.KEY_WORDS * 3), bigMask = new Uint32Array(K.KEY_WORDS * 2);
    bigKey.set(key, K.KEY_WORDS * 2);
    bigMask.set(mask, K.KEY_WORDS);
    const quick = formatFlowKeyFast(bigKey, K.KEY_WORDS * 2, bigMask, K.KEY_WORDS);
    if (quick !== null) fast++;
    assert.equal(quick ?? expected, expected, text);
    assert.equal(formatFlowKey(bigKey, bigMask, K.KEY_WORDS * 2, K.KEY_WORDS), expected, text);
  }
  assert.ok(fast >= 200, `fast path taken for ${fast} of ${texts.length}`);
});
