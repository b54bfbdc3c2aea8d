/**
 * Formats a flow key and mask as OVS `dump-flows` prints it (non-verbose),
 * e.g. `recirc_id(0),in_port(1),eth(src=...,dst=...),eth_type(0x0800),
 * ipv4(src=10.0.0.0/255.255.255.0,frag=no)`. What is shown is decided in
 * key_shown.ts; this module only spells it. Dumps take the number-only
 * path of key_format_fast.ts, which covers the common matches and says
 * when it does not.
 *
 * @module
 */

import { KEY_WORDS } from "../flow_key.ts";
import * as F from "./key_fields.ts";
import { packetMask, type ShownAttr, shownAttrs, type ShownField } from "./key_shown.ts";
import { formatFlowKeyFast } from "./key_format_fast.ts";

/**
 * Formats a match the way OVS dump-flows does (non-verbose). With `mask`
 * null the key is a packet's exact key (as in an upcall) and everything the
 * packet has is printed. Offsets (default 0) locate the key and mask words
 * in their arrays; neither array is modified. Never throws for any bit
 * pattern (malformed Geneve bytes are described in the text, as OVS does).
 */
export function formatFlowKey(
  key: Uint32Array,
  mask: Uint32Array | null,
  keyOffset = 0,
  maskOffset = 0,
): string {
  if (mask !== null) {
    const text = formatFlowKeyFast(key, keyOffset, mask, maskOffset);
    if (text !== null) return text;
  }
  return formatFlowKeyGeneric(key, mask, keyOffset, maskOffset);
}

/**
 * {@linkcode formatFlowKey} through key_shown.ts's attribute list (bigint
 * fields): handles every match. The reference the fast path is tested
 * against (tests/key_format_fast_test.ts).
 */
export function formatFlowKeyGeneric(
  key: Uint32Array,
  mask: Uint32Array | null,
  keyOffset = 0,
  maskOffset = 0,
): string {
  const k = key.slice(keyOffset, keyOffset + KEY_WORDS);
  const m = mask === null ? packetMask(k) : mask.slice(maskOffset, maskOffset + KEY_WORDS);
  return formatAttrs(shownAttrs(k, m));
}

/** Spells a list of shown attributes, comma separated. */
export function formatAttrs(attrs: readonly ShownAttr[]): string {
  return attrs.map(formatAttr).join(",");
}

function formatAttr(attr: ShownAttr): string {
  if (attr.children) return `encap(${formatAttrs(attr.children)})`;
  if (attr.dot3) return `eth_type(0/0x${attr.fields[0].mask.toString(16).padStart(4, "0")})`;
  if (attr.single) return `${attr.name}(${formatBare(attr.fields[0])})`;
  if (attr.name === "mpls") return `mpls(${formatMpls(attr.fields)})`;
  const parts: string[] = [];
  for (const f of attr.fields) {
    if (f.spec === F.TUN_FLAGS) {
      if (attr.geneve || attr.geneveError) parts.push(`geneve(${formatGeneve(attr)})`);
      parts.push(`flags(${formatBare(f)})`);
    } else {
      parts.push(`${f.spec.name}=${attr.name === "vlan" ? formatVlanField(f) : formatBare(f)}`);
    }
  }
  if ((attr.geneve || attr.geneveError) && !attr.fields.some((f) => f.spec === F.TUN_FLAGS)) {
    parts.push(`geneve(${formatGeneve(attr)})`);
  }
  return `${attr.name}(${parts.join(",")})`;
}

/** `value` or `value/mask` in the field's spelling. */
function formatBare(f: ShownField): string {
  const { kind, width } = f.spec;
  if (kind === "tcp_flags" || kind === "tun_flags") {
    return F.formatFlags(kind, f.value, f.mask, width);
  }
  const value = F.formatValue(kind, f.value, false);
  if (kind === "frag" || f.mask === F.fullMask(width)) return value;
  return `${value}/${F.formatValue(kind, f.mask, true)}`;
}

/** vlan vid and pcp print their masks as `0x%x` (format_vlan_tci). */
function formatVlanField(f: ShownField): string {
  if (f.spec.name === "cfi" || f.mask === F.fullMask(f.spec.width)) return formatBare(f);
  return `${f.value}/0x${f.mask.toString(16)}`;
}

/** format_mpls: all four fields, with masks unless the whole entry is exact. */
function formatMpls(fields: readonly ShownField[]): string {
  const exact = fields.every((f) => f.mask === F.fullMask(f.spec.width));
  const maskStyle: Record<string, string> = { label: "0x", tc: "", ttl: "0x", bos: "" };
  return fields.map((f) => {
    const base = `${f.spec.name}=${f.value}`;
    return exact ? base : `${base}/${maskStyle[f.spec.name]}${f.mask.toString(16)}`;
  }).join(",");
}

/** format_geneve_opts: `{class=..,type=..,len=..,DATA[/MASK]}` per option. */
function formatGeneve(attr: ShownAttr): string {
  const options = (attr.geneve ?? []).map((opt) => {
    const parts = opt.fields.map((f) => `${f.spec.name}=${formatBare(f)}`);
    if (opt.data) {
      const allOnes = opt.data.mask.every((b) => b === 0xff);
      parts.push(
        allOnes
          ? hexBytes(opt.data.value)
          : `${hexBytes(opt.data.value)}/${hexBytes(opt.data.mask)}`,
      );
    }
    return `{${parts.join(",")}}`;
  });
  return options.join("") + (attr.geneveError ?? "");
}

/** ds_put_hex: a big-endian byte string as 0x-hex without leading zero bytes ("0" if all zero). */
export function hexBytes(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    if (out === "" && b === 0) continue;
    out += out === "" ? `0x${b.toString(16)}` : b.toString(16).padStart(2, "0");
  }
  return out === "" ? "0" : out;
}
