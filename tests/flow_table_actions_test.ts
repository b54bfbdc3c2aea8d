/**
 * Interning of action lists (datapath/flow_table_actions.ts): equal lists
 * share one id, any difference (a port, a set() key or mask word, the
 * masked flag, nesting, order) gives another, and set() lists intern fast.
 */

import assert from "node:assert/strict";
import { ActionInterner, canonicalText } from "../datapath/flow_table_actions.ts";
import { parseActions } from "../datapath/odp/action_parse.ts";

Deno.test("action interner: equal lists share an id, different ones do not", () => {
  const interner = new ActionInterner();
  const texts = [
    "1",
    "2",
    "1,2",
    "2,1",
    "set(ipv4(src=10.0.0.1)),2",
    "set(ipv4(src=10.0.0.2)),2",
    "set(ipv4(src=10.0.0.1/255.255.255.0)),2",
    "set(ipv4(src=10.0.0.1,ttl=3)),2",
    "set(eth(dst=00:11:22:33:44:55)),2",
    "set(ipv4(src=10.0.0.1)),3",
    "clone(set(ipv4(src=10.0.0.1)),2),3",
    "clone(set(ipv4(src=10.0.0.2)),2),3",
    "push_vlan(vid=5,pcp=0),2",
    "push_vlan(vid=6,pcp=0),2",
    "userspace(pid=1,userdata(0102)),2",
    "userspace(pid=1,userdata(0103)),2",
    "drop",
    "",
  ];
  const ids = texts.map((t) => interner.acquire(parseActions(t)));
  assert.equal(new Set(ids).size, texts.length, `ids: ${ids}`);
  // Parsing again gives new objects that are equal: same ids, no new lists.
  const again = texts.map((t) => interner.acquire(parseActions(t)));
  assert.deepEqual(again, ids);
  assert.equal(interner.size, texts.length);
  // The first list given is the one kept; releases drop it at zero references.
  assert.deepEqual(interner.list(ids[4]), parseActions(texts[4]));
  interner.release(ids[4]);
  interner.release(ids[4]);
  assert.equal(interner.size, texts.length - 1);
  assert.throws(() => interner.list(ids[4]), RangeError);
});

Deno.test("action interner: typed arrays are told apart by every word and their length", () => {
  const [set] = parseActions("set(ipv4(src=10.0.0.1))");
  assert.equal(set.type, "set");
  if (set.type !== "set") return;
  const base = canonicalText([set]);
  for (let w = 0; w < set.key.length; w++) {
    const key = set.key.slice();
    key[w] ^= 1;
    assert.notEqual(canonicalText([{ ...set, key }]), base, `key word ${w}`);
    const mask = set.mask.slice();
    mask[w] ^= 0x80000000;
    assert.notEqual(canonicalText([{ ...set, mask }]), base, `mask word ${w}`);
  }
  assert.notEqual(canonicalText([{ ...set, masked: !set.masked }]), base);
  const shorter = { ...set, key: set.key.slice(0, 32) };
  assert.notEqual(canonicalText([shorter]), base);
  assert.equal(canonicalText([{ ...set, key: set.key.slice(), mask: set.mask.slice() }]), base);
});

Deno.test("action interner: a set() list interns in a few µs", () => {
  const interner = new ActionInterner();
  const lists = [];
  for (let j = 0; j < 2000; j++) {
    lists.push(parseActions(`set(ipv4(src=10.0.${j >> 8}.${j & 255},ttl=${1 + (j & 63)})),2`));
  }
  for (const list of lists) interner.acquire(list); // warm up
  const t0 = performance.now();
  for (const list of lists) interner.acquire(list);
  const micros = (performance.now() - t0) * 1000 / lists.length;
  assert.equal(interner.size, 2000);
  // About 1 µs here; the JSON replacer it replaced cost about 100 µs.
  assert.ok(micros < 30, `interning a set() list took ${micros.toFixed(1)} µs`);
});
