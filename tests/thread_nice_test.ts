/**
 * tools/thread_nice.ts: a check Worker started with a nice value runs at it
 * (read back from /proc, per thread), and bad values are refused.
 */
import assert from "node:assert/strict";
import { DumpChecker } from "../tools/flow_churn_check.ts";
import { setThreadNice } from "../tools/thread_nice.ts";

/** Nice values of this process's threads (field 19 of /proc/self/task/N/stat). */
function threadNices(): number[] {
  const nices: number[] = [];
  for (const task of Deno.readDirSync("/proc/self/task")) {
    try {
      const stat = Deno.readTextFileSync(`/proc/self/task/${task.name}/stat`);
      nices.push(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return nices;
}

Deno.test({
  name: "thread nice: a check Worker started at nice 7 runs at nice 7",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    assert.equal(threadNices().includes(7), false);
    const checker = new DumpChecker(undefined, 7);
    try {
      await checker.result(); // answered after the nice request, in order
      assert.equal(threadNices().includes(7), true);
    } finally {
      checker.close();
    }
  },
});

Deno.test("thread nice: out-of-range values are a RangeError", () => {
  assert.throws(() => setThreadNice(20), RangeError);
  assert.throws(() => setThreadNice(-21), RangeError);
  assert.throws(() => setThreadNice(1.5), RangeError);
});
