/**
 * The state writer's Worker (see api/state_writer.ts): owns its own SQLite
 * connection (a {@linkcode StateStore}) and commits each group of writes it
 * is sent as one transaction (synchronous=FULL: durable when it replies),
 * in the order sent. A group that fails is rolled back whole and answered
 * `failed`; the Worker then goes on with the next group (a full disk may
 * have room again). After replying it compacts the log when that is worth
 * it, so a compaction delays later commits but never the answer of the
 * group that triggered it.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { StateStore } from "./state_store.ts";
import {
  type StoreWrite,
  writerFailure,
  type WriterReply,
  type WriterRequest,
} from "./state_writer_protocol.ts";

let store: StateStore | null = null;

function reply(message: WriterReply): void {
  self.postMessage(message);
}

function apply(target: StateStore, write: StoreWrite): void {
  switch (write.kind) {
    case "addDatapath":
      return target.addDatapath(write.name);
    case "removeDatapath":
      return target.removeDatapath(write.name);
    case "addPort":
      return target.addPort(write.dp, write.port);
    case "removePort":
      return target.removePort(write.dp, write.name);
    case "flowRecord":
      return target.appendFlowRecord(write.dp, write.record, write.liveFlows);
    case "flushFlows":
      return target.flushFlows(write.dp);
    case "markInitialized":
      return target.markInitialized();
  }
}

self.onmessage = (event: MessageEvent<WriterRequest>) => {
  const request = event.data;
  switch (request.type) {
    case "open":
      try {
        store = StateStore.open(request.dir, { ...request.options, autoCompact: false });
        reply({ type: "opened" });
      } catch (error) {
        reply({ type: "open-failed", error: writerFailure(error) });
      }
      return;
    case "commit": {
      const target = store!;
      try {
        target.transaction(() => {
          for (const write of request.writes) apply(target, write);
        });
      } catch (error) {
        reply({ type: "failed", group: request.group, error: writerFailure(error) });
        return;
      }
      reply({ type: "committed", group: request.group });
      target.compactIfWorthIt();
      return;
    }
    case "close":
      try {
        store?.close();
      } catch { /* closing: nothing is pending (the main thread waited), so nothing is lost */ }
      store = null;
      reply({ type: "closed" });
      return;
  }
};
