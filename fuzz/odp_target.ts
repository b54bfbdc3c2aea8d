/**
 * The ODP text fuzz target: random and mutated flow keys / masks and action
 * lists through the parsers, as text and in the JSON form. Each input must
 * either parse into something that formats and re-parses to the same thing
 * (text and JSON forms, and actions must compile), or be refused with an
 * OdpSyntaxError / DpifError carrying a message (for the JSON form also a
 * TypeError / RangeError of our own); any other exception, an error the
 * engine raised by itself (ENGINE_ERROR), or a parse slower than
 * {@linkcode SLOW_PARSE_MS}, is a failure.
 *
 * @module
 */

import { DpifError, OdpSyntaxError } from "../datapath/errors.ts";
import { compileActions } from "../datapath/execute/executor.ts";
import { formatActions } from "../datapath/odp/action_format.ts";
import { actionsFromJson, actionsToJson } from "../datapath/odp/action_json.ts";
import { parseActions } from "../datapath/odp/action_parse.ts";
import { formatFlowKey } from "../datapath/odp/key_format.ts";
import { flowKeyFromJson, flowKeyToJson } from "../datapath/odp/key_json.ts";
import { parseFlowKey } from "../datapath/odp/key_parse.ts";
import { parseFlowSpec } from "../datapath/datapath.ts";
import { anyActions } from "./actions.ts";
import { loadOdpSeeds, type OdpSeeds } from "./odp_corpus.ts";
import type { Prng } from "./prng.ts";
import { describeError, type FuzzSession, isDeliberateError } from "./target.ts";

/** A parse taking longer than this counts as a hang. */
export const SLOW_PARSE_MS = 250;

/**
 * One input: which parser, and the text (for the JSON kinds, the JSON text
 * given to flowKeyFromJson / actionsFromJson).
 */
export interface OdpCase {
  kind: "key" | "actions" | "key_json" | "actions_json";
  text: string;
}

const TOKENS = [
  "toString(1)",
  "constructor(",
  "__proto__(",
  "valueOf=1",
  "set(toString(1))",
  "(",
  ")",
  ",",
  "/",
  "=",
  "0x",
  "-1",
  "4294967296",
  "18446744073709551616",
  "1e999",
  "::",
  "0xffffffffffffffffffffffff",
  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
  "255.255.255.256",
  "clone(",
  "check_pkt_len(size=1,gt(",
  "encap(",
  "vlan(",
  "set(",
  "tunnel(",
  "geneve(",
  "{class=0xffff,type=0x80,len=4,0xa}",
  "ufid:",
  "eth_type(0x8100)",
  "\u0000",
  "\u00e9",
  "\ud800",
  "in_port(1)",
  "drop",
  "recirc(1)",
  "userspace(pid=1)",
  "trunc(0)",
  "  ",
  "\t",
];

/** One mutation of `text`. */
function mutateText(rng: Prng, text: string, pool: readonly string[]): string {
  const at = rng.int(text.length + 1);
  switch (rng.int(9)) {
    case 0: // delete a run
      return text.slice(0, at) + text.slice(at + rng.range(1, 8));
    case 1: // insert a token
      return text.slice(0, at) + rng.pick(TOKENS) + text.slice(at);
    case 2: // replace one character
      return text.slice(0, at) + String.fromCharCode(rng.range(0, 127)) + text.slice(at + 1);
    case 3: // truncate
      return text.slice(0, at);
    case 4: { // replace a number with an edge number
      const nums = [...text.matchAll(/(0x)?[0-9a-f]+/g)];
      if (nums.length === 0) return text;
      const m = rng.pick(nums);
      const edge = rng.pick([
        "0",
        "1",
        "-1",
        "65535",
        "65536",
        "4294967295",
        "4294967296",
        "0xffffffff",
        "0x100000000",
        "99999999999999999999",
        "0x",
        "08",
        String(rng.next()),
      ]);
      return text.slice(0, m.index) + edge + text.slice(m.index! + m[0].length);
    }
    case 5: // splice with another string
      return text.slice(0, at) + rng.pick(pool).slice(rng.int(40));
    case 6: // deep nesting
      return "clone(".repeat(rng.range(20, 40)) + text + ")".repeat(rng.range(18, 40));
    case 7: // duplicate a piece
      return text.slice(0, at) + text.slice(at, at + rng.range(1, 30)) + text.slice(at);
    default: // a masked value where there was none, or the reverse
      return text.replace(/=([0-9a-fx.:]+)/, rng.chance(0.5) ? "=$1/$1" : "=/");
  }
}

const JSON_NAMES = [
  "toString",
  "constructor",
  "__proto__",
  "hasOwnProperty",
  "valueOf",
  "eth",
  "ipv4",
  "tunnel",
  "encap",
  "vlan",
  "geneve",
  "type",
  "masked",
  "attribute",
  "header",
  "actions",
  "port",
  "src",
  "dst",
  "x",
];
const JSON_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e21,
  2 ** 53,
  4294967296,
  "",
  "0x",
  "1/2",
  "/",
  "zz",
  "1.2.3.4",
  "::1",
  "00:11:22:33:44:55",
  "0xffffffffffffffffff",
  [],
  {},
  [1],
  { value: 1, mask: 0 },
  { value: "1", mask: "0xff" },
];

