/**
 * Decides which attributes and fields of a key/mask pair are shown, in OVS
 * order, as lib/odp-util.c's odp_flow_format does in non-verbose mode. The
 * text formatter and the JSON form both render this list, so they always
 * agree.
 *
 * Rules: metadata first (skb_priority, tunnel, skb_mark, recirc_id (always),
 * dp_hash, in_port), then eth (always, `eth()` when wildcarded), then per
 * encapsulation level either `eth_type(TPID),vlan(...),encap(...)` or
 * `eth_type`, the network attribute chosen by the key's eth_type, and the
 * transport attributes chosen by the key's IP protocol (none for later
 * fragments). Fully wildcarded fields and attributes are left out. Where
 * OVS would print a transport attribute whose selector (eth_type, proto,
 * icmpv6 type) is wildcarded, the selector is shown as `value/0` so that the
 * text parses back to the same match. An 802.3 frame (eth_type < 0x0600)
 * is shown as a trailing `eth_type(0/MASK)`, as OVS does.
 *
 * @module
 */

import * as K from "../flow_key.ts";
import * as F from "./key_fields.ts";

/** A field to show: `mask` equal to the field's full mask means exact. */
export interface ShownField {
  spec: F.FieldSpec;
  value: bigint;
  mask: bigint;
}

/** One Geneve option to show; `data` is null when its bytes are wildcarded. */
export interface ShownGeneveOption {
  fields: ShownField[];
  data: { value: Uint8Array; mask: Uint8Array } | null;
}

/** An attribute to show. `single` attributes have one unnamed field. */
export interface ShownAttr {
  name: string;
  single: boolean;
  fields: ShownField[];
  /** encap(...) contents. */
  children?: ShownAttr[];
  /** tunnel(geneve(...)), when shown. */
  geneve?: ShownGeneveOption[];
  /** An 802.3 frame's eth_type, printed `eth_type(0/MASK)` as OVS does. */
  dot3?: boolean;
  /** A note OVS would print for malformed Geneve bytes. */
  geneveError?: string;
}

/**
 * Lists what to show for `key` and `mask` (KEY_WORDS words each, from word
 * 0). The arrays are not modified.
 */
export function shownAttrs(key: Uint32Array, mask: Uint32Array): ShownAttr[] {
  const get = (spec: F.FieldSpec): ShownField => ({
    spec,
    value: F.readField(key, 0, spec),
    mask: F.readField(mask, 0, spec),
  });
  const shown = (specs: readonly F.FieldSpec[]) => specs.map(get).filter((f) => f.mask !== 0n);
  const single = (name: string, spec: F.FieldSpec, always = false): ShownAttr[] => {
    const f = get(spec);
    return f.mask !== 0n || always ? [{ name, single: true, fields: [f] }] : [];
  };

  const out: ShownAttr[] = [...single("skb_priority", F.SKB_PRIORITY)];
  let tunnelMasked = false;
  for (let w = K.W_TUN_ID_HI; w < K.META_WORDS; w++) tunnelMasked ||= mask[w] !== 0;
  if (tunnelMasked) out.push(tunnelAttr(key, mask, shown));
  out.push(...single("skb_mark", F.SKB_MARK));
  out.push(...single("recirc_id", F.RECIRC_ID, true));
  out.push(...single("dp_hash", F.DP_HASH));
  out.push(...single("in_port", F.IN_PORT));
  out.push({ name: "eth", single: false, fields: shown(F.ETH_FIELDS) });
  out.push(...levelAttrs(0, key, mask, get, shown));
  return out;
}

function tunnelAttr(
  key: Uint32Array,
  mask: Uint32Array,
  shown: (specs: readonly F.FieldSpec[]) => ShownField[],
): ShownAttr {
  const attr: ShownAttr = { name: "tunnel", single: false, fields: shown(F.TUNNEL_FIELDS) };
  if (mask[K.W_TUN_OPTS_LEN] !== 0) {
    const bytes = (words: Uint32Array) => {
      const b = new Uint8Array(K.TUN_OPTS_MAX);
      for (let i = 0; i < K.TUN_OPTS_MAX; i++) {
        b[i] = (words[K.W_TUN_OPTS + (i >> 2)] >>> (24 - 8 * (i & 3))) & 0xff;
      }
      return b;
    };
    const length = Math.min(key[K.W_TUN_OPTS_LEN], K.TUN_OPTS_MAX);
    const walked = geneveOptions(bytes(key), bytes(mask), length);
    attr.geneve = walked.options;
    if (walked.error) attr.geneveError = walked.error;
  }
  attr.fields.push(...shown([F.TUN_FLAGS]));
  return attr;
}

