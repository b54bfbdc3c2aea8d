/**
 * How an action list crosses the PMD flow ring (pmd_flow_ring.ts ACTIONS
 * records): UTF-8 JSON of an array with one entry per action, where the two
 * common actions have short exact forms and every other action is its REST
 * JSON form (odp/action_json.ts):
 *
 * - `["o", port]`: output (an OutputAction with no other field)
 * - `["s", masked, words, i, key_i, mask_i, ...]`: set, with the index,
 *   key word and mask word of every word where key or mask is non-zero
 *   (a SetAction with exactly its four fields)
 * - `["j", json]`: anything else, `json` as actionsToJson spells it
 *
 * Why: churn puts a fresh `set(eth(...)),output` list with nearly every put,
 * and each list crosses once per PMD. Through the REST JSON form a set
 * action is formatted as OVS text on the control thread and scanned back in
 * the PMD: about 20 to 40 µs to encode and 30 µs to decode per list on the
 * 2-vCPU EPYC (loaded); the short form takes a few µs each way.
 *
 * @module
 */

import type { Action } from "./action.ts";
import { actionsFromJson, actionsToJson } from "./odp/action_json.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The wire bytes of an action list. Throws what actionsToJson throws for an unrepresentable action. */
export function encodeActionList(actions: readonly Action[]): Uint8Array {
  return encoder.encode(encodeActionText(actions));
}

/**
 * The wire text of an action list: what {@linkcode encodeActionList}
 * encodes as UTF-8 (ASCII unless a `j` entry holds a string that is not).
 * The flow feed writes an ASCII text into the ring as it is, without the
 * bytes: a TextEncoder call and an ArrayBuffer per fresh list.
 */
export function encodeActionText(actions: readonly Action[]): string {
  const out: unknown[] = [];
  for (const action of actions) {
    if (action.type === "output" && fieldCount(action) === 2) out.push(["o", action.port]);
    else if (action.type === "set" && isPlainSet(action)) {
      const entry: (string | number)[] = ["s", action.masked ? 1 : 0, action.key.length];
      for (let w = 0; w < action.key.length; w++) {
        if (action.key[w] !== 0 || action.mask[w] !== 0) {
          entry.push(w, action.key[w], action.mask[w]);
        }
      }
      out.push(entry);
    } else out.push(["j", actionsToJson([action])[0]]);
  }
  return JSON.stringify(out);
}

/**
 * The action list of wire bytes made by {@linkcode encodeActionList}.
 * Throws a SyntaxError or TypeError for bytes it did not make, and what
 * actionsFromJson throws.
 */
export function decodeActionList(bytes: Uint8Array): Action[] {
  return decodeShortForms(bytes) ?? decodeActionListJson(bytes);
}

/**
 * {@linkcode decodeActionList} through TextDecoder and JSON.parse, the path
 * every list can take (the short forms skip it; tests compare the two).
 */
export function decodeActionListJson(bytes: Uint8Array): Action[] {
  const entries = JSON.parse(decoder.decode(bytes));
  if (!Array.isArray(entries)) throw new TypeError("action wire: not an array");
  const actions: Action[] = [];
  for (const entry of entries) {
    if (!Array.isArray(entry)) throw new TypeError("action wire: an entry is not an array");
    switch (entry[0]) {
      case "o":
        actions.push({ type: "output", port: entry[1] });
        break;
      case "s": {
        // Key and mask in one buffer: one backing store where two cost ~0.5 µs more.
        const words = new Uint32Array(2 * entry[2]);
        const key = words.subarray(0, entry[2]);
        const mask = words.subarray(entry[2]);
        for (let i = 3; i + 2 < entry.length; i += 3) {
          key[entry[i]] = entry[i + 1];
          mask[entry[i]] = entry[i + 2];
        }
        actions.push({ type: "set", masked: entry[1] === 1, key, mask });
        break;
      }
      case "j":
        actions.push(actionsFromJson([entry[1]])[0]);
        break;
      default:
        throw new TypeError(`action wire: unknown entry kind ${JSON.stringify(entry[0])}`);
    }
  }
  return actions;
}

