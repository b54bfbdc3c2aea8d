import assert from "node:assert/strict";
import { OdpScanner } from "../datapath/odp/scanner.ts";
import {
  buildTunnelHeader,
  decodeTunnelHeader,
  formatTunnelHeader,
  parseTunnelHeaderText,
} from "../datapath/odp/tunnel_header_text.ts";
import { TUNNEL_TYPE_GENEVE, TUNNEL_TYPE_GRE, TUNNEL_TYPE_VXLAN } from "../datapath/action.ts";
import { OdpSyntaxError } from "../datapath/errors.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function parseHeader(text: string) {
  const cursor = new OdpScanner(text);
  const result = parseTunnelHeaderText(cursor);
  assert.equal(cursor.pos, text.length, "the whole header text is consumed");
  return result;
}

// From OVS tests/tunnel-push-pop.at ("Check VXLAN tunnel push").
const VXLAN_IPV4 = "header(size=50,type=4,eth(dst=f8:bc:12:44:34:b6,src=aa:55:aa:55:00:00," +
  "dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=17,tos=0,ttl=64,frag=0x4000)," +
  "udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x7b))";
// Hand-built: Ethernet | IPv4 (checksum 0x3438 over the template with total length 0) | UDP | VXLAN.
const VXLAN_IPV4_HEX = "f8bc124434b6" + "aa55aa550000" + "0800" +
  "4500" + "0000" + "0000" + "4000" + "4011" + "3438" + "01010258" + "0101025c" +
  "0000" + "12b5" + "0000" + "0000" +
  "08000000" + "00007b00";

// From OVS tests/odp.at (Geneve over IPv6 with one option).
const GENEVE_IPV6 = "header(size=78,type=5,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0," +
  "dl_type=0x86dd),ipv6(src=2001:cafe::88,dst=2001:cafe::92,label=0,proto=17,tclass=0x0," +
  "hlimit=64),udp(src=0,dst=6081,csum=0x0),geneve(crit,vni=0x1c7," +
  "options({class=0xffff,type=0x80,len=4,0xa})))";
const GENEVE_IPV6_HEX = "f8bc124434b6" + "f8bc124658e0" + "86dd" +
  "60000000" + "0000" + "11" + "40" +
  "2001cafe000000000000000000000088" + "2001cafe000000000000000000000092" +
  "0000" + "17c1" + "0000" + "0000" +
  "02" + "40" + "6558" + "0001c7" + "00" +
  "ffff" + "80" + "01" + "0000000a";

const GRE_ALL = "header(size=50,type=3,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0," +
  "dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=47,tos=0,ttl=64,frag=0x4000)," +
  "gre((flags=0xb000,proto=0x6558),csum=0x0,key=0x1e241,seq=0x5))";
const GRE_ALL_HEX = "f8bc124434b6" + "f8bc124658e0" + "0800" +
  "4500" + "0000" + "0000" + "4000" + "402f" + "341a" + "01010258" + "0101025c" +
  "b000" + "6558" + "00000000" + "0001e241" + "00000005";

Deno.test("VXLAN over IPv4: exact template bytes and text round trip", () => {
  const { type, header } = parseHeader(VXLAN_IPV4);
  assert.equal(type, TUNNEL_TYPE_VXLAN);
  assert.equal(hex(header), VXLAN_IPV4_HEX);
  assert.equal(formatTunnelHeader(type, header), VXLAN_IPV4);
});

Deno.test("Geneve over IPv6 with an option: exact template bytes and text round trip", () => {
  const { type, header } = parseHeader(GENEVE_IPV6);
  assert.equal(type, TUNNEL_TYPE_GENEVE);
  assert.equal(hex(header), GENEVE_IPV6_HEX);
  assert.equal(formatTunnelHeader(type, header), GENEVE_IPV6);
});

Deno.test("GRE with csum, key and seq: exact template bytes and text round trip", () => {
  const { type, header } = parseHeader(GRE_ALL);
  assert.equal(type, TUNNEL_TYPE_GRE);
  assert.equal(hex(header), GRE_ALL_HEX);
  assert.equal(formatTunnelHeader(type, header), GRE_ALL);
});

Deno.test("Geneve options: several TLVs, longer data, zero data and no data print as OVS does", () => {
  const text = "header(size=74,type=5,eth(dst=00:00:00:00:00:01,src=00:00:00:00:00:02," +
    "dl_type=0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0x10,ttl=255,frag=0x0)," +
    "udp(src=1234,dst=6081,csum=0xffff),geneve(oam,crit,vni=0xffffff,options(" +
    "{class=0,type=0,len=0}{class=0x102,type=0x1,len=8,0x10203}{class=0xffff,type=0xff,len=4,0})))";
  const { type, header } = parseHeader(text);
  assert.equal(header.length, 14 + 20 + 8 + 8 + 4 + 12 + 8);
  assert.equal(formatTunnelHeader(type, header), text);
  const fields = decodeTunnelHeader(header, type);
  assert.deepEqual(fields.geneve?.options, [
    { class: 0, type: 0, data: "" },
    { class: 0x102, type: 1, data: "0000000000010203" },
    { class: 0xffff, type: 0xff, data: "00000000" },
  ]);
  assert.equal(fields.geneve?.oam, true);
  assert.equal(header[14 + 20 + 8 + 1], 0xc0, "oam and critical bits");
});

