/**
 * Open vSwitch with DPDK (Debian's `openvswitch-switch-dpdk`, OVS 3.1) as
 * the bench's peer, run the apples-to-apples way of
 * /work/shared/peers/ovs_dp_bench.sh: a bridge-less `netdev` datapath
 * (`dpctl/add-dp netdev@bench`), no OpenFlow and no revalidator, the very
 * datapath flows deno-dpif runs installed with `dpctl/add-flows`.
 *
 * Everything lives in a private temporary folder (database, sockets, logs,
 * pid files) with a per-process EAL `--file-prefix`: no hugepages
 * (`--no-huge --legacy-mem`; OVS adds `--in-memory` unless `--legacy-mem`
 * is given), the vdevs given to EAL in `other_config:dpdk-extra` and
 * attached by name (commas in devargs clash with dpctl's option syntax):
 * port 1 `in0` a net_pcap replay (`infinite_rx=1`), port 2 `out0` a
 * `net_null,no-rx=1` sink, port 4789 a VXLAN port (tnl_push / tnl_pop need
 * it). The PMD runs on one CPU (`pmd-cpu-mask`), the main thread on another
 * (`dpdk-lcore-mask`). {@linkcode OvsDpdk.stop} stops ovs-vswitchd and
 * ovsdb-server (by the pids they wrote) and removes the folder and DPDK's
 * runtime directory.
 *
 * Bridge mode (`bridge: true`), for what the bridge-less datapath cannot
 * do: `other_config` (the exact-match cache switch `emc-insert-inv-prob`)
 * reaches only the datapaths of bridges. A `netdev` bridge br0 with in0
 * (OpenFlow port 1) and out0 (port 2) as /work/shared/peers/ovs_dpdk.sh
 * sets it up, and OpenFlow rules from which ofproto makes the same datapath
 * flows on the first packets ({@linkcode OvsDpdk.setOpenFlows}).
 *
 * The rate is what `out0` transmitted (`dpctl/show -s`) over each interval,
 * as measure_ovs.sh takes it, with OVS's own PMD statistics.
 *
 * @module
 */

import { onPath, sleep } from "./system_tools.ts";
/** The DPDK build of ovs-vswitchd that openvswitch-switch-dpdk installs. */
export const OVS_VSWITCHD_DPDK = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk";
/** The OVSDB schema of the installed Open vSwitch. */
const OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";
/** Name of the bench datapath inside ovs-vswitchd (bridge-less mode). */
const BENCH_DP = "netdev@bench";
/** The datapath behind netdev bridges (bridge mode). */
const BRIDGE_DP = "netdev@ovs-netdev";
/**
 * Most flows one PMD's table holds in OVS's userspace datapath
 * (dpif-netdev.c MAX_FLOWS); puts beyond it fail with EFBIG.
 */
export const OVS_MAX_FLOWS_PER_PMD = 65536;
/** Port numbers, as deno-dpif's bench uses them. */
const IN_PORT = 1;
const OUT_PORT = 2;
const VXLAN_PORT = 4789;

/** Whether OVS-DPDK can run here, and why not. */
export type OvsAvailability = { available: true } | { available: false; reason: string };

/** Checks for root, the DPDK ovs-vswitchd and the OVS tools on PATH. */
export function ovsDpdkAvailability(): OvsAvailability {
  if (Deno.uid() !== 0) return { available: false, reason: "OVS-DPDK needs root" };
  try {
    Deno.statSync(OVS_VSWITCHD_DPDK);
    Deno.statSync(OVS_SCHEMA);
  } catch {
    return {
      available: false,
      reason: `${OVS_VSWITCHD_DPDK} is not installed (bash tools/install_peers.sh)`,
    };
  }
  for (const tool of ["ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovs-appctl", "ovs-ofctl"]) {
    if (!onPath(tool)) return { available: false, reason: `${tool} is not on PATH` };
  }
  return { available: true };
}

