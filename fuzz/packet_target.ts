/**
 * The packet fuzz target: each iteration installs random flows, receives a
 * burst of random and mutated frames on port 1 and runs dpif_execute calls,
 * on the memory or the DPDK backend, then checks:
 * - nothing throws (a rejected flow or execute must be a DpifError or an
 *   OdpSyntaxError);
 * - every packet ends sent, dropped under a counted reason or upcalled: the
 *   sum of port tx/rx drop and error counters, datapath drop counters and
 *   queued upcalls grew by exactly the inputs (single-fate actions) or by at
 *   least the inputs (any actions);
 * - the pool's free count is back where it started (no leaked buffer);
 * - no byte outside a packet buffer changed (memory backend guard zones);
 * - on the memory backend, what leaves the datapath (frames sent, upcalls,
 *   counters) is the same whether the bytes around each frame are 0x00 or
 *   0xff (twin backends): no action reads outside its frame;
 * - flow-key extraction of the same frames is the same whatever bytes lie
 *   before and after each frame (no read outside the frame), short frames
 *   are flagged, L3/L4 offsets lie inside the frame, and key words outside
 *   the word map are zero.
 *
 * The first iterations sweep every truncation length of every seed frame.
 *
 * @module
 */

import { DpifError, OdpSyntaxError } from "../datapath/errors.ts";
import { extractBatchKeys } from "../datapath/flow_extract.ts";
import { KEY_SHIFT, KEY_WORDS, newKeys } from "../datapath/flow_key.ts";
import { BATCH_SIZE, PacketBatch } from "../datapath/packet_batch.ts";
import type { Datapath } from "../datapath/datapath.ts";
import { seedFrames } from "./frames.ts";
import { dpdkBackend, memoryBackend, type PacketBackend } from "./packet_backends.ts";
import {
  fromHex,
  generateCase,
  type PacketCase,
  sweepCase,
  type SweepChunk,
  sweepChunks,
} from "./packet_case.ts";
import type { Prng } from "./prng.ts";
import { describeError, type FuzzSession } from "./target.ts";

/** Every way a packet can end, summed over ports, drop reasons and the upcall queue. */
function fateCount(dp: Datapath): number {
  let n = 0;
  for (const port of dp.listPorts()) {
    const s = dp.portStats(port.port_no);
    n += s.tx_packets + s.tx_dropped + s.tx_errors + s.rx_dropped + s.rx_errors;
  }
  for (const d of dp.pipeline.drops) n += d;
  return n + dp.upcalls.stats().enqueued;
}

function isExpectedRejection(error: unknown): boolean {
  return error instanceof DpifError || error instanceof OdpSyntaxError;
}

/**
 * Runs one case on a backend and returns what broke, or null. The backend
 * keeps working afterwards unless the message says it threw.
 */
export function checkPacketCase(
  backend: PacketBackend,
  c: PacketCase,
  observations?: string[],
): string | null {
  const dp = backend.dp;
  const pool = dp.pool;
  const freeBefore = pool.available();
  const fatesBefore = fateCount(dp);
  let rejected = 0;
  const frames = c.frames.map(fromHex);
  const held = holdBuffers(dp, c.reserve);
  try {
    dp.flushFlows();
    dp.upcalls.purge();
    dp.setUpcallsEnabled(c.upcalls);
    for (const flow of c.flows) {
      try {
        dp.putFlow({ flow: flow.flow, actions: flow.actions });
      } catch (error) {
        if (!isExpectedRejection(error)) {
          return `putFlow ${flow.flow} threw ${describeError(error)}`;
        }
      }
    }
    rejected += backend.receive(frames);
    for (const e of c.executes) {
      try {
        dp.execute(fromHex(e.packet), e.actions, e.metadata);
      } catch (error) {
        if (!isExpectedRejection(error)) return `execute threw ${describeError(error)}`;
        rejected++;
      }
    }
    backend.settle();
    releaseBuffers(dp, held);
    const extraction = checkExtraction(dp, frames);
    if (extraction !== null) return extraction;
  } catch (error) {
    return `threw ${describeError(error)}`;
  } finally {
    releaseBuffers(dp, held);
  }
  const inputs = frames.length + c.executes.length;
  const fates = fateCount(dp) - fatesBefore + rejected;
  observations?.push(backend.observe());
  dp.upcalls.purge();
  if (c.exact ? fates !== inputs : fates < inputs) {
    return `${inputs} inputs but ${fates} fates (sent + dropped + upcalled)${
      c.exact ? " with single-fate actions" : ""
    }; drops ${JSON.stringify(dp.stats().drops)}`;
  }
  const leaked = freeBefore - pool.available();
  if (leaked !== 0) return `${leaked} buffers not back in the pool`;
  return backend.damage();
}

/** Allocates every buffer but `reserve` (none when undefined); returns the handles held. */
function holdBuffers(dp: Datapath, reserve: number | undefined): Int32Array {
  if (reserve === undefined) return new Int32Array(0);
  const want = Math.max(0, dp.pool.available() - reserve);
  const handles = new Int32Array(want);
  const got = dp.pool.allocBulk(handles, 0, want);
  return handles.subarray(0, got);
}

/** Frees what {@linkcode holdBuffers} took (once: the array is emptied by marking -1). */
function releaseBuffers(dp: Datapath, held: Int32Array): void {
  for (let i = 0; i < held.length; i++) {
    if (held[i] >= 0) dp.pool.free(held[i]);
    held[i] = -1;
  }
}

const keysA = newKeys(BATCH_SIZE);
const keysB = newKeys(BATCH_SIZE);
const mapsA = new Uint32Array(2 * BATCH_SIZE);
const mapsB = new Uint32Array(2 * BATCH_SIZE);

