/**
 * The fields of the OVS datapath flow syntax and where each one lives in the
 * flow-key layout (datapath/flow_key.ts), shared by the text parser, the
 * formatter and the JSON form so that all three agree bit for bit.
 *
 * A field is a list of bit segments, most significant first; its value is
 * handled as a bigint (slow path only). `kind` says how the value is spelt
 * (as lib/odp-util.c prints it): `dec` "%u", `hex` "%#x", `hex64` "0x%x",
 * `hex16` "0x%04x", addresses in their text forms, and three named forms:
 * `frag` (no/first/later), `tcp_flags` and `tun_flags`.
 *
 * @module
 */

import * as K from "../flow_key.ts";
import { formatIpv4, formatIpv6, formatMac } from "./net_text.ts";

/** How a field's value is written in text. */
export type FieldKind =
  | "dec"
  | "hex"
  | "hex64"
  | "hex16"
  | "ipv4"
  | "ipv6"
  | "mac"
  | "frag"
  | "tcp_flags"
  | "tun_flags";

/** One bit range of a key word: `[word, shift, bits]`. */
export type Segment = readonly [word: number, shift: number, bits: number];

/** A field of an attribute and its place in the key layout. */
export interface FieldSpec {
  /** Name in text (`src`, `vid`, ...); "" for single-valued attributes. */
  readonly name: string;
  readonly kind: FieldKind;
  /** Total width in bits (sum of the segments). */
  readonly width: number;
  readonly segments: readonly Segment[];
}

/** Builds a field spec from its segments. */
export function field(name: string, kind: FieldKind, segments: Segment[]): FieldSpec {
  return { name, kind, width: segments.reduce((n, s) => n + s[2], 0), segments };
}

/** All ones over `width` bits. */
export function fullMask(width: number): bigint {
  return (1n << BigInt(width)) - 1n;
}

/** Reads a field of the key (or mask) that starts at word `offset` of `words`. */
export function readField(words: Uint32Array, offset: number, spec: FieldSpec): bigint {
  let value = 0n;
  for (const [word, shift, bits] of spec.segments) {
    const part = bits === 32
      ? words[offset + word] >>> 0
      : (words[offset + word] >>> shift) & ((1 << bits) - 1);
    value = (value << BigInt(bits)) | BigInt(part);
  }
  return value;
}

/** Writes `value` (already range-checked) into a field of `words` at `offset`, leaving other bits alone. */
export function writeField(
  words: Uint32Array,
  offset: number,
  spec: FieldSpec,
  value: bigint,
): void {
  let rest = value;
  for (let i = spec.segments.length - 1; i >= 0; i--) {
    const [word, shift, bits] = spec.segments[i];
    const part = Number(rest & fullMask(bits));
    rest >>= BigInt(bits);
    const m = bits === 32 ? 0xffffffff : ((1 << bits) - 1) << shift;
    words[offset + word] = ((words[offset + word] & ~m) | ((part << shift) & m)) >>> 0;
  }
}

const mac = (hi: number, lo: number): Segment[] => [[hi, 0, 32], [lo, 0, 16]];
const ipv6 = (w: number): Segment[] => [[w, 0, 32], [w + 1, 0, 32], [w + 2, 0, 32], [w + 3, 0, 32]];
const NW = K.W_NW_PROTO_TOS_TTL_FRAG;

/** Single-valued metadata attributes, in the order they are printed. */
export const SKB_PRIORITY = field("", "hex", [[K.W_SKB_PRIORITY, 0, 32]]);
/** skb_mark(...). */
export const SKB_MARK = field("", "hex", [[K.W_SKB_MARK, 0, 32]]);
/** recirc_id(...): always exact. */
export const RECIRC_ID = field("", "hex", [[K.W_RECIRC_ID, 0, 32]]);
/** dp_hash(...). */
export const DP_HASH = field("", "hex", [[K.W_DP_HASH, 0, 32]]);
/** in_port(...). */
export const IN_PORT = field("", "dec", [[K.W_IN_PORT, 0, 32]]);
/** eth_type(...) after any VLAN tags. */
export const ETH_TYPE = field("", "hex16", [[K.W_ETH_TYPE, 0, 16]]);
/** tcp_flags(...). */
export const TCP_FLAGS = field("", "tcp_flags", [[K.W_TCP_FLAGS, 0, 12]]);

