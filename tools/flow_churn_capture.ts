/**
 * The wrong-forwarding check of tools/flow_churn.ts, off the churning
 * thread: a Worker (flow_churn_capture_worker.ts) reads the capture port
 * and checks every packet's marks, and the control thread only says when to
 * drain and which puts are dead.
 *
 * Shared memory: a few control words and `deadUpTo` (per flow index, the
 * highest sequence number of a deleted put the check may hold against a
 * packet; the control thread writes it, the Worker reads it per packet).
 * Each {@linkcode CaptureChecker.requestDrain} bumps the request word; the
 * Worker, on seeing request `n`, drains the port until an rx burst comes
 * back empty, then publishes `n` as done. The control thread writes the
 * marks of a batch whose PMD acknowledgement came before request `n` only
 * once `n` is done ({@linkcode CaptureChecker.drained}).
 *
 * Why that is the same exact check as draining on the control thread: the
 * PMD transmits a packet before it applies the deletes that come after it
 * in its ring and publishes them applied, so every packet a deleted put
 * forwarded before the acknowledgement is on the capture ring when the
 * acknowledgement is seen, and thus before request `n` is made; the drain
 * for `n` starts after that and ends with an empty ring, so it has taken all
 * of them (FIFO) before the marks exist. A packet checked against a mark
 * was therefore queued after that drain ended, i.e. forwarded after the
 * acknowledgement: a real violation, never a false one. And as before,
 * from the end of that drain on, every captured packet of a deleted put is
 * caught. Why move it: receiving and freeing the ~9 million captured
 * packets of a 10 s run (the PMD forwards ~3 Mpps and the capture ring
 * refills while it is drained) was ~7 µs per churned op of the control
 * thread (profile in tools/flow_churn.ts).
 *
 * What fraction is checked: every packet the Worker receives, but it
 * receives only what the capture ring (8,192 entries) holds between its
 * drains; while the ring is full the PMD's transmit to it fails and those
 * packets are counted as tx drops and freed, unchecked. The Worker runs at
 * a lower priority than the churning thread (tools/flow_churn.ts,
 * `checkerNice`), so under load it drains less often and checks a smaller
 * share (`captured` / `forwarded_packets`: 19 to 30 % before, 10 to 24 % at nice 10).
 * That share is a FIFO sample of the forwarded stream, and the argument
 * above does not depend on how much of the stream is sampled: a packet
 * that is received is checked against the same marks with the same
 * ordering guarantees, and a violation among them is always flagged.
 *
 * @module
 */

import type { DpdkPort } from "../ffi/dpdk_port.ts";
import type { MbufPool } from "../ffi/mbuf_pool.ts";

/** Control word: drain requests made (the control thread bumps it). */
export const CC_REQUEST = 0;
/** Control word: the last request the Worker has drained for. */
export const CC_DONE = 1;
/** Control word: 1 once the Worker should stop (after a last drain). */
export const CC_STOP = 2;
/** Bytes of control words before `deadUpTo`. */
const CONTROL_BYTES = 64;

/** What the capture Worker is started with. */
export interface CaptureStart {
  /** The shared control words and deadUpTo. */
  shared: SharedArrayBuffer;
  /** Flow indices (deadUpTo entries). */
  flows: number;
  poolName: string;
  portId: number;
  portNo: number;
  /** CPUs for the Worker (empty: every online CPU). */
  cpus: number[];
  /** The Worker thread's nice value (0: the creator's priority). */
  nice: number;
}

/** What the capture Worker found. */
export interface CaptureResult {
  /** Packets received and checked. */
  captured: number;
  /** Packets that followed a deleted put or carried another flow's mark. */
  violations: number;
  /** The first violation, or null. */
  first: string | null;
}

/** Messages from the capture Worker. */
export type CaptureEvent =
  | { op: "ready" }
  | ({ op: "result" } & CaptureResult)
  | { op: "error"; message: string };