/** Extracts the frames twice, with 0x00 then 0xff around each, and checks the results agree. */
function checkExtraction(dp: Datapath, frames: Uint8Array[]): string | null {
  const batch = new PacketBatch(dp.pool);
  try {
    for (const frame of frames) {
      if (batch.isFull()) break;
      try {
        if (batch.pushCopy(frame) < 0) break;
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
      }
    }
    const bytes = dp.pool.bytes;
    const l3 = new Int32Array(batch.count);
    const l4 = new Int32Array(batch.count);
    let shortA = 0;
    for (const [fill, keys, maps] of [[0x00, keysA, mapsA], [0xff, keysB, mapsB]] as const) {
      for (let i = 0; i < batch.count; i++) {
        const start = dp.pool.bufferStart(batch.handle[i]);
        const end = dp.pool.bufferEnd(batch.handle[i]);
        bytes.fill(fill, start, batch.offset[i]);
        bytes.fill(fill, batch.offset[i] + batch.length[i], end);
      }
      keys.fill(0);
      maps.fill(0);
      const short = extractBatchKeys(batch, keys, maps);
      if (fill === 0) {
        shortA = short;
        l3.set(batch.l3.subarray(0, batch.count));
        l4.set(batch.l4.subarray(0, batch.count));
      } else if (short !== shortA) return `extraction: short mask depends on bytes outside frames`;
    }
    for (let i = 0; i < batch.count; i++) {
      const len = batch.length[i];
      const hex = Array.from(
        bytes.subarray(batch.offset[i], batch.offset[i] + len),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
      if (((shortA >>> i) & 1) !== (len < 14 ? 1 : 0)) {
        return `extraction: frame ${i} of ${len} bytes short flag wrong (${hex})`;
      }
      if (l3[i] !== batch.l3[i] || l4[i] !== batch.l4[i]) {
        return `extraction: l3/l4 of frame ${i} depend on bytes outside it (${hex})`;
      }
      if (len >= 14 && !(l3[i] >= 14 && l3[i] <= len)) {
        return `extraction: l3 ${l3[i]} outside frame ${i} of ${len} bytes (${hex})`;
      }
      if (l4[i] !== -1 && !(l4[i] >= l3[i] && l4[i] <= len)) {
        return `extraction: l4 ${l4[i]} outside frame ${i} (l3 ${l3[i]}, ${len} bytes) (${hex})`;
      }
      const k = i << KEY_SHIFT;
      for (let w = 0; w < KEY_WORDS; w++) {
        if (keysA[k + w] !== keysB[k + w]) {
          return `extraction: key word ${w} of frame ${i} depends on bytes outside it (${hex})`;
        }
        const inMap = w < 32 ? (mapsA[2 * i] >>> w) & 1 : (mapsA[2 * i + 1] >>> (w - 32)) & 1;
        if (!inMap && keysA[k + w] !== 0) {
          return `extraction: key word ${w} of frame ${i} is not 0 but outside the map (${hex})`;
        }
      }
      if (mapsA[2 * i] !== mapsB[2 * i] || mapsA[2 * i + 1] !== mapsB[2 * i + 1]) {
        return `extraction: word map of frame ${i} depends on bytes outside it (${hex})`;
      }
    }
    return null;
  } finally {
    batch.freeAll();
  }
}

/**
 * Runs a case on twin memory backends whose free buffers hold 0x00 and 0xff
 * and compares what left them: any difference means some action read bytes
 * outside its frame (past its end, or in the headroom before it).
 */
export function checkTwinCase(twins: PacketBackend[], c: PacketCase): string | null {
  const seen: string[] = [];
  for (const [k, fill] of [0x00, 0xff].entries()) {
    twins[k].fillFree(fill);
    const message = checkPacketCase(twins[k], c, seen);
    if (message !== null) return message;
  }
  if (seen[0] !== seen[1]) {
    return `output depends on bytes outside the frames (0x00 vs 0xff around them): ${
      firstDifference(seen[0], seen[1])
    }`;
  }
  return null;
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}: ...${a.slice(Math.max(0, i - 80), i + 40)} vs ...${
    b.slice(Math.max(0, i - 80), i + 40)
  }`;
}

/**
 * A packet fuzz session on one backend ("memory": twin backends, see
 * {@linkcode checkTwinCase}; or "dpdk"); a string when it cannot run.
 */
export function openPacketSession(kind: "memory" | "dpdk"): FuzzSession | string {
  const open = (): PacketBackend[] | string => {
    if (kind === "memory") {
      return [memoryBackend({ capture: true }), memoryBackend({ capture: true })];
    }
    const b = dpdkBackend();
    return typeof b === "string" ? b : [b];
  };
  const first = open();
  if (typeof first === "string") return first;
  let backends: PacketBackend[] = first;
  const seeds = seedFrames();
  const chunks: SweepChunk[] = sweepChunks(seeds);
  const closeAll = () => {
    for (const b of backends) b.close();
  };
  return {
    iterate(rng: Prng, iteration: number) {
      const c = iteration < chunks.length
        ? sweepCase(rng, seeds, chunks[iteration])
        : generateCase(rng, seeds, backends[0].maxFrame);
      const message = backends.length === 2
        ? checkTwinCase(backends, c)
        : checkPacketCase(backends[0], c);
      if (message !== null) {
        // State after a failure is unknown (and twins may have drifted): start over.
        try {
          closeAll();
        } catch { /* already reported */ }
        const fresh = open();
        if (typeof fresh !== "string") backends = fresh;
      }
      return {
        inputs: c.frames.length + c.executes.length,
        failure: message === null ? null : { message, input: JSON.stringify(c) },
      };
    },
    close: closeAll,
  };
}
