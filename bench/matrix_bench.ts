/**
 * The bench matrix: every case of matrix_cases.ts on deno-dpif's real DPDK
 * path with one PMD Worker (pmd_case_runner.ts), beside dpdk-testpmd io
 * (testpmd_peer.ts) and OVS-DPDK's bridge-less datapath with the same flows
 * (ovs_dpdk_peer.ts), on the same capture and the same CPU, in the same
 * run. Each side runs alone (the others are stopped), `runs` intervals of
 * `seconds` after a warm-up; rows carry the medians.
 *
 * CPUs: the main threads on the first CPU this process may use, the
 * forwarding thread (our PMD Worker, testpmd's forwarding lcore, OVS's PMD)
 * on the second, as /work/shared/peers/ does with cores 0 and 1.
 *
 * Peers that are not installed leave their column null and say so once on
 * stderr (`bash tools/install_peers.sh` installs them). OVS-DPDK's
 * bridge-less datapath cannot turn its exact-match cache off (other_config
 * reaches only the datapaths of bridges): the EMC-off case runs OVS with a
 * bridge and OpenFlow rules that yield the same megaflows (the note says
 * so). OVS holds at most 65,536 flows per PMD: the 100,000 and 1,000,000
 * flow rows have no OVS figure and say why.
 *
 * Besides the packet rows: resident memory per installed flow at 1,000,000
 * flows, and RSS growth while forwarding.
 *
 * Run alone: `deno run -A bench/matrix_bench.ts [--quick]`.
 *
 * @module
 */

import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { setThreadAffinity, threadAffinity } from "../ffi/thread_affinity.ts";
import { writePcap } from "../tests/fixtures/pcap.ts";
import { cpuMhz } from "./datapath_bench.ts";
import {
  flowLines,
  type MatrixCase,
  matrixCases,
  ourEmcEntries,
  TRAFFIC_PACKETS,
  trafficFrames,
  type TrafficName,
} from "./matrix_cases.ts";
import {
  OVS_MAX_FLOWS_PER_PMD,
  OvsDpdk,
  ovsDpdkAvailability,
  type OvsFigures,
} from "./ovs_dpdk_peer.ts";
import { type OurFigures, runOurCase } from "./pmd_case_runner.ts";
import { type BenchRow, formatTable, median, round, row, valueRow } from "./report.ts";
import { onPath } from "./system_tools.ts";
import { measureTestpmd } from "./testpmd_peer.ts";

/** Options of {@linkcode benchMatrix}. */
export interface MatrixOptions {
  /** Seconds per interval. Default 3. */
  seconds?: number;
  /** Intervals per side and case. Default 3. */
  runs?: number;
  /** Seconds forwarded before the first interval. Default 1. */
  warmupSeconds?: number;
  /** Only the cases marked quick. Default false. */
  quick?: boolean;
  /** CPUs this process may use (read before any EAL init pinned the thread). */
  cpus?: number[];
  /** Run the peers when installed. Default true. */
  peers?: boolean;
  /** Only the cases whose name contains this text. Default: every case. */
  only?: string;
  /**
   * Seconds of a soak run after the matrix: case (1) forwarding at full
   * rate, RSS sampled every 10 s. Default 0 (none; the 10-minute
   * check is `DPIF_BENCH_SOAK_SECONDS=600`).
   */
  soakSeconds?: number;
}

/** One case's outcome on each side. */
interface CaseOutcome {
  c: MatrixCase;
  ours: OurFigures | Error;
  ovs: OvsFigures | string | null;
  testpmd: number[] | null;
}

/**
 * Runs the matrix; resolves to its rows (none, with the reason on stderr,
 * when DPDK is unavailable). A case that fails on our side becomes a row
 * with rate 0 and a note starting with "FAILED".
 */
