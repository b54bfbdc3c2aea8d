/**
 * The structured JSON form of datapath actions, for the REST API. Each
 * action is an object with a `type` (as in {@linkcode Action}) and plain
 * JSON fields:
 *
 * - `{"type":"output","port":2}`, `{"type":"drop"}`, `{"type":"pop_vlan"}`
 * - `{"type":"set","masked":false,"attribute":"ipv4(src=1.2.3.4)"}`: the key
 *   attribute in OVS text (what goes inside `set(...)`)
 * - `{"type":"push_vlan","tpid":33024,"vid":10,"pcp":0}`
 * - `{"type":"tnl_push","tunnelPort":4789,"outPort":100,"header":{...}}` with
 *   `header` the fields of datapath/odp/tunnel_header_text.ts plus `size`
 * - `{"type":"userspace","pid":1,"userdata":"0a0b"|null,"actions":false,"tunnelOutPort":null}`
 * - `{"type":"clone","actions":[...]}`,
 *   `{"type":"check_pkt_len","size":200,"greater":[...],"lessEqual":[...]}`
 * - `tnl_pop` `port`, `recirc` `id`, `hash` `algorithm` + `basis`, `trunc`
 *   `maxLength`, `push_mpls` `label` `tc` `ttl` `bos` `ethType`, `pop_mpls`
 *   `ethType`: the union's own field names.
 *
 * @module
 */

import type { Action } from "../action.ts";
import { OdpSyntaxError } from "../errors.ts";
import { OdpScanner } from "./scanner.ts";
import { formatSetAction, parseSetAction } from "./_set_action_text.ts";
import {
  buildTunnelHeader,
  decodeTunnelHeader,
  type TunnelHeaderFields,
} from "./tunnel_header_text.ts";

const U32_MAX = 0xffffffff;

function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Converts actions to their JSON form (plain objects, arrays, strings,
 * numbers, booleans, null). Throws RangeError for an action that cannot be
 * represented (malformed tunnel header, set mask spanning attributes).
 */
export function actionsToJson(actions: readonly Action[]): unknown[] {
  return actions.map(actionToJson);
}

function actionToJson(action: Action): unknown {
  switch (action.type) {
    case "set": {
      const text = formatSetAction(action);
      return { type: "set", masked: action.masked, attribute: text.slice(4, -1) };
    }
    case "tnl_push":
      return {
        type: "tnl_push",
        tunnelPort: action.tunnelPort,
        outPort: action.outPort,
        header: {
          size: action.header.length,
          ...decodeTunnelHeader(action.header, action.headerType),
        },
      };
    case "userspace":
      return {
        type: "userspace",
        pid: action.pid,
        userdata: action.userdata === null ? null : bytesToHex(action.userdata),
        actions: action.actions,
        tunnelOutPort: action.tunnelOutPort,
      };
    case "clone":
      return { type: "clone", actions: actionsToJson(action.actions) };
    case "check_pkt_len":
      return {
        type: "check_pkt_len",
        size: action.size,
        greater: actionsToJson(action.greater),
        lessEqual: actionsToJson(action.lessEqual),
      };
    default:
      return { ...action };
  }
}

/** Reads fields of one JSON object, failing with its JSON path. */
class JsonObject {
  readonly value: Record<string, unknown>;
  readonly path: string;

  constructor(value: unknown, path: string, allowed: readonly string[]) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new TypeError(`${path}: expected an object`);
    }
    this.value = value as Record<string, unknown>;
    this.path = path;
    for (const key of Object.keys(this.value)) {
      if (!allowed.includes(key)) throw new TypeError(`${path}.${key}: unknown field`);
    }
  }

  integer(key: string, max: number): number {
    const v = this.value[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
      throw new TypeError(`${this.path}.${key}: expected an integer in 0..${max}`);
    }
    return v;
  }

  optionalInteger(key: string, max: number): number | undefined {
    return this.value[key] === undefined ? undefined : this.integer(key, max);
  }

  boolean(key: string): boolean {
    const v = this.value[key];
    if (typeof v !== "boolean") throw new TypeError(`${this.path}.${key}: expected a boolean`);
    return v;
  }

  string(key: string): string {
    const v = this.value[key];
    if (typeof v !== "string") throw new TypeError(`${this.path}.${key}: expected a string`);
    return v;
  }

  actions(key: string): Action[] {
    return actionsFromJsonAt(this.value[key], `${this.path}.${key}`);
  }
}

