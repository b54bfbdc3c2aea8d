/**
 * REST API through app.request: ports, port stats, dummy receive and
 * transmitted frames.
 */

import assert from "node:assert/strict";
import { call, testApp, UDP_FLOW, udpHex } from "./api_fixtures.ts";

const PORTS = "/v1/datapaths/dp0/ports";

Deno.test("api: ports are added, shown by name or number, and deleted", async () => {
  const t = testApp();
  let r = await call(t.app, "POST", PORTS, { name: "p9", type: "dummy", port_no: 9 });
  assert.equal(r.status, 201);
  assert.deepEqual(r.json, { name: "p9", port_no: 9, type: "dummy", options: {} });
  r = await call(t.app, "POST", PORTS, { name: "p10", type: "dummy", options: { n_rxq: "2" } });
  assert.equal(r.status, 201);
  assert.equal(r.json.port_no, 4, "lowest free number");
  assert.deepEqual(r.json.options, { n_rxq: "2" });
  assert.equal((await call(t.app, "GET", `${PORTS}/9`)).json.name, "p9");
  assert.equal((await call(t.app, "GET", `${PORTS}/p9`)).json.port_no, 9);
  r = await call(t.app, "GET", PORTS);
  assert.deepEqual(r.json.ports.map((p: { port_no: number }) => p.port_no), [0, 1, 2, 3, 4, 9]);
  r = await call(t.app, "GET", `${PORTS}/p9/stats`);
  assert.equal(r.json.rx_packets, 0);
  assert.equal(r.json.tx_packets, 0);
  assert.equal((await call(t.app, "DELETE", `${PORTS}/p9`)).status, 204);
  assert.equal((await call(t.app, "GET", `${PORTS}/p9`)).status, 404);
  t.close();
});

Deno.test("api: port errors map to EEXIST/EBUSY 409, EPERM 403, ENOENT 404, EINVAL 400", async () => {
  const t = testApp();
  const expect = async (
    method: string,
    path: string,
    body: unknown,
    status: number,
    code: string,
  ) => {
    const r = await call(t.app, method, path, body);
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.code, code);
  };
  await expect("POST", PORTS, { name: "p1", type: "dummy" }, 409, "EEXIST");
  await expect("POST", PORTS, { name: "p8", type: "dummy", port_no: 1 }, 409, "EBUSY");
  await expect("DELETE", `${PORTS}/0`, undefined, 403, "EPERM");
  await expect("DELETE", `${PORTS}/dp0`, undefined, 403, "EPERM");
  await expect("DELETE", `${PORTS}/nope`, undefined, 404, "ENOENT");
  await expect("POST", "/v1/datapaths/nope/ports", { name: "x", type: "dummy" }, 404, "ENOENT");
  await expect("POST", PORTS, { name: "x", type: "dummy", port_no: -1 }, 400, "EINVAL");
  await expect("POST", PORTS, { name: "x", type: "dummy", port_no: 1.5 }, 400, "EINVAL");
  await expect("POST", PORTS, { name: "x", type: "dummy", bogus: true }, 400, "EINVAL");
  await expect("POST", PORTS, { name: "x", type: "dummy", options: { n_rxq: 2 } }, 400, "EINVAL");
  await expect("POST", PORTS, { name: "x", type: "dummy", options: { nope: "1" } }, 400, "EINVAL");
  await expect("POST", PORTS, { name: "x", type: "no-such-type" }, 400, "EOPNOTSUPP");
  await expect("POST", PORTS, { type: "dummy" }, 400, "EINVAL");
  assert.equal((await call(t.app, "GET", PORTS)).json.ports.length, 4, "nothing was added");
  t.close();
});

Deno.test("api: receive forwards through a flow; transmitted lists and clears frames", async () => {
  const t = testApp();
  let r = await call(t.app, "POST", "/v1/datapaths/dp0/flows", { flow: UDP_FLOW, actions: "2" });
  assert.equal(r.status, 201);
  for (let i = 0; i < 3; i++) {
    r = await call(t.app, "POST", `${PORTS}/p1/receive`, { packet: udpHex(i + 1) });
    assert.equal(r.status, 200);
    assert.equal(r.json.received, true);
  }
  r = await call(t.app, "GET", `${PORTS}/p2/transmitted`);
  assert.deepEqual(r.json.packets, [udpHex(1), udpHex(2), udpHex(3)], "oldest first, as sent");
  assert.equal((await call(t.app, "GET", `${PORTS}/p1/stats`)).json.rx_packets, 3);
  assert.equal((await call(t.app, "GET", `${PORTS}/2/stats`)).json.tx_packets, 3);
  assert.equal((await call(t.app, "DELETE", `${PORTS}/p2/transmitted`)).status, 204);
  assert.deepEqual((await call(t.app, "GET", `${PORTS}/p2/transmitted`)).json.packets, []);
  t.close();
});

Deno.test("api: receive rejects bad hex, unknown fields and non-dummy ports", async () => {
  const t = testApp();
  await call(t.app, "POST", PORTS, {
    name: "vx",
    type: "vxlan",
    options: { remote_ip: "flow", key: "flow" },
  });
  const cases: [string, unknown, number, string][] = [
    ["p1", { packet: "abc" }, 400, "EINVAL"],
    ["p1", { packet: "zz00" }, 400, "EINVAL"],
    ["p1", { packet: 12 }, 400, "EINVAL"],
    ["p1", { packet: "00", more: 1 }, 400, "EINVAL"],
    ["p1", {}, 400, "EINVAL"],
    ["nope", { packet: "00" }, 404, "ENOENT"],
    ["vx", { packet: udpHex() }, 400, "EOPNOTSUPP"],
  ];
  for (const [port, body, status, code] of cases) {
    const r = await call(t.app, "POST", `${PORTS}/${port}/receive`, body);
    assert.equal(r.status, status, `${port} ${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.code, code);
  }
  assert.equal((await call(t.app, "GET", `${PORTS}/p1/stats`)).json.rx_packets, 0);
  t.close();
});
