/**
 * The regression corpus: every input a fuzzer ever failed on, with the bug
 * it found, replayed by tests/fuzz_test.ts. Add a case here (verbatim from
 * the fuzzer's `input:` line) whenever a fuzzer finds something.
 *
 * @module
 */

import type { ApiCase } from "./api_target.ts";
import type { OdpCase } from "./odp_target.ts";
import type { PacketCase } from "./packet_case.ts";

/** One regression: the target, what it found, and the input. */
export type Regression =
  | { target: "odp"; bug: string; input: OdpCase }
  | { target: "api"; bug: string; input: ApiCase }
  | { target: "packets"; bug: string; input: PacketCase };

const ZERO_MASK_BUG = "a set() field with an all-zero mask parsed, then formatActions threw " +
  "RangeError (flow dumps of such a flow failed) or the JSON form disagreed on `masked`";

const PROTO_BUG = "flow key attribute names matched Object.prototype members " +
  "(toString, constructor, valueOf, __proto__): a crash instead of 'unknown attribute'";

/** Every regression case, oldest first. */
export const REGRESSIONS: readonly Regression[] = [
  // odp seed=1 iteration=723: JSON round trip threw TypeError "$[0].masked: does not match".
  {
    target: "odp",
    bug: ZERO_MASK_BUG,
    input: { kind: "actions", text: "set(icmp(type=0/0,code=3)),2" },
  },
  // odp seed=1 iteration=2371: formatActions threw RangeError.
  { target: "odp", bug: ZERO_MASK_BUG, input: { kind: "actions", text: "set(mpls(ttl=0/0)),47" } },
  // odp seed=1 iteration=3882.
  {
    target: "odp",
    bug: ZERO_MASK_BUG,
    input: { kind: "actions", text: "set(eth(dst=00:00:00:00:00:77/00:00:00:00:00:0)),2" },
  },
  // odp seed=1 iteration=4600.
  {
    target: "odp",
    bug: ZERO_MASK_BUG,
    input: { kind: "actions", text: "set(tcp(src=0/0)),userspace(pid=286)" },
  },
  { target: "odp", bug: ZERO_MASK_BUG, input: { kind: "actions", text: "set(skb_mark(0x5/0))" } },
  // The same through the API: the put must be refused, and the flow dump must keep working.
  {
    target: "api",
    bug: ZERO_MASK_BUG,
    input: {
      method: "POST",
      path: "/v1/datapaths/dp0/flows",
      body:
        '{"flow":"in_port(3),eth(),eth_type(0x0800),ipv4(proto=6,frag=no),tcp()","actions":"set(tcp(src=0/0)),2"}',
    },
  },
  // odp seed=1 iteration=25 (JSON form) and the same names in text: attribute names were
  // looked up with `in`, so Object.prototype members ("toString", "constructor", ...) passed as
  // known attributes and crashed with "Cannot convert undefined to a BigInt" (a TypeError the
  // API turned into a 400 with an engine message).
  { target: "odp", bug: PROTO_BUG, input: { kind: "key", text: "toString(1)" } },
  { target: "odp", bug: PROTO_BUG, input: { kind: "key", text: "in_port(1),valueOf(0)" } },
  { target: "odp", bug: PROTO_BUG, input: { kind: "key", text: "__proto__(1)" } },
  {
    target: "odp",
    bug: PROTO_BUG,
    input: { kind: "key_json", text: '{"recirc_id":"0","hasOwnProperty":0}' },
  },
  {
    target: "odp",
    bug: PROTO_BUG,
    input: { kind: "key_json", text: '{"eth":{},"vlan":{"vid":1},"encap":{"valueOf":4294967296}}' },
  },
  {
    target: "api",
    bug: PROTO_BUG,
    input: {
      method: "POST",
      path: "/v1/datapaths/dp0/flows",
      body: '{"flow":"in_port(1),constructor(1)","actions":"2"}',
    },
  },
  {
    target: "api",
    bug: PROTO_BUG,
    input: {
      method: "POST",
      path: "/v1/datapaths/dp0/execute",
      body: '{"packet":"00","actions":"2","metadata":{"toString":1}}',
    },
  },
  // packets[dpdk] seed=1 iteration=0 (harness): zero-length frames and outputs back to the input port.
  {
    target: "packets",
    bug:
      "zero-length frames are refused by the sending peer; output to port 1 goes back to the peer",
    input: {
      exact: true,
      upcalls: true,
      flows: [{
        flow: "recirc_id(0),in_port(1),eth(),eth_type(0x1234/0)",
        actions:
          "push_vlan(vid=4094,pcp=0),pop_vlan,push_mpls(label=0,tc=0,ttl=202,bos=1,eth_type=0x8847),1",
      }],
      frames: [
        "",
        "00",
        "000000000002000000000001",
        "0000000000020000000000018100",
        "00000000000200000000000186dd60",
      ],
      executes: [],
    },
  },
];
