/**
 * Which datapaths run PMD threads, and (re)starting them with new options:
 * what `GET|PUT /v1/datapaths/{dp}/pmd` works on. A restart stops the
 * running set gracefully (drain, free, last report) and starts a new one
 * over the datapath's current DPDK ports, so it also picks up ports added
 * since.
 *
 * @module
 */

import type { DatapathRegistry } from "./registry.ts";
import { PmdSet, type PmdSetOptions } from "./pmd_set.ts";

/** The PMD sets of a registry's datapaths. */
export class PmdControl {
  readonly #registry: DatapathRegistry;
  readonly #sets = new Map<string, PmdSet>();
  readonly #options = new Map<string, PmdSetOptions>();
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
  async configure(dp: string, options: PmdSetOptions): Promise<PmdSet | undefined> {
    const datapath = this.#registry.open(dp);
    await this.#sets.get(dp)?.stop();
    this.#sets.delete(dp);
    const given = Object.fromEntries(
      Object.entries(options).filter(([, value]) => value !== undefined),
    ) as PmdSetOptions;
    const merged = { ...this.#defaults, ...given };
    this.#options.set(dp, given);
    if (merged.threads === 0) return undefined;
    const set = await PmdSet.start(datapath, merged);
    this.#sets.set(dp, set);
    return set;
  }

  /** Stops every set (before the datapaths close). */
  async stopAll(): Promise<void> {
    for (const set of this.#sets.values()) await set.stop();
    this.#sets.clear();
  }
}
