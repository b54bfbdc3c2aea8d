/**
 * Tunnel header templates of `tnl_push`: the structured fields, the exact
 * template bytes, and the OVS text form
 * `header(size=50,type=4,eth(...),ipv4(...),udp(...),vxlan(...))`.
 *
 * The text follows OVS's `format_odp_tnl_push_header` / `ovs_parse_tnl_push`
 * (lib/odp-util.c) field by field, so `formatTunnelHeader` prints what
 * `ovs-dpctl dump-flows` prints. The bytes are the template a push copies:
 * - Ethernet (14), then IPv4 (20) or IPv6 (40), then UDP (8) + VXLAN (8) or
 *   Geneve (8 + options), or GRE (4 + 4 per csum/key/seq word).
 * - Lengths (IPv4 total length, IPv6 payload length, UDP length) and the IPv4
 *   identification are 0 in the template; the push fills them in.
 * - The IPv4 header checksum is computed over the template as stored (with
 *   total length 0), as OVS does in `ovs_parse_tnl_push`; the push adjusts it
 *   incrementally for the real length.
 * - UDP source port 0 asks the push for a port hashed from the inner flow;
 *   UDP checksum 0xffff asks it to compute the checksum.
 *
 * @module
 */

import { TUNNEL_TYPE_GENEVE, TUNNEL_TYPE_GRE, TUNNEL_TYPE_VXLAN } from "../action.ts";
import { ActionCursor } from "./_action_cursor.ts";
import {
  formatIpv4Address,
  formatIpv6Address,
  formatMacAddress,
  parseIpv4Address,
  parseIpv6Address,
  parseMacAddress,
} from "./_tunnel_addresses.ts";

/** One Geneve option TLV. `data` is hex, 2 digits per byte, a multiple of 4 bytes. */
export interface GeneveOptionFields {
  class: number;
  type: number;
  data: string;
}

/** The structured content of a tunnel header template (JSON-compatible). */
export interface TunnelHeaderFields {
  /** OVS vport type number: TUNNEL_TYPE_GRE, TUNNEL_TYPE_VXLAN or TUNNEL_TYPE_GENEVE. */
  type: number;
  eth: { dst: string; src: string; dlType: number };
  ipv4?: { src: string; dst: string; proto: number; tos: number; ttl: number; frag: number };
  ipv6?: {
    src: string;
    dst: string;
    label: number;
    proto: number;
    tclass: number;
    hlimit: number;
  };
  udp?: { src: number; dst: number; csum: number };
  vxlan?: { flags: number; vni: number };
  geneve?: { oam: boolean; crit: boolean; vni: number; options: GeneveOptionFields[] };
  /** GRE: `csum`, `key`, `seq` are present exactly when `flags` has their bit. */
  gre?: { flags: number; proto: number; csum?: number; key?: number; seq?: number };
}

const ETH_TYPE_IPV4 = 0x0800;
const ETH_TYPE_IPV6 = 0x86dd;
const ETH_TYPE_TEB = 0x6558;
const IPPROTO_UDP = 17;
const IPPROTO_GRE = 47;
const GRE_CSUM = 0x8000;
const GRE_KEY = 0x2000;
const GRE_SEQ = 0x1000;
const GENEVE_OPTIONS_MAX = 63 * 4;

