/**
 * Flow-key extraction throughput on the memory backend: batches of 32
 * packets in a {@linkcode MemoryPool}, keys and maps reused across batches
 * as the datapath does. Each case uses 32 frames of one kind that differ in
 * their addresses or ports, so the EMC-style reuse of a slot's map is the
 * common case (its previous key had the same shape).
 *
 * Run alone: `deno run -A bench/extract_bench.ts`.
 *
 * @module
 */

import { extractBatchKeys } from "../datapath/flow_extract.ts";
import { KEY_WORDS } from "../datapath/flow_key.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { BATCH_SIZE, PacketBatch } from "../datapath/packet_batch.ts";
import { arpFrame, tcp6Frame, udp4Frame } from "../tests/fixtures/packets.ts";
import { type BenchRow, formatTable, measureMops, row } from "./report.ts";

/** One benchmark case: a name and the frame of packet `i` of the batch. */
interface ExtractCase {
  name: string;
  note: string;
  frame: (i: number) => Uint8Array;
}

const CASES: ExtractCase[] = [
  {
    name: "extract udp4 64B",
    note: "Eth/IPv4/UDP, 60 B + FCS",
    frame: (i) => udp4Frame({ srcPort: 1000 + i, padTo: 60 }),
  },
  {
    name: "extract tcp6",
    note: "Eth/IPv6/TCP, 74 B",
    frame: (i) => tcp6Frame({ srcPort: 1000 + i, flags: 0x010 }),
  },
  {
    name: "extract vlan+udp4",
    note: "Eth/802.1Q/IPv4/UDP, 64 B",
    frame: (i) => udp4Frame({ srcPort: 1000 + i, vlans: [{ tci: 100 }], padTo: 64 }),
  },
  {
    name: "extract arp",
    note: "Eth/ARP request, 60 B",
    frame: (i) => arpFrame({ spa: `10.0.0.${i + 1}`, padTo: 60 }),
  },
];

/** Measures one case: millions of packets extracted per second. */
function measureCase(c: ExtractCase, minMillis: number): number {
  const pool = new MemoryPool({ capacity: BATCH_SIZE });
  const batch = new PacketBatch(pool);
  const handles = new Int32Array(BATCH_SIZE);
  pool.allocBulk(handles, 0, BATCH_SIZE);
  for (let i = 0; i < BATCH_SIZE; i++) {
    const frame = c.frame(i);
    const at = pool.bufferStart(handles[i]) + pool.headroom;
    pool.bytes.set(frame, at);
    batch.push(handles[i], at, frame.length);
    batch.meta[i << 5] = 1; // in_port
  }
  const keys = new Uint32Array(BATCH_SIZE * KEY_WORDS);
  const maps = new Uint32Array(2 * BATCH_SIZE);
  let sink = 0;
  const mpps = measureMops((iterations) => {
    const batches = Math.ceil(iterations / BATCH_SIZE);
    for (let n = 0; n < batches; n++) sink |= extractBatchKeys(batch, keys, maps);
  }, minMillis);
  batch.freeAll();
  if (sink !== 0) throw new Error("extract bench: a benchmark frame was counted as short");
  return mpps;
}

/** Runs every extraction case and returns one row each (Mpps on one core). */
export function benchExtract(minMillis = 1000): BenchRow[] {
  return CASES.map((c) => row(c.name, measureCase(c, minMillis), c.note));
}

if (import.meta.main) {
  console.log(formatTable(benchExtract()));
}
