/**
 * The flow-key fast path (datapath/odp/key_parse_fast.ts) against the
 * general parser: on its subset it must write exactly the same key and mask
 * words, and outside it answer null, so that parseFlowKey gives the general
 * parser's result or error for every text. Random keys from a seeded PRNG,
 * plus mutations that leave the subset (spaces, duplicates, incoherent
 * layers, masks where they are not allowed, out-of-range numbers).
 */

import assert from "node:assert/strict";
import { parseFlowKey, parseFlowKeyGeneral } from "../datapath/odp/key_parse.ts";
import { parseFlowKeyFast } from "../datapath/odp/key_parse_fast.ts";
import { Prng } from "./lookup_conformance.ts";

function ipv4(rng: Prng): string {
  return `${rng.below(256)}.${rng.below(256)}.${rng.below(256)}.${rng.below(256)}`;
}

function mac(rng: Prng): string {
  return Array.from({ length: 6 }, () => rng.below(256).toString(16).padStart(2, "0")).join(":");
}

function num(rng: Prng, bits: number): string {
  const v = bits === 32 ? rng.next() : rng.below(2 ** bits);
  return rng.below(2) === 0 ? String(v) : `0x${v.toString(16)}`;
}

function maybeMask(rng: Prng, value: string, mask: () => string): string {
  return rng.below(3) === 0 ? `${value}/${mask()}` : value;
}

/** A random key in the fast subset: canonical, coherent, attributes in random order. */
function subsetKey(rng: Prng): string {
  const attrs: string[] = [];
  if (rng.below(2) === 0) attrs.push(`recirc_id(${num(rng, 32)})`);
  attrs.push(`in_port(${maybeMask(rng, num(rng, 32), () => num(rng, 32))})`);
  if (rng.below(4) === 0) {
    attrs.push(`skb_mark(${maybeMask(rng, num(rng, 32), () => num(rng, 32))})`);
  }
  if (rng.below(4) === 0) attrs.push(`dp_hash(${num(rng, 32)})`);
  if (rng.below(4) === 0) attrs.push(`skb_priority(${num(rng, 32)})`);
  const eth: string[] = [];
  if (rng.below(2) === 0) eth.push(`src=${maybeMask(rng, mac(rng), () => mac(rng))}`);
  if (rng.below(2) === 0) eth.push(`dst=${maybeMask(rng, mac(rng), () => mac(rng))}`);
  if (rng.below(3) !== 0) attrs.push(`eth(${eth.join(",")})`);
  const l3 = rng.below(3);
  if (l3 === 0) {
    attrs.push(`eth_type(0x${(0x600 + rng.below(0xfa00)).toString(16)})`);
  } else {
    attrs.push(rng.below(2) === 0 ? "eth_type(0x0800)" : "eth_type(2048)");
    const l4 = ["tcp", "udp", "sctp", "icmp"][rng.below(4)];
    const withL4 = l3 === 2;
    const proto = { tcp: 6, udp: 17, sctp: 132, icmp: 1 }[l4]!;
    const fields: string[] = [];
    if (rng.below(2) === 0) fields.push(`src=${maybeMask(rng, ipv4(rng), () => ipv4(rng))}`);
    if (rng.below(2) === 0) fields.push(`dst=${maybeMask(rng, ipv4(rng), () => ipv4(rng))}`);
    if (withL4 || rng.below(2) === 0) {
      fields.push(
        `proto=${withL4 ? String(proto) : maybeMask(rng, num(rng, 8), () => num(rng, 8))}`,
      );
    }
    if (rng.below(3) === 0) fields.push(`tos=${maybeMask(rng, num(rng, 8), () => num(rng, 8))}`);
    if (rng.below(3) === 0) fields.push(`ttl=${num(rng, 8)}`);
    if (rng.below(2) === 0) fields.push(`frag=${withL4 ? ["no", "first"][rng.below(2)] : "later"}`);
    shuffle(rng, fields);
    attrs.push(`ipv4(${fields.join(",")})`);
    if (withL4) {
      const names = l4 === "icmp" ? ["type", "code"] : ["src", "dst"];
      const bits = l4 === "icmp" ? 8 : 16;
      const l4Fields = names.filter(() => rng.below(3) !== 0)
        .map((n) => `${n}=${maybeMask(rng, num(rng, bits), () => num(rng, bits))}`);
      attrs.push(`${l4}(${l4Fields.join(",")})`);
    }
  }
  shuffle(rng, attrs);
  return attrs.join(",");
}

function shuffle<T>(rng: Prng, list: T[]): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [list[i], list[j]] = [list[j], list[i]];
  }
}

