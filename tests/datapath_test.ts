/**
 * End-to-end tests of the Datapath: ports, flows, forwarding through dummy
 * ports, upcalls, execute, operate, stats, and buffer accounting.
 */

import assert from "node:assert/strict";
import { Datapath } from "../datapath/datapath.ts";
import { DpifError } from "../datapath/errors.ts";
import { DatapathRegistry } from "../datapath/registry.ts";

/** A UDP/IPv4 frame: 00:..:01 -> 00:..:02, 10.0.0.1:1234 -> 10.0.0.2:53, 60 bytes. */
function udpFrame(srcIpLastByte = 1, srcPort = 1234): Uint8Array {
  const hex = "000000000002" + "000000000001" + "0800" +
    "4500002e" + "00004000" + "4011" + "0000" + "0a0000" + hex2(srcIpLastByte) + "0a000002" +
    hex4(srcPort) + "0035" + "001a" + "0000" + "00".repeat(18);
  return fromHex(hex);
}

function tcpSynFrame(): Uint8Array {
  const hex = "000000000002" + "000000000001" + "0800" +
    "45000028" + "00004000" + "4006" + "0000" + "0a000001" + "0a000002" +
    "04d2" + "0050" + "00000001" + "00000000" + "5002" + "2000" + "0000" + "0000" +
    "00".repeat(6);
  return fromHex(hex);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}
function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}
function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function newDatapath(options: { emcEntries?: number } = {}): Datapath {
  const dp = new Datapath("dp0", options);
  dp.addPort({ name: "p1", type: "dummy", port_no: 1 });
  dp.addPort({ name: "p2", type: "dummy", port_no: 2 });
  dp.addPort({ name: "p3", type: "dummy", port_no: 3 });
  return dp;
}

function assertNoLeak(dp: Datapath): void {
  assert.equal(dp.pool.inUse(), 0, "every buffer is back in the pool");
}

Deno.test("datapath: local port 0 is named after the datapath and cannot be deleted", () => {
  const dp = new Datapath("br-int");
  assert.deepEqual(dp.port(0), { name: "br-int", port_no: 0, type: "internal", options: {} });
  assert.throws(() => dp.removePort(0), (e) => e instanceof DpifError && e.code === "EPERM");
  assert.throws(() => dp.removePort("br-int"), (e) => e instanceof DpifError && e.code === "EPERM");
});

Deno.test("datapath: port numbers and names are unique (EBUSY, EEXIST), lookups by both", () => {
  const dp = newDatapath();
  assert.throws(
    () => dp.addPort({ name: "p9", type: "dummy", port_no: 1 }),
    (e) => e instanceof DpifError && e.code === "EBUSY",
  );
  assert.throws(
    () => dp.addPort({ name: "p1", type: "dummy" }),
    (e) => e instanceof DpifError && e.code === "EEXIST",
  );
  const auto = dp.addPort({ name: "p4", type: "dummy" });
  assert.equal(auto.port_no, 4);
  assert.equal(dp.port("p4").port_no, 4);
  assert.equal(dp.port(4).name, "p4");
  assert.deepEqual(dp.listPorts().map((p) => p.port_no), [0, 1, 2, 3, 4]);
  dp.removePort("p4");
  assert.throws(() => dp.port("p4"), (e) => e instanceof DpifError && e.code === "ENOENT");
  assert.throws(
    () => dp.addPort({ name: "bad name!", type: "dummy" }),
    (e) => e instanceof DpifError && e.code === "EINVAL",
  );
  assert.throws(
    () => dp.addPort({ name: "x", type: "no-such-type" }),
    (e) => e instanceof DpifError && e.code === "EOPNOTSUPP",
  );
  dp.close();
});

