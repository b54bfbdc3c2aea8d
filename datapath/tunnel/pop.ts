/**
 * tnl_pop: validates and strips the outer Ethernet / IPv4 or IPv6 / UDP or
 * GRE / VXLAN or Geneve headers of a packet received for a tunnel port, and
 * fills the packet's tunnel metadata, as OVS's netdev_*_pop_header with
 * netdev_tnl_ip_extract_tnl_md / udp_extract_tnl_md.
 *
 * Checks (any failure leaves the packet for the caller to drop as
 * DROP_TUNNEL_POP_ERROR): up to two outer VLAN tags are skipped; IPv4 must
 * be version 4 without options, not a fragment, with a good header checksum
 * and a total length inside the frame; IPv6 must be version 6 with the UDP
 * or GRE header right after it and its payload inside the frame; the IP
 * protocol must fit the port type; UDP must have a length equal to the IP
 * payload, the port's destination port, and a good checksum when not 0;
 * the tunnel header must be valid ({@linkcode decodeVxlan},
 * {@linkcode decodeGeneve}, {@linkcode decodeGre}); the inner frame must
 * hold an Ethernet header.
 *
 * Metadata, in the flow-key layout: as OVS's pkt_metadata_init_tnl, every
 * metadata word except in_port is zeroed (recirc_id, dp_hash, mark and
 * priority included); then tun_id, outer IPv4 or IPv6 source/destination,
 * tos, ttl, flags (TNL_F_CSUM, TNL_F_KEY, TNL_F_OAM, TNL_F_CRIT_OPT), UDP
 * ports and Geneve options; in_port becomes the tunnel
 * port. The inner frame is the region between the tunnel header and the end
 * of the outer IP datagram (outer Ethernet padding is dropped).
 *
 * Fast path: no allocation, no copy of the payload, never throws.
 *
 * @module
 */

import { TUNNEL_TYPE_GENEVE, TUNNEL_TYPE_GRE, TUNNEL_TYPE_VXLAN } from "../action.ts";
import {
  META_WORDS,
  TNL_F_CSUM,
  W_IN_PORT,
  W_TUN_IPV4_DST,
  W_TUN_IPV4_SRC,
  W_TUN_IPV6_DST,
  W_TUN_IPV6_SRC,
  W_TUN_TOS_TTL_FLAGS,
  W_TUN_TP,
} from "../flow_key.ts";
import { META_SHIFT, type PacketBatch } from "../packet_batch.ts";
import { foldSum, sumBytes } from "../execute/checksum.ts";
import {
  ETH_TYPE_IPV4,
  ETH_TYPE_IPV6,
  ETH_TYPE_VLAN,
  ETH_TYPE_VLAN_8021AD,
  IPPROTO_GRE,
  IPPROTO_UDP,
} from "../execute/headers.ts";
import { decodeGeneve } from "./geneve.ts";
import { decodeGre } from "./gre.ts";
import { decodeVxlan } from "./vxlan.ts";

/** Maps a tunnel vport type name to its OVS type number, or -1. */
export function tunnelTypeNumber(type: string): number {
  return type === "vxlan"
    ? TUNNEL_TYPE_VXLAN
    : type === "geneve"
    ? TUNNEL_TYPE_GENEVE
    : type === "gre"
    ? TUNNEL_TYPE_GRE
    : -1;
}

/**
 * Pops the tunnel headers of packet `i` for tunnel port `port` of type
 * `tunnelType` (TUNNEL_TYPE_*) listening on UDP `dstPort` (ignored for GRE).
 * Returns true and rewrites the packet region and metadata on success;
 * returns false on any check failing (the metadata may then be partly
 * overwritten, the bytes are not).
 */