function checkRange(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

function hexToBytes(hex: string, what: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new RangeError(`${what} must be hex with two digits per byte, got '${hex}'`);
  }
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function bytesToHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** The 16-bit one's complement checksum of `bytes[start, start+length)`. */
function internetChecksum(bytes: Uint8Array, start: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i += 2) sum += (bytes[start + i] << 8) | bytes[start + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Builds the template bytes for `fields`. Throws RangeError for a value out
 * of range, a bad address, or an inconsistent combination (GRE over IPv6,
 * UDP tunnel without `udp`, wrong IP protocol, ...).
 */
export function buildTunnelHeader(fields: TunnelHeaderFields): Uint8Array {
  const out = new Uint8Array(14 + 40 + 8 + 8 + GENEVE_OPTIONS_MAX);
  const view = new DataView(out.buffer);
  out.set(parseMacAddress(fields.eth.dst), 0);
  out.set(parseMacAddress(fields.eth.src), 6);
  if ((fields.ipv4 === undefined) === (fields.ipv6 === undefined)) {
    throw new RangeError("a tunnel header needs exactly one of ipv4 or ipv6");
  }
  const wantEthType = fields.ipv4 ? ETH_TYPE_IPV4 : ETH_TYPE_IPV6;
  if (fields.eth.dlType !== wantEthType) {
    throw new RangeError(`eth dl_type must be 0x${wantEthType.toString(16)} for this IP header`);
  }
  view.setUint16(12, wantEthType);
  let l4 = 14;
  let proto: number;
  if (fields.ipv4) {
    const ip = fields.ipv4;
    proto = checkRange(ip.proto, 0xff, "ipv4 proto");
    out[14] = 0x45;
    out[15] = checkRange(ip.tos, 0xff, "ipv4 tos");
    view.setUint16(20, checkRange(ip.frag, 0xffff, "ipv4 frag"));
    out[22] = checkRange(ip.ttl, 0xff, "ipv4 ttl");
    out[23] = proto;
    view.setUint32(26, parseIpv4Address(ip.src));
    view.setUint32(30, parseIpv4Address(ip.dst));
    view.setUint16(24, internetChecksum(out, 14, 20));
    l4 = 34;
  } else {
    const ip = fields.ipv6!;
    proto = checkRange(ip.proto, 0xff, "ipv6 proto");
    const flow = (6 << 28) | (checkRange(ip.tclass, 0xff, "ipv6 tclass") << 20) |
      checkRange(ip.label, 0xfffff, "ipv6 label");
    view.setUint32(14, flow >>> 0);
    out[20] = proto;
    out[21] = checkRange(ip.hlimit, 0xff, "ipv6 hlimit");
    out.set(parseIpv6Address(ip.src), 22);
    out.set(parseIpv6Address(ip.dst), 38);
    l4 = 54;
  }
  let end: number;
  if (fields.type === TUNNEL_TYPE_VXLAN || fields.type === TUNNEL_TYPE_GENEVE) {
    if (proto !== IPPROTO_UDP) throw new RangeError("a UDP tunnel needs IP proto 17");
    if (!fields.udp) throw new RangeError("a UDP tunnel needs a udp header");
    if (fields.gre) throw new RangeError("gre does not go with a UDP tunnel type");
    view.setUint16(l4, checkRange(fields.udp.src, 0xffff, "udp src"));
    view.setUint16(l4 + 2, checkRange(fields.udp.dst, 0xffff, "udp dst"));
    view.setUint16(l4 + 6, checkRange(fields.udp.csum, 0xffff, "udp csum"));
    end = l4 + 8;
    if (fields.type === TUNNEL_TYPE_VXLAN) {
      if (!fields.vxlan || fields.geneve) throw new RangeError("type 4 (vxlan) needs vxlan()");
      view.setUint32(end, checkRange(fields.vxlan.flags, 0xffffffff, "vxlan flags"));
      view.setUint32(end + 4, checkRange(fields.vxlan.vni, 0xffffff, "vxlan vni") << 8 >>> 0);
      end += 8;
    } else {
      if (!fields.geneve || fields.vxlan) throw new RangeError("type 5 (geneve) needs geneve()");
      end = writeGeneve(out, end, fields.geneve);
    }
  } else if (fields.type === TUNNEL_TYPE_GRE) {
    if (!fields.gre || fields.udp || fields.vxlan || fields.geneve) {
      throw new RangeError("type 3 (gre) needs gre() and nothing else");
    }
    if (fields.ipv6) throw new RangeError("GRE over IPv6 (ip6gre, type 109) is not supported");
    if (proto !== IPPROTO_GRE) throw new RangeError("a GRE tunnel needs IP proto 47");
    end = writeGre(view, l4, fields.gre);
  } else {
    throw new RangeError(`unsupported tunnel header type ${fields.type}`);
  }
  return out.slice(0, end);
}

function writeGeneve(
  out: Uint8Array,
  at: number,
  geneve: NonNullable<TunnelHeaderFields["geneve"]>,
): number {
  let optionsLength = 0;
  let end = at + 8;
  for (const [i, option] of geneve.options.entries()) {
    const data = hexToBytes(option.data, `geneve option ${i} data`);
    if (data.length % 4 !== 0 || data.length > 124) {
      throw new RangeError(`geneve option ${i} data must be a multiple of 4 bytes, at most 124`);
    }
    optionsLength += 4 + data.length;
    if (optionsLength > GENEVE_OPTIONS_MAX) {
      throw new RangeError(`geneve options exceed ${GENEVE_OPTIONS_MAX} bytes`);
    }
    checkRange(option.class, 0xffff, "geneve option class");
    out[end] = option.class >>> 8;
    out[end + 1] = option.class & 0xff;
    out[end + 2] = checkRange(option.type, 0xff, "geneve option type");
    out[end + 3] = data.length / 4;
    out.set(data, end + 4);
    end += 4 + data.length;
  }
  out[at] = optionsLength / 4;
  out[at + 1] = (geneve.oam ? 0x80 : 0) | (geneve.crit ? 0x40 : 0);
  out[at + 2] = ETH_TYPE_TEB >>> 8;
  out[at + 3] = ETH_TYPE_TEB & 0xff;
  const vni = checkRange(geneve.vni, 0xffffff, "geneve vni");
  out[at + 4] = vni >>> 16;
  out[at + 5] = (vni >>> 8) & 0xff;
  out[at + 6] = vni & 0xff;
  return end;
}

function writeGre(
  view: DataView,
  at: number,
  gre: NonNullable<TunnelHeaderFields["gre"]>,
): number {
  const flags = checkRange(gre.flags, 0xffff, "gre flags");
  view.setUint16(at, flags);
  view.setUint16(at + 2, checkRange(gre.proto, 0xffff, "gre proto"));
  let end = at + 4;
  const words: Array<[number, "csum" | "key" | "seq", number]> = [
    [GRE_CSUM, "csum", 0xffff],
    [GRE_KEY, "key", 0xffffffff],
    [GRE_SEQ, "seq", 0xffffffff],
  ];
  for (const [bit, name, max] of words) {
    const value = gre[name];
    if ((flags & bit) === 0) {
      if (value !== undefined) {
        throw new RangeError(`gre ${name} given but flags lack 0x${bit.toString(16)}`);
      }
      continue;
    }
    if (value === undefined) throw new RangeError(`gre flags 0x${flags.toString(16)} need ${name}`);
    checkRange(value, max, `gre ${name}`);
    if (name === "csum") view.setUint16(end, value);
    else view.setUint32(end, value);
    end += 4;
  }
  return end;
}

/**
 * Decodes template bytes back into fields. Throws RangeError when the bytes
 * are not a template {@linkcode buildTunnelHeader} would produce (so that
 * decode then build gives the same bytes).
 */
export function decodeTunnelHeader(header: Uint8Array, type: number): TunnelHeaderFields {
  if (header.length < 14 + 20) throw new RangeError(`tunnel header too short (${header.length})`);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const dlType = view.getUint16(12);
  const fields: TunnelHeaderFields = {
    type,
    eth: {
      dst: formatMacAddress(header.subarray(0, 6)),
      src: formatMacAddress(header.subarray(6, 12)),
      dlType,
    },
  };
  let l4: number;
  if (dlType === ETH_TYPE_IPV4) {
    if (header[14] !== 0x45) throw new RangeError("IPv4 template must have version 4, IHL 5");
    if (view.getUint32(16) !== 0) throw new RangeError("IPv4 template length and id must be 0");
    if (internetChecksum(header, 14, 20) !== 0) {
      throw new RangeError("IPv4 template checksum does not match");
    }
    fields.ipv4 = {
      src: formatIpv4Address(view.getUint32(26)),
      dst: formatIpv4Address(view.getUint32(30)),
      proto: header[23],
      tos: header[15],
      ttl: header[22],
      frag: view.getUint16(20),
    };
    l4 = 34;
  } else if (dlType === ETH_TYPE_IPV6) {
    if (header.length < 54) throw new RangeError("IPv6 tunnel header too short");
    const flow = view.getUint32(14);
    if (flow >>> 28 !== 6 || view.getUint16(18) !== 0) {
      throw new RangeError("IPv6 template must have version 6 and payload length 0");
    }
    fields.ipv6 = {
      src: formatIpv6Address(header.subarray(22, 38)),
      dst: formatIpv6Address(header.subarray(38, 54)),
      label: flow & 0xfffff,
      proto: header[20],
      tclass: (flow >>> 20) & 0xff,
      hlimit: header[21],
    };
    l4 = 54;
  } else {
    throw new RangeError(`tunnel header dl_type 0x${dlType.toString(16)} is not IPv4 or IPv6`);
  }
  if (type === TUNNEL_TYPE_VXLAN || type === TUNNEL_TYPE_GENEVE) {
    if (header.length < l4 + 16) throw new RangeError("UDP tunnel header too short");
    if (view.getUint16(l4 + 4) !== 0) throw new RangeError("UDP template length must be 0");
    fields.udp = {
      src: view.getUint16(l4),
      dst: view.getUint16(l4 + 2),
      csum: view.getUint16(l4 + 6),
    };
    const at = l4 + 8;
    if (type === TUNNEL_TYPE_VXLAN) {
      if (view.getUint8(at + 7) !== 0) throw new RangeError("VXLAN reserved byte must be 0");
      fields.vxlan = { flags: view.getUint32(at), vni: view.getUint32(at + 4) >>> 8 };
    } else {
      fields.geneve = decodeGeneve(header, at);
    }
  } else if (type === TUNNEL_TYPE_GRE) {
    const flags = view.getUint16(l4);
    const gre: NonNullable<TunnelHeaderFields["gre"]> = { flags, proto: view.getUint16(l4 + 2) };
    let at = l4 + 4;
    if (flags & GRE_CSUM) gre.csum = view.getUint16((at += 4) - 4);
    if (flags & GRE_KEY) gre.key = view.getUint32((at += 4) - 4);
    if (flags & GRE_SEQ) gre.seq = view.getUint32((at += 4) - 4);
    fields.gre = gre;
  } else {
    throw new RangeError(`unsupported tunnel header type ${type}`);
  }
  const rebuilt = buildTunnelHeader(fields);
  if (rebuilt.length !== header.length || rebuilt.some((b, i) => b !== header[i])) {
    throw new RangeError("tunnel header bytes are not a canonical template for their fields");
  }
  return fields;
}

function decodeGeneve(header: Uint8Array, at: number): NonNullable<TunnelHeaderFields["geneve"]> {
  const optionsEnd = at + 8 + (header[at] & 0x3f) * 4;
  if (header[at] >>> 6 !== 0 || optionsEnd > header.length) {
    throw new RangeError("Geneve template version or option length is wrong");
  }
  const vni = (header[at + 4] << 16) | (header[at + 5] << 8) | header[at + 6];
  const options: GeneveOptionFields[] = [];
  let p = at + 8;
  while (p < optionsEnd) {
    const length = 4 + (header[p + 3] & 0x1f) * 4;
    if (p + length > optionsEnd) throw new RangeError("Geneve option overruns the options");
    options.push({
      class: (header[p] << 8) | header[p + 1],
      type: header[p + 2],
      data: bytesToHex(header.subarray(p + 4, p + length)),
    });
    p += length;
  }
  return { oam: (header[at + 1] & 0x80) !== 0, crit: (header[at + 1] & 0x40) !== 0, vni, options };
}

/**
 * Parses `header(size=..,type=..,eth(..),ipv4(..)|ipv6(..),udp(..),vxlan(..)|geneve(..)|gre(..))`
 * at the cursor, leaving it after the closing parenthesis. Throws
 * OdpSyntaxError with the position of the offending token, also when
 * `size=` differs from the built length.
 */
export function parseTunnelHeaderText(cursor: ActionCursor): { type: number; header: Uint8Array } {
  cursor.expect("header(size=");
  const sizePos = cursor.pos;
  const size = cursor.readInteger(0xffffffff, "header size");
  cursor.expect(",type=");
  const typePos = cursor.pos;
  const type = cursor.readInteger(0xffffffff, "header type");
  if (type !== TUNNEL_TYPE_GRE && type !== TUNNEL_TYPE_VXLAN && type !== TUNNEL_TYPE_GENEVE) {
    cursor.fail(`unsupported tunnel header type ${type} (3 gre, 4 vxlan, 5 geneve)`, typePos);
  }
  const fields: TunnelHeaderFields = { type, eth: { dst: "", src: "", dlType: 0 } };
  cursor.expect(",eth(dst=");
  fields.eth.dst = readAddress(cursor, parseMacAddress);
  cursor.expect(",src=");
  fields.eth.src = readAddress(cursor, parseMacAddress);
  cursor.expect(",dl_type=");
  const dlTypePos = cursor.pos;
  fields.eth.dlType = cursor.readHex(0xffff, "dl_type");
  cursor.expect("),");
  if (fields.eth.dlType === ETH_TYPE_IPV4) {
    cursor.expect("ipv4(src=");
    const src = readAddress(cursor, parseIpv4Address);
    cursor.expect(",dst=");
    const dst = readAddress(cursor, parseIpv4Address);
    cursor.expect(",proto=");
    const proto = cursor.readInteger(0xff, "ipv4 proto");
    cursor.expect(",tos=");
    const tos = cursor.readInteger(0xff, "ipv4 tos");
    cursor.expect(",ttl=");
    const ttl = cursor.readInteger(0xff, "ipv4 ttl");
    cursor.expect(",frag=");
    const frag = cursor.readHex(0xffff, "ipv4 frag");
    fields.ipv4 = { src, dst, proto, tos, ttl, frag };
  } else if (fields.eth.dlType === ETH_TYPE_IPV6) {
    cursor.expect("ipv6(src=");
    const src = readAddress(cursor, parseIpv6Address);
    cursor.expect(",dst=");
    const dst = readAddress(cursor, parseIpv6Address);
    cursor.expect(",label=");
    const label = cursor.readInteger(0xfffff, "ipv6 label");
    cursor.expect(",proto=");
    const proto = cursor.readInteger(0xff, "ipv6 proto");
    cursor.expect(",tclass=");
    const tclass = cursor.readHex(0xff, "ipv6 tclass");
    cursor.expect(",hlimit=");
    const hlimit = cursor.readInteger(0xff, "ipv6 hlimit");
    fields.ipv6 = { src, dst, label, proto, tclass, hlimit };
  } else {
    cursor.fail("tunnel header dl_type must be 0x0800 or 0x86dd", dlTypePos);
  }
  cursor.expect("),");
  const l4Pos = cursor.pos;
  if (cursor.accept("udp(src=")) {
    const src = cursor.readInteger(0xffff, "udp src");
    cursor.expect(",dst=");
    const dst = cursor.readInteger(0xffff, "udp dst");
    cursor.expect(",csum=");
    const csum = cursor.readHex(0xffff, "udp csum");
    cursor.expect("),");
    fields.udp = { src, dst, csum };
    if (cursor.accept("vxlan(flags=")) {
      const flags = cursor.readHex(0xffffffff, "vxlan flags");
      cursor.expect(",vni=");
      fields.vxlan = { flags, vni: cursor.readHex(0xffffff, "vxlan vni") };
      cursor.expect(")");
    } else if (cursor.accept("geneve(")) {
      fields.geneve = parseGeneveText(cursor);
    } else {
      cursor.fail("expected vxlan(...) or geneve(...) after udp(...)");
    }
  } else if (cursor.accept("gre((flags=")) {
    const flags = cursor.readHex(0xffff, "gre flags");
    cursor.expect(",proto=");
    const gre: NonNullable<TunnelHeaderFields["gre"]> = {
      flags,
      proto: cursor.readHex(0xffff, "gre proto"),
    };
    cursor.expect(")");
    if (flags & GRE_CSUM) gre.csum = (cursor.expect(",csum="), cursor.readHex(0xffff, "gre csum"));
    if (flags & GRE_KEY) gre.key = (cursor.expect(",key="), cursor.readHex(0xffffffff, "gre key"));
    if (flags & GRE_SEQ) gre.seq = (cursor.expect(",seq="), cursor.readHex(0xffffffff, "gre seq"));
    cursor.expect(")");
    fields.gre = gre;
  } else {
    cursor.fail("expected udp(...) or gre(...) in tunnel header");
  }
  cursor.expect(")", "header(...)");
  let header: Uint8Array;
  try {
    header = buildTunnelHeader(fields);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    cursor.fail(`bad tunnel header: ${error.message}`, l4Pos);
  }
  if (header.length !== size) {
    cursor.fail(
      `header size=${size} but the header built from the text is ${header.length} bytes`,
      sizePos,
    );
  }
  return { type, header };
}

function readAddress<T>(cursor: ActionCursor, parse: (text: string) => T): string {
  const start = cursor.pos;
  const text = cursor.readUntil(",)");
  try {
    parse(text);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    cursor.fail(error.message, start);
  }
  return text;
}

/** Parses after "geneve(": `[oam,][crit,]vni=N[,options({...}...)])`. */
function parseGeneveText(cursor: ActionCursor): NonNullable<TunnelHeaderFields["geneve"]> {
  const oam = cursor.accept("oam,");
  const crit = cursor.accept("crit,");
  cursor.expect("vni=");
  const vni = cursor.readInteger(0xffffff, "geneve vni");
  const options: GeneveOptionFields[] = [];
  if (cursor.accept(",options(")) {
    do {
      cursor.expect("{class=");
      const optionClass = cursor.readInteger(0xffff, "geneve option class");
      cursor.expect(",type=");
      const type = cursor.readInteger(0xff, "geneve option type");
      cursor.expect(",len=");
      const lenPos = cursor.pos;
      const length = cursor.readInteger(124, "geneve option len");
      if (length % 4 !== 0) cursor.fail("geneve option len must be a multiple of 4", lenPos);
      let data = "".padStart(length * 2, "0");
      if (cursor.accept(",")) {
        const dataPos = cursor.pos;
        const digits = /^0[xX]([0-9a-fA-F]+)|^(0)(?![xX])/.exec(cursor.text.slice(dataPos));
        if (digits === null) cursor.fail("expected hex option data", dataPos);
        const hex = (digits[1] ?? "0").replace(/^0+(?=.)/, "").toLowerCase();
        if (hex.length > length * 2) cursor.fail(`option data longer than len=${length}`, dataPos);
        data = hex.padStart(length * 2, "0");
        cursor.pos += digits[0].length;
      }
      cursor.expect("}");
      options.push({ class: optionClass, type, data });
    } while (cursor.lookingAt("{"));
    cursor.expect(")");
  }
  cursor.expect(")");
  return { oam, crit, vni, options };
}

/** Formats the template as OVS prints it: `header(size=..,type=..,...)`. Throws RangeError if malformed. */
export function formatTunnelHeader(type: number, header: Uint8Array): string {
  const f = decodeTunnelHeader(header, type);
  let text = `header(size=${header.length},type=${type},eth(dst=${f.eth.dst},src=${f.eth.src},` +
    `dl_type=0x${f.eth.dlType.toString(16).padStart(4, "0")}),`;
  if (f.ipv4) {
    const ip = f.ipv4;
    text += `ipv4(src=${ip.src},dst=${ip.dst},proto=${ip.proto},tos=${alternateHex(ip.tos)},` +
      `ttl=${ip.ttl},frag=0x${ip.frag.toString(16)}),`;
  } else {
    const ip = f.ipv6!;
    text += `ipv6(src=${ip.src},dst=${ip.dst},label=${ip.label},proto=${ip.proto},` +
      `tclass=0x${ip.tclass.toString(16)},hlimit=${ip.hlimit}),`;
  }
  if (f.udp) text += `udp(src=${f.udp.src},dst=${f.udp.dst},csum=0x${f.udp.csum.toString(16)}),`;
  if (f.vxlan) {
    text += `vxlan(flags=0x${f.vxlan.flags.toString(16)},vni=0x${f.vxlan.vni.toString(16)})`;
  } else if (f.geneve) {
    const g = f.geneve;
    text += `geneve(${g.oam ? "oam," : ""}${g.crit ? "crit," : ""}vni=0x${g.vni.toString(16)}`;
    if (g.options.length > 0) {
      text += ",options(";
      for (const o of g.options) {
        const len = o.data.length / 2;
        text += `{class=${alternateHex(o.class)},type=${alternateHex(o.type)},len=${len}`;
        if (len > 0) text += `,${minimalHex(o.data)}`;
        text += "}";
      }
      text += ")";
    }
    text += ")";
  } else if (f.gre) {
    const g = f.gre;
    text += `gre((flags=0x${g.flags.toString(16)},proto=0x${g.proto.toString(16)})`;
    if (g.csum !== undefined) text += `,csum=0x${g.csum.toString(16)}`;
    if (g.key !== undefined) text += `,key=0x${g.key.toString(16)}`;
    if (g.seq !== undefined) text += `,seq=0x${g.seq.toString(16)}`;
    text += ")";
  }
  return text + ")";
}

/** C's `%#x`: "0" for zero, else "0x" + hex. */
function alternateHex(value: number): string {
  return value === 0 ? "0" : `0x${value.toString(16)}`;
}

/** OVS's `ds_put_hex`: leading zero bytes dropped, "0x" prefix, "0" when all zero. */
function minimalHex(hex: string): string {
  const trimmed = hex.replace(/^(00)+/, "");
  if (trimmed === "") return "0";
  return `0x${trimmed.replace(/^0/, "")}`;
}
