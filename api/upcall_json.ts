/**
 * Upcalls as the API shows them:
 * `{"type","in_port","key","packet","userdata"}` with the flow key as ODP
 * text, the packet and the userdata as hex (userdata null when absent).
 *
 * @module
 */

import type { Upcall } from "../datapath/upcall_queue.ts";
import { formatFlowKey } from "../datapath/odp/key_format.ts";
import { bytesToHex } from "./hex.ts";

/** An upcall in JSON. */
export interface UpcallJson {
  type: "miss" | "action";
  in_port: number;
  key: string;
  packet: string;
  userdata: string | null;
  pid?: number;
}

/** Converts an upcall to its JSON form. */
export function upcallJson(upcall: Upcall): UpcallJson {
  const out: UpcallJson = {
    type: upcall.type,
    in_port: upcall.inPort,
    key: formatFlowKey(upcall.key, null),
    packet: bytesToHex(upcall.packet),
    userdata: upcall.userdata === null ? null : bytesToHex(upcall.userdata),
  };
  if (upcall.pid !== undefined) out.pid = upcall.pid;
  return out;
}
