/**
 * `deno task bench`: runs every benchmark group and prints one table, or
 * with `--json` one JSON object per line (the {@linkcode BenchRow} fields:
 * case, mpps, testpmd_mpps, ovs_mpps, ratio_testpmd, ratio_ovs,
 * cycles_per_packet, and an optional note).
 *
 * Flags:
 * - `--quick`: short durations (a smoke run; DPDK groups 1 s each side
 *   unless DPIF_BENCH_SECONDS is set).
 * - `--only=<group>`: one of extract, classifier, actions, datapath, dpdk,
 *   upcall, pmd.
 * - `--json`: JSON lines instead of the table.
 *
 * The dpdk group (testpmd io against our io loop, then the datapath on DPDK
 * ports) is skipped with the reason on stderr when DPDK is unavailable.
 * The upcall group measures miss-to-upcall latency on an idle memory
 * datapath (percentiles in the note). The pmd group (one PMD Worker
 * forwarding, flow updates under load) also needs DPDK, cleans up the EAL
 * and so runs last. Open vSwitch is not run here: ovs_mpps stays null.
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

export const GROUPS = [
  "extract",
  "classifier",
  "actions",
  "datapath",
  "dpdk",
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
      // dpdk_io_bench reads DPIF_BENCH_SECONDS when loaded.
      if (quick && Deno.env.get("DPIF_BENCH_SECONDS") === undefined) {
        Deno.env.set("DPIF_BENCH_SECONDS", "1");
      }
      const { benchDpdkIo } = await import("./dpdk_io_bench.ts");
      const { benchDpdkDatapath } = await import("./dpdk_datapath_bench.ts");
      return [...await benchDpdkIo(), ...await benchDpdkDatapath()];
    }
    case "upcall":
      return benchUpcallLatency(quick ? 2_000 : 10_000);
    case "pmd": {
      const { benchPmdRows } = await import("./pmd_bench.ts");
      return benchPmdRows(quick ? 1 : 5, START_AFFINITY);
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
