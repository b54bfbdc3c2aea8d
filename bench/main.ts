/**
 * `deno task bench`: runs every benchmark group and prints one table, or
 * with `--json` one JSON object per line (the {@linkcode BenchRow} fields:
 * case, mpps, testpmd_mpps, ovs_mpps, ratio_testpmd, ratio_ovs,
 * cycles_per_packet, and when given note, and value with unit for rows
 * that are no rate, whose mpps is null).
 *
 * Flags:
 * - `--quick`: short durations (a smoke run of about a minute; DPDK groups
 *   1 s per side unless DPIF_BENCH_SECONDS is set).
 * - `--only=<group>`: one of extract, classifier, actions, datapath, dpdk,
 *   matrix, install, upcall, pmd.
 * - `--json`: JSON lines instead of the table.
 *
 * The dpdk group (testpmd io against our io loop, then the datapath driven
 * from the main thread on DPDK ports; 2 s per side in the full run) is
 * skipped with the reason on stderr when DPDK is unavailable.
 *
 * The matrix group (bench/matrix_bench.ts) is the performance issue's
 * table: every case on the real DPDK path with one PMD Worker, beside
 * dpdk-testpmd and OVS-DPDK (bridge-less datapath, same flows) on the same
 * capture and CPU, `DPIF_BENCH_RUNS` (default 3; 2 with --quick) intervals
 * of `DPIF_BENCH_SECONDS` (default 3; 1 with --quick) each, medians; plus
 * bytes per flow at 1,000,000 flows and RSS growth while forwarding. Peers
 * that are not installed leave their column null (`bash
 * tools/install_peers.sh` installs them; DPIF_BENCH_PEERS=0 skips them).
 * DPIF_BENCH_SOAK_SECONDS=600 adds the 10-minute RSS soak at full rate.
 *
 * The install group measures flow installs per second through batched
 * operate against the service over HTTP. The upcall group measures
 * miss-to-upcall latency on an idle memory datapath (percentiles in the
 * note) and, with DPDK, through a PMD Worker polling a net_ring port. The
 * pmd group (one PMD Worker forwarding, flow updates under load) also needs
 * DPDK, cleans up the EAL and so runs last.
 *
 * @module
 */

import { threadAffinity } from "../ffi/thread_affinity.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { benchActions } from "./actions_bench.ts";
import { benchClassifier } from "./classifier_bench.ts";
import { benchDatapath } from "./datapath_bench.ts";
import { benchExtract } from "./extract_bench.ts";
import { type BenchRow, formatTable } from "./report.ts";
import { benchUpcallLatency } from "./upcall_latency_bench.ts";

/** Benchmark groups, in the order they run. */

/**
 * The CPUs this process may use, read at start: the dpdk group's EAL init
 * pins the main thread to one core, after which a PMD placed by the
 * thread's affinity would share that core.
 */
const START_AFFINITY: number[] = threadAffinity();

/** DPIF_BENCH_SECONDS as the user set it (the dpdk group sets it for its modules). */
const USER_SECONDS: string | undefined = Deno.env.get("DPIF_BENCH_SECONDS");

export const GROUPS = [
  "extract",
  "classifier",
  "actions",
  "datapath",
  "dpdk",
  "matrix",
  "install",
  "upcall",
  "pmd",
] as const;
/** One benchmark group's name. */
export type Group = typeof GROUPS[number];

/** Parsed command line of the bench entry. */
export interface BenchArgs {
  quick: boolean;
  json: boolean;
  only: Group | null;
}

const USAGE = `usage: deno task bench [--quick] [--json] [--only=${GROUPS.join("|")}]`;

/**
 * Parses the flags.
 * @throws {TypeError} for an unknown flag or group, with the usage text.
 */
export function parseBenchArgs(args: string[]): BenchArgs {
  const parsed: BenchArgs = { quick: false, json: false, only: null };
  for (const arg of args) {
    if (arg === "--quick") parsed.quick = true;
    else if (arg === "--json") parsed.json = true;
    else if (arg.startsWith("--only=")) {
      const group = arg.slice("--only=".length);
      if (!(GROUPS as readonly string[]).includes(group)) {
        throw new TypeError(`unknown group '${group}'\n${USAGE}`);
      }
      parsed.only = group as Group;
    } else throw new TypeError(`unknown argument '${arg}'\n${USAGE}`);
  }
  return parsed;
}

