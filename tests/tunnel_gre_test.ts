import assert from "node:assert/strict";
import { TUNNEL_TYPE_GRE } from "../datapath/action.ts";
import { DROP_TUNNEL_POP_ERROR } from "../datapath/drop_reason.ts";
import {
  TNL_F_CSUM,
  TNL_F_KEY,
  W_IN_PORT,
  W_TUN_ID_LO,
  W_TUN_IPV4_SRC,
  W_TUN_TOS_TTL_FLAGS,
  W_TUN_TP,
} from "../datapath/flow_key.ts";
import {
  fixChecksums,
  greTemplate,
  internetChecksum,
  onesSum,
  tcp4Frame,
  toHex,
  udp4Frame,
} from "./execute_test_context.ts";
import { popOnce, pushOnce } from "./tunnel_roundtrip.ts";

const PORT = 3;
const C = 0x8000, K = 0x2000, S = 0x1000;

Deno.test("gre push: checksum covers the sequence number; sequence counts up", () => {
  for (const ipv6 of [false, true]) {
    const template = greTemplate(ipv6, C | K | S);
    const inner = udp4Frame();
    const out = pushOnce(TUNNEL_TYPE_GRE, template, [inner, inner, inner], PORT);
    const greAt = ipv6 ? 54 : 34;
    out.forEach((o, n) => {
      const b = o.bytes;
      const dv = new DataView(b.buffer);
      assert.equal(b.length, template.length + inner.length);
      assert.equal(dv.getUint16(greAt), 0xb000);
      assert.equal(dv.getUint32(greAt + 8), 123, "key");
      assert.equal(dv.getUint32(greAt + 12), n, "sequence number");
      assert.equal(onesSum(b.subarray(greAt)), 0xffff, "GRE checksum verifies");
      assert.equal(toHex(fixChecksums(b.slice())), toHex(b), "outer IP checksum");
      assert.equal(toHex(b.subarray(template.length)), toHex(inner));
    });
  }
});

Deno.test("gre push without options: exact bytes", () => {
  const template = greTemplate(false, 0);
  const inner = tcp4Frame();
  const b = pushOnce(TUNNEL_TYPE_GRE, template, [inner], PORT)[0].bytes;
  const expected = template.slice();
  const ev = new DataView(expected.buffer);
  ev.setUint16(16, 20 + 4 + inner.length);
  ev.setUint16(24, internetChecksum(expected.subarray(14, 34)));
  assert.equal(toHex(b), toHex(expected) + toHex(inner));
});

Deno.test("gre round trip (key, csum, seq) over IPv4 and IPv6", () => {
  for (const ipv6 of [false, true]) {
    for (const flags of [0, K, C | K, C | K | S, S]) {
      const inner = tcp4Frame();
      const outer = pushOnce(TUNNEL_TYPE_GRE, greTemplate(ipv6, flags), [inner], PORT)[0].bytes;
      const ctx = popOnce("gre", PORT, [outer]);
      assert.equal(ctx.recirculated.length, 1, `flags ${flags.toString(16)}`);
      const r = ctx.recirculated[0];
      assert.equal(toHex(r.bytes), toHex(inner));
      assert.equal(r.meta[W_IN_PORT], PORT);
      assert.equal(r.meta[W_TUN_ID_LO], flags & K ? 123 : 0);
      const expected = (flags & K ? TNL_F_KEY : 0) | (flags & C ? TNL_F_CSUM : 0);
      assert.equal(r.meta[W_TUN_TOS_TTL_FLAGS], (64 << 16) | expected);
      assert.equal(r.meta[W_TUN_TP], 0);
      assert.equal(r.meta[W_TUN_IPV4_SRC], ipv6 ? 0 : 0xc0a80001);
    }
  }
});

Deno.test("gre pop: bad flags, version, protocol, checksum, short header are drops", () => {
  const good = pushOnce(TUNNEL_TYPE_GRE, greTemplate(false, C | K), [udp4Frame()], PORT)[0].bytes;
  const mutate = (f: (b: Uint8Array) => void) => {
    const b = good.slice();
    f(b);
    return b;
  };
  const bad = [
    mutate((b) => b[34] |= 0x40), // routing bit
    mutate((b) => b[35] = 1), // version 1
    mutate((b) => b[37] = 0x00), // protocol 0x6500
    mutate((b) => b[b.length - 1] ^= 0x10), // payload changed: GRE checksum fails
    mutate((b) => b[23] = 17), // not GRE (IPv4 checksum now wrong too)
  ];
  const short = greTemplate(false, C | K | S).slice(0, 34 + 10);
  const sv = new DataView(short.buffer);
  sv.setUint16(16, 30);
  sv.setUint16(24, 0);
  sv.setUint16(24, internetChecksum(short.subarray(14, 34)));
  bad.push(short);
  const ctx = popOnce("gre", PORT, bad);
  assert.equal(ctx.drops[DROP_TUNNEL_POP_ERROR], bad.length);
  assert.equal(popOnce("gre", PORT, [good]).recirculated.length, 1);
});