export function popTunnel(
  batch: PacketBatch,
  i: number,
  tunnelType: number,
  dstPort: number,
  port: number,
): boolean {
  const bytes = batch.pool.bytes;
  const view = batch.pool.view;
  const start = batch.offset[i];
  const frameEnd = start + batch.length[i];
  if (frameEnd - start < 14) return false;
  let p = start + 12;
  let type = view.getUint16(p);
  for (
    let tags = 0;
    tags < 2 && (type === ETH_TYPE_VLAN || type === ETH_TYPE_VLAN_8021AD);
    tags++
  ) {
    if (frameEnd - p < 6) return false;
    p += 4;
    type = view.getUint16(p);
  }
  p += 2;
  const meta = batch.meta;
  const m = i << META_SHIFT;
  // A store loop, not meta.fill: fill is a builtin call (not inlined) and
  // cost more than 27 stores on every popped packet (case (4) of the bench;
  // with moveAllFrom, the lazy pseudo-header sum below and the extraction
  // fast path, case (4)'s PMD CPU time went from 541 to 345 ns a packet,
  // medians of 4 alternated runs on the loaded shared machine, 2026-11-23).
  for (let w = W_IN_PORT + 1; w < META_WORDS; w++) meta[m + w] = 0;
  let end: number;
  let proto: number;
  let tosTtlFlags: number;
  // Where the outer IP header is, for the UDP checksum's pseudo-header sum,
  // computed only when the packet has a checksum (most VXLAN has none).
  const ip = p;
  if (type === ETH_TYPE_IPV4) {
    if (frameEnd - p < 20 || bytes[p] !== 0x45) return false;
    const total = view.getUint16(p + 2);
    if (total < 20 || total > frameEnd - p) return false;
    const fragment = view.getUint16(p + 6);
    if ((fragment & 0x3fff) !== 0) return false;
    if (foldSum(sumBytes(bytes, p, 20, 0)) !== 0xffff) return false;
    proto = bytes[p + 9];
    // No TNL_F_DONT_FRAGMENT: OVS's userspace pop never sets it from the
    // outer DF bit (only the kernel datapath does; tests/ovs_differential_test.ts).
    tosTtlFlags = (bytes[p + 1] << 24) | (bytes[p + 8] << 16);
    meta[m + W_TUN_IPV4_SRC] = view.getUint32(p + 12);
    meta[m + W_TUN_IPV4_DST] = view.getUint32(p + 16);
    end = p + total;
    p += 20;
  } else if (type === ETH_TYPE_IPV6) {
    if (frameEnd - p < 40) return false;
    const first = view.getUint32(p);
    if (first >>> 28 !== 6) return false;
    const payload = view.getUint16(p + 4);
    if (payload > frameEnd - p - 40) return false;
    proto = bytes[p + 6];
    tosTtlFlags = (((first >>> 20) & 0xff) << 24) | (bytes[p + 7] << 16);
    for (let w = 0; w < 4; w++) {
      meta[m + W_TUN_IPV6_SRC + w] = view.getUint32(p + 8 + 4 * w);
      meta[m + W_TUN_IPV6_DST + w] = view.getUint32(p + 24 + 4 * w);
    }
    end = p + 40 + payload;
    p += 40;
  } else {
    return false;
  }
  let inner: number;
  if (tunnelType === TUNNEL_TYPE_GRE) {
    if (proto !== IPPROTO_GRE) return false;
    meta[m + W_TUN_TOS_TTL_FLAGS] = tosTtlFlags;
    inner = decodeGre(bytes, view, p, end, meta, m);
  } else {
    if (proto !== IPPROTO_UDP || end - p < 8) return false;
    const udpLength = view.getUint16(p + 4);
    if (udpLength !== end - p || view.getUint16(p + 2) !== dstPort) return false;
    if (view.getUint16(p + 6) !== 0) {
      const pseudo = type === ETH_TYPE_IPV4
        ? sumBytes(bytes, ip + 12, 8, proto)
        : sumBytes(bytes, ip + 8, 32, proto);
      if (foldSum(sumBytes(bytes, p, udpLength, pseudo + udpLength)) !== 0xffff) return false;
      tosTtlFlags |= TNL_F_CSUM;
    }
    meta[m + W_TUN_TP] = view.getUint32(p);
    meta[m + W_TUN_TOS_TTL_FLAGS] = tosTtlFlags;
    inner = tunnelType === TUNNEL_TYPE_VXLAN
      ? decodeVxlan(view, p + 8, end, meta, m)
      : tunnelType === TUNNEL_TYPE_GENEVE
      ? decodeGeneve(bytes, view, p + 8, end, meta, m)
      : -1;
  }
  if (inner < 0 || end - inner < 14) return false;
  meta[m + W_IN_PORT] = port;
  batch.offset[i] = inner;
  batch.length[i] = end - inner;
  batch.l3[i] = -1;
  batch.l4[i] = -1;
  return true;
}