/** Runs one group; DPDK modules load only when that group runs. */
async function runGroup(group: Group, quick: boolean): Promise<BenchRow[]> {
  switch (group) {
    case "extract":
      return benchExtract(quick ? 200 : 1000);
    case "classifier":
      return benchClassifier({
        minMillis: quick ? 150 : 600,
        memoryFlows: quick ? 100_000 : 1_000_000,
      });
    case "actions":
      return benchActions();
    case "datapath":
      return benchDatapath(quick ? 200 : 1000);
    case "dpdk": {
      const availability = dpdkAvailability();
      if (!availability.available) {
        console.error(`bench: skipping the dpdk group: ${availability.reason}`);
        return [];
      }
      // dpdk_io_bench reads DPIF_BENCH_SECONDS when loaded. 2 s in the full run: the
      // matrix group measures the same paths longer, with peers.
      if (USER_SECONDS === undefined) Deno.env.set("DPIF_BENCH_SECONDS", quick ? "1" : "2");
      const { benchDpdkIo } = await import("./dpdk_io_bench.ts");
      const { benchDpdkDatapath } = await import("./dpdk_datapath_bench.ts");
      return [...await benchDpdkIo(), ...await benchDpdkDatapath()];
    }
    case "matrix": {
      const { benchMatrix } = await import("./matrix_bench.ts");
      return benchMatrix({
        quick,
        seconds: Number(USER_SECONDS ?? (quick ? 1 : 3)),
        runs: Number(Deno.env.get("DPIF_BENCH_RUNS") ?? (quick ? 2 : 3)),
        cpus: START_AFFINITY,
        peers: Deno.env.get("DPIF_BENCH_PEERS") !== "0",
        soakSeconds: Number(Deno.env.get("DPIF_BENCH_SOAK_SECONDS") ?? 0),
      });
    }
    case "install": {
      const { benchFlowInstall } = await import("./flow_install_bench.ts");
      return benchFlowInstall(quick ? 10_000 : 100_000);
    }
    case "upcall": {
      const rows = await benchUpcallLatency(quick ? 2_000 : 10_000);
      if (!dpdkAvailability().available) return rows;
      const { benchPmdUpcall } = await import("./pmd_upcall_bench.ts");
      return [...rows, ...await benchPmdUpcall(quick ? 50 : 200, START_AFFINITY)];
    }
    case "pmd": {
      const { benchPmdRows } = await import("./pmd_bench.ts");
      return benchPmdRows(quick ? 1 : 3, START_AFFINITY);
    }
  }
}

/** One row as a JSON line with the public field names, in a fixed order. */
export function jsonLine(r: BenchRow): string {
  return JSON.stringify({
    case: r.case,
    mpps: r.mpps,
    testpmd_mpps: r.testpmd_mpps,
    ovs_mpps: r.ovs_mpps,
    ratio_testpmd: r.ratio_testpmd,
    ratio_ovs: r.ratio_ovs,
    cycles_per_packet: r.cycles_per_packet,
    ...(r.note === undefined ? {} : { note: r.note }),
    ...(r.value === undefined ? {} : { value: r.value, unit: r.unit }),
  });
}

/** Runs the selected groups and prints their rows. */
export async function main(args: string[]): Promise<void> {
  const options = parseBenchArgs(args);
  const groups = options.only === null ? [...GROUPS] : [options.only];
  const rows: BenchRow[] = [];
  for (const group of groups) {
    const groupRows = await runGroup(group, options.quick);
    if (options.json) { for (const r of groupRows) console.log(jsonLine(r)); }
    rows.push(...groupRows);
  }
  if (!options.json) console.log(formatTable(rows));
  const failed = rows.filter((r) => r.note?.startsWith("FAILED")).map((r) => r.case);
  if (failed.length > 0) {
    console.error(`bench: failed: ${failed.join(", ")}`);
    Deno.exitCode = 1;
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    if (error instanceof TypeError && error.message.includes("usage:")) {
      console.error(error.message);
      Deno.exit(2);
    }
    throw error;
  }
}