/** Edits that may take a key out of the subset (or make it invalid). */
const MUTATIONS: ((text: string, rng: Prng) => string)[] = [
  (t) => t.replace(",", ", "),
  (t) => t.replace("eth_type(0x0800)", "eth_type(0x86dd)"),
  (t) => t.replace("eth_type(0x0800)", "eth_type(0x0800/0xffff)"),
  (t) => t.replace(/eth_type\([^)]*\),?/, ""),
  (t) => t.replace(/proto=[^,)]*/, "proto=99"),
  (t) => t.replace(/proto=[^,)]*,?/, ""),
  (t) => t.replace("frag=no", "frag=later"),
  (t) => t.replace("frag=no", "frag=no/0x3"),
  (t) => t + ",in_port(2)",
  (t) => t.replace("in_port(", "in_port(0"),
  (t) => t.replace("in_port(", "in_port(99999999999"),
  (t) => t.replace(/recirc_id\(([^)]*)\)/, "recirc_id($1/0xff)"),
  (t) => t.replace("ipv4(", "ipv4(ttl=1,ttl=2,"),
  (t) => t.replace(/src=(\d+)\./, "src=$1 ."),
  (t) => t.replace(/src=(\d+)\./, "src=1$1."),
  (t) => t.replace(")", "))"),
  (t) => t.replace(/\)$/, ""),
  (t) => t + ",tcp_flags(syn)",
  (t) => t.replace("eth(", "eth(foo=1,"),
  (t) => t.replace("in_port(", "IN_PORT("),
  (t) => t.replace(/0x([0-9a-f])/, "0X$1"),
  (t, rng) => t.slice(0, rng.below(t.length + 1)),
];

function outcome(parse: (text: string) => unknown, text: string): unknown {
  try {
    return parse(text);
  } catch (error) {
    return { error: String(error) };
  }
}

Deno.test("odp fast key parser: same words as the general parser on its subset", () => {
  const rng = new Prng(0x0d9f);
  let fast = 0;
  for (let i = 0; i < 3000; i++) {
    const text = subsetKey(rng);
    const general = parseFlowKeyGeneral(text);
    const quick = parseFlowKeyFast(text);
    assert.notEqual(quick, null, `fast path refused ${text}`);
    fast++;
    assert.deepEqual(Array.from(quick!.key), Array.from(general.key), text);
    assert.deepEqual(Array.from(quick!.mask), Array.from(general.mask), text);
  }
  assert.equal(fast, 3000);
});

Deno.test("odp fast key parser: outside the subset parseFlowKey still answers as the general parser", () => {
  const rng = new Prng(0x5eed);
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const base = subsetKey(rng);
    const text = MUTATIONS[rng.below(MUTATIONS.length)](base, rng);
    const general = outcome(parseFlowKeyGeneral, text);
    const quick = parseFlowKeyFast(text);
    if (quick === null) refused++;
    else {
      assert.ok(!("error" in (general as object)), `fast path accepted invalid ${text}`);
      const g = general as { key: Uint32Array; mask: Uint32Array };
      assert.deepEqual(Array.from(quick.key), Array.from(g.key), text);
      assert.deepEqual(Array.from(quick.mask), Array.from(g.mask), text);
    }
    const viaPublic = outcome(parseFlowKey, text);
    if ("error" in (general as object)) assert.deepEqual(viaPublic, general, text);
  }
  assert.ok(refused > 1000, `only ${refused} mutated keys left the fast path`);
});

Deno.test("odp fast key parser: refuses what it does not handle", () => {
  for (
    const text of [
      "in_port(1), eth()",
      "in_port(1),eth_type(0x86dd),ipv6(src=::1)",
      "in_port(1),eth_type(0x0800),ipv4(proto=6),udp(dst=1)",
      "in_port(1),eth_type(0x0800),ipv4(frag=later,proto=17),udp(dst=1)",
      "in_port(1),eth_type(0x0800),udp(dst=1)",
      "in_port(1),ipv4(src=1.2.3.4)",
      "in_port(1),eth_type(0x05ff)",
      "recirc_id(1/0xff),in_port(1)",
      "in_port(1),in_port(1)",
      "in_port(01)",
      "in_port(4294967296)",
      "in_port(1),vlan(vid=5)",
      "in_port(1),eth(src=00:01:02:03:04:05,src=00:01:02:03:04:05)",
      "in_port(1),eth_type(0x0800),ipv4(src=1.2.3.256)",
      "in_port(1),eth_type(0x0800),ipv4(src=1.2.3)",
    ]
  ) {
    assert.equal(parseFlowKeyFast(text), null, text);
  }
});
