/**
 * A brute-force classifier for tests: a list of (slot, masked key, mask),
 * scanned in full on every lookup. Obviously correct, and slow.
 *
 * @module
 */

import { KEY_WORDS, USED_WORDS } from "../datapath/flow_key.ts";

/** Brute-force reference for every FlowLookup implementation. */
export class ReferenceClassifier {
  private readonly flows = new Map<number, { key: Uint32Array; mask: Uint32Array }>();

  /** Adds flow `slot` matching `key & mask`. Throws RangeError if the slot is used. */
  insert(slot: number, key: Uint32Array, mask: Uint32Array): void {
    if (this.flows.has(slot)) throw new RangeError(`slot ${slot} is in use`);
    const masked = new Uint32Array(KEY_WORDS);
    for (let w = 0; w < KEY_WORDS; w++) masked[w] = key[w] & mask[w];
    this.flows.set(slot, { key: masked, mask: mask.slice() });
  }

  /** Removes flow `slot`; returns false if absent. */
  remove(slot: number): boolean {
    return this.flows.delete(slot);
  }

  /** Number of flows. */
  get size(): number {
    return this.flows.size;
  }

  /** Every slot whose flow matches the packet key at `keyOffset`, ascending. */
  matches(keys: Uint32Array, keyOffset: number): number[] {
    const out: number[] = [];
    for (const [slot, flow] of this.flows) {
      let ok = true;
      for (let w = 0; w < USED_WORDS && ok; w++) {
        ok = ((keys[keyOffset + w] & flow.mask[w]) >>> 0) === flow.key[w];
      }
      if (ok) out.push(slot);
    }
    return out.sort((a, b) => a - b);
  }

  /** True when two flows (masked key + mask) can match one same packet. */
  static overlap(
    aKey: Uint32Array,
    aMask: Uint32Array,
    bKey: Uint32Array,
    bMask: Uint32Array,
  ): boolean {
    for (let w = 0; w < USED_WORDS; w++) {
      if (((aKey[w] ^ bKey[w]) & aMask[w] & bMask[w]) !== 0) return false;
    }
    return true;
  }
}
