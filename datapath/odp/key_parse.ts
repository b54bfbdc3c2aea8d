/**
 * Parses flow keys and masks in the OVS datapath flow syntax (what
 * `ovs-dpctl dump-flows` prints and `ovs-dpctl add-flow` accepts), as
 * lib/odp-util.c's parse_odp_key_mask_attr does, into the flow-key layout.
 *
 * A field given without `/mask` is exact over its bits; omitted fields and
 * attributes are wildcarded; key values are kept as given even where the
 * mask clears bits. recirc_id is always exact (recirc_id(0) when omitted).
 * Attributes this datapath cannot match on (conntrack, packet_type, nsh,
 * ...) are refused as unsupported, except forms that every packet here
 * satisfies (zero or fully wildcarded conntrack fields, Ethernet
 * packet_type), which are accepted and ignored.
 *
 * @module
 */

import { newKeys } from "../flow_key.ts";
import { type Fail, type FlowMatch, KeyBuilder } from "./key_build.ts";
import * as F from "./key_fields.ts";
import { parseFlags, parseGeneve, parseMaskedValue } from "./key_value_parse.ts";
import { OdpScanner, parseUnsigned } from "./scanner.ts";
import { parseFlowKeyFast } from "./key_parse_fast.ts";

export type { FlowMatch } from "./key_build.ts";

/** Attributes with a single unnamed value, and the field each one sets. */
const SINGLE = F.SINGLE_ATTRIBUTES;
/** Attributes made of `name=value` fields. */
const STRUCTS = F.FIELD_ATTRIBUTES;
/** OVS attributes accepted only when every packet of this datapath satisfies them. */
const TRIVIAL_IF_ZERO: Record<string, number> = {
  ct_state: 32,
  ct_zone: 16,
  ct_mark: 32,
  ct_label: 128,
};
/** OVS attributes this datapath does not support at all. */
const UNSUPPORTED = new Set(["ct_tuple4", "ct_tuple6", "nsh", "nd_ext"]);

/**
 * Parses a whole flow key such as
 * `in_port(1),eth(...),eth_type(0x0800),ipv4(...)` into a new key and mask
 * (or, for the common forms, into `into`'s key and mask when given: the
 * result is then `into` itself, so a caller must use the returned match).
 * Throws OdpSyntaxError naming the offending token and its position for an
 * unknown or unsupported attribute, a bad or out-of-range value, a missing
 * parenthesis, trailing text, or attributes that contradict each other.
 */
export function parseFlowKey(text: string, into?: FlowMatch): FlowMatch {
  // Common canonical keys take the fast path (key_parse_fast.ts); it answers
  // null for anything else, which the general parser below then handles.
  // With `into`, a fast-path result is written there (see parseFlowKeyFast);
  // the general parser always returns a new match.
  const fast = typeof text === "string" ? parseFlowKeyFast(text, into) : null;
  return fast ?? parseFlowKeyGeneral(text);
}

/**
 * {@linkcode parseFlowKey} without the fast path: the general parser for
 * every form (tests compare the two). Same results and errors.
 */
export function parseFlowKeyGeneral(text: string): FlowMatch {
  const match: FlowMatch = { key: newKeys(1), mask: newKeys(1) };
  const s = new OdpScanner(text);
  const names = parseKeyAttributes(s, match, { strict: true });
  if (!s.atEnd()) s.fail("unexpected text after the flow key");
  if (!names.includes("recirc_id")) F.writeField(match.mask, 0, F.RECIRC_ID, F.fullMask(32));
  return match;
}

/** Options of {@linkcode parseKeyAttributes}. */
export interface ParseKeyOptions {
  /**
   * Check that the attributes form one coherent flow (see key_build.ts).
   * Default false, for `set(...)` actions that name single attributes.
   */
  strict?: boolean;
}

