/**
 * The datapaths one process hosts, by name: create, open, destroy,
 * enumerate (dpif_create / dpif_open / dpif_delete / dp_enumerate_names).
 *
 * @module
 */

import { Datapath, type DatapathOptions } from "./datapath.ts";
import { DpifError } from "./errors.ts";

/** A process's datapaths by name. */
export class DatapathRegistry {
  readonly #datapaths = new Map<string, Datapath>();
  readonly #defaults: DatapathOptions;

  /** Creates an empty registry; `defaults` apply to every datapath created. */
  constructor(defaults: DatapathOptions = {}) {
    this.#defaults = defaults;
  }

  /** Creates a datapath (EEXIST if the name is taken). */
  create(name: string, options: DatapathOptions = {}): Datapath {
    if (this.#datapaths.has(name)) throw new DpifError("EEXIST", `datapath ${name} exists`);
    const dp = new Datapath(name, { ...this.#defaults, ...options });
    this.#datapaths.set(name, dp);
    return dp;
  }

  /** Opens an existing datapath (ENOENT if absent). */
  open(name: string): Datapath {
    const dp = this.#datapaths.get(name);
    if (dp === undefined) throw new DpifError("ENOENT", `no datapath ${name}`);
    return dp;
  }

  /** True if a datapath of that name exists. */
  has(name: string): boolean {
    return this.#datapaths.has(name);
  }

  /** Destroys a datapath: closes its ports and frees its packets (ENOENT if absent). */
  destroy(name: string): void {
    this.open(name).close();
    this.#datapaths.delete(name);
  }

  /** Names of all datapaths, sorted. */
  names(): string[] {
    return [...this.#datapaths.keys()].sort();
  }

  /** Destroys every datapath. */
  closeAll(): void {
    for (const name of this.names()) this.destroy(name);
  }
}
