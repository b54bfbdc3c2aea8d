import assert from "node:assert/strict";
import { TUNNEL_TYPE_GENEVE } from "../datapath/action.ts";
import { DROP_TUNNEL_POP_ERROR } from "../datapath/drop_reason.ts";
import { DpifError } from "../datapath/errors.ts";
import { compileActions } from "../datapath/execute/compile.ts";
import {
  TNL_F_CRIT_OPT,
  TNL_F_CSUM,
  TNL_F_KEY,
  TNL_F_OAM,
  W_IN_PORT,
  W_TUN_ID_LO,
  W_TUN_OPTS,
  W_TUN_OPTS_LEN,
  W_TUN_TOS_TTL_FLAGS,
} from "../datapath/flow_key.ts";
import {
  fixChecksums,
  geneveTemplate,
  hex,
  internetChecksum,
  outerHeaders,
  tcp6Frame,
  toHex,
  udp4Frame,
} from "./execute_test_context.ts";
import { popOnce, pushOnce } from "./tunnel_roundtrip.ts";

const PORT = 6081;

Deno.test("geneve push keeps the options and patches lengths and checksums", () => {
  for (const ipv6 of [false, true]) {
    const template = geneveTemplate(ipv6, true);
    const inner = udp4Frame();
    const outer = pushOnce(TUNNEL_TYPE_GENEVE, template, [inner], PORT)[0].bytes;
    assert.equal(outer.length, template.length + inner.length);
    const udpAt = ipv6 ? 54 : 34;
    assert.equal(
      toHex(outer.subarray(udpAt + 8, template.length)),
      "02c0655800007b0001028001aabbccdd",
    );
    assert.equal(
      new DataView(outer.buffer).getUint16(udpAt + 4),
      template.length - udpAt + inner.length,
    );
    assert.equal(toHex(fixChecksums(outer.slice())), toHex(outer), "independent recomputation");
    assert.equal(toHex(outer.subarray(template.length)), toHex(inner));
  }
});

Deno.test("geneve round trip (options, oam, crit) over IPv4 and IPv6", () => {
  for (const ipv6 of [false, true]) {
    for (const csum of [false, true]) {
      const inner = tcp6Frame();
      const outer =
        pushOnce(TUNNEL_TYPE_GENEVE, geneveTemplate(ipv6, csum), [inner], PORT)[0].bytes;
      const ctx = popOnce("geneve", PORT, [outer]);
      assert.equal(ctx.recirculated.length, 1);
      const r = ctx.recirculated[0];
      assert.equal(toHex(r.bytes), toHex(inner));
      assert.equal(r.meta[W_IN_PORT], PORT);
      assert.equal(r.meta[W_TUN_ID_LO], 123);
      assert.equal(r.meta[W_TUN_OPTS_LEN], 8);
      assert.deepEqual([...r.meta.subarray(W_TUN_OPTS, W_TUN_OPTS + 3)], [
        0x01028001,
        0xaabbccdd,
        0,
      ]);
      const flags = TNL_F_KEY | TNL_F_OAM | TNL_F_CRIT_OPT | (csum ? TNL_F_CSUM : 0);
      assert.equal(r.meta[W_TUN_TOS_TTL_FLAGS] & 0xffff, flags);
    }
  }
});

Deno.test("geneve without options or flags, 32 bytes of options accepted", () => {
  const plain = hex(outerHeaders(false, "11") + "0000 17c1 0000 0000 00006558 00000100");
  const outer = pushOnce(TUNNEL_TYPE_GENEVE, plain, [udp4Frame()], PORT)[0].bytes;
  const r = popOnce("geneve", PORT, [outer]).recirculated[0];
  assert.equal(r.meta[W_TUN_TOS_TTL_FLAGS] & 0xffff, TNL_F_KEY);
  assert.equal(r.meta[W_TUN_ID_LO], 1);
  const opts32 = "0001" + "01" + "07" + "11".repeat(28); // one option, 7 data words
  const full = hex(outerHeaders(false, "11") + "0000 17c1 0000 0000 08006558 00000100" + opts32);
  const outer32 = pushOnce(TUNNEL_TYPE_GENEVE, full, [udp4Frame()], PORT)[0].bytes;
  const r32 = popOnce("geneve", PORT, [outer32]).recirculated[0];
  assert.equal(r32.meta[W_TUN_OPTS_LEN], 32);
  assert.equal(r32.meta[W_TUN_OPTS + 7], 0x11111111);
});

Deno.test("geneve pop: bad version, protocol, option layout, too long options are drops", () => {
  const good = pushOnce(TUNNEL_TYPE_GENEVE, geneveTemplate(false, false), [udp4Frame()], PORT)[0]
    .bytes;
  const g = 42; // Geneve header offset over IPv4
  const mutate = (f: (b: Uint8Array) => void) => {
    const b = good.slice();
    f(b);
    return b;
  };
  // 36 bytes of options (one option of 8 data words): longer than TUN_OPTS_MAX.
  const long = hex(
    outerHeaders(false, "11") + "0000 17c1 002c 0000 09006558 00000100" +
      "00010108" + "22".repeat(32) + "000000000002000000000001080045",
  );
  const lv = new DataView(long.buffer);
  lv.setUint16(16, long.length - 14);
  lv.setUint16(38, long.length - 34);
  lv.setUint16(24, internetChecksum(long.subarray(14, 34)));
  const bad = [
    mutate((b) => b[g] |= 0x40), // version 1
    mutate((b) => b[g + 3] = 0x59), // protocol 0x6559
    mutate((b) => b[g + 11] = 0x02), // option length runs past the block
    mutate((b) => b[g] = 0x01), // block shorter than the option in it
    long,
  ];
  const ctx = popOnce("geneve", PORT, bad);
  assert.equal(ctx.drops[DROP_TUNNEL_POP_ERROR], bad.length);
  assert.equal(ctx.recirculated.length, 0);
});

Deno.test("geneve templates with bad options or too many are refused at compile", () => {
  const bad = [
    hex(outerHeaders(false, "11") + "0000 17c1 0000 0000 01006558 00000100 00010102"),
    hex(outerHeaders(false, "11") + "0000 17c1 0000 0000 40006558 00000100"),
    hex(
      outerHeaders(false, "11") + "0000 17c1 0000 0000 09006558 00000100 00010108" +
        "22".repeat(32),
    ),
  ];
  for (const header of bad) {
    assert.throws(
      () =>
        compileActions([
          {
            type: "tnl_push",
            tunnelPort: PORT,
            headerType: TUNNEL_TYPE_GENEVE,
            header,
            outPort: 1,
          },
          { type: "output", port: 1 },
        ]),
      (e) => e instanceof DpifError && e.code === "EINVAL",
    );
  }
});