/**
 * Parses key attributes at the scanner's position until a ')' that closes
 * an enclosing construct (left unconsumed) or the end of the text, writing
 * them into `match` (whose words should start zeroed). Used by
 * parseFlowKey and by the action parser for `set(...)`. Returns the names
 * of the top-level attributes read, in order. Throws OdpSyntaxError.
 */
export function parseKeyAttributes(
  s: OdpScanner,
  match: FlowMatch,
  options: ParseKeyOptions = {},
): string[] {
  const builder = new KeyBuilder(match, options.strict ?? false);
  const names = parseList(s, builder);
  builder.finish();
  return names;
}

function parseList(s: OdpScanner, b: KeyBuilder): string[] {
  const names: string[] = [];
  for (;;) {
    s.skipDelimiters();
    if (s.atEnd() || s.peek() === ")") return names;
    names.push(parseAttribute(s, b));
  }
}

function parseAttribute(s: OdpScanner, b: KeyBuilder): string {
  const start = s.pos;
  const name = s.readName("an attribute name");
  const fail: Fail = (message) => s.fail(message, start);
  const known = Object.hasOwn(SINGLE, name) || Object.hasOwn(STRUCTS, name) ||
    name === "eth_type" || name === "vlan" ||
    name === "encap" || name === "tunnel" || name === "tcp_flags";
  if (!known && !(Object.hasOwn(TRIVIAL_IF_ZERO, name)) && name !== "packet_type") {
    if (UNSUPPORTED.has(name)) fail(`unsupported attribute '${name}'`);
    fail(`unknown attribute '${name}'`);
  }
  s.expect("(");
  if (known) b.startAttr(name, fail);
  if (Object.hasOwn(SINGLE, name)) {
    const spec = SINGLE[name];
    const valueStart = s.pos;
    const { value, mask } = parseMaskedValue(s, spec);
    if (name === "recirc_id" && mask !== F.fullMask(32)) {
      s.fail("recirc_id cannot be masked", valueStart);
    }
    b.set(name, spec, value, mask);
  } else if (name === "eth_type") {
    const { value, mask } = parseMaskedValue(s, F.ETH_TYPE);
    b.setEthType(value, mask);
  } else if (name === "tcp_flags") {
    const { value, mask } = parseFlags(s, "tcp_flags", F.TCP_FLAGS.width);
    b.set(name, F.TCP_FLAGS, value, mask);
  } else if (Object.hasOwn(STRUCTS, name)) {
    parseFields(s, b, name, STRUCTS[name]);
    return name;
  } else if (name === "vlan") {
    parseVlan(s, b);
    return name;
  } else if (name === "tunnel") {
    parseFields(
      s,
      b,
      name,
      F.TUNNEL_FIELDS,
      (sub, subStart) => parseTunnelSub(s, b, sub, subStart),
    );
    return name;
  } else if (name === "encap") {
    b.enterEncap();
    parseList(s, b);
    b.leaveEncap();
  } else if (name === "packet_type") {
    parsePacketType(s, fail);
    return name;
  } else {
    parseTrivial(s, name, fail);
  }
  s.skipSpaces();
  s.expect(")");
  return name;
}

/**
 * Reads `name=value[/mask],...)` (the closing paren included). `extra`
 * handles names that are not plain fields and returns false for unknown ones.
 */
function parseFields(
  s: OdpScanner,
  b: KeyBuilder,
  owner: string,
  specs: readonly F.FieldSpec[],
  extra?: (name: string, start: number) => boolean,
): void {
  const seen = new Set<string>();
  for (;;) {
    s.skipSpaces();
    if (s.tryEat(")")) return;
    const start = s.pos;
    const name = s.readName("a field name");
    if (seen.has(name)) {
      s.fail(
        owner === "mpls"
          ? "only one MPLS label stack entry is supported"
          : `duplicate field '${name}'`,
        start,
      );
    }
    seen.add(name);
    const spec = specs.find((f) => f.name === name);
    if (spec) {
      s.expect("=");
      const { value, mask } = parseMaskedValue(s, spec);
      b.set(owner, spec, value, mask);
    } else if (!extra || !extra(name, start)) {
      s.fail(`unknown field '${name}' in ${owner}(...)`, start);
    }
    s.skipSpaces();
    if (!s.tryEat(",") && s.peek() !== ")") s.fail("expected ',' or ')'");
  }
}

