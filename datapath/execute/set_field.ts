/**
 * `set(...)` and masked `set(...)` actions: compiled once into a
 * {@linkcode SetProgram}, then applied per packet by {@linkcode applySet}.
 *
 * Settable fields (flow-key words, datapath/flow_key.ts): skb_priority,
 * skb_mark, the tunnel metadata words (packet metadata only), Ethernet
 * source/destination, the first MPLS label stack entry, IPv4 source,
 * destination, tos and ttl, IPv6 source, destination, flow label, traffic
 * class and hop limit, TCP/UDP/SCTP ports, and ICMP / ICMPv6 type and
 * code. Each bit changes only where the mask is set: `new = key | (old &
 * ~mask)`, with the key ANDed with the mask when compiled (OVS ORs key bits
 * outside the mask in; tests/ovs_differential_test.ts). The IP protocol
 * and fragment bits of the word they share with tos/ttl are ignored (OVS
 * ignores them too); any other word (in_port, recirc_id, dp_hash, VLAN,
 * ethertype, TCP flags, ARP/ND) makes {@linkcode compileSet} throw.
 *
 * Checksums follow incrementally (RFC 1624): the IPv4 header checksum, and
 * TCP/UDP (and ICMPv6 for IPv6) checksums when addresses or ports change. A
 * UDP checksum of 0 stays 0, and a recomputed 0 becomes 0xffff. SCTP's
 * CRC32c is recomputed so that a bad CRC stays bad. A header the packet
 * does not have is skipped, as OVS's odp-execute does (the flow's match
 * guarantees it is there).
 *
 * @module
 */

import type { SetAction } from "../action.ts";
import { DpifError } from "../errors.ts";
import {
  FIRST_TUNNEL_WORD,
  KEY_WORDS,
  META_WORDS,
  tunnelDstSet,
  W_DP_HASH,
  W_ETH_DST_HI,
  W_ETH_DST_LO,
  W_ETH_SRC_HI,
  W_ETH_SRC_LO,
  W_IN_PORT,
  W_IPV6_DST,
  W_IPV6_LABEL,
  W_IPV6_SRC,
  W_MPLS_LSE,
  W_NW_DST,
  W_NW_PROTO_TOS_TTL_FRAG,
  W_NW_SRC,
  W_RECIRC_ID,
  W_TP,
} from "../flow_key.ts";
import { META_SHIFT, type PacketBatch } from "../packet_batch.ts";
import { crc32c, updateChecksum16, updateChecksum32 } from "./checksum.ts";
import {
  ETH_TYPE_MPLS,
  ETH_TYPE_MPLS_MCAST,
  ethTypeOffset,
  ipEnd,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  locateIp,
  locateL4,
} from "./headers.ts";

/** Bits of each word that a set may change (0 = not settable). */
const SETTABLE = buildSettableMask();

function buildSettableMask(): Uint32Array {
  const m = new Uint32Array(KEY_WORDS);
  for (let w = W_DP_HASH + 1; w < META_WORDS; w++) m[w] = 0xffffffff; // priority, mark, tunnel
  m[W_ETH_SRC_HI] = 0xffffffff;
  m[W_ETH_SRC_LO] = 0xffff;
  m[W_ETH_DST_HI] = 0xffffffff;
  m[W_ETH_DST_LO] = 0xffff;
  m[W_MPLS_LSE] = 0xffffffff;
  m[W_NW_SRC] = 0xffffffff;
  m[W_NW_DST] = 0xffffffff;
  for (let w = W_IPV6_SRC; w < W_IPV6_DST + 4; w++) m[w] = 0xffffffff;
  m[W_IPV6_LABEL] = 0xfffff;
  m[W_NW_PROTO_TOS_TTL_FRAG] = 0x00ffff00; // tos and ttl only
  m[W_TP] = 0xffffffff;
  return m;
}

/** Bits silently ignored (not settable, but OVS's full-key sets name them). */
const IGNORED_NW_BITS = 0xff0000ff;

/** A compiled set action: key and mask copies plus which headers it touches. */
export class SetProgram {
  /** Key words, already ANDed with the mask. */
  readonly key: Uint32Array;
  /** Mask words restricted to settable bits. */
  readonly mask: Uint32Array;
  /** Metadata words the set writes. */
  readonly metaWords: Int32Array;
  /** Writes tunnel words (FIRST_TUNNEL_WORD and up). */
  readonly tunnel: boolean;
  /** Touches the Ethernet addresses. */
  readonly eth: boolean;
  /** Touches the first MPLS label stack entry. */
  readonly mpls: boolean;
  /** Touches the IPv4 addresses. */
  readonly ipv4Addresses: boolean;
  /** Touches IPv6 addresses or flow label. */
  readonly ipv6Fields: boolean;
  /** Touches tos/traffic class or ttl/hop limit. */
  readonly tosTtl: boolean;
  /** Touches transport ports. */
  readonly ports: boolean;

