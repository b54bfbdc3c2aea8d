/**
 * The Worker of {@linkcode CaptureChecker} (flow_churn_capture.ts): on
 * each drain request, receives from the capture port until a burst comes
 * back empty, checks every packet's marks against the shared `deadUpTo`,
 * frees it, and publishes the request as done; on stop, a last drain and
 * the result.
 *
 * A packet's marks (tools/flow_churn.ts churnActions): bytes 2..5 (the
 * Ethernet destination's low four bytes) are the put's sequence number,
 * bytes 10..11 (the source's last two) the flow index; bytes 28..29 (the
 * IPv4 source's last two) are the index the frame itself belongs to.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { PacketBatch } from "../datapath/packet_batch.ts";
import { registerThread } from "../ffi/eal.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { PmdPort } from "../ffi/pmd_port.ts";
import { setThreadAffinity } from "../ffi/thread_affinity.ts";
import { setThreadNice } from "./thread_nice.ts";
import {
  type CaptureEvent,
  type CaptureStart,
  CC_DONE,
  CC_REQUEST,
  CC_STOP,
} from "./flow_churn_capture.ts";

/** Longest wait for a request before looking at the stop word again, ms. */
const IDLE_WAIT_MS = 50;

function post(event: CaptureEvent): void {
  self.postMessage(event);
}

self.onmessage = (event: MessageEvent<CaptureStart>) => {
  self.onmessage = null;
  try {
    run(event.data);
  } catch (error) {
    post({ op: "error", message: String((error as Error)?.stack ?? error) });
  }
  self.close();
};

function run(start: CaptureStart): void {
  setThreadAffinity(start.cpus);
  if (start.nice !== 0) setThreadNice(start.nice);
  registerThread();
  const pool = MbufPool.lookup(start.poolName);
  const port = new PmdPort("capture", start.portNo, start.portId, pool, [0], 0);
  const control = new Int32Array(start.shared, 0, 16);
  const deadUpTo = new Int32Array(start.shared, 64, start.flows);
  const batch = new PacketBatch(pool);
  const bytes = pool.bytes;
  let captured = 0;
  let violations = 0;
  let first: string | null = null;
  const violation = (what: string) => {
    violations++;
    first ??= what;
  };
  /** Reads everything on the capture port and checks each packet's marks. */
  const drain = () => {
    for (;;) {
      batch.count = 0;
      const n = port.receive(0, batch);
      for (let k = 0; k < n; k++) {
        const o = batch.offset[k];
        const own = (bytes[o + 28] << 8) | bytes[o + 29];
        const marked = (bytes[o + 10] << 8) | bytes[o + 11];
        const s =
          ((bytes[o + 2] << 24) | (bytes[o + 3] << 16) | (bytes[o + 4] << 8) | bytes[o + 5]) >>> 0;
        if (marked !== own) {
          violation(`packet of flow ${own} forwarded by flow ${marked} (put ${s})`);
        } else if (s <= deadUpTo[own]) violation(`packet of flow ${own} followed deleted put ${s}`);
      }
      captured += n;
      batch.freeAll();
      if (n === 0) return;
    }
  };
  post({ op: "ready" });
  let done = Atomics.load(control, CC_REQUEST);
  for (;;) {
    // Load the request before draining: the drain then starts after it was made.
    const request = Atomics.load(control, CC_REQUEST);
    if (request !== done) {
      drain();
      done = request;
      Atomics.store(control, CC_DONE, request);
      Atomics.notify(control, CC_DONE);
      if (Atomics.load(control, CC_STOP) !== 0 && Atomics.load(control, CC_REQUEST) === done) {
        break;
      }
      continue;
    }
    Atomics.wait(control, CC_REQUEST, request, IDLE_WAIT_MS);
  }
  post({ op: "result", captured, violations, first });
}
