import assert from "node:assert/strict";
import type { Action, SetAction } from "../datapath/action.ts";
import { OdpSyntaxError } from "../datapath/errors.ts";
import {
  W_ETH_DST_HI,
  W_ETH_DST_LO,
  W_ETH_TYPE,
  W_NW_PROTO_TOS_TTL_FRAG,
  W_NW_SRC,
  W_SKB_MARK,
  W_TP,
  W_TUN_ID_HI,
  W_TUN_ID_LO,
  W_TUN_TOS_TTL_FLAGS,
} from "../datapath/flow_key.ts";
import { parseActions } from "../datapath/odp/action_parse.ts";
import { formatActions } from "../datapath/odp/action_format.ts";
import { actionsFromJson, actionsToJson } from "../datapath/odp/action_json.ts";

const ETH = "eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x0800)";
const IP4 = "ipv4(src=1.1.2.88,dst=1.1.2.92,proto=17,tos=0,ttl=64,frag=0x4000)";
const IP6 = "ipv6(src=2001:cafe::88,dst=2001:cafe::92,label=0,proto=17,tclass=0x0,hlimit=64)";
const ETH6 = ETH.replace("0x0800", "0x86dd");

const VXLAN4 =
  `tnl_push(tnl_port(6),header(size=50,type=4,${ETH},${IP4},udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x1c7)),out_port(1))`;

/** Action strings exactly as OVS prints them (tests/odp.at, tests/tunnel-push-pop.at). */
const OVS_STRINGS = [
  "1,2,3",
  "tnl_pop(4)",
  "trunc(100)",
  "clone(1)",
  "clone(clone(push_vlan(vid=12,pcp=0),2),1)",
  "push_vlan(vid=12,pcp=0)",
  "push_vlan(tpid=0x9100,vid=13,pcp=5)",
  "pop_vlan",
  "userspace(pid=1234567,userdata(0102030405060708090a0b0c0d0e0f),actions)",
  "userspace(pid=1234567,userdata(0102030405060708090a0b0c0d0e0f),tunnel_out_port=10)",
  "set(eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15))",
  "set(eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15/ff:ff:ff:00:00:00))",
  "set(ipv4(src=35.8.2.41,dst=172.16.0.20,proto=5,tos=0x80,ttl=128,frag=no))",
  "set(ipv4(src=35.8.2.41,dst=172.16.0.20,proto=5,ttl=128,frag=no))",
  "set(ipv4(src=35.8.2.41/255.255.255.0,dst=172.16.0.20,proto=5,tos=0x80,ttl=128,frag=no))",
  "set(ipv4(src=35.8.2.41/255.255.255.0,tos=0x80,ttl=128,frag=no))",
  "set(ipv4(tos=0/0x3))",
  "set(ipv4(tos=0x80/0xfc))",
  "set(ipv4(ttl=128,frag=no))",
  "set(tcp(src=80,dst=8080))",
  "set(tcp(src=80/0xff00,dst=8080))",
  "set(tcp(dst=8080))",
  "set(udp(src=81/0xff00,dst=6632))",
  "set(sctp(src=82,dst=6633))",
  "set(icmp(type=1,code=2))",
  "set(ipv6(src=::1,dst=::2,label=0,proto=10,tclass=0x70,hlimit=128,frag=no))",
  "set(ipv6(label=0/0xfff,proto=10,tclass=0x70/0x70))",
  "set(icmpv6(type=1,code=2))",
  "set(tunnel(tun_id=0xabcdef1234567890,src=1.1.1.1,dst=2.2.2.2,ttl=64,flags(df|csum|key)))",
  "set(tunnel(tun_id=0xabcdef1234567890,src=1.1.1.1,dst=2.2.2.2,ttl=64,flags(key)))",
  `tnl_push(tnl_port(4),header(size=42,type=3,${ETH},${
    IP4.replace("proto=17", "proto=47")
  },gre((flags=0x2000,proto=0x6558),key=0x1e241)),out_port(1))`,
  `tnl_push(tnl_port(4),header(size=46,type=3,${ETH},${
    IP4.replace("proto=17", "proto=47")
  },gre((flags=0xa000,proto=0x6558),csum=0x0,key=0x1e241)),out_port(1))`,
  VXLAN4,
  `tnl_push(tnl_port(6),header(size=50,type=5,${ETH},${IP4},udp(src=0,dst=6081,csum=0x0),geneve(oam,vni=0x1c7)),out_port(1))`,
  `tnl_push(tnl_port(6),header(size=58,type=5,${ETH},${IP4},udp(src=0,dst=6081,csum=0x0),geneve(crit,vni=0x1c7,options({class=0xffff,type=0x80,len=4,0xa}))),out_port(1))`,
  `tnl_push(tnl_port(6),header(size=50,type=5,${ETH},${IP4},udp(src=0,dst=6081,csum=0xffff),geneve(vni=0x1c7)),out_port(1))`,
  `tnl_push(tnl_port(6),header(size=70,type=4,${ETH6},${IP6},udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x1c7)),out_port(1))`,
  `tnl_push(tnl_port(6),header(size=78,type=5,${ETH6},${IP6},udp(src=0,dst=6081,csum=0x0),geneve(crit,vni=0x1c7,options({class=0xffff,type=0x80,len=4,0xa}))),out_port(1))`,
  "set(skb_mark(0x4d2)),clone(tnl_push(tnl_port(6081),header(size=50,type=5,eth(dst=f8:bc:12:44:34:b7,src=aa:55:aa:55:00:00,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.93,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0x0),geneve(vni=0xea)),out_port(100)),1)",
  "clone(tnl_push(tnl_port(4789),header(size=50,type=4,eth(dst=f8:bc:12:44:34:b6,src=aa:55:aa:55:00:00,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0xc000003,vni=0x159)),out_port(100)),1)",
  // Forms OVS prints that odp.at does not list.
  "recirc(0x1)",
  "recirc(0)",
  "hash(l4(0))",
  "hash(sym_l4(42))",
  "push_mpls(label=100,tc=3,ttl=64,bos=1,eth_type=0x8847)",
  "pop_mpls(eth_type=0x800)",
  "check_pkt_len(size=200,gt(4),le(5))",
  "check_pkt_len(size=200,gt(drop),le(set(ipv4(ttl=1)),5,6))",
  "drop",
];

