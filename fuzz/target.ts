/**
 * What every fuzz target shares: the run options, the failure record (seed,
 * iteration and the input, so it replays), the per-target summary, and the
 * loop that runs iterations until the duration or iteration budget is spent.
 *
 * @module
 */

import { iterationPrng, type Prng } from "./prng.ts";

/** A failed invariant with everything needed to replay it. */
export interface FuzzFailure {
  /** Target (and backend), e.g. "packets[memory]". */
  target: string;
  seed: number;
  iteration: number;
  /** What went wrong. */
  message: string;
  /** The input as text (JSON with hex frames, ODP text, or an HTTP request). */
  input: string;
}

/** One target's result line. */
export interface FuzzSummary {
  target: string;
  seed: number;
  /** Iterations run. */
  iterations: number;
  /** Inputs (frames, strings, requests) fed. */
  inputs: number;
  failures: number;
  elapsedMs: number;
  /** Why the target did not run, when it did not. */
  skipped?: string;
}

/** What one iteration fed and, if an invariant broke, how. */
export interface IterationResult {
  inputs: number;
  failure: { message: string; input: string } | null;
}

/** A target opened for a run: iterations share its state (datapath, app). */
export interface FuzzSession {
  /** Runs iteration `iteration` with its own generator. */
  iterate(rng: Prng, iteration: number): IterationResult | Promise<IterationResult>;
  close(): void | Promise<void>;
}

/** Options of {@linkcode runSession}. */
export interface RunOptions {
  seed: number;
  /** Stop starting iterations after this many milliseconds. */
  durationMs: number;
  /** Stop after this many iterations. Default unlimited. */
  maxIterations?: number;
  /** Run only this iteration (a replay). */
  onlyIteration?: number;
  /** Stop after this many failures. Default 20. */
  maxFailures?: number;
  /** Called for each failure as it happens. */
  onFailure?: (failure: FuzzFailure) => void;
}

/** Runs a session until its budget is spent; returns the summary and the failures. */
export async function runSession(
  target: string,
  session: FuzzSession,
  options: RunOptions,
): Promise<{ summary: FuzzSummary; failures: FuzzFailure[] }> {
  const started = performance.now();
  const failures: FuzzFailure[] = [];
  const maxFailures = options.maxFailures ?? 20;
  let inputs = 0;
  let iterations = 0;
  const first = options.onlyIteration ?? 0;
  const last = options.onlyIteration ?? (options.maxIterations ?? Infinity) - 1;
  try {
    for (let i = first; i <= last; i++) {
      if (i !== first && performance.now() - started >= options.durationMs) break;
      if (failures.length >= maxFailures) break;
      const result = await session.iterate(iterationPrng(options.seed, i), i);
      iterations++;
      inputs += result.inputs;
      if (result.failure !== null) {
        const failure = { target, seed: options.seed, iteration: i, ...result.failure };
        failures.push(failure);
        options.onFailure?.(failure);
      }
    }
  } finally {
    await session.close();
  }
  return {
    summary: {
      target,
      seed: options.seed,
      iterations,
      inputs,
      failures: failures.length,
      elapsedMs: performance.now() - started,
    },
    failures,
  };
}

/** "message: first stack lines" of anything thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const stack = (error.stack ?? "").split("\n").slice(1, 4).map((l) => l.trim()).join(" | ");
    return `${error.name}: ${error.message}${stack === "" ? "" : ` [${stack}]`}`;
  }
  return String(error);
}

/**
 * Errors the JavaScript engine raises on its own (reading a property of
 * undefined, calling a non-function, converting a non-integer to BigInt,
 * overflowing the stack): thrown by a bug, not by a validation, even when
 * their type (TypeError, RangeError) is one the API maps to a 400.
 */
export const ENGINE_ERROR =
  /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not a constructor|Cannot convert|cannot be converted to a BigInt|Cannot mix BigInt|Maximum call stack|Invalid array length|Invalid typed array length|Do not know how to serialize/;

/** True for an error a validation threw on purpose: a named error or a message of our own. */
export function isDeliberateError(error: unknown): boolean {
  return error instanceof Error && error.message.length > 0 && !ENGINE_ERROR.test(error.message);
}
