/**
 * The calling thread's CPU affinity (`sched_setaffinity(0, ...)` from libc).
 * EAL pins the thread that initialises it, and threads created afterwards
 * inherit the pin; a PMD Worker calls {@linkcode setThreadAffinity} first so
 * that it does not share the main lcore with the HTTP server.
 *
 * @module
 */

const MASK_BYTES = 128; // cpu_set_t: 1024 CPUs

let libc:
  | Deno.DynamicLibrary<{
    sched_setaffinity: { parameters: ["i32", "usize", "buffer"]; result: "i32" };
    sched_getaffinity: { parameters: ["i32", "usize", "buffer"]; result: "i32" };
  }>["symbols"]
  | undefined;

function open() {
  libc ??= Deno.dlopen("libc.so.6", {
    sched_setaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
    sched_getaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
  }).symbols;
  return libc;
}

/** CPUs the calling thread may run on. Throws an Error when libc refuses. */
export function threadAffinity(): number[] {
  const mask = new Uint8Array(MASK_BYTES);
  if (open().sched_getaffinity(0, BigInt(MASK_BYTES), mask) !== 0) {
    throw new Error("sched_getaffinity failed");
  }
  const cpus: number[] = [];
  for (let cpu = 0; cpu < MASK_BYTES * 8; cpu++) {
    if ((mask[cpu >>> 3] >>> (cpu & 7)) & 1) cpus.push(cpu);
  }
  return cpus;
}

/**
 * Lets the calling thread run on `cpus` (empty: every online CPU). Returns
 * the CPUs it now has. Throws a RangeError for a bad CPU number, an Error
 * when libc refuses (e.g. no CPU of the list is online).
 */
export function setThreadAffinity(cpus: number[]): number[] {
  // Empty: every bit set; the kernel keeps the CPUs that exist and are online.
  // (navigator.hardwareConcurrency counts only the CPUs of the current pin.)
  const mask = new Uint8Array(MASK_BYTES).fill(cpus.length > 0 ? 0 : 0xff);
  const list = cpus.length > 0 ? cpus : ["all"];
  for (const cpu of cpus) {
    if (!(Number.isInteger(cpu) && cpu >= 0 && cpu < MASK_BYTES * 8)) {
      throw new RangeError(`bad CPU number ${cpu}`);
    }
    mask[cpu >>> 3] |= 1 << (cpu & 7);
  }
  if (open().sched_setaffinity(0, BigInt(MASK_BYTES), mask) !== 0) {
    throw new Error(`sched_setaffinity(${list.join(",")}) failed`);
  }
  return threadAffinity();
}
