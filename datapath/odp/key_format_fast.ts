/**
 * The number-only path of the match formatter (key_format.ts), for dumps.
 *
 * Why: the general path builds key_shown.ts's attribute list, reading every
 * field as a bigint into an object, then spells it: about 15 µs per flow,
 * most of a cold dump (a `--cpu-prof` of dumps of 100,000 flows: readField,
 * writeField, fullMask and the garbage they make). This path follows the
 * very same rules straight from the key and mask words into the text, with
 * plain numbers (fields of more than 32 bits, MAC, IPv6 and tun_id, are
 * handled as their 32-bit words), and allocates nothing but the text:
 * about 2 µs per flow. With it a cold dump of 100,000 flows (no cached
 * text yet, flow_text_cache.ts) went from 36 to 9 CPU ms per 1,000 flows.
 *
 * It covers matches without MPLS, Geneve options, ICMPv6 or an 802.3
 * eth_type (VLAN tags included), and returns null for the rest, which the general path
 * formats. tests/key_format_fast_test.ts compares both on thousands of
 * random keys and masks, byte for byte.
 *
 * @module
 */

import * as K from "../flow_key.ts";
import * as F from "./key_fields.ts";
import { formatIpv4, formatIpv6, formatMac } from "./net_text.ts";

const TCP_FLAG_TABLE = F.flagTable("tcp_flags");
const TUN_FLAG_TABLE = F.flagTable("tun_flags");
/** The VLAN fields of levels 0 and 1, made once. */
const TPIDS = [F.tpidField(0), F.tpidField(1)];
const VLANS = [0, 1].map((level) => {
  const v = F.vlanFields(level);
  return { ...v, vidPcp: [v.vid, v.pcp] };
});

/** Attributes chosen by eth_type (key_shown.ts NETWORK without MPLS, which is left to the general path). */
function networkOf(ethType: number): readonly F.FieldSpec[] | null {
  switch (ethType) {
    case 0x0800:
      return F.IPV4_FIELDS;
    case 0x86dd:
      return F.IPV6_FIELDS;
    case 0x0806:
    case 0x8035:
      return F.ARP_FIELDS;
  }
  return null;
}

function networkName(ethType: number): string {
  return ethType === 0x0800 ? "ipv4" : ethType === 0x86dd ? "ipv6" : "arp";
}

/** `%#x`. */
function altHex(value: number): string {
  return value === 0 ? "0" : "0x" + value.toString(16);
}

/** `0x%04x`. */
function hex16(value: number): string {
  const digits = value.toString(16);
  return digits.length >= 4 ? "0x" + digits : "0x" + "000".slice(digits.length - 1) + digits;
}

/** Hex digits of a 64-bit value given as two words, no leading zeros. */
function hex64Digits(hi: number, lo: number): string {
  if (hi === 0) return lo.toString(16);
  return hi.toString(16) + lo.toString(16).padStart(8, "0");
}

/** A single-segment field of `words` at `offset`. */
function readSegment(words: Uint32Array, offset: number, segment: F.Segment): number {
  const bits = segment[2];
  const word = words[offset + segment[0]] >>> 0;
  return bits === 32 ? word : (word >>> segment[1]) & ((1 << bits) - 1);
}

/** True when the field's mask bits are all zero. */
function maskIsZero(mask: Uint32Array, mo: number, spec: F.FieldSpec): boolean {
  const segments = spec.segments;
  for (let i = 0; i < segments.length; i++) {
    if (readSegment(mask, mo, segments[i]) !== 0) return false;
  }
  return true;
}

/** F.formatFlags with numbers. */
function flagsText(kind: F.FieldKind, value: number, mask: number, full: number): string {
  const table = kind === "tcp_flags" ? TCP_FLAG_TABLE : TUN_FLAG_TABLE;
  let out = "";
  if (mask === full) {
    for (let i = 0; i < table.length; i++) {
      if ((value & table[i][1]) === 0) continue;
      out += out === "" ? table[i][0] : "|" + table[i][0];
    }
    return out === "" ? "0" : out;
  }
  for (let i = 0; i < table.length; i++) {
    const bit = table[i][1];
    if ((mask & bit) !== 0) out += ((value & bit) !== 0 ? "+" : "-") + table[i][0];
  }
  return out;
}

/** F.formatValue for a field of at most 32 bits. */
function numberText(kind: F.FieldKind, value: number, asMask: boolean): string {
  switch (kind) {
    case "dec":
      return asMask ? altHex(value) : String(value);
    case "hex16":
      return hex16(value);
    case "ipv4":
      return formatIpv4(value);
    case "frag":
      return (value & K.FRAG_ANY) === 0 ? "no" : (value & K.FRAG_LATER) !== 0 ? "later" : "first";
    default: // hex, hex64 of one word, and flags spelt as values
      return altHex(value);
  }
}

/**
 * A field as key_format.ts's formatBare spells it: `value` or `value/mask`;
 * null for a field this path does not know.
 */
