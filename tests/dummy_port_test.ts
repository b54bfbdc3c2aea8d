import assert from "node:assert/strict";
import { DummyPort } from "../datapath/dummy_port.ts";
import { DpifError } from "../datapath/errors.ts";
import { W_IN_PORT } from "../datapath/flow_key.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { runPortConformance, testFrame } from "./port_conformance.ts";

runPortConformance("dummy port", () => {
  const pool = new MemoryPool({ capacity: 256 });
  const port = new DummyPort("p1", pool);
  return {
    port,
    pool,
    sendToPort(frames: Uint8Array[]): Promise<void> {
      for (const frame of frames) assert.ok(port.inject(frame), "inject refused a frame");
      return Promise.resolve();
    },
    collectTransmitted(): Promise<Uint8Array[]> {
      const frames = port.transmitted();
      port.clearTransmitted();
      return Promise.resolve(frames);
    },
    close(): Promise<void> {
      port.close();
      return Promise.resolve();
    },
  };
});

/** Transmits copies of `frames` through `port`. */
function transmitFrames(port: DummyPort, pool: MemoryPool, frames: Uint8Array[]): void {
  const batch = new PacketBatch(pool);
  for (const frame of frames) assert.ok(batch.pushCopy(frame) >= 0, "a free buffer for each frame");
  port.transmit(0, batch);
  assert.equal(batch.count, 0);
}

