/**
 * REST API through app.request: upcall enable/disable, long poll, the SSE
 * upcall stream and the SSE change feed (with overflow).
 */

import assert from "node:assert/strict";
import { call, readEvents, testApp, udpHex } from "./api_fixtures.ts";

const DP = "/v1/datapaths/dp0";

Deno.test("api: upcalls are lost while disabled, queued and long-polled once enabled", async () => {
  const t = testApp();
  await call(t.app, "POST", `${DP}/ports/p1/receive`, { packet: udpHex(5) });
  let r = await call(t.app, "GET", `${DP}/upcalls?timeout=0`);
  assert.equal(r.status, 200);
  assert.equal(r.json.enabled, false);
  assert.deepEqual(r.json.upcalls, []);
  r = await call(t.app, "POST", `${DP}/upcalls/enable`);
  assert.equal(r.status, 200);
  assert.equal(r.json.enabled, true);
  await call(t.app, "POST", `${DP}/ports/p1/receive`, { packet: udpHex(7) });
  r = await call(t.app, "GET", `${DP}/upcalls?max=10&timeout=1`);
  assert.equal(r.json.upcalls.length, 1);
  const upcall = r.json.upcalls[0];
  assert.equal(upcall.type, "miss");
  assert.equal(upcall.in_port, 1);
  assert.equal(upcall.packet, udpHex(7));
  assert.equal(upcall.userdata, null);
  assert.match(upcall.key, /in_port\(1\)/);
  assert.match(upcall.key, /10\.0\.0\.7/);
  assert.equal((await call(t.app, "POST", `${DP}/upcalls/disable`)).json.enabled, false);
  for (const bad of ["?max=0", "?timeout=-1", "?timeout=61", "?x=1"]) {
    assert.equal((await call(t.app, "GET", `${DP}/upcalls${bad}`)).status, 400, bad);
  }
  assert.equal((await call(t.app, "POST", `${DP}/upcalls/enable`, { x: 1 })).status, 400);
  t.close();
});

Deno.test("api: a long poll waits for the next upcall and times out empty", async () => {
  const t = testApp();
  await call(t.app, "POST", `${DP}/upcalls/enable`);
  const empty = await call(t.app, "GET", `${DP}/upcalls?timeout=0.05`);
  assert.deepEqual(empty.json.upcalls, []);
  const pending = call(t.app, "GET", `${DP}/upcalls?timeout=10`);
  await call(t.app, "POST", `${DP}/ports/p2/receive`, { packet: udpHex(9) });
  const r = await pending;
  assert.equal(r.json.upcalls.length, 1);
  assert.equal(r.json.upcalls[0].in_port, 2);
  t.close();
});

Deno.test("api: the upcall stream sends one SSE event per upcall", async () => {
  const t = testApp();
  await call(t.app, "POST", `${DP}/upcalls/enable`);
  await call(t.app, "POST", `${DP}/ports/p1/receive`, { packet: udpHex(3) });
  const res = await t.app.request(`${DP}/upcalls/stream`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const reading = readEvents(res, 2);
  await call(t.app, "POST", `${DP}/ports/p1/receive`, { packet: udpHex(4) });
  const events = await reading;
  assert.deepEqual(events.map((e) => e.event), ["upcall", "upcall"]);
  assert.equal(JSON.parse(events[0].data).packet, udpHex(3));
  assert.equal(JSON.parse(events[1].data).packet, udpHex(4));
  t.close();
});

Deno.test("api: the change feed streams port and flow changes, then overflow", async () => {
  const t = testApp();
  const res = await t.app.request(`${DP}/events?max=3`);
  assert.equal(res.status, 200);
  const reading = readEvents(res, 3);
  await call(t.app, "POST", `${DP}/ports`, { name: "p7", type: "dummy" });
  await call(t.app, "POST", `${DP}/flows`, { flow: "in_port(7),eth_type(0x0800)", actions: "1" });
  const events = await reading;
  assert.equal(events[0].event, "ready");
  const change1 = JSON.parse(events[1].data);
  assert.deepEqual(change1, {
    kind: "port",
    action: "added",
    datapath: "dp0",
    name: "p7",
    port_no: 4,
  });
  const change2 = JSON.parse(events[2].data);
  assert.equal(change2.kind, "flow");
  assert.equal(change2.action, "added");
  assert.match(change2.ufid, /^ufid:/);

  // Five changes in one synchronous operate overflow a queue of 3.
  const res2 = await t.app.request(`${DP}/events?max=3`);
  const reading2 = readEvents(res2, 2);
  const ops = [];
  for (let i = 0; i < 5; i++) {
    ops.push({
      op: "put",
      flow: `in_port(1),eth_type(0x0800),ipv4(src=10.1.0.${i})`,
      actions: "2",
    });
  }
  assert.equal((await call(t.app, "POST", `${DP}/operate`, { ops })).status, 200);
  const events2 = await reading2;
  assert.deepEqual(events2.map((e) => e.event), ["ready", "overflow"]);
  assert.equal((await t.app.request("/v1/datapaths/nope/events")).status, 404);
  t.close();
});
