/**
 * The per-packet fast paths for untagged Ethernet + IPv4 (flow-key
 * extraction's ipv4Fast, hashPacketL4's and applySet's in-place header
 * finding) against the general code they shortcut, on thousands of
 * IPv4 frames with random header fields, lengths, fragments, IHLs and TCP
 * data offsets:
 * - extraction: the key words, map bits and L4 offset of a frame are what
 *   extractIpv4 (the general IPv4 parser) writes for it;
 * - the exact-match cache finds a key extracted by the fast path and
 *   misses it once any one of its mapped words differs (with or without
 *   tunnel metadata words);
 * - hash and set: an untagged frame (fast path) hashes and is rewritten as
 *   the same frame with an 802.1Q tag does (general path: the tag moves
 *   the ethertype away from offset 12).
 */

import assert from "node:assert/strict";
import { Emc } from "../datapath/emc.ts";
import { compileSet } from "../datapath/execute/set_field.ts";
import { applySet } from "../datapath/execute/set_field.ts";
import { hashPacketL4 } from "../datapath/execute/packet_hash.ts";
import { extractKey, type KeyExtraction } from "../datapath/flow_extract.ts";
import { extractIpv4, l4Found } from "../datapath/flow_extract_l3.ts";
import { hashMappedWords } from "../datapath/key_hash.ts";
import {
  KEY_WORDS,
  newKeys,
  USED_WORDS,
  W_ETH_TYPE,
  W_NW_PROTO_TOS_TTL_FRAG,
  W_NW_SRC,
  W_TP,
} from "../datapath/flow_key.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { xorshift32 as prng } from "./fixtures/xorshift.ts";

/**
 * A random untagged Ethernet + IPv4 frame that is mostly well formed (so
 * the fast path is taken often) with every field the fast path tests
 * sometimes wrong.
 */
function randomIpv4Frame(next: () => number): Uint8Array {
  const protos = [17, 6, 17, 6, 1, 132, 47, next() & 0xff];
  const proto = protos[next() & 7];
  const l4Len = proto === 6 ? 20 : 8;
  const payload = next() % 40;
  let length = 14 + 20 + l4Len + payload;
  if ((next() & 7) === 0) length = 14 + (next() % 60); // truncated anywhere
  const frame = new Uint8Array(length);
  for (let k = 0; k < length; k++) frame[k] = next() & 0xff;
  if (length < 14) return frame;
  frame[12] = 0x08;
  frame[13] = 0x00;
  if (length < 15) return frame;
  frame[14] = (next() & 7) === 0 ? next() & 0xff : 0x45;
  const ipTotal = (next() & 7) === 0 ? next() & 0xffff : length - 14 - ((next() & 3) === 0 ? 4 : 0);
  if (length >= 18) {
    frame[16] = ipTotal >> 8;
    frame[17] = ipTotal & 0xff;
  }
  if (length >= 22) {
    const frag = [0, 0, 0x4000, 0x2000, 0x0001, next() & 0xffff][next() % 6];
    frame[20] = frag >> 8;
    frame[21] = frag & 0xff;
  }
  if (length >= 24) frame[23] = proto;
  if (proto === 6 && length >= 47) {
    frame[46] = (next() & 3) === 0 ? next() & 0xff : (5 + (next() & 1)) << 4;
  }
  return frame;
}

/** The frame with an 802.1Q tag (TCI 0x0123) after the MAC addresses. */
function tagged(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12), 0);
  out.set([0x81, 0x00, 0x01, 0x23], 12);
  out.set(frame.subarray(12), 16);
  return out;
}

function extraction(frame: Uint8Array): KeyExtraction {
  const job: KeyExtraction = {
    bytes: frame,
    offset: 0,
    length: frame.length,
    meta: null,
    metaOffset: 0,
    key: newKeys(1),
    keyOffset: 0,
    map: new Uint32Array(2),
    mapOffset: 0,
    l3: -1,
    l4: -1,
  };
  extractKey(job);
  return job;
}

