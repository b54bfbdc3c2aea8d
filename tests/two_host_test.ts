/**
 * The multi-host test (tools/two_host.ts): two real deno-dpif services in
 * two network namespaces joined by a veth underlay through net_af_packet
 * ports, a client namespace behind each; client A pings client B and sends
 * it 1 MiB over TCP through a VXLAN, then a Geneve tunnel made of explicit
 * tnl_push / tnl_pop flows installed over REST. Checks: no ping lost, every
 * byte arrived intact (SHA-256), both tnl_pop flows matched packets (the
 * traffic was encapsulated), no mbuf out of either pool once the PMDs
 * stopped, both services exited 0 on SIGTERM, and nothing of the lab is
 * left (namespaces, veths, DPDK runtime directories).
 *
 * Those two are skipped, with the reason printed, without root, iproute2,
 * ping, nc, curl, ethtool or a usable DPDK (about 5 s per tunnel). The same
 * flows also run everywhere on two in-memory datapaths with dummy ports: a
 * frame from client A (ARP, ICMP, a full-size TCP segment) goes through A's
 * push, the "wire", B's pop and comes out of B's client port unchanged.
 */
import assert from "node:assert/strict";
import { Datapath } from "../datapath/datapath.ts";
import {
  hostFlows,
  parsePing,
  runTwoHost,
  tunnelPort,
  type TwoHostTunnel,
} from "../tools/two_host.ts";
import { CLIENT_PORT, HOSTS, twoHostUnavailable, UNDERLAY_PORT } from "../tools/two_host_lab.ts";
import { run } from "./fixtures/netns.ts";
import { arpFrame, bytesToHex, icmp4Frame, tcp4Frame } from "./fixtures/packets.ts";

const unavailable = twoHostUnavailable();
if (unavailable !== null) console.log(`two-host tunnel tests skipped: ${unavailable}`);

function assertNothingLeft(prefix: string): void {
  const namespaces = run("ip", ["netns", "list"]).stdout;
  assert.ok(!namespaces.includes(prefix), `namespaces of ${prefix} left: ${namespaces}`);
  const links = run("ip", ["-o", "link", "show"]).stdout;
  assert.ok(!links.includes(prefix), `links of ${prefix} left`);
  for (const host of ["a", "b"]) {
    assert.throws(() => Deno.statSync(`/var/run/dpdk/${prefix}${host}`), Deno.errors.NotFound);
  }
}

for (const tunnel of ["vxlan", "geneve"] as TwoHostTunnel[]) {
  Deno.test({
    name: `two hosts: ping and a 1 MiB TCP transfer between clients through ${tunnel}`,
    ignore: unavailable !== null,
    async fn() {
      const lines: string[] = [];
      const result = await runTwoHost({ tunnel, log: (line) => lines.push(line) });
      const context = `${JSON.stringify(result)}\n${lines.join("\n")}`;
      assert.equal(result.ping.transmitted, 3, context);
      assert.equal(result.ping.received, 3, context);
      assert.ok(result.ping.rttAvgMs > 0, context);
      assert.ok(result.transfer !== null, context);
      assert.equal(result.transfer.receivedBytes, 1 << 20, context);
      assert.ok(result.transfer.hashMatches, context);
      // Both directions were encapsulated: each host's tnl_pop flow matched packets.
      assert.ok(result.popPackets[0] > 0 && result.popPackets[1] > 0, context);
      assert.ok(result.tunnelCrossed, context);
      // ARP went through the tunnel too: client A learned client B's real MAC.
      assert.equal(result.arpResolved, HOSTS[1].clientMac, context);
      for (const host of result.hostStats) {
        // Every segment the client sent left on the underlay (one encapsulated packet each).
        assert.equal(host.ports.underlay.tx, host.ports.client.rx, context);
        assert.equal(host.ports.underlay.tx_dropped, 0, context);
        assert.equal(host.ports.client.tx_dropped, 0, context);
        // What the kernel moved on the underlay veth is what the datapath counted: no frame
        // was lost in the af_packet ring, where DPDK 22.11 would not count it.
        assert.equal(host.underlayKernel.rx, host.ports.underlay.rx, context);
        assert.equal(host.underlayKernel.tx, host.ports.underlay.tx, context);
      }
      assert.deepEqual(result.mbufsInUse, [0, 0], context);
      assert.deepEqual(result.exitCodes, [0, 0], context);
      assert.ok(result.ok, context);
      assertNothingLeft(result.labPrefix);
    },
  });
}

