/**
 * `deno task fuzz`: runs the fuzzers with a seed and a duration and prints a
 * summary line per target; each failure prints its seed, iteration and
 * input so it can be replayed.
 *
 * ```sh
 * deno task fuzz --target=packets|odp|api|all --seed=N --duration=SECONDS
 * deno task fuzz --target=odp --seed=N --iteration=I   # replay one iteration
 * ```
 *
 * Defaults: all targets, a random seed (printed), 60 s shared among the
 * targets. Exits 1 when any invariant broke.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { cleanupEal } from "../ffi/eal.ts";
import { openApiSession } from "./api_target.ts";
import { openOdpSession } from "./odp_target.ts";
import { openPacketSession } from "./packet_target.ts";
import { randomSeed } from "./prng.ts";
import { type FuzzFailure, type FuzzSession, type FuzzSummary, runSession } from "./target.ts";

/** The targets, in run order, by the name `--target` selects. */
const TARGETS: { name: string; group: string; open: () => FuzzSession | string }[] = [
  { name: "packets[memory]", group: "packets", open: () => openPacketSession("memory") },
  { name: "packets[dpdk]", group: "packets", open: () => openPacketSession("dpdk") },
  { name: "odp", group: "odp", open: openOdpSession },
  { name: "api", group: "api", open: openApiSession },
];

const USAGE = `usage: deno task fuzz [--target=packets|odp|api|all] [--seed=N] [--duration=SECONDS]
                      [--iteration=I] [--max-iterations=N]`;

/** Formats one summary line. */
export function summaryLine(s: FuzzSummary): string {
  if (s.skipped !== undefined) return `${s.target}: skipped (${s.skipped})`;
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(s.inputs / seconds) : 0;
  return `${s.target}: seed=${s.seed} iterations=${s.iterations} inputs=${s.inputs} ` +
    `(${rate}/s over ${seconds.toFixed(1)} s) failures=${s.failures}`;
}

/** Formats one failure with the command that replays it. */
export function failureText(f: FuzzFailure): string {
  const group = f.target.replace(/\[.*$/, "");
  return `FAIL ${f.target} seed=${f.seed} iteration=${f.iteration}: ${f.message}\n` +
    `  input: ${f.input}\n` +
    `  replay: deno task fuzz --target=${group} --seed=${f.seed} --iteration=${f.iteration}`;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: "string", default: "all" },
      seed: { type: "string" },
      duration: { type: "string", default: "60" },
      iteration: { type: "string" },
      "max-iterations": { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const selected = TARGETS.filter((t) => values.target === "all" || t.group === values.target);
  const seed = values.seed === undefined ? randomSeed() : Number(values.seed);
  const duration = Number(values.duration);
  const iteration = values.iteration === undefined ? undefined : Number(values.iteration);
  const maxIterations = values["max-iterations"] === undefined
    ? undefined
    : Number(values["max-iterations"]);
  if (
    selected.length === 0 || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff ||
    !(duration > 0) || (iteration !== undefined && !(Number.isInteger(iteration) && iteration >= 0))
  ) {
    console.error(USAGE);
    return 2;
  }
  console.log(`fuzz: seed=${seed} duration=${duration}s targets=${selected.map((t) => t.name)}`);
  const share = (duration * 1000) / selected.length;
  let failed = 0;
  for (const t of selected) {
    const session = t.open();
    if (typeof session === "string") {
      console.log(summaryLine({
        target: t.name,
        seed,
        iterations: 0,
        inputs: 0,
        failures: 0,
        elapsedMs: 0,
        skipped: session,
      }));
      continue;
    }
    const { summary } = await runSession(t.name, session, {
      seed,
      durationMs: share,
      maxIterations,
      onlyIteration: iteration,
      onFailure: (f) => console.log(failureText(f)),
    });
    failed += summary.failures;
    console.log(summaryLine(summary));
  }
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) {
  const code = await main(Deno.args);
  // Every pool is closed by now: stop the EAL (removes its run directory;
  // a no-op when DPDK was not used), then leave explicitly, as EAL threads
  // would keep the process alive.
  try {
    cleanupEal();
  } catch (error) {
    console.error(`EAL cleanup failed: ${error}`);
  }
  Deno.exit(code);
}
