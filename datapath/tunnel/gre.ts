/**
 * GRE (RFC 2784 / 2890) header checks for push templates and decoding for
 * pop, for Ethernet payloads (protocol 0x6558) as OVS's gre ports carry.
 *
 * Header: flags and version (C 0x8000 checksum, K 0x2000 key, S 0x1000
 * sequence; everything else, version included, must be 0), protocol, then
 * optional 4-byte words in order: checksum + reserved, key, sequence number.
 * Pop verifies the checksum when C is set (TNL_F_CSUM), takes the key as
 * tun_id (TNL_F_KEY) and skips the sequence number.
 *
 * @module
 */

import {
  TNL_F_CSUM,
  TNL_F_KEY,
  W_TUN_ID_HI,
  W_TUN_ID_LO,
  W_TUN_TOS_TTL_FLAGS,
} from "../flow_key.ts";
import { foldSum, sumBytes } from "../execute/checksum.ts";
import { ETH_TYPE_TEB } from "./geneve.ts";

/** GRE flag: checksum present. */
export const GRE_CSUM = 0x8000;
/** GRE flag: key present. */
export const GRE_KEY = 0x2000;
/** GRE flag: sequence number present. */
export const GRE_SEQ = 0x1000;
/** Length of the fixed GRE header. */
export const GRE_BASE_LENGTH = 4;

/** GRE header length for a flags word (4 plus 4 per optional field). */
export function greHeaderLength(flags: number): number {
  return GRE_BASE_LENGTH + ((flags & GRE_CSUM) !== 0 ? 4 : 0) + ((flags & GRE_KEY) !== 0 ? 4 : 0) +
    ((flags & GRE_SEQ) !== 0 ? 4 : 0);
}

/**
 * Checks the GRE header of a push template at `header[at ..]`. Returns its
 * length, or -1 when it is short, has unsupported flags or version, or a
 * protocol other than Ethernet.
 */
export function greTemplateLength(header: Uint8Array, at: number): number {
  if (header.length - at < GRE_BASE_LENGTH) return -1;
  const flags = (header[at] << 8) | header[at + 1];
  if ((flags & ~(GRE_CSUM | GRE_KEY | GRE_SEQ)) !== 0) return -1;
  if (((header[at + 2] << 8) | header[at + 3]) !== ETH_TYPE_TEB) return -1;
  const length = greHeaderLength(flags);
  return header.length - at < length ? -1 : length;
}

/**
 * Decodes the GRE header at `p` (the IP payload ends at `end`) into the
 * tunnel words of `meta` at `m` (which the caller zeroed). Returns the offset
 * of the inner frame, or -1 on unsupported flags, another protocol, a short
 * header or a bad checksum.
 */
export function decodeGre(
  bytes: Uint8Array,
  view: DataView,
  p: number,
  end: number,
  meta: Uint32Array,
  m: number,
): number {
  if (end - p < GRE_BASE_LENGTH) return -1;
  const flags = view.getUint16(p);
  if ((flags & ~(GRE_CSUM | GRE_KEY | GRE_SEQ)) !== 0) return -1;
  if (view.getUint16(p + 2) !== ETH_TYPE_TEB) return -1;
  if (end - p < greHeaderLength(flags)) return -1;
  let q = p + GRE_BASE_LENGTH;
  let tunnelFlags = 0;
  if ((flags & GRE_CSUM) !== 0) {
    if (foldSum(sumBytes(bytes, p, end - p, 0)) !== 0xffff) return -1;
    tunnelFlags |= TNL_F_CSUM;
    q += 4;
  }
  if ((flags & GRE_KEY) !== 0) {
    meta[m + W_TUN_ID_HI] = 0;
    meta[m + W_TUN_ID_LO] = view.getUint32(q);
    tunnelFlags |= TNL_F_KEY;
    q += 4;
  }
  if ((flags & GRE_SEQ) !== 0) q += 4;
  meta[m + W_TUN_TOS_TTL_FLAGS] |= tunnelFlags;
  return q;
}
