/**
 * The dump check of tools/flow_churn.ts: every dumped entry must parse
 * back (its match with parseFlowKey, its actions with parseActions), off
 * the churning thread.
 *
 * {@linkcode malformedFlow} is the check of one entry. A
 * {@linkcode DumpChecker} runs it in a Worker
 * (flow_churn_check_worker.ts): the control thread posts each dump page's
 * UFID, match and actions texts as one flat array of strings and goes on
 * churning; {@linkcode DumpChecker.finish} waits until every posted page
 * was checked. Same check, same strictness (every entry of every page,
 * the same function), only on another thread. Why: on the churning thread
 * the parse-back was ~2 µs per churned op with the action fast path
 * (datapath/odp/action_text_fast.ts), ~4.6 µs before it (profile in the
 * doc of tools/flow_churn.ts), while posting a page costs ~0.2 µs per op.
 *
 * @module
 */

import { parseActions } from "../datapath/odp/action_parse.ts";
import { parseFlowKey } from "../datapath/odp/key_parse.ts";

/**
 * Checks one dumped flow: its match and actions parse back. Returns null when
 * well-formed, else what is wrong.
 */
export function malformedFlow(flow: { ufid?: unknown; flow?: unknown; actions?: unknown }) {
  if (typeof flow.ufid !== "string" || flow.ufid === "") return "no ufid";
  try {
    parseFlowKey(String(flow.flow));
    parseActions(String(flow.actions));
  } catch (error) {
    return `${flow.ufid}: ${(error as Error).message}`;
  }
  return null;
}

/** What a {@linkcode DumpChecker} found. */
export interface DumpCheckResult {
  /** Entries checked. */
  checked: number;
  /** Entries that did not parse back (or had no UFID). */
  malformed: number;
  /** What was wrong with the first malformed entry, or null. */
  first: string | null;
}

/**
 * A message to the check worker: a page as [ufid, flow, actions, ...], a
 * request to report, or the CPUs (absent: keep the inherited ones) and
 * nice value to run at.
 */
export type CheckRequest =
  | { op: "page"; texts: unknown[] }
  | { op: "report"; id: number }
  | { op: "cpus"; cpus?: number[]; nice: number };

/** The check worker's answer to a report request. */
export type CheckReply = DumpCheckResult & { id: number };

/** Runs {@linkcode malformedFlow} over dump pages in a Worker. */
export class DumpChecker {
  readonly #worker: Worker;
  #nextId = 0;
  readonly #waiting = new Map<number, (result: CheckReply) => void>();

  /**
   * Starts the check worker, on `cpus` when given (a Worker otherwise
   * inherits its creator's CPUs: after the EAL pinned the control thread,
   * the one it would slow down), at nice value `nice`.
   */
  constructor(cpus?: number[], nice = 0) {
    this.#worker = new Worker(new URL("./flow_churn_check_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<CheckReply>) => {
      const reply = event.data;
      this.#waiting.get(reply.id)?.(reply);
      this.#waiting.delete(reply.id);
    };
    if (cpus !== undefined || nice !== 0) {
      this.#worker.postMessage({ op: "cpus", cpus, nice } satisfies CheckRequest);
    }
  }

  /** Queues a page of dumped flows for checking (their texts are copied). */
  check(flows: readonly { ufid?: unknown; flow?: unknown; actions?: unknown }[]): void {
    const texts = new Array<unknown>(3 * flows.length);
    for (let i = 0; i < flows.length; i++) {
      const f = flows[i];
      texts[3 * i] = f.ufid;
      texts[3 * i + 1] = f.flow;
      texts[3 * i + 2] = f.actions;
    }
    this.#worker.postMessage({ op: "page", texts } satisfies CheckRequest);
  }

  /** What was found in every page queued so far (waits until they are all checked). */
  result(): Promise<DumpCheckResult> {
    const id = this.#nextId++;
    const reply = new Promise<CheckReply>((resolve) => this.#waiting.set(id, resolve));
    this.#worker.postMessage({ op: "report", id } satisfies CheckRequest);
    return reply.then(({ checked, malformed, first }) => ({ checked, malformed, first }));
  }

  /** {@linkcode result}, then stops the worker. */
  async finish(): Promise<DumpCheckResult> {
    try {
      return await this.result();
    } finally {
      this.close();
    }
  }

  /** Stops the worker (pages not yet checked are dropped). */
  close(): void {
    this.#worker.terminate();
  }
}
