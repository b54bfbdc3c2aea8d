/**
 * Parses OVS datapath action text (what `ovs-dpctl dump-flows` prints after
 * `actions:` and `ovs-dpctl add-flow` accepts) into the
 * {@linkcode Action} union. The accepted forms follow OVS's
 * `parse_odp_action` (lib/odp-util.c); see datapath/odp/action_format.ts for
 * the printed forms, which this parser always accepts back.
 *
 * @module
 */

import type { Action, UserspaceAction } from "../action.ts";
import { OdpScanner } from "./scanner.ts";
import { parseSetAction } from "./_set_action_text.ts";
import { parseActionsFast } from "./action_text_fast.ts";
import { parseTunnelHeaderText } from "./tunnel_header_text.ts";

/** Separators OVS allows between actions. */
const DELIMITERS = ", \t\r\n";
/** Deepest nesting of clone / check_pkt_len accepted (OVS's MAX_ODP_NESTED). */
const MAX_NESTING = 32;
const U32_MAX = 0xffffffff;

/** OVS datapath actions this parser knows by name but does not implement. */
const UNSUPPORTED = new Set([
  "ct",
  "ct_clear",
  "meter",
  "sample",
  "push_nsh",
  "pop_nsh",
  "push_eth",
  "pop_eth",
  "lb_output",
  "encap_nsh",
  "decap_nsh",
  "add_mpls",
  "dec_ttl",
  "psample",
]);

/**
 * Parses `"2,3"`, `"output(2),set(ipv4(src=1.2.3.4)),..."`, `"drop"` or `""`
 * (empty means drop) into actions. Bare numbers are output ports; `drop` on
 * its own gives one {@linkcode DropAction}. Throws OdpSyntaxError naming the
 * offending token and its 0-based position; the input is never partly
 * accepted. Bare ports and exact `set(eth(...))` take a fast path
 * (action_text_fast.ts) that gives the same actions.
 */
export function parseActions(text: string): Action[] {
  return parseActionsFast(text) ?? parseActionsGeneral(text);
}

/**
 * {@linkcode parseActions} without its fast path: the general parser every
 * text can go through (tests compare the two).
 */
export function parseActionsGeneral(text: string): Action[] {
  const cursor = new OdpScanner(text);
  const actions: Action[] = [];
  for (;;) {
    skipDelimiters(cursor);
    if (cursor.atEnd()) return actions;
    actions.push(parseAction(cursor, 0));
    if (!cursor.atEnd() && !DELIMITERS.includes(cursor.peek())) {
      cursor.fail("expected ',' between actions");
    }
  }
}

function skipDelimiters(cursor: OdpScanner): void {
  while (!cursor.atEnd() && DELIMITERS.includes(cursor.peek())) cursor.pos++;
}

/** Parses a nested list up to (and consuming) its closing ')'. */
function parseActionList(cursor: OdpScanner, depth: number, context: string): Action[] {
  const actions: Action[] = [];
  for (;;) {
    skipDelimiters(cursor);
    if (cursor.tryEat(")")) return actions;
    if (cursor.atEnd()) cursor.fail(`unterminated ${context}(...)`);
    actions.push(parseAction(cursor, depth + 1));
    if (cursor.peek() !== ")" && !DELIMITERS.includes(cursor.peek())) {
      cursor.fail(`expected ',' or ')' in ${context}(...)`);
    }
  }
}

function parseAction(cursor: OdpScanner, depth: number): Action {
  const start = cursor.pos;
  if (depth >= MAX_NESTING) cursor.fail(`actions nested deeper than ${MAX_NESTING}`);
  if (/[0-9]/.test(cursor.peek())) {
    return { type: "output", port: cursor.readInteger(U32_MAX, "output port") };
  }
  const name = cursor.readOptionalName();
  switch (name) {
    case "output": {
      // Not OVS datapath syntax (it writes bare numbers); accepted as an alias.
      cursor.expect("(");
      const port = cursor.readInteger(U32_MAX, "output port");
      cursor.expect(")");
      return { type: "output", port };
    }
    case "drop":
      return { type: "drop" };
    case "set":
      cursor.expect("(");
      return parseSetAction(cursor);
    case "push_vlan":
      return parsePushVlan(cursor);
    case "pop_vlan":
      return { type: "pop_vlan" };
    case "tnl_push":
      return parseTunnelPush(cursor);
    case "tnl_pop":
      return { type: "tnl_pop", port: parseParenthesizedInteger(cursor, U32_MAX, "tnl_pop port") };
    case "userspace":
      return parseUserspace(cursor);
    case "recirc":
      return { type: "recirc", id: parseParenthesizedInteger(cursor, U32_MAX, "recirc id") };
    case "hash":
      return parseHash(cursor);
    case "clone":
      cursor.expect("(");
      return { type: "clone", actions: parseActionList(cursor, depth, "clone") };
    case "trunc":
      return { type: "trunc", maxLength: parseParenthesizedInteger(cursor, U32_MAX, "trunc") };
    case "push_mpls":
      return parsePushMpls(cursor);
    case "pop_mpls": {
      cursor.expect("(eth_type=");
      const ethType = cursor.readHex(0xffff, "pop_mpls eth_type");
      cursor.expect(")");
      return { type: "pop_mpls", ethType };
    }
    case "check_pkt_len":
      return parseCheckPktLen(cursor, depth);
    default:
      if (UNSUPPORTED.has(name)) cursor.fail(`unsupported action '${name}'`, start);
      return cursor.fail(name === "" ? "expected an action" : `unknown action '${name}'`, start);
  }
}