/** tunnel(...) fields in OVS print order; `geneve(...)` and `flags(...)` follow. */
export const TUNNEL_FIELDS: readonly FieldSpec[] = [
  field("tun_id", "hex64", [[K.W_TUN_ID_HI, 0, 32], [K.W_TUN_ID_LO, 0, 32]]),
  field("src", "ipv4", [[K.W_TUN_IPV4_SRC, 0, 32]]),
  field("dst", "ipv4", [[K.W_TUN_IPV4_DST, 0, 32]]),
  field("ipv6_src", "ipv6", ipv6(K.W_TUN_IPV6_SRC)),
  field("ipv6_dst", "ipv6", ipv6(K.W_TUN_IPV6_DST)),
  field("tos", "hex", [[K.W_TUN_TOS_TTL_FLAGS, 24, 8]]),
  field("ttl", "dec", [[K.W_TUN_TOS_TTL_FLAGS, 16, 8]]),
  field("tp_src", "dec", [[K.W_TUN_TP, 16, 16]]),
  field("tp_dst", "dec", [[K.W_TUN_TP, 0, 16]]),
];
/** tunnel(flags(...)): df, csum, key, oam (TNL_F_CRIT_OPT is derived, not in the syntax). */
export const TUN_FLAGS = field("flags", "tun_flags", [[K.W_TUN_TOS_TTL_FLAGS, 0, 4]]);

/** eth(...) fields. */
export const ETH_FIELDS: readonly FieldSpec[] = [
  field("src", "mac", mac(K.W_ETH_SRC_HI, K.W_ETH_SRC_LO)),
  field("dst", "mac", mac(K.W_ETH_DST_HI, K.W_ETH_DST_LO)),
];

/** The VLAN tag word for encapsulation level 0 (outer) or 1 (inner). */
export function vlanWord(level: number): number {
  return level === 0 ? K.W_VLAN_OUTER : K.W_VLAN_INNER;
}
/** The TPID of a VLAN level: written as the eth_type before vlan(...). */
export function tpidField(level: number): FieldSpec {
  return field("", "hex16", [[vlanWord(level), 16, 16]]);
}
/** vlan(...) fields of a level; `tci` is accepted on input only. */
export function vlanFields(
  level: number,
): { vid: FieldSpec; pcp: FieldSpec; cfi: FieldSpec; tci: FieldSpec } {
  const w = vlanWord(level);
  return {
    vid: field("vid", "dec", [[w, 0, 12]]),
    pcp: field("pcp", "dec", [[w, 13, 3]]),
    cfi: field("cfi", "dec", [[w, 12, 1]]),
    tci: field("tci", "hex", [[w, 0, 16]]),
  };
}

/** mpls(...) fields of the single label stack entry we hold. */
export const MPLS_FIELDS: readonly FieldSpec[] = [
  field("label", "dec", [[K.W_MPLS_LSE, 12, 20]]),
  field("tc", "dec", [[K.W_MPLS_LSE, 9, 3]]),
  field("ttl", "dec", [[K.W_MPLS_LSE, 0, 8]]),
  field("bos", "dec", [[K.W_MPLS_LSE, 8, 1]]),
];

const PROTO = field("proto", "dec", [[NW, 24, 8]]);
const FRAG = field("frag", "frag", [[NW, 0, 2]]);

