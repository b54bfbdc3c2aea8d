/**
 * The PMD flow ring (datapath/pmd_flow_ring.ts) and its producer
 * (datapath/pmd_flow_feed.ts), consumed on this thread into a FlowReplica
 * exactly as the PMD loop does: records survive wrap-around, a full ring
 * queues changes in order and loses none, flush and action records keep the
 * replica's programs in step, the initial load interleaves correctly with
 * changes made during it, and a random sequence of puts, modifies, deletes
 * and flushes leaves the replica equal to the control table.
 */
import assert from "node:assert/strict";
import { Datapath } from "../datapath/datapath.ts";
import { compileActions } from "../datapath/execute/executor.ts";
import { KEY_WORDS } from "../datapath/flow_key.ts";
import {
  createFlowRing,
  FlowRingReader,
  FlowRingWriter,
  isFlowChange,
  MIN_RING_WORDS,
  REC_ACTIONS,
  REC_DEL,
  REC_FLUSH,
  REC_FORGET,
  REC_LOADED,
  REC_NONE,
  REC_PUT,
  REC_UPCALLS,
} from "../datapath/pmd_flow_ring.ts";
import { PmdFlowFeed } from "../datapath/pmd_flow_feed.ts";
import { encodeActionList } from "../datapath/pmd_action_wire.ts";
import { parseFlowKey } from "../datapath/odp/key_parse.ts";
import { applyRingRecord, FlowReplica } from "../datapath/pmd_replica.ts";
import { xorshift32 } from "./fixtures/xorshift.ts";

/** A seeded xorshift32 in [0, 1). */
function random(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 2 ** 32;
}

/** The PMD side of the test: a reader and a replica, applied as pmd_worker.ts does. */
class Consumer {
  readonly reader: FlowRingReader;
  readonly replica: FlowReplica;
  /** Types of every record applied, in order. */
  readonly types: number[] = [];
  /** Slots of the puts and deletes applied, in order (negative for deletes: -1 - slot). */
  readonly slots: number[] = [];
  upcallsEnabled = false;
  loaded = false;
  changes = 0;

  constructor(ring: SharedArrayBuffer, maxFlows: number) {
    this.reader = new FlowRingReader(ring);
    this.replica = new FlowReplica(maxFlows);
  }

  /** Applies what is published, at most `limit` records; returns how many. */
  drain(limit = Infinity): number {
    const r = this.reader;
    r.begin();
    let n = 0;
    for (let type = n < limit ? r.next() : REC_NONE; type !== REC_NONE; type = r.next()) {
      if (type === REC_UPCALLS) this.upcallsEnabled = r.enabled;
      else if (type === REC_LOADED) this.loaded = true;
      else applyRingRecord(this.replica, r, type);
      if (isFlowChange(type)) this.changes++;
      if (type === REC_PUT) this.slots.push(r.slot);
      if (type === REC_DEL) this.slots.push(-1 - r.slot);
      this.types.push(type);
      r.done();
      if (++n >= limit) break;
    }
    return n;
  }
}

/** A datapath with a feed into a ring of `words` and a consumer on this thread. */
function rig(words: number, options: { load?: boolean; maxFlows?: number } = {}) {
  const dp = new Datapath(`ring${Math.floor(Math.random() * 1e9)}`, {
    maxFlows: options.maxFlows ?? 4096,
  });
  const ring = createFlowRing(words);
  let wakes = 0;
  const feed = new PmdFlowFeed(ring, dp.flows, () => wakes++, { load: options.load ?? false });
  dp.onFlowChange((change) => feed.change(change));
  const consumer = new Consumer(ring, dp.flows.maxFlows);
  return { dp, feed, consumer, wakes: () => wakes };
}

/** Drains and pumps until nothing waits; returns the rounds it took. */
function settle(feed: PmdFlowFeed, consumer: Consumer, perRound = Infinity): number {
  let rounds = 0;
  do {
    consumer.drain(perRound);
    rounds++;
    assert.ok(rounds < 1_000_000, "the feed never emptied");
  } while (!feed.pump() || consumer.reader.waiting);
  consumer.drain();
  return rounds;
}

function flow(i: number, port = 1): string {
  return `in_port(${port}),eth(),eth_type(0x0800),ipv4(src=10.${(i >> 16) & 255}.${
    (i >> 8) & 255
  }.${i & 255},proto=17,frag=no),udp(src=${1000 + (i % 50000)})`;
}

