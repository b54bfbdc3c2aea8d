/**
 * Text of the `set(...)` action: one key attribute whose fields are written
 * into the packet. Private to datapath/odp/. Field layout, value spelling
 * and value parsing come from the flow-key modules (key_fields.ts,
 * key_value_parse.ts), so `set(ipv4(...))` and a flow's `ipv4(...)` agree
 * bit for bit; this file holds only the action-side rules.
 *
 * Action-side rules:
 * - settable attributes are skb_priority, skb_mark, tunnel (without
 *   geneve), eth, mpls, ipv4, ipv6, tcp, udp, sctp, icmp and icmpv6; each
 *   field may be given once;
 * - a field with an all-zero mask is refused (it would set nothing);
 * - every field the text names gets its value in `key` and its mask in
 *   `mask` (all ones over the field when no `/mask` is written);
 *   `masked` is true when some field carries a partial mask;
 * - words outside the mask carry the attribute's context, which the
 *   executor needs to pick the header and checksum to update: `W_ETH_TYPE`
 *   is 0x0800 for `ipv4(...)` and 0x86dd for `ipv6(...)`, and the protocol
 *   bits (24..31) of `W_NW_PROTO_TOS_TTL_FRAG` are 6/17/132/1/58 for
 *   `tcp`/`udp`/`sctp`/`icmp`/`icmpv6`. Executors apply `key & mask` only.
 *
 * Printing follows OVS's `format_odp_key_attr`: fields in OVS order, only
 * those with a non-zero mask, `/mask` only for partial masks.
 *
 * @module
 */

import type { SetAction } from "../action.ts";
import { KEY_WORDS } from "../flow_key.ts";
import * as F from "./key_fields.ts";
import { parseMaskedValue } from "./key_value_parse.ts";
import type { OdpScanner } from "./scanner.ts";

/** The value stored outside the mask that names the header to update. */
interface Context {
  spec: F.FieldSpec;
  value: bigint;
}

interface Settable {
  /** Single-value attributes print `name(value)` instead of `name(field=value,...)`. */
  single: boolean;
  fields: readonly F.FieldSpec[];
  context?: Context;
}

function ethTypeContext(value: number): Context {
  return { spec: F.ETH_TYPE, value: BigInt(value) };
}
function protoContext(value: number): Context {
  return { spec: F.NW_PROTO, value: BigInt(value) };
}

/** Settable attributes, in the order they are tried when printing. */
const SETTABLE: Record<string, Settable> = {
  skb_priority: { single: true, fields: [F.SKB_PRIORITY] },
  skb_mark: { single: true, fields: [F.SKB_MARK] },
  tunnel: { single: false, fields: [...F.TUNNEL_FIELDS, F.TUN_FLAGS] },
  eth: { single: false, fields: F.ETH_FIELDS },
  mpls: { single: false, fields: F.MPLS_FIELDS },
  ipv4: { single: false, fields: F.IPV4_FIELDS, context: ethTypeContext(0x0800) },
  ipv6: { single: false, fields: F.IPV6_FIELDS, context: ethTypeContext(0x86dd) },
  tcp: { single: false, fields: F.PORT_FIELDS, context: protoContext(6) },
  udp: { single: false, fields: F.PORT_FIELDS, context: protoContext(17) },
  sctp: { single: false, fields: F.PORT_FIELDS, context: protoContext(132) },
  icmp: { single: false, fields: F.ICMP_FIELDS, context: protoContext(1) },
  icmpv6: { single: false, fields: F.ICMP_FIELDS, context: protoContext(58) },
};

/**
 * Parses the inside of `set(` up to and including its closing ')'. Throws
 * OdpSyntaxError for an unsupported attribute, unknown or repeated field, or
 * a bad value.
 */
