/**
 * DPDK status codes: one error class and one check function that every FFI
 * call's result goes through.
 *
 * DPDK reports failures two ways: most ethdev and hotplug calls return a
 * negative errno; rte_eal_init returns -1 and pointer-returning calls return
 * NULL, with the reason in the thread's rte_errno (read through the shim).
 *
 * @module
 */

import { loadDpdk } from "./loader.ts";

/** errno names by number (Linux), plus DPDK's own codes. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  5: "EIO",
  7: "E2BIG",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  24: "EMFILE",
  28: "ENOSPC",
  34: "ERANGE",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  95: "ENOTSUP",
  110: "ETIMEDOUT",
  114: "EALREADY",
  1001: "E_RTE_SECONDARY",
  1002: "E_RTE_NO_CONFIG",
};

/** A failed DPDK call: which function, the errno value and its name. */
export class DpdkError extends Error {
  /** The DPDK function that failed, e.g. `"rte_eth_dev_start"`. */
  readonly call: string;
  /** The positive errno value (or DPDK's own code >= 1000). */
  readonly errno: number;
  /** The errno name, e.g. `"EINVAL"`, or `"E<number>"` when unknown. */
  readonly code: string;

  /** Creates an error; the message names the call, the code and DPDK's text for it. */
  constructor(call: string, errno: number, detail = "", options?: ErrorOptions) {
    const code = errnoName(errno);
    super(
      `${call} failed: ${code} (${describeErrno(errno)})${detail ? `: ${detail}` : ""}`,
      options,
    );
    this.name = "DpdkError";
    this.call = call;
    this.errno = errno;
    this.code = code;
  }
}

/** The name of an errno value, e.g. 22 -> "EINVAL". */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/**
 * Checks a DPDK call's result and returns it when it succeeded; otherwise
 * throws a {@linkcode DpdkError}.
 *
 * - A number below 0 is a failure: `-errno`, except that with
 *   `errnoFrom: "rte_errno"` (rte_eal_init's -1) the code is the thread's
 *   rte_errno.
 * - A `null` pointer is a failure whose code is the thread's rte_errno.
 *
 * `detail` is appended to the message (e.g. the devargs that were probed).
 */
export function check<T extends number | Deno.PointerValue>(
  call: string,
  result: T,
  options: { errnoFrom?: "result" | "rte_errno"; detail?: string } = {},
): Exclude<T, null> {
  if (result === null) throw new DpdkError(call, rteErrno(), options.detail);
  if (typeof result === "number" && result < 0) {
    const errno = options.errnoFrom === "rte_errno" ? rteErrno() : -result;
    throw new DpdkError(call, errno, options.detail);
  }
  return result as Exclude<T, null>;
}

function rteErrno(): number {
  try {
    return loadDpdk().shim.dpif_rte_errno() || 1;
  } catch {
    return 1;
  }
}

function describeErrno(errno: number): string {
  try {
    const text = loadDpdk().eal.rte_strerror(errno);
    return text === null ? "unknown error" : Deno.UnsafePointerView.getCString(text);
  } catch {
    return "unknown error";
  }
}
