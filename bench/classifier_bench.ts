/**
 * Classifier benchmark: lookups per second (M/s) of the exact-match cache
 * and the megaflow classifier for 1, 1,000 and 100,000 flows, with 1 and 10
 * masks, and the flow table's memory per flow at 1,000,000 flows over 10
 * masks. Run alone: `deno run -A bench/classifier_bench.ts`.
 *
 * @module
 */

import { Emc, EMC_DEFAULT_ENTRIES, hashKey } from "../datapath/emc.ts";
import {
  KEY_WORDS,
  USED_WORDS,
  W_ETH_TYPE,
  W_IN_PORT,
  W_NW_DST,
  W_NW_SRC,
  W_TP,
} from "../datapath/flow_key.ts";
import { FlowTable } from "../datapath/flow_table.ts";
import { Megaflow } from "../datapath/megaflow.ts";
import { type BenchRow, formatTable, measureMops, row } from "./report.ts";

/** Options of {@linkcode benchClassifier}. */
export interface ClassifierBenchOptions {
  /** Milliseconds per measured case (default 600). */
  minMillis?: number;
  /** Flows for the memory case (default 1,000,000; 0 skips it). */
  memoryFlows?: number;
}

/** A deterministic pseudo-random 32-bit sequence (xorshift). */
function nextRandom(state: Uint32Array): number {
  let x = state[0];
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  state[0] = x;
  return x >>> 0;
}

/** Mask `i` of 10: in_port, eth_type, nw_dst exact; nw_src prefix /32-i; tp only for i even. */
function maskOf(i: number): Uint32Array {
  const mask = new Uint32Array(KEY_WORDS);
  mask[W_IN_PORT] = 0xffffffff;
  mask[W_ETH_TYPE] = 0xffff;
  mask[W_NW_DST] = 0xffffffff;
  mask[W_NW_SRC] = (0xffffffff << i) >>> 0;
  if (i % 2 === 0) mask[W_TP] = 0xffff;
  return mask;
}

/** Flow `j`'s key (unmasked) and, in `packets`, a packet of it with noise outside the mask. */
function flowKey(j: number, rng: Uint32Array): Uint32Array {
  const key = new Uint32Array(KEY_WORDS);
  key[W_IN_PORT] = 1;
  key[W_ETH_TYPE] = 0x0800;
  key[W_NW_DST] = j;
  key[W_NW_SRC] = nextRandom(rng);
  key[W_TP] = nextRandom(rng);
  return key;
}

interface Workload {
  keys: Uint32Array;
  maps: Uint32Array;
  count: number;
}

/** Builds a megaflow with `flows` flows over `masks` masks and packets hitting each flow. */
function build(flows: number, masks: number): { megaflow: Megaflow; work: Workload } {
  const rng = new Uint32Array([0x9e3779b9]);
  const megaflow = new Megaflow(flows);
  const keys = new Uint32Array(flows * KEY_WORDS);
  const maps = new Uint32Array(flows * 2);
  const maskList = Array.from({ length: masks }, (_, i) => maskOf(i));
  for (let j = 0; j < flows; j++) {
    const key = flowKey(j, rng);
    megaflow.insert(j, key, 0, maskList[j % masks], 0);
    keys.set(key, j * KEY_WORDS);
    for (let w = 0; w < USED_WORDS; w++) {
      if (key[w] !== 0) maps[2 * j + (w >> 5)] |= 1 << (w & 31);
    }
  }
  return { megaflow, work: { keys, maps, count: flows } };
}

/** Looks up `n` packets from position `p` (wrapping at `count`); returns the next position. */
function runLookups(
  megaflow: Megaflow,
  keys: Uint32Array,
  maps: Uint32Array,
  count: number,
  start: number,
  n: number,
): number {
  let p = start;
  let misses = 0;
  for (let i = 0; i < n; i++) {
    if (megaflow.lookup(keys, p * KEY_WORDS, maps, p * 2) < 0) misses++;
    if (++p === count) p = 0;
  }
  if (misses > 0) throw new Error(`${misses} benchmark packets missed`);
  return p;
}

function benchMegaflow(megaflow: Megaflow, work: Workload, minMillis: number): number {
  let p = 0;
  return measureMops((n) => {
    p = runLookups(megaflow, work.keys, work.maps, work.count, p, n);
  }, minMillis);
}

function benchMegaflowBatch(megaflow: Megaflow, work: Workload, minMillis: number): number {
  const batch = Math.min(32, work.count);
  const views: Uint32Array[] = [];
  for (let p = 0; p + batch <= work.count; p += batch) {
    views.push(work.keys.subarray(p * KEY_WORDS, (p + batch) * KEY_WORDS));
  }
  const out = new Int32Array(batch);
  let v = 0;
  let sink = 0;
  const mops = measureMops((n) => {
    for (let i = 0; i < n; i += batch) {
      megaflow.lookupBatch(views[v], batch, out);
      sink += out[0];
      if (++v === views.length) v = 0;
    }
  }, minMillis);
  if (sink < 0) throw new Error("a benchmark packet missed");
  return mops;
}