export function parseSetAction(s: OdpScanner): SetAction {
  const namePos = s.pos;
  const name = s.readOptionalName();
  const attribute = Object.hasOwn(SETTABLE, name) ? SETTABLE[name] : undefined;
  if (attribute === undefined) s.fail(`unsupported set attribute '${name}'`, namePos);
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  let masked = false;
  const readField = (spec: F.FieldSpec) => {
    const at = s.pos;
    const parsed = parseMaskedValue(s, spec);
    // An all-zero mask would set nothing and could not be printed back.
    if (parsed.mask === 0n) s.fail(`all-zero mask in set(${name}(...)): it sets nothing`, at);
    F.writeField(key, 0, spec, parsed.value);
    F.writeField(mask, 0, spec, parsed.mask);
    if (parsed.mask !== F.fullMask(spec.width)) masked = true;
  };
  s.expect("(");
  if (attribute.single) {
    readField(attribute.fields[0]);
  } else {
    const seen = new Set<string>();
    do {
      const fieldPos = s.pos;
      const fieldName = s.readOptionalName();
      const spec = attribute.fields.find((f) => f.name === fieldName);
      if (spec === undefined) {
        s.fail(`unknown or unsupported field '${fieldName}' in set(${name}(...))`, fieldPos);
      }
      if (seen.has(fieldName)) s.fail(`field '${fieldName}' given twice`, fieldPos);
      seen.add(fieldName);
      if (spec.kind === "tun_flags") {
        s.expect("(");
        readField(spec);
        s.expect(")");
      } else {
        s.expect("=");
        readField(spec);
      }
    } while (s.tryEat(","));
  }
  s.expect(")", `set(${name}(...))`);
  s.expect(")", "set(...)");
  if (attribute.context) F.writeField(key, 0, attribute.context.spec, attribute.context.value);
  return { type: "set", masked, key, mask };
}

/**
 * Formats a set action as OVS prints it, e.g. `set(ipv4(src=1.2.3.4))`.
 * Throws RangeError when the mask is empty, spans more than one attribute,
 * or the context words do not name an attribute.
 */
export function formatSetAction(action: SetAction): string {
  if (action.key.length < KEY_WORDS || action.mask.length < KEY_WORDS) {
    throw new RangeError(`set action key and mask need ${KEY_WORDS} words`);
  }
  for (const [name, attribute] of Object.entries(SETTABLE)) {
    if (!coversMask(attribute, action.mask)) continue;
    const context = attribute.context;
    if (context && F.readField(action.key, 0, context.spec) !== context.value) continue;
    const parts: string[] = [];
    for (const spec of attribute.fields) {
      const fieldMask = F.readField(action.mask, 0, spec);
      if (fieldMask === 0n) continue;
      const text = formatMasked(spec, F.readField(action.key, 0, spec), fieldMask);
      if (spec.kind === "tun_flags") parts.push(`flags(${text})`);
      else parts.push(attribute.single ? text : `${spec.name}=${text}`);
    }
    return `set(${name}(${parts.join(",")}))`;
  }
  throw new RangeError("set action mask does not match exactly one settable attribute");
}

/** `value` or `value/mask` in the field's spelling (key_fields.ts). */
function formatMasked(spec: F.FieldSpec, value: bigint, mask: bigint): string {
  if (spec.kind === "tcp_flags" || spec.kind === "tun_flags") {
    return F.formatFlags(spec.kind, value, mask, spec.width);
  }
  const text = F.formatValue(spec.kind, value, false);
  if (mask === F.fullMask(spec.width)) return text;
  return `${text}/${F.formatValue(spec.kind, mask, true)}`;
}

/**
 * Each attribute's fields as a mask, made on first use. Why: building it
 * with BigInts on every call was ~5 µs of each printed set action (profile
 * of tools/flow_churn.ts, whose dumps print a fresh set(eth) per flow).
 */
const allowedMasks = new Map<Settable, Uint32Array>();

/** True when the mask is non-empty and every set bit lies in one of the attribute's fields. */
function coversMask(attribute: Settable, mask: Uint32Array): boolean {
  let allowed = allowedMasks.get(attribute);
  if (allowed === undefined) {
    allowed = new Uint32Array(KEY_WORDS);
    for (const spec of attribute.fields) F.writeField(allowed, 0, spec, F.fullMask(spec.width));
    allowedMasks.set(attribute, allowed);
  }
  let any = false;
  for (let w = 0; w < KEY_WORDS; w++) {
    if ((mask[w] & ~allowed[w]) !== 0) return false;
    if (mask[w] !== 0) any = true;
  }
  return any;
}
