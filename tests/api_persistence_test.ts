/**
 * Persistence across a kill -9: the service runs as a subprocess with
 * --state, is killed with SIGKILL while flow writes are in flight, and on
 * restart every acknowledged change is back. Then a SIGTERM stops it
 * cleanly (exit code 0). Kills at random moments over many rounds, with
 * port, modify, delete and operate writes: tests/crash_recovery_test.ts.
 */

import assert from "node:assert/strict";
import { ServiceProcess } from "../tools/service_process.ts";

/** Starts the service on a state directory (tools/service_process.ts). */
function startChild(stateDir: string): Promise<ServiceProcess> {
  return ServiceProcess.start({ args: ["--state", stateDir, "--no-dpdk"] });
}

async function send(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? null : JSON.parse(text) };
}

Deno.test("persistence: everything acknowledged survives kill -9; SIGTERM stops cleanly", async () => {
  const dir = Deno.makeTempDirSync();
  let child = await startChild(dir);
  try {
    assert.equal((await send(child.base, "POST", "/v1/datapaths", { name: "br1" })).status, 201);
    assert.equal(
      (await send(child.base, "POST", "/v1/datapaths/dp0/ports", {
        name: "p3",
        type: "dummy",
        port_no: 7,
      })).status,
      201,
    );
    assert.equal((await send(child.base, "DELETE", "/v1/datapaths/dp0/ports/p2")).status, 204);
    const acked = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await send(child.base, "POST", "/v1/datapaths/dp0/flows", {
        flow: `in_port(1),eth_type(0x0800),ipv4(src=10.0.1.${i})`,
        actions: "7",
      });
      assert.equal(r.status, 201);
      acked.add(r.json.ufid);
    }
    // Writes in flight when the process is killed: only acknowledged ones must survive.
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      inFlight.push(
        send(child.base, "POST", "/v1/datapaths/dp0/flows", {
          flow: `in_port(1),eth_type(0x0800),ipv4(src=10.0.${2 + (i >> 8)}.${i & 255})`,
          actions: "7",
        }).then((r) => {
          if (r.status === 201) acked.add(r.json.ufid);
        }, () => {/* killed before answering */}),
      );
    }
    // Kill as soon as the first in-flight write is acknowledged (bounded wait).
    for (let i = 0; i < 2000 && acked.size === 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const killed = await child.kill();
    await Promise.all(inFlight);
    const ackedBeforeKill = acked.size;
    assert.equal(killed.signal, "SIGKILL");

    child = await startChild(dir);
    const dps = await send(child.base, "GET", "/v1/datapaths");
    assert.deepEqual(dps.json.datapaths.map((d: { name: string }) => d.name), ["br1", "dp0"]);
    const ports = await send(child.base, "GET", "/v1/datapaths/dp0/ports");
    assert.deepEqual(
      ports.json.ports.map((p: { name: string; port_no: number }) => [p.name, p.port_no]),
      [["dp0", 0], ["p1", 1], ["p3", 7]],
    );
    const dump = await send(child.base, "GET", "/v1/datapaths/dp0/flows?limit=1000");
    const restored = new Set(dump.json.flows.map((f: { ufid: string }) => f.ufid));
    for (const ufid of acked) assert.ok(restored.has(ufid), `acknowledged flow ${ufid} restored`);
    assert.ok(ackedBeforeKill > 20, "some in-flight writes were acknowledged");
    assert.ok(ackedBeforeKill < 220, `the kill came mid-write (${ackedBeforeKill - 20} of 200)`);
    for (const f of dump.json.flows) assert.equal(f.stats.packets, 0, "stats are not persisted");
    assert.ok(child.logged("state restored"));

    const status = await child.terminate();
    assert.equal(status.code, 0, "graceful stop");
    assert.ok(child.logged("stopped"));
  } finally {
    await child.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});