/** ipv4(...) fields in print order. */
export const IPV4_FIELDS: readonly FieldSpec[] = [
  field("src", "ipv4", [[K.W_NW_SRC, 0, 32]]),
  field("dst", "ipv4", [[K.W_NW_DST, 0, 32]]),
  PROTO,
  field("tos", "hex", [[NW, 16, 8]]),
  field("ttl", "dec", [[NW, 8, 8]]),
  FRAG,
];
/** ipv6(...) fields in print order. */
export const IPV6_FIELDS: readonly FieldSpec[] = [
  field("src", "ipv6", ipv6(K.W_IPV6_SRC)),
  field("dst", "ipv6", ipv6(K.W_IPV6_DST)),
  field("label", "hex", [[K.W_IPV6_LABEL, 0, 20]]),
  PROTO,
  field("tclass", "hex", [[NW, 16, 8]]),
  field("hlimit", "dec", [[NW, 8, 8]]),
  FRAG,
];
/** The IP protocol field shared by ipv4(...) and ipv6(...). */
export const NW_PROTO = PROTO;
/** The fragment field shared by ipv4(...) and ipv6(...). */
export const NW_FRAG = FRAG;

/** tcp(...), udp(...), sctp(...) fields. */
export const PORT_FIELDS: readonly FieldSpec[] = [
  field("src", "dec", [[K.W_TP, 16, 16]]),
  field("dst", "dec", [[K.W_TP, 0, 16]]),
];
/** icmp(...) and icmpv6(...) fields: type in the source port, code in the destination. */
export const ICMP_FIELDS: readonly FieldSpec[] = [
  field("type", "dec", [[K.W_TP, 16, 8]]),
  field("code", "dec", [[K.W_TP, 0, 8]]),
];
/** arp(...) fields; the opcode is held in 8 bits, as OVS's nw_proto. */
export const ARP_FIELDS: readonly FieldSpec[] = [
  field("sip", "ipv4", [[K.W_NW_SRC, 0, 32]]),
  field("tip", "ipv4", [[K.W_NW_DST, 0, 32]]),
  field("op", "dec", [[NW, 24, 8]]),
  field("sha", "mac", mac(K.W_ARP_SHA_HI, K.W_ARP_SHA_LO)),
  field("tha", "mac", mac(K.W_ARP_THA_HI, K.W_ARP_THA_LO)),
];
/** nd(...) fields. */
export const ND_FIELDS: readonly FieldSpec[] = [
  field("target", "ipv6", ipv6(K.W_ND_TARGET)),
  field("sll", "mac", mac(K.W_ARP_SHA_HI, K.W_ARP_SHA_LO)),
  field("tll", "mac", mac(K.W_ARP_THA_HI, K.W_ARP_THA_LO)),
];

/** Names of the 12 TCP flag bits, bit 0 first (lib/packets.c). */
export const TCP_FLAG_NAMES: readonly string[] = [
  "fin",
  "syn",
  "rst",
  "psh",
  "ack",
  "urg",
  "ece",
  "cwr",
  "ns",
  "[200]",
  "[400]",
  "[800]",
];
/**
 * Tunnel flag names in OVS's bit order (OAM=1, DF=2, CSUM=4, KEY=8), which
 * is the order OVS prints them, with our TNL_F_* bit for each.
 */
export const TUN_FLAG_BITS: readonly (readonly [name: string, ourBit: number])[] = [
  ["oam", K.TNL_F_OAM],
  ["df", K.TNL_F_DONT_FRAGMENT],
  ["csum", K.TNL_F_CSUM],
  ["key", K.TNL_F_KEY],
];

/** The names and bits of a flags kind, in print order. */
export function flagTable(kind: "tcp_flags" | "tun_flags"): readonly (readonly [string, number])[] {
  return kind === "tcp_flags" ? TCP_FLAG_NAMES.map((n, i) => [n, 1 << i] as const) : TUN_FLAG_BITS;
}

