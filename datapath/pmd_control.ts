/**
 * Which datapaths run PMD threads, (re)starting them with new options, and
 * keeping them out of the way of port changes: what `GET|PUT
 * /v1/datapaths/{dp}/pmd` works on, and what every port add or remove of a
 * datapath with PMDs goes through ({@linkcode PmdControl.changePorts}).
 *
 * A restart stops the running set gracefully (drain, free, last report) and
 * starts a new one over the datapath's current ports. A PMD knows the
 * ports it was started with (rx queues and ethdev ids of `dpdk` ports, the
 * `dpdk` and tunnel ports it may output to), so a port change stops the set
 * before the change (a removed port is closed only once no PMD polls or
 * transmits on it) and starts it again with the same options after it (an
 * added port is polled and is a valid output at once). Every operation on
 * one datapath's PMDs runs after the previous one has finished.
 *
 * @module
 */

import type { DatapathRegistry } from "./registry.ts";
import { PmdSet, type PmdSetOptions } from "./pmd_set.ts";

/** What {@linkcode PmdControl.changePorts} returns. */
export interface PortChangeOutcome<T> {
  /** What the change returned. */
  result: T;
  /**
   * Why the PMD threads could not be started again after the change (the
   * change stands; the datapath is then left without running PMDs and the
   * next port change or `configure` tries again), or null.
   */
  restartError: Error | null;
}

/** The PMD sets of a registry's datapaths. */
export class PmdControl {
  readonly #registry: DatapathRegistry;
  readonly #sets = new Map<string, PmdSet>();
  readonly #options = new Map<string, PmdSetOptions>();
  /** Datapaths whose PMDs should run: started, or stopped by a port change whose restart failed. */
  readonly #wanted = new Set<string>();
  /** Per datapath, the end of the latest queued operation (they run one after another). */
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #defaults: PmdSetOptions;

  /** `defaults` apply to every start unless the request overrides them. */
  constructor(registry: DatapathRegistry, defaults: PmdSetOptions = {}) {
    this.#registry = registry;
    this.#defaults = { ...defaults };
  }

  /** The running set of a datapath, or undefined. ENOENT (DpifError) when the datapath is absent. */
  get(dp: string): PmdSet | undefined {
    this.#registry.open(dp);
    return this.#sets.get(dp);
  }

  /** The options the datapath's set was last started with (defaults merged). */
  options(dp: string): PmdSetOptions {
    return { ...this.#defaults, ...this.#options.get(dp) };
  }

  /**
   * Stops the datapath's set (if any) and starts one with `options` merged
   * over the defaults; `threads: 0` only stops. Throws what
   * {@linkcode PmdSet.start} throws (the datapath is then left without PMDs).
   */
  configure(dp: string, options: PmdSetOptions): Promise<PmdSet | undefined> {
    return this.#serial(dp, async () => {
      this.#registry.open(dp);
      await this.#stop(dp);
      this.#wanted.delete(dp);
      const given = Object.fromEntries(
        Object.entries(options).filter(([, value]) => value !== undefined),
      ) as PmdSetOptions;
      this.#options.set(dp, given);
      if (this.options(dp).threads === 0) return undefined;
      const set = await this.#start(dp);
      this.#wanted.add(dp);
      return set;
    });
  }

  /**
   * Runs `change` (a port add or remove, or the datapath's destruction)
   * with the datapath's PMDs out of the way: when they run (or should), they
   * are stopped gracefully first and started again with the same options
   * once the change has returned or thrown. When the change throws, the
   * PMDs are restarted as they were and the change's error is rethrown (a
   * failed restart then only shows as 0 threads). When the datapath is gone
   * afterwards, its PMD options are forgotten. Without PMDs, `change` just
   * runs. Throws ENOENT (DpifError) for an unknown datapath without running it.
   */
  changePorts<T>(dp: string, change: () => T | Promise<T>): Promise<PortChangeOutcome<T>> {
    return this.#serial(dp, async () => {
      this.#registry.open(dp);
      if (!this.#wanted.has(dp)) return { result: await change(), restartError: null };
      await this.#stop(dp);
      let result: T;
      try {
        result = await change();
      } catch (error) {
        await this.#restart(dp);
        throw error;
      }
      return { result, restartError: await this.#restart(dp) };
    });
  }

  /** Stops every set (before the datapaths close). */
  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()]);
    for (const set of this.#sets.values()) await set.stop();
    this.#sets.clear();
    this.#wanted.clear();
  }

  async #start(dp: string): Promise<PmdSet> {
    const set = await PmdSet.start(this.#registry.open(dp), this.options(dp));
    this.#sets.set(dp, set);
    return set;
  }

  async #stop(dp: string): Promise<void> {
    // Forgotten only once stopped: a flow change made meanwhile still waits
    // for it (flowsApplied counts a stopped PMD as done), where removing it
    // first let the change answer while the PMD could still forward by it.
    const set = this.#sets.get(dp);
    await set?.stop();
    if (this.#sets.get(dp) === set) this.#sets.delete(dp);
  }

  /** Starts a wanted datapath's PMDs again; returns why that failed, or null. */
  async #restart(dp: string): Promise<Error | null> {
    if (!this.#registry.has(dp)) {
      this.#wanted.delete(dp);
      this.#options.delete(dp);
      return null;
    }
    try {
      await this.#start(dp);
      return null;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /** Runs `task` once every earlier operation on `dp` has finished. */
  #serial<T>(dp: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(dp) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(() => {}, () => {});
    this.#queues.set(dp, settled);
    settled.then(() => {
      if (this.#queues.get(dp) === settled) this.#queues.delete(dp);
    });
    return run;
  }
}
