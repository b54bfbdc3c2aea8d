/**
 * REST API through app.request: /metrics, /openapi.json, /docs and the pcap
 * capture endpoint.
 */

import assert from "node:assert/strict";
import { call, testApp, UDP_FLOW, udpHex } from "./api_fixtures.ts";

Deno.test("api: /metrics exposes datapath, drop and port counters in Prometheus text", async () => {
  const t = testApp();
  await call(t.app, "POST", "/v1/datapaths/dp0/flows", { flow: UDP_FLOW, actions: "2" });
  await call(t.app, "POST", "/v1/datapaths/dp0/ports/p1/receive", { packet: udpHex() });
  await call(t.app, "POST", "/v1/datapaths/dp0/ports/p1/receive", { packet: "00" });
  const r = await call(t.app, "GET", "/metrics");
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type") ?? "", /text\/plain; version=0\.0\.4/);
  assert.match(r.text, /^# TYPE dpif_hit_total counter$/m);
  assert.match(r.text, /^dpif_hit_total\{datapath="dp0"\} 1$/m);
  assert.match(r.text, /^dpif_flows\{datapath="dp0"\} 1$/m);
  assert.match(r.text, /^dpif_drops_total\{datapath="dp0",reason="short_frame"\} 1$/m);
  assert.match(r.text, /^dpif_port_tx_packets_total\{datapath="dp0",port="p2",port_no="2"\} 1$/m);
  for (const line of r.text.trim().split("\n")) {
    assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+\{[^}]*\} [0-9.e+-]+)$/, line);
  }
  t.close();
});

Deno.test("api: /openapi.json is generated from the request schemas; /docs lists operations", async () => {
  const t = testApp();
  const r = await call(t.app, "GET", "/openapi.json");
  assert.equal(r.status, 200);
  assert.equal(r.json.openapi, "3.1.0");
  const post = r.json.paths["/v1/datapaths/{dp}/flows"].post;
  const schema = post.requestBody.content["application/json"].schema;
  assert.deepEqual(schema.required.sort(), ["actions", "flow"]);
  assert.equal(schema.additionalProperties, false, "unknown fields are rejected");
  const dump = r.json.paths["/v1/datapaths/{dp}/flows"].get;
  assert.ok(dump.parameters.some((p: { name: string }) => p.name === "cursor"));
  const docs = await call(t.app, "GET", "/docs");
  assert.equal(docs.status, 200);
  assert.match(docs.text, /\/v1\/datapaths\/\{dp\}\/upcalls/);
  t.close();
});

Deno.test("api: capture returns a pcap of the next frames seen on a port", async () => {
  const t = testApp();
  await call(t.app, "POST", "/v1/datapaths/dp0/flows", { flow: UDP_FLOW, actions: "2" });
  const capturing = t.app.request("/v1/datapaths/dp0/ports/p2/capture?count=2&timeout=5");
  await new Promise((resolve) => setTimeout(resolve, 5));
  await call(t.app, "POST", "/v1/datapaths/dp0/ports/p1/receive", { packet: udpHex(1) });
  await call(t.app, "POST", "/v1/datapaths/dp0/ports/p1/receive", { packet: udpHex(2) });
  const res = await capturing;
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/vnd.tcpdump.pcap");
  const pcap = new Uint8Array(await res.arrayBuffer());
  const view = new DataView(pcap.buffer);
  assert.equal(view.getUint32(0, true), 0xa1b2c3d4);
  assert.equal(view.getUint32(20, true), 1, "Ethernet");
  assert.equal(view.getUint32(24 + 8, true), 60);
  assert.equal(pcap.length, 24 + 2 * (16 + 60));
  assert.equal(pcap[24 + 16 + 29], 1, "first frame: source 10.0.0.1");
  assert.equal(pcap[24 + 2 * 16 + 60 + 29], 2, "second frame: source 10.0.0.2");

  const empty = await t.app.request("/v1/datapaths/dp0/ports/p1/capture?count=1&timeout=0.01");
  assert.equal((await empty.arrayBuffer()).byteLength, 24, "timeout: header only");
  const bad = await call(t.app, "GET", "/v1/datapaths/dp0/ports/p1/capture?count=0");
  assert.equal(bad.status, 400);
  assert.equal((await call(t.app, "GET", "/v1/datapaths/dp0/ports/zz/capture")).status, 404);
  t.close();
});
