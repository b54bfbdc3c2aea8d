/**
 * Compiles an action list (datapath/action.ts) into a
 * {@linkcode CompiledActions} program once, when a flow is installed: every
 * argument is checked here so that execution never has to.
 *
 * @module
 */

import type { Action } from "../action.ts";
import { DROP_FLOW_ACTION, DROP_TUNNEL_PUSH_NO_OUTPUT } from "../drop_reason.ts";
import { DpifError } from "../errors.ts";
import { compileTunnelPush } from "../tunnel/push.ts";
import { mplsLse } from "./mpls.ts";
import {
  CompiledActions,
  OP_CHECK_PKT_LEN,
  OP_CLONE,
  OP_DROP,
  OP_HASH,
  OP_OUTPUT,
  OP_POP_MPLS,
  OP_POP_VLAN,
  OP_PUSH_MPLS,
  OP_PUSH_VLAN,
  OP_RECIRC,
  OP_SET,
  OP_TRUNC,
  OP_TUNNEL_POP,
  OP_TUNNEL_PUSH,
  OP_USERSPACE,
  Step,
} from "./program.ts";
import { compileSet } from "./set_field.ts";

export { CompiledActions } from "./program.ts";

/** Deepest nesting of clone() / check_pkt_len() accepted (OVS allows a few levels too). */
export const MAX_NESTING = 8;
/** Shortest trunc() length: an Ethernet header. */
export const MIN_TRUNC_LENGTH = 14;

/**
 * Compiles `actions` into a program for executeActions. An empty list and
 * `drop` compile to a drop counted as DROP_FLOW_ACTION; a tnl_push with
 * nothing after it compiles to a drop counted as DROP_TUNNEL_PUSH_NO_OUTPUT.
 *
 * Throws DpifError EINVAL for anything the datapath cannot execute: `drop`
 * not alone at the end, a number out of range (ports, ids and bases are
 * 32-bit, VLAN id 12-bit, ...), a TPID other than 0x8100 / 0x88a8, an MPLS
 * ethertype other than 0x8847 / 0x8848 for push_mpls, trunc below 14
 * bytes, a set of a field that cannot be set, a bad tunnel header template,
 * nesting deeper than MAX_NESTING, or an unknown action type.
 */
export function compileActions(actions: Action[]): CompiledActions {
  return compileList(actions, 0);
}

function compileList(actions: Action[], depth: number): CompiledActions {
  if (depth > MAX_NESTING) throw invalid(`actions nested deeper than ${MAX_NESTING}`);
  const steps: Step[] = [];
  for (let k = 0; k < actions.length; k++) {
    const last = k === actions.length - 1;
    steps.push(compileOne(actions[k], last, depth));
  }
  if (steps.length === 0) steps.push(new Step(OP_DROP, DROP_FLOW_ACTION));
  return new CompiledActions(steps);
}

function compileOne(action: Action, last: boolean, depth: number): Step {
  switch (action.type) {
    case "output":
      return new Step(OP_OUTPUT, u32(action.port, "output port"));
    case "drop":
      if (!last) throw invalid("drop must be the last action");
      return new Step(OP_DROP, DROP_FLOW_ACTION);
    case "set":
      return new Step(OP_SET, 0, 0, { set: compileSet(action) });
    case "push_vlan": {
      if (action.tpid !== 0x8100 && action.tpid !== 0x88a8) {
        throw invalid(`push_vlan tpid must be 0x8100 or 0x88a8, not ${action.tpid}`);
      }
      const vid = uint(action.vid, 0xfff, "push_vlan vid");
      const pcp = uint(action.pcp, 7, "push_vlan pcp");
      // On the wire the TCI has DEI 0 (OVS clears its CFI "present" bit).
      return new Step(OP_PUSH_VLAN, action.tpid, (pcp << 13) | vid);
    }
    case "pop_vlan":
      return new Step(OP_POP_VLAN);
    case "push_mpls": {
      if (action.ethType !== 0x8847 && action.ethType !== 0x8848) {
        throw invalid(`push_mpls eth_type must be 0x8847 or 0x8848, not ${action.ethType}`);
      }
      const lse = mplsLse(
        uint(action.label, 0xfffff, "push_mpls label"),
        uint(action.tc, 7, "push_mpls tc"),
        uint(action.bos, 1, "push_mpls bos"),
        uint(action.ttl, 0xff, "push_mpls ttl"),
      );
      return new Step(OP_PUSH_MPLS, action.ethType, lse);
    }
    case "pop_mpls":
      return new Step(OP_POP_MPLS, uint(action.ethType, 0xffff, "pop_mpls eth_type"));
    case "tnl_push": {
      u32(action.tunnelPort, "tnl_push tnl_port");
      u32(action.outPort, "tnl_push out_port");
      const tunnel = compileTunnelPush(action);
      if (last) return new Step(OP_DROP, DROP_TUNNEL_PUSH_NO_OUTPUT);
      return new Step(OP_TUNNEL_PUSH, action.outPort, 0, { tunnel });
    }
    case "tnl_pop":
      return new Step(OP_TUNNEL_POP, u32(action.port, "tnl_pop port"));
    case "userspace":
      return new Step(OP_USERSPACE, 0, 0, { userspace: action });
    case "recirc":
      return new Step(OP_RECIRC, u32(action.id, "recirc id"));
    case "hash":
      if (action.algorithm !== "l4" && action.algorithm !== "sym_l4") {
        throw invalid(`unknown hash algorithm ${String(action.algorithm)}`);
      }
      return new Step(
        OP_HASH,
        u32(action.basis, "hash basis"),
        action.algorithm === "sym_l4" ? 1 : 0,
      );
    case "clone":
      return new Step(OP_CLONE, 0, 0, { nested: compileList(action.actions, depth + 1) });
    case "trunc":
      if (!(Number.isInteger(action.maxLength) && action.maxLength >= MIN_TRUNC_LENGTH)) {
        throw invalid(`trunc length must be an integer >= ${MIN_TRUNC_LENGTH}`);
      }
      return new Step(OP_TRUNC, Math.min(action.maxLength, 0x7fffffff));
    case "check_pkt_len":
      return new Step(OP_CHECK_PKT_LEN, uint(action.size, 0xffff, "check_pkt_len size"), 0, {
        nested: compileList(action.greater, depth + 1),
        nested2: compileList(action.lessEqual, depth + 1),
      });
    default:
      throw invalid(`unknown action type ${String((action as { type?: unknown }).type)}`);
  }
}

function invalid(message: string): DpifError {
  return new DpifError("EINVAL", message);
}

function uint(value: number, max: number, what: string): number {
  if (!(Number.isInteger(value) && value >= 0 && value <= max)) {
    throw invalid(`${what} must be an integer 0..${max}, not ${value}`);
  }
  return value;
}

function u32(value: number, what: string): number {
  return uint(value, 0xffffffff, what);
}
