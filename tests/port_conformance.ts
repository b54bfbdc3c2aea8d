/**
 * The port conformance suite: behaviour every receiving and transmitting
 * port backend must show (the dummy port, the DPDK port on virtual devices).
 * A backend's test file only builds a {@linkcode PortHarness} and calls
 * {@linkcode runPortConformance}.
 *
 * The suite is backend-neutral: it awaits every harness call and polls
 * `receive` (and the harness's capture) a bounded number of times, so a
 * backend whose frames arrive asynchronously passes too. It polls every rx
 * queue of the port; frame order is only checked as the port delivers it, so
 * the harness should give the port a single rx queue (or steer all frames to
 * one queue).
 *
 * @module
 */

import assert from "node:assert/strict";
import { LIVE_META_WORDS, W_IN_PORT } from "../datapath/flow_key.ts";
import { BATCH_SIZE, META_SHIFT, PacketBatch } from "../datapath/packet_batch.ts";
import type { PacketPool } from "../datapath/packet_pool.ts";
import type { Port } from "../datapath/port.ts";

/** What a backend provides to run the suite on one fresh port. */
export interface PortHarness {
  /** The port under test, ready to receive and transmit. */
  port: Port;
  /** The pool the port receives into and the suite allocates from. */
  pool: PacketPool;
  /** Makes `frames` arrive, in order, on the port's receive side. */
  sendToPort(frames: Uint8Array[]): Promise<void>;
  /** The frames the port transmitted since the last call, oldest first. */
  collectTransmitted(): Promise<Uint8Array[]>;
  /**
   * Closes the port and whatever the harness set up around it. The pool
   * must stay readable: the suite checks `pool.available()` afterwards.
   */
  close(): Promise<void>;
  /**
   * `pool.available()` expected after {@linkcode close}. Default: the value
   * measured right after the harness was made (set this when the backend
   * holds buffers for its own use, like rx descriptors, from creation until
   * close).
   */
  availableAfterClose?: number;
}

/** Attempts at an operation that may complete asynchronously, 1 ms apart. */
const MAX_TRIES = 2000;
/** in_port the suite gives the port. */
const TEST_PORT_NO = 42;

/** Ethernet + IPv4 + UDP headers (42 bytes) of every test frame. */
const FRAME_HEADER_HEX = "020000000002" + "020000000001" + "0800" +
  "4500002e00010000401100000a0000010a000002" + "04d2162e001a0000";

/** A test frame of `size` bytes (>= 60) whose payload encodes `seq`. */
export function testFrame(seq: number, size: number): Uint8Array {
  const frame = new Uint8Array(size);
  for (let i = 0; i < 42; i++) frame[i] = parseInt(FRAME_HEADER_HEX.slice(2 * i, 2 * i + 2), 16);
  for (let i = 42; i < size; i++) frame[i] = (seq * 31 + i) & 0xff;
  frame[42] = seq >> 8;
  frame[43] = seq & 0xff;
  return frame;
}

/** Frames `first .. first+count-1` with sizes cycling through 60, 64, 128, 1514, 333. */
function testFrames(first: number, count: number): Uint8Array[] {
  const sizes = [60, 64, 128, 1514, 333];
  const frames: Uint8Array[] = [];
  for (let k = 0; k < count; k++) frames.push(testFrame(first + k, sizes[(first + k) % 5]));
  return frames;
}

function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * Receives from every rx queue until `batch` holds `want` packets or the
 * tries run out; returns the count. Checks each call respects the room left.
 */
async function receiveUntil(port: Port, batch: PacketBatch, want: number): Promise<number> {
  for (let tries = 0; batch.count < want && tries < MAX_TRIES; tries++) {
    let got = 0;
    for (let q = 0; q < port.rxQueues && batch.count < want; q++) {
      const before = batch.count;
      const n = port.receive(q, batch);
      assert.ok(
        n >= 0 && n <= BATCH_SIZE - before,
        `receive returned ${n} with room ${BATCH_SIZE - before}`,
      );
      assert.equal(batch.count, before + n, "receive must add exactly what it returns");
      got += n;
    }
    if (got === 0) await pause();
  }
  return batch.count;
}

/** Collects transmitted frames until `want` arrived or the tries run out. */
async function collectUntil(harness: PortHarness, want: number): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for (let tries = 0; frames.length < want && tries < MAX_TRIES; tries++) {
    const got = await harness.collectTransmitted();
    frames.push(...got);
    if (got.length === 0) await pause();
  }
  return frames;
}

function packetBytes(batch: PacketBatch, i: number): Uint8Array {
  return batch.pool.bytes.slice(batch.offset[i], batch.offset[i] + batch.length[i]);
}

/** Fills a batch with copies of `frames` in fresh pool buffers. */
function batchOf(pool: PacketPool, frames: Uint8Array[]): PacketBatch {
  const batch = new PacketBatch(pool);
  for (const frame of frames) assert.ok(batch.pushCopy(frame) >= 0, "pool exhausted");
  return batch;
}

/** Asserts packets `from..` of `batch` are `frames`, in order, received on the test port. */
function assertReceived(batch: PacketBatch, from: number, frames: Uint8Array[]): void {
  for (let k = 0; k < frames.length; k++) {
    const i = from + k;
    assert.deepEqual(packetBytes(batch, i), frames[k], `packet ${i} differs`);
    const base = i << META_SHIFT;
    assert.equal(batch.meta[base + W_IN_PORT], TEST_PORT_NO, `packet ${i} in_port`);
    // Port.receive zeroes the live words; the tunnel words may be left as they were.
    for (const w of LIVE_META_WORDS) {
      if (w === W_IN_PORT) continue;
      assert.equal(batch.meta[base + w], 0, `packet ${i} metadata word ${w} not zeroed`);
    }
  }
}

