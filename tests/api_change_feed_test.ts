/**
 * The change feed sees every port and flow change of a datapath, whoever
 * makes it: the API (once each, no duplicates), direct calls on the
 * datapath, flushes, and the learning switch (over SSE).
 */

import assert from "node:assert/strict";
import { hexToBytes } from "../api/hex.ts";
import { LearningSwitch } from "../api/learning_switch.ts";
import { ChangeFeed } from "../api/change_feed.ts";
import { Datapath } from "../datapath/datapath.ts";
import { call, readEvents, testApp, UDP_FLOW, udpHex } from "./api_fixtures.ts";

const DP = "/v1/datapaths/dp0";

Deno.test("change feed: API changes once each, direct datapath changes too", async () => {
  const t = testApp();
  const feed = t.app.context.control.feed;
  const sub = feed.subscribe();
  const dp = t.registry.open("dp0");

  const created = await call(t.app, "POST", `${DP}/flows`, { flow: UDP_FLOW, actions: "2" });
  assert.equal(created.status, 201);
  const ufid = created.json.ufid as string;
  const put = await call(t.app, "PUT", `${DP}/flows`, { flow: UDP_FLOW, actions: "3" });
  assert.equal(put.status, 200);
  const direct = dp.putFlow({ flow: "in_port(2),eth(),eth_type(0x0806)", actions: "1" });
  dp.deleteFlow(direct.ufid.toUpperCase().replace("UFID:", ""));
  dp.addPort({ name: "p9", type: "dummy", port_no: 9 });
  dp.removePort("p9");
  dp.setUpcallsEnabled(true); // not a flow change: no event
  assert.equal(dp.flushFlows(), 1);
  await call(t.app, "POST", `${DP}/ports`, { name: "p5", type: "dummy", port_no: 5 });
  await call(t.app, "DELETE", `${DP}/ports/p5`);

  assert.deepEqual(await sub.next(), [
    { kind: "flow", action: "added", datapath: "dp0", ufid },
    { kind: "flow", action: "modified", datapath: "dp0", ufid },
    { kind: "flow", action: "added", datapath: "dp0", ufid: direct.ufid },
    { kind: "flow", action: "deleted", datapath: "dp0", ufid: direct.ufid },
    { kind: "port", action: "added", datapath: "dp0", name: "p9", port_no: 9 },
    { kind: "port", action: "deleted", datapath: "dp0", name: "p9", port_no: 9 },
    { kind: "flow", action: "flushed", datapath: "dp0" },
    { kind: "port", action: "added", datapath: "dp0", name: "p5", port_no: 5 },
    { kind: "port", action: "deleted", datapath: "dp0", name: "p5", port_no: 5 },
  ]);

  // operate: one event per successful op; a datapath made by the API is watched too.
  const ops = [
    { op: "put", flow: UDP_FLOW, actions: "2" },
    { op: "del", ufid },
    { op: "del", ufid }, // ENOENT: no event
  ];
  await call(t.app, "POST", `${DP}/operate`, { ops });
  await call(t.app, "POST", "/v1/datapaths", { name: "dp1" });
  t.registry.open("dp1").putFlow({ flow: UDP_FLOW, actions: "drop" });
  await call(t.app, "DELETE", "/v1/datapaths/dp1");
  assert.deepEqual(await sub.next(), [
    { kind: "flow", action: "added", datapath: "dp0", ufid },
    { kind: "flow", action: "deleted", datapath: "dp0", ufid },
    { kind: "datapath", action: "added", datapath: "dp1" },
    { kind: "flow", action: "added", datapath: "dp1", ufid },
    { kind: "datapath", action: "deleted", datapath: "dp1" },
  ]);
  sub.close();
  t.close();
});

Deno.test("change feed: flows the learning switch installs and ages out stream as SSE", async () => {
  const t = testApp();
  const dp = t.registry.open("dp0");
  let now = 1_000;
  const sw = new LearningSwitch({ datapath: dp, now: () => now, agingMs: 5_000 });
  dp.setUpcallsEnabled(true);
  const res = await t.app.request(`${DP}/events`);
  assert.equal(res.status, 200);
  const reading = readEvents(res, 3);

  dp.receive("p1", hexToBytes(udpHex(1, "0000000000aa", "0000000000bb"))); // flooded, learned
  dp.receive("p2", hexToBytes(udpHex(2, "0000000000bb", "0000000000aa"))); // flow to p1
  assert.deepEqual(sw.handle(dp.upcalls.read(64)), { forwarded: 1, flooded: 1, ignored: 0 });
  const [flow] = dp.dumpFlows(null, 10).flows;
  assert.equal(flow.actions, "1");
  now += 10_000;
  sw.handle([]); // both MACs age out: the flow to A is deleted

  const events = await reading;
  assert.deepEqual(events.map((e) => e.event), ["ready", "change", "change"]);
  assert.deepEqual(JSON.parse(events[1].data), {
    kind: "flow",
    action: "added",
    datapath: "dp0",
    ufid: flow.ufid,
  });
  assert.deepEqual(JSON.parse(events[2].data), {
    kind: "flow",
    action: "deleted",
    datapath: "dp0",
    ufid: flow.ufid,
  });
  assert.equal(dp.pool.inUse(), 0);
  t.close();
});

Deno.test("change feed: watch is idempotent and stops cleanly", async () => {
  const feed = new ChangeFeed();
  const dp = new Datapath("w0");
  const stop = feed.watch(dp);
  assert.equal(feed.watch(dp), stop, "a second watch returns the same stop function");
  const sub = feed.subscribe();
  dp.addPort({ name: "x1", type: "dummy", port_no: 1 });
  assert.deepEqual(await sub.next(), [
    { kind: "port", action: "added", datapath: "w0", name: "x1", port_no: 1 },
  ]);
  stop();
  dp.removePort("x1");
  dp.putFlow({ flow: UDP_FLOW, actions: "drop" });
  const timeout = AbortSignal.timeout(20);
  assert.deepEqual(await sub.next(timeout), [], "nothing after stop");
  feed.watch(dp);
  feed.closeAll();
  dp.flushFlows();
  dp.close();
});
