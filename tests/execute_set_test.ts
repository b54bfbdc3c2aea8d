import assert from "node:assert/strict";
import type { Action } from "../datapath/action.ts";
import { DROP_FLOW_ACTION } from "../datapath/drop_reason.ts";
import { compileActions } from "../datapath/execute/compile.ts";
import { executeActions } from "../datapath/execute/executor.ts";
import {
  KEY_WORDS,
  W_ETH_DST_HI,
  W_ETH_DST_LO,
  W_ETH_SRC_HI,
  W_ETH_SRC_LO,
  W_IPV6_DST,
  W_IPV6_LABEL,
  W_IPV6_SRC,
  W_NW_DST,
  W_NW_PROTO_TOS_TTL_FRAG,
  W_NW_SRC,
  W_SKB_MARK,
  W_SKB_PRIORITY,
  W_TP,
  W_TUN_ID_LO,
  W_TUN_IPV4_DST,
  W_TUN_TP,
} from "../datapath/flow_key.ts";
import {
  crc32cBitwise,
  fixChecksums,
  hex,
  loadBatch,
  newPool,
  RecordingContext,
  tcp4Frame,
  tcp6Frame,
  toHex,
  udp4Frame,
  udp6Frame,
} from "./execute_test_context.ts";

/** A set action over the given words: `[word, value, mask]` triples. */
function setAction(fields: [number, number, number][], masked = true): Action {
  const key = new Uint32Array(KEY_WORDS), mask = new Uint32Array(KEY_WORDS);
  for (const [w, v, m] of fields) {
    key[w] = v;
    mask[w] = m;
  }
  return { type: "set", masked, key, mask };
}

/** Runs `actions` + output(1) on one frame; returns the output bytes and context. */
function runOne(frame: Uint8Array, actions: Action[], meta: Record<number, number> = {}) {
  const pool = newPool();
  const start = pool.available();
  const ctx = new RecordingContext(pool);
  const program = compileActions([...actions, { type: "output", port: 1 }]);
  const batch = loadBatch(pool, [frame], meta);
  executeActions(program, batch, ctx);
  assert.equal(batch.count, 0);
  assert.equal(pool.available(), start);
  assert.equal(ctx.outputs.length, 1);
  return { out: ctx.outputs[0], ctx };
}

/** Independent check: recomputing every checksum changes nothing. */
function assertChecksumsRight(frame: Uint8Array) {
  assert.equal(toHex(fixChecksums(frame.slice())), toHex(frame));
}

Deno.test("set ipv4 src + ttl: bytes, IPv4 and UDP checksums", () => {
  const frame = udp4Frame();
  const { out } = runOne(frame, [
    setAction([[W_NW_SRC, 0x01020304, 0xffffffff], [W_NW_PROTO_TOS_TTL_FRAG, 0x1100, 0xff00]]),
  ]);
  const expected = frame.slice();
  expected.set([1, 2, 3, 4], 26);
  expected[22] = 0x11;
  fixChecksums(expected);
  assert.equal(toHex(out.bytes), toHex(expected));
  assertChecksumsRight(out.bytes);
  assert.notEqual(toHex(out.bytes.subarray(24, 26)), toHex(frame.subarray(24, 26)));
});

Deno.test("unmasked set ignores proto and frag bits it names", () => {
  const frame = tcp4Frame();
  const { out } = runOne(frame, [
    setAction(
      [[W_NW_DST, 0x0a0a0a0a, 0xffffffff], [W_NW_PROTO_TOS_TTL_FRAG, 0x11223301, ~0]],
      false,
    ),
  ]);
  assert.equal(out.bytes[23], 6, "protocol unchanged");
  assert.equal(out.bytes[15], 0x22, "tos set");
  assert.equal(out.bytes[22], 0x33, "ttl set");
  assert.equal(toHex(out.bytes.subarray(30, 34)), "0a0a0a0a");
  assertChecksumsRight(out.bytes);
});

Deno.test("masked set ipv4 dst changes only masked bits, TCP checksum follows", () => {
  const frame = tcp4Frame();
  const { out } = runOne(frame, [setAction([[W_NW_DST, 0x0a000000, 0xffffff00]])]);
  assert.equal(toHex(out.bytes.subarray(30, 34)), "0a000002");
  assertChecksumsRight(out.bytes);
});

Deno.test("UDP checksum 0 stays 0 when addresses and ports change", () => {
  const frame = udp4Frame();
  frame[40] = 0;
  frame[41] = 0;
  const { out } = runOne(frame, [
    setAction([[W_NW_SRC, 0x0b000001, 0xffffffff], [W_TP, 0x00350035, 0xffffffff]]),
  ]);
  assert.equal(toHex(out.bytes.subarray(40, 42)), "0000");
  assert.equal(toHex(out.bytes.subarray(34, 38)), "00350035");
  assertChecksumsRight(out.bytes); // IPv4 header checksum right; UDP 0 kept by fixChecksums
});

Deno.test("set tcp and udp ports (masked) keep checksums right", () => {
  const tcp = runOne(tcp4Frame(), [setAction([[W_TP, 0x00001f90, 0x0000ffff]])]).out.bytes;
  assert.equal(toHex(tcp.subarray(34, 38)), "03e81f90");
  assertChecksumsRight(tcp);
  const udp = runOne(udp4Frame(), [setAction([[W_TP, 0x11110000, 0xffff0000]])]).out.bytes;
  assert.equal(toHex(udp.subarray(34, 38)), "1111162e");
  assertChecksumsRight(udp);
});

