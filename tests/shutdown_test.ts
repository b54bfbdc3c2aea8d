/**
 * Shutdown under load: the real service on DPDK forwards at full rate (a
 * burst of frames circling between the loopback net_ring ports p1 and p2,
 * polled by the PMD Worker), then gets SIGTERM. It must exit 0 within a
 * bound, log "stopped" (clean) and "packet pool at stop" with no mbuf out,
 * and leave no EAL runtime directory (/var/run/dpdk/dpif-<pid>; ffi/eal.ts
 * removes it right after init, and again at cleanup).
 */

import assert from "node:assert/strict";
import { dpdkAvailability } from "../ffi/loader.ts";
import { ServiceProcess } from "../tools/service_process.ts";
import { udpHex } from "./api_fixtures.ts";

/** The longest a loaded service may take from SIGTERM to exit. */
const STOP_BOUND_MS = 10_000;
/** Frames injected into the p1 <-> p2 loop. */
const FRAMES = 512;

async function json(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text === "" ? null : JSON.parse(text);
}

async function rxPackets(base: string): Promise<number> {
  const p1 = await json(base, "GET", "/v1/datapaths/dp0/ports/p1/stats");
  const p2 = await json(base, "GET", "/v1/datapaths/dp0/ports/p2/stats");
  return p1.rx_packets + p2.rx_packets;
}

Deno.test({
  name: "shutdown: SIGTERM while forwarding at full rate exits 0, every mbuf back, EAL dir gone",
  ignore: !dpdkAvailability().available,
  async fn() {
    const svc = await ServiceProcess.start({ args: [] });
    let status: Deno.CommandStatus | undefined;
    try {
      const version = await json(svc.base, "GET", "/v1/version");
      assert.equal(version.datapath_type, "dpdk");
      await json(svc.base, "POST", "/v1/datapaths/dp0/flows", {
        flow: "in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)",
        actions: "2",
      });
      await json(svc.base, "POST", "/v1/datapaths/dp0/flows", {
        flow: "in_port(2),eth(),eth_type(0x0800),ipv4(frag=no)",
        actions: "1",
      });
      // Frames sent out of p1 come back in on p1 (ring loopback) and circle for ever.
      const ops = Array.from({ length: 64 }, (_, i) => ({
        op: "execute",
        packet: udpHex(1 + (i % 200)),
        actions: "1",
      }));
      for (let i = 0; i < FRAMES / ops.length; i++) {
        await json(svc.base, "POST", "/v1/datapaths/dp0/operate", { ops });
      }
      const before = await rxPackets(svc.base);
      const t0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const after = await rxPackets(svc.base);
      const mpps = (after - before) / ((performance.now() - t0) * 1000);
      console.log(`forwarding before SIGTERM: ${mpps.toFixed(2)} Mpps (p1+p2 rx)`);
      assert.ok(after - before > 10_000, `the loop forwards (${after - before} frames in 1 s)`);

      const stopStarted = performance.now();
      status = await Promise.race([
        svc.terminate(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("no exit within bound")), STOP_BOUND_MS)
        ),
      ]);
      const stopMs = performance.now() - stopStarted;
      console.log(`SIGTERM to exit: ${stopMs.toFixed(0)} ms`);
      assert.equal(status.code, 0, "exit code 0");
      assert.equal(svc.record("stopped")?.clean, true, "stopped cleanly");
      const pool = svc.record("packet pool at stop");
      assert.ok(pool !== undefined, "pool logged at stop");
      assert.equal(pool.in_use, 0, "every mbuf back in the pool");
      assert.ok(!svc.log.some((r) => r.level === "error"), "no error logged");
      assert.ok(!svc.ealRunDirExists(), "EAL runtime directory removed");
    } finally {
      if (status === undefined) {
        await svc.kill();
        svc.removeEalRunDir();
      }
    }
  },
});
if (!dpdkAvailability().available) {
  console.log(`shutdown under load skipped: ${dpdkAvailability().reason}`);
}