Deno.test("OVS-printed action strings: format(parse(s)) == s and parse(format(a)) == a", () => {
  for (const text of OVS_STRINGS) {
    const actions = parseActions(text);
    assert.equal(formatActions(actions), text);
    assert.deepEqual(parseActions(formatActions(actions)), actions, text);
  }
});

Deno.test("outputs, drop and separators", () => {
  assert.deepEqual(parseActions("2,3"), [{ type: "output", port: 2 }, { type: "output", port: 3 }]);
  assert.deepEqual(parseActions(" 2, \t3 "), parseActions("2,3"));
  assert.deepEqual(parseActions("output(7),0x10"), [{ type: "output", port: 7 }, {
    type: "output",
    port: 16,
  }]);
  assert.equal(formatActions(parseActions("output(7)")), "7");
  assert.deepEqual(parseActions(""), []);
  assert.deepEqual(parseActions("drop"), [{ type: "drop" }]);
  assert.equal(formatActions([]), "drop");
  assert.deepEqual(parseActions("4294967295"), [{ type: "output", port: 0xffffffff }]);
});

Deno.test("simple actions parse into the union", () => {
  const cases: Array<[string, Action]> = [
    ["push_vlan(vid=10,pcp=3)", { type: "push_vlan", tpid: 0x8100, vid: 10, pcp: 3 }],
    ["push_vlan(tpid=0x88a8,vid=4095,pcp=7,cfi=1)", {
      type: "push_vlan",
      tpid: 0x88a8,
      vid: 4095,
      pcp: 7,
    }],
    ["pop_vlan", { type: "pop_vlan" }],
    ["tnl_pop(4789)", { type: "tnl_pop", port: 4789 }],
    ["recirc(0x1c)", { type: "recirc", id: 28 }],
    ["recirc(28)", { type: "recirc", id: 28 }],
    ["hash(sym_l4(7))", { type: "hash", algorithm: "sym_l4", basis: 7 }],
    ["trunc(64)", { type: "trunc", maxLength: 64 }],
    ["pop_mpls(eth_type=0x86dd)", { type: "pop_mpls", ethType: 0x86dd }],
    ["push_mpls(label=1048575,tc=7,ttl=255,bos=0,eth_type=0x8848)", {
      type: "push_mpls",
      label: 0xfffff,
      tc: 7,
      ttl: 255,
      bos: 0,
      ethType: 0x8848,
    }],
    ["userspace(pid=5)", {
      type: "userspace",
      pid: 5,
      userdata: null,
      tunnelOutPort: null,
      actions: false,
    }],
    ["userspace(pid=5,userdata(),actions,tunnel_out_port=3)", {
      type: "userspace",
      pid: 5,
      userdata: new Uint8Array(0),
      tunnelOutPort: 3,
      actions: true,
    }],
    ["clone(pop_vlan,2)", {
      type: "clone",
      actions: [{ type: "pop_vlan" }, { type: "output", port: 2 }],
    }],
    ["check_pkt_len(size=1500,gt(drop),le(1))", {
      type: "check_pkt_len",
      size: 1500,
      greater: [],
      lessEqual: [{ type: "output", port: 1 }],
    }],
  ];
  for (const [text, action] of cases) assert.deepEqual(parseActions(text), [action], text);
  assert.equal(formatActions(parseActions("recirc(28)")), "recirc(0x1c)");
  assert.equal(
    formatActions(parseActions("push_vlan(tpid=0x88a8,vid=1,pcp=0)")),
    "push_vlan(tpid=0x88a8,vid=1,pcp=0)",
  );
});

