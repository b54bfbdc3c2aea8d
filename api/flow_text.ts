/**
 * Flows as `ovs-dpctl dump-flows` prints them, one per line:
 * `ufid:..., <match>, packets:N, bytes:N, used:0.120s, flags:S., actions:<actions>`.
 * Used by `GET .../flows?format=odp` and by the CLI.
 *
 * @module
 */

/** A flow as the API returns it in JSON. */
export interface FlowRecord {
  ufid: string;
  flow: string;
  actions: string;
  stats: { packets: number; bytes: number; used: number; tcp_flags: number };
}

const TCP_FLAG_LETTERS: [number, string][] = [
  [0x001, "F"],
  [0x002, "S"],
  [0x004, "R"],
  [0x008, "P"],
  [0x010, "."],
  [0x020, "U"],
  [0x040, "E"],
  [0x080, "C"],
  [0x100, "N"],
];

/** Formats TCP flags as OVS does ("S.", "FP."), or "" for none. */
export function formatTcpFlags(flags: number): string {
  let out = "";
  for (const [bit, letter] of TCP_FLAG_LETTERS) if (flags & bit) out += letter;
  return out;
}

/** Formats "used": "never", or seconds since use with 3 decimals ("0.120s"). */
export function formatUsed(used: number, now: number = Date.now()): string {
  if (!(used > 0)) return "never";
  return `${(Math.max(0, now - used) / 1000).toFixed(3)}s`;
}

/** One flow as a dump-flows line. */
export function formatFlowLine(flow: FlowRecord, now: number = Date.now()): string {
  const flags = formatTcpFlags(flow.stats.tcp_flags);
  return `${flow.ufid}, ${flow.flow}, packets:${flow.stats.packets}, bytes:${flow.stats.bytes}, ` +
    `used:${formatUsed(flow.stats.used, now)}${flags === "" ? "" : `, flags:${flags}`}, ` +
    `actions:${flow.actions === "" ? "drop" : flow.actions}`;
}

/** Flow statistics as the datapath gives them (`tcpFlags`; older builds `tcp_flags`). */
export interface DatapathFlowStats {
  packets: number;
  bytes: number;
  used: number;
  tcpFlags?: number;
  tcp_flags?: number;
}

/** Converts the datapath's flow stats to the API's snake_case JSON form. */
export function flowStatsJson(stats: DatapathFlowStats): FlowRecord["stats"] {
  return {
    packets: stats.packets,
    bytes: stats.bytes,
    used: stats.used,
    tcp_flags: stats.tcpFlags ?? stats.tcp_flags ?? 0,
  };
}

/** Converts a datapath FlowInfo to the API's JSON form (UFID as text). */
export function flowRecord(
  flow: { ufid: string | unknown; flow: string; actions: string; stats: DatapathFlowStats },
): FlowRecord {
  return {
    ufid: String(flow.ufid),
    flow: flow.flow,
    actions: flow.actions,
    stats: flowStatsJson(flow.stats),
  };
}