/** The control thread's side of the capture check. */
export class CaptureChecker {
  /** Per flow index, the highest deleted put sequence the check holds against packets (-1 none). */
  readonly deadUpTo: Int32Array;
  readonly #control: Int32Array;
  readonly #worker: Worker;
  readonly #events: CaptureEvent[] = [];
  #wake: (() => void) | null = null;
  #requests = 0;
  /** What the Worker reported as its error, once it has. */
  #failure: string | null = null;

  private constructor(start: CaptureStart) {
    this.#control = new Int32Array(start.shared, 0, CONTROL_BYTES / 4);
    this.deadUpTo = new Int32Array(start.shared, CONTROL_BYTES, start.flows).fill(-1);
    this.#worker = new Worker(new URL("./flow_churn_capture_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<CaptureEvent>) => {
      if (event.data.op === "error") this.#failure = event.data.message;
      this.#events.push(event.data);
      this.#wake?.();
    };
    this.#worker.postMessage(start);
  }

  /**
   * Starts the Worker on rx queue 0 of `port` (which nothing else may read
   * from now on), on `cpus` at nice value `nice`, and waits until it polls. Throws when it fails to start.
   */
  static async start(
    port: DpdkPort,
    pool: MbufPool,
    flows: number,
    cpus: number[],
    nice = 0,
  ): Promise<CaptureChecker> {
    const checker = new CaptureChecker({
      shared: new SharedArrayBuffer(CONTROL_BYTES + 4 * flows),
      flows,
      poolName: pool.name,
      portId: port.portId,
      portNo: port.portNo,
      cpus,
      nice,
    });
    const event = await checker.#next();
    if (event.op !== "ready") {
      checker.#worker.terminate();
      throw new Error(`capture worker: ${event.op === "error" ? event.message : event.op}`);
    }
    return checker;
  }

  /** Asks the Worker to drain the port (now, or after the drain it is in); returns the request. */
  requestDrain(): number {
    this.#requests = (this.#requests + 1) | 0;
    Atomics.store(this.#control, CC_REQUEST, this.#requests);
    Atomics.notify(this.#control, CC_REQUEST);
    return this.#requests;
  }

  /** True once the Worker has drained for `request` (and so for every earlier one). */
  drained(request: number): boolean {
    return ((Atomics.load(this.#control, CC_DONE) - request) | 0) >= 0;
  }

  /**
   * Resolves once {@linkcode drained}(request) (looking at least every ms);
   * throws when the Worker failed.
   */
  async waitDrained(request: number): Promise<void> {
    while (!this.drained(request)) {
      if (this.#failure !== null) throw new Error(`capture worker: ${this.#failure}`);
      const seen = Atomics.load(this.#control, CC_DONE);
      if (((seen - request) | 0) >= 0) break;
      const wait = Atomics.waitAsync(this.#control, CC_DONE, seen, 1);
      // A pending waitAsync alone does not keep Deno's event loop alive: race a timer.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        wait.async ? wait.value : Promise.resolve(),
        new Promise((resolve) => timer = setTimeout(resolve, 1)),
      ]);
      clearTimeout(timer);
    }
  }

  /**
   * Stops the Worker after a last drain (the PMDs should have stopped) and
   * returns what it found. Throws what the Worker reported as its error.
   */
  async finish(): Promise<CaptureResult> {
    Atomics.store(this.#control, CC_STOP, 1);
    this.requestDrain();
    try {
      const event = await this.#next();
      if (event.op !== "result") {
        throw new Error(`capture worker: ${event.op === "error" ? event.message : event.op}`);
      }
      return { captured: event.captured, violations: event.violations, first: event.first };
    } finally {
      this.#worker.terminate();
    }
  }

  /** Stops the Worker at once (on a failed run; mbufs it holds may leak). */
  close(): void {
    Atomics.store(this.#control, CC_STOP, 1);
    this.requestDrain();
    this.#worker.terminate();
  }

  async #next(): Promise<CaptureEvent> {
    while (this.#events.length === 0) {
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = null;
    }
    return this.#events.shift()!;
  }
}
