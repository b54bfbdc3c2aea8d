/**
 * The API fuzz target: random and mutated requests at every endpoint of the
 * REST app (api/app.ts) through `app.request`, with wrong types, unknown
 * fields, huge numbers, deep nesting, bad hex, bad ODP text, invalid UTF-8,
 * non-JSON bodies and odd path segments. Checks:
 * - never a 5xx;
 * - every 4xx answers `{"error":{"code","message"}}` with both non-empty,
 *   and the message is not an engine error (a crash the API turned into a
 *   400: "Cannot read properties of undefined", ...);
 * - a refused request changes nothing: datapaths, ports, flows (with their
 *   stats), captures and the upcall switch are the same before and after;
 * - after any request the whole state still dumps (ports, flows as text).
 *
 * Each iteration starts from the same state (dp0 with dummy ports p1..p3
 * and two flows), so an iteration replays alone.
 *
 * @module
 */

import { createApp, type DpifApp } from "../api/app.ts";
import { Datapath } from "../datapath/datapath.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { DatapathRegistry } from "../datapath/registry.ts";
import { ACTION_PORTS, anyActions, setAction } from "./actions.ts";
import type { Prng } from "./prng.ts";
import { describeError, ENGINE_ERROR, type FuzzSession } from "./target.ts";

/** One request: method, path and body (JSON text, or bytes for invalid UTF-8). */
export interface ApiCase {
  method: string;
  path: string;
  /** Body text; absent for none. */
  body?: string;
  /** Body as hex bytes (for invalid UTF-8), instead of `body`. */
  bodyHex?: string;
}

const UDP_HEX = "000000000002000000000001080045000020000040004011000" +
  "00a0000010a00000204d2162e000c0000deadbeef";
const FLOW = "in_port(1),eth(),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=5678)";
const FLOW_UFID = "ufid:00000000-0000-0000-0000-000000000001";

/** Valid bodies of every endpoint that takes one, to mutate. */
function validRequest(rng: Prng): { method: string; path: string; body?: unknown } {
  const dp = "/v1/datapaths/dp0";
  switch (rng.int(12)) {
    case 0:
      return { method: "POST", path: "/v1/datapaths", body: { name: `dp${rng.int(5)}` } };
    case 1:
      return {
        method: "POST",
        path: `${dp}/ports`,
        body: rng.chance(0.5)
          ? { name: `q${rng.int(9)}`, type: "dummy", port_no: rng.int(12) }
          : { name: "vx", type: "vxlan", options: { remote_ip: "flow", key: "flow" } },
      };
    case 2:
      return {
        method: "POST",
        path: `${dp}/ports/p${rng.range(1, 3)}/receive`,
        body: { packet: UDP_HEX },
      };
    case 3:
      return {
        method: "POST",
        path: `${dp}/flows`,
        body: { flow: "in_port(2),eth(),eth_type(0x0806),arp()", actions: anyActions(rng) },
      };
    case 4:
      return {
        method: "PUT",
        path: `${dp}/flows`,
        body: { flow: FLOW, actions: `${setAction(rng)},2`, create: rng.chance(0.5), modify: true },
      };
    case 5:
      return {
        method: "POST",
        path: `${dp}/execute`,
        body: { packet: UDP_HEX, actions: String(rng.pick(ACTION_PORTS)), metadata: "in_port(1)" },
      };
    case 6:
      return {
        method: "POST",
        path: `${dp}/operate`,
        body: {
          ops: [
            { op: "put", flow: "in_port(3),eth(),eth_type(0x86dd),ipv6()", actions: "1" },
            { op: "get", ufid: FLOW_UFID },
            { op: "execute", packet: UDP_HEX, actions: "2" },
          ],
        },
      };
    case 7:
      return { method: "POST", path: `${dp}/upcalls/${rng.pick(["enable", "disable"])}`, body: {} };
    case 8:
      return { method: "PUT", path: `${dp}/pmd`, body: { threads: rng.int(3) } };
    case 9:
      return {
        method: rng.pick(["GET", "DELETE"]),
        path: rng.pick([
          `${dp}/flows/${FLOW_UFID}`,
          `${dp}/ports/p2`,
          `${dp}/ports/p2/transmitted`,
          `${dp}/ports/p1/stats`,
          `${dp}/stats`,
        ]),
      };
    case 10:
      return {
        method: "GET",
        path: rng.pick([
          `${dp}/flows?format=json&limit=2`,
          `${dp}/flows?cursor=abc`,
          `${dp}/upcalls?max=1&timeout=0`,
          "/v1/version",
          "/metrics",
          "/v1/datapaths",
        ]),
      };
    default:
      return {
        method: "DELETE",
        path: rng.pick([`${dp}/flows`, "/v1/datapaths/dp0", `${dp}/ports/dp0`]),
      };
  }
}

