/**
 * Finds the headers actions work on inside a packet, from its first byte:
 * the ethertype field after any VLAN tags, the IPv4/IPv6 header, and the
 * transport header with its protocol. Integer offsets only, bounds-checked
 * against the packet length, no allocation; never throws on packet data.
 *
 * Actions parse from scratch instead of trusting `batch.l3` / `batch.l4`:
 * an earlier action (push_mpls, tnl_pop, ...) may have moved the headers.
 *
 * @module
 */

/** Ethertype of IPv4. */
export const ETH_TYPE_IPV4 = 0x0800;
/** Ethertype of IPv6. */
export const ETH_TYPE_IPV6 = 0x86dd;
/** Ethertype of an 802.1Q tag. */
export const ETH_TYPE_VLAN = 0x8100;
/** Ethertype of an 802.1ad (QinQ service) tag. */
export const ETH_TYPE_VLAN_8021AD = 0x88a8;
/** Ethertype of MPLS unicast. */
export const ETH_TYPE_MPLS = 0x8847;
/** Ethertype of MPLS multicast. */
export const ETH_TYPE_MPLS_MCAST = 0x8848;
/** IP protocol numbers the actions care about. */
export const IPPROTO_TCP = 6;
/** UDP. */
export const IPPROTO_UDP = 17;
/** GRE. */
export const IPPROTO_GRE = 47;
/** IP protocol number of ICMP. */
export const IPPROTO_ICMP = 1;
/** ICMPv6. */
export const IPPROTO_ICMPV6 = 58;
/** SCTP. */
export const IPPROTO_SCTP = 132;

/** Most VLAN tags skipped when looking for the ethertype (OVS parses two). */
const MAX_VLAN_TAGS = 2;
/** Most IPv6 extension headers walked before giving up on finding L4. */
const MAX_IPV6_EXTENSIONS = 8;

/**
 * Returns the offset (from the packet's first byte) of the ethertype field
 * that follows the MAC addresses and up to two VLAN tags, or -1 when the
 * frame is too short to hold it.
 */
export function ethTypeOffset(bytes: Uint8Array, start: number, length: number): number {
  let t = 12;
  if (length < 14) return -1;
  for (let tags = 0; tags < MAX_VLAN_TAGS; tags++) {
    const type = (bytes[start + t] << 8) | bytes[start + t + 1];
    if (type !== ETH_TYPE_VLAN && type !== ETH_TYPE_VLAN_8021AD) break;
    if (t + 6 > length) return -1;
    t += 4;
  }
  return t;
}

/**
 * Returns the offset of the IPv4 or IPv6 header (from the packet's first
 * byte) when the ethertype says IP, the version nibble agrees and the fixed
 * header fits; otherwise -1. Read the version at `bytes[start + l3] >> 4`.
 */
export function locateIp(bytes: Uint8Array, start: number, length: number): number {
  const t = ethTypeOffset(bytes, start, length);
  if (t < 0) return -1;
  const type = (bytes[start + t] << 8) | bytes[start + t + 1];
  const l3 = t + 2;
  if (type === ETH_TYPE_IPV4) {
    if (l3 + 20 > length) return -1;
    const versionIhl = bytes[start + l3];
    if (versionIhl >> 4 !== 4 || (versionIhl & 15) < 5) return -1;
    if (l3 + ((versionIhl & 15) << 2) > length) return -1;
    return l3;
  }
  if (type === ETH_TYPE_IPV6) {
    if (l3 + 40 > length || bytes[start + l3] >> 4 !== 6) return -1;
    return l3;
  }
  return -1;
}

/**
 * Offset just past the IP datagram whose header is at `l3` (its total or
 * payload length), clipped to the packet length. Ethernet padding is after it.
 */
export function ipEnd(view: DataView, start: number, length: number, l3: number): number {
  const ipv6 = view.getUint8(start + l3) >> 4 === 6;
  const end = ipv6 ? l3 + 40 + view.getUint16(start + l3 + 4) : l3 + view.getUint16(start + l3 + 2);
  return end < length ? end : length;
}

/**
 * Finds the transport header of the IP packet whose header is at `l3`.
 * Returns `(l4Offset << 8) | protocol`, or -1 when there is none (a later
 * fragment, an unknown IPv6 extension chain, or a header past the end).
 * The caller still checks that the transport header itself fits.
 */
export function locateL4(bytes: Uint8Array, start: number, length: number, l3: number): number {
  const p = start + l3;
  if (bytes[p] >> 4 === 4) {
    // IPv4: no L4 header in a later fragment.
    if ((((bytes[p + 6] << 8) | bytes[p + 7]) & 0x1fff) !== 0) return -1;
    const l4 = l3 + ((bytes[p] & 15) << 2);
    return l4 < length ? (l4 << 8) | bytes[p + 9] : -1;
  }
  let next = bytes[p + 6];
  let l4 = l3 + 40;
  for (let n = 0; n < MAX_IPV6_EXTENSIONS; n++) {
    if (next === 0 || next === 43 || next === 60) {
      if (l4 + 8 > length) return -1;
      const q = start + l4;
      next = bytes[q];
      l4 += (bytes[q + 1] + 1) << 3;
    } else if (next === 44) {
      if (l4 + 8 > length) return -1;
      const q = start + l4;
      if ((((bytes[q + 2] << 8) | bytes[q + 3]) & 0xfff8) !== 0) return -1;
      next = bytes[q];
      l4 += 8;
    } else if (next === 51) {
      if (l4 + 8 > length) return -1;
      const q = start + l4;
      next = bytes[q];
      l4 += (bytes[q + 1] + 2) << 2;
    } else {
      return l4 < length ? (l4 << 8) | next : -1;
    }
  }
  return -1;
}
