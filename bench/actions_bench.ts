/**
 * Action executor benchmark: batches of 32 packets through compiled
 * programs on the in-memory pool, one row per case:
 * output only (baseline), set(ipv4 src + ttl), push_vlan + pop_vlan, and
 * VXLAN / Geneve / GRE tnl_push and tnl_pop.
 *
 * The bench context "transmits" by forgetting the packets (count = 0) and
 * each round restores their offsets and lengths, so the pool is never
 * touched and the figures are the executor's own cost (plus that restore).
 * Push cases hash the UDP source port (template src 0); VXLAN and Geneve
 * pop verify a UDP checksum; GRE has key only.
 *
 * Run alone: `deno run --allow-all bench/actions_bench.ts`.
 *
 * @module
 */

import {
  type Action,
  TUNNEL_TYPE_GENEVE,
  TUNNEL_TYPE_GRE,
  TUNNEL_TYPE_VXLAN,
  type UserspaceAction,
} from "../datapath/action.ts";
import type { ExecutionContext } from "../datapath/execute/context.ts";
import { compileActions } from "../datapath/execute/compile.ts";
import { executeActions } from "../datapath/execute/executor.ts";
import { KEY_WORDS, W_NW_PROTO_TOS_TTL_FRAG, W_NW_SRC } from "../datapath/flow_key.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { BATCH_SIZE, PacketBatch } from "../datapath/packet_batch.ts";
import { type BenchRow, formatTable, measureMops, row } from "./report.ts";

const TUNNEL_PORT = 4789;

/** Context that forgets what it is given (the bench restores the batch). */
class SinkContext implements ExecutionContext {
  tunnel: { type: "vxlan" | "geneve" | "gre"; dstPort: number } = {
    type: "vxlan",
    dstPort: TUNNEL_PORT,
  };
  dropped = 0;
  constructor(readonly pool: MemoryPool) {}
  output(_port: number, batch: PacketBatch): void {
    batch.count = 0;
  }
  recirculate(batch: PacketBatch): void {
    batch.count = 0;
  }
  upcall(_batch: PacketBatch, _i: number, _action: UserspaceAction): void {}
  drop(_reason: number, count: number): void {
    this.dropped += count;
  }
  tunnelPort(port: number) {
    return port === TUNNEL_PORT ? this.tunnel : null;
  }
  borrowBatch(): PacketBatch {
    return new PacketBatch(this.pool);
  }
  releaseBatch(_batch: PacketBatch): void {}
}

function hexBytes(text: string): Uint8Array {
  const clean = text.replace(/\s/g, "");
  return Uint8Array.from(clean.match(/../g)!, (b) => parseInt(b, 16));
}

/** A 64-byte UDP/IPv4 frame (checksums need not be right for these actions). */
const INNER = hexBytes(
  "000000000002 000000000001 0800 45000032 00004000 40113a4c 0a000001 0a000002" +
    "04d2162e 001e0000" + "00".repeat(22),
);
const OUTER_IP4 = (proto: string) =>
  "0000000000bb 0000000000aa 0800 45000000 00004000 40" + proto + "0000 c0a80001 c0a80002";
const VXLAN = hexBytes(OUTER_IP4("11") + "0000 12b5 0000 ffff 08000000 00007b00");
const GENEVE = hexBytes(
  OUTER_IP4("11") + "0000 12b5 0000 ffff 02006558 00007b00 01028001 aabbccdd",
);
const GRE = hexBytes(OUTER_IP4("2f") + "20006558 0000007b");

function setIpv4SrcTtl(): Action {
  const key = new Uint32Array(KEY_WORDS), mask = new Uint32Array(KEY_WORDS);
  key[W_NW_SRC] = 0x0b000001;
  mask[W_NW_SRC] = 0xffffffff;
  key[W_NW_PROTO_TOS_TTL_FRAG] = 0x3f00;
  mask[W_NW_PROTO_TOS_TTL_FRAG] = 0xff00;
  return { type: "set", masked: false, key, mask };
}

function tnlPush(header: Uint8Array, headerType: number): Action {
  return { type: "tnl_push", tunnelPort: TUNNEL_PORT, headerType, header, outPort: 1 };
}

