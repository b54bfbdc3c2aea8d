/**
 * VXLAN (RFC 7348) header checks for push templates and decoding for pop.
 *
 * Header: flags (8 bits, only I = 0x08), 24 reserved bits, VNI (24 bits),
 * 8 reserved bits. As OVS's netdev_vxlan_pop_header, pop accepts only the
 * exact flags word 0x08000000 and a zero last byte; the VNI becomes tun_id
 * with TNL_F_KEY.
 *
 * @module
 */

import { TNL_F_KEY, W_TUN_ID_HI, W_TUN_ID_LO, W_TUN_TOS_TTL_FLAGS } from "../flow_key.ts";

/** Length of the VXLAN header. */
export const VXLAN_HEADER_LENGTH = 8;
/** The only flags word VXLAN (without GPE/GBP extensions) carries. */
export const VXLAN_FLAGS = 0x08000000;
/** IANA UDP port for VXLAN. */
export const VXLAN_DEFAULT_PORT = 4789;

/**
 * Checks the VXLAN header of a push template at `header[at ..]`. Returns its
 * length, or -1 when it is missing or its flags / reserved bits are wrong.
 */
export function vxlanTemplateLength(header: Uint8Array, at: number): number {
  if (header.length - at < VXLAN_HEADER_LENGTH) return -1;
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (view.getUint32(at) !== VXLAN_FLAGS || (view.getUint32(at + 4) & 0xff) !== 0) return -1;
  return VXLAN_HEADER_LENGTH;
}

/**
 * Decodes the VXLAN header at `p` (payload ends at `end`) into the tunnel
 * words of `meta` at `m` (which the caller zeroed). Returns the offset of the
 * inner frame, or -1 when the header is short or invalid.
 */
export function decodeVxlan(
  view: DataView,
  p: number,
  end: number,
  meta: Uint32Array,
  m: number,
): number {
  if (end - p < VXLAN_HEADER_LENGTH) return -1;
  const vni = view.getUint32(p + 4);
  if (view.getUint32(p) !== VXLAN_FLAGS || (vni & 0xff) !== 0) return -1;
  meta[m + W_TUN_ID_HI] = 0;
  meta[m + W_TUN_ID_LO] = vni >>> 8;
  meta[m + W_TUN_TOS_TTL_FLAGS] |= TNL_F_KEY;
  return p + VXLAN_HEADER_LENGTH;
}
