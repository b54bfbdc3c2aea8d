import assert from "node:assert/strict";
import { TUNNEL_TYPE_VXLAN } from "../datapath/action.ts";
import { DROP_TUNNEL_POP_ERROR } from "../datapath/drop_reason.ts";
import { compileActions } from "../datapath/execute/compile.ts";
import { executeActions } from "../datapath/execute/executor.ts";
import {
  TNL_F_CSUM,
  TNL_F_KEY,
  W_IN_PORT,
  W_RECIRC_ID,
  W_SKB_MARK,
  W_TUN_ID_HI,
  W_TUN_ID_LO,
  W_TUN_IPV4_DST,
  W_TUN_IPV4_SRC,
  W_TUN_IPV6_DST,
  W_TUN_IPV6_SRC,
  W_TUN_OPTS_LEN,
  W_TUN_TOS_TTL_FLAGS,
  W_TUN_TP,
} from "../datapath/flow_key.ts";
import {
  fixChecksums,
  hex,
  internetChecksum,
  loadBatch,
  newPool,
  RecordingContext,
  tcp4Frame,
  toHex,
  udp4Frame,
  vxlanTemplate,
} from "./execute_test_context.ts";
import { popOnce, pushOnce } from "./tunnel_roundtrip.ts";

const PORT = 4789;

Deno.test("vxlan push over IPv4: exact header, lengths, IPv4 checksum, hashed source port", () => {
  const template = vxlanTemplate(false, false);
  const inner = udp4Frame();
  const out = pushOnce(TUNNEL_TYPE_VXLAN, template, [inner, inner, tcp4Frame()], PORT);
  assert.equal(out.length, 3);
  const outer = out[0].bytes;
  assert.equal(outer.length, 50 + inner.length);
  assert.equal(toHex(outer.subarray(50)), toHex(inner));
  const dv = new DataView(outer.buffer);
  const sport = dv.getUint16(34);
  assert.ok(sport >= 32768 && sport < 61000, `source port ${sport}`);
  assert.equal(new DataView(out[1].bytes.buffer).getUint16(34), sport, "stable per flow");
  assert.notEqual(new DataView(out[2].bytes.buffer).getUint16(34), sport, "other flow, other port");
  const expected = template.slice();
  const ev = new DataView(expected.buffer);
  ev.setUint16(16, 20 + 8 + 8 + inner.length); // IPv4 total length
  ev.setUint16(24, internetChecksum(expected.subarray(14, 34)));
  ev.setUint16(34, sport);
  ev.setUint16(38, 8 + 8 + inner.length); // UDP length
  assert.equal(toHex(outer.subarray(0, 50)), toHex(expected));
  assert.equal(out[0].meta[W_IN_PORT], 1, "in_port is out_port after the push");
});

Deno.test("vxlan push with a computed UDP checksum (IPv4 and IPv6 underlay)", () => {
  for (const ipv6 of [false, true]) {
    const out = pushOnce(TUNNEL_TYPE_VXLAN, vxlanTemplate(ipv6, true), [udp4Frame()], PORT);
    const outer = out[0].bytes;
    const udpAt = ipv6 ? 54 : 34;
    assert.notEqual(toHex(outer.subarray(udpAt + 6, udpAt + 8)), "0000");
    assert.equal(toHex(fixChecksums(outer.slice())), toHex(outer), "independent recomputation");
  }
});

Deno.test("vxlan round trip over IPv4 and IPv6 restores the inner frame and fills metadata", () => {
  for (const ipv6 of [false, true]) {
    for (const csum of [false, true]) {
      const inner = tcp4Frame();
      const outer = pushOnce(TUNNEL_TYPE_VXLAN, vxlanTemplate(ipv6, csum), [inner], PORT)[0].bytes;
      const ctx = popOnce("vxlan", PORT, [outer], { [W_RECIRC_ID]: 9, [W_SKB_MARK]: 3 });
      assert.equal(ctx.recirculated.length, 1);
      const r = ctx.recirculated[0];
      assert.equal(toHex(r.bytes), toHex(inner));
      const m = r.meta;
      assert.equal(m[W_IN_PORT], PORT);
      assert.equal(m[W_RECIRC_ID], 0, "metadata reset as pkt_metadata_init_tnl");
      assert.equal(m[W_SKB_MARK], 0);
      assert.equal(m[W_TUN_ID_HI], 0);
      assert.equal(m[W_TUN_ID_LO], 123);
      const flags = TNL_F_KEY | (csum ? TNL_F_CSUM : 0);
      assert.equal(m[W_TUN_TOS_TTL_FLAGS], (0 << 24) | (64 << 16) | flags);
      const sport = new DataView(outer.buffer).getUint16(ipv6 ? 54 : 34);
      assert.equal(m[W_TUN_TP], ((sport << 16) | PORT) >>> 0);
      assert.equal(m[W_TUN_OPTS_LEN], 0);
      if (ipv6) {
        assert.deepEqual([...m.subarray(W_TUN_IPV6_SRC, W_TUN_IPV6_SRC + 4)], [
          0x20010db8,
          0,
          0,
          1,
        ]);
        assert.deepEqual([...m.subarray(W_TUN_IPV6_DST, W_TUN_IPV6_DST + 4)], [
          0x20010db8,
          0,
          0,
          2,
        ]);
        assert.equal(m[W_TUN_IPV4_SRC], 0);
      } else {
        assert.equal(m[W_TUN_IPV4_SRC], 0xc0a80001);
        assert.equal(m[W_TUN_IPV4_DST], 0xc0a80002);
      }
    }
  }
});

