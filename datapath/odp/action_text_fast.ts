/**
 * Fast paths for the two action spellings flow setup and churn send most:
 * bare output ports (`2`, `2,3`) and an exact `set(eth(src=...,dst=...))`,
 * for parsing ({@linkcode parseActionsFast}, tried first by
 * action_parse.ts parseActions) and for printing a set action
 * ({@linkcode formatEthSetFast}, tried first by action_format.ts).
 *
 * Each returns null for anything outside its narrow form, and the general
 * code then runs: the fast path accepts a subset of what the general parser
 * accepts and gives equal actions (same fields, same order), and prints
 * exactly what the general formatter prints (tests/odp_action_fast_test.ts
 * compares both on generated and mutated texts).
 *
 * Why: `tools/flow_churn.ts` puts a fresh `set(eth(src=..,dst=..)),2` list
 * with every put, and the churning thread paid for it three times: parsing
 * it in `Datapath.operate` (the general set() parser goes through BigInt
 * field tables: ~6 µs per list), formatting it for the dump (formatSetAction
 * builds the allowed mask of each settable attribute with BigInts per call:
 * ~5 µs) and parsing the dumped text back in the tool's check. Profile of
 * `deno run -A --cpu-prof tools/flow_churn.ts --seconds 10` before: 16 % of
 * the control thread in parseActions, 12 % in formatActions. Here: well
 * under 1 µs each (see the figures in tools/flow_churn.ts).
 *
 * @module
 */

import type { Action, SetAction } from "../action.ts";
import { KEY_WORDS, W_ETH_DST_HI, W_ETH_DST_LO, W_ETH_SRC_HI, W_ETH_SRC_LO } from "../flow_key.ts";

const U32_MAX = 0xffffffff;
const CH_0 = 48;
const CH_9 = 57;
const CH_COMMA = 44;
const CH_CLOSE = 41;
const CH_COLON = 58;
/** Longest decimal output port the fast path reads (U32_MAX has 10 digits). */
const MAX_PORT_DIGITS = 10;
/** Length of `xx:xx:xx:xx:xx:xx`. */
const MAC_CHARS = 17;
const SET_ETH = "set(eth(";

/** Two lower-case hex digits per byte value. */
const HEX_BYTE: readonly string[] = Array.from(
  { length: 256 },
  (_, b) => b.toString(16).padStart(2, "0"),
);

/**
 * The actions of `text` when it is a comma-separated list of bare decimal
 * output ports and exact `set(eth(src=M,dst=M))` actions (either field or
 * both, in either order, MACs as 17 characters `xx:xx:xx:xx:xx:xx`, single
 * commas, no spaces); otherwise null (the general parser decides). Never
 * throws.
 */
export function parseActionsFast(text: string): Action[] | null {
  if (typeof text !== "string") return null;
  const n = text.length;
  if (n === 0) return null;
  const actions: Action[] = [];
  let pos = 0;
  for (;;) {
    const c = text.charCodeAt(pos);
    let end: number;
    if (c >= CH_0 && c <= CH_9) end = readPort(text, pos, actions);
    else if (text.startsWith(SET_ETH, pos)) end = readSetEth(text, pos + SET_ETH.length, actions);
    else return null;
    if (end < 0) return null;
    if (end === n) return actions;
    if (text.charCodeAt(end) !== CH_COMMA || end + 1 === n) return null;
    pos = end + 1;
  }
}

/** Reads a bare decimal port at `pos` (no leading zero but "0"); the end, or -1. */
function readPort(text: string, pos: number, actions: Action[]): number {
  let end = pos;
  let value = 0;
  while (end < text.length && end - pos <= MAX_PORT_DIGITS) {
    const c = text.charCodeAt(end);
    if (c < CH_0 || c > CH_9) break;
    value = value * 10 + (c - CH_0);
    end++;
  }
  const digits = end - pos;
  // A leading 0 means octal in the general parser's `%i`; more digits than fit: its error.
  if (digits > MAX_PORT_DIGITS || (digits > 1 && text.charCodeAt(pos) === CH_0)) return -1;
  if (value > U32_MAX) return -1;
  actions.push({ type: "output", port: value });
  return end;
}

/**
 * Reads `src=M,dst=M))` (or one field, or dst first) after `set(eth(`; the
 * end, or -1.
 */
