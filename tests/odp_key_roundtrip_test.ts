/**
 * Property tests: random matches over every field kind (seeded PRNG) survive
 * format -> parse -> format, and the JSON form is equivalent to the text.
 */

import assert from "node:assert/strict";
import * as K from "../datapath/flow_key.ts";
import * as F from "../datapath/odp/key_fields.ts";
import { formatFlowKey } from "../datapath/odp/key_format.ts";
import { flowKeyFromJson, flowKeyToJson } from "../datapath/odp/key_json.ts";
import { type FlowMatch, parseFlowKey } from "../datapath/odp/key_parse.ts";

/** mulberry32: small, seeded, reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Generates coherent random matches (fields only where OVS shows them for the key). */
class MatchGenerator {
  readonly #rand: () => number;
  constructor(seed: number) {
    this.#rand = prng(seed);
  }
  chance(p: number): boolean {
    return this.#rand() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#rand() * items.length)];
  }
  bits(width: number): bigint {
    let v = 0n;
    for (let i = 0; i < width; i += 16) v = (v << 16n) | BigInt(Math.floor(this.#rand() * 65536));
    return v & F.fullMask(width);
  }
  /** Sets a field: wildcarded, exact, or partly masked, with a random key. */
  field(m: FlowMatch, spec: F.FieldSpec, value?: bigint, maskChoice?: "exact" | "any"): void {
    const kind = maskChoice === "exact" ? 1 : this.pick([0, 0, 1, 1, 2]);
    if (kind === 0 && maskChoice !== "any") return;
    const mask = kind === 0
      ? 0n
      : kind === 1 || spec.kind === "frag"
      ? F.fullMask(spec.width)
      : this.bits(spec.width);
    F.writeField(m.key, 0, spec, value ?? this.bits(spec.width));
    F.writeField(m.mask, 0, spec, mask);
  }
  fields(m: FlowMatch, specs: readonly F.FieldSpec[]): void {
    for (const spec of specs) {
      if (spec.kind === "frag") {
        if (this.chance(0.5)) this.field(m, spec, this.pick([0n, 1n, 3n]), "exact");
      } else {
        this.field(m, spec);
      }
    }
  }

  match(): FlowMatch {
    const m: FlowMatch = { key: K.newKeys(1), mask: K.newKeys(1) };
    for (const spec of [F.SKB_PRIORITY, F.SKB_MARK, F.DP_HASH, F.IN_PORT]) this.field(m, spec);
    this.field(m, F.RECIRC_ID, undefined, "exact");
    if (this.chance(0.4)) this.tunnel(m);
    this.fields(m, F.ETH_FIELDS);
    let depth = 0;
    while (depth < 2 && this.chance(0.3)) {
      this.field(m, F.tpidField(depth), this.pick([0x8100n, 0x88a8n]));
      const tci = F.vlanFields(depth).tci;
      F.writeField(m.key, 0, tci, this.bits(16));
      F.writeField(m.mask, 0, tci, this.bits(16) | (depth === 0 || this.chance(0.5) ? 1n : 0n));
      depth++;
    }
    const ethType = this.pick([
      0x0800,
      0x86dd,
      0x0806,
      0x8035,
      0x8847,
      0x8848,
      0x1234,
      K.ETH_TYPE_NONE,
    ]);
    this.field(m, F.ETH_TYPE, BigInt(ethType), ethType === K.ETH_TYPE_NONE ? undefined : "any");
    if (ethType === 0x0800 || ethType === 0x86dd) this.ip(m, ethType);
    if (ethType === 0x0806 || ethType === 0x8035) this.fields(m, F.ARP_FIELDS);
    if (ethType === 0x8847 || ethType === 0x8848) this.fields(m, F.MPLS_FIELDS);
    return m;
  }

  tunnel(m: FlowMatch): void {
    this.fields(m, F.TUNNEL_FIELDS);
    if (this.chance(0.5)) this.field(m, F.TUN_FLAGS, undefined, "any");
    if (this.chance(0.4)) {
      let at = 0;
      while (this.chance(0.6)) {
        const dataLen = 4 * Math.floor(this.#rand() * 3);
        if (at + 4 + dataLen > K.TUN_OPTS_MAX) break;
        const header = [this.bits(8), this.bits(8), this.bits(8), BigInt(dataLen / 4)];
        const headerMask = [
          this.bits(8),
          this.bits(8),
          this.pick([0n, 0xffn, this.bits(8)]),
          0x1fn,
        ];
        for (let i = 0; i < 4; i++) {
          F.writeField(m.key, 0, F.geneveByte(at + i), header[i]);
          F.writeField(m.mask, 0, F.geneveByte(at + i), headerMask[i]);
        }
        for (let i = 4; i < 4 + dataLen; i++) {
          F.writeField(m.key, 0, F.geneveByte(at + i), this.bits(8));
          F.writeField(m.mask, 0, F.geneveByte(at + i), this.pick([0xffn, this.bits(8)]));
        }
        at += 4 + dataLen;
      }
      F.writeField(m.key, 0, F.GENEVE_LEN, BigInt(at));
      F.writeField(m.mask, 0, F.GENEVE_LEN, F.fullMask(32));
    }
    m.mask[K.W_TUN_IPV4_DST] ||= 0xffffffff; // at least one tunnel field is matched
  }

  ip(m: FlowMatch, ethType: number): void {
    const proto = this.pick([6, 17, 132, 1, 58, 47]);
    this.fields(m, ethType === 0x0800 ? F.IPV4_FIELDS : F.IPV6_FIELDS);
    F.writeField(m.key, 0, F.NW_PROTO, BigInt(proto));
    if ((m.key[K.W_NW_PROTO_TOS_TTL_FRAG] & K.FRAG_LATER) !== 0) return;
    if (proto === 6 || proto === 17 || proto === 132) this.fields(m, F.PORT_FIELDS);
    if (proto === 6) this.field(m, F.TCP_FLAGS);
    const icmp = (proto === 1 && ethType === 0x0800) || (proto === 58 && ethType === 0x86dd);
    if (!icmp) return;
    const [type, code] = F.ICMP_FIELDS;
    this.field(m, type, this.pick([135n, 136n, this.bits(8)]));
    this.field(m, code, this.pick([0n, 0n, this.bits(8)]));
    const t = F.readField(m.key, 0, type), c = F.readField(m.key, 0, code);
    if (proto === 58 && (t === 135n || t === 136n) && c === 0n) this.fields(m, F.ND_FIELDS);
  }
}

function assertSameOnMask(actual: FlowMatch, expected: FlowMatch, what: string): void {
  assert.deepEqual(actual.mask, expected.mask, `${what}: mask`);
  for (let w = 0; w < K.KEY_WORDS; w++) {
    assert.equal((actual.key[w] ^ expected.key[w]) & expected.mask[w], 0, `${what}: key word ${w}`);
  }
}

const CASES = 3000;

Deno.test("random matches: parse(format(m)) equals m on masked bits, format is a fixed point", () => {
  const gen = new MatchGenerator(20240611);
  const seen = new Set<string>();
  for (let i = 0; i < CASES; i++) {
    const m = gen.match();
    const text = formatFlowKey(m.key, m.mask);
    const back = parseFlowKey(text);
    assertSameOnMask(back, m, `case ${i}: ${text}`);
    assert.equal(formatFlowKey(back.key, back.mask), text, `case ${i}`);
    for (const name of text.matchAll(/([a-z_0-9]+)\(/g)) seen.add(name[1]);
  }
  // The generator really exercised every attribute kind.
  for (
    const name of [
      "skb_priority",
      "tunnel",
      "geneve",
      "flags",
      "skb_mark",
      "recirc_id",
      "dp_hash",
      "in_port",
      "eth",
      "eth_type",
      "vlan",
      "encap",
      "mpls",
      "ipv4",
      "ipv6",
      "tcp",
      "udp",
      "sctp",
      "tcp_flags",
      "icmp",
      "icmpv6",
      "arp",
      "nd",
    ]
  ) {
    assert.ok(seen.has(name), `generator never produced ${name}`);
  }
});

Deno.test("random packet keys: the exact (null-mask) form parses back to the same packet", () => {
  const gen = new MatchGenerator(77);
  for (let i = 0; i < CASES; i++) {
    const m = gen.match();
    const text = formatFlowKey(m.key, null);
    const back = parseFlowKey(text);
    const again = formatFlowKey(back.key, null);
    assert.equal(again, text, `case ${i}`);
    for (let w = 0; w < K.KEY_WORDS; w++) {
      assert.equal((back.key[w] ^ m.key[w]) & back.mask[w], 0, `case ${i} word ${w}: ${text}`);
    }
  }
});

Deno.test("JSON form is equivalent to the text form", () => {
  const gen = new MatchGenerator(4242);
  for (let i = 0; i < CASES; i++) {
    const m = gen.match();
    const json = JSON.parse(JSON.stringify(flowKeyToJson(m.key, m.mask)));
    const fromJson = flowKeyFromJson(json);
    const fromText = parseFlowKey(formatFlowKey(m.key, m.mask));
    assert.deepEqual(fromJson, fromText, `case ${i}: ${JSON.stringify(json)}`);
    assert.deepEqual(flowKeyToJson(fromJson.key, fromJson.mask), json, `case ${i}`);
  }
});

Deno.test("JSON example and errors with the path of the bad member", () => {
  const m = parseFlowKey(
    "in_port(1),eth(),eth_type(0x8100),vlan(vid=5),encap(eth_type(0x0800)," +
      "ipv4(src=10.0.0.0/255.255.255.0,proto=6,frag=no),tcp_flags(+syn-ack))",
  );
  assert.deepEqual(flowKeyToJson(m.key, m.mask), {
    recirc_id: "0",
    in_port: 1,
    eth: {},
    eth_type: "0x8100",
    vlan: { vid: 5 },
    encap: {
      eth_type: "0x0800",
      ipv4: { src: { value: "10.0.0.0", mask: "255.255.255.0" }, proto: 6, frag: "no" },
      tcp_flags: { syn: true, ack: false },
    },
  });
  const bad: [unknown, string][] = [
    [[], "$: expected an object"],
    [{ eth: { src: "zz" } }, "$.eth.src: bad MAC address"],
    [{ encap: { ipv4: { ttl: 300 } } }, "$.encap.ipv4.ttl: number out of range for 8 bits"],
    [{ ipv4: { src: { value: "1.1.1.1" } } }, "$.ipv4.src: expected both value and mask"],
    [{ tcp_flags: ["syn", "nope"] }, "$.tcp_flags[1]: unknown flag"],
    [{ ct_state: 0 }, "$.ct_state: unknown or unsupported attribute"],
    [{ eth_type: "0x0806", ipv4: {} }, "$.ipv4: 'ipv4' requires eth_type(0x0800)"],
    [{ recirc_id: { value: 1, mask: 3 } }, "$.recirc_id: recirc_id cannot be masked"],
    [{ tunnel: { geneve: [{ len: 32 }] } }, "$.tunnel.geneve[0]: Geneve options exceed 32 bytes"],
    [
      { tunnel: { geneve: [{ len: 4, data: "0x123456789" }] } },
      "$.tunnel.geneve[0].data: does not fit in 4 bytes",
    ],
  ];
  for (const [json, message] of bad) {
    assert.throws(
      () => flowKeyFromJson(json),
      (e: unknown) => e instanceof TypeError && e.message === message,
      message,
    );
  }
});
