/**
 * REST API through app.request: version, datapaths, stats, error bodies,
 * unknown routes and methods, body validation.
 */

import assert from "node:assert/strict";
import { call, testApp } from "./api_fixtures.ts";

Deno.test("api: GET /v1/version reports versions and the datapath type", async () => {
  const t = testApp();
  const r = await call(t.app, "GET", "/v1/version");
  assert.equal(r.status, 200);
  assert.equal(r.json.version, "0.1.0");
  assert.equal(r.json.deno, Deno.version.deno);
  assert.equal(r.json.dpdk, null);
  assert.equal(r.json.datapath_type, "dummy");
  t.close();
});

Deno.test("api: datapaths are created, listed, shown with stats and deleted", async () => {
  const t = testApp();
  let r = await call(t.app, "POST", "/v1/datapaths", { name: "br1" });
  assert.equal(r.status, 201);
  assert.equal(r.json.name, "br1");
  assert.deepEqual(r.json.ports.map((p: { name: string }) => p.name), ["br1"]);
  r = await call(t.app, "POST", "/v1/datapaths", { name: "br1" });
  assert.equal(r.status, 409);
  assert.deepEqual(Object.keys(r.json), ["error"]);
  assert.equal(r.json.error.code, "EEXIST");
  assert.equal(typeof r.json.error.message, "string");
  r = await call(t.app, "GET", "/v1/datapaths");
  assert.deepEqual(r.json.datapaths.map((d: { name: string }) => d.name), ["br1", "dp0"]);
  r = await call(t.app, "GET", "/v1/datapaths/dp0");
  assert.equal(r.status, 200);
  assert.equal(r.json.ports.length, 4);
  assert.equal(r.json.stats.n_flows, 0);
  r = await call(t.app, "GET", "/v1/datapaths/dp0/stats");
  for (const field of ["n_hit", "n_missed", "n_lost", "n_flows", "n_mask_hit", "n_masks"]) {
    assert.equal(typeof r.json[field], "number", field);
  }
  assert.equal(typeof r.json.drops, "object");
  r = await call(t.app, "DELETE", "/v1/datapaths/br1");
  assert.equal(r.status, 204);
  r = await call(t.app, "GET", "/v1/datapaths/br1");
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, "ENOENT");
  r = await call(t.app, "DELETE", "/v1/datapaths/br1");
  assert.equal(r.status, 404);
  t.close();
});

Deno.test("api: bad datapath bodies are 400 EINVAL naming the problem", async () => {
  const t = testApp();
  const cases: [unknown, RegExp][] = [
    ["{not json", /not valid JSON/],
    [{ name: "x", extra: 1 }, /extra/],
    [{ name: 7 }, /name/],
    [{}, /name/],
    [[1, 2], /expected object/i],
    [{ name: "bad name!" }, /invalid name|name/],
  ];
  for (const [body, pattern] of cases) {
    const r = await call(t.app, "POST", "/v1/datapaths", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.code, "EINVAL");
    assert.match(r.json.error.message, pattern);
  }
  assert.deepEqual(t.registry.names(), ["dp0"], "nothing was created");
  t.close();
});

Deno.test("api: unknown routes are 404 and wrong methods 405, both in the error shape", async () => {
  const t = testApp();
  let r = await call(t.app, "GET", "/v1/nothing");
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, "ENOENT");
  r = await call(t.app, "PATCH", "/v1/datapaths/dp0");
  assert.equal(r.status, 405);
  assert.equal(r.json.error.code, "EOPNOTSUPP");
  assert.match(r.json.error.message, /GET, DELETE/);
  r = await call(t.app, "POST", "/v1/version");
  assert.equal(r.status, 405);
  t.close();
});

Deno.test("api: bodies over the limit are 413", async () => {
  const t = testApp({ bodyLimit: 100 });
  const r = await call(t.app, "POST", "/v1/datapaths", { name: "x".repeat(200) });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, "E2BIG");
  t.close();
});

Deno.test("api: with a token every path but /v1/version needs it", async () => {
  const t = testApp({ token: "s3cret" });
  assert.equal((await call(t.app, "GET", "/v1/version")).status, 200);
  let r = await call(t.app, "GET", "/v1/datapaths");
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, "EACCES");
  r = await call(t.app, "GET", "/v1/datapaths", undefined, { Authorization: "Bearer wrong" });
  assert.equal(r.status, 401);
  r = await call(t.app, "GET", "/metrics", undefined, { Authorization: "Bearer s3cre" });
  assert.equal(r.status, 401);
  r = await call(t.app, "GET", "/v1/datapaths", undefined, { Authorization: "Bearer s3cret" });
  assert.equal(r.status, 200);
  t.close();
});
