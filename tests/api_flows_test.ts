/**
 * REST API through app.request: flows (create, modify, get, delete, flush,
 * dump in both formats with paging), execute and operate.
 */

import assert from "node:assert/strict";
import { call, testApp, UDP_FLOW, udpHex } from "./api_fixtures.ts";

const FLOWS = "/v1/datapaths/dp0/flows";
const PORTS = "/v1/datapaths/dp0/ports";

Deno.test("api: POST creates a flow (201), a second POST is 409, GET and DELETE by UFID", async () => {
  const t = testApp();
  let r = await call(t.app, "POST", FLOWS, { flow: UDP_FLOW, actions: "2" });
  assert.equal(r.status, 201);
  const ufid: string = r.json.ufid;
  assert.match(ufid, /^ufid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  r = await call(t.app, "POST", FLOWS, { flow: UDP_FLOW, actions: "3" });
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, "EEXIST");
  await call(t.app, "POST", `${PORTS}/p1/receive`, { packet: udpHex() });
  r = await call(t.app, "GET", `${FLOWS}/${ufid}`);
  assert.equal(r.status, 200);
  assert.equal(r.json.ufid, ufid);
  assert.equal(r.json.actions, "2");
  assert.match(r.json.flow, /in_port\(1\)/);
  assert.deepEqual(Object.keys(r.json.stats).sort(), ["bytes", "packets", "tcp_flags", "used"]);
  assert.equal(r.json.stats.packets, 1);
  assert.equal(r.json.stats.bytes, 60);
  r = await call(t.app, "DELETE", `${FLOWS}/${ufid}`);
  assert.equal(r.status, 200);
  assert.equal(r.json.stats.packets, 1, "final stats");
  assert.equal((await call(t.app, "GET", `${FLOWS}/${ufid}`)).status, 404);
  assert.equal((await call(t.app, "DELETE", `${FLOWS}/${ufid}`)).status, 404);
  assert.equal((await call(t.app, "GET", `${FLOWS}/not-a-ufid`)).status, 400);
  t.close();
});

Deno.test("api: a client UFID is kept; PUT honours create/modify/zero_stats", async () => {
  const t = testApp();
  const ufid = "ufid:00000000-0000-0000-0000-0000000000aa";
  let r = await call(t.app, "PUT", FLOWS, { flow: UDP_FLOW, actions: "2", ufid, modify: false });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.ufid, ufid);
  assert.equal(r.json.created, true);
  await call(t.app, "POST", `${PORTS}/p1/receive`, { packet: udpHex() });
  r = await call(t.app, "PUT", FLOWS, { flow: UDP_FLOW, actions: "3", ufid, create: false });
  assert.equal(r.status, 200);
  assert.equal(r.json.created, false);
  assert.equal(r.json.previous.packets, 1);
  assert.equal((await call(t.app, "GET", `${FLOWS}/${ufid}`)).json.stats.packets, 1);
  r = await call(t.app, "PUT", FLOWS, {
    flow: UDP_FLOW,
    actions: "3",
    ufid,
    create: false,
    zero_stats: true,
  });
  assert.equal(r.status, 200);
  r = await call(t.app, "GET", `${FLOWS}/${ufid}`);
  assert.equal(r.json.stats.packets, 0);
  assert.equal(r.json.actions, "3");
  r = await call(t.app, "PUT", FLOWS, {
    flow: "in_port(2),eth_type(0x0800)",
    actions: "1",
    create: false,
  });
  assert.equal(r.status, 404, "modify only, absent");
  r = await call(t.app, "PUT", FLOWS, { flow: UDP_FLOW, actions: "1", ufid, modify: false });
  assert.equal(r.status, 409, "create only, present");
  r = await call(t.app, "PUT", FLOWS, {
    flow: UDP_FLOW,
    actions: "1",
    create: false,
    modify: false,
  });
  assert.equal(r.status, 400);
  t.close();
});

Deno.test("api: bad flow bodies are 400 and nothing is installed", async () => {
  const t = testApp();
  const cases: unknown[] = [
    { flow: "in_port(1),bogus(3)", actions: "2" },
    { flow: UDP_FLOW, actions: "output(" },
    { flow: UDP_FLOW },
    { actions: "2" },
    { flow: 5, actions: "2" },
    { flow: UDP_FLOW, actions: "2", ufid: "nope" },
    { flow: UDP_FLOW, actions: "2", priority: 3 },
    { flow: UDP_FLOW, actions: "2", create: true },
  ];
  for (const body of cases) {
    const r = await call(t.app, "POST", FLOWS, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.code, "EINVAL");
  }
  const r = await call(t.app, "POST", FLOWS, { flow: "in_port(1),bogus(3)", actions: "2" });
  assert.match(r.json.error.message, /bogus/, "the parser names the token");
  assert.equal((await call(t.app, "GET", FLOWS)).json.flows.length, 0);
  t.close();
});

