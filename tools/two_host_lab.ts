/**
 * The lab of the two-host tunnel test: four network namespaces (host A,
 * host B, client A, client B), the veth pairs between them, and one real
 * deno-dpif service (`main.ts`) per host namespace, administered through its
 * REST API with `curl` run inside that namespace (the API listens on the
 * namespace's own loopback, which the calling process cannot reach).
 *
 * ```
 *  client A ns            host A ns                          host B ns            client B ns
 *  [ca 10.1.0.1] --veth-- [pa]=dpdk 20  service A  dpdk 10=[ua] ==veth (underlay)== [ub]=dpdk 10  service B  dpdk 20=[pb] --veth-- [cb 10.1.0.2]
 * ```
 *
 * Each dpdk port is a `net_af_packet` device on the host-side veth end. The
 * underlay veths carry a 1,600-byte MTU so a full 1,500-byte inner frame
 * plus the 50-byte encapsulation fits. Offloads are switched off on every
 * veth (a packet socket sees what the kernel would have checksummed or
 * segmented later), and IPv6 is off in every namespace so that no router
 * solicitations wander into the datapaths.
 *
 * Each service runs as `ip netns exec <hostNs> deno run -A main.ts --listen
 * 127.0.0.1:18080 --state <tmp>/state_<X> --eal=--file-prefix=<prefix><x>`
 * (the namespaces' loopbacks are separate, so both use one API port; the
 * EAL file prefix is unique per run and host). Its JSON logs go to a
 * temporary file whose notable lines {@linkcode TwoHostLab.logTail} returns.
 *
 * Everything is named with a per-run prefix and removed by
 * {@linkcode TwoHostLab.cleanup}, which is safe to call at any point.
 *
 * @module
 */

import { NetnsLab, run } from "../tests/fixtures/netns.ts";
import { dpdkAvailability } from "../ffi/loader.ts";

/** Addresses and port numbers of one host of the lab. */
export interface HostPlan {
  /** "A" or "B". */
  label: string;
  /** Outer (underlay) IPv4 address used in tunnel headers. */
  underlayIp: string;
  /** MAC of the host's underlay veth end. */
  underlayMac: string;
  /** Client's overlay address (CIDR). */
  clientAddress: string;
  /** Client's MAC. */
  clientMac: string;
}

/** The two hosts' plans: A and B share overlay subnet 10.1.0.0/24. */
export const HOSTS: readonly [HostPlan, HostPlan] = [
  {
    label: "A",
    underlayIp: "172.31.0.1",
    underlayMac: "02:00:00:00:aa:01",
    clientAddress: "10.1.0.1/24",
    clientMac: "02:00:00:01:00:01",
  },
  {
    label: "B",
    underlayIp: "172.31.0.2",
    underlayMac: "02:00:00:00:bb:01",
    clientAddress: "10.1.0.2/24",
    clientMac: "02:00:00:01:00:02",
  },
];

/** Datapath port number of the underlay (veth to the other host) on each host. */
export const UNDERLAY_PORT = 10;
/** Datapath port number of the client (veth to the client namespace) on each host. */
export const CLIENT_PORT = 20;
/** MTU of the underlay veths: 1,500 inner bytes plus 50 bytes of encapsulation fit. */
export const UNDERLAY_MTU = 1600;

/** A REST answer: status and parsed JSON body (null when empty). */
export interface RestAnswer {
  status: number;
  body: unknown;
}

/** One running service in a host namespace. */
export interface HostService {
  plan: HostPlan;
  /** Host namespace name. */
  hostNs: string;
  /** Client namespace name. */
  clientNs: string;
  /** Interface names (host side) the dpdk ports bind to. */
  underlayIface: string;
  clientIface: string;
  /** TCP port of the REST API on the namespace's loopback. */
  apiPort: number;
  /** The `ip netns exec ... deno run main.ts` child. */
  child: Deno.ChildProcess;
  /** Where its JSON logs go (removed at cleanup). */
  logFile: string;
}

/**
 * Why the two-host lab cannot run here, or null: it needs root, iproute2,
 * ping, nc, curl, ethtool and a usable DPDK.
 */
export function twoHostUnavailable(): string | null {
  if (Deno.uid() !== 0) return "the two-host lab needs root (network namespaces, af_packet)";
  for (
    const [cmd, args] of [
      ["ip", ["-V"]],
      ["ping", ["-V"]],
      ["curl", ["--version"]],
      ["ethtool", ["--version"]],
    ] as const
  ) {
    if (run(cmd, [...args]).code === 127) return `${cmd} is not installed`;
  }
  if (run("nc", ["-h"]).code === 127) return "nc is not installed";
  const dpdk = dpdkAvailability();
  if (!dpdk.available) return `DPDK is not usable: ${dpdk.reason}`;
  return null;
}