Deno.test("datapath: a flow forwards matching packets and counts them", () => {
  const dp = newDatapath();
  const { ufid, created } = dp.putFlow({
    flow: "in_port(1),eth(),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53)",
    actions: "2",
  });
  assert.equal(created, true);
  for (let i = 0; i < 5; i++) assert.equal(dp.receive("p1", udpFrame()), true);
  const sent = dp.dummyPort("p2").transmitted();
  assert.equal(sent.length, 5);
  assert.deepEqual(sent[0], udpFrame());
  assert.equal(dp.dummyPort("p3").transmitted().length, 0);
  const flow = dp.getFlow(ufid);
  assert.equal(flow.stats.packets, 5);
  assert.equal(flow.stats.bytes, 5 * 60);
  assert.ok(flow.stats.used > 0);
  const stats = dp.stats();
  assert.equal(stats.n_hit, 5);
  assert.equal(stats.n_missed, 0);
  assert.equal(stats.n_flows, 1);
  assert.equal(stats.n_masks, 1);
  assert.equal(stats.n_emc_hit, 0, "the exact-match cache is off by default");
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: with an exact-match cache, repeated packets hit it", () => {
  const dp = newDatapath({ emcEntries: 8192 });
  const { ufid } = dp.putFlow({
    flow: "in_port(1),eth(),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53)",
    actions: "2",
  });
  for (let i = 0; i < 5; i++) assert.equal(dp.receive("p1", udpFrame()), true);
  assert.equal(dp.dummyPort("p2").transmitted().length, 5);
  assert.equal(dp.getFlow(ufid).stats.packets, 5);
  const stats = dp.stats();
  assert.equal(stats.n_hit, 5);
  assert.equal(stats.n_emc_hit, 4, "the first packet fills the cache, the other four hit it");
  dp.deleteFlow(ufid);
  assert.equal(dp.receive("p1", udpFrame()), true);
  assert.equal(dp.stats().n_missed, 1, "a deleted flow's cache entry no longer hits");
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: TCP flags accumulate in flow stats", () => {
  const dp = newDatapath();
  const { ufid } = dp.putFlow({ flow: "in_port(1),eth_type(0x0800),ipv4(proto=6)", actions: "2" });
  dp.receive("p1", tcpSynFrame());
  assert.equal(dp.getFlow(ufid).stats.tcp_flags, 0x002);
  dp.close();
});