function assertDpifError(fn: () => unknown, code: string, mention: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DpifError, `expected a DpifError, got ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, new RegExp(mention));
    return true;
  });
}

Deno.test("dummy port: frames under 14 bytes are accepted and delivered", () => {
  const pool = new MemoryPool({ capacity: 8 });
  const port = new DummyPort("p1", pool);
  assert.ok(port.inject(Uint8Array.from([0xde, 0xad, 0xbe])));
  const batch = new PacketBatch(pool);
  assert.equal(port.receive(0, batch), 1);
  assert.equal(batch.length[0], 3);
  assert.deepEqual(
    pool.bytes.slice(batch.offset[0], batch.offset[0] + 3),
    Uint8Array.of(0xde, 0xad, 0xbe),
  );
  batch.freeAll();
  port.close();
  assert.equal(pool.available(), 8);
});

Deno.test("dummy port: a frame longer than a buffer after headroom is an rx error", () => {
  const pool = new MemoryPool({ capacity: 4, bufferSize: 256, headroom: 64 });
  const port = new DummyPort("p1", pool);
  assert.ok(port.inject(new Uint8Array(192)), "a frame filling the buffer exactly fits");
  assert.equal(port.inject(new Uint8Array(193)), false);
  const stats = port.stats();
  assert.equal(stats.rx_errors, 1);
  assert.equal(stats.rx_dropped, 0);
  assert.equal(port.pending(), 1);
  assert.equal(pool.available(), 3, "the refused frame's buffer went back");
  port.close();
  assert.equal(pool.available(), 4);
});

Deno.test("dummy port: a full rx queue or an empty pool drops and counts", () => {
  const pool = new MemoryPool({ capacity: 3 });
  const limited = new DummyPort("p1", pool, { options: { rx_limit: "2" } });
  assert.ok(limited.inject(testFrame(0, 60)));
  assert.ok(limited.inject(testFrame(1, 60)));
  assert.equal(limited.inject(testFrame(2, 60)), false);
  assert.equal(limited.stats().rx_dropped, 1);
  const other = new DummyPort("p2", pool);
  assert.ok(other.inject(testFrame(3, 60)));
  assert.equal(pool.available(), 0);
  assert.equal(other.inject(testFrame(4, 60)), false, "no buffer left");
  assert.equal(other.stats().rx_dropped, 1);
  limited.close();
  other.close();
  assert.equal(pool.available(), 3);
});

Deno.test("dummy port: the capture keeps the newest frames and counts the discarded", () => {
  const pool = new MemoryPool({ capacity: 16 });
  const port = new DummyPort("p1", pool, { options: { capture_limit: "3" } });
  const frames = [0, 1, 2, 3, 4].map((seq) => testFrame(seq, 60 + seq));
  transmitFrames(port, pool, frames);
  assert.deepEqual(port.transmitted(), frames.slice(2));
  assert.equal(port.captureDropped, 2);
  assert.equal(port.stats().tx_packets, 5, "discarded captures still count as sent");
  assert.equal(pool.available(), 16);
  port.clearTransmitted();
  assert.deepEqual(port.transmitted(), []);
  transmitFrames(port, pool, [frames[0]]);
  assert.deepEqual(port.transmitted(), [frames[0]]);
  port.close();
});

Deno.test("dummy port: capture_limit 0 is a pure sink", () => {
  const pool = new MemoryPool({ capacity: 8 });
  const port = new DummyPort("p1", pool, { options: { capture_limit: "0" } });
  transmitFrames(port, pool, [testFrame(0, 60), testFrame(1, 70)]);
  assert.deepEqual(port.transmitted(), []);
  assert.equal(port.captureDropped, 0);
  assert.equal(port.stats().tx_bytes, 130);
  assert.equal(pool.available(), 8);
  port.close();
});

Deno.test("dummy port: several rx queues are independent", () => {
  const pool = new MemoryPool({ capacity: 8 });
  const port = new DummyPort("p1", pool, { options: { n_rxq: "2" } });
  port.portNo = 3;
  assert.equal(port.rxQueues, 2);
  assert.ok(port.inject(testFrame(7, 60), 1));
  const batch = new PacketBatch(pool);
  assert.equal(port.receive(0, batch), 0);
  assert.equal(port.receive(1, batch), 1);
  assert.equal(batch.meta[W_IN_PORT], 3);
  assert.equal(port.receive(5, batch), 0, "an unknown queue delivers nothing");
  assert.throws(() => port.inject(testFrame(8, 60), 2), RangeError);
  batch.freeAll();
  port.close();
  assert.equal(pool.available(), 8);
});

Deno.test("dummy port: after close, inject refuses and transmit drops", () => {
  const pool = new MemoryPool({ capacity: 8 });
  const port = new DummyPort("p1", pool);
  assert.ok(port.inject(testFrame(0, 60)));
  port.close();
  port.close();
  assert.equal(pool.available(), 8);
  assert.equal(port.inject(testFrame(1, 60)), false);
  transmitFrames(port, pool, [testFrame(2, 60)]);
  assert.equal(port.stats().tx_dropped, 1);
  assert.deepEqual(port.transmitted(), []);
  assert.equal(pool.available(), 8);
});

Deno.test("dummy port: receiving into a batch of another pool throws", () => {
  const pool = new MemoryPool({ capacity: 4 });
  const port = new DummyPort("p1", pool);
  port.inject(testFrame(0, 60));
  assert.throws(() => port.receive(0, new PacketBatch(new MemoryPool({ capacity: 4 }))), TypeError);
  port.close();
  assert.equal(pool.available(), 4);
});

Deno.test("dummy port: type internal and bad options", () => {
  const pool = new MemoryPool({ capacity: 4 });
  const local = new DummyPort("dp0", pool, { type: "internal" });
  assert.equal(local.type, "internal");
  assert.equal(local.rxQueues, 1);
  local.close();
  assertDpifError(() => new DummyPort("p1", pool, { options: { pcap: "x" } }), "EINVAL", "'pcap'");
  assertDpifError(
    () => new DummyPort("p1", pool, { options: { capture_limit: "ten" } }),
    "EINVAL",
    "'capture_limit'",
  );
  assertDpifError(
    () => new DummyPort("p1", pool, { options: { n_rxq: "0" } }),
    "EINVAL",
    "'n_rxq'",
  );
  assertDpifError(
    () => new DummyPort("p1", pool, { options: { rx_limit: "-1" } }),
    "EINVAL",
    "'rx_limit'",
  );
});