function bareText(
  key: Uint32Array,
  ko: number,
  mask: Uint32Array,
  mo: number,
  spec: F.FieldSpec,
): string | null {
  const segments = spec.segments;
  const kind = spec.kind;
  if (segments.length === 1) {
    const v = readSegment(key, ko, segments[0]);
    const m = readSegment(mask, mo, segments[0]);
    const bits = segments[0][2];
    const full = bits === 32 ? 0xffffffff : (1 << bits) - 1;
    if (kind === "tcp_flags" || kind === "tun_flags") return flagsText(kind, v, m, full);
    const value = numberText(kind, v, false);
    if (kind === "frag" || m === full) return value;
    return value + "/" + numberText(kind, m, true);
  }
  if (kind === "mac" && segments.length === 2) {
    const [hiSeg, loSeg] = segments;
    const vHi = readSegment(key, ko, hiSeg), vLo = readSegment(key, ko, loSeg);
    const mHi = readSegment(mask, mo, hiSeg), mLo = readSegment(mask, mo, loSeg);
    const value = formatMac(vHi, vLo);
    if (mHi === 0xffffffff && mLo === 0xffff) return value;
    return value + "/" + formatMac(mHi, mLo);
  }
  if (kind === "ipv6" && segments.length === 4) {
    const w = segments[0][0];
    const value = formatIpv6(key, ko + w);
    if (
      mask[mo + w] === 0xffffffff && mask[mo + w + 1] === 0xffffffff &&
      mask[mo + w + 2] === 0xffffffff && mask[mo + w + 3] === 0xffffffff
    ) return value;
    return value + "/" + formatIpv6(mask, mo + w);
  }
  if (kind === "hex64" && segments.length === 2) {
    const [hiSeg, loSeg] = segments;
    const mHi = readSegment(mask, mo, hiSeg), mLo = readSegment(mask, mo, loSeg);
    const value = "0x" + hex64Digits(readSegment(key, ko, hiSeg), readSegment(key, ko, loSeg));
    if (mHi === 0xffffffff && mLo === 0xffffffff) return value;
    return value + "/" + (mHi === 0 && mLo === 0 ? "0" : "0x" + hex64Digits(mHi, mLo));
  }
  return null;
}

/** `name=value` for each field whose mask is not zero, comma separated; null if unknown. */
function shownFields(
  key: Uint32Array,
  ko: number,
  mask: Uint32Array,
  mo: number,
  specs: readonly F.FieldSpec[],
): string | null {
  let out = "";
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    if (maskIsZero(mask, mo, spec)) continue;
    const text = bareText(key, ko, mask, mo, spec);
    if (text === null) return null;
    out += (out === "" ? "" : ",") + spec.name + "=" + text;
  }
  return out;
}

/** Whether the match says anything of a VLAN tag at `depth` (key_shown.ts matchesTag). */
function matchesTag(key: Uint32Array, ko: number, mask: Uint32Array, mo: number, depth: number) {
  const w = F.vlanWord(depth);
  return mask[mo + w] !== 0 && !(key[ko + w] === 0 && mask[mo + w] === 0xffffffff);
}

/**
 * The match text formatFlowKey gives for `key` and `mask`, or null when
 * the match has something this path leaves to the general one.
 */
export function formatFlowKeyFast(
  key: Uint32Array,
  ko: number,
  mask: Uint32Array,
  mo: number,
): string | null {
  if (mask[mo + K.W_TUN_OPTS_LEN] !== 0) return null;

  let out = "";
  if (!maskIsZero(mask, mo, F.SKB_PRIORITY)) {
    out += "skb_priority(" + bareText(key, ko, mask, mo, F.SKB_PRIORITY) + "),";
  }
  let tunnelMasked = false;
  for (let w = K.W_TUN_ID_HI; w < K.META_WORDS; w++) tunnelMasked ||= mask[mo + w] !== 0;
  if (tunnelMasked) {
    let fields = shownFields(key, ko, mask, mo, F.TUNNEL_FIELDS);
    if (fields === null) return null;
    if (!maskIsZero(mask, mo, F.TUN_FLAGS)) {
      fields += (fields === "" ? "" : ",") + "flags(" +
        bareText(key, ko, mask, mo, F.TUN_FLAGS) + ")";
    }
    out += "tunnel(" + fields + "),";
  }
  if (!maskIsZero(mask, mo, F.SKB_MARK)) {
    out += "skb_mark(" + bareText(key, ko, mask, mo, F.SKB_MARK) + "),";
  }
  out += "recirc_id(" + bareText(key, ko, mask, mo, F.RECIRC_ID) + ")";
  if (!maskIsZero(mask, mo, F.DP_HASH)) {
    out += ",dp_hash(" + bareText(key, ko, mask, mo, F.DP_HASH) + ")";
  }
  if (!maskIsZero(mask, mo, F.IN_PORT)) {
    out += ",in_port(" + bareText(key, ko, mask, mo, F.IN_PORT) + ")";
  }
  const eth = shownFields(key, ko, mask, mo, F.ETH_FIELDS);
  if (eth === null) return null;
  out += ",eth(" + eth + ")";
  const level = levelText(key, ko, mask, mo, 0);
  return level === null ? null : out + level;
}