/** Frag names by key value: 0 no, FRAG_ANY first, FRAG_ANY|FRAG_LATER later. */
export function fragName(value: bigint): string {
  if ((value & BigInt(K.FRAG_ANY)) === 0n) return "no";
  return (value & BigInt(K.FRAG_LATER)) !== 0n ? "later" : "first";
}
/** Frag key value for a name, or null if it is not one of no/first/later. */
export function fragValue(name: string): bigint | null {
  switch (name.toLowerCase()) {
    case "no":
      return 0n;
    case "first":
      return BigInt(K.FRAG_ANY);
    case "later":
      return BigInt(K.FRAG_ANY | K.FRAG_LATER);
  }
  return null;
}

/** `%#x`: "0" for zero, else 0x-prefixed lowercase hex. */
export function altHex(value: bigint): string {
  return value === 0n ? "0" : `0x${value.toString(16)}`;
}

/**
 * Spells a field value (or a mask, with `asMask`) the way OVS prints it.
 * Masks of decimal fields are printed in `%#x`, as OVS does.
 */
export function formatValue(kind: FieldKind, value: bigint, asMask: boolean): string {
  switch (kind) {
    case "dec":
      return asMask ? altHex(value) : value.toString(10);
    case "hex":
      return altHex(value);
    case "hex64":
      return asMask ? altHex(value) : `0x${value.toString(16)}`;
    case "hex16":
      return `0x${value.toString(16).padStart(4, "0")}`;
    case "ipv4":
      return formatIpv4(Number(value));
    case "mac":
      return formatMac(Number(value >> 16n), Number(value & 0xffffn));
    case "ipv6": {
      const w = [0, 1, 2, 3].map((i) => Number((value >> BigInt(96 - 32 * i)) & 0xffffffffn));
      return formatIpv6(w);
    }
    case "frag":
      return fragName(value);
    case "tcp_flags":
    case "tun_flags":
      return altHex(value);
  }
}

/**
 * Formats flags: exact (`mask` all ones) as `syn|ack` ("0" when none),
 * otherwise as `+syn-ack` over the masked bits, in print order.
 */
export function formatFlags(
  kind: "tcp_flags" | "tun_flags",
  value: bigint,
  mask: bigint,
  width: number,
): string {
  const table = flagTable(kind);
  const v = Number(value), m = Number(mask);
  if (mask === fullMask(width)) {
    const set = table.filter(([, bit]) => (v & bit) !== 0).map(([name]) => name);
    return set.length === 0 ? "0" : set.join("|");
  }
  return table.filter(([, bit]) => (m & bit) !== 0).map(([name, bit]) =>
    ((v & bit) !== 0 ? "+" : "-") + name
  )
    .join("");
}

/** Total length in bytes of the Geneve options (exact when geneve(...) is given). */
export const GENEVE_LEN = field("geneve_len", "dec", [[K.W_TUN_OPTS_LEN, 0, 32]]);
/** Byte `i` (0..TUN_OPTS_MAX-1) of the raw Geneve options. */
export function geneveByte(i: number): FieldSpec {
  return field("geneve", "hex", [[K.W_TUN_OPTS + (i >> 2), 24 - 8 * (i & 3), 8]]);
}

/** Attributes with a single unnamed value, and the field each one sets (text and JSON readers). */
export const SINGLE_ATTRIBUTES: Readonly<Record<string, FieldSpec>> = {
  skb_priority: SKB_PRIORITY,
  skb_mark: SKB_MARK,
  recirc_id: RECIRC_ID,
  dp_hash: DP_HASH,
  in_port: IN_PORT,
};
/** Attributes made of `name=value` fields (text and JSON readers). */
export const FIELD_ATTRIBUTES: Readonly<Record<string, readonly FieldSpec[]>> = {
  eth: ETH_FIELDS,
  mpls: MPLS_FIELDS,
  ipv4: IPV4_FIELDS,
  ipv6: IPV6_FIELDS,
  tcp: PORT_FIELDS,
  udp: PORT_FIELDS,
  sctp: PORT_FIELDS,
  icmp: ICMP_FIELDS,
  icmpv6: ICMP_FIELDS,
  arp: ARP_FIELDS,
  nd: ND_FIELDS,
};