/** vlan(vid=,pcp=,cfi=) or vlan(tci=): the tag is present (CFI set) unless cfi= says otherwise. */
function parseVlan(s: OdpScanner, b: KeyBuilder): void {
  const fields = F.vlanFields(b.depth);
  b.set("vlan", fields.cfi, 1n, 1n);
  const start = s.pos;
  parseFields(s, b, "vlan", [fields.vid, fields.pcp, fields.cfi, fields.tci]);
  const body = s.text.slice(start, s.pos);
  if (/(^|,)\s*tci=/.test(body) && /(^|,)\s*(vid|pcp|cfi)=/.test(body)) {
    s.fail("vlan tci= cannot be combined with vid=, pcp= or cfi=", start);
  }
}

/** Sub-attributes of tunnel(...): geneve(...) and flags(...). */
function parseTunnelSub(s: OdpScanner, b: KeyBuilder, name: string, start: number): boolean {
  if (name === "vxlan" || name === "erspan" || name === "gtpu") {
    s.fail(`unsupported tunnel option '${name}'`, start);
  }
  if (name !== "geneve" && name !== "flags") return false;
  s.expect("(");
  if (name === "flags") {
    const { value, mask } = parseFlags(s, "tun_flags", F.TUN_FLAGS.width);
    b.set("tunnel", F.TUN_FLAGS, value, mask);
  } else {
    const geneve = parseGeneve(s);
    b.set("tunnel", F.GENEVE_LEN, BigInt(geneve.length), F.fullMask(32));
    for (let i = 0; i < geneve.length; i++) {
      b.set("tunnel", F.geneveByte(i), BigInt(geneve.key[i]), BigInt(geneve.mask[i]));
    }
  }
  s.expect(")");
  return true;
}

/** ct_state/ct_zone/ct_mark/ct_label: accepted only as zero or fully wildcarded (no conntrack here). */
function parseTrivial(s: OdpScanner, name: string, fail: Fail): void {
  const bits = TRIVIAL_IF_ZERO[name];
  const number = () => {
    const start = s.pos;
    const v = parseUnsigned(s.readWord("a number"));
    if (v === null || v >> BigInt(bits) !== 0n) s.fail(`bad ${name} value`, start);
    return v;
  };
  const value = number();
  const mask = s.tryEat("/") ? number() : F.fullMask(bits);
  if ((value & mask) !== 0n) {
    fail(
      `unsupported attribute '${name}': no connection tracking here (only zero or wildcarded values)`,
    );
  }
}

/** packet_type(ns=,id=): only Ethernet (ns=0,id=0), or wildcarded, is accepted. */
function parsePacketType(s: OdpScanner, fail: Fail): void {
  const spec = F.field("", "dec", [[0, 0, 16]]);
  let matchesEthernet = true;
  const seen = new Set<string>();
  for (;;) {
    s.skipSpaces();
    if (s.tryEat(")")) break;
    const start = s.pos;
    const name = s.readName("ns or id");
    if ((name !== "ns" && name !== "id") || seen.has(name)) {
      s.fail(`bad packet_type field '${name}'`, start);
    }
    seen.add(name);
    s.expect("=");
    const { value, mask } = parseMaskedValue(s, spec);
    if ((value & mask) !== 0n) matchesEthernet = false;
    if (!s.tryEat(",") && s.peek() !== ")") s.fail("expected ',' or ')'");
  }
  if (!matchesEthernet) {
    fail("unsupported attribute 'packet_type': only Ethernet packets (ns=0,id=0) are handled");
  }
}
