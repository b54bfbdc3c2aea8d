/**
 * UpcallQueue's packed path (takeBatch / enqueueBatch, how a PMD Worker's
 * upcalls reach the control thread) and its typed-array FIFOs growing in
 * slots and slot size without losing or reordering what is queued.
 */
import assert from "node:assert/strict";
import { KEY_WORDS, newKeys } from "../datapath/flow_key.ts";
import {
  UM_IN_PORT,
  UM_PACKET_LENGTH,
  UPCALL_META_STRIDE,
  UpcallQueue,
  type UpcallRequest,
} from "../datapath/upcall_queue.ts";

/** A request on `inPort` whose `length`-byte packet is filled with `seq` and whose key word 7 is seq. */
function request(inPort: number, seq: number, length = 60): UpcallRequest {
  const keys = newKeys(1);
  keys[7] = seq;
  return {
    type: "miss",
    inPort,
    keys,
    keyOffset: 0,
    bytes: new Uint8Array(length).fill(seq & 0xff),
    offset: 0,
    length,
    userdata: null,
  };
}

function enabled(depthPerPort = 256): UpcallQueue {
  return new UpcallQueue({ depthPerPort, enabled: true });
}

Deno.test("upcall batch: empty queue gives null; a batch empties the queue", () => {
  const queue = enabled();
  assert.equal(queue.takeBatch(), null);
  queue.enqueue(request(1, 1));
  queue.enqueue(request(2, 2));
  const batch = queue.takeBatch();
  assert.ok(batch !== null);
  assert.equal(batch.count, 2);
  assert.equal(batch.keys.length, 2 * KEY_WORDS);
  assert.equal(batch.meta.length, 2 * UPCALL_META_STRIDE);
  assert.equal(batch.bytes.length, 120);
  assert.equal(queue.size, 0);
  assert.deepEqual(queue.read(5), []);
  assert.equal(queue.takeBatch(), null);
  assert.deepEqual(queue.stats(), { enqueued: 2, lost: 0, purged: 0, queued: 0 });
});

Deno.test("upcall batch: a round trip keeps type, port, key, packet, userdata, pid, queue time", async () => {
  const pmd = enabled();
  const miss = request(3, 9, 64);
  assert.ok(pmd.enqueue(miss));
  const action = request(4, 10, 70);
  action.type = "action";
  action.userdata = Uint8Array.of(0xaa, 0xbb, 0xcc);
  action.pid = 4242;
  assert.ok(pmd.enqueue(action));
  const noPid = request(4, 11, 50);
  noPid.type = "action";
  noPid.userdata = new Uint8Array(0);
  assert.ok(pmd.enqueue(noPid));
  const queuedBy = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const batch = pmd.takeBatch()!;
  // Structured clone with transfer, as postMessage does between threads.
  const moved = structuredClone(batch, {
    transfer: [batch.meta.buffer, batch.keys.buffer, batch.bytes.buffer],
  });
  assert.equal(batch.bytes.byteLength, 0, "the buffers were transferred");
  const control = enabled();
  assert.equal(control.enqueueBatch(moved), 3);
  const got = control.read(10);
  const byPort = got.map((u) => [u.type, u.inPort, u.key[7], u.packet.length, u.packet[0], u.pid]);
  assert.deepEqual(byPort, [
    ["miss", 3, 9, 64, 9, undefined],
    ["action", 4, 10, 70, 10, 4242],
    ["action", 4, 11, 50, 11, undefined],
  ]);
  assert.equal(got[0].userdata, null);
  assert.deepEqual(got[1].userdata, Uint8Array.of(0xaa, 0xbb, 0xcc));
  assert.deepEqual(got[2].userdata, new Uint8Array(0));
  assert.equal(got[1].key.length, KEY_WORDS);
  // Queue times travel with the batch: still those of the first enqueue, 5 ms ago.
  for (const upcall of got) assert.ok(upcall.queuedAt <= queuedBy, `${upcall.queuedAt}`);
});

Deno.test("upcall batch: enqueueBatch counts what does not fit as lost, and refuses bad batches", () => {
  const pmd = enabled();
  for (let i = 0; i < 5; i++) pmd.enqueue(request(1, i));
  const control = enabled(3);
  assert.equal(control.enqueueBatch(pmd.takeBatch()!), 3);
  assert.deepEqual(control.stats(), { enqueued: 3, lost: 2, purged: 0, queued: 3 });
  assert.deepEqual(control.read(5).map((u) => u.key[7]), [0, 1, 2], "the oldest are kept");

  pmd.enqueue(request(1, 1));
  const batch = pmd.takeBatch()!;
  const longer = { ...batch, count: 2 };
  assert.throws(() => control.enqueueBatch(longer), RangeError);
  const outside = { ...batch, meta: batch.meta.slice() };
  outside.meta[UM_PACKET_LENGTH] = 1000;
  assert.throws(() => control.enqueueBatch(outside), RangeError);
  const disabled = new UpcallQueue();
  assert.equal(disabled.enqueueBatch(batch), 0);
  assert.equal(disabled.stats().lost, 1);
  assert.equal(batch.meta[UM_IN_PORT], 1);
});

Deno.test("upcall batch: FIFOs grow in slots and slot size across a wrapped ring, in order", () => {
  const queue = enabled(64);
  // Wrap the 16-slot ring first: 10 in, 6 out, then 40 more (grows to 32, then 64 slots).
  for (let i = 0; i < 10; i++) queue.enqueue(request(1, i));
  assert.deepEqual(queue.read(6).map((u) => u.key[7]), [0, 1, 2, 3, 4, 5]);
  for (let i = 10; i < 50; i++) queue.enqueue(request(1, i, i === 30 ? 9000 : 60));
  assert.equal(queue.size, 44);
  const got = queue.read(100);
  assert.deepEqual(got.map((u) => u.key[7]), Array.from({ length: 44 }, (_, i) => i + 6));
  for (const u of got) {
    const seq = u.key[7];
    assert.equal(u.packet.length, seq === 30 ? 9000 : 60);
    assert.ok(u.packet.every((b) => b === seq), `packet ${seq} intact after the resizes`);
  }
  // Full at the depth; lost counted; room again after a read.
  for (let i = 0; i < 64; i++) queue.enqueue(request(2, i));
  assert.equal(queue.enqueue(request(2, 99)), false);
  assert.equal(queue.read(1)[0].key[7], 0);
  assert.ok(queue.enqueue(request(2, 100)));
  const batch = queue.takeBatch()!;
  assert.equal(batch.count, 64);
  assert.equal(batch.keys[63 * KEY_WORDS + 7], 100, "the last one queued comes last");
});
