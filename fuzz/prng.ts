/**
 * A small seeded pseudo-random generator for the fuzzers (mulberry32), and
 * the rule that derives one generator per iteration from the run's seed, so
 * a failure at iteration I of seed S replays alone with `--seed=S --iteration=I`.
 *
 * @module
 */

/** Seeded, reproducible random numbers with the helpers the fuzzers use. */
export class Prng {
  #state: number;

  /** Starts from a 32-bit seed. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n) (0 when n <= 0). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.next() / 4294967296) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A byte 0..255. */
  byte(): number {
    return this.next() & 0xff;
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** A value that is often at an edge: 0, 1, max, max-1, a power of two, or random below max. */
  edgy(max: number): number {
    switch (this.int(6)) {
      case 0:
        return 0;
      case 1:
        return Math.min(1, max);
      case 2:
        return max;
      case 3:
        return Math.max(0, max - 1);
      case 4:
        return Math.min(max, 2 ** this.int(Math.max(1, Math.ceil(Math.log2(max + 1)))));
      default:
        return this.int(max + 1);
    }
  }
}

/** The generator of iteration `iteration` of a run seeded with `seed`. */
export function iterationPrng(seed: number, iteration: number): Prng {
  let h = (seed ^ Math.imul(iteration + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return new Prng((h ^ (h >>> 16)) >>> 0);
}

/** A fresh random 32-bit seed (for runs without `--seed`). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
