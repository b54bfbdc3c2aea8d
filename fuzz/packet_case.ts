/**
 * One input of the packet fuzzer: flows to install, a burst of frames
 * received on port 1, and dpif_execute calls. Cases are plain JSON (frames
 * in hex), so a failure prints one that replays as is and the regression
 * corpus stores them verbatim.
 *
 * @module
 */

import { anyActions, flowMatch, singleFateActions } from "./actions.ts";
import { generateFrame } from "./frames.ts";
import type { Prng } from "./prng.ts";

/** A flow to install: ODP match and actions text. */
export interface CaseFlow {
  flow: string;
  actions: string;
}

/** A dpif_execute call. */
export interface CaseExecute {
  /** Frame as hex. */
  packet: string;
  actions: string;
  /** ODP metadata text, e.g. "in_port(1),skb_mark(5)". */
  metadata?: string;
}

/** One packet fuzz input. */
export interface PacketCase {
  /**
   * Every action list is single-fate, so each input packet must end exactly
   * once (sent + dropped + upcalled === inputs); otherwise at least once.
   */
  exact: boolean;
  /** Whether upcalls are enabled (else misses are lost, counted). */
  upcalls: boolean;
  flows: CaseFlow[];
  /** Frames as hex, received on port 1 in one burst. */
  frames: string[];
  executes: CaseExecute[];
  /**
   * When set, the harness holds every pool buffer but this many while the
   * case runs (pool pressure: clones and injections run out of buffers).
   */
  reserve?: number;
}

/** Hex text of bytes. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += bytes[i].toString(16).padStart(2, "0");
  return out;
}

/** Bytes of hex text (validated by the caller's corpus; junk digits read as 0). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16) || 0;
  return out;
}

/** Where the deterministic truncation sweep is: seed index and first length of a chunk. */
export interface SweepChunk {
  seed: number;
  from: number;
}

/** Chunks of 32 truncation lengths covering every length 0..len of every seed. */
export function sweepChunks(seeds: readonly Uint8Array[]): SweepChunk[] {
  const chunks: SweepChunk[] = [];
  seeds.forEach((s, seed) => {
    for (let from = 0; from <= s.length; from += 32) chunks.push({ seed, from });
  });
  return chunks;
}

const METADATA = [
  undefined,
  "in_port(1)",
  "in_port(2),skb_mark(0x5)",
  "recirc_id(0x1),in_port(1)",
  "in_port(4789),tunnel(tun_id=0x7b,src=172.31.1.1,dst=172.31.1.2,ttl=64,flags(key))",
  "skb_priority(0x7),in_port(3)",
];

/** Random flows: in_port 1 (recirc 0), the tunnel vports (after tnl_pop), recirc ids 1..3. */
function generateFlows(rng: Prng, exact: boolean): CaseFlow[] {
  const flows: CaseFlow[] = [];
  for (let n = rng.int(5); n > 0; n--) {
    const roll = rng.int(10);
    const inPort = roll < 6 ? 1 : rng.pick([1, 4789, 6081, 47]);
    const recirc = roll < 8 ? 0 : rng.range(1, 3);
    const loop = recirc > 0 && rng.chance(0.3); // recirculates forever: recirc_depth drops
    flows.push({
      flow: flowMatch(rng, inPort, recirc),
      actions: loop ? `recirc(${recirc})` : exact ? singleFateActions(rng) : anyActions(rng),
    });
  }
  return flows;
}

/**
 * The case of a random iteration: 1..32 fuzz frames, 0..4 flows, 0..2
 * executes; single-fate actions in three cases out of four; pool pressure
 * in one case out of ten.
 */
export function generateCase(
  rng: Prng,
  seeds: readonly Uint8Array[],
  maxFrame: number,
): PacketCase {
  const exact = rng.chance(0.75);
  const frames: string[] = [];
  for (let n = rng.range(1, 32); n > 0; n--) {
    frames.push(toHex(generateFrame(rng, seeds, maxFrame)));
  }
  const executes: CaseExecute[] = [];
  for (let n = rng.int(3); n > 0; n--) {
    executes.push({
      packet: toHex(generateFrame(rng, seeds, maxFrame)),
      actions: exact ? singleFateActions(rng) : anyActions(rng),
      metadata: rng.pick(METADATA),
    });
  }
  const c: PacketCase = {
    exact,
    upcalls: rng.chance(0.85),
    flows: generateFlows(rng, exact),
    frames,
    executes,
  };
  if (rng.chance(0.1)) c.reserve = rng.int(40);
  return c;
}

/** The case of a sweep iteration: one seed cut at 32 consecutive lengths, single-fate flows. */
export function sweepCase(rng: Prng, seeds: readonly Uint8Array[], chunk: SweepChunk): PacketCase {
  const seed = seeds[chunk.seed];
  const frames: string[] = [];
  for (let len = chunk.from; len <= seed.length && len < chunk.from + 32; len++) {
    frames.push(toHex(seed.subarray(0, len)));
  }
  const flows: CaseFlow[] = [
    { flow: "recirc_id(0),in_port(1),eth(),eth_type(0x1234/0)", actions: singleFateActions(rng) },
  ];
  return { exact: true, upcalls: true, flows, frames, executes: [] };
}
