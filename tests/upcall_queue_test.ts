import assert from "node:assert/strict";
import { KEY_WORDS, newKeys, W_IN_PORT } from "../datapath/flow_key.ts";
import { UpcallQueue, type UpcallRequest } from "../datapath/upcall_queue.ts";

/** A 60-byte frame (Ethernet + IPv4 + UDP), the packet every upcall here carries. */
const FRAME = Uint8Array.from(
  ("0200000000020200000000010800" + "4500002e00010000401100000a0000010a000002" +
    "04d2162e001a0000" + "00".repeat(18)).match(/../g)!.map((h) => parseInt(h, 16)),
);

/** A request for a miss on `inPort`, whose packet is FRAME with `seq` at byte 42. */
function miss(inPort: number, seq = 0): UpcallRequest {
  const bytes = new Uint8Array(256);
  bytes.set(FRAME, 100);
  bytes[100 + 42] = seq;
  const keys = newKeys(2);
  keys[KEY_WORDS + W_IN_PORT] = inPort;
  keys[KEY_WORDS + 40] = seq;
  return {
    type: "miss",
    inPort,
    keys,
    keyOffset: KEY_WORDS,
    bytes,
    offset: 100,
    length: FRAME.length,
    userdata: null,
  };
}

function enabledQueue(depthPerPort = 256): UpcallQueue {
  const queue = new UpcallQueue({ depthPerPort });
  queue.setEnabled(true);
  return queue;
}

Deno.test("upcall queue: disabled by default, refusing and counting lost", () => {
  const queue = new UpcallQueue();
  assert.equal(queue.enabled, false);
  assert.equal(queue.enqueue(miss(1)), false);
  assert.deepEqual(queue.stats(), { enqueued: 0, lost: 1, purged: 0, queued: 0 });
  assert.deepEqual(queue.read(10), []);
});

Deno.test("upcall queue: enqueue copies the key, packet and userdata", () => {
  const queue = enabledQueue();
  const request = miss(3, 9);
  request.type = "action";
  request.userdata = Uint8Array.of(1, 2, 3);
  request.pid = 77;
  const before = performance.now();
  assert.ok(queue.enqueue(request));
  request.bytes.fill(0xff);
  request.keys.fill(0xff);
  request.userdata[0] = 0xff;
  const [upcall] = queue.read(1);
  assert.equal(upcall.type, "action");
  assert.equal(upcall.inPort, 3);
  assert.equal(upcall.pid, 77);
  assert.equal(upcall.key.length, KEY_WORDS);
  assert.equal(upcall.key[W_IN_PORT], 3);
  assert.equal(upcall.key[40], 9);
  assert.equal(upcall.packet.length, FRAME.length);
  assert.deepEqual(upcall.packet.slice(0, 42), FRAME.slice(0, 42));
  assert.equal(upcall.packet[42], 9);
  assert.deepEqual(upcall.userdata, Uint8Array.of(1, 2, 3));
  assert.ok(upcall.queuedAt >= before);
  assert.equal(queue.size, 0);
  const plain = miss(3);
  assert.ok(queue.enqueue(plain));
  const [noPid] = queue.read(1);
  assert.equal("pid" in noPid, false);
  assert.equal(noPid.userdata, null);
});

Deno.test("upcall queue: each port's queue is bounded on its own", () => {
  const queue = enabledQueue(2);
  assert.ok(queue.enqueue(miss(1, 0)));
  assert.ok(queue.enqueue(miss(1, 1)));
  assert.equal(queue.enqueue(miss(1, 2)), false);
  assert.ok(queue.enqueue(miss(2, 0)), "another port still has room");
  assert.deepEqual(queue.stats(), { enqueued: 3, lost: 1, purged: 0, queued: 3 });
  queue.read(1);
  assert.ok(queue.enqueue(miss(1, 3)), "room again once read");
});

Deno.test("upcall queue: read round-robins across ports, FIFO within a port", () => {
  const queue = enabledQueue();
  for (let seq = 0; seq < 10; seq++) queue.enqueue(miss(1, seq));
  queue.enqueue(miss(2, 0));
  queue.enqueue(miss(2, 1));
  queue.enqueue(miss(3, 0));
  const got = queue.read(6).map((u) => `${u.inPort}/${u.packet[42]}`);
  assert.deepEqual(got, ["1/0", "2/0", "3/0", "1/1", "2/1", "1/2"]);
  assert.deepEqual(queue.read(100).map((u) => u.packet[42]), [3, 4, 5, 6, 7, 8, 9]);
  assert.equal(queue.size, 0);
});

Deno.test("upcall queue: the next read starts with the port after the last served", () => {
  const queue = enabledQueue();
  for (let seq = 0; seq < 3; seq++) {
    queue.enqueue(miss(1, seq));
    queue.enqueue(miss(2, seq));
    queue.enqueue(miss(3, seq));
  }
  const order: number[] = [];
  for (let i = 0; i < 9; i++) order.push(queue.read(1)[0].inPort);
  assert.deepEqual(order, [1, 2, 3, 1, 2, 3, 1, 2, 3]);
  queue.enqueue(miss(1, 0));
  queue.enqueue(miss(2, 0));
  assert.deepEqual(queue.read(1).map((u) => u.inPort), [1]);
  queue.enqueue(miss(1, 1));
  assert.deepEqual(queue.read(2).map((u) => u.inPort), [2, 1]);
});

