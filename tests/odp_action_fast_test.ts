/**
 * The action text fast paths (datapath/odp/action_text_fast.ts) against the
 * general parser and formatter: on every text the fast parser accepts, the
 * general one gives equal actions; texts outside its form (mutations of
 * the accepted ones) go to the general parser, which decides; the fast
 * formatter prints what formatSetAction prints, or declines.
 */

import assert from "node:assert/strict";
import type { Action, SetAction } from "../datapath/action.ts";
import { KEY_WORDS } from "../datapath/flow_key.ts";
import { formatActions } from "../datapath/odp/action_format.ts";
import { parseActions, parseActionsGeneral } from "../datapath/odp/action_parse.ts";
import { formatEthSetFast, parseActionsFast } from "../datapath/odp/action_text_fast.ts";
import { formatSetAction } from "../datapath/odp/_set_action_text.ts";
import { xorshift32 as random } from "./fixtures/xorshift.ts";

function mac(next: () => number, upper: boolean): string {
  const bytes = Array.from({ length: 6 }, () => (next() & 255).toString(16).padStart(2, "0"));
  const text = bytes.join(":");
  return upper ? text.toUpperCase() : text;
}

function fastText(next: () => number): string {
  const items: string[] = [];
  const count = 1 + (next() % 3);
  for (let i = 0; i < count; i++) {
    const kind = next() % 5;
    if (kind === 0) items.push(String(next() % 70000));
    else if (kind === 1) items.push(String(next() >>> 0));
    else {
      const src = `src=${mac(next, next() % 4 === 0)}`;
      const dst = `dst=${mac(next, false)}`;
      const fields = kind === 2 ? `${src},${dst}` : kind === 3 ? `${dst},${src}` : src;
      items.push(`set(eth(${fields}))`);
    }
  }
  return items.join(",");
}

/** Outcome of the general parser: its actions, or its error message. */
function general(text: string): Action[] | string {
  try {
    return parseActionsGeneral(text);
  } catch (error) {
    return (error as Error).message;
  }
}

Deno.test("fast action parse: equal to the general parser on what it accepts", () => {
  const next = random(7);
  for (let i = 0; i < 3000; i++) {
    const text = fastText(next);
    const fast = parseActionsFast(text);
    assert.notDeepEqual(fast, null, text);
    assert.deepEqual(fast, general(text), text);
    assert.deepEqual(formatActions(fast!), formatActions(parseActionsGeneral(text)), text);
  }
  assert.deepEqual(parseActionsFast("4294967295"), [{ type: "output", port: 4294967295 }]);
});

Deno.test("fast action parse: mutated texts are equal or left to the general parser", () => {
  const next = random(11);
  const alphabet = "0123456789abcdefABx:,()=/ setdrcsrcdst\t";
  let declined = 0;
  for (let i = 0; i < 6000; i++) {
    let text = fastText(next);
    const edits = 1 + (next() % 3);
    for (let e = 0; e < edits; e++) {
      const at = next() % (text.length + 1);
      const op = next() % 3;
      const c = alphabet[next() % alphabet.length];
      if (op === 0) text = text.slice(0, at) + c + text.slice(at);
      else if (op === 1) text = text.slice(0, at) + text.slice(at + 1);
      else text = text.slice(0, at) + c + text.slice(at + 1);
    }
    const fast = parseActionsFast(text);
    if (fast === null) {
      declined++;
      continue;
    }
    // Whatever the fast path accepts, the general parser accepts the same way.
    assert.deepEqual(fast, general(text), text);
  }
  assert.notDeepEqual(declined, 0);
});

Deno.test("fast action parse: declines what it does not cover, parseActions still decides", () => {
  for (
    const text of [
      "",
      "02",
      "0x2",
      "4294967296",
      "12345678901",
      "2,",
      ",2",
      "2,,3",
      "2 ,3",
      "set(eth(src=00:11:22:33:44:55,src=00:11:22:33:44:55))",
      "set(eth(src=00:11:22:33:44:55/ff:ff:ff:ff:ff:00))",
      "set(eth(src=0:11:22:33:44:55))",
      "set(eth(src=00:11:22:33:44:55)",
      "set(eth(src=00:11:22:33:44:5g))",
      "set(eth())",
      "set(ipv4(src=1.2.3.4))",
      "drop",
    ]
  ) {
    assert.deepEqual(parseActionsFast(text), null, text);
    assert.deepEqual(
      general(text),
      (() => {
        try {
          return parseActions(text);
        } catch (error) {
          return (error as Error).message;
        }
      })(),
      text,
    );
  }
  assert.throws(() => parseActions("2,,x"));
  assert.deepEqual(parseActions("0"), [{ type: "output", port: 0 }]);
});

Deno.test("fast set(eth) format: what formatSetAction prints, or null", () => {
  const next = random(3);
  for (let i = 0; i < 2000; i++) {
    const text = fastText(next);
    for (const action of parseActionsGeneral(text)) {
      if (action.type !== "set") continue;
      assert.deepEqual(formatEthSetFast(action), formatSetAction(action), text);
    }
  }
  const other = parseActionsGeneral(
    "set(ipv4(src=1.2.3.4)),set(eth(src=00:11:22:33:44:55/ff:00:00:00:00:00))",
  );
  for (const action of other) assert.deepEqual(formatEthSetFast(action as SetAction), null);
  const junk: SetAction = {
    type: "set",
    masked: false,
    key: new Uint32Array(KEY_WORDS),
    mask: new Uint32Array(KEY_WORDS),
  };
  assert.deepEqual(formatEthSetFast(junk), null);
  junk.mask[29] = 0x1ffff;
  junk.mask[28] = 0xffffffff;
  assert.deepEqual(formatEthSetFast(junk), null);
  assert.deepEqual(formatEthSetFast({ ...junk, key: new Uint32Array(3) }), null);
});