Deno.test("tnl_push carries the port numbers, type and template", () => {
  const [action] = parseActions(VXLAN4);
  assert.equal(action.type, "tnl_push");
  if (action.type !== "tnl_push") return;
  assert.equal(action.tunnelPort, 6);
  assert.equal(action.outPort, 1);
  assert.equal(action.headerType, 4);
  assert.equal(action.header.length, 50);
  assert.equal(action.header[14 + 20 + 8 + 6], 0xc7, "VNI low byte");
});

function setOf(text: string): SetAction {
  const [action] = parseActions(text);
  assert.equal(action.type, "set");
  return action as SetAction;
}

Deno.test("set: named fields get values and full masks, partial masks make it masked", () => {
  const ipv4 = setOf("set(ipv4(src=10.0.0.1,ttl=9))");
  assert.equal(ipv4.masked, false);
  assert.equal(ipv4.key[W_NW_SRC], 0x0a000001);
  assert.equal(ipv4.mask[W_NW_SRC], 0xffffffff);
  assert.equal(ipv4.mask[W_NW_PROTO_TOS_TTL_FRAG], 0xff00);
  assert.equal((ipv4.key[W_NW_PROTO_TOS_TTL_FRAG] >>> 8) & 0xff, 9);
  assert.equal(ipv4.key[W_ETH_TYPE], 0x0800, "context: IPv4");
  assert.equal(ipv4.mask[W_ETH_TYPE], 0, "context is outside the mask");

  const partial = setOf("set(ipv4(src=10.0.0.1/255.255.0.0))");
  assert.equal(partial.masked, true);
  assert.equal(partial.mask[W_NW_SRC], 0xffff0000);

  const tcp = setOf("set(tcp(dst=443))");
  assert.equal(tcp.key[W_TP] & 0xffff, 443);
  assert.equal(tcp.mask[W_TP], 0xffff);
  assert.equal(tcp.key[W_NW_PROTO_TOS_TTL_FRAG] >>> 24, 6, "context: TCP");

  const eth = setOf("set(eth(dst=01:02:03:04:05:06))");
  assert.equal(eth.key[W_ETH_DST_HI], 0x01020304);
  assert.equal(eth.key[W_ETH_DST_LO], 0x0506);
  assert.equal(eth.mask[W_ETH_DST_LO], 0xffff);

  const mark = setOf("set(skb_mark(0x10/0xf0))");
  assert.equal(mark.masked, true);
  assert.equal(mark.mask[W_SKB_MARK], 0xf0);
  assert.equal(formatActions([mark]), "set(skb_mark(0x10/0xf0))");

  const tunnel = setOf("set(tunnel(tun_id=0x1,dst=1.1.1.1,tos=0x8,ttl=64,flags(df|key)))");
  assert.equal(tunnel.key[W_TUN_ID_HI], 0);
  assert.equal(tunnel.key[W_TUN_ID_LO], 1);
  assert.equal(tunnel.key[W_TUN_TOS_TTL_FLAGS], (0x08 << 24 | 64 << 16 | 0x1 | 0x4) >>> 0);
  assert.equal(
    formatActions([tunnel]),
    "set(tunnel(tun_id=0x1,dst=1.1.1.1,tos=0x8,ttl=64,flags(df|key)))",
  );
});

