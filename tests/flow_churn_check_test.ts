/**
 * The churn tool's dump check in its Worker (tools/flow_churn_check.ts):
 * every posted entry is checked with malformedFlow, broken ones are counted
 * and named, and the result waits for every page posted before it.
 */
import assert from "node:assert/strict";
import { DumpChecker, malformedFlow } from "../tools/flow_churn_check.ts";
import { churnActions, churnMatch } from "../tools/flow_churn.ts";

Deno.test("dump checker: counts every entry and names the first broken one", async () => {
  const checker = new DumpChecker();
  try {
    const good = (i: number) => ({
      ufid: `u${i}`,
      flow: churnMatch(i),
      actions: churnActions(i, i),
    });
    for (let page = 0; page < 20; page++) {
      checker.check(Array.from({ length: 50 }, (_, i) => good(page * 50 + i)));
    }
    assert.deepEqual(await checker.result(), { checked: 1000, malformed: 0, first: null });
    const broken = [
      { ufid: "b1", flow: churnMatch(1), actions: "set(eth(src=02:00:00:00:00:01)),2x" },
      good(2),
      { ufid: "", flow: churnMatch(3), actions: "2" },
      { ufid: "b4", flow: "in_port(1),eth_type(0x0800),ipv4(src=1.2.3)", actions: "2" },
    ];
    checker.check(broken);
    const result = await checker.finish();
    assert.equal(result.checked, 1004);
    assert.equal(result.malformed, 3);
    assert.equal(result.first, malformedFlow(broken[0]));
    assert.match(String(result.first), /^b1: /);
  } finally {
    checker.close();
  }
});