Deno.test("upcall queue: purge and disabling discard what is queued", () => {
  const queue = enabledQueue();
  queue.enqueue(miss(1));
  queue.enqueue(miss(2));
  assert.equal(queue.purge(), 2);
  assert.deepEqual(queue.read(5), []);
  queue.enqueue(miss(1));
  queue.setEnabled(false);
  assert.equal(queue.size, 0);
  assert.deepEqual(queue.stats(), { enqueued: 3, lost: 0, purged: 3, queued: 0 });
  queue.setEnabled(true);
  assert.ok(queue.enqueue(miss(1)));
  assert.equal(queue.read(5).length, 1);
});

Deno.test("upcall queue: bad arguments throw", () => {
  const queue = enabledQueue();
  assert.throws(() => queue.read(0), RangeError);
  assert.throws(() => queue.read(1.5), RangeError);
  assert.throws(() => new UpcallQueue({ depthPerPort: 0 }), RangeError);
  const shortKey = miss(1);
  shortKey.keyOffset = KEY_WORDS + 1;
  assert.throws(() => queue.enqueue(shortKey), RangeError);
  const longPacket = miss(1);
  longPacket.length = 200;
  assert.throws(() => queue.enqueue(longPacket), RangeError);
  assert.throws(() => queue.waitReadable(-1), RangeError);
  assert.equal(queue.size, 0);
});

Deno.test("upcall queue: waitReadable resolves at once when something is queued", async () => {
  const queue = enabledQueue();
  queue.enqueue(miss(1));
  assert.equal(await queue.waitReadable(60_000), true);
});

Deno.test("upcall queue: waitReadable wakes on enqueue", async () => {
  const queue = enabledQueue();
  const first = queue.waitReadable(60_000);
  const second = queue.waitReadable(60_000);
  queueMicrotask(() => queue.enqueue(miss(4)));
  assert.deepEqual(await Promise.all([first, second]), [true, true]);
});

Deno.test("upcall queue: a woken reader runs first; aborting then is harmless; its timer is released", async () => {
  const queue = enabledQueue();
  const controller = new AbortController();
  const order: string[] = [];
  const reader = (async () => {
    const readable = await queue.waitReadable(60_000, controller.signal);
    order.push(`reader ${readable}`);
    controller.abort(); // its listener is still attached: settling again must do nothing
    return readable;
  })();
  queue.enqueue(miss(2));
  queueMicrotask(() => order.push("after enqueue"));
  assert.equal(await reader, true);
  assert.deepEqual(order, ["reader true", "after enqueue"]);
  assert.equal(queue.read(4).length, 1);
  // The test's sanitizer fails it if the 60 s timer was left behind.
});

Deno.test("upcall queue: waitReadable gives false on timeout or abort", async () => {
  const queue = enabledQueue();
  assert.equal(await queue.waitReadable(0), false);
  const controller = new AbortController();
  const waiting = queue.waitReadable(60_000, controller.signal);
  controller.abort();
  assert.equal(await waiting, false);
  assert.equal(await queue.waitReadable(60_000, controller.signal), false, "already aborted");
  queue.setEnabled(false);
  const disabled = queue.waitReadable(1);
  assert.equal(queue.enqueue(miss(1)), false);
  assert.equal(await disabled, false, "a lost upcall does not wake waiters");
});

Deno.test("upcall queue: enqueueMiss and enqueueAction copy from caller memory", () => {
  const queue = enabledQueue(1);
  const request = miss(5, 3);
  assert.ok(
    queue.enqueueMiss(5, request.keys, request.keyOffset, request.bytes, 100, FRAME.length),
  );
  const action = {
    type: "userspace" as const,
    pid: 12,
    userdata: Uint8Array.of(0xaa, 0xbb),
    tunnelOutPort: null,
    actions: false,
  };
  assert.ok(
    queue.enqueueAction(6, request.keys, request.keyOffset, request.bytes, 100, 60, action),
  );
  assert.equal(
    queue.enqueueMiss(5, request.keys, request.keyOffset, request.bytes, 100, 60),
    false,
    "port 5 is full",
  );
  action.userdata[0] = 0;
  request.bytes.fill(0);
  const [first, second] = queue.read(2);
  assert.deepEqual([first.type, first.inPort, first.userdata, first.pid], [
    "miss",
    5,
    null,
    undefined,
  ]);
  assert.equal(first.packet[42], 3);
  assert.equal(first.key[40], 3);
  assert.deepEqual([second.type, second.inPort, second.pid], ["action", 6, 12]);
  assert.deepEqual(second.userdata, Uint8Array.of(0xaa, 0xbb));
  assert.equal(second.packet[42], 3);
  assert.equal(queue.stats().lost, 1);
});
