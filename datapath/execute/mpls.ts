/**
 * push_mpls and pop_mpls on one packet of a batch, in place: the L2 header
 * (MAC addresses and VLAN tags) moves by four bytes; the payload never
 * moves. As in OVS, the label stack entry goes right after the L2 header and
 * the ethertype becomes the MPLS one. L3/L4 offsets are reset to -1 (the
 * network header is no longer where the ethertype says).
 *
 * Fast path: no allocation, never throws on packet data; a failure returns
 * false and the caller drops the packet (DROP_ACTION_ERROR).
 *
 * @module
 */

import type { PacketBatch } from "../packet_batch.ts";
import { ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST, ethTypeOffset } from "./headers.ts";

/** Length of one MPLS label stack entry. */
export const MPLS_LSE_LENGTH = 4;

/** Builds a label stack entry: label (20 bits), tc (3), bos (1), ttl (8). */
export function mplsLse(label: number, tc: number, bos: number, ttl: number): number {
  return ((label << 12) | (tc << 9) | (bos << 8) | ttl) >>> 0;
}

/**
 * Pushes label stack entry `lse` and sets the ethertype to `ethType`
 * (0x8847 / 0x8848). Returns false without enough headroom or on a frame
 * too short to have an ethertype.
 */
export function pushMpls(batch: PacketBatch, i: number, lse: number, ethType: number): boolean {
  const pool = batch.pool;
  const bytes = pool.bytes;
  const start = batch.offset[i];
  const length = batch.length[i];
  const t = ethTypeOffset(bytes, start, length);
  if (t < 0 || start - MPLS_LSE_LENGTH < pool.bufferStart(batch.handle[i])) return false;
  const s = start - MPLS_LSE_LENGTH;
  // Move the L2 header (addresses and tags, not the ethertype) forward in memory.
  for (let k = 0; k < t; k++) bytes[s + k] = bytes[start + k];
  const view = pool.view;
  view.setUint16(s + t, ethType);
  view.setUint32(s + t + 2, lse);
  batch.offset[i] = s;
  batch.length[i] = length + MPLS_LSE_LENGTH;
  batch.l3[i] = -1;
  batch.l4[i] = -1;
  return true;
}

/**
 * Pops the top label stack entry and sets the ethertype to `ethType`.
 * Returns false when the frame is not MPLS or too short to hold a label.
 */
export function popMpls(batch: PacketBatch, i: number, ethType: number): boolean {
  const pool = batch.pool;
  const bytes = pool.bytes;
  const start = batch.offset[i];
  const length = batch.length[i];
  const t = ethTypeOffset(bytes, start, length);
  if (t < 0 || t + 2 + MPLS_LSE_LENGTH > length) return false;
  const type = (bytes[start + t] << 8) | bytes[start + t + 1];
  if (type !== ETH_TYPE_MPLS && type !== ETH_TYPE_MPLS_MCAST) return false;
  pool.view.setUint16(start + t, ethType);
  // Move the L2 header and the new ethertype back over the label, last byte first.
  for (let k = t + 1; k >= 0; k--) bytes[start + MPLS_LSE_LENGTH + k] = bytes[start + k];
  batch.offset[i] = start + MPLS_LSE_LENGTH;
  batch.length[i] = length - MPLS_LSE_LENGTH;
  batch.l3[i] = -1;
  batch.l4[i] = -1;
  return true;
}
