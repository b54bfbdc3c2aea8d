/**
 * Tunnel header templates of `tnl_push`: the structured fields and the
 * exact template bytes (build and decode). The OVS text form is in
 * tunnel_header_text.ts. The bytes are the template a push copies:
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
import {
  formatIpv4,
  formatIpv6Bytes,
  formatMacBytes,
  ipv4Value,
  ipv6Bytes,
  macBytes,
} from "./net_text.ts";

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

/** Ethertype of an IPv4 outer header. */
export const ETH_TYPE_IPV4 = 0x0800;
/** Ethertype of an IPv6 outer header. */
export const ETH_TYPE_IPV6 = 0x86dd;
const ETH_TYPE_TEB = 0x6558;
const IPPROTO_UDP = 17;
const IPPROTO_GRE = 47;
/** GRE flag: checksum word present. */
export const GRE_CSUM = 0x8000;
/** GRE flag: key word present. */
export const GRE_KEY = 0x2000;
/** GRE flag: sequence word present. */
export const GRE_SEQ = 0x1000;
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
  out.set(macBytes(fields.eth.dst), 0);
  out.set(macBytes(fields.eth.src), 6);
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
    view.setUint32(26, ipv4Value(ip.src));
    view.setUint32(30, ipv4Value(ip.dst));
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
    out.set(ipv6Bytes(ip.src), 22);
    out.set(ipv6Bytes(ip.dst), 38);
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
      dst: formatMacBytes(header.subarray(0, 6)),
      src: formatMacBytes(header.subarray(6, 12)),
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
      src: formatIpv4(view.getUint32(26)),
      dst: formatIpv4(view.getUint32(30)),
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
      src: formatIpv6Bytes(header.subarray(22, 38)),
      dst: formatIpv6Bytes(header.subarray(38, 54)),
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