  /** Builds the program from restricted key/mask copies (see {@linkcode compileSet}). */
  constructor(key: Uint32Array, mask: Uint32Array) {
    this.key = key;
    this.mask = mask;
    const meta: number[] = [];
    for (let w = 0; w < META_WORDS; w++) if (mask[w] !== 0) meta.push(w);
    this.metaWords = meta.length === 0 ? NO_META_WORDS : Int32Array.from(meta);
    this.tunnel = meta.some((w) => w >= FIRST_TUNNEL_WORD);
    this.eth = (mask[W_ETH_SRC_HI] | mask[W_ETH_SRC_LO] | mask[W_ETH_DST_HI] |
      mask[W_ETH_DST_LO]) !== 0;
    this.mpls = mask[W_MPLS_LSE] !== 0;
    this.ipv4Addresses = (mask[W_NW_SRC] | mask[W_NW_DST]) !== 0;
    let v6 = mask[W_IPV6_LABEL];
    for (let w = W_IPV6_SRC; w < W_IPV6_DST + 4; w++) v6 |= mask[w];
    this.ipv6Fields = v6 !== 0;
    this.tosTtl = mask[W_NW_PROTO_TOS_TTL_FRAG] !== 0;
    this.ports = mask[W_TP] !== 0;
  }
}

/** The metaWords of every set that writes no metadata (shared: it has no element to change). */
const NO_META_WORDS = new Int32Array(0);

/**
 * Compiles a set action. Throws DpifError EINVAL when the key or mask does
 * not have KEY_WORDS words, or names a field that cannot be set.
 */
export function compileSet(action: SetAction): SetProgram {
  if (action.key.length !== KEY_WORDS || action.mask.length !== KEY_WORDS) {
    throw new DpifError("EINVAL", `set: key and mask must have ${KEY_WORDS} words`);
  }
  // One backing store for both (two typed arrays cost ~0.5 µs more per set compiled; flow
  // churn compiles a fresh set(eth) per put, on the control thread and in every PMD).
  const words = new Uint32Array(2 * KEY_WORDS);
  const key = words.subarray(0, KEY_WORDS);
  const mask = words.subarray(KEY_WORDS);
  for (let w = 0; w < KEY_WORDS; w++) {
    let m = action.mask[w];
    if (w === W_NW_PROTO_TOS_TTL_FRAG) m &= ~IGNORED_NW_BITS;
    if ((m & ~SETTABLE[w]) !== 0) {
      const what = w === W_IN_PORT
        ? "in_port"
        : w === W_RECIRC_ID
        ? "recirc_id"
        : w === W_DP_HASH
        ? "dp_hash"
        : `flow-key word ${w}`;
      throw new DpifError("EINVAL", `set: ${what} cannot be set by a set action`);
    }
    mask[w] = m;
    key[w] = action.key[w] & m;
  }
  return new SetProgram(key, mask);
}

/**
 * Applies a compiled set to packet `i` of `batch`, in place. Never fails:
 * headers the packet lacks are skipped; nothing is read or written outside
 * the packet.
 */