Deno.test("set formatting refuses masks it cannot name", () => {
  const tcp = setOf("set(tcp(dst=443))");
  const noContext = { ...tcp, key: tcp.key.slice() };
  noContext.key[W_NW_PROTO_TOS_TTL_FRAG] = 0;
  assert.throws(() => formatActions([noContext]), RangeError);
  const twoAttributes = { ...tcp, mask: tcp.mask.slice() };
  twoAttributes.mask[W_SKB_MARK] = 1;
  assert.throws(() => formatActions([twoAttributes]), /exactly one/);
  assert.throws(() => formatActions([{ ...tcp, mask: new Uint32Array(64) }]), RangeError);
});

function assertSyntaxError(text: string, token: string, message: RegExp): void {
  assert.throws(() => parseActions(text), (e: unknown) => {
    assert.ok(e instanceof OdpSyntaxError, `${text}: ${e}`);
    assert.equal(e.token, token, `${text}: token (${e.message})`);
    if (token !== "") assert.equal(text.slice(e.position, e.position + token.length), token, text);
    else assert.equal(e.position, text.length);
    assert.match(e.message, message);
    assert.match(e.message, new RegExp(`position ${e.position}`));
    return true;
  });
}

Deno.test("errors name the token and its position", () => {
  assertSyntaxError("1,ct(commit),2", "ct", /unsupported action 'ct'/);
  assertSyntaxError("2,meter(1)", "meter", /unsupported action 'meter'/);
  assertSyntaxError("sample(sample=9.7%,actions(1))", "sample", /unsupported action 'sample'/);
  assertSyntaxError("1,frobnicate(3)", "frobnicate", /unknown action 'frobnicate'/);
  assertSyntaxError("1x", "x", /expected ','/);
  assertSyntaxError("4294967296", "4294967296", /out of range/);
  assertSyntaxError("push_vlan(vid=4096,pcp=0)", "4096", /vid out of range/);
  assertSyntaxError("push_vlan(vid=13,pcp=5,cfi=0)", "0", /cfi=0/);
  assertSyntaxError("clone(1,2", "", /unterminated clone/);
  assertSyntaxError("trunc(100", "", /expected '\)'/);
  assertSyntaxError("hash(l3(1))", "l3", /unsupported hash algorithm/);
  assertSyntaxError(
    "userspace(pid=1,sFlow(vid=9,pcp=7,output=10))",
    "sFlow",
    /unsupported userspace cookie 'sFlow'/,
  );
  assertSyntaxError("userspace(pid=1,userdata(abc))", "abc", /hex/);
  assertSyntaxError("set(vlan(vid=5))", "vlan", /unsupported set attribute 'vlan'/);
  assertSyntaxError(
    "set(ipv4(src=1.2.3.4,color=5))",
    "color",
    /unknown or unsupported field 'color'/,
  );
  assertSyntaxError("set(ipv4(src=1.2.3.4,src=1.2.3.5))", "src", /given twice/);
  assertSyntaxError("set(ipv4(src=1.2.3))", "1.2.3", /not an IPv4 address/);
  assertSyntaxError("set(tcp(src=65536))", "65536", /out of range/);
  assertSyntaxError("set(tunnel(flags(df|bogus)))", "bogus", /unknown tunnel flag/);
  assertSyntaxError(
    "push_mpls(label=1,tc=0,ttl=1,bos=1,eth_type=0x800)",
    "0x800",
    /0x8847 or 0x8848/,
  );
  assertSyntaxError("check_pkt_len(size=100,gt(1))", ")", /expected ',le\('/);
  assertSyntaxError(
    "tnl_push(tnl_port(6),header(size=51" + VXLAN4.slice(VXLAN4.indexOf(",type=")),
    "51",
    /50 bytes/,
  );
  assertSyntaxError("clone(".repeat(40) + "1" + ")".repeat(40), "clone", /nested deeper/);
});

