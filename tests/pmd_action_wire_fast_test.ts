/**
 * The PMD action wire's byte-level decoder of the short forms
 * (datapath/pmd_action_wire.ts) against its JSON path: same actions for
 * every list encodeActionList makes, and for mutated bytes either the same
 * actions or the same error.
 */
import assert from "node:assert/strict";
import type { Action } from "../datapath/action.ts";
import { parseActions } from "../datapath/odp/action_parse.ts";
import {
  decodeActionList,
  decodeActionListJson,
  encodeActionList,
  encodeActionText,
} from "../datapath/pmd_action_wire.ts";
import {
  createFlowRing,
  FlowRingReader,
  FlowRingWriter,
  MIN_RING_WORDS,
  REC_ACTIONS,
} from "../datapath/pmd_flow_ring.ts";
import { xorshift32 as random } from "./fixtures/xorshift.ts";

function randomList(next: () => number): Action[] {
  const actions: Action[] = [];
  const count = next() % 4;
  for (let i = 0; i < count; i++) {
    const kind = next() % 3;
    if (kind === 0) actions.push({ type: "output", port: next() % 3 === 0 ? next() : next() % 10 });
    else if (kind === 1) {
      const length = next() % 5 === 0 ? next() % 70 : 64;
      const key = new Uint32Array(length);
      const mask = new Uint32Array(length);
      for (let k = next() % 6; k > 0; k--) {
        const w = next() % Math.max(1, length);
        key[w] = next() % 2 === 0 ? next() : next() % 256;
        mask[w] = next() % 2 === 0 ? 0xffffffff : next();
      }
      actions.push({ type: "set", masked: next() % 2 === 0, key, mask });
    } else actions.push(...parseActions("push_vlan(vid=10,pcp=3)"));
  }
  return actions;
}

/** What a decoder gives: the actions, or the error's class and message. */
function outcome(decode: (bytes: Uint8Array) => Action[], bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch (error) {
    return `${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
}

Deno.test("action wire fast decode: same actions as the JSON path", () => {
  const next = random(5);
  for (let i = 0; i < 3000; i++) {
    const list = randomList(next);
    const bytes = encodeActionList(list);
    assert.deepEqual(decodeActionList(bytes), decodeActionListJson(bytes));
    assert.deepEqual(decodeActionList(bytes), list);
  }
});

Deno.test("action wire fast decode: mutated bytes give what the JSON path gives", () => {
  const next = random(9);
  const alphabet = '0123456789[],"osj -.e';
  for (let i = 0; i < 5000; i++) {
    let text = new TextDecoder().decode(encodeActionList(randomList(next)));
    for (let e = 1 + next() % 2; e > 0; e--) {
      const at = next() % (text.length + 1);
      const c = alphabet[next() % alphabet.length];
      const op = next() % 3;
      if (op === 0) text = text.slice(0, at) + c + text.slice(at);
      else if (op === 1) text = text.slice(0, at) + text.slice(at + 1);
      else text = text.slice(0, at) + c + text.slice(at + 1);
    }
    const bytes = new TextEncoder().encode(text);
    assert.deepEqual(outcome(decodeActionList, bytes), outcome(decodeActionListJson, bytes), text);
  }
});

Deno.test("action wire: an ASCII text goes into the ring as it is, chunk by chunk", () => {
  const ring = createFlowRing(MIN_RING_WORDS);
  const writer = new FlowRingWriter(ring);
  const reader = new FlowRingReader(ring);
  // A list whose text spans several chunks (each at most writer.maxChunkBytes).
  const list = Array.from(
    { length: 40 },
    (_, i) => parseActions(`set(eth(src=02:00:00:00:00:${i.toString(16).padStart(2, "0")})),${i}`),
  ).flat();
  const text = encodeActionText(list);
  assert.ok(text.length > 2 * writer.maxChunkBytes, `${text.length} bytes`);
  const got = new Uint8Array(text.length);
  let offset = 0;
  while (offset < text.length) {
    const n = writer.writeActionChunk(7, text, offset);
    assert.ok(n > 0);
    reader.begin();
    assert.equal(reader.next(), REC_ACTIONS);
    assert.equal(reader.actionId, 7);
    assert.equal(reader.textBytes, text.length);
    assert.equal(reader.textOffset, offset);
    got.set(reader.chunk, offset);
    reader.done();
    offset += n;
  }
  assert.deepEqual(got, encodeActionList(list));
  assert.deepEqual(decodeActionList(got), list);
});