/** Text of one field of a VLAN tag (key_format.ts formatVlanField). */
function vlanFieldText(
  key: Uint32Array,
  ko: number,
  mask: Uint32Array,
  mo: number,
  spec: F.FieldSpec,
): string {
  const segment = spec.segments[0];
  const m = readSegment(mask, mo, segment);
  if (spec.name === "cfi" || m === (1 << segment[2]) - 1) {
    return spec.name + "=" + bareText(key, ko, mask, mo, spec);
  }
  return spec.name + "=" + readSegment(key, ko, segment) + "/0x" + m.toString(16);
}

/**
 * The attributes from encapsulation level `depth` on (key_shown.ts
 * levelAttrs), each with a leading comma; null when this path does not
 * cover them.
 */
function levelText(
  key: Uint32Array,
  ko: number,
  mask: Uint32Array,
  mo: number,
  depth: number,
): string | null {
  if (
    depth <= 1 &&
    (matchesTag(key, ko, mask, mo, depth) || (depth === 0 && matchesTag(key, ko, mask, mo, 1)))
  ) {
    let out = "";
    const tpid = TPIDS[depth];
    if (!maskIsZero(mask, mo, tpid)) out += ",eth_type(" + bareText(key, ko, mask, mo, tpid) + ")";
    const v = VLANS[depth];
    if (!maskIsZero(mask, mo, v.tci)) {
      let fields = "";
      for (const spec of v.vidPcp) {
        if (readSegment(key, ko, spec.segments[0]) === 0 && maskIsZero(mask, mo, spec)) continue;
        fields += (fields === "" ? "" : ",") + vlanFieldText(key, ko, mask, mo, spec);
      }
      const cfi = v.cfi.segments[0];
      if (readSegment(key, ko, cfi) !== 1 || readSegment(mask, mo, cfi) !== 1) {
        fields += (fields === "" ? "" : ",") + vlanFieldText(key, ko, mask, mo, v.cfi);
      }
      out += ",vlan(" + fields + ")";
    }
    const inner = levelText(key, ko, mask, mo, depth + 1);
    if (inner === null) return null;
    return out + ",encap(" + inner.slice(1) + ")";
  }
  const et = key[ko + K.W_ETH_TYPE] & 0xffff;
  const etMask = mask[mo + K.W_ETH_TYPE] & 0xffff;
  if (et < 0x600 && etMask !== 0) return null; // 802.3
  if (et === 0x8847 || et === 0x8848) return null; // MPLS
  const nw = key[ko + K.W_NW_PROTO_TOS_TTL_FRAG];
  const isIp = et === 0x0800 || et === 0x86dd;
  const proto = (nw >>> 24) & 0xff;
  const hasTransport = isIp && (nw & K.FRAG_LATER) === 0;
  if (hasTransport && proto === 58 && et === 0x86dd) return null; // icmpv6 and nd
  let out = "";
  let transport = "";
  if (hasTransport) {
    if (proto === 6 || proto === 17 || proto === 132) {
      const ports = shownFields(key, ko, mask, mo, F.PORT_FIELDS);
      if (ports !== "") {
        transport += (proto === 6 ? ",tcp(" : proto === 17 ? ",udp(" : ",sctp(") +
          ports + ")";
      }
    }
    if (proto === 6 && !maskIsZero(mask, mo, F.TCP_FLAGS)) {
      transport += ",tcp_flags(" + bareText(key, ko, mask, mo, F.TCP_FLAGS) + ")";
    }
    if (proto === 1 && et === 0x0800) {
      const icmp = shownFields(key, ko, mask, mo, F.ICMP_FIELDS);
      if (icmp !== "") transport += ",icmp(" + icmp + ")";
    }
  }
  const ethTypeText = etMask !== 0
    ? ",eth_type(" + bareText(key, ko, mask, mo, F.ETH_TYPE) + ")"
    : "";
  const network = networkOf(et);
  if (network !== null) {
    let fields = "";
    for (let i = 0; i < network.length; i++) {
      const spec = network[i];
      const zero = maskIsZero(mask, mo, spec);
      if (zero && !(spec === F.NW_PROTO && transport !== "")) continue;
      const text = bareText(key, ko, mask, mo, spec);
      if (text === null) return null;
      fields += (fields === "" ? "" : ",") + spec.name + "=" + text;
    }
    if (fields !== "") {
      out += ",eth_type(" + bareText(key, ko, mask, mo, F.ETH_TYPE) + ")," + networkName(et) +
        "(" + fields + ")";
    } else {
      out += ethTypeText;
    }
  } else if (et >= 0x600) {
    out += ethTypeText;
  }
  return out + transport;
}