Deno.test("JSON round trips every action kind", () => {
  const actions = OVS_STRINGS.flatMap((s) => parseActions(s));
  actions.push(...parseActions("userspace(pid=5),output(3),set(skb_mark(0x10/0xf0))"));
  const json = actionsToJson(actions);
  const viaText = JSON.parse(JSON.stringify(json));
  assert.deepEqual(viaText, json, "the JSON form survives stringify");
  assert.deepEqual(actionsFromJson(viaText), actions);
  const kinds = new Set(actions.map((a) => a.type));
  for (
    const kind of [
      "output",
      "set",
      "push_vlan",
      "pop_vlan",
      "tnl_push",
      "tnl_pop",
      "userspace",
      "recirc",
      "hash",
      "clone",
      "trunc",
      "push_mpls",
      "pop_mpls",
      "check_pkt_len",
      "drop",
    ]
  ) assert.ok(kinds.has(kind as Action["type"]), kind);
});

Deno.test("JSON form is structured", () => {
  const json = actionsToJson(parseActions(VXLAN4 + ",set(ipv4(src=10.0.0.1/255.0.0.0))"));
  assert.deepEqual(json[0], {
    type: "tnl_push",
    tunnelPort: 6,
    outPort: 1,
    header: {
      size: 50,
      type: 4,
      eth: { dst: "f8:bc:12:44:34:b6", src: "f8:bc:12:46:58:e0", dlType: 0x0800 },
      ipv4: { src: "1.1.2.88", dst: "1.1.2.92", proto: 17, tos: 0, ttl: 64, frag: 0x4000 },
      udp: { src: 0, dst: 4789, csum: 0 },
      vxlan: { flags: 0x8000000, vni: 0x1c7 },
    },
  });
  assert.deepEqual(json[1], {
    type: "set",
    masked: true,
    attribute: "ipv4(src=10.0.0.1/255.0.0.0)",
  });
});

Deno.test("bad JSON fails with a TypeError naming the path", () => {
  const good = actionsToJson(parseActions(VXLAN4));
  const cases: Array<[unknown, RegExp]> = [
    [{ type: "output", port: 1 }, /^\$: expected an array/],
    [[{ type: "teleport" }], /^\$\[0\]\.type: expected one of/],
    [[{ type: "output", port: -1 }], /^\$\[0\]\.port: expected an integer/],
    [[{ type: "output", port: 1, extra: 2 }], /^\$\[0\]\.extra: unknown field/],
    [
      [{ type: "clone", actions: [{ type: "trunc", maxLength: "64" }] }],
      /^\$\[0\]\.actions\[0\]\.maxLength/,
    ],
    [
      [{ type: "set", attribute: "vlan(vid=1)" }],
      /^\$\[0\]\.attribute: unsupported set attribute 'vlan'.*offset 0/,
    ],
    [[{ type: "set", masked: true, attribute: "tcp(src=1)" }], /^\$\[0\]\.masked: does not match/],
    [[{ type: "userspace", pid: 1, userdata: "xyz" }], /^\$\[0\]\.userdata/],
    [[{ type: "hash", algorithm: "l3", basis: 0 }], /^\$\[0\]\.algorithm/],
    [[{ type: "push_mpls", label: 1, tc: 0, ttl: 1, bos: 1, ethType: 0x800 }], /^\$\[0\]\.ethType/],
  ];
  const withHeader = (mutate: (header: Record<string, Record<string, unknown>>) => void) => {
    const copy = JSON.parse(JSON.stringify(good));
    mutate(copy[0].header);
    return copy;
  };
  cases.push([withHeader((h) => (h.ipv4.ttl = 256)), /^\$\[0\]\.header\.ipv4\.ttl/]);
  cases.push([withHeader((h) => (h.eth.dst = "nope")), /^\$\[0\]\.header: 'nope' is not a MAC/]);
  cases.push([
    withHeader((h) => (h.size = 51 as unknown as Record<string, unknown>)),
    /^\$\[0\]\.header\.size: 51/,
  ]);
  cases.push([withHeader((h) => delete h.vxlan), /^\$\[0\]\.header: type 4 \(vxlan\) needs vxlan/]);
  for (const [json, message] of cases) {
    assert.throws(() => actionsFromJson(json), (e: unknown) => {
      assert.ok(e instanceof TypeError, `${JSON.stringify(json)}: ${e}`);
      assert.match(e.message, message);
      return true;
    });
  }
});
