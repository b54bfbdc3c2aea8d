/**
 * Text of the `set(...)` action: one key attribute whose fields are written
 * into the packet. Private to datapath/odp/ (a self-contained field table,
 * since the shared key parser was not available when this was written).
 *
 * Representation in {@linkcode SetAction} (flow-key layout, datapath/flow_key.ts):
 * - every field the text names gets its value in `key` and its mask in
 *   `mask` (all ones over the field when no `/mask` is written);
 * - `masked` is true when some field carries a partial `/mask`;
 * - words outside the mask carry the attribute's context, which the executor
 *   needs to pick the header and checksum to update: `W_ETH_TYPE` is 0x0800
 *   for `ipv4(...)` and 0x86dd for `ipv6(...)`, and the protocol bits (24..31)
 *   of `W_NW_PROTO_TOS_TTL_FRAG` are 6/17/132/1/58 for
 *   `tcp`/`udp`/`sctp`/`icmp`/`icmpv6`. Executors apply `key & mask` only.
 *
 * Printing follows OVS's `format_odp_key_attr`: fields in OVS order, only
 * those with a non-zero mask, `/mask` only for partial masks.
 *
 * @module
 */

import type { SetAction } from "../action.ts";
import {
  KEY_WORDS,
  TNL_F_CSUM,
  TNL_F_DONT_FRAGMENT,
  TNL_F_KEY,
  TNL_F_OAM,
  W_ETH_DST_HI,
  W_ETH_SRC_HI,
  W_ETH_TYPE,
  W_IPV6_DST,
  W_IPV6_LABEL,
  W_IPV6_SRC,
  W_MPLS_LSE,
  W_NW_DST,
  W_NW_PROTO_TOS_TTL_FRAG,
  W_NW_SRC,
  W_SKB_MARK,
  W_SKB_PRIORITY,
  W_TP,
  W_TUN_ID_HI,
  W_TUN_IPV4_DST,
  W_TUN_IPV4_SRC,
  W_TUN_IPV6_DST,
  W_TUN_IPV6_SRC,
  W_TUN_TOS_TTL_FLAGS,
  W_TUN_TP,
} from "../flow_key.ts";
import type { ActionCursor } from "./_action_cursor.ts";
import {
  formatIpv4Address,
  formatIpv6Address,
  formatMacAddress,
  parseIpv4Address,
  parseIpv6Address,
  parseMacAddress,
} from "./_tunnel_addresses.ts";

/** How a field's value is written: decimal, `%#x` hex, address, or special. */
type Kind = "dec" | "hex" | "mac" | "ipv4" | "ipv6" | "frag" | "tun_id" | "tun_flags";

interface Field {
  name: string;
  kind: Kind;
  word: number;
  /** For numeric kinds: bit position and width inside `word`. */
  shift: number;
  bits: number;
}

interface Attribute {
  /** Single-value attributes print `name(value)` instead of `name(field=value,...)`. */
  single: boolean;
  fields: Field[];
  /** Context word and value (with its bit position) stored outside the mask. */
  context?: { word: number; shift: number; bits: number; value: number };
}

function num(name: string, kind: Kind, word: number, shift: number, bits: number): Field {
  return { name, kind, word, shift, bits };
}

const W_NW = W_NW_PROTO_TOS_TTL_FRAG;
const ETH_CONTEXT = (value: number) => ({ word: W_ETH_TYPE, shift: 0, bits: 16, value });
const PROTO_CONTEXT = (value: number) => ({ word: W_NW, shift: 24, bits: 8, value });
const PORTS = [num("src", "dec", W_TP, 16, 16), num("dst", "dec", W_TP, 0, 16)];
const TYPE_CODE = [num("type", "dec", W_TP, 16, 16), num("code", "dec", W_TP, 0, 16)];

