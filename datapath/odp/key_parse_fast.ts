/**
 * A fast path for parsing the flow keys that flow setup sends most:
 * canonical, coherent text over the common attributes, such as
 * `recirc_id(0),in_port(1),eth(src=..,dst=..),eth_type(0x0800),
 * ipv4(src=10.0.0.1/255.255.255.0,dst=..,proto=17,frag=no),udp(dst=53)`.
 *
 * Why: the general parser (key_parse.ts) handles every attribute, form
 * and error message with bigint field values and per-attribute bookkeeping,
 * and took 16 µs per flow of that shape, most of the cost of a flow put
 * through the REST API (target: 100,000 puts/s, 10 µs all in). This reads
 * the same text with plain numbers straight into the key and mask words in
 * about 1.5 µs (bench/flow_setup_bench.ts); 0.9 µs once warm, and 0.57 µs
 * with names matched in place and the match written into the caller's
 * scratch (CPU time per parse of that bench's flows, in process).
 *
 * It accepts only a strict subset and answers null for anything else, so
 * the caller falls back to the general parser, which then gives the same
 * result or the exact error:
 * - attributes recirc_id, dp_hash, skb_priority, skb_mark, in_port, eth,
 *   eth_type, ipv4, tcp, udp, sctp, icmp, each at most once, separated by
 *   a single ',' (no spaces);
 * - fields `name=value[/mask]` separated by ',', each at most once;
 *   numbers in decimal (no leading zero) or 0x hex, IPv4 dotted quads, MACs;
 * - already coherent: ipv4 needs an exact eth_type(0x0800); a transport
 *   attribute needs ipv4 with `proto=` equal to its protocol and no
 *   frag=later; recirc_id unmasked; eth_type at least 0x600.
 * For those inputs the general parser writes exactly these words (the
 * differential test in tests/odp_key_fast_test.ts checks it).
 *
 * @module
 */

import { KEY_WORDS, newKeys, W_RECIRC_ID } from "../flow_key.ts";
import type { FlowMatch } from "./key_build.ts";
import * as F from "./key_fields.ts";
import { parseMac } from "./net_text.ts";

const ATTR_RECIRC = 1;
const ATTR_ETH = 2;
const ATTR_ETH_TYPE = 4;
const ATTR_IPV4 = 8;
const ATTR_L4 = 16;
const ATTR_IN_PORT = 32;
const ATTR_DP_HASH = 64;
const ATTR_SKB_PRIORITY = 128;
const ATTR_SKB_MARK = 256;

/**
 * Attribute names, matched in place by {@linkcode readNameIn} (the index is
 * the A_ constant below). Why in place: slicing each name into a string and
 * comparing it in a string switch was a quarter of this parse (profiled with
 * bench/flow_setup_bench.ts's flows: about 11 names per flow); with the
 * scratch match, 0.9 -> 0.57 µs per parse.
 */
const ATTR_NAMES: NameSet = nameSet([
  "recirc_id",
  "in_port",
  "dp_hash",
  "skb_priority",
  "skb_mark",
  "eth_type",
  "eth",
  "ipv4",
  "tcp",
  "udp",
  "sctp",
  "icmp",
]);
const A_RECIRC_ID = 0;
const A_IN_PORT = 1;
const A_DP_HASH = 2;
const A_SKB_PRIORITY = 3;
const A_SKB_MARK = 4;
const A_ETH_TYPE = 5;
const A_ETH = 6;
const A_IPV4 = 7;
const A_TCP = 8;
const A_UDP = 9;
const A_SCTP = 10;
const A_ICMP = 11;

/** IP protocol of each transport attribute, by A_ index. */
const L4_PROTO: readonly number[] = [-1, -1, -1, -1, -1, -1, -1, -1, 6, 17, 132, 1];

/** Field names of each field list, in the list's order (for readNameIn). */
const ETH_NAMES = nameSet(F.ETH_FIELDS.map((f) => f.name));
const IPV4_NAMES = nameSet(F.IPV4_FIELDS.map((f) => f.name));
const PORT_NAMES = nameSet(F.PORT_FIELDS.map((f) => f.name));
const ICMP_NAMES = nameSet(F.ICMP_FIELDS.map((f) => f.name));

/*
 * Key and mask words come from a slab shared by SLAB_MATCHES matches, each
 * match's two halves handed out once (a parse that gives up leaves its half
 * used, never reused, so every match starts zeroed). Why: a 512-byte typed
 * array lives off the V8 heap, and allocating one per parse, plus the GC it
 * caused, was 55% of this parse (3.1 µs per flow of bench/flow_setup_bench.ts
 * shape, 1.4 µs with the slab). The cost: a match kept for long keeps its
 * slab (8 KiB) alive; callers that keep matches copy them (the flow table
 * does).
 */
