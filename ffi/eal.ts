/**
 * DPDK's Environment Abstraction Layer: initialise once per process from a
 * config, hotplug virtual devices afterwards, clean up.
 *
 * `rte_eal_init` succeeds only once per process, and never again after
 * `rte_eal_cleanup`. So {@linkcode initEal} is idempotent: when the EAL is
 * already up in this process (DPDK's runtime directory is set, whichever
 * isolate initialised it), it keeps the running EAL and only hotplugs the
 * config's vdevs that do not exist yet. Several test files in one
 * `deno test` process therefore share one EAL and add their own devices
 * under distinct names.
 *
 * EAL pins the calling thread to the main lcore (`cores[0]`); threads started
 * later inherit the pin. Start Workers before init, or reset their affinity.
 * A Worker does not call initEal: it opens the libraries and calls
 * {@linkcode registerThread}.
 *
 * @module
 */

import { loadDpdk } from "./loader.ts";
import { check, DpdkError } from "./status.ts";

/** How to start the EAL. */
export interface EalConfig {
  /** Lcores (CPU numbers); the first is the main lcore, the caller's thread. Default `[0]`. */
  cores?: number[];
  /** Memory in MiB (`-m`). Default 1024. */
  memoryMb?: number;
  /** Run without hugepages (`--no-huge`). Default true. */
  noHuge?: boolean;
  /** PCI devices to use (`-a`); empty means no PCI scan at all (`--no-pci`). Default `[]`. */
  pciAllow?: string[];
  /** Virtual devices to create at init (`--vdev`), e.g. `"net_ring0"`. Default `[]`. */
  vdevs?: string[];
  /** `--file-prefix`; must be unique per process. Default `dpif-<pid>`. */
  filePrefix?: string;
  /** EAL log level (`--log-level`), 1 (critical) to 8 (debug). Default 5 (notice). */
  logLevel?: number;
  /** More EAL arguments, appended as given. Default `[]`. */
  extraArgs?: string[];
}

/** The running EAL as this process sees it. */
export interface EalSession {
  /** The arguments rte_eal_init got (empty when the EAL was already up). */
  readonly args: readonly string[];
  /** DPDK's runtime directory, `/var/run/dpdk/<file-prefix>` as root. */
  readonly runtimeDir: string;
  /** True when this call found the EAL already initialised and only hotplugged vdevs. */
  readonly alreadyInitialized: boolean;
}

const encoder = new TextEncoder();
/** argv of rte_eal_init: EAL may keep pointers into it, so it lives as long as the isolate. */
const keptArgv: Uint8Array[] = [];
let cleanedUp = false;

/** True when rte_eal_init has succeeded in this process (in any isolate). */
export function ealInitialized(): boolean {
  return runtimeDir() !== "";
}

/** Builds the rte_eal_init argument list for a config (argv[0] included). */
export function ealArgs(config: EalConfig = {}): string[] {
  const cores = config.cores ?? [0];
  if (cores.length === 0 || !cores.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new RangeError(`EAL cores must be non-negative integers, got ${JSON.stringify(cores)}`);
  }
  const memoryMb = config.memoryMb ?? 1024;
  if (!(Number.isInteger(memoryMb) && memoryMb > 0)) {
    throw new RangeError(`EAL memoryMb must be a positive integer, got ${memoryMb}`);
  }
  const prefix = config.filePrefix ?? `dpif-${Deno.pid}`;
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) {
    throw new RangeError(`EAL filePrefix must be letters, digits, '_', '.', '-': ${prefix}`);
  }
  const args = ["deno-dpif"];
  args.push("-l", cores.join(","), "-m", String(memoryMb));
  if (config.noHuge ?? true) args.push("--no-huge");
  const pci = config.pciAllow ?? [];
  if (pci.length === 0) args.push("--no-pci");
  for (const address of pci) args.push("-a", address);
  args.push("--no-shconf", `--file-prefix=${prefix}`, "--no-telemetry");
  args.push(`--log-level=${config.logLevel ?? 5}`);
  for (const vdev of config.vdevs ?? []) args.push(`--vdev=${vdev}`);
  args.push(...(config.extraArgs ?? []));
  return args;
}

