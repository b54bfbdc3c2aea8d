/**
 * Port faults on real DPDK devices, while traffic flows between two other
 * ports: the kernel interface behind a `net_tap` port is deleted and the
 * peer of the veth behind a `net_af_packet` port is removed; a `net_ring`
 * port whose ring is never drained fills its tx queue. Each fault is
 * reported (link down, counters in the port's stats), the packets sent to
 * it are counted as dropped, the other ports keep forwarding every frame,
 * and every mbuf is back in the pool at the end.
 *
 * Needs DPDK and root with iproute2 (tests/fixtures/netns.ts); skipped with
 * the reason otherwise.
 */

import assert from "node:assert/strict";
import { Datapath } from "../datapath/datapath.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";
import { NetnsLab, netnsUnavailable, run } from "./fixtures/netns.ts";
import { openRingDatapath } from "./fixtures/ring_datapath.ts";
import { testFrame } from "./port_conformance.ts";
import { ServiceProcess } from "../tools/service_process.ts";

const availability = dpdkAvailability();
const noDpdk = availability.available ? null : `DPDK is not usable: ${availability.reason}`;
const noNetns = noDpdk ?? netnsUnavailable();
if (noDpdk !== null) console.log(`port fault tests skipped: ${noDpdk}`);
else if (noNetns !== null) console.log(`tap / af_packet fault test skipped: ${noNetns}`);