function parseParenthesizedInteger(cursor: OdpScanner, max: number, what: string): number {
  cursor.expect("(");
  const value = cursor.readInteger(max, what);
  cursor.expect(")");
  return value;
}

/** `push_vlan([tpid=T,]vid=V,pcp=P[,cfi=C])`, the forms OVS accepts. */
function parsePushVlan(cursor: OdpScanner): Action {
  cursor.expect("(");
  let tpid = 0x8100;
  if (cursor.tryEat("tpid=")) {
    const tpidPos = cursor.pos;
    tpid = cursor.readInteger(0xffff, "push_vlan tpid");
    if (tpid === 0) cursor.fail("push_vlan tpid must not be 0", tpidPos);
    cursor.expect(",");
  }
  cursor.expect("vid=");
  const vid = cursor.readInteger(0xfff, "push_vlan vid");
  cursor.expect(",pcp=");
  const pcp = cursor.readInteger(7, "push_vlan pcp");
  if (cursor.tryEat(",cfi=")) {
    const cfiPos = cursor.pos;
    if (cursor.readInteger(U32_MAX, "push_vlan cfi") === 0) {
      cursor.fail("push_vlan cfi=0 is not supported (tags are pushed with CFI set)", cfiPos);
    }
  }
  cursor.expect(")");
  return { type: "push_vlan", tpid, vid, pcp };
}

/** `tnl_push(tnl_port(N),header(...),out_port(M))`. */
function parseTunnelPush(cursor: OdpScanner): Action {
  cursor.expect("(tnl_port(");
  const tunnelPort = cursor.readInteger(U32_MAX, "tnl_port");
  cursor.expect("),");
  const { type, header } = parseTunnelHeaderText(cursor);
  cursor.expect(",out_port(");
  const outPort = cursor.readInteger(U32_MAX, "out_port");
  cursor.expect("))");
  return { type: "tnl_push", tunnelPort, headerType: type, header, outPort };
}

/** `userspace(pid=N[,userdata(HEX)][,actions][,tunnel_out_port=N])`. */
function parseUserspace(cursor: OdpScanner): Action {
  cursor.expect("(pid=");
  const action: UserspaceAction = {
    type: "userspace",
    pid: cursor.readInteger(U32_MAX, "userspace pid"),
    userdata: null,
    tunnelOutPort: null,
    actions: false,
  };
  for (const cookie of ["sFlow(", "slow_path(", "flow_sample(", "ipfix(", "controller("]) {
    if (cursor.lookingAt(`,${cookie}`)) {
      cursor.fail(
        `unsupported userspace cookie '${cookie.slice(0, -1)}' (write userdata(HEX) instead)`,
        cursor.pos + 1,
      );
    }
  }
  if (cursor.tryEat(",userdata(")) {
    const hexPos = cursor.pos;
    const hex = cursor.readUntil(")");
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
      cursor.fail("userdata must be hex, two digits per byte", hexPos);
    }
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    action.userdata = bytes;
    cursor.expect(")");
  }
  if (cursor.tryEat(",actions")) action.actions = true;
  if (cursor.tryEat(",tunnel_out_port=")) {
    action.tunnelOutPort = cursor.readInteger(U32_MAX, "tunnel_out_port");
  }
  cursor.expect(")", "userspace(...)");
  return action;
}

/** `hash(l4(BASIS))` or `hash(sym_l4(BASIS))`. */
function parseHash(cursor: OdpScanner): Action {
  cursor.expect("(");
  const algorithmPos = cursor.pos;
  const algorithm = cursor.readOptionalName();
  if (algorithm !== "l4" && algorithm !== "sym_l4") {
    cursor.fail(`unsupported hash algorithm '${algorithm}' (l4 or sym_l4)`, algorithmPos);
  }
  const basis = parseParenthesizedInteger(cursor, U32_MAX, "hash basis");
  cursor.expect(")");
  return { type: "hash", algorithm, basis };
}

/** `push_mpls(label=L,tc=T,ttl=N,bos=B,eth_type=0x8847)`, as OVS prints it. */
function parsePushMpls(cursor: OdpScanner): Action {
  cursor.expect("(label=");
  const label = cursor.readInteger(0xfffff, "push_mpls label");
  cursor.expect(",tc=");
  const tc = cursor.readInteger(7, "push_mpls tc");
  cursor.expect(",ttl=");
  const ttl = cursor.readInteger(0xff, "push_mpls ttl");
  cursor.expect(",bos=");
  const bos = cursor.readInteger(1, "push_mpls bos");
  cursor.expect(",eth_type=");
  const ethTypePos = cursor.pos;
  const ethType = cursor.readHex(0xffff, "push_mpls eth_type");
  if (ethType !== 0x8847 && ethType !== 0x8848) {
    cursor.fail("push_mpls eth_type must be 0x8847 or 0x8848", ethTypePos);
  }
  cursor.expect(")");
  return { type: "push_mpls", label, tc, ttl, bos, ethType };
}

/** `check_pkt_len(size=N,gt(ACTIONS),le(ACTIONS))`; `drop` as a branch means no actions. */
function parseCheckPktLen(cursor: OdpScanner, depth: number): Action {
  cursor.expect("(size=");
  const size = cursor.readInteger(0xffff, "check_pkt_len size");
  cursor.expect(",gt(");
  const greater = parseBranch(cursor, depth);
  cursor.expect(",le(");
  const lessEqual = parseBranch(cursor, depth);
  cursor.expect(")");
  return { type: "check_pkt_len", size, greater, lessEqual };
}

function parseBranch(cursor: OdpScanner, depth: number): Action[] {
  if (cursor.tryEat("drop)")) return [];
  return parseActionList(cursor, depth, "check_pkt_len branch");
}