/** Settable attributes, in the order their fields print. */
const ATTRIBUTES: Record<string, Attribute> = {
  skb_priority: { single: true, fields: [num("", "hex", W_SKB_PRIORITY, 0, 32)] },
  skb_mark: { single: true, fields: [num("", "hex", W_SKB_MARK, 0, 32)] },
  tunnel: {
    single: false,
    fields: [
      num("tun_id", "tun_id", W_TUN_ID_HI, 0, 64),
      num("src", "ipv4", W_TUN_IPV4_SRC, 0, 32),
      num("dst", "ipv4", W_TUN_IPV4_DST, 0, 32),
      num("ipv6_src", "ipv6", W_TUN_IPV6_SRC, 0, 128),
      num("ipv6_dst", "ipv6", W_TUN_IPV6_DST, 0, 128),
      num("tos", "hex", W_TUN_TOS_TTL_FLAGS, 24, 8),
      num("ttl", "dec", W_TUN_TOS_TTL_FLAGS, 16, 8),
      num("tp_src", "dec", W_TUN_TP, 16, 16),
      num("tp_dst", "dec", W_TUN_TP, 0, 16),
      num("flags", "tun_flags", W_TUN_TOS_TTL_FLAGS, 0, 16),
    ],
  },
  eth: {
    single: false,
    fields: [num("src", "mac", W_ETH_SRC_HI, 0, 48), num("dst", "mac", W_ETH_DST_HI, 0, 48)],
  },
  mpls: {
    single: false,
    fields: [
      num("label", "dec", W_MPLS_LSE, 12, 20),
      num("tc", "dec", W_MPLS_LSE, 9, 3),
      num("ttl", "dec", W_MPLS_LSE, 0, 8),
      num("bos", "dec", W_MPLS_LSE, 8, 1),
    ],
  },
  ipv4: {
    single: false,
    context: ETH_CONTEXT(0x0800),
    fields: [
      num("src", "ipv4", W_NW_SRC, 0, 32),
      num("dst", "ipv4", W_NW_DST, 0, 32),
      num("proto", "dec", W_NW, 24, 8),
      num("tos", "hex", W_NW, 16, 8),
      num("ttl", "dec", W_NW, 8, 8),
      num("frag", "frag", W_NW, 0, 2),
    ],
  },
  ipv6: {
    single: false,
    context: ETH_CONTEXT(0x86dd),
    fields: [
      num("src", "ipv6", W_IPV6_SRC, 0, 128),
      num("dst", "ipv6", W_IPV6_DST, 0, 128),
      num("label", "hex", W_IPV6_LABEL, 0, 20),
      num("proto", "dec", W_NW, 24, 8),
      num("tclass", "hex", W_NW, 16, 8),
      num("hlimit", "dec", W_NW, 8, 8),
      num("frag", "frag", W_NW, 0, 2),
    ],
  },
  tcp: { single: false, context: PROTO_CONTEXT(6), fields: PORTS },
  udp: { single: false, context: PROTO_CONTEXT(17), fields: PORTS },
  sctp: { single: false, context: PROTO_CONTEXT(132), fields: PORTS },
  icmp: { single: false, context: PROTO_CONTEXT(1), fields: TYPE_CODE },
  icmpv6: { single: false, context: PROTO_CONTEXT(58), fields: TYPE_CODE },
};

/** Names of the OVS tunnel flags, in the order OVS prints them. */
const TUNNEL_FLAGS: Array<[string, number]> = [
  ["oam", TNL_F_OAM],
  ["df", TNL_F_DONT_FRAGMENT],
  ["csum", TNL_F_CSUM],
  ["key", TNL_F_KEY],
];
const TUNNEL_FLAGS_ALL = TNL_F_OAM | TNL_F_DONT_FRAGMENT | TNL_F_CSUM | TNL_F_KEY;
const FRAG_NAMES = ["no", "first", "", "later"];

/** A field value as 32-bit words, most significant first (1, 2 or 4 words). */
type Words = number[];

function wordCount(field: Field): number {
  return field.bits <= 32 ? 1 : field.bits <= 64 ? 2 : 4;
}

function fullMask(field: Field): Words {
  if (field.kind === "mac") return [0xffffffff, 0xffff];
  if (field.kind === "tun_flags") return [TUNNEL_FLAGS_ALL];
  if (field.bits >= 32) return new Array(wordCount(field)).fill(0xffffffff);
  return [(1 << field.bits) - 1];
}

function readField(words: Uint32Array, field: Field): Words {
  if (field.bits < 32 || field.kind === "tun_flags") {
    const width = field.kind === "tun_flags" ? 16 : field.bits;
    return [(words[field.word] >>> field.shift) & ((1 << width) - 1)];
  }
  if (field.kind === "mac") return [words[field.word], words[field.word + 1] & 0xffff];
  return Array.from(words.subarray(field.word, field.word + wordCount(field)));
}

