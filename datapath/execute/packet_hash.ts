/**
 * Flow hashes of a packet: `hash(l4(basis))`, `hash(sym_l4(basis))` and the
 * UDP source port of a tunnel header (OVS's netdev_tnl_get_src_port).
 *
 * The hash covers the ethertype, the IP addresses, the IP protocol and the
 * TCP/UDP/SCTP ports (not in later fragments); frames that are not IP hash
 * their MAC addresses and ethertype. The mixing is murmur3 as in OVS's
 * lib/hash.h (hash_add / hash_finish, from datapath/key_hash.ts), so equal flows always hash equal;
 * the values are not bit-identical to OVS's RSS-based ones.
 *
 * Fast path: integers only, no allocation, never throws on packet data.
 *
 * @module
 */

import { hashAdd, hashFinish } from "../key_hash.ts";
import {
  ethTypeOffset,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  locateIp,
  locateL4,
} from "./headers.ts";

/** Lowest UDP source port a tunnel header gets (OVS tnl_udp_port_min). */
export const TUNNEL_SRC_PORT_MIN = 32768;
/** One past the highest (OVS tnl_udp_port_max). */
export const TUNNEL_SRC_PORT_MAX = 61000;

/**
 * Hashes the packet `bytes[start, start + length)` over its 5-tuple with
 * `basis`. With `symmetric`, swapping source and destination (addresses and
 * ports) gives the same hash. Returns an unsigned 32-bit value.
 */
export function hashPacketL4(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  length: number,
  basis: number,
  symmetric: boolean,
): number {
  let h = basis | 0;
  // Fast path: untagged Ethernet + IPv4 without options, the frames of the
  // bench and of most traffic: what locateIp / locateL4 would find, read in
  // place (same hash as the general path below; tests/
  // fast_path_equivalence_test.ts). Every VXLAN/Geneve push hashes its
  // packet for the source port: 24 to 14 ns a call on a 64-byte UDP frame
  // (CPU time, 2 alternated runs, 2026-11-23), 6% of case (3)'s profile before.
  if (
    length >= 34 && bytes[start + 12] === 0x08 && bytes[start + 13] === 0 &&
    bytes[start + 14] === 0x45
  ) {
    const src = view.getInt32(start + 26), dst = view.getInt32(start + 30);
    h = symmetric ? hashAdd(h, src ^ dst) : hashAdd(hashAdd(h, src), dst);
    if ((view.getUint16(start + 20) & 0x1fff) !== 0 || length === 34) {
      return hashFinish(hashAdd(h, 4), 2); // a later fragment, or nothing after the header
    }
    const proto = bytes[start + 23];
    let ports = 0;
    if (
      (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP) && length >= 38
    ) {
      const sport = view.getUint16(start + 34), dport = view.getUint16(start + 36);
      ports = symmetric ? sport ^ dport : (sport << 16) | dport;
    }
    return hashFinish(hashAdd(hashAdd(h, proto), ports), 4);
  }
  const l3 = locateIp(bytes, start, length);
  if (l3 < 0) {
    const t = ethTypeOffset(bytes, start, length);
    if (t < 0) return hashFinish(h, length);
    const dstHi = view.getUint32(start), srcHi = view.getUint32(start + 6);
    const dstLo = view.getUint16(start + 4), srcLo = view.getUint16(start + 10);
    if (symmetric) {
      h = hashAdd(h, dstHi ^ srcHi);
      h = hashAdd(h, dstLo ^ srcLo);
    } else {
      h = hashAdd(h, dstHi);
      h = hashAdd(h, srcHi);
      h = hashAdd(h, (dstLo << 16) | srcLo);
    }
    return hashFinish(hashAdd(h, view.getUint16(start + t)), 14);
  }
  const ip = start + l3;
  let words: number;
  if (bytes[ip] >> 4 === 4) {
    const src = view.getUint32(ip + 12), dst = view.getUint32(ip + 16);
    if (symmetric) h = hashAdd(h, src ^ dst);
    else h = hashAdd(hashAdd(h, src), dst);
    words = 2;
  } else {
    for (let w = 0; w < 16; w += 4) {
      const src = view.getUint32(ip + 8 + w), dst = view.getUint32(ip + 24 + w);
      if (symmetric) h = hashAdd(h, src ^ dst);
      else h = hashAdd(hashAdd(h, src), dst);
    }
    words = 8;
  }
  const l4 = locateL4(bytes, start, length, l3);
  if (l4 < 0) return hashFinish(hashAdd(h, bytes[ip] >> 4), words);
  const proto = l4 & 0xff;
  const tp = start + (l4 >> 8);
  let ports = 0;
  if (
    (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP) &&
    tp + 4 <= start + length
  ) {
    const sport = view.getUint16(tp), dport = view.getUint16(tp + 2);
    ports = symmetric ? sport ^ dport : (sport << 16) | dport;
  }
  h = hashAdd(h, proto);
  h = hashAdd(h, ports);
  return hashFinish(h, words + 2);
}

/**
 * Maps a flow hash into the ephemeral range
 * [TUNNEL_SRC_PORT_MIN, TUNNEL_SRC_PORT_MAX) as OVS's netdev_tnl_get_src_port:
 * `((hash * (max - min)) >> 32) + min`.
 */
export function tunnelSourcePort(hash: number): number {
  return TUNNEL_SRC_PORT_MIN +
    Math.floor((hash >>> 0) * (TUNNEL_SRC_PORT_MAX - TUNNEL_SRC_PORT_MIN) / 4294967296);
}