/** Options of {@linkcode OvsDpdk.start}. */
export interface OvsDpdkOptions {
  /** Capture replayed forever into port 1. */
  pcap: string;
  /** CPU of OVS's main thread (dpdk-lcore-mask). */
  mainCpu: number;
  /** CPU of the one PMD thread (pmd-cpu-mask). */
  pmdCpu: number;
  /** EAL memory in MiB. Default 2048 (OVS's shared mempool asks for up to 256k mbufs). */
  memoryMb?: number;
  /** Seconds to wait for OVS to come up. Default 60. */
  timeoutSeconds?: number;
  /** Bridge mode: br0 with OpenFlow (see the module doc). Default false. */
  bridge?: boolean;
  /**
   * Exact-match cache on (OVS's default insert probability 1/100) or off.
   * Default true. Off needs `bridge` (the bridge-less datapath takes no
   * other_config).
   */
  emc?: boolean;
}

/** What one measurement of OVS-DPDK gave. */
export interface OvsFigures {
  /** Mpps of each interval. */
  mpps: number[];
  /** OVS's "avg cycles per packet" over the last interval, or null. */
  cyclesPerPacket: number | null;
  /** OVS's "avg. subtable lookups per megaflow hit" over the last interval, or null. */
  subtableLookups: number | null;
  /** Exact-match cache hits / (EMC + megaflow hits) over the last interval, or null. */
  emcHitRatio: number | null;
  /** Misses (upcalls, failed or not) over the last interval. */
  misses: number;
  /** How OVS ran, when not bridge-less with the same datapath flows. */
  mode?: string;
}

/** A running OVS-DPDK with the bench datapath. */
export class OvsDpdk {
  readonly #dir: string;
  readonly #prefix: string;
  readonly #env: Record<string, string>;
  #ctl = "";
  #dp = BENCH_DP;
  #flowFile = 0;
  #stopped = false;

