/**
 * Parsing of single values inside flow-key attributes: numbers, addresses,
 * frag names, flag sets (`syn|ack`, `+syn-ack`, `0x12/0xfff`) and Geneve
 * option lists. Every function reads at an {@linkcode OdpScanner} and throws
 * OdpSyntaxError with the offending token and position.
 *
 * @module
 */

import { TUN_OPTS_MAX } from "../flow_key.ts";
import { type FieldKind, type FieldSpec, flagTable, fragValue, fullMask } from "./key_fields.ts";
import { parseIpv4, parseIpv6, parseMac } from "./net_text.ts";
import { OdpScanner, parseUnsigned } from "./scanner.ts";

/** A parsed value and its mask. */
export interface Masked {
  value: bigint;
  mask: bigint;
}

/**
 * Reads `value[/mask]` for a field. Without a mask the field is exact (all
 * ones over its width). `frag` takes no mask (as in OVS).
 */
export function parseMaskedValue(s: OdpScanner, spec: FieldSpec): Masked {
  if (spec.kind === "tcp_flags" || spec.kind === "tun_flags") {
    return parseFlags(s, spec.kind, spec.width);
  }
  const value = parseOneValue(s, spec);
  if (spec.kind === "frag") {
    if (s.lookingAt("/")) s.fail("frag cannot be masked");
    return { value, mask: fullMask(spec.width) };
  }
  const mask = s.tryEat("/") ? parseOneValue(s, spec) : fullMask(spec.width);
  return { value, mask };
}

/** Reads one value (no mask) of a field's kind. */
export function parseOneValue(s: OdpScanner, spec: FieldSpec): bigint {
  const start = s.pos;
  switch (spec.kind) {
    case "dec":
    case "hex":
    case "hex64":
    case "hex16":
    case "tcp_flags":
    case "tun_flags":
      return s.readNumber(spec.width, describe(spec.kind));
    case "ipv4": {
      const word = s.readWord("an IPv4 address");
      const v = parseIpv4(word);
      if (v === null) s.fail(`bad IPv4 address ('${word}' is not an IPv4 address)`, start);
      return BigInt(v);
    }
    case "ipv6": {
      const word = s.readWord("an IPv6 address");
      const w = parseIpv6(word);
      if (w === null) s.fail(`bad IPv6 address ('${word}' is not an IPv6 address)`, start);
      return (BigInt(w[0]) << 96n) | (BigInt(w[1]) << 64n) | (BigInt(w[2]) << 32n) | BigInt(w[3]);
    }
    case "mac": {
      const word = s.readWord("a MAC address");
      const m = parseMac(word);
      if (m === null) s.fail(`bad MAC address ('${word}' is not a MAC address)`, start);
      return (BigInt(m.hi) << 16n) | BigInt(m.lo);
    }
    case "frag": {
      const v = fragValue(s.readWord("no, first or later"));
      if (v === null) s.fail("bad frag (expected no, first or later)", start);
      return v;
    }
  }
}

function describe(kind: FieldKind): string {
  return kind === "dec" ? "a number" : "a number (decimal or 0x hex)";
}

/**
 * Reads a flag set up to (not including) the closing ')': `name|name`
 * (exact), `0x12` or `0x12/0xfff` (numeric), `+name-name` (masked), or `0`.
 * Numeric tunnel flags use OVS's bit numbering (oam 1, df 2, csum 4, key 8).
 */
export function parseFlags(s: OdpScanner, kind: "tcp_flags" | "tun_flags", width: number): Masked {
  const table = flagTable(kind);
  const full = fullMask(width);
  if (s.peek() === "+" || s.peek() === "-") {
    let value = 0, mask = 0;
    while (s.peek() === "+" || s.peek() === "-") {
      const set = s.peek() === "+";
      s.pos++;
      const start = s.pos;
      const name = readFlagName(s);
      const entry = table.find(([n]) => n === name);
      if (!entry) s.fail(unknownFlag(kind, name), start);
      if ((mask & entry[1]) !== 0) s.fail(`flag '${name}' given twice`, start);
      mask |= entry[1];
      if (set) value |= entry[1];
    }
    return { value: BigInt(value), mask: BigInt(mask) };
  }
  let value = 0n;
  for (;;) {
    const start = s.pos;
    const word = s.readWord("a flag name or number");
    const number = parseUnsigned(word);
    if (number !== null) {
      const v = fromOvsBits(kind, number, () => s.fail("unknown flag bits", start));
      if (s.tryEat("/")) {
        const maskStart = s.pos;
        const m = fromOvsBits(
          kind,
          s.readNumber(32, "a mask"),
          () => s.fail("unknown flag bits", maskStart),
        );
        return { value: value | v, mask: m };
      }
      value |= v;
    } else {
      const entry = table.find(([n]) => n === word);
      if (!entry) s.fail(unknownFlag(kind, word), start);
      value |= BigInt(entry[1]);
    }
    if (!s.tryEat("|")) return { value, mask: full };
  }
}

