/**
 * Network-layer part of flow-key extraction: IPv4, IPv6 (with its extension
 * header chain) and ARP / RARP, after Open vSwitch's `miniflow_extract`
 * (lib/flow.c).
 *
 * Fast path: each function reads big-endian values at absolute offsets of one
 * DataView in `[p, end)`, writes key words at `key[k + W_*]` and returns
 * the high-map bits (bit `w - 32` for key word `w`) of the words it wrote.
 * The IP functions also leave the absolute offset of the transport header in
 * {@linkcode l4Found}`[0]` (-1 when there is none). Nothing is allocated and
 * nothing is thrown.
 *
 * @module
 */

import {
  FRAG_ANY,
  FRAG_LATER,
  W_ARP_SHA_HI,
  W_ARP_SHA_LO,
  W_ARP_THA_HI,
  W_ARP_THA_LO,
  W_IPV6_DST,
  W_IPV6_LABEL,
  W_IPV6_SRC,
  W_NW_DST,
  W_NW_PROTO_TOS_TTL_FRAG,
  W_NW_SRC,
} from "./flow_key.ts";
import { extractL4 } from "./flow_extract_l4.ts";

/**
 * Out-parameter of {@linkcode extractIpv4} / {@linkcode extractIpv6}: the
 * absolute offset of the transport header, or -1. One element, reused (the
 * fast path returns map bits and cannot allocate a pair).
 */
export const l4Found: Int32Array = new Int32Array(1);

const IPV4_HEADER_LEN = 20;
const IPV6_HEADER_LEN = 40;
const ARP_ETH_HEADER_LEN = 28;
const IP_MORE_FRAGMENTS = 0x2000;
const IP_FRAG_OFFSET_MASK = 0x1fff;
const IP6F_OFFSET_MASK = 0xfff8;
const IPPROTO_HOPOPTS = 0;
const IPPROTO_ROUTING = 43;
const IPPROTO_FRAGMENT = 44;
const IPPROTO_AH = 51;
const IPPROTO_DSTOPTS = 60;

const BIT_NW_SRC = 1 << (W_NW_SRC - 32);
const BIT_NW_DST = 1 << (W_NW_DST - 32);
const BIT_PROTO = 1 << (W_NW_PROTO_TOS_TTL_FRAG - 32);
const BIT_LABEL = 1 << (W_IPV6_LABEL - 32);
const BITS_IPV6_ADDRS = 0xff << (W_IPV6_SRC - 32);
const BITS_ARP_HA = 0xf << (W_ARP_SHA_HI - 32);

/**
 * IPv4 header at `p`, frame end `end`. Only a sane header counts (OVS's
 * `ipv4_sanity_check`): at least 20 bytes, IHL >= 5, the header within the
 * frame, IHL*4 <= total length <= bytes present. Otherwise nothing is written
 * and 0 returned. Later fragments get no transport fields; transport headers
 * are looked for within the total length only (Ethernet padding ignored).
 */
export function extractIpv4(
  v: DataView,
  p: number,
  end: number,
  key: Uint32Array,
  k: number,
): number {
  l4Found[0] = -1;
  const avail = end - p;
  if (avail < IPV4_HEADER_LEN) return 0;
  const headerLen = (v.getUint8(p) & 0x0f) << 2;
  if (headerLen < IPV4_HEADER_LEN || headerLen > avail) return 0;
  const totalLen = v.getUint16(p + 2);
  if (totalLen > avail || headerLen > totalLen || avail - totalLen > 0xffff) return 0;

  const fragField = v.getUint16(p + 6);
  let frag = 0;
  if ((fragField & (IP_MORE_FRAGMENTS | IP_FRAG_OFFSET_MASK)) !== 0) {
    frag = (fragField & IP_FRAG_OFFSET_MASK) !== 0 ? FRAG_ANY | FRAG_LATER : FRAG_ANY;
  }
  const proto = v.getUint8(p + 9);
  key[k + W_NW_SRC] = v.getInt32(p + 12);
  key[k + W_NW_DST] = v.getInt32(p + 16);
  key[k + W_NW_PROTO_TOS_TTL_FRAG] = (proto << 24) | (v.getUint8(p + 1) << 16) |
    (v.getUint8(p + 8) << 8) | frag;
  const q = p + headerLen;
  l4Found[0] = q;
  const bits = BIT_NW_SRC | BIT_NW_DST | BIT_PROTO;
  if ((frag & FRAG_LATER) !== 0) return bits;
  return bits | extractL4(v, q, p + totalLen, proto, key, k);
}

/**
 * IPv6 header at `p`, frame end `end`. Needs the 40-byte header and a
 * payload length within the frame, else nothing is written and 0 returned.
 * Walks hop-by-hop, routing, destination options, AH and fragment headers;
 * the last next-header is the protocol. A later fragment stops there with
 * protocol 44 (as OVS does). A truncated extension chain keeps only the
 * addresses (OVS pushes label, tos, ttl, proto and frag after the walk).
 */
