/**
 * The built-in learning switch with real frames on dummy ports: flooding,
 * learning, exact flows for known destinations, aging, and the upcall loop.
 */

import assert from "node:assert/strict";
import { LearningSwitch } from "../api/learning_switch.ts";
import { hexToBytes } from "../api/hex.ts";
import { Datapath } from "../datapath/datapath.ts";
import { udpHex } from "./api_fixtures.ts";

const MAC_A = "0000000000aa";
const MAC_B = "0000000000bb";
const BROADCAST = "ffffffffffff";

function frame(src: string, dst: string, ipSrc = 1): Uint8Array {
  return hexToBytes(udpHex(ipSrc, src, dst));
}

function newDatapath(): Datapath {
  const dp = new Datapath("dp0");
  for (let i = 1; i <= 3; i++) dp.addPort({ name: `p${i}`, type: "dummy", port_no: i });
  dp.setUpcallsEnabled(true);
  return dp;
}

function sent(dp: Datapath, port: string): number {
  const n = dp.dummyPort(port).transmitted().length;
  dp.dummyPort(port).clearTransmitted();
  return n;
}

Deno.test("learning switch: floods unknown, learns, installs exact flows, forwards", () => {
  const dp = newDatapath();
  let now = 1_000;
  const sw = new LearningSwitch({ datapath: dp, now: () => now, agingMs: 10_000 });

  dp.receive("p1", frame(MAC_A, MAC_B));
  let result = sw.handle(dp.upcalls.read(64));
  assert.deepEqual(result, { forwarded: 0, flooded: 1, ignored: 0 });
  assert.deepEqual([sent(dp, "p1"), sent(dp, "p2"), sent(dp, "p3")], [0, 1, 1]);
  assert.equal(sw.macTable().get("00:00:00:00:00:aa")?.port, 1);
  assert.equal(dp.stats().n_flows, 0, "no flow for a flooded packet");

  dp.receive("p2", frame(MAC_B, MAC_A));
  result = sw.handle(dp.upcalls.read(64));
  assert.deepEqual(result, { forwarded: 1, flooded: 0, ignored: 0 });
  assert.deepEqual([sent(dp, "p1"), sent(dp, "p2"), sent(dp, "p3")], [1, 0, 0]);
  assert.equal(dp.stats().n_flows, 1);

  dp.receive("p2", frame(MAC_B, MAC_A));
  assert.equal(dp.upcalls.read(64).length, 0, "the installed flow handles the next packet");
  assert.equal(sent(dp, "p1"), 1);
  assert.equal(dp.stats().n_hit, 1);

  dp.receive("p1", frame(MAC_A, MAC_B));
  sw.handle(dp.upcalls.read(64));
  assert.deepEqual([sent(dp, "p1"), sent(dp, "p2"), sent(dp, "p3")], [0, 1, 0]);
  assert.equal(dp.stats().n_flows, 2);

  dp.receive("p3", frame(MAC_A, BROADCAST, 5));
  result = sw.handle(dp.upcalls.read(64));
  assert.equal(result.flooded, 1, "broadcast floods");
  assert.equal(sw.macTable().get("00:00:00:00:00:aa")?.port, 3, "A moved to p3");
  assert.equal(dp.stats().n_flows, 1, "the flow towards A's old port is gone");
  assert.deepEqual([sent(dp, "p1"), sent(dp, "p2"), sent(dp, "p3")], [1, 1, 0]);

  now += 20_000;
  sw.handle([]);
  assert.equal(sw.macTable().size, 0, "aged out");
  assert.equal(dp.stats().n_flows, 0, "flows to aged MACs are deleted");
  assert.equal(dp.pool.inUse(), 0);
  dp.close();
});

Deno.test("learning switch: the loop reads upcalls until stopped", async () => {
  const dp = newDatapath();
  const sw = new LearningSwitch({ datapath: dp });
  sw.start();
  dp.receive("p1", frame(MAC_A, MAC_B));
  for (let i = 0; i < 500 && dp.dummyPort("p2").transmitted().length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.equal(dp.dummyPort("p2").transmitted().length, 1);
  assert.equal(dp.dummyPort("p3").transmitted().length, 1);
  await sw.stop();
  dp.close();
});
