/**
 * A structured JSON form of flow keys and masks, equivalent to the text
 * syntax: one member per shown attribute, named and nested as in the text
 * (`encap` holds the inner level), e.g.
 *
 * ```json
 * { "recirc_id": 0, "in_port": 1, "eth": {},
 *   "eth_type": "0x0800",
 *   "ipv4": { "src": { "value": "10.0.0.0", "mask": "255.255.255.0" }, "frag": "no" },
 *   "tcp_flags": { "syn": true, "ack": false } }
 * ```
 *
 * A field is its value when exact, `{ "value", "mask" }` when partly
 * masked, and absent when wildcarded. Decimal fields are JSON numbers, hex
 * fields (`eth_type`, `tos`, `skb_mark`, `tun_id`, ...) "0x" strings (numbers
 * are accepted too), addresses strings, `frag` "no"/"first"/"later". Flags
 * are an array of the set flags when exact, or an object flag -> boolean
 * over the masked flags. `tunnel.geneve` is an array of options
 * `{ class, type, len, data }` with data as a hex string.
 *
 * @module
 */

import { KEY_WORDS, newKeys, TUN_OPTS_MAX } from "../flow_key.ts";
import { type Fail, type FlowMatch, KeyBuilder } from "./key_build.ts";
import * as F from "./key_fields.ts";
import { hexBytes } from "./key_format.ts";
import { packetMask, type ShownAttr, shownAttrs, type ShownField } from "./key_shown.ts";
import { parseIpv4, parseIpv6, parseMac } from "./net_text.ts";
import { parseUnsigned } from "./scanner.ts";

/**
 * Converts a match to its JSON form (what formatFlowKey would print, as
 * data). `mask` null means a packet's exact key. The arrays are not modified.
 */
export function flowKeyToJson(key: Uint32Array, mask: Uint32Array | null): Record<string, unknown> {
  const k = key.slice(0, KEY_WORDS);
  return attrsToJson(shownAttrs(k, mask === null ? packetMask(k) : mask.slice(0, KEY_WORDS)));
}

function attrsToJson(attrs: readonly ShownAttr[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const attr of attrs) {
    if (attr.children) out[attr.name] = attrsToJson(attr.children);
    else if (attr.single) out[attr.name] = fieldToJson(attr.fields[0]);
    else {
      const obj: Record<string, unknown> = {};
      for (const f of attr.fields) obj[f.spec.name] = fieldToJson(f);
      if (attr.geneve) {
        obj.geneve = attr.geneve.map((opt) => {
          const o: Record<string, unknown> = {};
          for (const f of opt.fields) o[f.spec.name] = fieldToJson(f);
          if (opt.data) {
            const exact = opt.data.mask.every((b) => b === 0xff);
            o.data = exact
              ? hexBytes(opt.data.value)
              : { value: hexBytes(opt.data.value), mask: hexBytes(opt.data.mask) };
          }
          return o;
        });
      }
      out[attr.name] = obj;
    }
  }
  return out;
}

function fieldToJson(f: ShownField): unknown {
  const { kind, width } = f.spec;
  if (kind === "tcp_flags" || kind === "tun_flags") {
    const table = F.flagTable(kind);
    if (f.mask === F.fullMask(width)) {
      return table.filter(([, bit]) => (Number(f.value) & bit) !== 0).map(([n]) => n);
    }
    const obj: Record<string, boolean> = {};
    for (const [name, bit] of table) {
      if ((Number(f.mask) & bit) !== 0) obj[name] = (Number(f.value) & bit) !== 0;
    }
    return obj;
  }
  if (kind === "frag" || f.mask === F.fullMask(width)) return valueToJson(kind, f.value, false);
  return { value: valueToJson(kind, f.value, false), mask: valueToJson(kind, f.mask, true) };
}

function valueToJson(kind: F.FieldKind, value: bigint, asMask: boolean): unknown {
  return kind === "dec" ? Number(value) : F.formatValue(kind, value, asMask);
}

const SINGLE: Record<string, F.FieldSpec> = { ...F.SINGLE_ATTRIBUTES, tcp_flags: F.TCP_FLAGS };
const STRUCTS: Record<string, readonly F.FieldSpec[]> = {
  ...F.FIELD_ATTRIBUTES,
  tunnel: [...F.TUNNEL_FIELDS, F.TUN_FLAGS],
};

/**
 * Reads the JSON form into a new match, with the same meaning and checks as
 * parseFlowKey. Throws TypeError whose message starts with the JSON path of
 * the bad member (e.g. `$.encap.ipv4.src: bad IPv4 address`).
 */