Deno.test("datapath: several outputs clone; empty actions drop and count", () => {
  const dp = newDatapath();
  dp.putFlow({ flow: "in_port(1),eth_type(0x0800)", actions: "2,3" });
  dp.putFlow({ flow: "in_port(2),eth_type(0x0800)", actions: "" });
  dp.receive("p1", udpFrame());
  assert.equal(dp.dummyPort("p2").transmitted().length, 1);
  assert.equal(dp.dummyPort("p3").transmitted().length, 1);
  dp.receive("p2", udpFrame());
  assert.equal(dp.stats().drops.flow_action, 1);
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: output to a missing port is a counted drop", () => {
  const dp = newDatapath();
  dp.putFlow({ flow: "in_port(1),eth_type(0x0800)", actions: "99" });
  dp.receive("p1", udpFrame());
  assert.equal(dp.stats().drops.invalid_port, 1);
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: a miss queues an upcall only while upcalls are enabled", () => {
  const dp = newDatapath();
  dp.receive("p1", udpFrame());
  assert.equal(dp.stats().n_missed, 1);
  assert.equal(dp.stats().n_lost, 1, "disabled upcalls count as lost");
  dp.setUpcallsEnabled(true);
  dp.receive("p1", udpFrame(7));
  const upcalls = dp.upcalls.read(10);
  assert.equal(upcalls.length, 1);
  assert.equal(upcalls[0].type, "miss");
  assert.equal(upcalls[0].inPort, 1);
  assert.deepEqual(upcalls[0].packet, udpFrame(7));
  assert.equal(dp.stats().n_missed, 2);
  assert.equal(dp.stats().n_lost, 1);
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: frames shorter than 14 bytes are dropped as short_frame", () => {
  const dp = newDatapath();
  dp.receive("p1", new Uint8Array(13));
  dp.receive("p1", new Uint8Array(0));
  assert.equal(dp.stats().drops.short_frame, 2);
  assert.equal(dp.stats().n_missed, 0);
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: put honours create/modify flags, delete returns final stats", () => {
  const dp = newDatapath();
  const flow = "in_port(1),eth_type(0x0800)";
  const { ufid } = dp.putFlow({ flow, actions: "2" });
  assert.throws(
    () => dp.putFlow({ flow, actions: "3" }),
    (e) => e instanceof DpifError && e.code === "EEXIST",
  );
  dp.receive("p1", udpFrame());
  const modified = dp.putFlow({ flow, actions: "3", create: false, modify: true });
  assert.equal(modified.created, false);
  assert.equal(modified.previous?.packets, 1);
  dp.receive("p1", udpFrame());
  assert.equal(dp.dummyPort("p3").transmitted().length, 1, "modified actions take effect");
  assert.equal(dp.getFlow(ufid).stats.packets, 2, "modify keeps stats unless zeroStats");
  dp.putFlow({ flow, actions: "3", create: false, modify: true, zeroStats: true });
  assert.equal(dp.getFlow(ufid).stats.packets, 0);
  assert.throws(
    () => dp.putFlow({ flow: "in_port(2)", actions: "3", create: false, modify: true }),
    (e) => e instanceof DpifError && e.code === "ENOENT",
  );
  const final = dp.deleteFlow(ufid);
  assert.equal(final.packets, 0);
  assert.throws(() => dp.getFlow(ufid), (e) => e instanceof DpifError && e.code === "ENOENT");
  dp.receive("p1", udpFrame());
  assert.equal(dp.dummyPort("p3").transmitted().length, 1, "a deleted flow no longer forwards");
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: bad flow text and bad actions are rejected with the token", () => {
  const dp = newDatapath();
  assert.throws(() => dp.putFlow({ flow: "in_port(1),bogus(3)", actions: "2" }), /bogus/);
  assert.throws(() => dp.putFlow({ flow: "in_port(1)", actions: "output(" }), SyntaxError);
  assert.equal(dp.stats().n_flows, 0, "nothing half-applied");
  dp.close();
});

Deno.test("datapath: dump pages through every flow with a cursor", () => {
  const dp = newDatapath();
  for (let i = 1; i <= 25; i++) {
    dp.putFlow({ flow: `in_port(1),eth_type(0x0800),ipv4(src=10.0.0.${i})`, actions: "2" });
  }
  const seen = new Set<string>();
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = dp.dumpFlows(cursor, 10);
    for (const f of page.flows) seen.add(f.ufid);
    cursor = page.next;
    pages++;
  } while (cursor !== null && pages < 10);
  assert.equal(seen.size, 25);
  assert.equal(pages, 3);
  dp.close();
});

Deno.test("datapath: execute runs actions on a given packet; operate reports per op", () => {
  const dp = newDatapath();
  dp.execute(udpFrame(), "set(ipv4(ttl=9)),3", "in_port(1)");
  const [out] = dp.dummyPort("p3").transmitted();
  assert.equal(out[22], 9, "ttl rewritten");
  const results = dp.operate([
    { op: "put", flow: "in_port(2),eth_type(0x0800)", actions: "1" },
    { op: "put", flow: "in_port(2),eth_type(0x0800)", actions: "1" },
    { op: "execute", packet: udpFrame(), actions: "1" },
    { op: "del", ufid: "ufid:00000000-0000-0000-0000-000000000001" },
  ]);
  assert.equal(results[0].ok, true);
  assert.equal(results[1].ok, false);
  assert.equal(!results[1].ok && results[1].error.code, "EEXIST");
  assert.equal(results[2].ok, true);
  assert.equal(!results[3].ok && results[3].error.code, "ENOENT");
  assert.equal(dp.dummyPort("p1").transmitted().length, 1);
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: recirculation re-runs the pipeline with recirc_id set", () => {
  const dp = newDatapath();
  dp.putFlow({ flow: "recirc_id(0),in_port(1),eth_type(0x0800)", actions: "recirc(5)" });
  dp.putFlow({ flow: "recirc_id(5),in_port(1),eth_type(0x0800)", actions: "3" });
  dp.receive("p1", udpFrame());
  assert.equal(dp.dummyPort("p3").transmitted().length, 1);
  dp.putFlow({ flow: "recirc_id(7),in_port(1),eth_type(0x0800)", actions: "recirc(7)" });
  dp.execute(udpFrame(), "recirc(7)", "in_port(1)");
  assert.equal(dp.stats().drops.recirc_depth, 1, "a recirculation loop is cut and counted");
  assertNoLeak(dp);
  dp.close();
});

