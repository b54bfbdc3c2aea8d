/**
 * A change feed of ports, flows and datapaths for the API's Server-Sent
 * Events. The API publishes every change it makes; each subscriber has its
 * own bounded queue and, when it falls further behind than that, gets one
 * "overflow" telling it to dump again (like dpif_port_poll's ENOBUFS).
 *
 * The datapath has no flow change feed of its own yet, so changes made
 * around the API (e.g. by the learning switch) are not seen here.
 *
 * @module
 */

/** One change. */
export interface ChangeEvent {
  /** What changed. */
  kind: "datapath" | "port" | "flow";
  /** How it changed ("flushed" deletes every flow of a datapath). */
  action: "added" | "deleted" | "modified" | "flushed";
  /** The datapath concerned. */
  datapath: string;
  /** Port name, for port changes. */
  name?: string;
  /** Port number, for port changes. */
  port_no?: number;
  /** Flow UFID, for flow changes. */
  ufid?: string;
}

/** What {@linkcode Subscription.next} returns. */
export type ChangeBatch = ChangeEvent[] | "overflow";

/** One reader of the feed. */
export class Subscription {
  readonly #depth: number;
  readonly #onClose: (s: Subscription) => void;
  #queue: ChangeEvent[] = [];
  #overflowed = false;
  #closed = false;
  #wake: (() => void) | null = null;

  /** Created by {@linkcode ChangeFeed.subscribe}. */
  constructor(depth: number, onClose: (s: Subscription) => void) {
    this.#depth = depth;
    this.#onClose = onClose;
  }

  /** Queues a change (called by the feed). */
  push(event: ChangeEvent): void {
    if (this.#closed) return;
    if (!this.#overflowed) {
      if (this.#queue.length >= this.#depth) {
        this.#queue = [];
        this.#overflowed = true;
      } else {
        this.#queue.push(event);
      }
    }
    this.#wakeUp();
  }

  /**
   * Waits until something is queued, `signal` aborts or the subscription is
   * closed, then returns the queued changes (oldest first), `"overflow"`
   * once after falling behind, or `[]` when aborted or closed.
   */
  async next(signal?: AbortSignal): Promise<ChangeBatch> {
    while (!this.#closed && !signal?.aborted && !this.#overflowed && this.#queue.length === 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener("abort", done);
          this.#wake = null;
          resolve();
        };
        this.#wake = done;
        signal?.addEventListener("abort", done, { once: true });
      });
    }
    if (this.#overflowed) {
      this.#overflowed = false;
      return "overflow";
    }
    const out = this.#queue;
    this.#queue = [];
    return out;
  }

  /** Stops the subscription and wakes a waiting reader. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#onClose(this);
    this.#wakeUp();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** The feed: publish changes, subscribe readers. */
export class ChangeFeed {
  readonly #subscribers = new Set<Subscription>();

  /** Sends a change to every subscriber. */
  publish(event: ChangeEvent): void {
    for (const s of this.#subscribers) s.push(event);
  }

  /** A new reader seeing changes from now on; `depth` (default 256) bounds its queue. */
  subscribe(depth = 256): Subscription {
    const s = new Subscription(depth, (x) => this.#subscribers.delete(x));
    this.#subscribers.add(s);
    return s;
  }

  /** Number of readers. */
  get size(): number {
    return this.#subscribers.size;
  }

  /** Closes every reader (service shutdown). */
  closeAll(): void {
    for (const s of [...this.#subscribers]) s.close();
  }
}