/**
 * Registers the conformance cases for one backend. Each case makes a fresh
 * harness, gives the port number 42, and closes the harness at the end,
 * checking that every buffer went back to the pool.
 */
export function runPortConformance(
  name: string,
  makeHarness: () => Promise<PortHarness> | PortHarness,
): void {
  async function withHarness(body: (h: PortHarness) => Promise<void>): Promise<void> {
    const harness = await makeHarness();
    const baseline = harness.availableAfterClose ?? harness.pool.available();
    harness.port.portNo = TEST_PORT_NO;
    let closed = false;
    try {
      await body(harness);
      closed = true;
      await harness.close();
    } finally {
      if (!closed) await harness.close();
    }
    assert.equal(harness.pool.available(), baseline, "buffers leaked or freed twice");
  }

  Deno.test(`${name}: frames are received in order with in_port set and bytes intact`, () =>
    withHarness(async (h) => {
      const frames = testFrames(0, 5);
      await h.sendToPort(frames);
      const batch = new PacketBatch(h.pool);
      batch.meta.fill(0xdeadbeef); // receive must zero the metadata it does not set
      assert.equal(await receiveUntil(h.port, batch, 5), 5);
      assertReceived(batch, 0, frames);
      batch.freeAll();
    }));

  Deno.test(`${name}: receive adds no more than the room left in the batch`, () =>
    withHarness(async (h) => {
      const batch = batchOf(h.pool, testFrames(100, BATCH_SIZE - 2));
      const frames = testFrames(0, 5);
      await h.sendToPort(frames);
      assert.equal(await receiveUntil(h.port, batch, BATCH_SIZE), BATCH_SIZE);
      assertReceived(batch, BATCH_SIZE - 2, frames.slice(0, 2));
      batch.freeAll();
      assert.equal(await receiveUntil(h.port, batch, 3), 3);
      assertReceived(batch, 0, frames.slice(2));
      batch.freeAll();
    }));

  Deno.test(`${name}: a full batch leaves the remaining frames queued, in order`, () =>
    withHarness(async (h) => {
      const frames = testFrames(0, BATCH_SIZE + 8);
      await h.sendToPort(frames);
      const batch = new PacketBatch(h.pool);
      assert.equal(await receiveUntil(h.port, batch, BATCH_SIZE), BATCH_SIZE);
      for (let q = 0; q < h.port.rxQueues; q++) {
        assert.equal(h.port.receive(q, batch), 0, "receive into a full batch must add nothing");
      }
      assertReceived(batch, 0, frames.slice(0, BATCH_SIZE));
      batch.freeAll();
      assert.equal(await receiveUntil(h.port, batch, 8), 8);
      assertReceived(batch, 0, frames.slice(BATCH_SIZE));
      batch.freeAll();
    }));

  Deno.test(`${name}: transmit sends frames byte for byte in order and empties the batch`, () =>
    withHarness(async (h) => {
      const frames = testFrames(0, BATCH_SIZE + 5);
      const first = batchOf(h.pool, frames.slice(0, BATCH_SIZE));
      h.port.transmit(0, first);
      assert.equal(first.count, 0);
      const second = batchOf(h.pool, frames.slice(BATCH_SIZE));
      h.port.transmit(0, second);
      assert.equal(second.count, 0);
      const sent = await collectUntil(h, frames.length);
      assert.equal(sent.length, frames.length);
      for (let k = 0; k < frames.length; k++) assert.deepEqual(sent[k], frames[k], `frame ${k}`);
    }));

  Deno.test(`${name}: stats count received and transmitted packets and bytes`, () =>
    withHarness(async (h) => {
      const before = h.port.stats();
      const frames = testFrames(0, 3);
      const bytes = frames.reduce((sum, f) => sum + f.length, 0);
      await h.sendToPort(frames);
      const batch = new PacketBatch(h.pool);
      assert.equal(await receiveUntil(h.port, batch, 3), 3);
      h.port.transmit(0, batch);
      assert.equal((await collectUntil(h, 3)).length, 3);
      let after = h.port.stats();
      for (let tries = 0; after.tx_packets - before.tx_packets < 3 && tries < MAX_TRIES; tries++) {
        await pause();
        after = h.port.stats();
      }
      assert.equal(after.rx_packets - before.rx_packets, 3);
      assert.equal(after.rx_bytes - before.rx_bytes, bytes);
      assert.equal(after.tx_packets - before.tx_packets, 3);
      assert.equal(after.tx_bytes - before.tx_bytes, bytes);
      assert.equal(after.rx_dropped - before.rx_dropped, 0);
      assert.equal(after.tx_dropped - before.tx_dropped, 0);
    }));

  Deno.test(`${name}: close frees every buffer the port still holds`, () =>
    withHarness(async (h) => {
      await h.sendToPort(testFrames(0, 10));
      const batch = batchOf(h.pool, testFrames(100, BATCH_SIZE - 3));
      assert.equal(await receiveUntil(h.port, batch, BATCH_SIZE), BATCH_SIZE);
      h.port.transmit(0, batch);
      assert.equal((await collectUntil(h, BATCH_SIZE)).length, BATCH_SIZE);
      // Seven frames stay queued on the port; withHarness checks close frees them.
    }));
}
