/**
 * Frames seen on ports, for `GET .../ports/{port}/capture`: a capture asks
 * for the next N frames of one port and waits up to a timeout.
 *
 * Frames reach the hub two ways: frames the API injects (receive) are
 * recorded directly, and after each API call that processes packets
 * (receive, execute, operate) {@linkcode CaptureHub.collectTransmitted}
 * takes the frames that `dummy` ports transmitted meanwhile from their
 * capture buffers. Frames moved by a PMD thread on other port types are not
 * seen: the datapath has no per-port tap yet.
 *
 * @module
 */

import type { Datapath } from "../datapath/datapath.ts";
import type { CapturedFrame } from "./pcap.ts";

interface PendingCapture {
  datapath: string;
  port: string;
  count: number;
  frames: CapturedFrame[];
  done: () => void;
}

/** Active captures and the transmit counters they watch. */
export class CaptureHub {
  readonly #captures = new Set<PendingCapture>();
  /** Last seen tx_packets per "dp\0port", only for ports being captured. */
  readonly #txSeen = new Map<string, number>();

  /** True when any capture waits on this datapath. */
  active(datapath: string): boolean {
    for (const c of this.#captures) if (c.datapath === datapath) return true;
    return false;
  }

  /**
   * Waits for the next `count` frames seen on the port, until `timeoutMs`
   * passes or `signal` aborts, and returns what was captured (possibly fewer).
   * `dp` is used to start counting transmitted frames from now.
   */
  async capture(
    dp: Datapath,
    port: string,
    count: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<CapturedFrame[]> {
    const key = `${dp.name}\0${port}`;
    if (!this.#txSeen.has(key)) this.#txSeen.set(key, dp.portStats(port).tx_packets);
    let finish = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const pending: PendingCapture = { datapath: dp.name, port, count, frames: [], done: finish };
    this.#captures.add(pending);
    const timer = setTimeout(finish, timeoutMs);
    signal?.addEventListener("abort", finish, { once: true });
    try {
      await finished;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      this.#captures.delete(pending);
      if (![...this.#captures].some((c) => c.datapath === dp.name && c.port === port)) {
        this.#txSeen.delete(key);
      }
    }
    return pending.frames;
  }

  /** Records a frame seen on a port (called for frames the API injects). */
  record(datapath: string, port: string, data: Uint8Array): void {
    const time = Date.now();
    for (const c of this.#captures) {
      if (c.datapath !== datapath || c.port !== port || c.frames.length >= c.count) continue;
      c.frames.push({ data: data.slice(), time });
      if (c.frames.length >= c.count) c.done();
    }
  }

  /** Records what the captured dummy ports of `dp` transmitted since the last look. */
  collectTransmitted(dp: Datapath): void {
    if (!this.active(dp.name)) return;
    for (const [key, seen] of this.#txSeen) {
      const [datapath, port] = key.split("\0");
      if (datapath !== dp.name) continue;
      let now: number;
      let frames: Uint8Array[];
      try {
        now = dp.portStats(port).tx_packets;
        frames = dp.dummyPort(port).transmitted();
      } catch {
        continue; // port gone or not a dummy port: nothing to take
      }
      this.#txSeen.set(key, now);
      const fresh = Math.min(now - seen, frames.length);
      for (let i = frames.length - fresh; i < frames.length; i++) {
        this.record(datapath, port, frames[i]);
      }
    }
  }
}
