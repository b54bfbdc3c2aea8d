/**
 * The calling thread's nice value (`setpriority(PRIO_PROCESS, 0, n)` from
 * libc: on Linux the nice value is per thread, and `who = 0` names the
 * calling thread). tools/flow_churn.ts lowers its check Workers' priority
 * with it, so that the churning thread keeps its core when they share one.
 * Raising the value (lowering the priority) needs no privilege.
 *
 * @module
 */

const PRIO_PROCESS = 0;

let libc:
  | Deno.DynamicLibrary<{
    setpriority: { parameters: ["i32", "u32", "i32"]; result: "i32" };
    getpriority: { parameters: ["i32", "u32"]; result: "i32" };
  }>["symbols"]
  | undefined;

function open() {
  libc ??= Deno.dlopen("libc.so.6", {
    setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
    getpriority: { parameters: ["i32", "u32"], result: "i32" },
  }).symbols;
  return libc;
}

/**
 * Sets the calling thread's nice value (-20 to 19; a lower priority than
 * now needs no privilege) and returns the value it now has. Throws a
 * RangeError for a value out of range, an Error when libc refuses.
 */
export function setThreadNice(nice: number): number {
  if (!(Number.isInteger(nice) && nice >= -20 && nice <= 19)) {
    throw new RangeError(`bad nice value ${nice}`);
  }
  if (open().setpriority(PRIO_PROCESS, 0, nice) !== 0) {
    throw new Error(`setpriority(${nice}) failed`);
  }
  return threadNice();
}

/** The calling thread's nice value. */
export function threadNice(): number {
  // getpriority may return -1 legitimately; a nice value it cannot read does not happen for self.
  return open().getpriority(PRIO_PROCESS, 0);
}
