import assert from "node:assert/strict";
import { exactFlowAt, exactOpenFlowAt, udpFlowFrames } from "../bench/datapath_bench.ts";
import { OvsDpdk, ovsDpdkAvailability } from "../bench/ovs_dpdk_peer.ts";
import { measureTestpmd } from "../bench/testpmd_peer.ts";
import { threadAffinity } from "../ffi/thread_affinity.ts";
import { writePcap } from "./fixtures/pcap.ts";

const ovs = ovsDpdkAvailability();
const testpmdInstalled = (() => {
  try {
    return new Deno.Command("dpdk-testpmd", { args: ["--version"] }).outputSync() !== null;
  } catch {
    return false;
  }
})();
if (!ovs.available) console.log(`OVS-DPDK peer test skipped: ${ovs.reason}`);
if (!testpmdInstalled) console.log("testpmd peer test skipped: dpdk-testpmd is not installed");

function capture(frames: number): { dir: string; pcap: string } {
  const dir = Deno.makeTempDirSync({ prefix: "dpif_peer_test_" });
  const pcap = `${dir}/in.pcap`;
  writePcap(pcap, udpFlowFrames(frames));
  return { dir, pcap };
}

const cpus = threadAffinity();

Deno.test({
  name: "OVS-DPDK peer: bridge-less datapath forwards our flows, then leaves nothing behind",
  ignore: !ovs.available,
  fn: async () => {
    const { dir, pcap } = capture(16);
    const peer = await OvsDpdk.start({ pcap, mainCpu: cpus[0], pmdCpu: cpus[1] ?? cpus[0] });
    try {
      const lines = Array.from({ length: 16 }, (_, i) => exactFlowAt(i, "2").join(" "));
      await peer.setFlows(lines, 16);
      assert.equal(await peer.pmdFlowCount(), 16);
      const figures = await peer.measure(0.3, 1, 0.2);
      assert.ok(figures.mpps[0] > 0, JSON.stringify(figures));
      assert.equal(figures.misses, 0);
      // A flow OVS refuses is an error, not a silent partial install.
      await assert.rejects(peer.setFlows(["in_port(1),bogus(1) 2"], 1));
    } finally {
      await peer.stop();
      Deno.removeSync(dir, { recursive: true });
    }
    assert.throws(() => Deno.statSync(peer.directory), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "OVS-DPDK peer, bridge mode: OpenFlow rules, EMC off, megaflow hits only",
  ignore: !ovs.available,
  fn: async () => {
    const { dir, pcap } = capture(16);
    const peer = await OvsDpdk.start({
      pcap,
      mainCpu: cpus[0],
      pmdCpu: cpus[1] ?? cpus[0],
      bridge: true,
      emc: false,
    });
    try {
      await peer.setOpenFlows(Array.from({ length: 16 }, (_, i) => exactOpenFlowAt(i)));
      const figures = await peer.measure(0.3, 1, 0.5);
      assert.ok(figures.mpps[0] > 0, JSON.stringify(figures));
      assert.equal(figures.emcHitRatio, 0, "the EMC is off");
      await assert.rejects(peer.setFlows([], 0), /bridge mode/);
      await assert.rejects(OvsDpdk.start({ pcap, mainCpu: 0, pmdCpu: 0, emc: false }), RangeError);
      await assert.rejects(peer.setOpenFlows(["in_port=1,bogus=2,actions=output:2"]));
    } finally {
      await peer.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "testpmd peer: io forwarding rate per interval from inside one run",
  ignore: !testpmdInstalled,
  fn: async () => {
    const { dir, pcap } = capture(64);
    try {
      const mpps = await measureTestpmd({
        pcap,
        packets: 64,
        mainCpu: cpus[0],
        forwardCpu: cpus[1] ?? cpus[0],
        seconds: 0.3,
        runs: 2,
        warmupSeconds: 0.2,
      });
      assert.ok(mpps !== null && mpps.length === 2 && mpps.every((x) => x > 0), String(mpps));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