const GENEVE_CLASS = F.field("class", "hex", [[0, 16, 16]]);
const GENEVE_TYPE = F.field("type", "hex", [[0, 8, 8]]);
const GENEVE_LEN = F.field("len", "dec", [[0, 0, 8]]);

/** Walks Geneve option TLVs (format_geneve_opts). */
function geneveOptions(key: Uint8Array, mask: Uint8Array, length: number) {
  const options: ShownGeneveOption[] = [];
  let pos = 0;
  while (pos < length) {
    if (length - pos < 4) return { options, error: `opt len ${length - pos} less than minimum 4` };
    const dataLen = (key[pos + 3] & 0x1f) * 4;
    if (pos + 4 + dataLen > length) {
      return { options, error: `opt len ${4 + dataLen} greater than remaining ${length - pos}` };
    }
    const lenMask = mask[pos + 3] & 0x1f;
    const fields: ShownField[] = [
      {
        spec: GENEVE_CLASS,
        value: BigInt((key[pos] << 8) | key[pos + 1]),
        mask: BigInt((mask[pos] << 8) | mask[pos + 1]),
      },
      { spec: GENEVE_TYPE, value: BigInt(key[pos + 2]), mask: BigInt(mask[pos + 2]) },
      { spec: GENEVE_LEN, value: BigInt(dataLen), mask: BigInt(lenMask === 0x1f ? 0xff : lenMask) },
    ].filter((f) => f.mask !== 0n);
    const dataMask = mask.slice(pos + 4, pos + 4 + dataLen);
    const data = dataLen > 0 && dataMask.some((b) => b !== 0)
      ? { value: key.slice(pos + 4, pos + 4 + dataLen), mask: dataMask }
      : null;
    options.push({ fields, data });
    pos += 4 + dataLen;
  }
  return { options, error: undefined };
}

const NETWORK: Record<number, [string, readonly F.FieldSpec[]]> = {
  0x0800: ["ipv4", F.IPV4_FIELDS],
  0x86dd: ["ipv6", F.IPV6_FIELDS],
  0x0806: ["arp", F.ARP_FIELDS],
  0x8035: ["arp", F.ARP_FIELDS],
  0x8847: ["mpls", F.MPLS_FIELDS],
  0x8848: ["mpls", F.MPLS_FIELDS],
};
const TRANSPORT: Record<number, string> = { 6: "tcp", 17: "udp", 132: "sctp" };

/**
 * Whether the match says something about a VLAN tag at `depth` other than
 * "no tag" (the word matched exactly as 0, which is how a level without
 * `vlan(...)` is parsed, and is shown as nothing).
 */
function matchesTag(key: Uint32Array, mask: Uint32Array, depth: number): boolean {
  const w = F.vlanWord(depth);
  return mask[w] !== 0 && !(key[w] === 0 && mask[w] === 0xffffffff);
}

function levelAttrs(
  depth: number,
  key: Uint32Array,
  mask: Uint32Array,
  get: (spec: F.FieldSpec) => ShownField,
  shown: (specs: readonly F.FieldSpec[]) => ShownField[],
): ShownAttr[] {
  const out: ShownAttr[] = [];
  if (depth <= 1 && (matchesTag(key, mask, depth) || (depth === 0 && matchesTag(key, mask, 1)))) {
    const tpid = get(F.tpidField(depth));
    if (tpid.mask !== 0n) out.push({ name: "eth_type", single: true, fields: [tpid] });
    const v = F.vlanFields(depth);
    if (get(v.tci).mask !== 0n) {
      const fields = [get(v.vid), get(v.pcp)].filter((f) => f.value !== 0n || f.mask !== 0n);
      const cfi = get(v.cfi);
      if (cfi.value !== 1n || cfi.mask !== 1n) fields.push(cfi);
      out.push({ name: "vlan", single: false, fields });
    }
    out.push({
      name: "encap",
      single: false,
      fields: [],
      children: levelAttrs(depth + 1, key, mask, get, shown),
    });
    return out;
  }
  const ethType = get(F.ETH_TYPE);
  const et = Number(ethType.value);
  const network = NETWORK[et];
  const isIp = et === 0x0800 || et === 0x86dd;
  const transport: ShownAttr[] = [];
  if (isIp && (key[K.W_NW_PROTO_TOS_TTL_FRAG] & K.FRAG_LATER) === 0) {
    const proto = Number(F.readField(key, 0, F.NW_PROTO));
    const add = (name: string, fields: ShownField[]) => {
      if (fields.length > 0) transport.push({ name, single: false, fields });
    };
    if (proto in TRANSPORT) add(TRANSPORT[proto], shown(F.PORT_FIELDS));
    if (proto === 6 && get(F.TCP_FLAGS).mask !== 0n) {
      transport.push({ name: "tcp_flags", single: true, fields: [get(F.TCP_FLAGS)] });
    }
    if (proto === 1 && et === 0x0800) add("icmp", shown(F.ICMP_FIELDS));
    if (proto === 58 && et === 0x86dd) {
      const [type, code] = F.ICMP_FIELDS.map(get);
      const isNd = (type.value === 135n || type.value === 136n) && code.value === 0n;
      const nd = isNd ? shown(F.ND_FIELDS) : [];
      add("icmpv6", nd.length > 0 ? [type, code] : shown(F.ICMP_FIELDS));
      add("nd", nd);
    }
  }
  if (network) {
    const [name, specs] = network;
    let fields: ShownField[];
    if (name === "mpls") {
      fields = get(specs[0]).mask !== 0n || mask[K.W_MPLS_LSE] !== 0 ? specs.map(get) : [];
    } else {fields = specs.map(get).filter((f) =>
        f.mask !== 0n || (f.spec === F.NW_PROTO && transport.length > 0)
      );}
    if (fields.length > 0) {
      if (et >= 0x600) out.push({ name: "eth_type", single: true, fields: [ethType] });
      out.push({ name, single: false, fields });
    } else if (ethType.mask !== 0n) {
      out.push({ name: "eth_type", single: true, fields: [ethType] });
    }
  } else if (ethType.mask !== 0n && et >= 0x600) {
    out.push({ name: "eth_type", single: true, fields: [ethType] });
  }
  out.push(...transport);
  if (et < 0x600 && ethType.mask !== 0n) {
    out.push({ name: "eth_type", single: true, dot3: true, fields: [{ ...ethType, value: 0n }] });
  }
  return out;
}