/** One mutation of a JSON value: a field added, removed or replaced, somewhere inside. */
function mutateJson(rng: Prng, value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || rng.chance(0.08)) {
    return structuredClone(rng.pick(JSON_VALUES));
  }
  if (Array.isArray(value)) {
    if (value.length === 0 || rng.chance(0.2)) {
      return [...value, structuredClone(rng.pick(JSON_VALUES))];
    }
    const i = rng.int(value.length);
    const out = value.slice();
    out[i] = depth < 6 ? mutateJson(rng, out[i], depth + 1) : null;
    return out;
  }
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(out);
  const roll = rng.int(4);
  if (roll === 0 || keys.length === 0) {
    Object.defineProperty(out, rng.pick(JSON_NAMES), {
      value: structuredClone(rng.pick(JSON_VALUES)),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else if (roll === 1) delete out[rng.pick(keys)];
  else {
    const k = rng.pick(keys);
    out[k] = depth < 6 ? mutateJson(rng, out[k], depth + 1) : null;
  }
  return out;
}

/** A JSON case: the JSON form of a seed with 1..3 mutations. */
function generateJsonCase(rng: Prng, seeds: OdpSeeds): OdpCase {
  const key = rng.chance(0.5);
  let json: unknown;
  if (key) {
    const m = parseFlowKey(rng.pick(seeds.keys));
    json = flowKeyToJson(m.key, m.mask);
  } else json = actionsToJson(parseActions(rng.pick(seeds.actions)));
  for (let n = rng.range(1, 3); n > 0; n--) json = mutateJson(rng, json);
  return { kind: key ? "key_json" : "actions_json", text: JSON.stringify(json) ?? "null" };
}

/** A random case: a seed (or a generated action list) with 0..4 mutations, as text or JSON. */
export function generateOdpCase(rng: Prng, seeds: OdpSeeds): OdpCase {
  if (rng.chance(0.3)) return generateJsonCase(rng, seeds);
  const kind = rng.chance(0.5) ? "key" : "actions";
  const pool = kind === "key" ? seeds.keys : seeds.actions;
  let text = kind === "actions" && rng.chance(0.3) ? anyActions(rng) : rng.pick(pool);
  for (let n = rng.int(5); n > 0; n--) text = mutateText(rng, text, pool);
  return { kind, text };
}

function refusedProperly(c: OdpCase, error: unknown): string | null {
  const json = c.kind === "key_json" || c.kind === "actions_json";
  const allowed = error instanceof OdpSyntaxError || error instanceof DpifError ||
    (json && (error instanceof TypeError || error instanceof RangeError));
  if (!allowed || !isDeliberateError(error)) return `threw ${describeError(error)}`;
  return null;
}

/** Checks one text case; returns what broke, or null. */
export function checkOdpCase(c: OdpCase): string | null {
  const started = performance.now();
  let problem: string | null;
  try {
    switch (c.kind) {
      case "key":
        problem = roundTripKey(c.text);
        break;
      case "actions":
        problem = roundTripActions(c.text);
        break;
      case "key_json": {
        const m = flowKeyFromJson(JSON.parse(c.text));
        problem = roundTripKey(formatFlowKey(m.key, m.mask));
        break;
      }
      default:
        problem = roundTripActions(formatActions(actionsFromJson(JSON.parse(c.text))));
    }
  } catch (error) {
    problem = refusedProperly(c, error);
  }
  const ms = performance.now() - started;
  if (problem === null && ms > SLOW_PARSE_MS) problem = `took ${ms.toFixed(0)} ms`;
  return problem;
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function maskedKey(key: Uint32Array, mask: Uint32Array): Uint32Array {
  return key.map((w, i) => w & mask[i]);
}

function roundTripKey(text: string): string | null {
  const first = parseFlowKey(text);
  parseFlowSpec(text);
  const printed = formatFlowKey(first.key, first.mask);
  let again;
  try {
    again = parseFlowKey(printed);
  } catch (error) {
    return `formatted key does not parse back: ${printed}: ${describeError(error)}`;
  }
  if (
    !sameWords(first.mask, again.mask) ||
    !sameWords(maskedKey(first.key, first.mask), maskedKey(again.key, again.mask))
  ) {
    return `key changed through format and parse: ${printed}`;
  }
  const reprinted = formatFlowKey(again.key, again.mask);
  if (reprinted !== printed) return `format not stable: ${printed} then ${reprinted}`;
  const json = flowKeyFromJson(JSON.parse(JSON.stringify(flowKeyToJson(first.key, first.mask))));
  const fromJson = formatFlowKey(json.key, json.mask);
  if (fromJson !== printed) return `JSON form differs: ${printed} vs ${fromJson}`;
  return null;
}

function roundTripActions(text: string): string | null {
  const first = parseActions(text);
  compileActions(first);
  const printed = formatActions(first);
  let again;
  try {
    again = parseActions(printed);
  } catch (error) {
    return `formatted actions do not parse back: ${printed}: ${describeError(error)}`;
  }
  const reprinted = formatActions(again);
  if (reprinted !== printed) {
    return `actions changed through format and parse: ${printed} then ${reprinted}`;
  }
  const json = actionsFromJson(JSON.parse(JSON.stringify(actionsToJson(first))));
  const fromJson = formatActions(json);
  if (fromJson !== printed) return `JSON form differs: ${printed} vs ${fromJson}`;
  return null;
}

/** An ODP text fuzz session: 16 strings per iteration. */
export function openOdpSession(): FuzzSession {
  const seeds = loadOdpSeeds();
  return {
    iterate(rng: Prng) {
      for (let n = 0; n < 16; n++) {
        const c = generateOdpCase(rng, seeds);
        const message = checkOdpCase(c);
        if (message !== null) {
          return { inputs: n + 1, failure: { message, input: JSON.stringify(c) } };
        }
      }
      return { inputs: 16, failure: null };
    },
    close() {},
  };
}