  private constructor(dir: string, prefix: string) {
    this.#dir = dir;
    this.#prefix = prefix;
    this.#env = {
      OVS_RUNDIR: dir,
      OVS_DBDIR: dir,
      OVS_LOGDIR: dir,
      OVS_SYSCONFDIR: dir,
      OVS_PKGDATADIR: "/usr/share/openvswitch",
    };
  }

  /** The sandbox folder (gone after stop). */
  get directory(): string {
    return this.#dir;
  }

  /**
   * Creates the sandbox, starts ovsdb-server and ovs-vswitchd-dpdk, and the
   * datapath with its three ports; resolves once the PMD polls port 1.
   * Flows come with {@linkcode setFlows} (or {@linkcode setOpenFlows} in
   * bridge mode). Stops what it started and rejects when a step fails; a
   * RangeError for `emc: false` without `bridge`.
   */
  static async start(options: OvsDpdkOptions): Promise<OvsDpdk> {
    if (options.emc === false && !options.bridge) {
      throw new RangeError("OVS-DPDK: turning the EMC off needs bridge mode");
    }
    const dir = await Deno.makeTempDir({ prefix: "dpif_ovs_" });
    const ovs = new OvsDpdk(dir, `dpif_ovs_${Deno.pid}`);
    running.add(ovs);
    if (running.size === 1) {
      for (const signal of EXIT_SIGNALS) Deno.addSignalListener(signal, stopAllAndExit);
    }
    try {
      await ovs.#boot(options);
      return ovs;
    } catch (error) {
      await ovs.stop();
      throw error;
    }
  }

  async #boot(options: OvsDpdkOptions): Promise<void> {
    const d = this.#dir;
    const memoryMb = options.memoryMb ?? 2048;
    const deadline = Date.now() + (options.timeoutSeconds ?? 60) * 1000;
    const bridge = options.bridge ?? false;
    const emc = options.emc ?? true;
    this.#dp = bridge ? BRIDGE_DP : BENCH_DP;
    const pcapDev = `net_pcap0,rx_pcap=${options.pcap},infinite_rx=1`;
    const nullDev = "net_null0,no-rx=1";
    await this.#run("ovsdb-tool", ["create", `${d}/conf.db`, OVS_SCHEMA]);
    await this.#run("ovsdb-server", [
      "--detach",
      "--no-chdir",
      `--pidfile=${d}/ovsdb-server.pid`,
      `--log-file=${d}/ovsdb-server.log`,
      `--remote=punix:${d}/db.sock`,
      `${d}/conf.db`,
    ]);
    const extra = [
      "--no-huge",
      "--legacy-mem",
      "--no-pci",
      `-m ${memoryMb}`,
      `--file-prefix=${this.#prefix}`,
      "--no-telemetry",
      // Bridge-less, the vdevs exist from EAL init and are attached by name.
      ...(bridge ? [] : [`--vdev=${pcapDev}`, `--vdev=${nullDev}`]),
    ].join(" ");
    await this.#vsctl(["--no-wait", "init"]);
    await this.#vsctl([
      "--no-wait",
      "set",
      "Open_vSwitch",
      ".",
      "other_config:dpdk-init=true",
      `other_config:emc-insert-inv-prob=${emc ? 100 : 0}`,
      `other_config:dpdk-extra=${JSON.stringify(extra)}`,
      `other_config:pmd-cpu-mask=0x${(1 << options.pmdCpu).toString(16)}`,
      `other_config:dpdk-lcore-mask=0x${(1 << options.mainCpu).toString(16)}`,
    ]);
    await this.#run(OVS_VSWITCHD_DPDK, [
      "--detach",
      "--no-chdir",
      `--pidfile=${d}/ovs-vswitchd.pid`,
      `--log-file=${d}/ovs-vswitchd.log`,
      "-vconsole:off",
      `unix:${d}/db.sock`,
    ]);
    const pid = (await Deno.readTextFile(`${d}/ovs-vswitchd.pid`)).trim();
    this.#ctl = `${d}/ovs-vswitchd-dpdk.${pid}.ctl`;
    await until(deadline, "ovs-vswitchd to initialise DPDK", async () => {
      const out = await this.#vsctl(["get", "Open_vSwitch", ".", "dpdk_initialized"], true);
      return out.trim() === "true";
    });
    if (bridge) {
      const vsctl = (...args: string[]) => this.#vsctl(["--timeout=30", ...args]);
      await vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev");
      const ports: [string, string, number][] = [["in0", pcapDev, IN_PORT], [
        "out0",
        nullDev,
        OUT_PORT,
      ]];
      for (const [name, devargs, ofport] of ports) {
        await vsctl(
          "add-port",
          "br0",
          name,
          "--",
          "set",
          "Interface",
          name,
          "type=dpdk",
          `options:dpdk-devargs=${JSON.stringify(devargs)}`,
          `ofport_request=${ofport}`,
        );
      }
    } else {
      const addIf = (spec: string) => this.#appctl(["dpctl/add-if", BENCH_DP, spec]);
      await this.#appctl(["dpctl/add-dp", BENCH_DP]);
      // Ports before flows: flows go to each PMD's table, and a PMD exists once a port does.
      await addIf(`out0,type=dpdk,port_no=${OUT_PORT},dpdk-devargs=net_null0`);
      await addIf(`in0,type=dpdk,port_no=${IN_PORT},dpdk-devargs=net_pcap0`);
      await addIf(
        `vxlan_sys_${VXLAN_PORT},type=vxlan,port_no=${VXLAN_PORT},remote_ip=flow,key=flow`,
      );
    }
    await until(deadline, "OVS's PMD to poll in0", async () => {
      return (await this.#appctl(["dpif-netdev/pmd-rxq-show"])).includes("port: in0");
    });
  }

  /**
   * Bridge-less mode: replaces the datapath's flows with `lines` (one
   * `MATCH ACTIONS` each, in OVS datapath flow syntax). Rejects when OVS
   * refuses a flow or its PMD holds fewer than `count` afterwards.
   */
  async setFlows(lines: Iterable<string>, count: number): Promise<void> {
    if (this.#dp !== BENCH_DP) throw new Error("setFlows: OVS runs in bridge mode");
    // Deleting the flows also kills their exact-match cache entries.
    await this.#appctl(["dpctl/del-flows", BENCH_DP]);
    const file = `${this.#dir}/flows${this.#flowFile++}.txt`;
    await writeLines(file, lines);
    const out = await this.#appctl(["dpctl/add-flows", BENCH_DP, file]);
    await Deno.remove(file);
    if (/error|invalid/i.test(out)) throw new Error(`OVS refused flows: ${out.trim()}`);
    const installed = await this.pmdFlowCount();
    if (installed < count) {
      throw new Error(`OVS holds ${installed} of ${count} flows in its PMD`);
    }
  }

  /**
   * Bridge mode: replaces br0's OpenFlow rules with `rules` (ovs-ofctl
   * add-flows syntax, one a line); the datapath flows follow from the first
   * packets (upcalls), during the warm-up of {@linkcode measure}. Rejects
   * when ovs-ofctl refuses a rule.
   */
  async setOpenFlows(rules: Iterable<string>): Promise<void> {
    if (this.#dp !== BRIDGE_DP) throw new Error("setOpenFlows: OVS runs bridge-less");
    const mgmt = `unix:${this.#dir}/br0.mgmt`;
    await this.#run("ovs-ofctl", ["del-flows", mgmt]);
    const file = `${this.#dir}/openflow${this.#flowFile++}.txt`;
    await writeLines(file, rules);
    await this.#run("ovs-ofctl", ["add-flows", mgmt, file]);
    await Deno.remove(file);
  }

  /** Flows in the PMD thread's table (dpctl/dump-flows counts per thread). */
  async pmdFlowCount(): Promise<number> {
    const out = await this.#appctl(["dpctl/show", this.#dp]);
    const total = /flows:\s*(\d+)/.exec(out);
    // dpctl/show sums the non-PMD thread's table (the same flows) and the PMD's.
    return total === null ? 0 : Number(total[1]) / 2;
  }

  /**
   * Warms up for `warmupSeconds`, then measures `runs` intervals of
   * `seconds`: out0's transmitted packets per second, and OVS's PMD
   * statistics of the last interval.
   */
  async measure(seconds: number, runs: number, warmupSeconds = 1): Promise<OvsFigures> {
    await sleep(warmupSeconds * 1000);
    const mpps: number[] = [];
    let stats = "";
    let before = await this.#txSample();
    for (let r = 0; r < runs; r++) {
      await this.#appctl(["dpif-netdev/pmd-stats-clear"]);
      await sleep(seconds * 1000);
      const after = await this.#txSample();
      stats = await this.#appctl(["dpif-netdev/pmd-stats-show"]);
      mpps.push((after.packets - before.packets) / (after.at - before.at) / 1000);
      before = await this.#txSample();
    }
    return parsePmdStats(stats, mpps);
  }

  /** out0's transmitted packets and when they were read (ms, midpoint of the call). */
  async #txSample(): Promise<{ packets: number; at: number }> {
    const t0 = performance.now();
    const out = await this.#appctl(["dpctl/show", "-s", this.#dp]);
    const t1 = performance.now();
    const section = out.split(/port \d+: out0 /)[1] ?? "";
    const tx = /TX packets:(\d+)/.exec(section);
    if (tx === null) throw new Error(`no TX packets for out0 in dpctl/show: ${out}`);
    return { packets: Number(tx[1]), at: (t0 + t1) / 2 };
  }

  /**
   * Stops ovs-vswitchd and ovsdb-server (graceful exit, then SIGKILL by pid
   * after 10 s), removes the sandbox and DPDK's runtime directory.
   * Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    running.delete(this);
    if (running.size === 0) {
      for (const signal of EXIT_SIGNALS) Deno.removeSignalListener(signal, stopAllAndExit);
    }
    for (const daemon of ["ovs-vswitchd", "ovsdb-server"]) {
      const pid = await readPid(`${this.#dir}/${daemon}.pid`);
      if (pid === null) continue;
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* already gone */ }
      const deadline = Date.now() + 10_000;
      while (alive(pid) && Date.now() < deadline) await sleep(50);
      if (alive(pid)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone meanwhile */ }
      }
    }
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    await Deno.remove(`/var/run/dpdk/${this.#prefix}`, { recursive: true }).catch(() => {});
  }

  /** Kills the daemons and removes the sandbox without waiting (on SIGINT / SIGTERM). */
  killNow(): void {
    for (const daemon of ["ovs-vswitchd", "ovsdb-server"]) {
      try {
        Deno.kill(Number(Deno.readTextFileSync(`${this.#dir}/${daemon}.pid`).trim()), "SIGKILL");
      } catch { /* not started or gone */ }
    }
    for (const path of [this.#dir, `/var/run/dpdk/${this.#prefix}`]) {
      try {
        Deno.removeSync(path, { recursive: true });
      } catch { /* not there */ }
    }
  }

  #appctl(args: string[]): Promise<string> {
    return this.#run("ovs-appctl", ["--timeout=60", "-t", this.#ctl, ...args]);
  }

  #vsctl(args: string[], quiet = false): Promise<string> {
    return this.#run("ovs-vsctl", [`--db=unix:${this.#dir}/db.sock`, ...args], quiet);
  }

  /** Runs a tool; its stdout (and stderr). Rejects on a non-zero exit unless `quiet`. */
  async #run(cmd: string, args: string[], quiet = false): Promise<string> {
    const out = await new Deno.Command(cmd, {
      args,
      env: this.#env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (!out.success && !quiet) {
      throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${text.trim()}`);
    }
    return text;
  }
}

/** Running instances, killed if the bench is interrupted (OVS would poll on otherwise). */
const running = new Set<OvsDpdk>();
const EXIT_SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];

function stopAllAndExit(): void {
  for (const ovs of running) ovs.killNow();
  Deno.exit(130);
}

/** Figures from `dpif-netdev/pmd-stats-show` (the PMD thread's section) and the rates. */
export function parsePmdStats(text: string, mpps: number[]): OvsFigures {
  const pmd = text.split(/pmd thread/)[1] ?? "";
  const num = (re: RegExp): number | null => {
    const m = re.exec(pmd);
    return m === null ? null : Number(m[1]);
  };
  const emc = num(/emc hits:\s*(\d+)/) ?? 0;
  const megaflow = num(/megaflow hits:\s*(\d+)/) ?? 0;
  const missOk = num(/miss with success upcall:\s*(\d+)/) ?? 0;
  const missFailed = num(/miss with failed upcall:\s*(\d+)/) ?? 0;
  return {
    mpps,
    cyclesPerPacket: num(/avg cycles per packet:\s*([\d.]+)/),
    subtableLookups: megaflow > 0
      ? num(/avg\. subtable lookups per megaflow hit:\s*([\d.]+)/)
      : null,
    emcHitRatio: emc + megaflow > 0 ? emc / (emc + megaflow) : null,
    misses: missOk + missFailed,
  };
}

async function until(deadline: number, what: string, ready: () => Promise<boolean>) {
  for (;;) {
    try {
      if (await ready()) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function writeLines(path: string, lines: Iterable<string>): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  try {
    let chunk: string[] = [];
    for (const line of lines) {
      chunk.push(line);
      if (chunk.length === 4096) {
        await writeAll(file, encoder.encode(chunk.join("\n") + "\n"));
        chunk = [];
      }
    }
    if (chunk.length > 0) await writeAll(file, encoder.encode(chunk.join("\n") + "\n"));
  } finally {
    file.close();
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

async function readPid(path: string): Promise<number | null> {
  try {
    const pid = Number((await Deno.readTextFile(path)).trim());
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie has exited
  } catch {
    return false;
  }
}