const SLAB_MATCHES = 16;
let slab: Uint32Array = newKeys(0);
let slabNext = SLAB_MATCHES;

/** Scratch state of one parse: where the cursor is, what was seen. */
interface FastState {
  text: string;
  pos: number;
  key: Uint32Array;
  mask: Uint32Array;
  /** Bits of the `written` fields, per attribute (field index bits). */
  fieldsSeen: number;
}

/** The one parse state, reset by every parse (parses never nest). */
const st: FastState = { text: "", pos: 0, key: newKeys(0), mask: newKeys(0), fieldsSeen: 0 };

/**
 * Parses `text` if it is in the fast subset (see the module doc), else
 * returns null (never throws for bad text: the general parser reports it).
 *
 * With `into`, the key and mask are written into `into.key` and
 * `into.mask` (zeroed first; `KEY_WORDS` words each) and `into` is
 * returned: a caller that copies the match anyway (Datapath.putFlow, into
 * the flow table) keeps one scratch match and allocates nothing. Why: the
 * slab's `subarray` views and its 8 KiB buffers were 0.5 µs of a 5 µs put
 * (bench/flow_setup_bench.ts shape, profiled in process). On null, `into`
 * holds garbage.
 */
export function parseFlowKeyFast(text: string, into?: FlowMatch): FlowMatch | null {
  if (into !== undefined) {
    st.key = into.key;
    st.mask = into.mask;
    st.key.fill(0);
    st.mask.fill(0);
  } else {
    if (slabNext === SLAB_MATCHES) {
      slab = newKeys(2 * SLAB_MATCHES);
      slabNext = 0;
    }
    const at = slabNext++ * 2 * KEY_WORDS;
    st.key = slab.subarray(at, at + KEY_WORDS);
    st.mask = slab.subarray(at + KEY_WORDS, at + 2 * KEY_WORDS);
  }
  st.text = text;
  st.pos = 0;
  st.fieldsSeen = 0;
  let attrs = 0;
  let ethType = -1;
  let l4Proto = -1;
  let protoGiven = -1;
  let fragLater = false;
  while (st.pos < text.length) {
    if (attrs !== 0 && !eat(st, 44)) return null; // ','
    const attr = readNameIn(st, ATTR_NAMES, 40); // '('
    if (attr < 0) return null;
    let bit: number;
    switch (attr) {
      case A_RECIRC_ID:
        bit = ATTR_RECIRC;
        if (!single(st, F.RECIRC_ID) || st.mask[W_RECIRC_ID] !== 0xffffffff) return null;
        break;
      case A_IN_PORT:
        bit = ATTR_IN_PORT;
        if (!single(st, F.IN_PORT)) return null;
        break;
      case A_DP_HASH:
        bit = ATTR_DP_HASH;
        if (!single(st, F.DP_HASH)) return null;
        break;
      case A_SKB_PRIORITY:
        bit = ATTR_SKB_PRIORITY;
        if (!single(st, F.SKB_PRIORITY)) return null;
        break;
      case A_SKB_MARK:
        bit = ATTR_SKB_MARK;
        if (!single(st, F.SKB_MARK)) return null;
        break;
      case A_ETH_TYPE: {
        bit = ATTR_ETH_TYPE;
        const v = readNumber(st, 16);
        if (v < 0x600) return null; // also -1: not a plain number
        ethType = v;
        break;
      }
      case A_ETH:
        bit = ATTR_ETH;
        if (!fields(st, F.ETH_FIELDS, ETH_NAMES)) return null;
        break;
      case A_IPV4:
        bit = ATTR_IPV4;
        if (!fields(st, F.IPV4_FIELDS, IPV4_NAMES)) return null;
        if ((st.fieldsSeen & (1 << 2)) !== 0) protoGiven = st.key[F.NW_PROTO.segments[0][0]] >>> 24;
        if ((st.fieldsSeen & (1 << 5)) !== 0) {
          fragLater = (st.key[F.NW_FRAG.segments[0][0]] & 3) === 3;
        }
        break;
      case A_TCP:
      case A_UDP:
      case A_SCTP:
        bit = ATTR_L4;
        l4Proto = L4_PROTO[attr];
        if (!fields(st, F.PORT_FIELDS, PORT_NAMES)) return null;
        break;
      case A_ICMP:
        bit = ATTR_L4;
        l4Proto = L4_PROTO[attr];
        if (!fields(st, F.ICMP_FIELDS, ICMP_NAMES)) return null;
        break;
      default:
        return null;
    }
    if ((attrs & bit) !== 0 || !eat(st, 41)) return null; // duplicate, or no ')'
    attrs |= bit;
  }
  // Coherence, as key_build.ts checks it; anything it would fix or refuse goes the slow way.
  if ((attrs & ATTR_IPV4) !== 0 && ethType !== 0x0800) return null;
  if ((attrs & ATTR_L4) !== 0) {
    if ((attrs & ATTR_IPV4) === 0 || protoGiven !== l4Proto || fragLater) return null;
  }
  if (ethType >= 0) {
    writeBits(st.key, F.ETH_TYPE, ethType);
    writeBits(st.mask, F.ETH_TYPE, 0xffff);
  }
  if ((attrs & ATTR_RECIRC) === 0) st.mask[W_RECIRC_ID] = 0xffffffff;
  return into ?? { key: st.key, mask: st.mask };
}