/**
 * Converts the JSON form back into actions. Throws TypeError naming the JSON
 * path of the first bad value (e.g. `$[1].header.ipv4.ttl`).
 */
export function actionsFromJson(json: unknown): Action[] {
  return actionsFromJsonAt(json, "$");
}

function actionsFromJsonAt(json: unknown, path: string): Action[] {
  if (!Array.isArray(json)) throw new TypeError(`${path}: expected an array of actions`);
  return json.map((item, i) => actionFromJson(item, `${path}[${i}]`));
}

const FIELDS: Record<string, readonly string[]> = {
  output: ["port"],
  drop: [],
  set: ["masked", "attribute"],
  push_vlan: ["tpid", "vid", "pcp"],
  pop_vlan: [],
  tnl_push: ["tunnelPort", "outPort", "header"],
  tnl_pop: ["port"],
  userspace: ["pid", "userdata", "actions", "tunnelOutPort"],
  recirc: ["id"],
  hash: ["algorithm", "basis"],
  clone: ["actions"],
  trunc: ["maxLength"],
  push_mpls: ["label", "tc", "ttl", "bos", "ethType"],
  pop_mpls: ["ethType"],
  check_pkt_len: ["size", "greater", "lessEqual"],
};

function actionFromJson(item: unknown, path: string): Action {
  const type = (typeof item === "object" && item !== null)
    ? (item as { type?: unknown }).type
    : undefined;
  if (typeof type !== "string" || !Object.hasOwn(FIELDS, type)) {
    throw new TypeError(`${path}.type: expected one of ${Object.keys(FIELDS).join(", ")}`);
  }
  const o = new JsonObject(item, path, ["type", ...FIELDS[type]]);
  switch (type) {
    case "output":
      return { type, port: o.integer("port", U32_MAX) };
    case "drop":
    case "pop_vlan":
      return { type };
    case "set":
      return setFromJson(o);
    case "push_vlan":
      return {
        type,
        tpid: o.integer("tpid", 0xffff),
        vid: o.integer("vid", 0xfff),
        pcp: o.integer("pcp", 7),
      };
    case "tnl_push": {
      const { headerType, header } = headerFromJson(o.value.header, `${path}.header`);
      return {
        type,
        tunnelPort: o.integer("tunnelPort", U32_MAX),
        headerType,
        header,
        outPort: o.integer("outPort", U32_MAX),
      };
    }
    case "tnl_pop":
      return { type, port: o.integer("port", U32_MAX) };
    case "userspace":
      return userspaceFromJson(o);
    case "recirc":
      return { type, id: o.integer("id", U32_MAX) };
    case "hash": {
      const algorithm = o.string("algorithm");
      if (algorithm !== "l4" && algorithm !== "sym_l4") {
        throw new TypeError(`${path}.algorithm: expected "l4" or "sym_l4"`);
      }
      return { type, algorithm, basis: o.integer("basis", U32_MAX) };
    }
    case "clone":
      return { type, actions: o.actions("actions") };
    case "trunc":
      return { type, maxLength: o.integer("maxLength", U32_MAX) };
    case "push_mpls": {
      const ethType = o.integer("ethType", 0xffff);
      if (ethType !== 0x8847 && ethType !== 0x8848) {
        throw new TypeError(`${path}.ethType: expected 34887 (0x8847) or 34888 (0x8848)`);
      }
      return {
        type,
        label: o.integer("label", 0xfffff),
        tc: o.integer("tc", 7),
        ttl: o.integer("ttl", 0xff),
        bos: o.integer("bos", 1),
        ethType,
      };
    }
    case "pop_mpls":
      return { type, ethType: o.integer("ethType", 0xffff) };
    default:
      return {
        type: "check_pkt_len",
        size: o.integer("size", 0xffff),
        greater: o.actions("greater"),
        lessEqual: o.actions("lessEqual"),
      };
  }
}

