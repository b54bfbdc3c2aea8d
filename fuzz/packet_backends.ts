/**
 * The two backends the packet fuzzer drives, behind one small interface:
 * memory (a Datapath over a {@linkcode GuardedPool}, dummy ports) and DPDK
 * (a Datapath over an MbufPool; frames arrive on a net_ring port from its
 * peer, port 2 is another net_ring whose peer is drained, port 3 is
 * net_null). Both have the vxlan (4789), geneve (6081) and gre (47) vports.
 *
 * @module
 */

import { Datapath } from "../datapath/datapath.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";
import { GuardedPool } from "./guarded_pool.ts";

/** What the packet fuzzer needs from a backend. */
export interface PacketBackend {
  /** "memory" or "dpdk". */
  readonly name: string;
  readonly dp: Datapath;
  /** Largest frame a buffer holds after its headroom. */
  readonly maxFrame: number;
  /**
   * Receives `frames` on port 1 as one burst and runs the datapath until
   * everything (recirculations included) is done. Returns how many frames
   * the harness itself could not hand in (too big for a buffer): those are
   * counted by no port (for DPDK, also what the test-side peer refused to
   * send: zero-length frames).
   */
  receive(frames: Uint8Array[]): number;
  /** Gives back to the pool whatever test-side peers received. */
  settle(): void;
  /** Bytes written outside packet buffers since the last call, described, or null. */
  damage(): string | null;
  /**
   * What left the datapath since the last call, as text: frames each port
   * sent, upcalls (packet and key), drop and port counters. Empties the
   * capture buffers and the upcall queue. Memory backend only ("" on DPDK).
   */
  observe(): string;
  /** Fills the free buffers with `byte` (memory backend; a no-op on DPDK). */
  fillFree(byte: number): void;
  /** Closes ports and frees pools. */
  close(): void;
}

const TUNNEL_PORTS = [
  { name: "vxlan_sys_4789", type: "vxlan", port_no: 4789, dst: "4789" },
  { name: "genev_sys_6081", type: "geneve", port_no: 6081, dst: "6081" },
  { name: "gre_sys", type: "gre", port_no: 47, dst: undefined },
];

function addTunnelPorts(dp: Datapath): void {
  for (const t of TUNNEL_PORTS) {
    const options: Record<string, string> = { remote_ip: "flow", key: "flow" };
    if (t.dst !== undefined) options.dst_port = t.dst;
    dp.addPort({ name: t.name, type: t.type, port_no: t.port_no, options });
  }
}

/** Hex text of a byte range. */
function hexOf(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += bytes[i].toString(16).padStart(2, "0");
  return out;
}

/**
 * The memory backend: dummy ports p1..p3 over a guarded pool. With
 * `capture`, the ports keep what they send (for {@linkcode PacketBackend.observe}).
 */
export function memoryBackend(options: { capture?: boolean } = {}): PacketBackend {
  const pool = new GuardedPool({ capacity: 512 });
  const dp = new Datapath("fuzz0", { pool, upcallQueueDepth: 64 });
  const captureLimit = options.capture ? "256" : "0";
  for (let p = 1; p <= 3; p++) {
    dp.addPort({
      name: `p${p}`,
      type: "dummy",
      port_no: p,
      options: { capture_limit: captureLimit },
    });
  }
  addTunnelPorts(dp);
  const p1 = dp.dummyPort(1);
  return {
    name: "memory",
    dp,
    maxFrame: pool.bufferSize - pool.headroom,
    receive(frames) {
      for (const frame of frames) p1.inject(frame);
      while (dp.poll() > 0) { /* drain */ }
      return 0;
    },
    settle() {},
    damage: () => pool.damagedGuard(),
    observe() {
      const sent = [0, 1, 2, 3].map((p) => {
        const port = dp.dummyPort(p);
        const frames = port.transmitted().map(hexOf);
        port.clearTransmitted();
        return frames;
      });
      const upcalls = dp.upcalls.read(100000).map((u) =>
        `${u.type}:${u.inPort}:${hexOf(u.packet)}:${Array.from(u.key).join(".")}`
      );
      const ports = dp.listPorts().map((p) => dp.portStats(p.port_no));
      return JSON.stringify({ sent, upcalls, drops: Array.from(dp.pipeline.drops), ports });
    },
    fillFree: (byte) => pool.fillFreeBuffers(byte),
    close: () => dp.close(),
  };
}

let serial = 0;

/**
 * The DPDK backend, or the reason it cannot run (DPDK absent, no shim, no
 * permission). Initialises the EAL (idempotent) with net_ring wires.
 */
export function dpdkBackend(): PacketBackend | string {
  const availability = dpdkAvailability();
  if (!availability.available) return availability.reason;
  initEal({ memoryMb: 512 });
  registerDpdkPortType();
  const id = `fz${Deno.pid}_${serial++}`;
  const dataRoom = 2176;
  const pool = MbufPool.create({ name: `${id}p`, capacity: 2047, dataRoom });
  const wire1 = RingPair.create(`${id}a`, `${id}b`);
  const wire2 = RingPair.create(`${id}c`, `${id}d`);
  const dp = new Datapath("fuzzdpdk", { pool, upcallQueueDepth: 64 });
  const peer1 = DpdkPort.open(`${id}peer1`, { devargs: wire1.b }, pool);
  const peer2 = DpdkPort.open(`${id}peer2`, { devargs: wire2.b }, pool);
  dp.addPort({ name: "r1", type: "dpdk", port_no: 1, options: { devargs: wire1.a } });
  dp.addPort({ name: "r2", type: "dpdk", port_no: 2, options: { devargs: wire2.a } });
  dp.addPort({
    name: "n3",
    type: "dpdk",
    port_no: 3,
    options: { devargs: `net_null_${id},no-rx=1` },
  });
  addTunnelPorts(dp);
  const batch = new PacketBatch(pool);
  const maxFrame = dataRoom - pool.headroom;
  return {
    name: "dpdk",
    dp,
    maxFrame,
    receive(frames) {
      let refused = 0;
      batch.count = 0;
      for (const frame of frames) {
        try {
          if (batch.pushCopy(frame) < 0) refused++;
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
          refused++;
        }
      }
      const before = peer1.stats();
      peer1.transmit(0, batch);
      const after = peer1.stats();
      refused += after.tx_errors - before.tx_errors + after.tx_dropped - before.tx_dropped;
      let idle = 0;
      while (idle < 2) idle = dp.poll() > 0 ? 0 : idle + 1;
      return refused;
    },
    settle() {
      for (const peer of [peer1, peer2]) {
        for (;;) {
          batch.count = 0;
          if (peer.receive(0, batch) === 0) break;
          batch.freeAll();
        }
      }
    },
    damage: () => null,
    observe: () => "",
    fillFree() {},
    close() {
      dp.close();
      peer1.close();
      peer2.close();
      wire1.destroy();
      wire2.destroy();
      pool.close();
    },
  };
}
