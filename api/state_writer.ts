/**
 * The state store's writes, committed on another thread with group commit.
 *
 * Why: with {@linkcode StateStore} on the main thread, every API write ends
 * in a SQLite COMMIT whose fsync (synchronous=FULL) blocks the thread for
 * 1 to 2 ms on a quiet disk and 4 to 8 ms on a shared one, and no other
 * request is processed meanwhile. A {@linkcode StateWriter} hands the
 * writes to a Worker (api/state_writer_worker.ts) with its own connection
 * to the same database and returns a promise per write that resolves once
 * its commit is durable; the main thread goes on with other requests.
 *
 * Group commit: one transaction is in flight at a time. Writes made while
 * it commits wait in a queue and all go into the next transaction, which
 * is sent the moment the previous one is acknowledged (writes made in the
 * same turn of the event loop while the Worker is idle go together too).
 * So the fsync is paid once per group, however many requests it covers.
 *
 * Order: writes are committed in the order they were made, each group
 * after the previous one, each write's effects all or nothing (a flow batch
 * is one log record, as with the StateStore; the record format is the
 * same). A promise resolving means its write and every earlier one are
 * durable.
 *
 * Failure: when a group's transaction fails (a full disk, an I/O error, a
 * lock held too long) it is rolled back whole, and every write of that
 * group and every write queued behind it is rejected with a
 * {@linkcode StateWriteError}, newest first, so that undo handlers attached
 * when the writes were made (api/control.ts) run in reverse order of the
 * changes. Later writes are tried again (the disk may have room by then).
 * If the Worker itself dies, everything pending is rejected and so is every
 * later write. A rejected promise must be handled by the caller.
 *
 * What it bought (bench/flow_install_bench.ts and flow_setup_bench.ts have
 * the runs): where the main thread is the bottleneck, the time it spent
 * waiting on the fsync goes to the next request (the DPDK service with a
 * state directory: 70,000 -> 91,500 flow installs/s, medians of 6; 4
 * requests in flight: +8%). Where it is not (1 or 2 requests in flight on
 * a quiet machine: the answer's round trip bounds the rate, and the answer
 * still waits for its own commit) it costs 5 to 7% (two thread hand-offs
 * and 0.3 to 0.6 µs of CPU per flow more in all).
 *
 * @example
 * ```ts
 * import { StateWriter } from "./state_writer.ts";
 * const dir = Deno.makeTempDirSync();
 * const writer = await StateWriter.open(dir);
 * await writer.addDatapath("dp0"); // durable here
 * await writer.close();
 * ```
 *
 * @module
 */

import {
  encodeFlowChanges,
  type FlowChange,
  type StateStoreOptions,
  type StoredFlow,
  type StoredPort,
} from "./state_store.ts";
import {
  type StoreWrite,
  type WriterFailure,
  writerFailure,
  type WriterReply,
  type WriterRequest,
} from "./state_writer_protocol.ts";

/** Options of {@linkcode StateWriter.open}: those of the store its Worker opens. */
export type StateWriterOptions = Pick<
  StateStoreOptions,
  "synchronous" | "compactMinChanges" | "liveFlows" | "busyTimeoutMs"
>;

/** A write the state writer could not commit (or was stopped before it could). */
export class StateWriteError extends Error {
  /** SQLite's error code (e.g. 5 SQLITE_BUSY, 13 SQLITE_FULL), when SQLite failed. */
  readonly errcode: number | undefined;

  /** Creates the error from what the Worker reported. */
  constructor(failure: WriterFailure) {
    super(failure.errstr ?? failure.message);
    this.name = "StateWriteError";
    this.errcode = failure.errcode;
  }
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/** The state store's writer thread; see the module notes. */
export class StateWriter {
  /** The state directory, or null for an in-memory database (the Worker's own). */
  readonly dir: string | null;
  /** Transactions committed so far (each holds one group of writes). */
  commits = 0;
  /** Writes committed so far. */
  writes = 0;
  readonly #worker: Worker;
  /** Writes waiting for the next group, and who waits on each (same index). */
  #queue: StoreWrite[] = [];
  #queueWaiters: Waiter[] = [];
  /** The group being committed, or null when the Worker is idle. */
  #inFlight: Waiter[] | null = null;
  #group = 0;
  #flushScheduled = false;
  /** Set once the Worker died or close began: every new write is rejected with it. */
  #stopped: Error | null = null;
  /** The promise of the last write made (settles after every earlier one). */
  #last: Promise<void> = Promise.resolve();
  #opened: PromiseWithResolvers<void> | null = null;
  #closed: PromiseWithResolvers<void> | null = null;
  #closing: Promise<void> | null = null;
  /** False once the Worker died. */
  #alive = true;

