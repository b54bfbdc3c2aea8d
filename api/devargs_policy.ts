/**
 * What a `dpdk` port added through the API may ask DPDK for. DPDK device
 * arguments are powerful: `net_failsafe,exec(CMD)` runs a shell command,
 * `net_pcap,rx_pcap=FILE` reads any file and `tx_pcap=FILE` writes one,
 * `net_vhost,iface=PATH` and `net_virtio_user,path=PATH` open sockets, and
 * `net_af_xdp,xdp_prog=FILE` loads a program. So a port request from the
 * API is checked before anything is probed:
 *
 * - the device must be one of the drivers the service supports
 *   ({@linkcode API_DPDK_DRIVERS}: net_ring, net_null, net_pcap, net_tap,
 *   net_af_packet, by name prefix as DPDK matches them) or a PCI address;
 * - a value naming a file ({@linkcode FILE_DEVARGS}: `rx_pcap`, `tx_pcap`)
 *   must be an absolute path inside the service's files directory (its
 *   `--state` directory), symlinks resolved; without one, files are refused.
 *
 * Everything refused answers EPERM (403) naming the argument. Ports
 * restored from the state store were checked when they were added.
 *
 * @module
 */

import { dirname, isAbsolute, normalize, resolve, sep } from "node:path";
import { ApiError } from "./errors.ts";

/** vdev drivers a port added through the API may use (DPDK matches them by name prefix). */
export const API_DPDK_DRIVERS: readonly string[] = [
  "net_ring",
  "net_null",
  "net_pcap",
  "net_tap",
  "net_af_packet",
];

/** Device arguments whose value is a file path. */
export const FILE_DEVARGS: ReadonlySet<string> = new Set(["rx_pcap", "tx_pcap"]);

const PCI_ADDRESS = /^(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/** A port request as far as this policy looks at it. */
export interface PortPolicyRequest {
  name: string;
  type: string;
  options?: Record<string, string>;
}

/**
 * Checks a port request from the API. `filesDir` is the only directory
 * device arguments may name files in (null: none may).
 * @throws {ApiError} EPERM naming what is refused.
 */
export function checkPortRequest(request: PortPolicyRequest, filesDir: string | null): void {
  if (request.type !== "dpdk") return;
  const options = request.options ?? {};
  checkDevargs(options.devargs ?? options["dpdk-devargs"] ?? request.name, filesDir);
}

/**
 * Checks one DPDK devargs string (`DEVICE,key=value,...`).
 * @throws {ApiError} EPERM naming what is refused.
 */
export function checkDevargs(devargs: string, filesDir: string | null): void {
  const [device, ...args] = devargs.trim().split(",");
  const driver = API_DPDK_DRIVERS.find((d) => device.startsWith(d));
  if (driver === undefined && !PCI_ADDRESS.test(device)) {
    throw new ApiError(
      "EPERM",
      `dpdk device '${device}' is not allowed through the API: use one of ` +
        `${API_DPDK_DRIVERS.join(", ")} (name prefix) or a PCI address`,
    );
  }
  for (const arg of args) {
    const eq = arg.indexOf("=");
    const key = (eq < 0 ? arg : arg.slice(0, eq)).trim();
    if (!FILE_DEVARGS.has(key)) continue;
    checkFile(key, eq < 0 ? "" : arg.slice(eq + 1).trim(), filesDir);
  }
}

function checkFile(key: string, path: string, filesDir: string | null): void {
  if (filesDir === null) {
    throw new ApiError(
      "EPERM",
      `dpdk devargs ${key}: files are only allowed inside the --state directory, ` +
        `and this service has none`,
    );
  }
  const root = realDirectory(filesDir);
  const refuse = (why: string) =>
    new ApiError("EPERM", `dpdk devargs ${key}=${path}: ${why} (files must be inside ${root})`);
  if (!isAbsolute(path) || normalize(path) !== path) {
    throw refuse("must be an absolute path without '.' or '..' parts");
  }
  if (!inside(root, realOrParent(path))) throw refuse("outside the files directory");
}

/** The real path of `path`, or of its directory when the file does not exist yet. */
function realOrParent(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    try {
      return resolve(Deno.realPathSync(dirname(path)), path.slice(dirname(path).length + 1));
    } catch {
      return path; // no such directory: the device will fail to open it
    }
  }
}

function realDirectory(dir: string): string {
  try {
    return Deno.realPathSync(dir);
  } catch {
    return resolve(dir);
  }
}

function inside(root: string, path: string): boolean {
  return path.startsWith(root.endsWith(sep) ? root : root + sep);
}