/** Puts flow(slot) into the replica with action list `id`. */
function put(replica: FlowReplica, slot: number, id: number): void {
  const match = parseFlowKey(flow(slot));
  replica.put(slot, 1, match.key, match.mask, id);
}

/** Asserts the replica holds exactly the control table's flows, programs and action lists. */
function assertInStep(dp: Datapath, replica: FlowReplica): void {
  const flows = dp.flows;
  assert.equal(replica.size, flows.size, "flow count");
  assert.equal(replica.megaflow.flowCount, flows.size);
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  const replicaKey = new Uint32Array(KEY_WORDS);
  const replicaMask = new Uint32Array(KEY_WORDS);
  const programOfId = new Map<number, unknown>();
  for (let slot = 0; slot < flows.slotLimit; slot++) {
    assert.equal(replica.isLive(slot), flows.isLive(slot), `slot ${slot} liveness`);
    if (!flows.isLive(slot)) continue;
    key.fill(0);
    replicaKey.fill(0);
    flows.megaflow.readKey(slot, key, 0);
    flows.megaflow.readMask(slot, mask, 0);
    replica.megaflow.readKey(slot, replicaKey, 0);
    replica.megaflow.readMask(slot, replicaMask, 0);
    assert.deepEqual(replicaMask, mask, `slot ${slot} mask`);
    assert.deepEqual(replicaKey, key, `slot ${slot} key`);
    assert.equal(replica.controlGenerationOf(slot), flows.generation[slot], `slot ${slot} gen`);
    const id = flows.actionsIdOf(slot);
    const program = replica.programs[slot];
    if (programOfId.has(id)) assert.equal(program, programOfId.get(id), `id ${id} shared`);
    else programOfId.set(id, program);
    assert.deepEqual(program, compileActions(flows.actionsOf(slot)), `slot ${slot} program`);
  }
  assert.equal(replica.actionLists, programOfId.size, "the replica holds only lists in use");
}

Deno.test("flow ring: records survive wrap-around, decoded word for word", () => {
  const ring = createFlowRing(MIN_RING_WORDS);
  const writer = new FlowRingWriter(ring);
  const reader = new FlowRingReader(ring);
  const rnd = random(7);
  const key = new Uint32Array(KEY_WORDS);
  const mask = new Uint32Array(KEY_WORDS);
  let wrote = 0;
  let read = 0;
  let words = 0;
  for (let round = 0; round < 3000; round++) {
    // Each put has a different set of present words (0..64 of them).
    mask.fill(0);
    key.fill(0);
    const present = Math.floor(rnd() * 65);
    for (let k = 0; k < present; k++) {
      const w = Math.floor(rnd() * KEY_WORDS);
      mask[w] = (rnd() * 2 ** 32) >>> 0 || 1;
      key[w] = (rnd() * 2 ** 32) >>> 0;
    }
    const slot = round * 7;
    assert.ok(writer.writePut(slot, round, round % 5, key, mask, round, round % 2 === 0));
    wrote++;
    reader.begin();
    assert.equal(reader.next(), REC_PUT);
    assert.equal(reader.slot, slot);
    assert.equal(reader.generation, round);
    assert.equal(reader.actionId, round % 5);
    assert.equal(reader.sentUs, round);
    assert.equal(reader.counted, round % 2 === 0);
    assert.deepEqual(reader.mask, mask);
    for (let w = 0; w < KEY_WORDS; w++) assert.equal(reader.key[w], (key[w] & mask[w]) >>> 0);
    reader.done();
    read++;
    assert.equal(writer.used, 0, "the reader freed every word (pads included)");
    words += FlowRingWriter.putWords(mask);
  }
  assert.equal(read, wrote);
  assert.equal(writer.applied, 1500, "counted puts only");
  assert.ok(words > 50 * writer.capacity, `${words} words went round the ring many times`);
});