  private constructor(dir: string | null) {
    this.dir = dir;
    this.#worker = new Worker(new URL("./state_writer_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<WriterReply>) => this.#onReply(event.data);
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#die(
        new StateWriteError({
          name: "Error",
          message: `state writer thread failed: ${event.message}`,
        }),
      );
    };
  }

  /**
   * Starts the writer's Worker on the database in `dir` (created if
   * needed, as {@linkcode StateStore.open} does), or on an in-memory one of
   * its own for `":memory:"` (for benchmarks: nothing else can read it).
   * @throws {StateWriteError} when the database cannot be opened.
   */
  static async open(dir: string, options: StateWriterOptions = {}): Promise<StateWriter> {
    const memory = dir === ":memory:";
    if (!memory) Deno.mkdirSync(dir, { recursive: true });
    const writer = new StateWriter(memory ? null : dir);
    writer.#opened = Promise.withResolvers();
    writer.#post({ type: "open", dir, options: { ...options } });
    try {
      await writer.#opened.promise;
    } catch (error) {
      writer.#worker.terminate();
      throw error;
    }
    return writer;
  }

  /** Stores a datapath (no-op if stored). */
  addDatapath(name: string): Promise<void> {
    return this.#write({ kind: "addDatapath", name });
  }

  /** Forgets a datapath with its ports and flows. */
  removeDatapath(name: string): Promise<void> {
    return this.#write({ kind: "removeDatapath", name });
  }

  /** Stores a port (replacing one of the same name). */
  addPort(dp: string, port: StoredPort): Promise<void> {
    return this.#write({ kind: "addPort", dp, port: { ...port, options: { ...port.options } } });
  }

  /** Forgets a port by name. */
  removePort(dp: string, name: string): Promise<void> {
    return this.#write({ kind: "removePort", dp, name });
  }

  /** Stores a flow, replacing the one with the same UFID (keeps its order). */
  putFlow(dp: string, flow: StoredFlow): Promise<void> {
    return this.recordFlowChanges(dp, [{
      op: "put",
      ufid: flow.ufid,
      flow: flow.flow,
      actions: flow.actions,
    }]);
  }

  /** Forgets a flow. */
  deleteFlow(dp: string, ufid: string): Promise<void> {
    return this.recordFlowChanges(dp, [{ op: "del", ufid }]);
  }

  /**
   * Stores a batch of flow changes as one log record, as
   * {@linkcode StateStore.recordFlowChanges} does. The changes are encoded
   * here, before this returns (later changes to the objects do not matter).
   */
  recordFlowChanges(dp: string, changes: readonly FlowChange[], liveFlows?: number): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    return this.#write({ kind: "flowRecord", dp, record: encodeFlowChanges(changes), liveFlows });
  }

  /** Forgets every flow of a datapath. */
  flushFlows(dp: string): Promise<void> {
    return this.#write({ kind: "flushFlows", dp });
  }

  /** Records that the defaults were created. */
  markInitialized(): Promise<void> {
    return this.#write({ kind: "markInitialized" });
  }

  /**
   * Waits for every write made so far to settle, then closes the Worker's
   * database and ends the Worker (idempotent). Writes made after this was
   * called are rejected.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const last = this.#last;
      this.#stopped ??= new StateWriteError({ name: "Error", message: "state writer closed" });
      await last.catch(() => {});
      if (this.#alive) {
        this.#closed = Promise.withResolvers();
        this.#post({ type: "close" });
        await this.#closed.promise.catch(() => {});
      }
      this.#worker.terminate();
    })();
    return this.#closing;
  }

  #write(write: StoreWrite): Promise<void> {
    if (this.#stopped !== null) return Promise.reject(this.#stopped);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#queue.push(write);
    this.#queueWaiters.push({ resolve, reject });
    this.#last = promise;
    if (this.#inFlight === null && !this.#flushScheduled) {
      // Writes made in this same turn go in the same group.
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
    return promise;
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#inFlight === null) this.#sendGroup();
  };

  /** Sends everything queued as the next group (the Worker is idle). */
  #sendGroup(): void {
    if (this.#queue.length === 0) return;
    const writes = this.#queue;
    this.#inFlight = this.#queueWaiters;
    this.#queue = [];
    this.#queueWaiters = [];
    try {
      this.#post({ type: "commit", group: ++this.#group, writes });
    } catch (error) {
      // Not sent (a write that cannot be cloned): no reply will come, so this
      // group and what queued behind it fail now rather than wait forever.
      this.#failPending(new StateWriteError(writerFailure(error)));
    }
  }

  #onReply(message: WriterReply): void {
    switch (message.type) {
      case "opened":
        this.#opened?.resolve();
        this.#opened = null;
        return;
      case "open-failed":
        this.#stopped = new StateWriteError(message.error);
        this.#opened?.reject(this.#stopped);
        this.#opened = null;
        return;
      case "committed": {
        const done = this.#inFlight;
        if (done === null) return; // failed meanwhile (#die): already answered
        this.#inFlight = null;
        this.commits++;
        this.writes += done.length;
        // The next group first, so the Worker starts on it before the
        // answers of this one are sent.
        this.#sendGroup();
        for (const waiter of done) waiter.resolve();
        return;
      }
      case "failed":
        this.#failPending(new StateWriteError(message.error));
        return;
      case "closed":
        this.#closed?.resolve();
        return;
    }
  }

  /** Rejects the group in flight and every queued write, newest first. */
  #failPending(error: Error): void {
    const failed = [...(this.#inFlight ?? []), ...this.#queueWaiters];
    this.#inFlight = null;
    this.#queue = [];
    this.#queueWaiters = [];
    for (let i = failed.length - 1; i >= 0; i--) failed[i].reject(error);
  }

  /** The Worker died: everything pending and every later write fails. */
  #die(error: Error): void {
    this.#alive = false;
    this.#stopped = error;
    this.#failPending(error);
    this.#opened?.reject(error);
    this.#opened = null;
    this.#closed?.reject(error);
    this.#worker.terminate();
  }

  #post(message: WriterRequest): void {
    this.#worker.postMessage(message);
  }
}