Deno.test("api: dump pages with limit and cursor, in JSON and ODP text; DELETE flushes", async () => {
  const t = testApp();
  for (let i = 1; i <= 25; i++) {
    const r = await call(t.app, "POST", FLOWS, {
      flow: `in_port(1),eth_type(0x0800),ipv4(src=10.0.0.${i})`,
      actions: "2",
    });
    assert.equal(r.status, 201);
  }
  const seen = new Set<string>();
  let cursor: string | null = null;
  let pages = 0;
  do {
    const q: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const r = await call(t.app, "GET", `${FLOWS}?format=json&limit=10${q}`);
    assert.equal(r.status, 200);
    assert.ok(r.json.flows.length <= 10);
    for (const f of r.json.flows) seen.add(f.ufid);
    cursor = r.json.next;
    pages++;
  } while (cursor !== null && pages < 10);
  assert.equal(seen.size, 25);
  assert.equal(pages, 3);

  let r = await call(t.app, "GET", `${FLOWS}?format=odp&limit=20`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type") ?? "", /text\/plain/);
  const lines = r.text.trim().split("\n");
  assert.equal(lines.length, 20);
  assert.match(lines[0], /^ufid:\S+, .*in_port\(1\).*, packets:0, bytes:0, used:never, actions:2$/);
  assert.ok(r.headers.get("Dpif-Next-Cursor"));

  for (const bad of ["?format=xml", "?limit=0", "?limit=abc", "?colour=red"]) {
    assert.equal((await call(t.app, "GET", FLOWS + bad)).status, 400, bad);
  }
  r = await call(t.app, "DELETE", FLOWS);
  assert.equal(r.status, 200);
  assert.equal(r.json.deleted, 25);
  assert.equal((await call(t.app, "GET", FLOWS)).json.flows.length, 0);
  t.close();
});

Deno.test("api: execute runs actions on a packet; bad packets and actions are 400", async () => {
  const t = testApp();
  let r = await call(t.app, "POST", "/v1/datapaths/dp0/execute", {
    packet: udpHex(),
    actions: "set(ipv4(ttl=9)),3",
    metadata: "in_port(1)",
  });
  assert.equal(r.status, 200, r.text);
  r = await call(t.app, "GET", `${PORTS}/p3/transmitted`);
  assert.equal(r.json.packets.length, 1);
  assert.equal(r.json.packets[0].slice(44, 46), "09", "ttl rewritten");
  for (
    const body of [
      { packet: "0g", actions: "1" },
      { packet: udpHex(), actions: "bogus" },
      { packet: udpHex(), actions: "1", metadata: "nonsense(" },
      { packet: udpHex() },
      { packet: udpHex(), actions: "1", extra: 0 },
    ]
  ) {
    r = await call(t.app, "POST", "/v1/datapaths/dp0/execute", body);
    assert.equal(r.status, 400, JSON.stringify(body));
  }
  assert.equal(t.registry.open("dp0").pool.inUse(), 0, "no buffer leaked");
  t.close();
});

Deno.test("api: operate gives a result per op; a bad op rejects the whole body", async () => {
  const t = testApp();
  let r = await call(t.app, "POST", "/v1/datapaths/dp0/operate", {
    ops: [
      { op: "put", flow: "in_port(2),eth_type(0x0800)", actions: "1" },
      { op: "put", flow: "in_port(2),eth_type(0x0800)", actions: "1" },
      { op: "execute", packet: udpHex(), actions: "1" },
      { op: "del", ufid: "ufid:00000000-0000-0000-0000-000000000001" },
    ],
  });
  assert.equal(r.status, 200, r.text);
  const results = r.json.results;
  assert.equal(results.length, 4);
  assert.equal(results[0].ok, true);
  assert.equal(results[0].result.created, true);
  assert.equal(results[1].ok, false);
  assert.equal(results[1].error.code, "EEXIST");
  assert.equal(results[2].ok, true);
  assert.equal(results[3].error.code, "ENOENT");
  const ufid = results[0].result.ufid;
  r = await call(t.app, "POST", "/v1/datapaths/dp0/operate", {
    ops: [{ op: "get", ufid }, { op: "del", ufid }],
  });
  assert.equal(r.json.results[0].result.actions, "1");
  assert.equal(r.json.results[1].result.ufid, ufid);
  r = await call(t.app, "POST", "/v1/datapaths/dp0/operate", {
    ops: [
      { op: "put", flow: "in_port(3),eth_type(0x0800)", actions: "1" },
      { op: "frobnicate" },
    ],
  });
  assert.equal(r.status, 400);
  assert.equal((await call(t.app, "GET", FLOWS)).json.flows.length, 0, "nothing half-applied");
  t.close();
});
