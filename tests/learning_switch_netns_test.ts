/**
 * The built-in learning switch with real frames from the kernel: two
 * network namespaces, each reaching the datapath through a DPDK port
 * (`net_af_packet` on a veth pair, or `net_tap` with the tap moved into the
 * namespace), and `ping` from one namespace to the other through the
 * switch. Checks the exact flows it learned in the flow dump, the MAC table,
 * and that every mbuf is back in the pool.
 *
 * Skipped, with the reason printed, without DPDK, root or iproute2.
 */

import assert from "node:assert/strict";
import { ChangeFeed } from "../api/change_feed.ts";
import { LearningSwitch } from "../api/learning_switch.ts";
import { Datapath, type FlowInfo } from "../datapath/datapath.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { PmdSet } from "../datapath/pmd_set.ts";
import { mustRun, NetnsLab, netnsUnavailable } from "./fixtures/netns.ts";

const skipReason = dpdkSkipReason();
if (skipReason !== null) console.log(`learning switch netns tests skipped: ${skipReason}`);

function dpdkSkipReason(): string | null {
  const dpdk = dpdkAvailability();
  if (!dpdk.available) return `DPDK is not usable: ${dpdk.reason}`;
  return netnsUnavailable();
}

const MAC_A = "02:00:00:00:0a:01";
const MAC_B = "02:00:00:00:0b:01";
const IP_A = "10.254.1.1";
const IP_B = "10.254.1.2";

let serial = 0;
/** A DPDK name unique in the process (test files share one EAL). */
function unique(tag: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${tag}${Deno.pid}_${serial++}_${random}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls the datapath on this thread, yielding to the event loop, until `signal` aborts. */
async function forward(dp: Datapath, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const n = dp.poll();
    await delay(n > 0 ? 0 : 1);
  }
}

/** Quiets IPv6 on an interface (no router solicitations or DAD through the switch). */
function noIpv6(iface: string, netns?: string): void {
  const sysctl = ["sysctl", "-qw", `net.ipv6.conf.${iface}.disable_ipv6=1`];
  if (netns === undefined) mustRun(sysctl[0], sysctl.slice(1));
  else mustRun("ip", ["netns", "exec", netns, ...sysctl]);
}

/** Adds a namespace whose interfaces get no IPv6 (no DAD, RS or MLD frames through the switch). */
function quietNamespace(lab: NetnsLab, suffix: string): string {
  const ns = lab.addNamespace(suffix);
  for (const conf of ["all", "default"]) {
    mustRun("ip", ["netns", "exec", ns, "sysctl", "-qw", `net.ipv6.conf.${conf}.disable_ipv6=1`]);
  }
  return ns;
}