/**
 * The mask that shows exactly what a packet has (an upcall's key): all
 * metadata, the tunnel if it has a destination (fields OVS puts in a tunnel
 * key), eth, VLAN tags present, eth_type unless 802.3, and the network and
 * transport fields the eth_type and protocol call for.
 */
export function packetMask(key: Uint32Array): Uint32Array {
  const mask = new Uint32Array(K.KEY_WORDS);
  const full = (spec: F.FieldSpec) => F.writeField(mask, 0, spec, F.fullMask(spec.width));
  const nonZero = (spec: F.FieldSpec) => F.readField(key, 0, spec) !== 0n;
  for (
    const spec of [F.SKB_PRIORITY, F.SKB_MARK, F.RECIRC_ID, F.DP_HASH, F.IN_PORT, ...F.ETH_FIELDS]
  ) full(spec);
  const [tunId, , tunDst, , tunIpv6Dst, , ttl] = F.TUNNEL_FIELDS;
  if (nonZero(tunDst) || nonZero(tunIpv6Dst)) {
    for (const spec of F.TUNNEL_FIELDS) if (nonZero(spec) || spec === ttl) full(spec);
    if ((key[K.W_TUN_TOS_TTL_FLAGS] & K.TNL_F_KEY) !== 0) full(tunId);
    full(F.TUN_FLAGS);
    const length = Math.min(key[K.W_TUN_OPTS_LEN], K.TUN_OPTS_MAX);
    if (length > 0) {
      full(F.GENEVE_LEN);
      for (let i = 0; i < length; i++) full(F.geneveByte(i));
    }
  }
  let depth = 0;
  for (; depth < 2 && (key[F.vlanWord(depth)] & 0xffff) !== 0; depth++) {
    mask[F.vlanWord(depth)] = 0xffffffff;
  }
  const et = Number(F.readField(key, 0, F.ETH_TYPE));
  if (et >= 0x600) full(F.ETH_TYPE);
  const network = NETWORK[et];
  if (network) { for (const spec of network[1]) full(spec); }
  if ((et === 0x0800 || et === 0x86dd) && (key[K.W_NW_PROTO_TOS_TTL_FRAG] & K.FRAG_LATER) === 0) {
    const proto = Number(F.readField(key, 0, F.NW_PROTO));
    if (proto in TRANSPORT) F.PORT_FIELDS.forEach(full);
    if (proto === 6 && nonZero(F.TCP_FLAGS)) full(F.TCP_FLAGS);
    if ((proto === 1 && et === 0x0800) || (proto === 58 && et === 0x86dd)) {
      F.ICMP_FIELDS.forEach(full);
    }
    const type = Number(F.readField(key, 0, F.ICMP_FIELDS[0]));
    if (
      proto === 58 && et === 0x86dd && (type === 135 || type === 136) && !nonZero(F.ICMP_FIELDS[1])
    ) {
      F.ND_FIELDS.forEach(full);
    }
  }
  return mask;
}