/** Options of {@linkcode TwoHostLab.create}. */
export interface TwoHostLabOptions {
  /** Prints a progress line. Default: nothing. */
  log?: (line: string) => void;
  /** Extra service flags (e.g. `["--learning"]`). Default none. */
  serviceFlags?: string[];
}

/** Namespaces, veths and the two services. */
export class TwoHostLab {
  readonly netns = new NetnsLab();
  readonly hosts: HostService[] = [];
  /** The last log lines of each service, filled by {@linkcode cleanup}. */
  readonly logTails: string[] = [];
  readonly #log: (line: string) => void;
  readonly #workDir: string;

  private constructor(log: (line: string) => void) {
    this.#log = log;
    this.#workDir = Deno.makeTempDirSync({ prefix: "dpif_two_host_" });
  }

  /**
   * Builds the namespaces and veths and starts both services (waiting until
   * their APIs answer). On any failure everything made so far is removed
   * and the error rethrown.
   */
  static async create(options: TwoHostLabOptions = {}): Promise<TwoHostLab> {
    const lab = new TwoHostLab(options.log ?? (() => {}));
    try {
      lab.#buildNetwork();
      for (const plan of HOSTS) lab.#startService(plan, options.serviceFlags ?? []);
      await Promise.all(lab.hosts.map((h) => lab.#waitReady(h)));
      return lab;
    } catch (error) {
      await lab.cleanup();
      throw error;
    }
  }

  #buildNetwork(): void {
    const lab = this.netns;
    const [a, b] = HOSTS;
    const ns = {
      hA: lab.addNamespace("hA"),
      hB: lab.addNamespace("hB"),
      cA: lab.addNamespace("cA"),
      cB: lab.addNamespace("cB"),
    };
    for (const name of Object.values(ns)) {
      run("ip", ["netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
      run("ip", ["netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    }
    lab.addVeth(
      { name: "ua", netns: ns.hA, mac: a.underlayMac },
      { name: "ub", netns: ns.hB, mac: b.underlayMac },
    );
    lab.addVeth(
      { name: "ca", netns: ns.cA, mac: a.clientMac, address: a.clientAddress },
      { name: "pa", netns: ns.hA },
    );
    lab.addVeth(
      { name: "cb", netns: ns.cB, mac: b.clientMac, address: b.clientAddress },
      { name: "pb", netns: ns.hB },
    );
    const links: [string, string][] = [
      [ns.hA, "ua"],
      [ns.hB, "ub"],
      [ns.cA, "ca"],
      [ns.hA, "pa"],
      [ns.cB, "cb"],
      [ns.hB, "pb"],
    ];
    for (const [name, suffix] of links) {
      const iface = lab.link(suffix);
      if (suffix === "ua" || suffix === "ub") {
        mustIn(name, "ip", ["link", "set", iface, "mtu", String(UNDERLAY_MTU)]);
      }
      // A packet socket sees frames before checksum / segmentation offloads are resolved.
      mustIn(name, "ethtool", ["-K", iface, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
    }
    this.#log(
      `namespaces ${Object.values(ns).join(" ")}; underlay veth ${lab.link("ua")}<->${
        lab.link("ub")
      } (mtu ${UNDERLAY_MTU}); clients ${a.clientAddress} (${
        lab.link("ca")
      }), ${b.clientAddress} (${lab.link("cb")})`,
    );
  }

  #startService(plan: HostPlan, flags: string[]): void {
    const hostNs = this.netns.prefix + "h" + plan.label;
    const clientNs = this.netns.prefix + "c" + plan.label;
    const low = plan.label.toLowerCase();
    const apiPort = 18080;
    const logFile = `${this.#workDir}/service_${plan.label}.log`;
    const mainTs = new URL("../main.ts", import.meta.url).pathname;
    const args = [
      "netns",
      "exec",
      hostNs,
      Deno.execPath(),
      "run",
      "-A",
      mainTs,
      "--listen",
      `127.0.0.1:${apiPort}`,
      "--state",
      `${this.#workDir}/state_${plan.label}`,
      // "=" form: the value starts with a dash.
      `--eal=--file-prefix=${this.netns.prefix}${low}`,
      "--log-level",
      "info",
      ...flags,
    ];
    const log = Deno.openSync(logFile, { write: true, create: true, truncate: true });
    const child = new Deno.Command("ip", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // JSON logs to the file, so a failure can be explained afterwards.
    child.stderr.pipeTo(log.writable).catch(() => {});
    this.hosts.push({
      plan,
      hostNs,
      clientNs,
      underlayIface: this.netns.link("u" + low),
      clientIface: this.netns.link("p" + low),
      apiPort,
      child,
      logFile,
    });
    this.#log(`host ${plan.label}: ip ${args.join(" ")}`);
  }

  async #waitReady(host: HostService): Promise<void> {
    const deadline = Date.now() + 20_000;
    let exited: number | null = null;
    host.child.status.then((s) => exited = s.code);
    while (Date.now() < deadline) {
      if (exited !== null) {
        throw new Error(
          `host ${host.plan.label}: service exited (${exited}): ${this.logTail(host)}`,
        );
      }
      const answer = await this.rest(host, "GET", "/v1/version").catch(() => null);
      if (answer !== null && answer.status === 200) {
        const info = answer.body as { datapath_type?: string };
        if (info.datapath_type !== "dpdk") {
          throw new Error(
            `host ${host.plan.label}: the service runs on '${info.datapath_type}', not dpdk ` +
              `: ${this.logTail(host)}`,
          );
        }
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`host ${host.plan.label}: API not up in 20 s: ${this.logTail(host)}`);
  }

  /**
   * What a host's service log says that matters: its lines that are not
   * JSON at level info or debug (warnings, errors, uncaught exceptions),
   * the last `lines` of them; the last 3 lines when there are none.
   */
  logTail(host: HostService, lines = 8): string {
    let all: string[];
    try {
      all = Deno.readTextFileSync(host.logFile).trimEnd().split("\n");
    } catch {
      return "(no log)";
    }
    const notable = all.filter((line) => !/^\{.*"level":"(info|debug)"/.test(line));
    return (notable.length > 0 ? notable.slice(-lines) : all.slice(-3)).join("\n");
  }

  /**
   * Calls the host's REST API (curl inside the host namespace).
   * @throws {Error} when curl fails to connect.
   */
  async rest(host: HostService, method: string, path: string, body?: unknown): Promise<RestAnswer> {
    const args = [
      "netns",
      "exec",
      host.hostNs,
      "curl",
      "-sS",
      "-m",
      "10",
      "-X",
      method,
      "-w",
      "\n%{http_code}",
      `http://127.0.0.1:${host.apiPort}${path}`,
    ];
    if (body !== undefined) {
      args.push("-H", "content-type: application/json", "--data-binary", JSON.stringify(body));
    }
    const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (out.code !== 0) {
      throw new Error(`curl ${method} ${path}: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    const cut = text.lastIndexOf("\n");
    const status = Number(text.slice(cut + 1));
    const payload = text.slice(0, cut);
    return { status, body: payload === "" ? null : JSON.parse(payload) };
  }

  /**
   * Calls the API and throws unless the status is 2xx, with the API's
   * error message.
   */
  async mustRest(
    host: HostService,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<unknown> {
    const answer = await this.rest(host, method, path, body);
    if (answer.status < 200 || answer.status > 299) {
      throw new Error(
        `host ${host.plan.label}: ${method} ${path} -> ${answer.status} ${
          JSON.stringify(answer.body)
        }`,
      );
    }
    return answer.body;
  }

  /**
   * Stops both services (SIGTERM, then SIGKILL after 10 s) and removes the
   * namespaces, veths, DPDK runtime directories and the log directory
   * (keeping the last lines of each log in {@linkcode logTails}). Returns
   * the services' exit codes. Safe to call twice.
   */
  async cleanup(): Promise<number[]> {
    const codes: number[] = [];
    for (const host of this.hosts.splice(0)) {
      codes.push(await stopChild(host.child));
      this.logTails.push(`host ${host.plan.label}: ${this.logTail(host)}`);
    }
    this.netns.cleanup();
    for (const low of ["a", "b"]) {
      try {
        Deno.removeSync(`/var/run/dpdk/${this.netns.prefix}${low}`, { recursive: true });
      } catch {
        // the service removed it (it does at EAL init and cleanup)
      }
    }
    try {
      Deno.removeSync(this.#workDir, { recursive: true });
    } catch {
      // already gone
    }
    return codes;
  }
}

async function stopChild(child: Deno.ChildProcess): Promise<number> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already exited
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, 10_000);
  const status = await child.status;
  clearTimeout(timer);
  return status.code;
}

function mustIn(netns: string, cmd: string, args: string[]): void {
  const result = run("ip", ["netns", "exec", netns, cmd, ...args]);
  if (result.code !== 0) {
    throw new Error(`${netns}: ${cmd} ${args.join(" ")}: ${result.stderr.trim()}`);
  }
}
