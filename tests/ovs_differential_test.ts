/**
 * Differential test against Open vSwitch: replays the cases recorded from a
 * real OVS 3.1 userspace datapath (tools/ovs_record.ts, fixture
 * tests/fixtures/ovs_differential.json) through deno-dpif and compares what
 * each port transmits, byte for byte. Needs no OVS: it reads the recording.
 *
 * Deliberate differences, and how they are compared:
 * - tnl_push of a UDP tunnel takes the outer UDP source port from a hash
 *   of the inner packet (OVS ignores the template's `src=`, and so do
 *   we); our hash is not OVS's
 *   (dp_packet_get_rss_hash in OVS, packet_hash.ts here), so those two
 *   bytes and the UDP checksum (which covers them) are masked. We check
 *   instead that our port is in OVS's default range 32768..61000 and that
 *   our UDP checksum (when not zero) is valid.
 * - A masked set() whose key has bits outside its mask: OVS applies
 *   `key | (old & ~mask)` with the key as given, so those bits are ORed into
 *   the packet; deno-dpif ANDs the key with the mask when compiling
 *   (execute/set_field.ts), so only masked bits change. ofproto never emits
 *   such keys; dpctl lets a user type them. For these cases
 *   ({@linkcode SAME_AS}) we assert that our frames equal OVS's frames for
 *   the same action with the key pre-masked, and differ from OVS's here.
 * - Cases OVS refused to install (its dpctl cannot parse push_mpls /
 *   pop_mpls) carry `refused` and are only listed, not compared.
 * - Actions OVS runs that deno-dpif does not implement yet
 *   ({@linkcode UNSUPPORTED}: `sample`): we check that putFlow refuses the
 *   flow with an OdpSyntaxError naming the action.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Datapath } from "../datapath/datapath.ts";
import { OdpSyntaxError } from "../datapath/errors.ts";
import { bytesToHex, finishChecksum, hexToBytes, onesSum } from "./fixtures/packets.ts";

interface RecordedCase {
  name: string;
  flows: { flow: string; actions: string }[];
  ports: { name: string; port_no: number; type: string; options?: Record<string, string> }[];
  input: { port: number; hex: string }[];
  outputs: { port: number; hex: string[] }[];
  refused?: string;
  note?: string;
}

const CASES: RecordedCase[] = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/ovs_differential.json", import.meta.url)),
);

/** OVS's default range for a hashed tunnel UDP source port (tnl_udp_port_min/max). */
const SRC_PORT_MIN = 32768;
const SRC_PORT_MAX = 61000;

/**
 * Deliberate differences: a case whose frames must equal the recorded OVS
 * frames of another case (the same action with its key ANDed with its mask).
 */
const SAME_AS: Record<string, string> = {
  "masked set eth, key bits outside the mask": "masked set eth",
  "masked set ipv4, key bits outside the mask": "masked set ipv4",
};

/** Cases with an action deno-dpif does not implement: case name -> action named in the error. */
const UNSUPPORTED: Record<string, string> = {
  "sample 100%": "sample",
};

/** Builds a datapath with the case's ports, puts its flows and receives its frames. */
function replay(c: RecordedCase): Datapath {
  const dp = new Datapath("ovsdiff");
  for (const p of c.ports) {
    dp.addPort({ name: p.name, type: p.type, port_no: p.port_no, options: p.options ?? {} });
  }
  for (const f of c.flows) dp.putFlow({ flow: f.flow, actions: f.actions });
  for (const input of c.input) {
    assert.ok(dp.receive(input.port, hexToBytes(input.hex)), `port ${input.port} took the frame`);
  }
  return dp;
}

/**
 * Whether the case pushes a UDP tunnel (VXLAN or Geneve, header types 4
 * and 5): OVS hashes the source port whatever the template says.
 */