const CH_OPEN = 0x5b; // [
const CH_CLOSE = 0x5d; // ]
const CH_COMMA = 0x2c;
const CH_QUOTE = 0x22;
const CH_0 = 0x30;
const CH_9 = 0x39;
const KIND_OUTPUT = 0x6f; // o
const KIND_SET = 0x73; // s
/** Longest set key the fast path builds (a KEY_WORDS key is 64). */
const MAX_FAST_SET_WORDS = 1024;
/** The numbers of the entry being read (reused: no allocation per entry). */
const entryNumbers: number[] = [];

/**
 * The actions of wire bytes that hold only `["o",n]` and `["s",...]`
 * entries exactly as encodeActionList writes them (no spaces, integers
 * without sign, fraction or leading zero), read byte by byte; null for
 * anything else (then the JSON path decides, and throws what it throws).
 * Gives what the JSON path gives.
 *
 * Why: each PMD decodes every fresh list once, and through TextDecoder
 * and JSON.parse a `set(eth),output` list was ~2 µs idle and ~5 µs on the
 * loaded 2-vCPU machine, half of the PMD's apply time per churned put
 * (profile of the PMD Worker under tools/flow_churn.ts, `--cpu-prof`).
 */
function decodeShortForms(bytes: Uint8Array): Action[] | null {
  const n = bytes.length;
  if (n < 2 || bytes[0] !== CH_OPEN) return null;
  const actions: Action[] = [];
  let p = 1;
  if (bytes[p] === CH_CLOSE) return n === 2 ? actions : null;
  for (;;) {
    if (
      p + 5 > n || bytes[p] !== CH_OPEN || bytes[p + 1] !== CH_QUOTE ||
      bytes[p + 3] !== CH_QUOTE || bytes[p + 4] !== CH_COMMA
    ) return null;
    const kind = bytes[p + 2];
    if (kind !== KIND_OUTPUT && kind !== KIND_SET) return null;
    p = readEntryNumbers(bytes, p + 5);
    if (p < 0) return null;
    const nums = entryNumbers;
    if (kind === KIND_OUTPUT) {
      if (nums.length !== 1) return null;
      actions.push({ type: "output", port: nums[0] });
    } else {
      const length = nums[1];
      if (nums.length < 2 || (nums.length - 2) % 3 !== 0 || length > MAX_FAST_SET_WORDS) {
        return null;
      }
      const words = new Uint32Array(2 * length); // one backing store for key and mask
      const key = words.subarray(0, length);
      const mask = words.subarray(length);
      for (let i = 2; i < nums.length; i += 3) {
        key[nums[i]] = nums[i + 1];
        mask[nums[i]] = nums[i + 2];
      }
      actions.push({ type: "set", masked: nums[0] === 1, key, mask });
    }
    // After the entry's `]`: `,` and the next entry, or the list's `]` at the end.
    if (bytes[p] === CH_COMMA) p++;
    else return bytes[p] === CH_CLOSE && p + 1 === n ? actions : null;
  }
}

/**
 * Reads `n,n,...]` at `p` into entryNumbers; the index after the `]`, or -1
 * when something else is there.
 */
function readEntryNumbers(bytes: Uint8Array, p: number): number {
  const nums = entryNumbers;
  nums.length = 0;
  for (;;) {
    const start = p;
    let value = 0;
    while (p < bytes.length && bytes[p] >= CH_0 && bytes[p] <= CH_9 && p - start < 10) {
      value = value * 10 + (bytes[p] - CH_0);
      p++;
    }
    const digits = p - start;
    if (digits === 0 || (digits > 1 && bytes[start] === CH_0)) return -1;
    nums.push(value);
    if (bytes[p] === CH_COMMA) p++;
    else if (bytes[p] === CH_CLOSE) return p + 1;
    else return -1; // a sign, fraction, exponent, 11th digit, space or the end
  }
}

/** True for a set action with exactly its four own fields (so the short form is exact). */
function isPlainSet(action: Action & { type: "set" }): boolean {
  return fieldCount(action) === 4 && action.key instanceof Uint32Array &&
    action.mask instanceof Uint32Array && action.key.length === action.mask.length &&
    typeof action.masked === "boolean";
}

function fieldCount(action: object): number {
  let n = 0;
  for (const _ in action) n++;
  return n;
}
