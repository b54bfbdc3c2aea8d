/**
 * The service on the DPDK backend: EAL up, dp0 with dpdk ports p1 and p2
 * (loopback net_ring devices) polled by a PMD Worker while the main thread
 * answers HTTP; a packet-out loops through p1, a flow sends it to p2 and it
 * comes back as an upcall; stop returns every mbuf (the backend's pool
 * close throws otherwise). Skipped when DPDK is absent.
 */
import assert from "node:assert/strict";
import { selectBackend } from "../api/backend.ts";
import { createLogger } from "../api/logger.ts";
import { startService } from "../api/service.ts";
import { parseServiceArgs, type ServiceConfig } from "../api/service_config.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { testFrame } from "./port_conformance.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`PMD service tests skipped: ${availability.reason}`);

const tick = () => new Promise((resolve) => setTimeout(resolve, 2));

Deno.test("backend: --no-dpdk gives dummy ports and says why", () => {
  const plan = selectBackend({ dpdk: false, eal: [] });
  assert.equal(plan.datapathType, "dummy");
  assert.match(plan.reason, /--no-dpdk/);
  assert.ok(plan.defaultPorts.every((p) => p.type === "dummy"));
});

Deno.test({
  name: "service on DPDK: PMD forwards while HTTP answers; clean stop",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    initEal({ memoryMb: 512 }); // the test process shares one EAL; the service keeps it
    const parsed = parseServiceArgs(["--listen", "127.0.0.1:0"]) as ServiceConfig;
    const lines: string[] = [];
    const logger = createLogger({ write: (line: string) => lines.push(line) });
    const service = await startService(parsed, { logger });
    try {
      const base = `http://127.0.0.1:${service.port}`;
      const version = await (await fetch(`${base}/v1/version`)).json();
      assert.equal(version.datapath_type, "dpdk");
      assert.equal(version.dpdk, "22.11");
      assert.ok(lines.some((l) => l.includes("pmd threads started")));
      const dp = service.registry.open("dp0");
      assert.deepEqual(dp.listPorts().map((p) => [p.name, p.type]), [
        ["dp0", "internal"],
        ["p1", "dpdk"],
        ["p2", "dpdk"],
      ]);
      const flowUpdates = async () =>
        (await (await fetch(`${base}/v1/datapaths/dp0/pmd`)).json()).pmds[0].flow_updates;
      const applied = await flowUpdates();
      dp.setUpcallsEnabled(true);
      dp.putFlow({ flow: "in_port(1),eth(),eth_type(0x0800)", actions: "2" });
      // Both changes reach the PMD before the packet does (else it misses on p1).
      for (let i = 0; i < 2000 && await flowUpdates() < applied + 2; i++) await tick();
      const frame = testFrame(7, 100);
      // Packet-out to p1 (control, tx queue 0) -> loops back into p1 -> PMD: flow -> p2
      // (tx queue 1) -> loops back into p2 -> PMD: miss -> upcall on the datapath.
      dp.execute(frame, "1");
      for (let i = 0; i < 2000 && dp.upcalls.size === 0; i++) await tick();
      const [upcall] = dp.upcalls.read(1);
      assert.ok(upcall !== undefined, "no upcall came back");
      assert.equal(upcall.inPort, 2);
      assert.deepEqual(upcall.packet, frame);
      const res = await fetch(`${base}/v1/datapaths/dp0`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      await service.stop(); // throws if an mbuf is still out of the pool
    }
    assert.ok(lines.some((l) => l.includes("stopped")));
  },
});