function unknownFlag(kind: "tcp_flags" | "tun_flags", name: string): string {
  if (kind === "tcp_flags") return `unknown flag '${name}'`;
  return `unknown flag '${name}' (unknown tunnel flag: oam, df, csum or key)`;
}

function readFlagName(s: OdpScanner): string {
  const start = s.pos;
  while (!s.atEnd() && !"+-),".includes(s.peek())) s.pos++;
  if (s.pos === start) s.fail("expected a flag name");
  return s.text.slice(start, s.pos);
}

/** Converts a numeric flag value to our bits; tunnel flags are renumbered from OVS's. */
function fromOvsBits(kind: "tcp_flags" | "tun_flags", n: bigint, bad: () => never): bigint {
  const table = flagTable(kind);
  if (kind === "tcp_flags") {
    if (n > 0xfffn) bad();
    return n;
  }
  if (n > 0xfn) bad();
  let ours = 0;
  table.forEach(([, bit], ovsIndex) => {
    if ((n & (1n << BigInt(ovsIndex))) !== 0n) ours |= bit;
  });
  return BigInt(ours);
}

/** Raw Geneve option bytes and their byte masks, `length` bytes used. */
export interface GeneveBytes {
  key: Uint8Array;
  mask: Uint8Array;
  length: number;
}

/**
 * Reads the inside of `geneve(...)` up to (not including) the closing ')':
 * `{class=C,type=T,len=L,DATA}` options, each part optional and maskable as
 * in OVS (class/type omitted: wildcarded; len omitted: exactly 0; data mask
 * all ones unless given). Fails if the options exceed TUN_OPTS_MAX bytes.
 */
export function parseGeneve(s: OdpScanner): GeneveBytes {
  const key = new Uint8Array(TUN_OPTS_MAX), mask = new Uint8Array(TUN_OPTS_MAX);
  let length = 0;
  while (s.peek() === "{") {
    const optStart = s.pos;
    s.pos++;
    if (length + 4 > TUN_OPTS_MAX) s.fail(`Geneve options exceed ${TUN_OPTS_MAX} bytes`, optStart);
    let dataLen = 0, sawLen = false;
    mask[length + 3] = 0x1f; // len omitted: exactly 0 (OVS)
    const number = (bits: number) => {
      const value = s.readNumber(bits);
      return {
        value: Number(value),
        mask: s.tryEat("/") ? Number(s.readNumber(bits)) : Number(fullMask(bits)),
      };
    };
    for (;;) {
      if (s.tryEat("}")) break;
      const itemStart = s.pos;
      if (s.tryEat("class=")) {
        const c = number(16);
        key[length] = c.value >> 8, key[length + 1] = c.value & 0xff;
        mask[length] = c.mask >> 8, mask[length + 1] = c.mask & 0xff;
      } else if (s.tryEat("type=")) {
        const t = number(8);
        key[length + 2] = t.value, mask[length + 2] = t.mask;
      } else if (s.tryEat("len=")) {
        const l = number(8);
        if (l.value > 124 || l.value % 4 !== 0) {
          s.fail("Geneve option len must be a multiple of 4, at most 124", itemStart + 4);
        }
        if (length + 4 + l.value > TUN_OPTS_MAX) {
          s.fail(`Geneve options exceed ${TUN_OPTS_MAX} bytes`, itemStart + 4);
        }
        key[length + 3] = l.value / 4, mask[length + 3] = l.mask & 0x1f;
        dataLen = l.value, sawLen = true;
        mask.fill(0xff, length + 4, length + 4 + dataLen); // data exact unless masked
      } else if (sawLen && /[0-9]/.test(s.peek())) {
        readBytes(s, key, length + 4, dataLen);
        if (s.tryEat("/")) readBytes(s, mask, length + 4, dataLen);
      } else {
        s.fail("expected class=, type=, len= or option data");
      }
      if (!s.tryEat(",") && s.peek() !== "}") s.fail("expected ',' or '}'");
    }
    length += 4 + dataLen;
  }
  return { key, mask, length };
}

/** Reads a number (decimal up to 64 bits, or hex of any length) right-justified into `width` bytes. */
function readBytes(s: OdpScanner, into: Uint8Array, at: number, width: number): void {
  const start = s.pos;
  const word = s.readWord("option data");
  let value = parseUnsigned(word);
  if (value === null) s.fail("bad option data (expected a number)", start);
  if (!/^0[xX]/.test(word) && value > 0xffffffffffffffffn) {
    s.fail("decimal option data is limited to 64 bits", start);
  }
  for (let i = width - 1; i >= 0; i--) {
    into[at + i] = Number(value & 0xffn);
    value >>= 8n;
  }
  if (value !== 0n) s.fail(`option data does not fit in ${width} bytes`, start);
}