Deno.test("fast IPv4 extraction writes what extractIpv4 writes", () => {
  const next = prng(0x5eed1);
  let fast = 0;
  for (let n = 0; n < 20_000; n++) {
    const frame = randomIpv4Frame(next);
    if (frame.length < 14) continue;
    const job = extraction(frame);
    const general = newKeys(1);
    const view = new DataView(frame.buffer);
    const bits = extractIpv4(view, 14, frame.length, general, 0);
    const where = `frame ${n}: ${Array.from(frame, (b) => b.toString(16)).join(" ")}`;
    assert.equal(job.map[1] & ~(1 << (W_ETH_TYPE - 32)), bits, `map, ${where}`);
    for (let w = W_NW_SRC; w < USED_WORDS; w++) {
      assert.equal(job.key[w], general[w], `word ${w}, ${where}`);
    }
    assert.equal(job.l3, 14);
    assert.equal(job.l4, l4Found[0], `l4, ${where}`);
    if (job.l4 === 34 && (job.map[1] & (1 << (W_TP - 32))) !== 0) fast++;
  }
  assert.ok(fast > 5000, `only ${fast} frames had ports`);
});

Deno.test("fast IPv4 5-tuple hash equals the general path's (tagged frame)", () => {
  const next = prng(0x5eed2);
  for (let n = 0; n < 20_000; n++) {
    const frame = randomIpv4Frame(next);
    if (frame.length < 14) continue;
    const vlan = tagged(frame);
    for (const symmetric of [false, true]) {
      const basis = next() | 0;
      const a = hashPacketL4(frame, new DataView(frame.buffer), 0, frame.length, basis, symmetric);
      const b = hashPacketL4(vlan, new DataView(vlan.buffer), 0, vlan.length, basis, symmetric);
      assert.equal(a, b, `frame ${n} symmetric ${symmetric}`);
    }
  }
});

Deno.test("fast IPv4 set(ipv4(src,ttl)) and set(udp) rewrite as the general path does", () => {
  const next = prng(0x5eed3);
  const pool = new MemoryPool({ capacity: 4 });
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  key[W_NW_SRC] = 0x0b000001;
  mask[W_NW_SRC] = 0xffffffff;
  key[W_NW_PROTO_TOS_TTL_FRAG] = 63 << 8;
  mask[W_NW_PROTO_TOS_TTL_FRAG] = 0xff << 8;
  key[W_TP] = 0x12340000;
  mask[W_TP] = 0xffff0000;
  const program = compileSet({ type: "set", masked: true, key, mask });
  for (let n = 0; n < 20_000; n++) {
    const frame = randomIpv4Frame(next);
    if (frame.length < 14) continue;
    const batch = new PacketBatch(pool);
    const i = batch.pushCopy(frame);
    const j = batch.pushCopy(tagged(frame));
    applySet(program, batch, i);
    applySet(program, batch, j);
    const a = pool.bytes.subarray(batch.offset[i] + 12, batch.offset[i] + frame.length);
    const b = pool.bytes.subarray(batch.offset[j] + 16, batch.offset[j] + frame.length + 4);
    assert.deepEqual(a, b, `frame ${n}`);
    batch.freeAll();
  }
  assert.equal(pool.available(), pool.capacity);
});

Deno.test("exact-match cache compare: hit on the same key, miss on any one word changed", () => {
  const next = prng(0x5eed5);
  const generation = new Uint32Array(4);
  const probe = newKeys(1);
  for (let n = 0; n < 5_000; n++) {
    const frame = randomIpv4Frame(next);
    if (frame.length < 14) continue;
    const job = extraction(frame);
    job.key[0] = 1;
    job.map[0] |= 1;
    if ((next() & 1) === 0) {
      for (const w of [6, 8, 17, 18]) {
        job.key[w] = next() | 1;
        job.map[0] |= 1 << w;
      }
    }
    const emc = new Emc(16, generation);
    const hash = hashMappedWords(job.key, 0, job.map, 0);
    emc.insert(job.key, 0, job.map, 0, hash, 3);
    assert.equal(emc.lookup(job.key, 0, job.map, 0, hash), 3, `frame ${n}`);
    for (let w = 0; w < 64; w++) {
      const mapped = (job.map[w >>> 5] & (1 << (w & 31))) !== 0;
      if (!mapped) continue;
      probe.set(job.key);
      probe[w] ^= 1 << (next() & 31);
      // Same hash on purpose: only the compare can tell the keys apart.
      assert.equal(emc.lookup(probe, 0, job.map, 0, hash), -1, `frame ${n} word ${w}`);
    }
  }
});