/**
 * Initialises the EAL once per process; later calls hotplug the config's
 * missing vdevs into the running EAL. Removes the (empty) runtime directory
 * right away, so a killed process leaves nothing behind.
 * Throws a {@linkcode DpdkError} when rte_eal_init or a hotplug fails, or
 * after {@linkcode cleanupEal} (code EALREADY: DPDK cannot start twice).
 */
export function initEal(config: EalConfig = {}): EalSession {
  const { eal } = loadDpdk();
  if (cleanedUp) {
    throw new DpdkError("rte_eal_init", 114, "the EAL was cleaned up; a process starts it once");
  }
  if (ealInitialized()) {
    for (const vdev of config.vdevs ?? []) hotplugAdd(vdev);
    return { args: [], runtimeDir: runtimeDir(), alreadyInitialized: true };
  }
  const args = ealArgs(config);
  const strings = args.map((a) => encoder.encode(a + "\0"));
  const argv = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => {
    argv[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s)));
  });
  keptArgv.push(...strings, new Uint8Array(argv.buffer));
  check("rte_eal_init", eal.rte_eal_init(args.length, argv), {
    errnoFrom: "rte_errno",
    detail: args.slice(1).join(" "),
  });
  const dir = runtimeDir();
  removeRuntimeDir(dir);
  return { args, runtimeDir: dir, alreadyInitialized: false };
}

/**
 * Probes a device after init (`rte_dev_probe`), e.g. `"net_ring1"` or
 * `"net_pcap0,rx_pcap=in.pcap"`. Returns true when it probed the device,
 * false when a device of that name already existed. Throws a
 * {@linkcode DpdkError} otherwise.
 */
export function hotplugAdd(devargs: string): boolean {
  const { eal, ethdev } = loadDpdk();
  const name = deviceName(devargs);
  const portId = new Uint16Array(1);
  if (ethdev.rte_eth_dev_get_port_by_name(cString(name), portId) === 0) return false;
  check("rte_dev_probe", eal.rte_dev_probe(cString(devargs)), { detail: devargs });
  return true;
}

/** Removes a hotplugged device (`rte_eal_hotplug_remove`). Throws a {@linkcode DpdkError}. */
export function hotplugRemove(name: string, bus = "vdev"): void {
  const { eal } = loadDpdk();
  check("rte_eal_hotplug_remove", eal.rte_eal_hotplug_remove(cString(bus), cString(name)), {
    detail: `${bus}:${name}`,
  });
}

/** The device name of devargs: the text before the first comma. */
export function deviceName(devargs: string): string {
  const name = devargs.split(",", 1)[0].trim();
  if (name === "") throw new RangeError(`devargs without a device name: '${devargs}'`);
  return name;
}

/**
 * Gives the calling thread (a Worker's) an lcore id, so that mempool caches
 * and per-lcore state work there. Returns nothing; throws a {@linkcode DpdkError}.
 */
export function registerThread(): void {
  check("rte_thread_register", loadDpdk().eal.rte_thread_register(), { errnoFrom: "rte_errno" });
}

/**
 * Stops the EAL (`rte_eal_cleanup`) and removes its runtime directory. Close
 * every port and free every pool first. The EAL cannot be started again in
 * this process. Throws a {@linkcode DpdkError}.
 */
export function cleanupEal(): void {
  if (!ealInitialized() || cleanedUp) return;
  const dir = runtimeDir();
  cleanedUp = true;
  check("rte_eal_cleanup", loadDpdk().eal.rte_eal_cleanup());
  removeRuntimeDir(dir);
}

/** A NUL-terminated copy of a string, for `const char *` parameters. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text + "\0");
}

function runtimeDir(): string {
  const pointer = loadDpdk().eal.rte_eal_get_runtime_dir();
  return pointer === null ? "" : Deno.UnsafePointerView.getCString(pointer);
}

function removeRuntimeDir(dir: string): void {
  if (dir === "") return;
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // already gone, or not ours to remove: nothing to clean
  }
}