function eat(st: FastState, code: number): boolean {
  if (st.text.charCodeAt(st.pos) !== code) return false;
  st.pos++;
  return true;
}

/**
 * Reads one of `names` followed by `terminator` (a character code: '(' or
 * '='), consuming both, and returns its index in the set; -1 (position
 * unspecified) when the text there is no name of the set so followed.
 * Compares in place: only the names starting with the character at the
 * cursor are tried (NameSet), longest first, so no substring is made.
 */
function readNameIn(st: FastState, names: NameSet, terminator: number): number {
  const text = st.text;
  const pos = st.pos;
  const first = text.charCodeAt(pos);
  if (!(first < 128)) return -1; // also NaN: the end of the text
  const order = names.order;
  const last = names.starts[first + 1];
  for (let j = names.starts[first]; j < last; j++) {
    const i = order[j];
    const name = names.names[i];
    const length = name.length;
    let k = 1;
    while (k < length && name.charCodeAt(k) === text.charCodeAt(pos + k)) k++;
    if (k === length && text.charCodeAt(pos + length) === terminator) {
      st.pos = pos + length + 1;
      return i;
    }
  }
  return -1;
}

/**
 * Names by first character: the indices of the names starting with
 * character code `c` are `order[starts[c] .. starts[c + 1]]`, longest first.
 */
interface NameSet {
  names: readonly string[];
  starts: Int32Array;
  order: Int32Array;
}

/** The NameSet of `names` (lowercase ASCII). */
function nameSet(names: readonly string[]): NameSet {
  const indices = names.map((_, i) => i).sort((a, b) =>
    names[a].charCodeAt(0) - names[b].charCodeAt(0) || names[b].length - names[a].length
  );
  const starts = new Int32Array(129);
  for (const name of names) starts[name.charCodeAt(0) + 1]++;
  for (let c = 1; c <= 128; c++) starts[c] += starts[c - 1];
  return { names, starts, order: Int32Array.from(indices) };
}

