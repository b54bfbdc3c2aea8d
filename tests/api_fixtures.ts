/**
 * Shared fixtures of the API tests: an app over a fresh registry with dp0
 * (dummy ports p1, p2, p3), JSON request helpers and hex frames.
 */

import { createApp, type DpifApp } from "../api/app.ts";
import { DatapathRegistry } from "../datapath/registry.ts";
import type { StateStore } from "../api/state_store.ts";
import type { StateWriter } from "../api/state_writer.ts";

/** A UDP/IPv4 frame 00:..:01 -> 00:..:02, 10.0.0.<src>:1234 -> 10.0.0.2:53, 60 bytes, as hex. */
export function udpHex(src = 1, srcMac = "000000000001", dstMac = "000000000002"): string {
  return dstMac + srcMac + "0800" +
    "4500002e" + "00004000" + "4011" + "0000" + "0a0000" + src.toString(16).padStart(2, "0") +
    "0a000002" + "04d2" + "0035" + "001a" + "0000" + "00".repeat(18);
}

/** A flow matching the UDP frames from port 1. */
export const UDP_FLOW = "in_port(1),eth(),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53)";

/** A test app with dp0 and ports p1..p3; `close()` frees everything. */
export function testApp(
  options: { token?: string; bodyLimit?: number; store?: StateStore | StateWriter } = {},
): { app: DpifApp; registry: DatapathRegistry; close(): void } {
  const registry = new DatapathRegistry();
  const dp = registry.create("dp0");
  for (let i = 1; i <= 3; i++) dp.addPort({ name: `p${i}`, type: "dummy", port_no: i });
  const shutdown = new AbortController();
  const app = createApp({ registry, signal: shutdown.signal, ...options });
  return {
    app,
    registry,
    close() {
      shutdown.abort();
      registry.closeAll();
    },
  };
}

/** Sends a request with an optional JSON body and returns status and parsed JSON (or text). */
export async function call(
  app: DpifApp,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  const res = await app.request(path, init);
  const text = await res.text();
  // deno-lint-ignore no-explicit-any
  let json: any = undefined;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** Reads SSE events from a response until `count` events (not comments) arrived. */
export async function readEvents(
  res: Response,
  count: number,
): Promise<{ event: string; data: string }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; data: string }[] = [];
  let buffer = "";
  for (let reads = 0; events.length < count && reads < 1000; reads++) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: ?(.*)$/m.exec(block)?.[1];
      const data = /^data: ?(.*)$/m.exec(block)?.[1];
      if (event !== undefined) events.push({ event, data: data ?? "" });
    }
  }
  await reader.cancel();
  return events;
}