Deno.test("registry: create, open, enumerate, destroy", () => {
  const registry = new DatapathRegistry();
  registry.create("dp0");
  registry.create("dp1");
  assert.throws(() => registry.create("dp0"), (e) => e instanceof DpifError && e.code === "EEXIST");
  assert.deepEqual(registry.names(), ["dp0", "dp1"]);
  assert.equal(registry.open("dp1").name, "dp1");
  registry.destroy("dp0");
  assert.throws(() => registry.open("dp0"), (e) => e instanceof DpifError && e.code === "ENOENT");
  registry.closeAll();
  assert.deepEqual(registry.names(), []);
});

Deno.test("datapath: a port flooding misses cannot starve another port's upcalls", () => {
  const dp = new Datapath("dp0", { upcallQueueDepth: 64 });
  dp.addPort({ name: "p1", type: "dummy", port_no: 1 });
  dp.addPort({ name: "p2", type: "dummy", port_no: 2 });
  dp.setUpcallsEnabled(true);
  for (let i = 0; i < 500; i++) dp.receive("p1", udpFrame(1, 1000 + i));
  for (let i = 0; i < 3; i++) dp.receive("p2", udpFrame(2, 2000 + i));
  const stats = dp.stats();
  assert.equal(stats.n_missed, 503);
  assert.equal(stats.n_lost, 500 - 64, "the flooding port loses what overflows its own queue");
  const first = dp.upcalls.read(6);
  assert.deepEqual(
    first.map((u) => u.inPort),
    [1, 2, 1, 2, 1, 2],
    "reads alternate between ports, so the quiet port's misses come out at once",
  );
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: one batch is grouped per flow, order kept within each flow", () => {
  const dp = newDatapath();
  const a = dp.putFlow({ flow: "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.1)", actions: "2" });
  const b = dp.putFlow({ flow: "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.9)", actions: "3" });
  const p1 = dp.dummyPort("p1");
  for (let i = 0; i < 10; i++) {
    const fromA = i % 3 !== 0;
    assert.equal(p1.inject(udpFrame(fromA ? 1 : 9, 3000 + i)), true);
  }
  assert.equal(dp.poll(), 10, "all ten arrive in one batch");
  const portOf = (frame: Uint8Array) => (frame[34] << 8) | frame[35];
  assert.deepEqual(dp.dummyPort("p2").transmitted().map(portOf), [
    3001,
    3002,
    3004,
    3005,
    3007,
    3008,
  ]);
  assert.deepEqual(dp.dummyPort("p3").transmitted().map(portOf), [3000, 3003, 3006, 3009]);
  assert.equal(dp.getFlow(a.ufid).stats.packets, 6);
  assert.equal(dp.getFlow(b.ufid).stats.packets, 4);
  assert.equal(dp.getFlow(a.ufid).stats.bytes, 6 * 60);
  assert.equal(dp.stats().n_hit, 10);
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: one batch over several masks: hits, misses and short frames each end once", () => {
  const dp = newDatapath();
  dp.upcalls.setEnabled(true);
  const a = dp.putFlow({ flow: "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.1)", actions: "2" });
  const b = dp.putFlow({
    flow: "in_port(1),eth_type(0x0800),ipv4(proto=17),udp(src=3001)",
    actions: "3",
  });
  assert.equal(dp.stats().n_masks, 2, "two masks: the batched classifier path");
  const p1 = dp.dummyPort("p1");
  const frames = [
    udpFrame(1, 4000), // a
    new Uint8Array(10), // short
    udpFrame(9, 3001), // b
    udpFrame(9, 5000), // miss
    udpFrame(1, 3001), // a (first subtable wins, no priorities: either is a match)
    new Uint8Array(0), // short
  ];
  for (const frame of frames) assert.equal(p1.inject(frame), true);
  assert.equal(dp.poll(), frames.length);
  const stats = dp.stats();
  assert.equal(stats.n_hit, 3);
  assert.equal(stats.n_missed, 1);
  assert.equal(stats.drops.short_frame, 2);
  assert.equal(dp.upcalls.size, 1, "the miss was queued as an upcall");
  const out = dp.dummyPort("p2").transmitted().length + dp.dummyPort("p3").transmitted().length;
  assert.equal(out, 3);
  assert.equal(dp.getFlow(a.ufid).stats.packets + dp.getFlow(b.ufid).stats.packets, 3);
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: flows with equal actions share a program; modifying one leaves the other", () => {
  const dp = newDatapath();
  const a = dp.putFlow({ flow: "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.1)", actions: "2" });
  dp.putFlow({ flow: "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.9)", actions: "2" });
  dp.putFlow({
    flow: "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.1)",
    actions: "3",
    ufid: a.ufid,
    create: false,
    modify: true,
  });
  dp.receive("p1", udpFrame(1, 1000));
  dp.receive("p1", udpFrame(9, 1000));
  assert.equal(dp.dummyPort("p3").transmitted().length, 1, "the modified flow outputs to 3");
  assert.equal(dp.dummyPort("p2").transmitted().length, 1, "the other still outputs to 2");
  dp.flushFlows();
  dp.putFlow({ flow: "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.9)", actions: "3" });
  dp.receive("p1", udpFrame(9, 1000));
  assert.equal(dp.dummyPort("p3").transmitted().length, 2, "after a flush ids are reused safely");
  assertNoLeak(dp);
  dp.close();
});