/** A host as the lab configures it, on the memory backend: dummy underlay and client ports. */
function memoryHost(tunnel: TwoHostTunnel, index: 0 | 1): Datapath {
  const dp = new Datapath(`host${HOSTS[index].label}`);
  dp.addPort({ name: "underlay", type: "dummy", port_no: UNDERLAY_PORT });
  dp.addPort({ name: "client", type: "dummy", port_no: CLIENT_PORT });
  dp.addPort(tunnelPort(tunnel));
  for (const [flow, actions] of hostFlows(tunnel, HOSTS[index], HOSTS[1 - index])) {
    dp.putFlow({ flow, actions });
  }
  return dp;
}

for (const tunnel of ["vxlan", "geneve"] as TwoHostTunnel[]) {
  Deno.test(`two hosts, memory backend: the lab's ${tunnel} flows carry client frames both ways`, () => {
    const a = memoryHost(tunnel, 0);
    const b = memoryHost(tunnel, 1);
    try {
      const macA = HOSTS[0].clientMac;
      const macB = HOSTS[1].clientMac;
      const frames = [
        arpFrame({
          ethSrc: macA,
          ethDst: "ff:ff:ff:ff:ff:ff",
          sha: macA,
          spa: "10.1.0.1",
          tpa: "10.1.0.2",
        }),
        icmp4Frame({ ethSrc: macA, ethDst: macB, ipSrc: "10.1.0.1", ipDst: "10.1.0.2" }),
        tcp4Frame({
          ethSrc: macA,
          ethDst: macB,
          ipSrc: "10.1.0.1",
          ipDst: "10.1.0.2",
          payload: new Uint8Array(1448).map((_, i) => i & 0xff),
        }),
      ];
      for (const [from, to] of [[a, b], [b, a]]) {
        for (const frame of frames) {
          assert.ok(from.receive(CLIENT_PORT, frame));
          const wire = from.dummyPort(UNDERLAY_PORT).transmitted();
          from.dummyPort(UNDERLAY_PORT).clearTransmitted();
          assert.equal(wire.length, 1);
          assert.equal(wire[0].length, frame.length + 50, "50 bytes of outer headers");
          const udpDst = (wire[0][36] << 8) | wire[0][37];
          assert.equal(udpDst, tunnelPort(tunnel).port_no, "outer UDP destination port");
          assert.ok(to.receive(UNDERLAY_PORT, wire[0]));
          const out = to.dummyPort(CLIENT_PORT).transmitted();
          to.dummyPort(CLIENT_PORT).clearTransmitted();
          assert.deepEqual(out.map(bytesToHex), [bytesToHex(frame)]);
        }
      }
      assert.equal(a.stats().n_missed + b.stats().n_missed, 0);
      assert.equal(a.stats().pool.in_use, 0, "every buffer back in host A's pool");
      assert.equal(b.stats().pool.in_use, 0, "every buffer back in host B's pool");
    } finally {
      a.close();
      b.close();
    }
  });
}

Deno.test("two hosts: parsePing reads iputils' summary, and a total loss", () => {
  const text = "--- 10.1.0.2 ping statistics ---\n" +
    "3 packets transmitted, 2 received, 33.3333% packet loss, time 402ms\n" +
    "rtt min/avg/max/mdev = 0.101/0.250/0.399/0.121 ms\n";
  assert.deepEqual(parsePing(text), {
    transmitted: 3,
    received: 2,
    lossPercent: 33.3333,
    rttMinMs: 0.101,
    rttAvgMs: 0.25,
    rttMaxMs: 0.399,
  });
  const lost = parsePing("3 packets transmitted, 0 received, 100% packet loss, time 2040ms\n");
  assert.equal(lost.received, 0);
  assert.equal(lost.lossPercent, 100);
  assert.ok(Number.isNaN(lost.rttAvgMs));
});
