/**
 * Megaflow classifier sweep: lookups per second (M/s) for 10,000 and 100,000
 * flows spread over 1, 4, 10, 16 and 64 masks, one key at a time
 * (`Megaflow.lookup`, what the pipeline calls after an EMC miss) and in
 * batches of 32 (`lookupBatch`). Packets visit the flows round robin, so
 * every subtable is hit equally often (the worst case for ranking). Each
 * case also runs with the signature cache off, the bare tuple-space search.
 *
 * Run alone: `deno run -A bench/megaflow_masks_bench.ts [--flows=10000,100000]
 * [--masks=1,4,10,16,64] [--millis=600]`.
 *
 * @module
 */

import {
  KEY_WORDS,
  W_ETH_TYPE,
  W_IN_PORT,
  W_NW_DST,
  W_NW_SRC,
  W_TP,
} from "../datapath/flow_key.ts";
import { Megaflow } from "../datapath/megaflow.ts";
import { type BenchRow, formatTable, measureMops, row } from "./report.ts";

/**
 * Mask `i`: in_port, eth_type and nw_dst exact; nw_src prefix /(32 - i/2);
 * the transport ports only for even `i`. For i < 10 these are the masks of
 * bench/classifier_bench.ts. Distinct for i < 64.
 */
export function sweepMask(i: number): Uint32Array {
  const mask = new Uint32Array(KEY_WORDS);
  mask[W_IN_PORT] = 0xffffffff;
  mask[W_ETH_TYPE] = 0xffff;
  mask[W_NW_DST] = 0xffffffff;
  mask[W_NW_SRC] = (0xffffffff << (i >> 1)) >>> 0;
  if (i % 2 === 0) mask[W_TP] = 0xffff;
  return mask;
}

/** Builds `flows` flows over `masks` masks; returns the classifier and one packet per flow. */
export function buildSweep(
  flows: number,
  masks: number,
  cacheEntries?: number,
): { megaflow: Megaflow; keys: Uint32Array } {
  const megaflow = new Megaflow(flows, cacheEntries === undefined ? {} : { cacheEntries });
  const keys = new Uint32Array(flows * KEY_WORDS);
  const maskList = Array.from({ length: masks }, (_, i) => sweepMask(i));
  let x = 0x9e3779b9;
  for (let j = 0; j < flows; j++) {
    const off = j * KEY_WORDS;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    keys[off + W_IN_PORT] = 1;
    keys[off + W_ETH_TYPE] = 0x0800;
    keys[off + W_NW_DST] = j;
    keys[off + W_NW_SRC] = x >>> 0;
    keys[off + W_TP] = Math.imul(x, 0x85ebca6b) >>> 0;
    megaflow.insert(j, keys, off, maskList[j % masks], 0);
  }
  return { megaflow, keys };
}

function benchSingle(megaflow: Megaflow, keys: Uint32Array, flows: number, ms: number): number {
  let p = 0;
  return measureMops((n) => {
    let misses = 0;
    for (let i = 0; i < n; i++) {
      if (megaflow.lookup(keys, p * KEY_WORDS) < 0) misses++;
      if (++p === flows) p = 0;
    }
    if (misses > 0) throw new Error(`${misses} benchmark packets missed`);
  }, ms);
}

function benchBatch(megaflow: Megaflow, keys: Uint32Array, flows: number, ms: number): number {
  const views: Uint32Array[] = [];
  for (let p = 0; p + 32 <= flows; p += 32) {
    views.push(keys.subarray(p * KEY_WORDS, (p + 32) * KEY_WORDS));
  }
  const out = new Int32Array(32);
  let v = 0;
  return measureMops((n) => {
    for (let i = 0; i < n; i += 32) {
      megaflow.lookupBatch(views[v], 32, out);
      if (out[31] < 0) throw new Error("a benchmark packet missed");
      if (++v === views.length) v = 0;
    }
  }, ms);
}

/** Runs the sweep; one row per (flows, masks, mode). */
export function benchMegaflowMasks(
  flowCounts: number[] = [10_000, 100_000],
  maskCounts: number[] = [1, 4, 10, 16, 64],
  ms = 600,
): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const flows of flowCounts) {
    for (const masks of maskCounts) {
      for (const cache of [true, false]) {
        const { megaflow, keys } = buildSweep(flows, masks, cache ? undefined : 0);
        const h0 = megaflow.hits;
        const p0 = megaflow.maskHits;
        const single = benchSingle(megaflow, keys, flows, ms);
        const probes = (megaflow.maskHits - p0) / (megaflow.hits - h0);
        const batch = benchBatch(megaflow, keys, flows, ms);
        const label = `megaflow ${masks} masks, ${flows} flows${cache ? "" : ", no cache"}`;
        rows.push(row(label, single, `M lookups/s; ${probes.toFixed(2)} subtables per hit`));
        rows.push(row(`${label}, batch`, batch, "M lookups/s via lookupBatch(32)"));
      }
    }
  }
  return rows;
}

function listArg(name: string, fallback: number[]): number[] {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : arg.slice(name.length + 3).split(",").map(Number);
}

if (import.meta.main) {
  const ms = listArg("millis", [600])[0];
  console.log(
    formatTable(
      benchMegaflowMasks(
        listArg("flows", [10_000, 100_000]),
        listArg("masks", [1, 4, 10, 16, 64]),
        ms,
      ),
    ),
  );
}
