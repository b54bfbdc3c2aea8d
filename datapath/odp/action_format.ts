/**
 * Formats {@linkcode Action} lists as OVS prints datapath actions
 * (`format_odp_actions` in OVS's lib/odp-util.c): bare port numbers for
 * output, `drop` for an empty list, `recirc(0x1)` in hex, and so on. The
 * result always parses back with `parseActions` to equal actions.
 *
 * @module
 */

import type { Action, UserspaceAction } from "../action.ts";
import { formatSetAction } from "./_set_action_text.ts";
import { formatEthSetFast } from "./action_text_fast.ts";
import { formatTunnelHeader } from "./tunnel_header_text.ts";

/**
 * Formats actions as OVS prints them: `"drop"` for an empty list, output
 * as bare numbers (`"2,3"`). Throws RangeError for an action whose fields
 * are out of range or cannot be printed (a malformed tunnel header, a set
 * mask that spans attributes).
 */
export function formatActions(actions: readonly Action[]): string {
  if (actions.length === 0) return "drop";
  return actions.map(formatAction).join(",");
}

/** C's `%#x`: "0" for zero, else 0x-prefixed lower-case hex. */
function alternateHex(value: number): string {
  return value === 0 ? "0" : `0x${value.toString(16)}`;
}

function checkInteger(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

const U32_MAX = 0xffffffff;

function formatAction(action: Action): string {
  switch (action.type) {
    case "output":
      return String(checkInteger(action.port, U32_MAX, "output port"));
    case "drop":
      return "drop";
    case "set": // eth src/dst, what churn sets, without BigInts (action_text_fast.ts)
      return formatEthSetFast(action) ?? formatSetAction(action);
    case "push_vlan": {
      checkInteger(action.tpid, 0xffff, "push_vlan tpid");
      const tpid = action.tpid === 0x8100
        ? ""
        : `tpid=0x${action.tpid.toString(16).padStart(4, "0")},`;
      return `push_vlan(${tpid}vid=${checkInteger(action.vid, 0xfff, "push_vlan vid")},` +
        `pcp=${checkInteger(action.pcp, 7, "push_vlan pcp")})`;
    }
    case "pop_vlan":
      return "pop_vlan";
    case "tnl_push":
      return `tnl_push(tnl_port(${checkInteger(action.tunnelPort, U32_MAX, "tnl_port")}),` +
        `${formatTunnelHeader(action.headerType, action.header)},` +
        `out_port(${checkInteger(action.outPort, U32_MAX, "out_port")}))`;
    case "tnl_pop":
      return `tnl_pop(${checkInteger(action.port, U32_MAX, "tnl_pop port")})`;
    case "userspace":
      return formatUserspace(action);
    case "recirc":
      return `recirc(${alternateHex(checkInteger(action.id, U32_MAX, "recirc id"))})`;
    case "hash":
      if (action.algorithm !== "l4" && action.algorithm !== "sym_l4") {
        throw new RangeError(`unknown hash algorithm '${action.algorithm}'`);
      }
      return `hash(${action.algorithm}(${checkInteger(action.basis, U32_MAX, "hash basis")}))`;
    case "clone":
      return `clone(${formatActions(action.actions)})`;
    case "trunc":
      return `trunc(${checkInteger(action.maxLength, U32_MAX, "trunc")})`;
    case "push_mpls":
      return `push_mpls(label=${checkInteger(action.label, 0xfffff, "push_mpls label")},` +
        `tc=${checkInteger(action.tc, 7, "push_mpls tc")},` +
        `ttl=${checkInteger(action.ttl, 0xff, "push_mpls ttl")},` +
        `bos=${checkInteger(action.bos, 1, "push_mpls bos")},` +
        `eth_type=0x${checkInteger(action.ethType, 0xffff, "push_mpls eth_type").toString(16)})`;
    case "pop_mpls":
      return `pop_mpls(eth_type=0x${
        checkInteger(action.ethType, 0xffff, "pop_mpls eth_type").toString(16)
      })`;
    case "check_pkt_len":
      return `check_pkt_len(size=${checkInteger(action.size, 0xffff, "check_pkt_len size")},` +
        `gt(${formatActions(action.greater)}),le(${formatActions(action.lessEqual)}))`;
    default: {
      const unknown: { type?: unknown } = action;
      throw new RangeError(`unknown action type '${String(unknown.type)}'`);
    }
  }
}

function formatUserspace(action: UserspaceAction): string {
  let text = `userspace(pid=${checkInteger(action.pid, U32_MAX, "userspace pid")}`;
  if (action.userdata !== null) {
    text += ",userdata(";
    for (const byte of action.userdata) text += byte.toString(16).padStart(2, "0");
    text += ")";
  }
  if (action.actions) text += ",actions";
  if (action.tunnelOutPort !== null) {
    text += `,tunnel_out_port=${checkInteger(action.tunnelOutPort, U32_MAX, "tunnel_out_port")}`;
  }
  return text + ")";
}