export function flowKeyFromJson(json: unknown): FlowMatch {
  const match: FlowMatch = { key: newKeys(1), mask: newKeys(1) };
  const builder = new KeyBuilder(match, true);
  const root = asObject(json, "$");
  readLevel(root, "$", builder);
  builder.finish();
  if (!("recirc_id" in root)) F.writeField(match.mask, 0, F.RECIRC_ID, F.fullMask(32));
  return match;
}

function readLevel(obj: Record<string, unknown>, path: string, b: KeyBuilder): void {
  for (const [name, value] of Object.entries(obj)) {
    const here = `${path}.${name}`;
    const fail: Fail = (message) => {
      throw new TypeError(`${here}: ${message}`);
    };
    if (
      !(Object.hasOwn(SINGLE, name)) && !(Object.hasOwn(STRUCTS, name)) &&
      !["eth_type", "vlan", "encap"].includes(name)
    ) {
      fail("unknown or unsupported attribute");
    }
    b.startAttr(name, fail);
    if (Object.hasOwn(SINGLE, name)) {
      const m = readMasked(SINGLE[name], value, here);
      if (name === "recirc_id" && m.mask !== F.fullMask(32)) fail("recirc_id cannot be masked");
      b.set(name, SINGLE[name], m.value, m.mask);
    } else if (name === "eth_type") {
      const m = readMasked(F.ETH_TYPE, value, here);
      b.setEthType(m.value, m.mask);
    } else if (name === "encap") {
      b.enterEncap();
      readLevel(asObject(value, here), here, b);
      b.leaveEncap();
    } else {
      const specs = name === "vlan" ? vlanSpecs(b.depth) : STRUCTS[name];
      const fields = asObject(value, here);
      if (name === "vlan") {
        b.set("vlan", F.vlanFields(b.depth).cfi, 1n, 1n);
        if ("tci" in fields && ("vid" in fields || "pcp" in fields || "cfi" in fields)) {
          fail("tci cannot be combined with vid, pcp or cfi");
        }
      }
      for (const [fieldName, fieldValue] of Object.entries(fields)) {
        const fieldPath = `${here}.${fieldName}`;
        if (name === "tunnel" && fieldName === "geneve") {
          readGeneve(fieldValue, fieldPath, b);
          continue;
        }
        const spec = specs.find((f) => f.name === fieldName);
        if (!spec) throw new TypeError(`${fieldPath}: unknown field`);
        const m = readMasked(spec, fieldValue, fieldPath);
        b.set(name, spec, m.value, m.mask);
      }
    }
  }
}

function vlanSpecs(depth: number): F.FieldSpec[] {
  const v = F.vlanFields(depth);
  return [v.vid, v.pcp, v.cfi, v.tci];
}

function asObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${path}: expected an object`);
  }
  return value as Record<string, unknown>;
}

/** A field value: plain (exact), `{value, mask}`, or flags as an array / object of booleans. */
function readMasked(
  spec: F.FieldSpec,
  json: unknown,
  path: string,
): { value: bigint; mask: bigint } {
  const { kind, width } = spec;
  if (kind === "tcp_flags" || kind === "tun_flags") return readFlags(kind, width, json, path);
  if (typeof json === "object" && json !== null && !Array.isArray(json) && kind !== "frag") {
    const o = json as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k !== "value" && k !== "mask") throw new TypeError(`${path}.${k}: unknown member`);
    }
    if (!("value" in o) || !("mask" in o)) {
      throw new TypeError(`${path}: expected both value and mask`);
    }
    return {
      value: readValue(spec, o.value, `${path}.value`),
      mask: readValue(spec, o.mask, `${path}.mask`),
    };
  }
  return { value: readValue(spec, json, path), mask: F.fullMask(width) };
}

function readValue(spec: F.FieldSpec, json: unknown, path: string): bigint {
  const bad = (what: string): never => {
    throw new TypeError(`${path}: ${what}`);
  };
  switch (spec.kind) {
    case "ipv4": {
      const v = typeof json === "string" ? parseIpv4(json) : null;
      return v === null ? bad("bad IPv4 address") : BigInt(v);
    }
    case "ipv6": {
      const w = typeof json === "string" ? parseIpv6(json) : null;
      if (w === null) bad("bad IPv6 address");
      return (BigInt(w![0]) << 96n) | (BigInt(w![1]) << 64n) | (BigInt(w![2]) << 32n) |
        BigInt(w![3]);
    }
    case "mac": {
      const m = typeof json === "string" ? parseMac(json) : null;
      return m === null ? bad("bad MAC address") : (BigInt(m.hi) << 16n) | BigInt(m.lo);
    }
    case "frag": {
      const v = typeof json === "string" ? F.fragValue(json) : null;
      return v === null ? bad('expected "no", "first" or "later"') : v;
    }
    default: {
      let v: bigint | null = null;
      if (typeof json === "number" && Number.isSafeInteger(json) && json >= 0) v = BigInt(json);
      else if (typeof json === "string") v = parseUnsigned(json);
      if (v === null) bad("expected a non-negative integer or a decimal/0x string");
      if (v! >> BigInt(spec.width) !== 0n) bad(`number out of range for ${spec.width} bits`);
      return v!;
    }
  }
}

function readFlags(kind: "tcp_flags" | "tun_flags", width: number, json: unknown, path: string) {
  const table = F.flagTable(kind);
  const bit = (name: string, p: string) => {
    const entry = table.find(([n]) => n === name);
    if (!entry) throw new TypeError(`${p}: unknown flag`);
    return entry[1];
  };
  if (Array.isArray(json)) {
    let value = 0;
    json.forEach((n, i) => value |= bit(String(n), `${path}[${i}]`));
    return { value: BigInt(value), mask: F.fullMask(width) };
  }
  let value = 0, mask = 0;
  for (const [name, set] of Object.entries(asObject(json, path))) {
    const b = bit(name, `${path}.${name}`);
    if (typeof set !== "boolean") throw new TypeError(`${path}.${name}: expected true or false`);
    mask |= b;
    if (set) value |= b;
  }
  return { value: BigInt(value), mask: BigInt(mask) };
}

const G_CLASS = F.field("class", "hex", [[0, 0, 16]]);
const G_TYPE = F.field("type", "hex", [[0, 0, 8]]);
const G_LEN = F.field("len", "dec", [[0, 0, 8]]);

/** tunnel.geneve: options as in text; class/type omitted wildcarded, len omitted exactly 0. */
function readGeneve(json: unknown, path: string, b: KeyBuilder): void {
  if (!Array.isArray(json)) throw new TypeError(`${path}: expected an array of options`);
  const key = new Uint8Array(TUN_OPTS_MAX), mask = new Uint8Array(TUN_OPTS_MAX);
  let at = 0;
  json.forEach((item, i) => {
    const p = `${path}[${i}]`;
    const opt = asObject(item, p);
    for (const k of Object.keys(opt)) {
      if (!["class", "type", "len", "data"].includes(k)) {
        throw new TypeError(`${p}.${k}: unknown member`);
      }
    }
    const c = "class" in opt
      ? readMasked(G_CLASS, opt.class, `${p}.class`)
      : { value: 0n, mask: 0n };
    const t = "type" in opt ? readMasked(G_TYPE, opt.type, `${p}.type`) : { value: 0n, mask: 0n };
    const l = "len" in opt ? readMasked(G_LEN, opt.len, `${p}.len`) : { value: 0n, mask: 0xffn };
    const dataLen = Number(l.value);
    if (dataLen > 124 || dataLen % 4 !== 0) {
      throw new TypeError(`${p}.len: must be a multiple of 4, at most 124`);
    }
    if (at + 4 + dataLen > TUN_OPTS_MAX) {
      throw new TypeError(`${p}: Geneve options exceed ${TUN_OPTS_MAX} bytes`);
    }
    key.set([Number(c.value >> 8n), Number(c.value & 0xffn), Number(t.value), dataLen / 4], at);
    mask.set(
      [Number(c.mask >> 8n), Number(c.mask & 0xffn), Number(t.mask), Number(l.mask) & 0x1f],
      at,
    );
    mask.fill(0xff, at + 4, at + 4 + dataLen);
    if ("data" in opt) {
      const d = opt.data;
      const masked = typeof d === "object" && d !== null;
      const dv = masked ? (d as Record<string, unknown>).value : d;
      putBytes(key, at + 4, dataLen, dv, `${p}.data${masked ? ".value" : ""}`);
      if (masked) {
        putBytes(mask, at + 4, dataLen, (d as Record<string, unknown>).mask, `${p}.data.mask`);
      }
    }
    at += 4 + dataLen;
  });
  b.set("tunnel", F.GENEVE_LEN, BigInt(at), F.fullMask(32));
  for (let i = 0; i < at; i++) b.set("tunnel", F.geneveByte(i), BigInt(key[i]), BigInt(mask[i]));
}

function putBytes(into: Uint8Array, at: number, width: number, json: unknown, path: string): void {
  let v = typeof json === "string" ? parseUnsigned(json) : null;
  if (v === null) throw new TypeError(`${path}: expected a hex string such as "0xa0b0c0d0"`);
  for (let i = width - 1; i >= 0; i--) {
    into[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new TypeError(`${path}: does not fit in ${width} bytes`);
}