export async function benchMatrix(options: MatrixOptions = {}): Promise<BenchRow[]> {
  const availability = dpdkAvailability();
  if (!availability.available) {
    console.error(`bench: skipping the matrix group: ${availability.reason}`);
    return [];
  }
  const seconds = options.seconds ?? 3;
  const runs = options.runs ?? 3;
  const warmupSeconds = options.warmupSeconds ?? 1;
  const cpus = options.cpus ?? threadAffinity();
  const mainCpu = cpus[0];
  const pmdCpu = cpus[1] ?? cpus[0];
  const peers = options.peers ?? true;
  const ovsAvailable = ovsDpdkAvailability();
  if (peers && !ovsAvailable.available) console.error(`bench: no OVS-DPDK: ${ovsAvailable.reason}`);
  const useOvs = peers && ovsAvailable.available;
  if (peers && !onPath("dpdk-testpmd")) console.error("bench: no dpdk-testpmd on PATH");

  initEal({ cores: [mainCpu], memoryMb: 2048 });
  registerDpdkPortType();
  const affinity = threadAffinity();
  setThreadAffinity([mainCpu]); // EAL may have pinned this thread to the forwarding CPU
  const dir = await Deno.makeTempDir({ prefix: "dpif_matrix_" });
  const outcomes: CaseOutcome[] = [];
  let soak: OurFigures | Error | null = null;
  try {
    const cases = matrixCases().filter((c) =>
      (!options.quick || c.quick) && (options.only === undefined || c.name.includes(options.only))
    );
    const groups = new Map<TrafficName, MatrixCase[]>();
    for (const c of cases) groups.set(c.traffic, [...(groups.get(c.traffic) ?? []), c]);
    let serial = 0;
    for (const [traffic, group] of groups) {
      const pcap = `${dir}/${traffic}.pcap`;
      writePcap(pcap, trafficFrames(traffic));
      const packets = TRAFFIC_PACKETS[traffic];
      const timing = { seconds, runs, warmupSeconds };
      const ours = await runOurs(group, { ...timing, pcap, packets, pmdCpu, serial });
      serial += group.length;
      const ovs = useOvs
        ? await runOvs(group, { ...timing, pcap, mainCpu, pmdCpu })
        : group.map(() => null);
      const testpmd = peers
        ? await measureTestpmd({ pcap, packets, mainCpu, forwardCpu: pmdCpu, ...timing })
          .catch((error) => {
            console.error(`bench: testpmd on ${traffic}: ${(error as Error).message}`);
            return null;
          })
        : null;
      group.forEach((c, i) => outcomes.push({ c, ours: ours[i], ovs: ovs[i], testpmd }));
      await Deno.remove(pcap);
    }
    if ((options.soakSeconds ?? 0) > 0) {
      soak = await runSoak(options.soakSeconds!, dir, pmdCpu).catch((error: Error) => error);
    }
  } finally {
    setThreadAffinity(affinity);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const rows = [...outcomes.flatMap(caseRows), ...memoryRows(outcomes)];
  if (soak !== null) rows.push(soakRow(soak));
  return rows;
}

/** Sampling period of the soak run, seconds. */
const SOAK_SAMPLE_SECONDS = 10;

/** Case (1) forwarding for `seconds`, RSS sampled every SOAK_SAMPLE_SECONDS. */
async function runSoak(seconds: number, dir: string, pmdCpu: number): Promise<OurFigures> {
  const c = matrixCases()[0];
  const pcap = `${dir}/soak.pcap`;
  writePcap(pcap, trafficFrames(c.traffic));
  const pool = MbufPool.create({
    name: `mxsoak${Deno.pid % 100000}`,
    capacity: TRAFFIC_PACKETS[c.traffic] + 16383,
  });
  try {
    return await runOurCase(c, {
      pool,
      pcap,
      pmdCpu,
      seconds: SOAK_SAMPLE_SECONDS,
      runs: Math.max(1, Math.round(seconds / SOAK_SAMPLE_SECONDS)),
      warmupSeconds: 1,
      tag: `${Deno.pid % 100000}_soak`,
    });
  } finally {
    pool.close();
  }
}

/** The soak's row: RSS change after the first minute (the JIT and heaps settle in it). */
function soakRow(soak: OurFigures | Error): BenchRow {
  const name = "memory: RSS over a soak at full rate";
  if (soak instanceof Error) return row(name, 0, `FAILED: ${soak.message}`);
  const samples = soak.rssSamples;
  const settled = Math.min(samples.length - 1, Math.round(60 / SOAK_SAMPLE_SECONDS));
  const growth = samples[samples.length - 1] - samples[settled];
  const every = Math.max(1, Math.round(60 / SOAK_SAMPLE_SECONDS));
  const trace = samples.filter((_, i) => i % every === 0 || i === samples.length - 1)
    .map((b) => (b / 1e6).toFixed(0)).join(" ");
  return valueRow(
    name,
    round(growth / 1e6),
    "MB",
    `case (1) for ${(samples.length - 1) * SOAK_SAMPLE_SECONDS} s at ` +
      `${median(soak.mpps).toFixed(2)} Mpps: RSS change from the end of the first minute to ` +
      `the end; RSS MB each minute: ${trace}`,
  );
}

/** Our side of every case of one capture, each on a fresh datapath over one pool. */
async function runOurs(
  group: MatrixCase[],
  o: {
    pcap: string;
    packets: number;
    pmdCpu: number;
    serial: number;
    seconds: number;
    runs: number;
    warmupSeconds: number;
  },
): Promise<(OurFigures | Error)[]> {
  const pool = MbufPool.create({
    name: `mx${Deno.pid % 100000}_${o.serial}`,
    capacity: o.packets + 16383,
  });
  const results: (OurFigures | Error)[] = [];
  try {
    for (const [k, c] of group.entries()) {
      try {
        results.push(
          await runOurCase(c, { ...o, pool, tag: `${Deno.pid % 100000}_${o.serial + k}` }),
        );
      } catch (error) {
        console.error(`bench: matrix ${c.name}: ${(error as Error).message}`);
        results.push(error as Error);
      }
    }
  } finally {
    pool.close();
  }
  return results;
}

/**
 * OVS-DPDK's side of every case of one capture: one bridge-less OVS with the
 * flows replaced per case, and a bridge-mode OVS of its own for each case
 * that needs one (EMC off).
 */
async function runOvs(
  group: MatrixCase[],
  o: {
    pcap: string;
    mainCpu: number;
    pmdCpu: number;
    seconds: number;
    runs: number;
    warmupSeconds: number;
  },
): Promise<(OvsFigures | string)[]> {
  const results: (OvsFigures | string)[] = group.map((c) => ovsCannot(c) ?? "");
  const bridgeless = group.filter((_, k) => results[k] === "" && group[k].emc);
  if (bridgeless.length > 0) {
    const failed = await withOvs({ ...o }, async (ovs) => {
      for (const c of bridgeless) {
        results[group.indexOf(c)] = await attempt(c, async () => {
          await ovs.setFlows(flowLines(c), c.flowCount);
          return await ovs.measure(o.seconds, o.runs, o.warmupSeconds);
        });
      }
    });
    if (failed !== null) { for (const c of bridgeless) results[group.indexOf(c)] = failed; }
  }
  for (const [k, c] of group.entries()) {
    if (results[k] !== "" || c.emc || c.openflowAt === undefined) continue;
    const rules = c.openflowAt;
    const failed = await withOvs({ ...o, bridge: true, emc: c.emc }, async (ovs) => {
      results[k] = await attempt(c, async () => {
        await ovs.setOpenFlows(Array.from({ length: c.flowCount }, (_, i) => rules(i)));
        const figures = await ovs.measure(o.seconds, o.runs, o.warmupSeconds + 1);
        figures.mode = "bridge br0 + OpenFlow rules giving the same megaflows";
        return figures;
      });
    });
    if (failed !== null) results[k] = failed;
  }
  return results;
}

/** Starts OVS-DPDK, runs `body`, stops it; resolves to null, or why OVS did not start. */
async function withOvs(
  options: Parameters<typeof OvsDpdk.start>[0],
  body: (ovs: OvsDpdk) => Promise<void>,
): Promise<string | null> {
  let ovs: OvsDpdk;
  try {
    ovs = await OvsDpdk.start(options);
  } catch (error) {
    const reason = `OVS-DPDK did not start: ${(error as Error).message}`;
    console.error(`bench: ${reason}`);
    return reason;
  }
  try {
    await body(ovs);
  } finally {
    await ovs.stop();
  }
  return null;
}

/** Runs one OVS measurement; a failure becomes its reason (and a line on stderr). */
async function attempt(
  c: MatrixCase,
  measure: () => Promise<OvsFigures>,
): Promise<OvsFigures | string> {
  try {
    return await measure();
  } catch (error) {
    console.error(`bench: OVS-DPDK ${c.name}: ${(error as Error).message}`);
    return `OVS-DPDK failed: ${(error as Error).message}`;
  }
}

/** Why OVS-DPDK cannot run a case as specified, or null. */
function ovsCannot(c: MatrixCase): string | null {
  if (c.flowCount > OVS_MAX_FLOWS_PER_PMD) {
    return `OVS-DPDK holds at most ${OVS_MAX_FLOWS_PER_PMD} flows per PMD (dpif-netdev MAX_FLOWS)`;
  }
  if (!c.emc && c.openflowAt === undefined) {
    return "OVS-DPDK's bridge-less datapath cannot turn its EMC off (emc-insert-inv-prob " +
      "reaches only bridges' datapaths) and the case has no OpenFlow form";
  }
  return null;
}

/** The row of one case, and a copy for each curve point it also is. */
function caseRows(o: CaseOutcome): BenchRow[] {
  const { c, ours, ovs, testpmd } = o;
  let r: BenchRow;
  if (ours instanceof Error) {
    r = row(c.name, 0, `FAILED: ${ours.message}`);
  } else {
    const mpps = median(ours.mpps);
    const notes = [
      `${c.flowCount} flow${c.flowCount === 1 ? "" : "s"}, ${c.note}`,
      `runs ${ours.mpps.map((x) => x.toFixed(2)).join("/")}`,
      ourEmcEntries(c) === 0 ? "EMC off" : `EMC ${(ours.emcHitRatio * 100).toFixed(0)}%`,
      `PMD busy ${ours.nsPerPacket.toFixed(0)} ns/pkt`,
    ];
    if (ours.cpuNsPerPacket !== null) {
      notes.push(`PMD CPU ${ours.cpuNsPerPacket.toFixed(0)} ns/pkt`);
    }
    if (ours.installSeconds > 0.5) {
      notes.push(`${Math.round(c.flowCount / ours.installSeconds)} puts/s`);
    }
    notes.push(`rss ${mb(ours.rssGrowthBytes)} MB while forwarding`);
    r = row(c.name, mpps);
    const mhz = cpuMhz();
    if (mhz !== null && mpps > 0) r.cycles_per_packet = round(mhz / mpps);
    if (testpmd !== null && testpmd.length > 0) {
      r.testpmd_mpps = round(median(testpmd));
      r.ratio_testpmd = round(mpps / median(testpmd));
    }
    if (typeof ovs === "string") notes.push(`no OVS: ${ovs}`);
    else if (ovs !== null) {
      const ovsMpps = median(ovs.mpps);
      r.ovs_mpps = round(ovsMpps);
      r.ratio_ovs = ovsMpps > 0 ? round(mpps / ovsMpps) : null;
      const ovsNotes = [`OVS runs ${ovs.mpps.map((x) => x.toFixed(2)).join("/")}`];
      if (ovs.mode !== undefined) ovsNotes.push(ovs.mode);
      if (ovs.cyclesPerPacket !== null) ovsNotes.push(`${ovs.cyclesPerPacket} cycles/pkt`);
      if (ovs.emcHitRatio !== null) ovsNotes.push(`EMC ${(ovs.emcHitRatio * 100).toFixed(0)}%`);
      if (ovs.subtableLookups !== null) ovsNotes.push(`${ovs.subtableLookups} subtables/hit`);
      if (ovs.misses > 0) ovsNotes.push(`${ovs.misses} misses`);
      notes.push(ovsNotes.join(", "));
    }
    r.note = notes.join("; ");
  }
  const copies = (c.alsoCurve ?? []).map((name) => ({
    ...r,
    case: name,
    note: `same measurement as "${c.name}"`,
  }));
  return [r, ...copies];
}

/** Bytes per flow at the largest flow count, and RSS growth while forwarding. */
function memoryRows(outcomes: CaseOutcome[]): BenchRow[] {
  const measured = outcomes.filter((o): o is CaseOutcome & { ours: OurFigures } =>
    !(o.ours instanceof Error)
  );
  if (measured.length === 0) return [];
  const rows: BenchRow[] = [];
  const largest = measured.reduce((a, b) => (b.c.flowCount > a.c.flowCount ? b : a));
  if (largest.c.flowCount >= 100_000) {
    const o = largest.ours;
    rows.push(valueRow(
      `memory: bytes per flow at ${largest.c.flowCount} flows`,
      Math.round(o.bytesPerFlowAfterRun),
      "B/flow",
      `process RSS growth per flow from before the datapath existed to the end of its ` +
        `forwarding run (control tables + PMD Worker and its replica); control tables alone ` +
        `${Math.round(o.bytesPerFlowControl)} B/flow right after the puts, ` +
        `${Math.round(o.bytesPerFlowWithPmd)} B/flow right after the PMD started; tables are ` +
        `sized for the default maxFlows 1,000,000`,
    ));
  }
  const worst = measured.reduce((a, b) => (b.ours.rssGrowthBytes > a.ours.rssGrowthBytes ? b : a));
  const forwardingSeconds = measured.length *
    (worst.ours.mpps.length > 0 ? worst.ours.mpps.length : 0);
  rows.push(valueRow(
    "memory: RSS growth while forwarding",
    round(measured.reduce((sum, o) => sum + Math.max(0, o.ours.rssGrowthBytes), 0) / 1e6),
    "MB",
    `sum over ${measured.length} cases (${forwardingSeconds} measured intervals) of RSS ` +
      `growth from first to last interval; largest ${mb(worst.ours.rssGrowthBytes)} MB ` +
      `in "${worst.c.name}" (V8's collector moves RSS by tens of MB either way; a leak shows ` +
      `only over minutes)`,
  ));
  return rows;
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

if (import.meta.main) {
  const soakSeconds = Number(Deno.env.get("DPIF_BENCH_SOAK_SECONDS") ?? 0);
  const quick = Deno.args.includes("--quick");
  const only = Deno.args.find((a) => a.startsWith("--case="))?.slice("--case=".length);
  const seconds = Number(Deno.env.get("DPIF_BENCH_SECONDS") ?? (quick ? 1 : 3));
  const runs = Number(Deno.env.get("DPIF_BENCH_RUNS") ?? (quick ? 2 : 3));
  console.log(formatTable(await benchMatrix({ quick, seconds, runs, only, soakSeconds })));
}
