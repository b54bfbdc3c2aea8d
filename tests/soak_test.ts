/**
 * The short soak (about 8 s) of tools/soak.ts on real DPDK: a PMD Worker
 * forwarding a net_pcap replay at full rate with outputs, drops, upcalls
 * (enabled and drained), VXLAN push and pop, a port whose tx queue is always
 * full, and a port removed and re-added under traffic. Afterwards every mbuf
 * is back in its pool. The RSS slope check needs the long run (`deno run -A
 * tools/soak.ts`); here RSS growth is only bounded loosely.
 * Skipped (with the reason) only when DPDK is absent.
 */
import assert from "node:assert/strict";
import { dpdkAvailability } from "../ffi/loader.ts";
import { runSoak, slopePerMinute } from "../tools/soak.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`soak test skipped: ${availability.reason}`);

Deno.test("slopePerMinute fits a line through (seconds, MiB) points", () => {
  assert.equal(slopePerMinute([]), 0);
  assert.equal(slopePerMinute([[0, 5]]), 0);
  assert.equal(slopePerMinute([[0, 100], [60, 101], [120, 102]]), 1);
  assert.equal(slopePerMinute([[0, 100], [30, 100], [60, 100]]), 0);
});

Deno.test({
  name: "short soak: every fate at full rate, port flaps, no mbuf leaked",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const samples: number[] = [];
    const result = await runSoak({
      seconds: 8,
      sampleSeconds: 1,
      flapSeconds: 2,
      onSample: (s) => samples.push(s.mbufs_in_use),
    });
    assert.ok(result !== null);
    console.log(JSON.stringify(result));
    assert.equal(result.mbufs_leaked, 0, "every mbuf back in the pool");
    assert.ok(result.rx_packets > 1_000_000, `forwarded ${result.rx_packets} packets`);
    assert.ok(result.out_tx_packets > 0, "outputs reached port 2");
    assert.ok(result.tunnel_push_packets > 0, "VXLAN push flows forwarded");
    assert.ok(result.tunnel_pop_packets > 0, "the VXLAN pop flow forwarded");
    assert.ok(result.drops.flow_action > 0, "drop flows counted");
    assert.ok(result.drops.invalid_port > 0, "output to the removed port counted");
    assert.ok(result.full_tx_dropped > 0, "the full tx queue counted its drops");
    assert.ok(result.upcalls_read > 0, "misses became upcalls and were drained");
    assert.ok(result.flaps >= 2, `port removed and re-added (${result.flaps} flaps)`);
    // The pool's in-use count stays bounded (replay buffers, one full ring, batches in flight).
    assert.ok(Math.max(...samples) < 4096, `mbufs in use peaked at ${Math.max(...samples)}`);
    assert.ok(result.rss_max_mib - result.rss_start_mib < 512, "RSS stays bounded");
  },
});