/** Measures `actions` on full batches of `frame`; returns Mpps. */
function measure(
  actions: Action[],
  frame: Uint8Array,
  tunnelType: "vxlan" | "geneve" | "gre" = "vxlan",
): number {
  const pool = new MemoryPool({ capacity: BATCH_SIZE * 4 });
  const ctx = new SinkContext(pool);
  ctx.tunnel = { type: tunnelType, dstPort: TUNNEL_PORT };
  const batch = new PacketBatch(pool);
  const handles = new Int32Array(BATCH_SIZE);
  pool.allocBulk(handles, 0, BATCH_SIZE);
  const offsets = new Int32Array(BATCH_SIZE);
  for (let i = 0; i < BATCH_SIZE; i++) {
    offsets[i] = pool.bufferStart(handles[i]) + pool.headroom;
    pool.bytes.set(frame, offsets[i]);
    batch.push(handles[i], offsets[i], frame.length);
  }
  const program = compileActions(actions);
  const length = frame.length;
  const mpps = measureMops((iterations) => {
    const rounds = Math.ceil(iterations / BATCH_SIZE);
    for (let r = 0; r < rounds; r++) {
      batch.count = BATCH_SIZE;
      for (let i = 0; i < BATCH_SIZE; i++) {
        batch.offset[i] = offsets[i];
        batch.length[i] = length;
      }
      executeActions(program, batch, ctx);
    }
  }, 500);
  if (ctx.dropped !== 0) throw new Error(`bench case dropped ${ctx.dropped} packets`);
  return mpps;
}

/** Pushes `header` onto INNER once and returns the outer frame (for pop cases). */
function encapsulated(header: Uint8Array, headerType: number, type: "vxlan" | "geneve" | "gre") {
  const pool = new MemoryPool({ capacity: 4 });
  const ctx = new SinkContext(pool);
  ctx.tunnel = { type, dstPort: TUNNEL_PORT };
  const batch = new PacketBatch(pool);
  const handles = new Int32Array(1);
  pool.allocBulk(handles, 0, 1);
  const at = pool.bufferStart(handles[0]) + pool.headroom;
  pool.bytes.set(INNER, at);
  batch.push(handles[0], at, INNER.length);
  executeActions(
    compileActions([tnlPush(header, headerType), { type: "output", port: 1 }]),
    batch,
    ctx,
  );
  return pool.bytes.slice(batch.offset[0], batch.offset[0] + batch.length[0]);
}

/** Runs every case and returns one row each (Mpps, batches of 32, one core). */
export function benchActions(): BenchRow[] {
  const out: Action = { type: "output", port: 1 };
  const pop: Action = { type: "tnl_pop", port: TUNNEL_PORT };
  const cases: [string, () => number, string][] = [
    ["actions output (baseline)", () => measure([out], INNER), "64 B UDP/IPv4"],
    [
      "actions set(ipv4 src+ttl)",
      () => measure([setIpv4SrcTtl(), out], INNER),
      "incremental csums",
    ],
    [
      "actions push_vlan+pop_vlan",
      () =>
        measure(
          [{ type: "push_vlan", tpid: 0x8100, vid: 10, pcp: 0 }, { type: "pop_vlan" }, out],
          INNER,
        ),
      "",
    ],
    [
      "actions tnl_push vxlan",
      () => measure([tnlPush(VXLAN, TUNNEL_TYPE_VXLAN), out], INNER),
      "src port hash + UDP csum",
    ],
    [
      "actions tnl_push geneve",
      () => measure([tnlPush(GENEVE, TUNNEL_TYPE_GENEVE), out], INNER, "geneve"),
      "8 B options, UDP csum",
    ],
    [
      "actions tnl_push gre",
      () => measure([tnlPush(GRE, TUNNEL_TYPE_GRE), out], INNER, "gre"),
      "key",
    ],
    [
      "actions tnl_pop vxlan",
      () => measure([pop], encapsulated(VXLAN, TUNNEL_TYPE_VXLAN, "vxlan")),
      "verifies UDP csum",
    ],
    [
      "actions tnl_pop geneve",
      () => measure([pop], encapsulated(GENEVE, TUNNEL_TYPE_GENEVE, "geneve"), "geneve"),
      "verifies UDP csum, options",
    ],
    [
      "actions tnl_pop gre",
      () => measure([pop], encapsulated(GRE, TUNNEL_TYPE_GRE, "gre"), "gre"),
      "key",
    ],
  ];
  return cases.map(([name, body, note]) => {
    const mpps = body();
    return row(name, mpps, `${note}${note ? "; " : ""}${(1000 / mpps).toFixed(1)} ns/pkt`);
  });
}

if (import.meta.main) {
  console.log(formatTable(benchActions()));
}
