/**
 * ffi/thread_scheduling.ts: a thread goes to SCHED_FIFO and back (root
 * only: skipped with the reason otherwise), another thread by its id, and
 * bad arguments throw.
 */
import assert from "node:assert/strict";
import { isThreadRealtime, setThreadNormal, setThreadRealtime } from "../ffi/thread_scheduling.ts";

const root = Deno.uid() === 0;
if (!root) console.log("thread scheduling tests skipped: SCHED_FIFO needs root (CAP_SYS_NICE)");

Deno.test("thread scheduling: bad arguments throw RangeError", () => {
  assert.throws(() => setThreadRealtime(0), RangeError);
  assert.throws(() => setThreadRealtime(100), RangeError);
  assert.throws(() => setThreadRealtime(1.5), RangeError);
  assert.throws(() => setThreadRealtime(1, -1), RangeError);
  assert.equal(isThreadRealtime(), false, "threads start in SCHED_OTHER");
});

Deno.test({
  name: "thread scheduling: the calling thread and another by id go to SCHED_FIFO and back",
  ignore: !root,
  fn() {
    try {
      setThreadRealtime(1);
      assert.equal(isThreadRealtime(), true);
    } finally {
      setThreadNormal();
    }
    assert.equal(isThreadRealtime(), false);
    // Another thread of this process, by its id (as the bench does for the PMD).
    const tid = [...Deno.readDirSync("/proc/self/task")].map((e) => Number(e.name))
      .find((id) => id !== Deno.pid)!;
    try {
      setThreadRealtime(2, tid);
      assert.equal(isThreadRealtime(tid), true);
      assert.equal(isThreadRealtime(), false, "only that thread");
    } finally {
      setThreadNormal(tid);
    }
    assert.equal(isThreadRealtime(tid), false);
    assert.throws(() => setThreadRealtime(1, 0x7ffffff0), /errno 3/, "ESRCH: no such thread");
  },
});