Deno.test("flow ring: a full ring refuses whole records and takes them once freed", () => {
  const ring = createFlowRing(MIN_RING_WORDS);
  const writer = new FlowRingWriter(ring);
  const reader = new FlowRingReader(ring);
  let n = 0;
  while (writer.writeDel(n, 0)) n++;
  assert.ok(n > 300 && n <= MIN_RING_WORDS / 3, `${n} deletes of 3 words fit`);
  assert.equal(writer.writeForget(1), false, "full: refused, nothing written");
  reader.begin();
  for (let i = 0; i < n; i++) {
    assert.equal(reader.next(), REC_DEL);
    assert.equal(reader.slot, i);
    reader.done();
  }
  assert.equal(reader.next(), REC_NONE);
  assert.equal(writer.applied, n);
  // Wrap several times with mixed sizes, reading in between.
  for (let round = 0; round < 2000; round++) {
    assert.ok(writer.writeUpcalls(round % 2 === 0, round));
    assert.ok(writer.writeFlush(round));
    assert.ok(writer.writeForget(round));
    assert.ok(writer.writeLoaded());
    reader.begin();
    assert.equal(reader.next(), REC_UPCALLS);
    assert.equal(reader.enabled, round % 2 === 0);
    reader.done();
    assert.equal(reader.next(), REC_FLUSH);
    assert.equal(reader.sentUs, round);
    reader.done();
    assert.equal(reader.next(), REC_FORGET);
    assert.equal(reader.actionId, round);
    reader.done();
    assert.equal(reader.next(), REC_LOADED);
    reader.done();
    assert.equal(reader.next(), REC_NONE);
  }
  assert.equal(writer.applied, n + 4000);
});

Deno.test("flow ring: action text in chunks, reassembled by the reader's consumer", () => {
  const ring = createFlowRing(MIN_RING_WORDS);
  const writer = new FlowRingWriter(ring);
  const reader = new FlowRingReader(ring);
  const list = Array.from({ length: 400 }, (_, i) => ({ type: "output" as const, port: i + 1 }));
  const text = encodeActionList(list);
  assert.ok(text.length > writer.maxChunkBytes * 2, "needs three chunks or more");
  const got = new Uint8Array(text.length);
  let offset = 0;
  let chunks = 0;
  while (offset < text.length) {
    const n = writer.writeActionChunk(9, text, offset);
    assert.ok(n > 0);
    reader.begin();
    assert.equal(reader.next(), REC_ACTIONS);
    assert.equal(reader.actionId, 9);
    assert.equal(reader.textBytes, text.length);
    assert.equal(reader.textOffset, offset);
    got.set(reader.chunk, offset);
    reader.done();
    offset += n;
    chunks++;
  }
  assert.ok(chunks >= 3);
  assert.deepEqual(got, text);
  // The replica compiles the list from chunks.
  const replica = new FlowReplica(8);
  offset = 0;
  while (offset < text.length) {
    offset += writer.writeActionChunk(4, text, offset);
    reader.begin();
    assert.equal(reader.next(), REC_ACTIONS);
    applyRingRecord(replica, reader, REC_ACTIONS);
    reader.done();
  }
  assert.equal(replica.actionLists, 1);
  put(replica, 3, 4);
  assert.equal(replica.programs[3].steps.length, 400, "the whole list compiled");
});

Deno.test("flow feed: a full ring queues changes in order, loses none, and flowsApplied's sequence follows", () => {
  const { dp, feed, consumer, wakes } = rig(MIN_RING_WORDS);
  try {
    const ufids: string[] = [];
    for (let i = 0; i < 400; i++) {
      ufids.push(dp.putFlow({ flow: flow(i), actions: `${i % 3 + 1}` }).ufid);
    }
    for (let i = 0; i < 400; i += 2) dp.deleteFlow(ufids[i]);
    assert.ok(feed.queued > 0, "the ring filled and changes wait");
    assert.ok(wakes() > 0);
    assert.equal(feed.sent, 600);
    assert.equal(feed.hasApplied(feed.sent), false);
    // The consumer takes a few records at a time; the feed refills as room appears.
    const rounds = settle(feed, consumer, 37);
    assert.ok(rounds > 10, `refilled over ${rounds} rounds`);
    assert.equal(feed.hasApplied(600), true);
    assert.equal(consumer.changes, 600);
    // Order: 400 puts of slots 0..399, then deletes of the even slots in order.
    const expected = [
      ...Array.from({ length: 400 }, (_, i) => i),
      ...Array.from({ length: 200 }, (_, k) => -1 - 2 * k),
    ];
    assert.deepEqual(consumer.slots, expected);
    assertInStep(dp, consumer.replica);
    assert.equal(consumer.replica.actionLists, 3, "three distinct lists, each compiled once");
    assert.equal(consumer.types.filter((t) => t === REC_ACTIONS).length, 3);
  } finally {
    feed.close();
    dp.close();
  }
});