function setFromJson(o: JsonObject): Action {
  const attribute = o.string("attribute");
  const cursor = new OdpScanner(`set(${attribute})`, 4);
  let action;
  try {
    action = parseSetAction(cursor);
    if (!cursor.atEnd()) cursor.fail("unexpected text after the attribute");
  } catch (error) {
    if (!(error instanceof OdpSyntaxError)) throw error;
    throw new TypeError(
      `${o.path}.attribute: ${
        error.message.replace(/at position \d+/, `at offset ${error.position - 4}`)
      }`,
    );
  }
  if (o.value.masked !== undefined && o.boolean("masked") !== action.masked) {
    throw new TypeError(`${o.path}.masked: does not match the attribute text (${action.masked})`);
  }
  return action;
}

function userspaceFromJson(o: JsonObject): Action {
  let userdata: Uint8Array | null = null;
  if (o.value.userdata !== null && o.value.userdata !== undefined) {
    const hex = o.string("userdata");
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
      throw new TypeError(`${o.path}.userdata: expected hex, two digits per byte`);
    }
    userdata = Uint8Array.from(
      { length: hex.length / 2 },
      (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16),
    );
  }
  const tunnelOutPort = o.value.tunnelOutPort === null
    ? null
    : o.optionalInteger("tunnelOutPort", U32_MAX) ?? null;
  return {
    type: "userspace",
    pid: o.integer("pid", U32_MAX),
    userdata,
    tunnelOutPort,
    actions: o.value.actions === undefined ? false : o.boolean("actions"),
  };
}

/** Field names of each part of a tunnel header: the largest integer, or the JSON type. */
type PartField = number | "string" | "boolean" | "options";
const HEADER_PARTS: Record<string, Record<string, PartField>> = {
  eth: { dst: "string", src: "string", dlType: 0xffff },
  ipv4: { src: "string", dst: "string", proto: 0xff, tos: 0xff, ttl: 0xff, frag: 0xffff },
  ipv6: { src: "string", dst: "string", label: 0xfffff, proto: 0xff, tclass: 0xff, hlimit: 0xff },
  udp: { src: 0xffff, dst: 0xffff, csum: 0xffff },
  vxlan: { flags: U32_MAX, vni: 0xffffff },
  geneve: { oam: "boolean", crit: "boolean", vni: 0xffffff, options: "options" },
  gre: { flags: 0xffff, proto: 0xffff, csum: 0xffff, key: U32_MAX, seq: U32_MAX },
};
const OPTIONAL_GRE = ["csum", "key", "seq"];

function headerFromJson(value: unknown, path: string): { headerType: number; header: Uint8Array } {
  const o = new JsonObject(value, path, ["size", "type", ...Object.keys(HEADER_PARTS)]);
  const fields: Record<string, unknown> = { type: o.integer("type", U32_MAX) };
  for (const [part, schema] of Object.entries(HEADER_PARTS)) {
    if (o.value[part] === undefined) continue;
    const p = new JsonObject(o.value[part], `${path}.${part}`, Object.keys(schema));
    const out: Record<string, unknown> = {};
    for (const [key, kind] of Object.entries(schema)) {
      if (part === "gre" && OPTIONAL_GRE.includes(key) && p.value[key] === undefined) continue;
      if (typeof kind === "number") out[key] = p.integer(key, kind);
      else if (kind === "string") out[key] = p.string(key);
      else if (kind === "boolean") out[key] = p.boolean(key);
      else out[key] = geneveOptionsFromJson(p.value[key], `${path}.${part}.${key}`);
    }
    fields[part] = out;
  }
  if (fields.eth === undefined) throw new TypeError(`${path}.eth: expected an object`);
  let header: Uint8Array;
  try {
    header = buildTunnelHeader(fields as unknown as TunnelHeaderFields);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new TypeError(`${path}: ${error.message}`);
  }
  const size = o.optionalInteger("size", U32_MAX);
  if (size !== undefined && size !== header.length) {
    throw new TypeError(`${path}.size: ${size} but the header is ${header.length} bytes`);
  }
  return { headerType: fields.type as number, header };
}

function geneveOptionsFromJson(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`${path}: expected an array`);
  return value.map((item, i) => {
    const o = new JsonObject(item, `${path}[${i}]`, ["class", "type", "data"]);
    return {
      class: o.integer("class", 0xffff),
      type: o.integer("type", 0xff),
      data: o.string("data"),
    };
  });
}
