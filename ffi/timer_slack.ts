/**
 * The calling thread's timer slack (`prctl(PR_SET_TIMERSLACK)` from libc):
 * how late the kernel may fire a timed wait to batch wake-ups. Linux gives
 * every thread 50 µs, so `Atomics.wait(..., 0.05)` lasted 125 µs on the
 * test VM and 78 µs with 1 µs of slack. A PMD that naps in short slices
 * sets its own slack low; other threads keep theirs.
 *
 * @module
 */

const PR_SET_TIMERSLACK = 29;
const PR_GET_TIMERSLACK = 30;

let libc:
  | Deno.DynamicLibrary<{
    prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"]; result: "i32" };
  }>["symbols"]
  | undefined;

function open() {
  libc ??= Deno.dlopen("libc.so.6", {
    prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  }).symbols;
  return libc;
}

/** The calling thread's timer slack in ns. Throws an Error when libc refuses. */
export function timerSlackNs(): number {
  const slack = open().prctl(PR_GET_TIMERSLACK, 0n, 0n, 0n, 0n);
  if (slack < 0) throw new Error("prctl(PR_GET_TIMERSLACK) failed");
  return slack;
}

/**
 * Sets the calling thread's timer slack to `ns` (at least 1; 0 would mean
 * "the default" to the kernel). Throws a RangeError for a bad value, an
 * Error when libc refuses.
 */
export function setTimerSlackNs(ns: number): void {
  if (!(Number.isInteger(ns) && ns >= 1 && ns <= 1e9)) {
    throw new RangeError(`timer slack must be 1..1e9 ns, got ${ns}`);
  }
  if (open().prctl(PR_SET_TIMERSLACK, BigInt(ns), 0n, 0n, 0n) !== 0) {
    throw new Error(`prctl(PR_SET_TIMERSLACK, ${ns}) failed`);
  }
}