Deno.test("vxlan pop: each malformed or mismatching packet is a counted drop", () => {
  const good = pushOnce(TUNNEL_TYPE_VXLAN, vxlanTemplate(false, true), [udp4Frame()], PORT)[0]
    .bytes;
  const mutate = (f: (b: Uint8Array, dv: DataView) => void, fixIp = true) => {
    const b = good.slice();
    f(b, new DataView(b.buffer));
    if (fixIp) {
      const dv = new DataView(b.buffer);
      dv.setUint16(24, 0);
      dv.setUint16(24, internetChecksum(b.subarray(14, 34)));
    }
    return b;
  };
  const bad = [
    mutate((_, dv) => dv.setUint16(36, 4790)), // other UDP port
    mutate((b) => b[24] ^= 1, false), // bad IPv4 checksum
    mutate((b) => b[b.length - 1] ^= 1), // bad UDP checksum
    mutate((b) => b[42] = 0x0c), // VXLAN flags
    mutate((b) => b[49] = 1), // reserved byte after the VNI
    mutate((_, dv) => dv.setUint16(16, dv.getUint16(16) + 1)), // IP longer than the frame
    mutate((_, dv) => dv.setUint16(20, 0x2000)), // IPv4 fragment (MF)
    mutate((b) => b[14] = 0x46), // IPv4 options
    mutate((_, dv) => dv.setUint16(38, dv.getUint16(38) - 1)), // UDP length != IP payload
    mutate((b) => b[23] = 47), // not UDP
    mutate((_, dv) => dv.setUint16(12, 0x0806)), // not IP
    good.subarray(0, 40), // cut inside UDP
    hex("0000000000bb0000000000aa0800"), // Ethernet only
  ];
  // Inner frame shorter than an Ethernet header.
  const shortInner = mutate((_, dv) => {
    dv.setUint16(16, 20 + 16 + 10);
    dv.setUint16(38, 16 + 10);
    dv.setUint16(40, 0);
  }).subarray(0, 60);
  bad.push(shortInner);
  const ctx = popOnce("vxlan", PORT, bad);
  assert.equal(ctx.recirculated.length, 0);
  assert.equal(ctx.drops[DROP_TUNNEL_POP_ERROR], bad.length);
  // The good packet passes, so the mutations are what failed.
  assert.equal(popOnce("vxlan", PORT, [good]).recirculated.length, 1);
});

Deno.test("tnl_pop on a port that is not a tunnel, or of another type, drops", () => {
  const good = pushOnce(TUNNEL_TYPE_VXLAN, vxlanTemplate(false, false), [udp4Frame()], PORT)[0]
    .bytes;
  assert.equal(popOnce("geneve", PORT, [good]).drops[DROP_TUNNEL_POP_ERROR], 1);
  assert.equal(popOnce("gre", PORT, [good]).drops[DROP_TUNNEL_POP_ERROR], 1);
  const pool = newPool();
  const ctx = new RecordingContext(pool);
  executeActions(compileActions([{ type: "tnl_pop", port: 77 }]), loadBatch(pool, [good]), ctx);
  assert.equal(ctx.drops[DROP_TUNNEL_POP_ERROR], 1);
  assert.equal(pool.available(), pool.capacity);
});

Deno.test("tnl_pop not last pops a copy; the original continues", () => {
  const good = pushOnce(TUNNEL_TYPE_VXLAN, vxlanTemplate(false, false), [udp4Frame()], PORT)[0]
    .bytes;
  const pool = newPool();
  const ctx = new RecordingContext(pool);
  ctx.tunnels.set(PORT, { type: "vxlan", dstPort: PORT });
  executeActions(
    compileActions([{ type: "tnl_pop", port: PORT }, { type: "output", port: 2 }]),
    loadBatch(pool, [good]),
    ctx,
  );
  assert.equal(toHex(ctx.recirculated[0].bytes), toHex(udp4Frame()));
  assert.equal(toHex(ctx.outputs[0].bytes), toHex(good));
  assert.equal(pool.available(), pool.capacity);
});
