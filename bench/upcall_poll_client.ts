/**
 * Worker of bench/pmd_upcall_rest_bench.ts: a REST client that long-polls
 * `GET /v1/datapaths/dp0/upcalls` in a loop, as a controller would. Shared
 * words (Int32): [0] answers so far (notified), [1] stop when non-zero.
 * Shared times (Float64 at byte 64, `performance.timeOrigin +
 * performance.now()` in ms, comparable with the main thread's): [0] when the
 * latest answer was parsed, [1] its number of upcalls, [2] when the current
 * request was sent.
 *
 * @module
 */

/// <reference lib="deno.worker" />

/** What the bench posts to start the client. */
export interface PollClientStart {
  /** Base URL of the service, e.g. `http://127.0.0.1:8080`. */
  base: string;
  /** The shared words and times described in the module doc. */
  shared: SharedArrayBuffer;
}

/** Byte offset of the shared times. */
export const TIMES_OFFSET = 64;

self.onmessage = async (event: MessageEvent<PollClientStart>) => {
  const { base, shared } = event.data;
  const words = new Int32Array(shared, 0, 16);
  const times = new Float64Array(shared, TIMES_OFFSET, 4);
  const url = `${base}/v1/datapaths/dp0/upcalls?timeout=1&max=64`;
  while (Atomics.load(words, 1) === 0) {
    times[2] = performance.timeOrigin + performance.now();
    let count = -1;
    try {
      const res = await fetch(url);
      const body = await res.json();
      count = res.ok && Array.isArray(body.upcalls) ? body.upcalls.length : -1;
    } catch {
      count = -1; // the service went away: the bench sees -1
    }
    times[0] = performance.timeOrigin + performance.now();
    times[1] = count;
    Atomics.add(words, 0, 1);
    Atomics.notify(words, 0);
    if (count < 0) break;
  }
  self.close();
};