export function extractIpv6(
  v: DataView,
  p: number,
  end: number,
  key: Uint32Array,
  k: number,
): number {
  l4Found[0] = -1;
  const avail = end - p;
  if (avail < IPV6_HEADER_LEN) return 0;
  const payloadLen = v.getUint16(p + 4);
  if (payloadLen + IPV6_HEADER_LEN > avail || avail - (payloadLen + IPV6_HEADER_LEN) > 0xffff) {
    return 0;
  }
  key[k + W_IPV6_SRC] = v.getInt32(p + 8);
  key[k + W_IPV6_SRC + 1] = v.getInt32(p + 12);
  key[k + W_IPV6_SRC + 2] = v.getInt32(p + 16);
  key[k + W_IPV6_SRC + 3] = v.getInt32(p + 20);
  key[k + W_IPV6_DST] = v.getInt32(p + 24);
  key[k + W_IPV6_DST + 1] = v.getInt32(p + 28);
  key[k + W_IPV6_DST + 2] = v.getInt32(p + 32);
  key[k + W_IPV6_DST + 3] = v.getInt32(p + 36);

  const limit = p + IPV6_HEADER_LEN + payloadLen;
  let q = p + IPV6_HEADER_LEN;
  let proto = v.getUint8(p + 6);
  let frag = 0;
  while (
    proto === IPPROTO_HOPOPTS || proto === IPPROTO_ROUTING || proto === IPPROTO_DSTOPTS ||
    proto === IPPROTO_AH || proto === IPPROTO_FRAGMENT
  ) {
    // Every extension header is at least 8 bytes; only those are read.
    if (limit - q < 8) return BITS_IPV6_ADDRS;
    if (proto === IPPROTO_FRAGMENT) {
      proto = v.getUint8(q);
      const offsetFlags = v.getUint16(q + 2);
      q += 8;
      if (offsetFlags !== 0) {
        frag = FRAG_ANY;
        if ((offsetFlags & IP6F_OFFSET_MASK) !== 0) {
          frag = FRAG_ANY | FRAG_LATER;
          proto = IPPROTO_FRAGMENT;
          break;
        }
      }
    } else {
      const headerLen = proto === IPPROTO_AH
        ? (v.getUint8(q + 1) + 2) << 2
        : (v.getUint8(q + 1) + 1) << 3;
      proto = v.getUint8(q);
      if (headerLen > limit - q) return BITS_IPV6_ADDRS;
      q += headerLen;
    }
  }
  const versionClassLabel = v.getInt32(p);
  key[k + W_IPV6_LABEL] = versionClassLabel & 0xfffff;
  key[k + W_NW_PROTO_TOS_TTL_FRAG] = (proto << 24) | (((versionClassLabel >>> 20) & 0xff) << 16) |
    (v.getUint8(p + 7) << 8) | frag;
  l4Found[0] = q;
  const bits = BITS_IPV6_ADDRS | BIT_LABEL | BIT_PROTO;
  if ((frag & FRAG_LATER) !== 0) return bits;
  return bits | extractL4(v, q, limit, proto, key, k);
}

/**
 * ARP or RARP body at `p`, frame end `end`. Only Ethernet/IPv4 ARP (hrd 1,
 * pro 0x0800, hln 6, pln 4) with all 28 bytes present counts: spa / tpa go to
 * W_NW_SRC / W_NW_DST, sha / tha to W_ARP_SHA_* / W_ARP_THA_*, and the opcode
 * to the protocol byte of W_NW_PROTO_TOS_TTL_FRAG when it is at most 0xff.
 */
export function extractArp(
  v: DataView,
  p: number,
  end: number,
  key: Uint32Array,
  k: number,
): number {
  if (end - p < ARP_ETH_HEADER_LEN) return 0;
  if (
    v.getUint16(p) !== 1 || v.getUint16(p + 2) !== 0x0800 || v.getUint8(p + 4) !== 6 ||
    v.getUint8(p + 5) !== 4
  ) return 0;
  key[k + W_NW_SRC] = v.getInt32(p + 14);
  key[k + W_NW_DST] = v.getInt32(p + 24);
  key[k + W_ARP_SHA_HI] = v.getInt32(p + 8);
  key[k + W_ARP_SHA_LO] = v.getUint16(p + 12);
  key[k + W_ARP_THA_HI] = v.getInt32(p + 18);
  key[k + W_ARP_THA_LO] = v.getUint16(p + 22);
  const op = v.getUint16(p + 6);
  if (op > 0xff) return BIT_NW_SRC | BIT_NW_DST | BITS_ARP_HA;
  key[k + W_NW_PROTO_TOS_TTL_FRAG] = op << 24;
  return BIT_NW_SRC | BIT_NW_DST | BITS_ARP_HA | BIT_PROTO;
}
