/**
 * push_vlan and pop_vlan on one packet of a batch, in place: the MAC
 * addresses move by four bytes into the headroom (push) or over the tag
 * (pop); the payload never moves. `batch.l3` / `batch.l4` follow the move.
 *
 * Fast path: no allocation, never throws on packet data; a failure returns
 * false and the caller drops the packet (DROP_ACTION_ERROR).
 *
 * @module
 */

import type { PacketBatch } from "../packet_batch.ts";
import { ETH_TYPE_VLAN, ETH_TYPE_VLAN_8021AD } from "./headers.ts";

/** Length of a VLAN tag (TPID + TCI). */
export const VLAN_HEADER_LENGTH = 4;

/**
 * Inserts a tag (`tpid`, `tci` as on the wire) after the MAC addresses of
 * packet `i`, in front of any tag already there (QinQ). Returns false when
 * the frame is shorter than 12 bytes or there are fewer than 4 bytes of
 * headroom in front of it.
 */
export function pushVlan(batch: PacketBatch, i: number, tpid: number, tci: number): boolean {
  const pool = batch.pool;
  const start = batch.offset[i];
  const length = batch.length[i];
  if (length < 12 || start - VLAN_HEADER_LENGTH < pool.bufferStart(batch.handle[i])) return false;
  const view = pool.view;
  const a = view.getUint32(start), b = view.getUint32(start + 4), c = view.getUint32(start + 8);
  const s = start - VLAN_HEADER_LENGTH;
  view.setUint32(s, a);
  view.setUint32(s + 4, b);
  view.setUint32(s + 8, c);
  view.setUint16(s + 12, tpid);
  view.setUint16(s + 14, tci);
  batch.offset[i] = s;
  batch.length[i] = length + VLAN_HEADER_LENGTH;
  if (batch.l3[i] >= 0) batch.l3[i] += VLAN_HEADER_LENGTH;
  if (batch.l4[i] >= 0) batch.l4[i] += VLAN_HEADER_LENGTH;
  return true;
}

/**
 * Removes the outermost tag of packet `i`. Returns false when the frame has
 * no 802.1Q / 802.1ad tag (or is too short to hold one).
 */
export function popVlan(batch: PacketBatch, i: number): boolean {
  const view = batch.pool.view;
  const start = batch.offset[i];
  const length = batch.length[i];
  if (length < 14 + VLAN_HEADER_LENGTH) return false;
  const tpid = view.getUint16(start + 12);
  if (tpid !== ETH_TYPE_VLAN && tpid !== ETH_TYPE_VLAN_8021AD) return false;
  const a = view.getUint32(start), b = view.getUint32(start + 4), c = view.getUint32(start + 8);
  const s = start + VLAN_HEADER_LENGTH;
  view.setUint32(s, a);
  view.setUint32(s + 4, b);
  view.setUint32(s + 8, c);
  batch.offset[i] = s;
  batch.length[i] = length - VLAN_HEADER_LENGTH;
  if (batch.l3[i] >= 0) batch.l3[i] -= VLAN_HEADER_LENGTH;
  if (batch.l4[i] >= 0) batch.l4[i] -= VLAN_HEADER_LENGTH;
  return true;
}