Deno.test("datapath: set/push-then-output flows run per packet in a mixed batch; failures are counted drops", () => {
  const dp = newDatapath();
  const vxlanPush = "tnl_push(tnl_port(4789),header(size=50,type=4," +
    "eth(dst=00:00:00:00:00:aa,src=00:00:00:00:00:bb,dl_type=0x0800)," +
    "ipv4(src=172.31.1.1,dst=172.31.1.2,proto=17,tos=0,ttl=64,frag=0x4000)," +
    "udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x7b)),out_port(2)),2";
  dp.putFlow({
    flow: "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.1)",
    actions: "set(ipv4(ttl=9)),2",
  });
  dp.putFlow({
    flow: "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.2)",
    actions: "push_vlan(vid=7,pcp=0),3",
  });
  // No vxlan port in this datapath: every push fails and is counted.
  dp.putFlow({ flow: "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.3)", actions: vxlanPush });
  const p1 = dp.dummyPort("p1");
  for (const src of [1, 2, 3, 1, 2]) assert.equal(p1.inject(udpFrame(src, 1000 + src)), true);
  assert.equal(dp.poll(), 5, "one batch");
  const toP2 = dp.dummyPort("p2").transmitted();
  const toP3 = dp.dummyPort("p3").transmitted();
  assert.equal(toP2.length, 2);
  for (const frame of toP2) assert.equal(frame[22], 9, "ttl set to 9");
  assert.equal(toP3.length, 2);
  for (const frame of toP3) {
    assert.equal((frame[12] << 8) | frame[13], 0x8100, "tagged");
    assert.equal(((frame[14] << 8) | frame[15]) & 0x0fff, 7);
    assert.equal(frame.length, 64);
  }
  assert.equal(dp.stats().drops.tunnel_push_error, 1);
  assert.equal(dp.stats().n_hit, 5);
  assertNoLeak(dp);
  dp.close();
});