/** True when the text from `at` to `end` is exactly `word`. */
function wordIs(text: string, at: number, end: number, word: string): boolean {
  if (end - at !== word.length) return false;
  for (let k = 0; k < word.length; k++) {
    if (text.charCodeAt(at + k) !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** End of the word at the cursor: the next of `,()/=` or the end. */
function wordEnd(st: FastState): number {
  const text = st.text;
  let end = st.pos;
  for (;;) {
    const c = text.charCodeAt(end);
    if (c !== c || c === 44 || c === 40 || c === 41 || c === 47 || c === 61) return end; // NaN at the end
    end++;
  }
}

/**
 * Reads an unsigned number of at most `bits` (<= 32) bits, decimal without a
 * leading zero or 0x hex (as scanner.ts parseUnsigned); -1 when it is not.
 */
function readNumber(st: FastState, bits: number): number {
  const text = st.text;
  const end = wordEnd(st);
  let i = st.pos;
  if (end === i) return -1;
  let value = 0;
  if (end - i > 2 && text.charCodeAt(i) === 48 && (text.charCodeAt(i + 1) | 32) === 120) {
    i += 2;
    if (end - i > 8) return -1;
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      const d = c >= 48 && c <= 57
        ? c - 48
        : (c | 32) >= 97 && (c | 32) <= 102
        ? (c | 32) - 87
        : -1;
      if (d < 0) return -1;
      value = value * 16 + d;
    }
  } else {
    if (end - i > 10 || (end - i > 1 && text.charCodeAt(i) === 48)) return -1;
    for (; i < end; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return -1;
      value = value * 10 + d;
    }
  }
  if (value >= 2 ** bits) return -1;
  st.pos = end;
  return value;
}

/** Reads one value of a field's kind as a number (MACs: see readMac); -1 when not in the subset. */
function readValue(st: FastState, spec: F.FieldSpec): number {
  switch (spec.kind) {
    case "dec":
    case "hex":
    case "hex16":
      return readNumber(st, spec.width);
    case "ipv4":
      return readIpv4(st);
    case "frag": {
      const end = wordEnd(st);
      const at = st.pos;
      st.pos = end;
      const text = st.text;
      return wordIs(text, at, end, "no")
        ? 0
        : wordIs(text, at, end, "first")
        ? 1
        : wordIs(text, at, end, "later")
        ? 3
        : -1;
    }
    default:
      return -1;
  }
}

/**
 * Reads a dotted quad (1 to 3 decimal digits per octet, at most 255, as
 * net_text.ts parseIpv4) ending the word; -1 when it is not one.
 */
function readIpv4(st: FastState): number {
  const text = st.text;
  let i = st.pos;
  let value = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0 && text.charCodeAt(i++) !== 46) return -1; // '.'
    let octet = 0;
    let digits = 0;
    for (;;) {
      const d = text.charCodeAt(i) - 48;
      if (!(d >= 0 && d <= 9)) break;
      octet = octet * 10 + d;
      i++;
      if (++digits > 3) return -1;
    }
    if (digits === 0 || octet > 255) return -1;
    value = value * 256 + octet;
  }
  const c = text.charCodeAt(i);
  if (!(c !== c || c === 44 || c === 40 || c === 41 || c === 47 || c === 61)) return -1;
  st.pos = i;
  return value;
}

/** Writes a number into a one-segment field of at most 32 bits. */
function writeBits(words: Uint32Array, spec: F.FieldSpec, value: number): void {
  const segment = spec.segments[0];
  const word = segment[0];
  const shift = segment[1];
  const bits = segment[2];
  const m = bits === 32 ? 0xffffffff : ((1 << bits) - 1) << shift;
  words[word] = ((words[word] & ~m) | ((value << shift) & m)) >>> 0;
}

/** `value[/mask]` of a one-segment field into key and mask; false when not in the subset. */
function single(st: FastState, spec: F.FieldSpec): boolean {
  const value = readValue(st, spec);
  if (value < 0) return false;
  let mask = spec.width === 32 ? 0xffffffff : (1 << spec.width) - 1;
  if (st.text.charCodeAt(st.pos) === 47) {
    if (spec.kind === "frag") return false;
    st.pos++;
    mask = readValue(st, spec);
    if (mask < 0) return false;
  }
  writeBits(st.key, spec, value);
  writeBits(st.mask, spec, mask);
  return true;
}

/** A MAC `value[/mask]` into its two words; false when not in the subset. */
function mac(st: FastState, spec: F.FieldSpec): boolean {
  let end = wordEnd(st);
  const value = parseMac(st.text.slice(st.pos, end));
  if (value === null) return false;
  st.pos = end;
  let mask = { hi: 0xffffffff, lo: 0xffff };
  if (st.text.charCodeAt(st.pos) === 47) {
    st.pos++;
    end = wordEnd(st);
    const m = parseMac(st.text.slice(st.pos, end));
    if (m === null) return false;
    st.pos = end;
    mask = m;
  }
  const [hi, lo] = spec.segments;
  st.key[hi[0]] = value.hi;
  st.key[lo[0]] = (st.key[lo[0]] & ~0xffff) | value.lo;
  st.mask[hi[0]] = mask.hi;
  st.mask[lo[0]] = (st.mask[lo[0]] & ~0xffff) | mask.lo;
  return true;
}

/**
 * `name=value[/mask],...` up to (not including) ')'; records seen fields in
 * `fieldsSeen`. `names` are the specs' names, in order.
 */
function fields(st: FastState, specs: readonly F.FieldSpec[], names: NameSet): boolean {
  st.fieldsSeen = 0;
  const text = st.text;
  while (text.charCodeAt(st.pos) !== 41) {
    if (st.fieldsSeen !== 0 && !eat(st, 44)) return false;
    const index = readNameIn(st, names, 61); // '='
    if (index < 0) return false;
    if ((st.fieldsSeen & (1 << index)) !== 0) return false;
    st.fieldsSeen |= 1 << index;
    const spec = specs[index];
    const ok = spec.kind === "mac" ? mac(st, spec) : spec.segments.length === 1 && single(st, spec);
    if (!ok) return false;
  }
  return true;
}