function writeField(words: Uint32Array, field: Field, value: Words): void {
  if (field.bits < 32 || field.kind === "tun_flags") {
    const width = field.kind === "tun_flags" ? 16 : field.bits;
    const bits = ((1 << width) - 1) << field.shift;
    words[field.word] = ((words[field.word] & ~bits) | (value[0] << field.shift)) >>> 0;
    return;
  }
  value.forEach((w, i) => (words[field.word + i] = w >>> 0));
}

function macToWords(bytes: Uint8Array): Words {
  return [
    ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0,
    (bytes[4] << 8) | bytes[5],
  ];
}

function wordsToBytes(value: Words, length: number): Uint8Array {
  const bytes = new Uint8Array(value.length * 4);
  const view = new DataView(bytes.buffer);
  value.forEach((w, i) => view.setUint32(i * 4, w));
  return length === 6 ? Uint8Array.of(...bytes.subarray(0, 4), bytes[6], bytes[7]) : bytes;
}

/** Parses one value (or mask) of `field` at the cursor. */
function parseValue(cursor: ActionCursor, field: Field, what: string): Words {
  const start = cursor.pos;
  const asAddress = <T>(parse: (text: string) => T): T => {
    const text = cursor.readUntil(",)/");
    try {
      return parse(text);
    } catch (error) {
      if (error instanceof RangeError) cursor.fail(error.message, start);
      throw error;
    }
  };
  switch (field.kind) {
    case "mac":
      return macToWords(asAddress(parseMacAddress));
    case "ipv4":
      return [asAddress(parseIpv4Address)];
    case "ipv6": {
      const bytes = asAddress(parseIpv6Address);
      const view = new DataView(bytes.buffer);
      return [0, 1, 2, 3].map((i) => view.getUint32(i * 4));
    }
    case "frag": {
      const name = cursor.readWord();
      const value = FRAG_NAMES.indexOf(name);
      if (name !== "" && value >= 0) return [value];
      if (name !== "") cursor.fail(`${what} must be no, first or later`, start);
      return [cursor.readInteger(3, what)];
    }
    case "tun_id": {
      const match = /^0[xX]([0-9a-fA-F]{1,16})(?![0-9a-fA-F])/.exec(cursor.text.slice(start));
      if (match === null) return [0, cursor.readInteger(0xffffffff, what)];
      cursor.pos += match[0].length;
      const hex = match[1].padStart(16, "0");
      return [parseInt(hex.slice(0, 8), 16), parseInt(hex.slice(8), 16)];
    }
    default: {
      const max = field.bits >= 32 ? 0xffffffff : (1 << field.bits) - 1;
      return [cursor.readInteger(max, what)];
    }
  }
}

/** Parses `flags(df|csum|key|oam)` after "flags" (empty flags() allowed). */
function parseTunnelFlags(cursor: ActionCursor): Words {
  cursor.expect("(");
  let flags = 0;
  while (!cursor.accept(")")) {
    if (flags !== 0 || cursor.text[cursor.pos - 1] !== "(") cursor.expect("|");
    const namePos = cursor.pos;
    const name = cursor.readWord();
    const flag = TUNNEL_FLAGS.find(([flagName]) => flagName === name);
    if (flag === undefined) {
      cursor.fail(`unknown tunnel flag '${name}' (oam, df, csum, key)`, namePos);
    }
    flags |= flag[1];
  }
  return [flags];
}

/**
 * Parses the inside of `set(` up to and including its closing ')'. Throws
 * OdpSyntaxError for an unsupported attribute, unknown or repeated field, or
 * a bad value.
 */
