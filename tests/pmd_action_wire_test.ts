/** The PMD ring's action list encoding (datapath/pmd_action_wire.ts): exact round trips. */

import assert from "node:assert/strict";
import { parseActions } from "../datapath/odp/action_parse.ts";
import { decodeActionList, encodeActionList } from "../datapath/pmd_action_wire.ts";

const LISTS = [
  "2",
  "drop",
  "set(eth(src=02:00:00:00:01:2c,dst=02:00:01:02:03:04)),2",
  "set(ipv4(src=10.1.2.3,ttl=9)),3",
  "set(ipv4(src=10.1.2.3/255.255.0.0)),set(tcp(dst=80)),2,3",
  "push_vlan(vid=10,pcp=3),2,pop_vlan,4",
  "clone(set(ipv4(ttl=3)),2),3",
  "check_pkt_len(size=200,gt(2),le(set(eth(dst=02:00:00:00:00:01)),3))",
  "userspace(pid=7,userdata(0a0b0c)),2",
  "hash(l4(5)),recirc(9)",
  "tnl_push(tnl_port(4789),header(size=50,type=4,eth(dst=02:00:00:00:00:02," +
  "src=02:00:00:00:00:01,dl_type=0x0800),ipv4(src=192.168.1.1,dst=192.168.1.2,proto=17," +
  "tos=0,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000," +
  "vni=0x64)),out_port(1))",
];

Deno.test("action wire: every list comes back equal to what was encoded", () => {
  for (const text of LISTS) {
    const actions = parseActions(text);
    const bytes = encodeActionList(actions);
    assert.deepEqual(decodeActionList(bytes), actions, text);
  }
});

Deno.test("action wire: output and plain set use the short forms", () => {
  const text = new TextDecoder().decode(
    encodeActionList(parseActions("set(eth(dst=02:00:01:02:03:04)),2")),
  );
  assert.match(text, /^\[\["s",0,64,/);
  assert.match(text, /\["o",2\]\]$/);
  assert.ok(text.length < 80, `short: ${text}`);
});

Deno.test("action wire: bytes it did not make are refused with a clear error", () => {
  const enc = new TextEncoder();
  assert.throws(() => decodeActionList(enc.encode("{")), SyntaxError);
  assert.throws(() => decodeActionList(enc.encode('{"a":1}')), /not an array/);
  assert.throws(() => decodeActionList(enc.encode("[1]")), /not an array/);
  assert.throws(() => decodeActionList(enc.encode('[["x"]]')), /unknown entry kind "x"/);
});
