import assert from "node:assert/strict";
import { OdpSyntaxError } from "../datapath/errors.ts";
import { KEY_WORDS, W_IN_PORT, W_NW_DST } from "../datapath/flow_key.ts";
import { deriveUfid, formatUfid, parseUfid, toUfid, UfidIndex } from "../datapath/ufid.ts";

const TEXT = "ufid:01234567-89ab-cdef-0123-456789abcdef";
const WORDS = new Uint32Array([0x01234567, 0x89abcdef, 0x01234567, 0x89abcdef]);

Deno.test("ufid: formats as OVS prints a UUID", () => {
  assert.equal(formatUfid(WORDS), TEXT);
  assert.equal(
    formatUfid(new Uint32Array([0, 1, 0x10000, 2])),
    "ufid:00000000-0000-0001-0001-000000000002",
  );
  assert.equal(
    formatUfid(new Uint32Array([9, 9, 0, 0, 0, 0]), 2),
    "ufid:00000000-0000-0000-0000-000000000000",
  );
});

Deno.test("ufid: parses with or without the prefix, any case", () => {
  assert.deepEqual(parseUfid(TEXT), WORDS);
  assert.deepEqual(parseUfid(TEXT.slice(5)), WORDS);
  assert.deepEqual(parseUfid(TEXT.toUpperCase().replace("UFID:", "ufid:")), WORDS);
  const r = new Uint32Array([0xffffffff, 0x80000000, 0xdeadbeef, 1]);
  assert.deepEqual(parseUfid(formatUfid(r)), r);
});

Deno.test("ufid: bad text is an OdpSyntaxError naming it; bad types are TypeError", () => {
  for (
    const bad of [
      "",
      "ufid:",
      "ufid:0123",
      "ufid:01234567-89ab-cdef-0123-456789abcdeg",
      "01234567-89ab-cdef-0123-456789abcdef0",
      "uuid:01234567-89ab-cdef-0123-456789abcdef",
      "ufid:01234567_89ab-cdef-0123-456789abcdef",
    ]
  ) {
    assert.throws(() => parseUfid(bad), OdpSyntaxError, bad);
  }
  assert.throws(() => parseUfid("ufid:zz"), /zz/);
  assert.throws(() => toUfid(new Uint32Array(3)), TypeError);
  assert.throws(() => toUfid(42 as unknown as string), TypeError);
  const copy = toUfid(WORDS);
  assert.deepEqual(copy, WORDS);
  assert.notEqual(copy, WORDS);
});

Deno.test("ufid: derived from masked key and mask only", () => {
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  key[W_IN_PORT] = 1;
  mask[W_IN_PORT] = 0xffffffff;
  key[W_NW_DST] = 0x0a000001;
  mask[W_NW_DST] = 0xffffff00;
  const a = deriveUfid(key, 0, mask, 0);
  key[W_NW_DST] = 0x0a0000ff; // same under the mask
  assert.deepEqual(deriveUfid(key, 0, mask, 0), a);
  mask[W_NW_DST] = 0xffff0000; // other mask
  assert.notDeepEqual(deriveUfid(key, 0, mask, 0), a);
});

Deno.test("ufid index: find, add, remove across growth", () => {
  const index = new UfidIndex(16);
  const n = 3000;
  const ufid = (i: number) => new Uint32Array([i, i * 3, 7, i === 5 ? 1 : 0]);
  for (let i = 0; i < n; i++) index.add(i, ufid(i));
  assert.equal(index.size, n);
  for (let i = 0; i < n; i += 2) index.remove(i);
  for (let i = 0; i < n; i++) assert.equal(index.find(ufid(i)), i % 2 === 0 ? -1 : i);
  assert.deepEqual(index.ufidOf(5), ufid(5));
  assert.throws(() => index.remove(0), RangeError);
  index.clear();
  assert.equal(index.find(ufid(1)), -1);
});