export function applySet(program: SetProgram, batch: PacketBatch, i: number): void {
  const key = program.key;
  const mask = program.mask;
  if (program.metaWords.length !== 0) {
    const meta = batch.meta;
    const m = i << META_SHIFT;
    // Tunnel words without a destination are meaningless (FIRST_TUNNEL_WORD):
    // start a tunnel from zeros, as the packet's key sees it.
    if (program.tunnel && !tunnelDstSet(meta, m)) {
      meta.fill(0, m + FIRST_TUNNEL_WORD, m + META_WORDS);
    }
    const words = program.metaWords;
    for (let k = 0; k < words.length; k++) {
      const w = words[k];
      meta[m + w] = key[w] | (meta[m + w] & ~mask[w]);
    }
  }
  const bytes = batch.pool.bytes;
  const view = batch.pool.view;
  const start = batch.offset[i];
  const length = batch.length[i];
  if (length < 14) return;
  if (program.eth) {
    setMasked32(view, start, key[W_ETH_DST_HI], mask[W_ETH_DST_HI]);
    setMasked16(view, start + 4, key[W_ETH_DST_LO], mask[W_ETH_DST_LO]);
    setMasked32(view, start + 6, key[W_ETH_SRC_HI], mask[W_ETH_SRC_HI]);
    setMasked16(view, start + 10, key[W_ETH_SRC_LO], mask[W_ETH_SRC_LO]);
  }
  if (program.mpls) {
    const t = ethTypeOffset(bytes, start, length);
    if (t >= 0 && t + 6 <= length) {
      const type = view.getUint16(start + t);
      if (type === ETH_TYPE_MPLS || type === ETH_TYPE_MPLS_MCAST) {
        setMasked32(view, start + t + 2, key[W_MPLS_LSE], mask[W_MPLS_LSE]);
      }
    }
  }
  if (!(program.ipv4Addresses || program.ipv6Fields || program.tosTtl || program.ports)) return;
  let l3: number;
  let l4Info: number;
  if (
    length > 34 && bytes[start + 12] === 0x08 && bytes[start + 13] === 0 &&
    bytes[start + 14] === 0x45
  ) {
    // Fast path: untagged Ethernet + IPv4 without options, what locateIp and
    // locateL4 would find, read in place (no later fragment: L4 at 34): two
    // calls and their re-parsing less per set, case (5) of the bench
    // (tests/fast_path_equivalence_test.ts holds it to the general path).
    l3 = 14;
    l4Info = (view.getUint16(start + 20) & 0x1fff) !== 0 ? -1 : (34 << 8) | bytes[start + 23];
  } else {
    l3 = locateIp(bytes, start, length);
    if (l3 < 0) return;
    l4Info = locateL4(bytes, start, length, l3);
  }
  const proto = l4Info < 0 ? -1 : l4Info & 0xff;
  const l4 = start + (l4Info >> 8);
  const ip = start + l3;
  const ipv6 = bytes[ip] >> 4 === 6;
  const l4Rel = l4Info >> 8;
  // Offset of the transport checksum the addresses are part of, or -1.
  let csumAt = -1;
  if (proto === IPPROTO_TCP && l4Rel + 20 <= length) csumAt = l4 + 16;
  else if (proto === IPPROTO_UDP && l4Rel + 8 <= length) {
    if (view.getUint16(l4 + 6) !== 0) csumAt = l4 + 6; // UDP checksum 0 stays 0
  } else if (proto === IPPROTO_ICMPV6 && ipv6 && l4Rel + 4 <= length) csumAt = l4 + 2;
  const udp = proto === IPPROTO_UDP;
  if (ipv6) setIpv6(program, view, ip, csumAt, udp);
  else setIpv4(program, view, ip, csumAt, udp);
  if (!program.ports || l4Info < 0) return;
  const k = key[W_TP], m = mask[W_TP];
  if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
    if (l4Rel + (udp ? 8 : 20) > length) return;
    const old = view.getUint32(l4);
    const now = (k | (old & ~m)) >>> 0;
    if (now === old) return;
    view.setUint32(l4, now);
    if (csumAt >= 0) patchL4Checksum(view, csumAt, old, now, udp);
  } else if (proto === IPPROTO_SCTP) {
    const end = ipEnd(view, start, length, l3);
    const sctpLength = end - l4Rel;
    if (sctpLength < 12) return;
    const old = view.getUint32(l4);
    const now = (k | (old & ~m)) >>> 0;
    if (now === old) return;
    // Keep a bad CRC bad: new = stored ^ correct(old) ^ correct(new).
    const stored = view.getUint32(l4 + 8, true);
    view.setUint32(l4 + 8, 0);
    const before = crc32c(bytes, l4, sctpLength);
    view.setUint32(l4, now);
    const after = crc32c(bytes, l4, sctpLength);
    view.setUint32(l4 + 8, (stored ^ before ^ after) >>> 0, true);
  } else if (proto === (ipv6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) {
    // Type in the key's source port, code in its destination port (OVS's
    // packet_set_icmp): patch both bytes and the checksum after them.
    if (l4Rel + 4 > length) return;
    const oldTypeCode = view.getUint16(l4);
    const old = ((oldTypeCode >> 8) << 16) | (oldTypeCode & 0xff);
    const now = (k | (old & ~m)) >>> 0;
    const typeCode = (((now >>> 16) & 0xff) << 8) | (now & 0xff);
    if (typeCode === oldTypeCode) return;
    view.setUint16(l4, typeCode);
    view.setUint16(l4 + 2, updateChecksum16(view.getUint16(l4 + 2), oldTypeCode, typeCode));
  }
}

