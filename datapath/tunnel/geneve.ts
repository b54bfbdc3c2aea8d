/**
 * Geneve (RFC 8926) header checks for push templates and decoding for pop.
 *
 * Header: version (2 bits, 0) and option length in 4-byte words (6), O
 * (OAM) and C (critical options) bits, protocol (0x6558, Ethernet), VNI (24
 * bits), reserved byte, then the option TLVs (class 16, type 8 with the
 * critical bit 0x80, 3 reserved bits, length in words 5). Pop checks that
 * the TLVs tile the option block exactly, copies the raw block into
 * W_TUN_OPTS (up to TUN_OPTS_MAX bytes, longer is an error) and sets
 * TNL_F_KEY, TNL_F_OAM for O, and TNL_F_CRIT_OPT for C or any option with
 * the critical type bit.
 *
 * @module
 */

import {
  TNL_F_CRIT_OPT,
  TNL_F_KEY,
  TNL_F_OAM,
  TUN_OPTS_MAX,
  W_TUN_ID_HI,
  W_TUN_ID_LO,
  W_TUN_OPTS,
  W_TUN_OPTS_LEN,
  W_TUN_TOS_TTL_FLAGS,
} from "../flow_key.ts";

/** Length of the fixed Geneve header. */
export const GENEVE_BASE_LENGTH = 8;
/** Protocol type for an Ethernet payload (transparent Ethernet bridging). */
export const ETH_TYPE_TEB = 0x6558;
/** IANA UDP port for Geneve. */
export const GENEVE_DEFAULT_PORT = 6081;

/** Walks the option TLVs in `bytes[p, p + length)`; true when they tile it exactly. */
function optionsWellFormed(bytes: Uint8Array, p: number, length: number): boolean {
  const end = p + length;
  let q = p;
  while (q < end) {
    if (end - q < 4) return false;
    q += 4 + ((bytes[q + 3] & 0x1f) << 2);
  }
  return q === end;
}

/** True when an option of a well-formed block has the critical type bit. */
function geneveOptionsCritical(bytes: Uint8Array, p: number, length: number): boolean {
  const end = p + length;
  for (let q = p; q < end; q += 4 + ((bytes[q + 3] & 0x1f) << 2)) {
    if ((bytes[q + 2] & 0x80) !== 0) return true;
  }
  return false;
}

/**
 * Checks the Geneve header of a push template at `header[at ..]`. Returns its
 * length (8 + options), or -1 when it is short, has a non-zero version, a
 * protocol other than Ethernet, malformed options, or options longer than
 * TUN_OPTS_MAX (the receiver could not hold them).
 */
export function geneveTemplateLength(header: Uint8Array, at: number): number {
  if (header.length - at < GENEVE_BASE_LENGTH) return -1;
  if (header[at] >> 6 !== 0) return -1;
  const optLength = (header[at] & 0x3f) << 2;
  if (optLength > TUN_OPTS_MAX || header.length - at < GENEVE_BASE_LENGTH + optLength) return -1;
  if (((header[at + 2] << 8) | header[at + 3]) !== ETH_TYPE_TEB) return -1;
  if (!optionsWellFormed(header, at + GENEVE_BASE_LENGTH, optLength)) return -1;
  return GENEVE_BASE_LENGTH + optLength;
}

/**
 * Decodes the Geneve header at `p` (payload ends at `end`) into the tunnel
 * words of `meta` at `m` (which the caller zeroed). Returns the offset of the
 * inner frame, or -1 on any malformation.
 */
export function decodeGeneve(
  bytes: Uint8Array,
  view: DataView,
  p: number,
  end: number,
  meta: Uint32Array,
  m: number,
): number {
  if (end - p < GENEVE_BASE_LENGTH) return -1;
  const first = bytes[p];
  if (first >> 6 !== 0) return -1;
  const optLength = (first & 0x3f) << 2;
  if (optLength > TUN_OPTS_MAX || end - p < GENEVE_BASE_LENGTH + optLength) return -1;
  if (view.getUint16(p + 2) !== ETH_TYPE_TEB) return -1;
  const opts = p + GENEVE_BASE_LENGTH;
  if (!optionsWellFormed(bytes, opts, optLength)) return -1;
  let flags = TNL_F_KEY;
  if ((bytes[p + 1] & 0x80) !== 0) flags |= TNL_F_OAM;
  if ((bytes[p + 1] & 0x40) !== 0 || geneveOptionsCritical(bytes, opts, optLength)) {
    flags |= TNL_F_CRIT_OPT;
  }
  meta[m + W_TUN_ID_HI] = 0;
  meta[m + W_TUN_ID_LO] = view.getUint32(p + 4) >>> 8;
  meta[m + W_TUN_TOS_TTL_FLAGS] |= flags;
  meta[m + W_TUN_OPTS_LEN] = optLength;
  for (let k = 0; k < optLength; k += 4) meta[m + W_TUN_OPTS + (k >> 2)] = view.getUint32(opts + k);
  return opts + optLength;
}