Deno.test("build(decode(bytes)) reproduces the bytes", () => {
  for (const text of [VXLAN_IPV4, GENEVE_IPV6, GRE_ALL]) {
    const { type, header } = parseHeader(text);
    assert.deepEqual(buildTunnelHeader(decodeTunnelHeader(header, type)), header);
  }
});

Deno.test("size= must equal the built length; the error points at the size", () => {
  const text = VXLAN_IPV4.replace("size=50", "size=52");
  assert.throws(() => parseHeader(text), (e: unknown) => {
    assert.ok(e instanceof OdpSyntaxError);
    assert.equal(e.position, "header(size=".length);
    assert.equal(e.token, "52");
    assert.match(e.message, /50 bytes/);
    return true;
  });
});

Deno.test("header text errors name the token and position", () => {
  const cases: Array<[string, string, RegExp]> = [
    [VXLAN_IPV4.replace("type=4", "type=110"), "110", /unsupported tunnel header type 110/],
    [VXLAN_IPV4.replace("dst=1.1.2.92", "dst=1.1.2.300"), "1.1.2.300", /not an IPv4 address/],
    [
      VXLAN_IPV4.replace("src=aa:55:aa:55:00:00", "src=aa:55:zz:55:00:00"),
      "aa:55:zz:55:00:00",
      /MAC/,
    ],
    [VXLAN_IPV4.replace("vni=0x7b", "vni=0x1000000"), "0x1000000", /vni out of range/],
    [VXLAN_IPV4.replace("proto=17", "proto=6"), "udp", /proto 17/],
    [VXLAN_IPV4.replace("vxlan(", "vxlam("), "vxlam", /expected vxlan/],
    [GENEVE_IPV6.replace("len=4", "len=3"), "3", /multiple of 4/],
    [GENEVE_IPV6.replace("0xa}", "0x1122334455}"), "0x1122334455", /longer than len=4/],
    [GRE_ALL.replace(",seq=0x5", ""), ")", /expected ',seq='/],
    [GRE_ALL.replace("dl_type=0x0800", "dl_type=0x0806"), "0x0806", /0x0800 or 0x86dd/],
  ];
  for (const [text, token, message] of cases) {
    assert.throws(() => parseHeader(text), (e: unknown) => {
      assert.ok(e instanceof OdpSyntaxError, `${text}: ${e}`);
      assert.equal(e.token, token, text);
      assert.equal(text.slice(e.position, e.position + token.length), token);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("decode rejects templates that are not canonical", () => {
  const { type, header } = parseHeader(VXLAN_IPV4);
  const badChecksum = header.slice();
  badChecksum[24] ^= 1;
  assert.throws(() => decodeTunnelHeader(badChecksum, type), /checksum/);
  const nonZeroLength = header.slice();
  nonZeroLength[17] = 50;
  assert.throws(() => decodeTunnelHeader(nonZeroLength, type), /length and id must be 0/);
  assert.throws(() => decodeTunnelHeader(header.subarray(0, 40), type), RangeError);
  assert.throws(() => decodeTunnelHeader(header, TUNNEL_TYPE_GENEVE), RangeError);
  assert.throws(() => formatTunnelHeader(99, header), /unsupported tunnel header type 99/);
});

Deno.test("GRE over IPv6 (ip6gre) is refused clearly", () => {
  const text = "header(size=62,type=3,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0," +
    "dl_type=0x86dd),ipv6(src=2001:cafe::88,dst=2001:cafe::92,label=0,proto=47,tclass=0x0," +
    "hlimit=64),gre((flags=0x2000,proto=0x6558),key=0x1e241))";
  assert.throws(() => parseHeader(text), /ip6gre/);
});

Deno.test("IPv6 addresses print like inet_ntop", () => {
  const base = (src: string) =>
    "header(size=70,type=4,eth(dst=00:00:00:00:00:01,src=00:00:00:00:00:02,dl_type=0x86dd)," +
    `ipv6(src=${src},dst=::1,label=1048575,proto=17,tclass=0xff,hlimit=1),` +
    "udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x0))";
  for (
    const [given, printed] of [
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["fe80::", "fe80::"],
      ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
      ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
      ["1:0:3:4:5:6:7:8", "1:0:3:4:5:6:7:8"],
    ]
  ) {
    const { type, header } = parseHeader(base(given));
    assert.equal(formatTunnelHeader(type, header), base(printed));
  }
});
