/**
 * Seed strings for the ODP text fuzzer: every flow and action text of
 * tests/fixtures/ovs_differential.json and every string literal of the ODP
 * tests (tests/odp_*_test.ts) that parses as a flow key or as actions.
 *
 * @module
 */

import { parseActions } from "../datapath/odp/action_parse.ts";
import { parseFlowKey } from "../datapath/odp/key_parse.ts";
import differential from "../tests/fixtures/ovs_differential.json" with { type: "json" };

/** Valid flow keys and valid action lists to mutate. */
export interface OdpSeeds {
  keys: string[];
  actions: string[];
}

const TEST_FILES = ["odp_key_test.ts", "odp_action_test.ts", "odp_key_roundtrip_test.ts"];

function parses(parse: (text: string) => unknown, text: string): boolean {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
}

/** String literals of a test file (double-quoted and backquoted without `${`). */
function literals(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/"((?:[^"\\\n]|\\.)*)"|`([^`$]*)`/g)) {
    const text = m[1] ?? m[2];
    if (text.includes("(")) out.push(text.replaceAll('\\"', '"'));
  }
  return out;
}

/** Loads the seeds (reads the test files next to this repository's fuzz/ folder). */
export function loadOdpSeeds(): OdpSeeds {
  const keys = new Set<string>();
  const actions = new Set<string>();
  for (const c of differential as { flows: { flow: string; actions: string }[] }[]) {
    for (const f of c.flows) {
      keys.add(f.flow);
      actions.add(f.actions);
    }
  }
  for (const file of TEST_FILES) {
    let source: string;
    try {
      source = Deno.readTextFileSync(new URL(`../tests/${file}`, import.meta.url));
    } catch {
      continue; // the fixture list above is enough on its own
    }
    for (const text of literals(source)) {
      if (parses(parseFlowKey, text)) keys.add(text);
      else if (parses(parseActions, text)) actions.add(text);
    }
  }
  return {
    keys: [...keys].filter((k) => parses(parseFlowKey, k)),
    actions: [...actions].filter((a) => parses(parseActions, a)),
  };
}