/** EMC lookups as the pipeline does them: hash, EMC, and on a miss megaflow + insert. */
function runEmc(
  emc: Emc,
  megaflow: Megaflow,
  keys: Uint32Array,
  maps: Uint32Array,
  count: number,
  start: number,
  n: number,
  misses: Float64Array,
): number {
  let p = start;
  for (let i = 0; i < n; i++) {
    const off = p * KEY_WORDS;
    const h = hashKey(keys, off, maps, p * 2);
    if (emc.lookup(keys, off, maps, p * 2, h) < 0) {
      misses[0]++;
      emc.insert(keys, off, maps, p * 2, h, megaflow.lookup(keys, off));
    }
    if (++p === count) p = 0;
  }
  return p;
}

function benchEmc(
  megaflow: Megaflow,
  work: Workload,
  minMillis: number,
): { mops: number; hitRate: number } {
  const emc = new Emc(EMC_DEFAULT_ENTRIES, new Uint32Array(work.count));
  const count = Math.min(work.count, 4096); // a working set the 8192-entry cache can hold
  const misses = new Float64Array(1);
  let p = 0;
  let lookups = 0;
  const mops = measureMops((n) => {
    p = runEmc(emc, megaflow, work.keys, work.maps, count, p, n, misses);
    lookups += n;
  }, minMillis);
  return { mops, hitRate: 1 - misses[0] / lookups };
}

/** Puts `flows` flows over 10 masks into a FlowTable and measures memory. */
function benchMemory(flows: number): BenchRow {
  const masks = Array.from({ length: 10 }, (_, i) => maskOf(i));
  const rng = new Uint32Array([12345]);
  const ufid = new Uint32Array(4);
  const before = Deno.memoryUsage();
  const table = new FlowTable({ maxFlows: flows });
  const t0 = performance.now();
  for (let j = 0; j < flows; j++) {
    ufid[0] = j;
    ufid[1] = 0x5eed;
    table.put({
      ufid,
      key: flowKey(j, rng).map((v, w) => v & masks[j % 10][w]),
      mask: masks[j % 10],
      actions: [{ type: "output", port: 1 + (j & 15) }],
      create: true,
      modify: false,
      zeroStats: false,
    });
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = Deno.memoryUsage();
  const perFlow = (a: number, b: number) => Math.round((b - a) / flows);
  const note = `${flows} flows/10 masks: ${perFlow(before.rss, after.rss)} B/flow rss, ` +
    `${perFlow(before.heapUsed + before.external, after.heapUsed + after.external)} B/flow ` +
    `heap+external, ${Math.round(table.byteSize() / flows)} B/flow typed arrays; M puts/s`;
  if (table.size !== flows) throw new Error("memory benchmark lost flows");
  return row("flow table put (memory)", flows / seconds / 1e6, note);
}

/** Runs every classifier case and returns one row each. */
export function benchClassifier(options: ClassifierBenchOptions = {}): BenchRow[] {
  const minMillis = options.minMillis ?? 600;
  const rows: BenchRow[] = [];
  for (const flows of [1, 1000, 100_000]) {
    const one = build(flows, 1);
    const emc = benchEmc(one.megaflow, one.work, minMillis);
    const hot = flows > 4096 ? ", 4096 hot keys" : "";
    const emcNote = `M lookups/s incl. hashKey${hot}; ${(emc.hitRate * 100).toFixed(1)}% EMC hits`;
    rows.push(row(`emc, ${flows} flows`, emc.mops, emcNote));
    rows.push(
      row(
        `megaflow 1 mask, ${flows} flows`,
        benchMegaflow(one.megaflow, one.work, minMillis),
        "M lookups/s",
      ),
    );
    if (flows < 10) continue;
    const ten = build(flows, 10);
    const hits0 = ten.megaflow.hits;
    const probes0 = ten.megaflow.maskHits;
    const mops = benchMegaflow(ten.megaflow, ten.work, minMillis);
    const avg = (ten.megaflow.maskHits - probes0) / (ten.megaflow.hits - hits0);
    rows.push(
      row(
        `megaflow ${ten.megaflow.maskCount} masks, ${flows} flows`,
        mops,
        `M lookups/s; ${avg.toFixed(2)} subtables probed per hit`,
      ),
    );
    rows.push(
      row(
        `megaflow ${ten.megaflow.maskCount} masks batch, ${flows} flows`,
        benchMegaflowBatch(ten.megaflow, ten.work, minMillis),
        "M lookups/s via lookupBatch(32)",
      ),
    );
  }
  const memoryFlows = options.memoryFlows ?? 1_000_000;
  if (memoryFlows > 0) rows.push(benchMemory(memoryFlows));
  return rows;
}

if (import.meta.main) {
  console.log(formatTable(benchClassifier()));
}