const WEIRD_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  2 ** 53 + 1,
  4294967296,
  0xfffffffe,
  "",
  "zz",
  "0",
  "a".repeat(70),
  [],
  {},
  [1, 2],
  { a: 1 },
  "in_port(1",
  "set(tcp(src=0/0)),2",
  "ufid:zz",
  "0".repeat(131073),
  "\u0000",
  "\ud800",
  "__proto__",
  "toString(1)",
  { toString: 1 },
  { constructor: { value: 1 } },
];

function randomValue(rng: Prng, depth = 0): unknown {
  if (depth < 3 && rng.chance(0.2)) {
    return rng.chance(0.5)
      ? [randomValue(rng, depth + 1), randomValue(rng, depth + 1)]
      : { [rng.pick(["flow", "actions", "x", "op", "name"])]: randomValue(rng, depth + 1) };
  }
  return structuredClone(rng.pick(WEIRD_VALUES));
}

/** Mutates a parsed JSON body in place or replaces it. */
function mutateBody(rng: Prng, body: unknown): unknown {
  if (body === null || typeof body !== "object" || rng.chance(0.1)) return randomValue(rng);
  const obj = body as Record<string, unknown>;
  const keys = Object.keys(obj);
  switch (rng.int(5)) {
    case 0:
      if (Array.isArray(obj)) {
        obj.push(randomValue(rng));
        return obj;
      }
      Object.defineProperty(obj, rng.pick(["extra", "__proto__", "constructor", "Flow", ""]), {
        value: randomValue(rng),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return obj;
    case 1:
      if (keys.length > 0) delete obj[rng.pick(keys)];
      return obj;
    case 2:
      if (keys.length > 0) {
        const k = rng.pick(keys);
        const v = obj[k];
        obj[k] = typeof v === "object" && v !== null && rng.chance(0.5)
          ? mutateBody(rng, v)
          : randomValue(rng);
      }
      return obj;
    case 3:
      if (keys.length > 0) {
        const k = rng.pick(keys);
        const v = obj[k];
        if (typeof v === "string") {
          const at = rng.int(v.length + 1);
          obj[k] = v.slice(0, at) + rng.pick(["(", ")", "zz", "0", ",", "/0", "\u00e9"]) +
            v.slice(at + 1);
        }
      }
      return obj;
    default:
      if (Array.isArray(obj.ops)) {
        obj.ops = Array.prototype.map.call(
          obj.ops as unknown[],
          (op) => (rng.chance(0.5) ? mutateBody(rng, op) : op),
        );
      } else if (keys.length > 0) obj[rng.pick(keys)] = randomValue(rng);
      return obj;
  }
}

/** A random request: valid, mutated, or with a raw body (non-JSON, deep nesting, bad UTF-8). */
export function generateApiCase(rng: Prng): ApiCase {
  const base = validRequest(rng);
  let path = base.path;
  if (rng.chance(0.1)) {
    path = path.replace(
      /dp0|p[123]|ufid:[0-9a-f-]+/,
      rng.pick(["%00", "..", "%2e%2e", "p%20", "x".repeat(80), "%E9", "-1", "99999999999"]),
    );
  }
  const method = rng.chance(0.05)
    ? rng.pick(["PATCH", "PUT", "POST", "DELETE", "GET"])
    : base.method;
  const roll = rng.int(10);
  if (roll === 0) {
    const raw = rng.pick([
      "[".repeat(20000) + "]".repeat(20000),
      '{"a":'.repeat(5000) + "1" + "}".repeat(5000),
      "{not json",
      "",
      "null",
      '"string"',
      "1e999999",
      '{"name":"dp9","name":"dp0"}',
    ]);
    return { method, path, body: raw };
  }
  if (roll === 1) {
    const bytes = new TextEncoder().encode(JSON.stringify(base.body ?? { name: "x" }));
    const out = new Uint8Array(bytes.length + 2);
    out.set(bytes);
    out[rng.int(bytes.length)] = rng.pick([0xff, 0xc0, 0x80, 0xed]);
    out[bytes.length] = 0xfe;
    return {
      method,
      path,
      bodyHex: Array.from(out, (b) => b.toString(16).padStart(2, "0")).join(""),
    };
  }
  let body = base.body;
  if (body !== undefined && roll < 8) {
    body = structuredClone(body);
    for (let n = rng.range(1, 3); n > 0; n--) body = mutateBody(rng, body);
  }
  return body === undefined ? { method, path } : { method, path, body: JSON.stringify(body) };
}

/** The app and registry an API session works on. */
interface ApiState {
  app: DpifApp;
  registry: DatapathRegistry;
  shutdown: AbortController;
}

function createState(): ApiState {
  const registry = new DatapathRegistry();
  const shutdown = new AbortController();
  const app = createApp({ registry, signal: shutdown.signal });
  return { app, registry, shutdown };
}

/** Puts the registry back to: dp0 with p1..p3 and two flows, upcalls off, nothing else. */
function normalise(state: ApiState): void {
  const { registry } = state;
  for (const name of registry.names()) if (name !== "dp0") registry.destroy(name);
  if (!registry.has("dp0")) {
    registry.create("dp0", { pool: new MemoryPool({ capacity: 256 }), maxFlows: 1024 });
  }
  const dp: Datapath = registry.open("dp0");
  for (const port of dp.listPorts()) {
    if (port.port_no > 3 || (port.port_no > 0 && port.type !== "dummy")) {
      dp.removePort(port.port_no);
    }
  }
  const names = new Set(dp.listPorts().map((p) => p.name));
  for (let i = 1; i <= 3; i++) {
    if (!names.has(`p${i}`)) {
      dp.addPort({ name: `p${i}`, type: "dummy", port_no: i, options: { capture_limit: "4" } });
    }
  }
  dp.flushFlows();
  dp.putFlow({ flow: FLOW, actions: "2", ufid: FLOW_UFID });
  dp.putFlow({ flow: "in_port(2),eth(),eth_type(0x0800),ipv4(frag=no)", actions: "1,3" });
  dp.setUpcallsEnabled(false);
  for (let i = 1; i <= 3; i++) dp.dummyPort(i).clearTransmitted();
}

/** Everything a refused request must leave alone, as comparable text. */
function snapshot(registry: DatapathRegistry): string {
  return JSON.stringify(
    registry.names().sort().map((name) => {
      const dp = registry.open(name);
      return {
        name,
        ports: dp.listPorts(),
        flows: dp.dumpFlows(null, 10000).flows,
        upcalls: dp.upcalls.enabled,
        transmitted: dp.listPorts().filter((p) => p.type === "dummy")
          .map((p) => dp.dummyPort(p.port_no).transmitted().length),
      };
    }),
  );
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Sends one case and checks it; returns what broke, or null. */
export async function checkApiCase(
  app: DpifApp,
  registry: DatapathRegistry,
  c: ApiCase,
): Promise<string | null> {
  const before = snapshot(registry);
  const init: RequestInit = { method: c.method, headers: { "content-type": "application/json" } };
  const bodyAllowed = c.method !== "GET" && c.method !== "HEAD"; // fetch forbids it
  if (bodyAllowed && c.bodyHex !== undefined) init.body = fromHex(c.bodyHex);
  else if (bodyAllowed && c.body !== undefined) init.body = c.body;
  let status: number;
  let text: string;
  try {
    const res = await app.request(c.path, init);
    status = res.status;
    text = await res.text();
  } catch (error) {
    return `app.request threw ${describeError(error)}`;
  }
  if (status >= 500) return `status ${status}: ${text.slice(0, 300)}`;
  let after: string;
  try {
    after = snapshot(registry);
  } catch (error) {
    return `after status ${status} the state can no longer be dumped: ${describeError(error)}`;
  }
  if (status < 400) return null;
  let json: { error?: { code?: unknown; message?: unknown } };
  try {
    json = JSON.parse(text);
  } catch {
    return `status ${status} with a body that is not JSON: ${text.slice(0, 200)}`;
  }
  const e = json?.error;
  if (
    typeof e?.code !== "string" || e.code === "" || typeof e.message !== "string" ||
    e.message === ""
  ) {
    return `status ${status} without {"error":{"code","message"}}: ${text.slice(0, 200)}`;
  }
  if (ENGINE_ERROR.test(e.message)) return `status ${status} hides a crash: ${e.message}`;
  if (after !== before) return `status ${status} (${e.code}) but the state changed`;
  return null;
}

/** An API fuzz session over one app; 4 requests per iteration. */
export function openApiSession(): FuzzSession {
  const state = createState();
  return {
    async iterate(rng: Prng) {
      normalise(state);
      for (let n = 0; n < 4; n++) {
        const c = generateApiCase(rng);
        const message = await checkApiCase(state.app, state.registry, c);
        if (message !== null) {
          return { inputs: n + 1, failure: { message, input: JSON.stringify(c).slice(0, 4000) } };
        }
      }
      return { inputs: 4, failure: null };
    },
    close() {
      state.shutdown.abort();
      state.registry.closeAll();
    },
  };
}
