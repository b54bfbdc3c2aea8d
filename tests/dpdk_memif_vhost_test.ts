/**
 * DPDK ports on shared-memory virtual devices whose peer lives in the same
 * process: `net_memif` (a server port, a client peer on the same socket
 * file) and `net_vhost` (a vhost-user port, a `net_virtio_user` peer on the
 * same socket). Each passes the port conformance suite, and frames cross in
 * both directions byte for byte. Every mbuf is back in the pool after each
 * case (virtio_user holds rx descriptors' mbufs until it closes).
 *
 * Both need no hugepages and no root: memif's regions are memfd-backed, and
 * vhost-user maps the EAL's memory through the fd it shares. The control
 * channel (socket connect, link up) runs on the EAL's interrupt thread, so
 * every harness waits for both links to come up. Skipped (with the reason)
 * only when DPDK is absent.
 */
import assert from "node:assert/strict";
import { BATCH_SIZE, PacketBatch } from "../datapath/packet_batch.ts";
import type { PacketPool } from "../datapath/packet_pool.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { runPortConformance, testFrame } from "./port_conformance.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`memif / vhost tests skipped: ${availability.reason}`);

let sharedPool: MbufPool | undefined;
let serial = 0;

function pool(): MbufPool {
  initEal({ memoryMb: 512 });
  const suffix = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  sharedPool ??= MbufPool.create({ name: `mv${Deno.pid}_${suffix}`, capacity: 4095 });
  return sharedPool;
}

/** A device pair: the port under test and its peer, joined by one socket file. */
interface Pair {
  port: DpdkPort;
  peer: DpdkPort;
  close(): void;
}

/** The two kinds of pair, by devargs. */
const KINDS: Record<string, (id: string, socket: string) => [string, string]> = {
  memif: (id, socket) => [
    `net_memif_s${id},role=server,socket=${socket},id=0`,
    `net_memif_c${id},role=client,socket=${socket},id=0`,
  ],
  vhost: (id, socket) => [
    `net_vhost_${id},iface=${socket},queues=1`,
    `net_virtio_user_${id},path=${socket},queues=1`,
  ],
};

/** Opens a pair and waits (up to 2 s) until both links are up. */
async function openPair(kind: string, p: MbufPool): Promise<Pair> {
  const id = `${Deno.pid}_${serial++}`;
  const dir = Deno.makeTempDirSync({ prefix: "dpif_sock_" });
  const [portArgs, peerArgs] = KINDS[kind](id, `${dir}/${kind}.sock`);
  const port = DpdkPort.open(`${kind}_port`, { devargs: portArgs }, p);
  let peer: DpdkPort;
  try {
    peer = DpdkPort.open(`${kind}_peer`, { devargs: peerArgs }, p);
  } catch (error) {
    port.close();
    Deno.removeSync(dir, { recursive: true });
    throw error;
  }
  const close = () => {
    try {
      peer.close();
      port.close();
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
  for (let i = 0; i < 200 && !(port.link().up && peer.link().up); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!(port.link().up && peer.link().up)) {
    close();
    throw new Error(`${kind}: links did not come up within 2 s`);
  }
  // A memif client hands the server rx buffers on its first receive: until both
  // sides polled once, what the other sends is dropped (counted in tx_dropped).
  await drain(port, 0);
  await drain(peer, 0);
  return { port, peer, close };
}

function batchOf(p: PacketPool, frames: Uint8Array[]): PacketBatch {
  const batch = new PacketBatch(p);
  for (const frame of frames) assert.ok(batch.pushCopy(frame) >= 0, "a free buffer for each frame");
  return batch;
}

/**
 * Receives from queue 0 until `want` packets came or `idleLimit` empty
 * polls (1 ms apart); returns copies, frees. At least one poll.
 */
async function drain(port: DpdkPort, want: number, idleLimit = 100): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const batch = new PacketBatch(port.pool);
  for (let idle = 0, first = true; first || (out.length < want && idle < idleLimit);) {
    first = false;
    const n = port.receive(0, batch);
    if (n === 0) {
      idle++;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    for (let i = 0; i < batch.count; i++) {
      out.push(batch.pool.bytes.slice(batch.offset[i], batch.offset[i] + batch.length[i]));
    }
    batch.freeAll();
  }
  return out;
}

function send(from: DpdkPort, frames: Uint8Array[]): void {
  for (let k = 0; k < frames.length; k += BATCH_SIZE) {
    from.transmit(0, batchOf(from.pool, frames.slice(k, k + BATCH_SIZE)));
  }
}

for (const kind of Object.keys(KINDS)) {
  if (ignore) {
    Deno.test({ name: `${kind} port conformance (DPDK absent)`, ignore: true, fn() {} });
    continue;
  }
  runPortConformance(`dpdk port on ${kind}`, async () => {
    const p = pool();
    const before = p.available();
    const pair = await openPair(kind, p);
    return {
      port: pair.port,
      pool: p,
      availableAfterClose: before,
      sendToPort(list: Uint8Array[]): Promise<void> {
        send(pair.peer, list);
        return Promise.resolve();
      },
      collectTransmitted(): Promise<Uint8Array[]> {
        return drain(pair.peer, Infinity, 1); // the suite polls again while it waits
      },
      close(): Promise<void> {
        pair.close();
        return Promise.resolve();
      },
    };
  });

  Deno.test({
    name: `${kind}: 100 frames each way, byte for byte, counted by the devices`,
    ignore,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const p = pool();
      const start = p.available();
      const pair = await openPair(kind, p);
      try {
        const sizes = [60, 64, 128, 512, 1514];
        const there = Array.from({ length: 100 }, (_, k) => testFrame(k, sizes[k % 5]));
        const back = Array.from({ length: 100 }, (_, k) => testFrame(500 + k, sizes[(k + 2) % 5]));
        send(pair.peer, there);
        assert.deepEqual(await drain(pair.port, there.length), there, "peer -> port");
        send(pair.port, back);
        assert.deepEqual(await drain(pair.peer, back.length), back, "port -> peer");
        const bytes = (list: Uint8Array[]) => list.reduce((s, f) => s + f.length, 0);
        const stats = pair.port.stats();
        assert.deepEqual(
          [stats.rx_packets, stats.rx_bytes, stats.tx_packets, stats.tx_bytes, stats.tx_dropped],
          [100, bytes(there), 100, bytes(back), 0],
        );
        assert.equal(stats.device!.ipackets, 100);
        assert.equal(stats.device!.opackets, 100);
      } finally {
        pair.close();
      }
      assert.equal(p.available(), start, "every mbuf back in the pool");
    },
  });
}