function hashedSourcePort(c: RecordedCase): boolean {
  return c.flows.some((f) => /tnl_push\(.*header\(size=\d+,type=[45],/.test(f.actions));
}

/**
 * For an Ethernet + IPv4 or IPv6 + UDP frame: checks our source port range
 * and UDP checksum, then returns a copy of both frames with the source port
 * and checksum zeroed.
 */
function maskHashedPort(ours: Uint8Array, theirs: Uint8Array): [Uint8Array, Uint8Array] {
  const ethType = (ours[12] << 8) | ours[13];
  assert.ok(ethType === 0x0800 || ethType === 0x86dd, "outer header is IPv4 or IPv6");
  const ipv6 = ethType === 0x86dd;
  assert.equal(ours[ipv6 ? 20 : 23], 17, "outer protocol is UDP");
  const udp = ipv6 ? 54 : 14 + (ours[14] & 0x0f) * 4;
  const srcPort = (ours[udp] << 8) | ours[udp + 1];
  assert.ok(
    srcPort >= SRC_PORT_MIN && srcPort <= SRC_PORT_MAX,
    `hashed UDP source port ${srcPort} in ${SRC_PORT_MIN}..${SRC_PORT_MAX}`,
  );
  const checksum = (ours[udp + 6] << 8) | ours[udp + 7];
  const theirsChecksum = (theirs[udp + 6] << 8) | theirs[udp + 7];
  assert.equal(checksum === 0, theirsChecksum === 0, "UDP checksum present in both or neither");
  if (checksum !== 0) {
    const addresses = ipv6 ? ours.subarray(22, 54) : ours.subarray(26, 34);
    const pseudo = onesSum(addresses) + 17 + (ours.length - udp);
    assert.equal(
      finishChecksum(onesSum(ours.subarray(udp), pseudo)),
      0,
      "our UDP checksum is valid",
    );
  }
  const a = ours.slice();
  const b = theirs.slice();
  for (const frame of [a, b]) frame.fill(0, udp, udp + 2).fill(0, udp + 6, udp + 8);
  return [a, b];
}

for (const c of CASES) {
  const title = `ovs differential: ${c.name}`;
  if (c.refused !== undefined) {
    Deno.test({ name: `${title} (refused by OVS, not compared)`, ignore: true, fn() {} });
    continue;
  }
  const reference = SAME_AS[c.name] === undefined
    ? c
    : CASES.find((other) => other.name === SAME_AS[c.name])!;
  if (UNSUPPORTED[c.name] !== undefined) {
    Deno.test(`${title} (not supported here: refused)`, () => {
      const dp = new Datapath("ovsdiff");
      assert.throws(
        () => dp.putFlow(c.flows[0]),
        (e: unknown) =>
          e instanceof OdpSyntaxError && e.message.includes(`'${UNSUPPORTED[c.name]}'`),
      );
    });
    continue;
  }
  Deno.test(title, () => {
    const dp = replay(c);
    const masked = hashedSourcePort(c);
    if (reference !== c) {
      const ours = dp.dummyPort(2).transmitted().map(bytesToHex);
      assert.notDeepEqual(
        ours,
        c.outputs.find((o) => o.port === 2)!.hex,
        "OVS ORed the extra bits",
      );
    }
    for (const expected of reference.outputs) {
      const ours = dp.dummyPort(expected.port).transmitted();
      assert.equal(ours.length, expected.hex.length, `frames sent on port ${expected.port}`);
      ours.forEach((frame, i) => {
        let a = frame;
        let b = hexToBytes(expected.hex[i]);
        if (masked) [a, b] = maskHashedPort(a, b);
        assert.equal(bytesToHex(a), bytesToHex(b), `frame ${i} on port ${expected.port}`);
      });
    }
    assert.equal(dp.pool.inUse(), 0, "no leaked packet buffers");
  });
}

Deno.test("ovs differential: the recording covers every action family", () => {
  const compared = CASES.filter((c) => c.refused === undefined && !(c.name in UNSUPPORTED));
  const actions = compared.flatMap((c) => c.flows.map((f) => f.actions)).join(" ");
  for (
    const word of ["set(ipv4", "set(ipv6", "set(eth", "set(udp", "set(tcp", "push_vlan", "pop_vlan"]
  ) {
    assert.ok(actions.includes(word), word);
  }
  for (const word of ["tnl_push", "tnl_pop", "trunc", "check_pkt_len"]) {
    assert.ok(actions.includes(word), word);
  }
  assert.ok(
    compared.every((c) => c.outputs.some((o) => o.hex.length > 0)),
    "every case transmitted",
  );
  assert.ok(compared.length >= 20);
});