export function parseSetAction(cursor: ActionCursor): SetAction {
  const namePos = cursor.pos;
  const name = cursor.readWord();
  const attribute = Object.hasOwn(ATTRIBUTES, name) ? ATTRIBUTES[name] : undefined;
  if (attribute === undefined) {
    cursor.fail(`unsupported set attribute '${name}'`, namePos);
  }
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  let masked = false;
  const seen = new Set<string>();
  const readOne = (field: Field, label: string) => {
    const value = field.kind === "tun_flags"
      ? parseTunnelFlags(cursor)
      : parseValue(cursor, field, label);
    let fieldMask = fullMask(field);
    if (field.kind !== "tun_flags" && cursor.accept("/")) {
      const maskField: Field = field.kind === "frag" ? { ...field, kind: "dec" } : field;
      fieldMask = parseValue(cursor, maskField, `${label} mask`);
      masked ||= fieldMask.some((w, i) => w !== fullMask(field)[i]);
    }
    writeField(key, field, value);
    writeField(mask, field, fieldMask);
  };
  cursor.expect("(");
  if (attribute.single) {
    readOne(attribute.fields[0], name);
  } else {
    do {
      const fieldPos = cursor.pos;
      const fieldName = cursor.readWord();
      const field = attribute.fields.find((f) => f.name === fieldName);
      if (field === undefined) {
        cursor.fail(`unknown or unsupported field '${fieldName}' in set(${name}(...))`, fieldPos);
      }
      if (seen.has(fieldName)) cursor.fail(`field '${fieldName}' given twice`, fieldPos);
      seen.add(fieldName);
      if (field.kind !== "tun_flags") cursor.expect("=");
      readOne(field, `${name} ${fieldName}`);
    } while (cursor.accept(","));
  }
  cursor.expect(")", `set(${name}(...))`);
  cursor.expect(")", "set(...)");
  if (attribute.context) {
    const c = attribute.context;
    writeField(key, { name: "", kind: "dec", word: c.word, shift: c.shift, bits: c.bits }, [
      c.value,
    ]);
  }
  return { type: "set", masked, key, mask };
}

function formatValue(field: Field, value: Words): string {
  switch (field.kind) {
    case "mac":
      return formatMacAddress(wordsToBytes(value, 6));
    case "ipv4":
      return formatIpv4Address(value[0]);
    case "ipv6":
      return formatIpv6Address(wordsToBytes(value, 16));
    case "frag":
      return FRAG_NAMES[value[0]] || `0x${value[0].toString(16)}`;
    case "tun_id": {
      if (value[0] === 0) return value[1] === 0 ? "0" : `0x${value[1].toString(16)}`;
      return `0x${value[0].toString(16)}${value[1].toString(16).padStart(8, "0")}`;
    }
    case "hex":
      return value[0] === 0 ? "0" : `0x${value[0].toString(16)}`;
    default:
      return String(value[0]);
  }
}

function formatMask(field: Field, mask: Words): string {
  if (
    field.kind === "mac" || field.kind === "ipv4" || field.kind === "ipv6" ||
    field.kind === "tun_id"
  ) {
    return formatValue(field, mask);
  }
  return `0x${mask[0].toString(16)}`;
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
  for (const [name, attribute] of Object.entries(ATTRIBUTES)) {
    if (!coversMask(attribute, action.mask)) continue;
    if (attribute.context) {
      const c = attribute.context;
      if (((action.key[c.word] >>> c.shift) & ((2 ** c.bits) - 1)) !== c.value) continue;
    }
    const parts: string[] = [];
    for (const field of attribute.fields) {
      const fieldMask = readField(action.mask, field);
      if (fieldMask.every((w) => w === 0)) continue;
      const value = readField(action.key, field);
      if (field.kind === "tun_flags") {
        const names = TUNNEL_FLAGS.filter(([, bit]) => value[0] & bit).map(([n]) => n);
        parts.push(`flags(${names.join("|")})`);
        continue;
      }
      const full = fullMask(field).every((w, i) => fieldMask[i] === w);
      const text = formatValue(field, value) + (full ? "" : `/${formatMask(field, fieldMask)}`);
      parts.push(attribute.single ? text : `${field.name}=${text}`);
    }
    return `set(${name}(${parts.join(",")}))`;
  }
  throw new RangeError("set action mask does not match exactly one settable attribute");
}

/** True when the mask is non-empty and every set bit lies in one of the attribute's fields. */
function coversMask(attribute: Attribute, mask: Uint32Array): boolean {
  const allowed = new Uint32Array(KEY_WORDS);
  for (const field of attribute.fields) writeField(allowed, field, fullMask(field));
  let any = false;
  for (let w = 0; w < KEY_WORDS; w++) {
    if ((mask[w] & ~allowed[w]) !== 0) return false;
    if (mask[w] !== 0) any = true;
  }
  return any;
}