Deno.test("set eth src and masked dst", () => {
  const { out } = runOne(udp4Frame(), [
    setAction([
      [W_ETH_SRC_HI, 0xaabbccdd, 0xffffffff],
      [W_ETH_SRC_LO, 0xeeff, 0xffff],
      [W_ETH_DST_HI, 0x11000000, 0xff000000],
      [W_ETH_DST_LO, 0, 0],
    ]),
  ]);
  assert.equal(toHex(out.bytes.subarray(0, 12)), "110000000002aabbccddeeff");
});

Deno.test("set ipv6 src/dst updates TCP and UDP checksums; label, tclass, hop limit", () => {
  const tcp = runOne(tcp6Frame(), [
    setAction([
      [W_IPV6_SRC + 3, 0x00000099, 0xffffffff],
      [W_IPV6_DST, 0x20020000, 0xffffffff],
      [W_IPV6_LABEL, 0x12345, 0xfffff],
      [W_NW_PROTO_TOS_TTL_FRAG, 0x00b80700, 0x00ffff00],
    ]),
  ]).out.bytes;
  assert.equal(toHex(tcp.subarray(14, 22)), "6b812345" + "0016" + "06" + "07");
  assert.equal(toHex(tcp.subarray(22, 38)), "20010db8000000000000000000000099");
  assert.equal(toHex(tcp.subarray(38, 42)), "20020000");
  assertChecksumsRight(tcp);
  const udp = runOne(udp6Frame(), [setAction([[W_IPV6_DST + 2, 0xcafe, 0xffffffff]])]).out.bytes;
  assertChecksumsRight(udp);
  assert.equal(toHex(udp.subarray(46, 50)), "0000cafe");
});

Deno.test("set sctp port recomputes the CRC32c; a bad CRC stays bad", () => {
  const frame = fixChecksums(hex(`
    000000000002 000000000001 0800
    45000034 00004000 40840000 0a000001 0a000002
    0b590b59 00000001 00000000
    00030014 00000001 00000000 00000000 00000000`));
  assert.equal(frame.length, 66);
  const out = runOne(frame, [setAction([[W_TP, 0x00000050, 0x0000ffff]])]).out.bytes;
  const crcAfter = new DataView(out.buffer).getUint32(42, true);
  const zeroed = out.slice(34);
  zeroed.fill(0, 8, 12);
  assert.equal(crcAfter, crc32cBitwise(zeroed));
  frame[42] ^= 0xff; // corrupt
  const bad = runOne(frame, [setAction([[W_TP, 0x00000050, 0x0000ffff]])]).out.bytes;
  assert.notEqual(new DataView(bad.buffer).getUint32(42, true), crc32cBitwise(zeroed));
});

Deno.test("set skb_mark, skb_priority and tunnel metadata words", () => {
  const { out } = runOne(udp4Frame(), [
    setAction([
      [W_SKB_MARK, 0x0000abcd, 0x0000ffff],
      [W_SKB_PRIORITY, 7, 0xffffffff],
      [W_TUN_ID_LO, 42, 0xffffffff],
    ]),
  ], { [W_SKB_MARK]: 0x12340000 });
  assert.equal(out.meta[W_SKB_MARK], 0x1234abcd);
  assert.equal(out.meta[W_SKB_PRIORITY], 7);
  assert.equal(out.meta[W_TUN_ID_LO], 42);
  assert.equal(toHex(out.bytes), toHex(udp4Frame()));
});

Deno.test("set tunnel on a packet without a tunnel destination starts from zeros", () => {
  const { out } = runOne(udp4Frame(), [
    setAction([[W_TUN_ID_LO, 42, 0x0000ffff], [W_TUN_IPV4_DST, 0x0a000001, 0xffffffff]]),
  ], { [W_TUN_ID_LO]: 0x12340000, [W_TUN_TP]: 99 }); // stale: no destination
  assert.equal(out.meta[W_TUN_ID_LO], 42, "the masked bits come from zero, not the stale word");
  assert.equal(out.meta[W_TUN_IPV4_DST], 0x0a000001);
  assert.equal(out.meta[W_TUN_TP], 0);
});

Deno.test("set on packets missing the header: skipped, never thrown", () => {
  const short = udp4Frame().subarray(0, 30); // IPv4 header cut
  const arp = hex("ffffffffffff 000000000001 0806 0001080006040001");
  for (const frame of [short, arp, hex("0000000000020000000000010800")]) {
    const { out } = runOne(frame, [
      setAction([[W_NW_SRC, 1, 0xffffffff], [W_TP, 0x00010001, 0xffffffff]]),
    ]);
    assert.equal(toHex(out.bytes), toHex(frame));
  }
});

Deno.test("set without output: dropped as flow_action", () => {
  const pool = newPool();
  const ctx = new RecordingContext(pool);
  const program = compileActions([setAction([[W_NW_SRC, 1, 0xffffffff]])]);
  executeActions(program, loadBatch(pool, [udp4Frame(), udp4Frame()]), ctx);
  assert.equal(ctx.drops[DROP_FLOW_ACTION], 2);
  assert.equal(pool.available(), pool.capacity);
});