/** Runs `ping -c 3 -W 1` from a namespace (asynchronously: the datapath keeps polling). */
async function ping(netns: string, address: string): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command("ip", {
    args: ["netns", "exec", netns, "ping", "-c", "3", "-W", "1", "-i", "0.2", address],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

function allFlows(dp: Datapath): FlowInfo[] {
  const flows: FlowInfo[] = [];
  let cursor: string | null = null;
  do {
    const page = dp.dumpFlows(cursor, 100);
    flows.push(...page.flows);
    cursor = page.next;
  } while (cursor !== null);
  return flows;
}

/** The learned ICMP flow from one port to the other, or a failed assertion. */
function icmpFlow(flows: FlowInfo[], inPort: number, outPort: number): FlowInfo {
  const found = flows.find((f) =>
    f.flow.includes(`in_port(${inPort})`) && f.flow.includes("icmp(") &&
    f.actions === String(outPort)
  );
  assert.ok(
    found,
    `an ICMP flow in_port(${inPort}) -> ${outPort} in:\n${
      flows.map((f) => `${f.flow} actions:${f.actions}`).join("\n")
    }`,
  );
  return found;
}

/**
 * Runs the switch over `dp` (ports 1 and 2 lead to namespaces A and B),
 * pings B from A, and checks what was learned and that the change feed
 * announced the flows the switch installed.
 */
async function pingThroughSwitch(dp: Datapath, nsA: string): Promise<void> {
  const feed = new ChangeFeed();
  feed.watch(dp);
  const changes = feed.subscribe(1024);
  const sw = new LearningSwitch({ datapath: dp });
  const stop = new AbortController();
  sw.start();
  const forwarding = forward(dp, stop.signal);
  let result;
  try {
    result = await ping(nsA, IP_B);
  } finally {
    stop.abort();
    await forwarding;
    await delay(30); // PMD threads report flow stats every few ms
    await sw.stop();
  }
  assert.equal(result.code, 0, `ping through the learning switch:\n${result.output}`);
  assert.match(result.output, / 0% packet loss/);

  const macs = sw.macTable();
  assert.equal(macs.get(MAC_A)?.port, 1, "A learned on port 1");
  assert.equal(macs.get(MAC_B)?.port, 2, "B learned on port 2");
  const flows = allFlows(dp);
  const request = icmpFlow(flows, 1, 2);
  const reply = icmpFlow(flows, 2, 1);
  assert.ok(request.flow.includes(`eth(src=${MAC_A},dst=${MAC_B})`), request.flow);
  assert.ok(reply.flow.includes(`eth(src=${MAC_B},dst=${MAC_A})`), reply.flow);
  // The first echo went up to the switch; the next two hit the installed flows.
  assert.ok(request.stats.packets >= 2, `request flow packets: ${request.stats.packets}`);
  assert.ok(reply.stats.packets >= 2, `reply flow packets: ${reply.stats.packets}`);
  assert.ok(dp.stats().n_hit >= 4);

  const batch = await changes.next();
  assert.notEqual(batch, "overflow");
  const added = (batch as { action: string; ufid?: string }[])
    .filter((e) => e.action === "added").map((e) => e.ufid);
  assert.ok(added.includes(request.ufid), "the feed announced the request flow");
  assert.ok(added.includes(reply.ufid), "the feed announced the reply flow");
  feed.closeAll();
}

function setUp(): { pool: MbufPool; start: number; dp: Datapath } {
  initEal({ memoryMb: 512 });
  registerDpdkPortType();
  const pool = MbufPool.create({ name: unique("ls"), capacity: 4095 });
  return { pool, start: pool.available(), dp: new Datapath("lsw0", { pool }) };
}

Deno.test({
  name: "learning switch: ping between namespaces over net_af_packet ports",
  ignore: skipReason !== null,
  async fn() {
    const { pool, start, dp } = setUp();
    const lab = new NetnsLab();
    try {
      const nsA = quietNamespace(lab, "A");
      const nsB = quietNamespace(lab, "B");
      lab.addVeth({ name: "a0" }, { name: "a1", netns: nsA, mac: MAC_A, address: `${IP_A}/24` });
      lab.addVeth({ name: "b0" }, { name: "b1", netns: nsB, mac: MAC_B, address: `${IP_B}/24` });
      noIpv6(lab.link("a0"));
      noIpv6(lab.link("b0"));
      dp.addPort({
        name: "pa",
        type: "dpdk",
        port_no: 1,
        options: { devargs: `${unique("net_af_packet")},iface=${lab.link("a0")}` },
      });
      dp.addPort({
        name: "pb",
        type: "dpdk",
        port_no: 2,
        options: { devargs: `${unique("net_af_packet")},iface=${lab.link("b0")}` },
      });
      await pingThroughSwitch(dp, nsA);
    } finally {
      dp.close();
      lab.cleanup();
    }
    assert.equal(pool.available(), start, "every mbuf is back in the pool");
    pool.close();
  },
});

Deno.test({
  name: "learning switch: ping between namespaces over net_tap ports",
  ignore: skipReason !== null,
  async fn() {
    const { pool, start, dp } = setUp();
    const lab = new NetnsLab();
    try {
      const ends = [
        { suffix: "A", tap: lab.link("ta"), mac: MAC_A, ip: IP_A, portNo: 1 },
        { suffix: "B", tap: lab.link("tb"), mac: MAC_B, ip: IP_B, portNo: 2 },
      ];
      const namespaces: string[] = [];
      for (const end of ends) {
        const ns = quietNamespace(lab, end.suffix);
        namespaces.push(ns);
        // DPDK creates the tap in this namespace; then it moves to its own.
        dp.addPort({
          name: `p${end.suffix}`,
          type: "dpdk",
          port_no: end.portNo,
          options: { devargs: `${unique("net_tap")},iface=${end.tap}` },
        });
        mustRun("ip", ["link", "set", end.tap, "netns", ns]);
        noIpv6(end.tap, ns);
        mustRun("ip", ["-n", ns, "link", "set", end.tap, "address", end.mac]);
        mustRun("ip", ["-n", ns, "addr", "add", `${end.ip}/24`, "dev", end.tap]);
        mustRun("ip", ["-n", ns, "link", "set", end.tap, "up"]);
      }
      await pingThroughSwitch(dp, namespaces[0]);
    } finally {
      dp.close();
      lab.cleanup();
    }
    assert.equal(pool.available(), start, "every mbuf is back in the pool");
    pool.close();
  },
});

Deno.test({
  name: "learning switch: ping over net_af_packet ports served by a PMD thread",
  ignore: skipReason !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { pool, start, dp } = setUp();
    const lab = new NetnsLab();
    let pmds: PmdSet | undefined;
    try {
      const nsA = quietNamespace(lab, "A");
      const nsB = quietNamespace(lab, "B");
      lab.addVeth({ name: "a0" }, { name: "a1", netns: nsA, mac: MAC_A, address: `${IP_A}/24` });
      lab.addVeth({ name: "b0" }, { name: "b1", netns: nsB, mac: MAC_B, address: `${IP_B}/24` });
      noIpv6(lab.link("a0"));
      noIpv6(lab.link("b0"));
      // As the service runs it: tx queue 0 for the switch's packet-out, queue 1 for the
      // PMD. net_af_packet spreads received frames over its qpairs sockets (fanout),
      // so the PMD polls both rx queues.
      for (const [name, portNo, iface] of [["pa", 1, "a0"], ["pb", 2, "b0"]] as const) {
        dp.addPort({
          name,
          type: "dpdk",
          port_no: portNo,
          options: {
            devargs: `${unique("net_af_packet")},iface=${lab.link(iface)},qpairs=2`,
            n_rxq: "2",
            n_txq: "2",
          },
        });
      }
      pmds = await PmdSet.start(dp, { reportMs: 5, timeoutMs: 15_000 });
      await pingThroughSwitch(dp, nsA);
      assert.ok(pmds.stats()[0].packets >= 6, "the PMD moved the pings");
    } finally {
      await pmds?.stop();
      dp.close();
      lab.cleanup();
    }
    assert.equal(pool.available(), start, "every mbuf is back in the pool");
    pool.close();
  },
});