Deno.test("flow feed: action lists go once per id, are forgotten with their last flow, and flush resets them", () => {
  const { dp, feed, consumer } = rig(1 << 14);
  try {
    const a = dp.putFlow({ flow: flow(1), actions: "2" }).ufid;
    const b = dp.putFlow({ flow: flow(2), actions: "2" }).ufid;
    consumer.drain();
    assert.deepEqual(consumer.types, [REC_ACTIONS, REC_PUT, REC_PUT]);
    assert.equal(consumer.replica.programs[0], consumer.replica.programs[1], "one program");
    // Modify flow a to another list: the "2" list stays (b uses it).
    dp.putFlow({ flow: flow(1), actions: "3", create: false, modify: true });
    consumer.types.length = 0;
    consumer.drain();
    assert.deepEqual(consumer.types, [REC_ACTIONS, REC_PUT]);
    assert.equal(consumer.replica.programs[1].directOutput, 2);
    assert.equal(consumer.replica.programs[0].directOutput, 3);
    // Delete b: the last user of "2" goes, and so does the list.
    dp.deleteFlow(b);
    consumer.types.length = 0;
    consumer.drain();
    assert.deepEqual(consumer.types, [REC_DEL, REC_FORGET]);
    assert.equal(consumer.replica.actionLists, 1);
    // Flush: everything goes; the next put sends its list again.
    dp.flushFlows();
    dp.putFlow({ flow: flow(5), actions: "3" });
    consumer.types.length = 0;
    consumer.drain();
    assert.deepEqual(consumer.types, [REC_FLUSH, REC_ACTIONS, REC_PUT]);
    assertInStep(dp, consumer.replica);
    void a;
    // Upcalls switch travels in order too.
    dp.setUpcallsEnabled(true);
    consumer.drain();
    assert.equal(consumer.upcallsEnabled, true);
  } finally {
    feed.close();
    dp.close();
  }
});

Deno.test("flow feed: the initial load streams through a small ring; changes during it land before its end", () => {
  const dp = new Datapath("ringload", { maxFlows: 8192 });
  const ufids: string[] = [];
  for (let i = 0; i < 3000; i++) {
    ufids.push(dp.putFlow({ flow: flow(i), actions: `${i % 7 + 1}` }).ufid);
  }
  const ring = createFlowRing(MIN_RING_WORDS);
  const feed = new PmdFlowFeed(ring, dp.flows, () => {});
  dp.onFlowChange((change) => feed.change(change));
  const consumer = new Consumer(ring, dp.flows.maxFlows);
  try {
    assert.equal(feed.pending, true, "3,000 flows do not fit 1,024 words");
    consumer.drain(100);
    feed.pump();
    // Changes while loading: delete some not yet loaded, reuse their keys in other slots,
    // modify loaded ones, flush nothing.
    for (let i = 2000; i < 2100; i++) dp.deleteFlow(ufids[i]);
    for (let i = 2000; i < 2050; i++) dp.putFlow({ flow: flow(i), actions: "9" });
    for (let i = 0; i < 50; i++) {
      dp.putFlow({ flow: flow(i), actions: "8", create: false, modify: true });
    }
    // A key that moves between two slots the load has not reached: the load must not
    // send the slot it ends in (its queued put follows), or the replica would hold the
    // key twice when the first put is applied.
    dp.deleteFlow(ufids[2500]);
    const moved = dp.putFlow({ flow: flow(9000), actions: "2" }).ufid;
    dp.deleteFlow(moved);
    dp.deleteFlow(ufids[2600]);
    dp.putFlow({ flow: flow(9000), actions: "2" });
    assert.equal(feed.sent, 205);
    settle(feed, consumer, 50);
    assert.equal(consumer.loaded, true);
    const loadedAt = consumer.types.indexOf(REC_LOADED);
    // The end marker follows the changes made during the load: the PMD reports
    // ready at it, so it must not miss the slots the load skipped for them.
    const deletesBefore = consumer.types.slice(0, loadedAt).filter((t) => t === REC_DEL).length;
    assert.equal(deletesBefore, 103, "every delete made during the load precedes its end");
    const changesAfter = consumer.types.slice(loadedAt + 1)
      .filter((t) => t === REC_DEL || t === REC_PUT).length;
    assert.equal(changesAfter, 0, "nothing made during the load follows its end");
    assert.equal(feed.hasApplied(205), true);
    assertInStep(dp, consumer.replica);
  } finally {
    feed.close();
    dp.close();
  }
});

