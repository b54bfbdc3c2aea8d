/**
 * A thread's scheduling policy (`sched_setscheduler` from libc): the normal
 * time-shared policy (SCHED_OTHER) or real-time FIFO at a priority.
 *
 * Why: on a machine whose CPUs other processes keep busy, a thread woken
 * for an upcall waits for a CPU behind them (Linux's fair scheduler lets
 * the running task finish its slice): in bench/pmd_upcall_bench.ts the
 * control thread's wake-up after the PMD's notify was p50 57 µs but p99
 * 4 to 5 ms on the shared 2-vCPU test VM (load 2 to 3 from other jobs).
 * At SCHED_FIFO priority 1 it was p99 125 to 165 µs. A FIFO thread is
 * never preempted by normal ones, so use it only for a thread that mostly
 * sleeps (the control thread, a PMD that naps); a busy-polling FIFO thread
 * leaves its CPU to others only through the kernel's RT throttling (5 %).
 * Needs CAP_SYS_NICE (root); otherwise {@linkcode setThreadRealtime} throws.
 *
 * @module
 */

const SCHED_OTHER = 0;
const SCHED_FIFO = 1;

let libc:
  | Deno.DynamicLibrary<{
    sched_setscheduler: { parameters: ["i32", "i32", "buffer"]; result: "i32" };
    sched_getscheduler: { parameters: ["i32"]; result: "i32" };
    __errno_location: { parameters: []; result: "pointer" };
  }>["symbols"]
  | undefined;

function open() {
  libc ??= Deno.dlopen("libc.so.6", {
    sched_setscheduler: { parameters: ["i32", "i32", "buffer"], result: "i32" },
    sched_getscheduler: { parameters: ["i32"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
  }).symbols;
  return libc;
}

function errno(): number {
  const at = open().__errno_location();
  return at === null ? 0 : new Deno.UnsafePointerView(at).getInt32();
}

function setScheduler(tid: number, policy: number, priority: number): void {
  if (!(Number.isInteger(tid) && tid >= 0)) throw new RangeError(`bad thread id ${tid}`);
  const param = new Int32Array([priority]);
  if (open().sched_setscheduler(tid, policy, new Uint8Array(param.buffer)) !== 0) {
    const what = policy === SCHED_FIFO ? `SCHED_FIFO ${priority}` : "SCHED_OTHER";
    throw new Error(`sched_setscheduler(${tid}, ${what}) failed: errno ${errno()}`);
  }
}

/**
 * Puts thread `tid` (0: the calling thread) in SCHED_FIFO at `priority`
 * (1..99). Throws a RangeError for a bad argument, an Error when the kernel
 * refuses (EPERM without CAP_SYS_NICE).
 */
export function setThreadRealtime(priority: number, tid = 0): void {
  if (!(Number.isInteger(priority) && priority >= 1 && priority <= 99)) {
    throw new RangeError(`real-time priority must be 1..99, got ${priority}`);
  }
  setScheduler(tid, SCHED_FIFO, priority);
}

/** Puts thread `tid` (0: the calling thread) back in SCHED_OTHER. Throws as above. */
export function setThreadNormal(tid = 0): void {
  setScheduler(tid, SCHED_OTHER, 0);
}

/** Whether thread `tid` (0: the calling thread) runs in SCHED_FIFO. */
export function isThreadRealtime(tid = 0): boolean {
  return open().sched_getscheduler(tid) === SCHED_FIFO;
}