let serial = 0;
function unique(tag: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${tag}${Deno.pid}_${serial++}${random}`;
}

/** Ports 1 (in) and 2 (out) on net_ring wires, with test-side peers. */
interface Wires {
  dp: Datapath;
  pool: MbufPool;
  inPeer: DpdkPort;
  outPeer: DpdkPort;
  close(): void;
}

function setUp(capacity = 4095): Wires {
  const rig = openRingDatapath("pf", { capacity, portNames: ["in", "out"] });
  return { dp: rig.dp, pool: rig.pool, inPeer: rig.peer1, outPeer: rig.peer2, close: rig.close };
}

/**
 * Sends `bursts` bursts of 32 frames into port 1, polls the datapath and
 * drains port 2's peer; returns how many frames came out of port 2.
 */
function pump(w: Wires, bursts: number): number {
  const batch = new PacketBatch(w.pool);
  let out = 0;
  for (let b = 0; b < bursts; b++) {
    for (let i = 0; i < 32; i++) {
      assert.ok(batch.pushCopy(testFrame(i, 60)) >= 0, "a free mbuf for each frame");
    }
    w.inPeer.transmit(0, batch);
    for (let p = 0; p < 4; p++) w.dp.poll();
    for (let r = 0; r < 4; r++) {
      out += w.outPeer.receive(0, batch);
      batch.freeAll();
    }
  }
  return out;
}

Deno.test({
  name: "port faults: tap interface deleted, af_packet peer removed; the other ports forward on",
  ignore: noNetns !== null,
  fn() {
    const lab = new NetnsLab();
    const w = setUp();
    const start = w.pool.available();
    const tapName = lab.link("tap");
    try {
      lab.addVeth({ name: "a0" }, { name: "b0" });
      w.dp.addPort({
        name: "tap",
        type: "dpdk",
        port_no: 3,
        options: { devargs: `${unique("net_tap")},iface=${tapName}` },
      });
      w.dp.addPort({
        name: "afp",
        type: "dpdk",
        port_no: 4,
        options: { devargs: `${unique("net_af_packet")},iface=${lab.link("a0")}` },
      });
      w.dp.putFlow({ flow: "in_port(1),eth(),eth_type(0x0800)", actions: "2,3,4" });
      const tap = w.dp.ports.get(3) as DpdkPort;

      assert.equal(pump(w, 20), 640, "all frames out of port 2 before the faults");
      const tapBefore = w.dp.portStats("tap");
      const afpBefore = w.dp.portStats("afp");
      assert.ok(tap.link().up, "tap link up");
      assert.equal(tapBefore.tx_packets, 640, "tap sent everything");
      assert.equal(afpBefore.tx_packets, 640, "af_packet sent everything");
      assert.equal(tapBefore.tx_errors + afpBefore.tx_errors, 0);

      // The faults: the tap's kernel interface and the af_packet veth pair disappear.
      assert.equal(run("ip", ["link", "del", tapName]).code, 0, "tap interface deleted");
      assert.equal(run("ip", ["link", "del", lab.link("a0")]).code, 0, "veth pair removed");

      const t0 = performance.now();
      assert.equal(pump(w, 50), 1600, "port 2 still gets every frame after the faults");
      const ms = performance.now() - t0;
      assert.ok(ms < 5000, `no stall: 1,600 frames forwarded in ${ms.toFixed(0)} ms`);
      assert.equal(w.dp.portStats("out").tx_dropped, 0, "port 2 dropped nothing");

      // Reported and counted: the tap's link is down and both show the failed frames.
      assert.equal(tap.link().up, false, "tap link down once its interface is gone");
      const tapAfter = w.dp.portStats("tap");
      const afpAfter = w.dp.portStats("afp");
      assert.equal(tapAfter.tx_packets, 640, "nothing more sent on the tap");
      assert.equal(tapAfter.tx_dropped, 1600, "every frame for the tap counted as dropped");
      assert.ok(tapAfter.tx_errors >= 1600, `tap tx_errors ${tapAfter.tx_errors}`);
      const afpLost = afpAfter.tx_dropped + afpAfter.tx_errors;
      assert.ok(afpLost >= 1600, `af_packet: ${afpLost} frames counted as dropped or errors`);
      assert.ok(afpAfter.tx_errors > 0, "af_packet device reports tx errors");
      console.log(
        `after the faults: 1,600 frames through port 2 in ${ms.toFixed(0)} ms; ` +
          `tap tx_dropped ${tapAfter.tx_dropped} tx_errors ${tapAfter.tx_errors}; ` +
          `af_packet tx_dropped ${afpAfter.tx_dropped} tx_errors ${afpAfter.tx_errors}`,
      );
    } finally {
      w.close();
      lab.cleanup();
      run("ip", ["link", "del", tapName]);
    }
    assert.equal(w.pool.available(), start, "every mbuf back");
    w.pool.close();
  },
});

Deno.test({
  name: "port faults: a tx queue that is never drained counts its drops; no stall, no leak",
  ignore: noDpdk !== null,
  fn() {
    const w = setUp();
    const start = w.pool.available();
    const id = unique("full");
    const fullWire = RingPair.create(`${id}a`, `${id}b`, 256); // 255 usable slots
    // The peer end exists (its ring holds what port 3 sends) but is never read.
    const fullPeer = DpdkPort.open("full_peer", { devargs: fullWire.b }, w.pool);
    try {
      w.dp.addPort({ name: "full", type: "dpdk", port_no: 3, options: { devargs: fullWire.a } });
      w.dp.putFlow({ flow: "in_port(1),eth(),eth_type(0x0800)", actions: "3,2" });
      const t0 = performance.now();
      assert.equal(pump(w, 100), 3200, "port 2 gets every frame while port 3 is full");
      const ms = performance.now() - t0;
      assert.ok(ms < 5000, `no stall: 3,200 frames in ${ms.toFixed(0)} ms`);
      const full = w.dp.portStats("full");
      assert.equal(full.tx_packets, 255, "the ring took what it holds");
      assert.equal(full.tx_dropped, 3200 - 255, "the rest counted as tx_dropped");
      assert.equal(w.dp.stats().drops.tx_full, 3200 - 255, "and as the datapath's tx_full drops");
      assert.equal(w.dp.portStats("out").tx_dropped, 0);
      // What the full ring holds is the only thing out of the pool (plus nothing in flight).
      assert.equal(start - w.pool.available(), 255, "no mbuf leaked while dropping");
      console.log(
        `full tx queue: 3,200 frames through port 2 in ${ms.toFixed(0)} ms, ` +
          `port 3 tx_packets ${full.tx_packets} tx_dropped ${full.tx_dropped}; ` +
          `datapath drops.tx_full ${w.dp.stats().drops.tx_full}`,
      );
    } finally {
      fullPeer.close(); // drains and frees what the ring holds
      w.close();
      fullWire.destroy();
    }
    assert.equal(w.pool.available(), start, "every mbuf back");
    w.pool.close();
  },
});

Deno.test({
  name: "port faults in the service: a tap deleted under PMD traffic is logged; the loop runs on",
  ignore: noNetns !== null,
  async fn() {
    const lab = new NetnsLab();
    const tapName = lab.link("stap");
    const svc = await ServiceProcess.start({ args: [] });
    let stopped = false;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(svc.base + path, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
      return text === "" ? null : JSON.parse(text);
    };
    const loopRx = async () =>
      (await call("GET", "/v1/datapaths/dp0/ports/p1/stats")).rx_packets +
      (await call("GET", "/v1/datapaths/dp0/ports/p2/stats")).rx_packets;
    try {
      assert.equal((await call("GET", "/v1/version")).datapath_type, "dpdk");
      await call("POST", "/v1/datapaths/dp0/ports", {
        name: "tap",
        type: "dpdk",
        port_no: 3,
        options: { devargs: `${unique("net_tap")},iface=${tapName}` },
      });
      // Running PMD threads pick up a port added since they started on a restart.
      await call("PUT", "/v1/datapaths/dp0/pmd", { threads: 1 });
      await call("POST", "/v1/datapaths/dp0/flows", {
        flow: "in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)",
        actions: "2,3",
      });
      await call("POST", "/v1/datapaths/dp0/flows", {
        flow: "in_port(2),eth(),eth_type(0x0800),ipv4(frag=no)",
        actions: "1",
      });
      // Frames sent out of p1 come back in on p1 (ring loopback): they circle p1 -> p2 -> p1.
      const ops = Array.from({ length: 64 }, (_, i) => ({
        op: "execute",
        packet: udpFrameHex(i),
        actions: "1",
      }));
      await call("POST", "/v1/datapaths/dp0/operate", { ops });
      await delay(300);
      const tapStats = await call("GET", "/v1/datapaths/dp0/ports/tap/stats");
      assert.ok(tapStats.tx_packets > 0, "the tap sends while its interface exists");

      assert.equal(run("ip", ["link", "del", tapName]).code, 0, "tap interface deleted");
      await delay(1500); // more than one monitor pass
      const a = await loopRx();
      await delay(500);
      const b = await loopRx();
      assert.ok(b - a > 1000, `p1 <-> p2 keep forwarding after the fault (${b - a} in 0.5 s)`);
      const tap = await call("GET", "/v1/datapaths/dp0/ports/tap/stats");
      assert.ok(
        tap.tx_dropped + tap.tx_errors > 0,
        `tap counts its failures: ${JSON.stringify(tap)}`,
      );
      console.log(
        `after the tap was deleted: p1+p2 rx ${((b - a) / 0.5 / 1e6).toFixed(2)} Mpps; ` +
          `tap tx_dropped ${tap.tx_dropped} tx_errors ${tap.tx_errors}`,
      );
      const down = svc.log.find((r) => r.msg === "port link down" && r.port === "tap");
      assert.ok(down !== undefined, "the link loss is logged");
      const errors = svc.log.find((r) => r.msg === "port errors" && r.port === "tap");
      assert.ok(errors !== undefined, "the growing error counters are logged");
      assert.ok(!svc.log.some((r) => r.msg === "port link down" && r.port !== "tap"));

      const status = await svc.terminate();
      stopped = true;
      assert.equal(status.code, 0);
      assert.equal(svc.record("packet pool at stop")?.in_use, 0, "every mbuf back");
    } finally {
      if (!stopped) await svc.kill();
      svc.removeEalRunDir();
      run("ip", ["link", "del", tapName]);
      lab.cleanup();
    }
  },
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A 60-byte UDP/IPv4 frame as hex (source 10.0.0.<1 + i % 200>). */
function udpFrameHex(i: number): string {
  return Array.from(testFrame(i % 200, 60), (b) => b.toString(16).padStart(2, "0")).join("");
}