Deno.test("flow feed: a PMD at the end of its load holds every flow, modified ones included", () => {
  const dp = new Datapath("ringready", { maxFlows: 4096 });
  for (let i = 0; i < 1000; i++) dp.putFlow({ flow: flow(i), actions: "2" });
  const ring = createFlowRing(MIN_RING_WORDS);
  const feed = new PmdFlowFeed(ring, dp.flows, () => {});
  dp.onFlowChange((change) => feed.change(change));
  const consumer = new Consumer(ring, dp.flows.maxFlows);
  try {
    consumer.drain(); // the first part of the load
    // Meanwhile 300 flows the load has not reached are modified: the load skips
    // them, and their queued puts carry them.
    for (let i = 600; i < 900; i++) {
      dp.putFlow({ flow: flow(i), actions: "3", create: false, modify: true });
    }
    // As the PMD starts: apply up to the end marker, then it reports ready.
    while (!consumer.loaded) {
      feed.pump();
      consumer.drain(1);
    }
    let missing = 0;
    for (let slot = 0; slot < dp.flows.slotLimit; slot++) {
      if (dp.flows.isLive(slot) && !consumer.replica.isLive(slot)) missing++;
    }
    assert.equal(missing, 0, "no flow missing when the PMD reports ready");
  } finally {
    feed.close();
    dp.close();
  }
});

Deno.test("flow feed: a random sequence through a small ring leaves the replica equal to the table", () => {
  for (const seed of [1, 2, 3]) {
    const rnd = random(seed);
    const dp = new Datapath(`ringfuzz${seed}`, { maxFlows: 512 });
    // Some flows before the feed exists: the initial load carries them.
    const live = new Map<number, string>();
    for (let i = 0; i < 100; i++) {
      live.set(i, dp.putFlow({ flow: flow(i), actions: `${1 + (i % 4)}` }).ufid);
    }
    const ring = createFlowRing(MIN_RING_WORDS);
    const feed = new PmdFlowFeed(ring, dp.flows, () => {});
    dp.onFlowChange((change) => feed.change(change));
    const consumer = new Consumer(ring, dp.flows.maxFlows);
    let maxQueued = 0;
    try {
      for (let step = 0; step < 4000; step++) {
        const r = rnd();
        const i = Math.floor(rnd() * 600);
        // Action lists: a few common ones and some unique ones (sets with a value).
        const actions = rnd() < 0.7
          ? `${1 + Math.floor(rnd() * 4)}`
          : `set(ipv4(ttl=${1 + Math.floor(rnd() * 200)})),${1 + Math.floor(rnd() * 3)}`;
        if (r < 0.5) {
          if (live.has(i)) {
            dp.putFlow({ flow: flow(i), actions, create: false, modify: true });
          } else if (dp.flows.size < 500) live.set(i, dp.putFlow({ flow: flow(i), actions }).ufid);
        } else if (r < 0.95) {
          const ufid = live.get(i);
          if (ufid !== undefined) {
            dp.deleteFlow(ufid);
            live.delete(i);
          }
        } else if (r < 0.955) {
          dp.flushFlows();
          live.clear();
        } else if (r < 0.96) dp.setUpcallsEnabled(rnd() < 0.5);
        // The PMD side runs now and then, taking a random number of records.
        if (rnd() < 0.03) consumer.drain(Math.floor(rnd() * 300));
        if (rnd() < 0.1) feed.pump();
        maxQueued = Math.max(maxQueued, feed.queued);
      }
      assert.ok(maxQueued > 10, `changes waited for room (at most ${maxQueued})`);
      settle(feed, consumer, 64);
      assert.equal(feed.hasApplied(feed.sent), true);
      assert.equal(consumer.upcallsEnabled, dp.upcalls.enabled);
      assertInStep(dp, consumer.replica);
    } finally {
      feed.close();
      dp.close();
    }
  }
});
