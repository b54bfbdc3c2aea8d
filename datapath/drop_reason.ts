/**
 * Every reason the datapath drops a packet, each counted under its own name.
 * The names are public: they appear as-is in the stats API.
 *
 * Counters are a `Float64Array` indexed by these constants (exact to 2^53),
 * so a PMD can keep its own in shared memory and the control thread sums them.
 *
 * @module
 */

/** Frame shorter than an Ethernet header (14 bytes). */
export const DROP_SHORT_FRAME = 0;
/** The flow's actions were empty or an explicit `drop`. */
export const DROP_FLOW_ACTION = 1;
/** Output to a port number the datapath does not have. */
export const DROP_INVALID_PORT = 2;
/** A miss while upcalls are disabled, or the upcall queue was full (also n_lost). */
export const DROP_UPCALL_LOST = 3;
/** tnl_push failed: no room in the buffer, bad template or not a tunnel port. */
export const DROP_TUNNEL_PUSH_ERROR = 4;
/** tnl_push with no action after it to transmit the packet (as in OVS). */
export const DROP_TUNNEL_PUSH_NO_OUTPUT = 5;
/** tnl_pop: missing, malformed or mismatching outer headers. */
export const DROP_TUNNEL_POP_ERROR = 6;
/** Recirculation nested deeper than the datapath allows. */
export const DROP_RECIRC_DEPTH = 7;
/** No free buffer to clone a packet into (several outputs, clone()). */
export const DROP_NO_BUFFER = 8;
/** A header action could not apply (push_vlan without room, pop_vlan without a tag, ...). */
export const DROP_ACTION_ERROR = 9;
/** Packet longer than one buffer segment, or larger than the port allows. */
export const DROP_OVERSIZE = 10;
/** A port's tx queue was full. */
export const DROP_TX_FULL = 11;
/** Number of drop reasons. */
export const DROP_REASON_COUNT = 12;

/** Public names, indexed by the constants above. */
export const DROP_REASON_NAMES: readonly string[] = [
  "short_frame",
  "flow_action",
  "invalid_port",
  "upcall_lost",
  "tunnel_push_error",
  "tunnel_push_no_output",
  "tunnel_pop_error",
  "recirc_depth",
  "no_buffer",
  "action_error",
  "oversize",
  "tx_full",
];

/** Returns a zeroed counter array for all drop reasons. */
export function newDropCounters(): Float64Array {
  return new Float64Array(DROP_REASON_COUNT);
}

/** Returns the counters as a `{ name: count }` object for the stats API. */
export function dropCountersToObject(counters: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < DROP_REASON_COUNT; i++) out[DROP_REASON_NAMES[i]] = counters[i];
  return out;
}
