/**
 * Opens the DPDK libraries and the deno-dpif shim with `Deno.dlopen`.
 *
 * Library locations:
 * - `DPIF_DPDK_LIBDIR`: directory holding `librte_eal.so.23` and friends;
 *   unset, the dynamic linker's search path finds them (Debian installs them
 *   in /usr/lib/x86_64-linux-gnu).
 * - `DPIF_SHIM_PATH`: path of the shim; default `.build/libdpif_shim.so` at
 *   the repository root, built by `bash ffi/shim/build.sh`.
 *
 * Libraries are opened once per isolate, on first use, and never closed: a
 * Worker opens its own handles to the same process-wide libraries, so PMD
 * threads can bind them too.
 *
 * @module
 */

import {
  EAL_SYMBOLS,
  ETHDEV_SYMBOLS,
  MBUF_SYMBOLS,
  MEMPOOL_SYMBOLS,
  NET_RING_SYMBOLS,
  RING_SYMBOLS,
  SHIM_SYMBOLS,
} from "./symbols.ts";

/** DPDK's ABI version in the library file names (DPDK 22.11). */
export const DPDK_ABI = "23";

/** The bound symbols of every library deno-dpif uses. */
export interface DpdkLibraries {
  eal: Deno.DynamicLibrary<typeof EAL_SYMBOLS>["symbols"];
  mempool: Deno.DynamicLibrary<typeof MEMPOOL_SYMBOLS>["symbols"];
  mbuf: Deno.DynamicLibrary<typeof MBUF_SYMBOLS>["symbols"];
  ethdev: Deno.DynamicLibrary<typeof ETHDEV_SYMBOLS>["symbols"];
  ring: Deno.DynamicLibrary<typeof RING_SYMBOLS>["symbols"];
  netRing: Deno.DynamicLibrary<typeof NET_RING_SYMBOLS>["symbols"];
  shim: Deno.DynamicLibrary<typeof SHIM_SYMBOLS>["symbols"];
}

/** What {@linkcode dpdkAvailability} found. */
export interface DpdkAvailability {
  /** True when the DPDK libraries and the shim can be opened. */
  available: boolean;
  /** True when the DPDK libraries themselves open (the shim may still be missing). */
  librariesFound: boolean;
  /** True when the shim file exists. */
  shimFound: boolean;
  /** Why DPDK is unavailable, in plain words ("" when available). */
  reason: string;
}

let opened: DpdkLibraries | undefined;

/** Path of a DPDK library, honouring `DPIF_DPDK_LIBDIR`. */
export function dpdkLibraryPath(base: string): string {
  const dir = readEnv("DPIF_DPDK_LIBDIR");
  const file = `${base}.so.${DPDK_ABI}`;
  return dir ? `${dir.replace(/\/+$/, "")}/${file}` : file;
}

/** Path of the shim library, honouring `DPIF_SHIM_PATH`. */
export function shimPath(): string {
  const fromEnv = readEnv("DPIF_SHIM_PATH");
  if (fromEnv) return fromEnv;
  const url = new URL("../.build/libdpif_shim.so", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
}

/**
 * Opens (once per isolate) and returns every DPDK library and the shim.
 * Throws an Error naming the library and the environment variable to set,
 * with the dlopen error as `cause`.
 */
export function loadDpdk(): DpdkLibraries {
  if (opened) return opened;
  const eal = open(dpdkLibraryPath("librte_eal"), EAL_SYMBOLS, "DPIF_DPDK_LIBDIR");
  const mempool = open(dpdkLibraryPath("librte_mempool"), MEMPOOL_SYMBOLS, "DPIF_DPDK_LIBDIR");
  const mbuf = open(dpdkLibraryPath("librte_mbuf"), MBUF_SYMBOLS, "DPIF_DPDK_LIBDIR");
  const ethdev = open(dpdkLibraryPath("librte_ethdev"), ETHDEV_SYMBOLS, "DPIF_DPDK_LIBDIR");
  const ring = open(dpdkLibraryPath("librte_ring"), RING_SYMBOLS, "DPIF_DPDK_LIBDIR");
  const netRing = open(dpdkLibraryPath("librte_net_ring"), NET_RING_SYMBOLS, "DPIF_DPDK_LIBDIR");
  const shim = open(shimPath(), SHIM_SYMBOLS, "DPIF_SHIM_PATH");
  opened = { eal, mempool, mbuf, ethdev, ring, netRing, shim };
  return opened;
}

/**
 * Says whether DPDK can be used from this process, and if not, why, without
 * throwing: not Linux, no `--allow-ffi`, DPDK libraries missing, or the shim
 * not built.
 */
export function dpdkAvailability(): DpdkAvailability {
  const no = (reason: string, librariesFound = false, shimFound = false) => ({
    available: false,
    librariesFound,
    shimFound,
    reason,
  });
  if (Deno.build.os !== "linux") return no(`DPDK ports need Linux (this is ${Deno.build.os})`);
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return no("FFI permission not granted: run deno with --allow-ffi (or --allow-all)");
  }
  let librariesFound = true;
  let libraryError = "";
  try {
    Deno.dlopen(dpdkLibraryPath("librte_eal"), {}).close();
    Deno.dlopen(dpdkLibraryPath("librte_ethdev"), {}).close();
  } catch (error) {
    librariesFound = false;
    libraryError = error instanceof Error ? error.message : String(error);
  }
  let shimFound = false;
  try {
    shimFound = Deno.statSync(shimPath()).isFile;
  } catch {
    shimFound = false;
  }
  if (!librariesFound) {
    return no(
      `DPDK ${DPDK_ABI} libraries not found (${libraryError}): install libdpdk-dev and dpdk, ` +
        "or set DPIF_DPDK_LIBDIR",
      false,
      shimFound,
    );
  }
  if (!shimFound) {
    return no(
      `DPDK shim not built at ${shimPath()}: run bash ffi/shim/build.sh (or set DPIF_SHIM_PATH)`,
      true,
      false,
    );
  }
  try {
    loadDpdk();
  } catch (error) {
    return no(error instanceof Error ? error.message : String(error), true, true);
  }
  return { available: true, librariesFound: true, shimFound: true, reason: "" };
}

function open<S extends Deno.ForeignLibraryInterface>(
  path: string,
  symbols: S,
  envName: string,
): Deno.DynamicLibrary<S>["symbols"] {
  try {
    return Deno.dlopen(path, symbols).symbols;
  } catch (error) {
    throw new Error(`cannot open ${path} (set ${envName} to its location)`, { cause: error });
  }
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: defaults apply
  }
}