/** Sets IPv4 fields, keeping the header checksum and the L4 checksum at `csumAt` (if >= 0) right. */
function setIpv4(
  program: SetProgram,
  view: DataView,
  ip: number,
  csumAt: number,
  udp: boolean,
): void {
  const key = program.key, mask = program.mask;
  let ipCsum = view.getUint16(ip + 10);
  if (program.ipv4Addresses) {
    for (let a = 0; a < 2; a++) {
      const w = a === 0 ? W_NW_SRC : W_NW_DST;
      const at = ip + 12 + 4 * a;
      const old = view.getUint32(at);
      const now = (key[w] | (old & ~mask[w])) >>> 0;
      if (now === old) continue;
      view.setUint32(at, now);
      ipCsum = updateChecksum32(ipCsum, old, now);
      if (csumAt >= 0) patchL4Checksum(view, csumAt, old, now, udp);
    }
  }
  if (program.tosTtl) {
    const k = key[W_NW_PROTO_TOS_TTL_FRAG], m = mask[W_NW_PROTO_TOS_TTL_FRAG];
    const tosMask = (m >>> 16) & 0xff, ttlMask = (m >>> 8) & 0xff;
    if (tosMask !== 0) {
      const old = view.getUint16(ip);
      const tos = ((k >>> 16) & tosMask) | (old & 0xff & ~tosMask);
      const now = (old & 0xff00) | tos;
      view.setUint16(ip, now);
      ipCsum = updateChecksum16(ipCsum, old, now);
    }
    if (ttlMask !== 0) {
      const old = view.getUint16(ip + 8);
      const ttl = ((k >>> 8) & ttlMask) | ((old >>> 8) & ~ttlMask);
      const now = ((ttl & 0xff) << 8) | (old & 0xff);
      view.setUint16(ip + 8, now);
      ipCsum = updateChecksum16(ipCsum, old, now);
    }
  }
  view.setUint16(ip + 10, ipCsum);
}

/** Updates the L4 checksum at `csumAt` for a 32-bit change; UDP never gets 0. */
function patchL4Checksum(view: DataView, csumAt: number, old: number, now: number, udp: boolean) {
  const c = updateChecksum32(view.getUint16(csumAt), old, now);
  view.setUint16(csumAt, udp && c === 0 ? 0xffff : c);
}

/** Sets IPv6 fields, keeping the L4 checksum at `csumAt` (if >= 0) right. */
function setIpv6(
  program: SetProgram,
  view: DataView,
  ip: number,
  csumAt: number,
  udp: boolean,
): void {
  const key = program.key, mask = program.mask;
  if (program.ipv6Fields) {
    for (let w = 0; w < 8; w++) {
      const kw = W_IPV6_SRC + w; // W_IPV6_DST follows W_IPV6_SRC directly
      if (mask[kw] === 0) continue;
      const at = ip + 8 + 4 * w;
      const old = view.getUint32(at);
      const now = (key[kw] | (old & ~mask[kw])) >>> 0;
      if (now === old) continue;
      view.setUint32(at, now);
      if (csumAt >= 0) patchL4Checksum(view, csumAt, old, now, udp);
    }
    const labelMask = mask[W_IPV6_LABEL];
    if (labelMask !== 0) {
      const old = view.getUint32(ip);
      view.setUint32(ip, (key[W_IPV6_LABEL] | (old & ~labelMask)) >>> 0);
    }
  }
  if (program.tosTtl) {
    const k = key[W_NW_PROTO_TOS_TTL_FRAG], m = mask[W_NW_PROTO_TOS_TTL_FRAG];
    const tcMask = ((m >>> 16) & 0xff) << 20;
    if (tcMask !== 0) {
      const old = view.getUint32(ip);
      view.setUint32(ip, ((((k >>> 16) & 0xff) << 20) & tcMask | (old & ~tcMask)) >>> 0);
    }
    const hlMask = (m >>> 8) & 0xff;
    if (hlMask !== 0) {
      const old = view.getUint8(ip + 7);
      view.setUint8(ip + 7, ((k >>> 8) & hlMask) | (old & ~hlMask));
    }
  }
}

function setMasked32(view: DataView, at: number, key: number, mask: number): void {
  if (mask !== 0) view.setUint32(at, (key | (view.getUint32(at) & ~mask)) >>> 0);
}

function setMasked16(view: DataView, at: number, key: number, mask: number): void {
  if (mask !== 0) view.setUint16(at, (key | (view.getUint16(at) & ~mask)) & 0xffff);
}