function readSetEth(text: string, pos: number, actions: Action[]): number {
  // Key and mask share one buffer: one backing store instead of two, 0.5 µs
  // instead of 1.1 to 1.4 per action on this Deno (a store each is most of a
  // typed array's cost).
  const words = new Uint32Array(2 * KEY_WORDS);
  const key = words.subarray(0, KEY_WORDS);
  const mask = words.subarray(KEY_WORDS);
  let seen = 0; // bit 0: src, bit 1: dst
  for (;;) {
    let hi: number;
    let bit: number;
    if (text.startsWith("src=", pos)) {
      hi = W_ETH_SRC_HI;
      bit = 1;
    } else if (text.startsWith("dst=", pos)) {
      hi = W_ETH_DST_HI;
      bit = 2;
    } else return -1;
    if ((seen & bit) !== 0) return -1;
    seen |= bit;
    pos += 4;
    if (!readMac(text, pos, key, hi)) return -1;
    mask[hi] = U32_MAX;
    mask[hi + 1] = 0xffff;
    pos += MAC_CHARS;
    const c = text.charCodeAt(pos);
    if (c === CH_CLOSE) break;
    if (c !== CH_COMMA) return -1;
    pos++;
  }
  if (text.charCodeAt(pos + 1) !== CH_CLOSE) return -1;
  const action: SetAction = { type: "set", masked: false, key, mask };
  actions.push(action);
  return pos + 2;
}

/** Reads `xx:xx:xx:xx:xx:xx` at `pos` into key words `hi`, `hi + 1`; false if it is not one. */
function readMac(text: string, pos: number, key: Uint32Array, hi: number): boolean {
  if (pos + MAC_CHARS > text.length) return false;
  let high = 0;
  let low = 0;
  for (let b = 0; b < 6; b++) {
    const at = pos + 3 * b;
    const h = hexValue(text.charCodeAt(at));
    const l = hexValue(text.charCodeAt(at + 1));
    if (h < 0 || l < 0) return false;
    if (b < 5 && text.charCodeAt(at + 2) !== CH_COLON) return false;
    if (b < 4) high = high * 256 + (h << 4 | l);
    else low = (low << 8) | (h << 4 | l);
  }
  key[hi] = high;
  key[hi + 1] = low;
  return true;
}

function hexValue(c: number): number {
  if (c >= CH_0 && c <= CH_9) return c - CH_0;
  const lower = c | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/**
 * The OVS text of a set action whose mask is exactly one or both of eth's
 * src and dst fields, all ones (what formatSetAction prints for it);
 * otherwise null (the general formatter decides). Never throws.
 */
export function formatEthSetFast(action: SetAction): string | null {
  const key = action.key;
  const mask = action.mask;
  if (!(key instanceof Uint32Array) || !(mask instanceof Uint32Array)) return null;
  if (key.length < KEY_WORDS || mask.length < KEY_WORDS) return null;
  for (let w = 0; w < KEY_WORDS; w++) {
    if (mask[w] !== 0 && (w < W_ETH_SRC_HI || w > W_ETH_DST_LO)) return null;
  }
  const src = fieldState(mask, W_ETH_SRC_HI);
  const dst = fieldState(mask, W_ETH_DST_HI);
  if (src < 0 || dst < 0 || src + dst === 0) return null;
  let text = "set(eth(";
  if (src === 1) text += `src=${macText(key[W_ETH_SRC_HI], key[W_ETH_SRC_LO])}`;
  if (dst === 1) {
    text += `${src === 1 ? "," : ""}dst=${macText(key[W_ETH_DST_HI], key[W_ETH_DST_LO])}`;
  }
  return text + "))";
}

/** 1 when the MAC field at `hi` is all ones in `mask`, 0 when all zero, -1 otherwise. */
function fieldState(mask: Uint32Array, hi: number): number {
  const high = mask[hi];
  const low = mask[hi + 1];
  if (high === U32_MAX && low === 0xffff) return 1;
  if (high === 0 && low === 0) return 0;
  return -1;
}

/** `xx:xx:xx:xx:xx:xx` of key words `hi` (bytes 0..3) and `lo` (bytes 4..5 in bits 0..15). */
function macText(hi: number, lo: number): string {
  return `${HEX_BYTE[hi >>> 24]}:${HEX_BYTE[(hi >>> 16) & 255]}:${HEX_BYTE[(hi >>> 8) & 255]}:` +
    `${HEX_BYTE[hi & 255]}:${HEX_BYTE[(lo >>> 8) & 255]}:${HEX_BYTE[lo & 255]}`;
}
