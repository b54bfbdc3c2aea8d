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
  return encoder.encode(JSON.stringify(out));
}

/**
 * The action list of wire bytes made by {@linkcode encodeActionList}.
 * Throws a SyntaxError or TypeError for bytes it did not make, and what
 * actionsFromJson throws.
 */
export function decodeActionList(bytes: Uint8Array): Action[] {
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
        const key = new Uint32Array(entry[2]);
        const mask = new Uint32Array(entry[2]);
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
