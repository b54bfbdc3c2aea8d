/**
 * The OVS text form of `tnl_push` header templates,
 * `header(size=50,type=4,eth(...),ipv4(...),udp(...),vxlan(...))`. It
 * follows OVS's `format_odp_tnl_push_header` / `ovs_parse_tnl_push`
 * (lib/odp-util.c) field by field, so `formatTunnelHeader` prints what
 * `ovs-dpctl dump-flows` prints. The template bytes are built and decoded in
 * tunnel_header_bytes.ts (re-exported here).
 *
 * @module
 */

import { TUNNEL_TYPE_GENEVE, TUNNEL_TYPE_GRE, TUNNEL_TYPE_VXLAN } from "../action.ts";
import { ipv4Value, ipv6Bytes, macBytes } from "./net_text.ts";
import type { OdpScanner } from "./scanner.ts";
import {
  buildTunnelHeader,
  decodeTunnelHeader,
  ETH_TYPE_IPV4,
  ETH_TYPE_IPV6,
  type GeneveOptionFields,
  GRE_CSUM,
  GRE_KEY,
  GRE_SEQ,
  type TunnelHeaderFields,
} from "./tunnel_header_bytes.ts";

export { buildTunnelHeader, decodeTunnelHeader } from "./tunnel_header_bytes.ts";
export type { GeneveOptionFields, TunnelHeaderFields } from "./tunnel_header_bytes.ts";
/**
 * Parses `header(size=..,type=..,eth(..),ipv4(..)|ipv6(..),udp(..),vxlan(..)|geneve(..)|gre(..))`
 * at the cursor, leaving it after the closing parenthesis. Throws
 * OdpSyntaxError with the position of the offending token, also when
 * `size=` differs from the built length.
 */
export function parseTunnelHeaderText(cursor: OdpScanner): { type: number; header: Uint8Array } {
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
  fields.eth.dst = readAddress(cursor, macBytes);
  cursor.expect(",src=");
  fields.eth.src = readAddress(cursor, macBytes);
  cursor.expect(",dl_type=");
  const dlTypePos = cursor.pos;
  fields.eth.dlType = cursor.readHex(0xffff, "dl_type");
  cursor.expect("),");
  if (fields.eth.dlType === ETH_TYPE_IPV4) {
    cursor.expect("ipv4(src=");
    const src = readAddress(cursor, ipv4Value);
    cursor.expect(",dst=");
    const dst = readAddress(cursor, ipv4Value);
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
    const src = readAddress(cursor, ipv6Bytes);
    cursor.expect(",dst=");
    const dst = readAddress(cursor, ipv6Bytes);
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
  if (cursor.tryEat("udp(src=")) {
    const src = cursor.readInteger(0xffff, "udp src");
    cursor.expect(",dst=");
    const dst = cursor.readInteger(0xffff, "udp dst");
    cursor.expect(",csum=");
    const csum = cursor.readHex(0xffff, "udp csum");
    cursor.expect("),");
    fields.udp = { src, dst, csum };
    if (cursor.tryEat("vxlan(flags=")) {
      const flags = cursor.readHex(0xffffffff, "vxlan flags");
      cursor.expect(",vni=");
      fields.vxlan = { flags, vni: cursor.readHex(0xffffff, "vxlan vni") };
      cursor.expect(")");
    } else if (cursor.tryEat("geneve(")) {
      fields.geneve = parseGeneveText(cursor);
    } else {
      cursor.fail("expected vxlan(...) or geneve(...) after udp(...)");
    }
  } else if (cursor.tryEat("gre((flags=")) {
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

function readAddress<T>(cursor: OdpScanner, parse: (text: string) => T): string {
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
function parseGeneveText(cursor: OdpScanner): NonNullable<TunnelHeaderFields["geneve"]> {
  const oam = cursor.tryEat("oam,");
  const crit = cursor.tryEat("crit,");
  cursor.expect("vni=");
  const vni = cursor.readInteger(0xffffff, "geneve vni");
  const options: GeneveOptionFields[] = [];
  if (cursor.tryEat(",options(")) {
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
      if (cursor.tryEat(",")) {
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
