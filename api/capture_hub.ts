/**
 * Frames seen on ports, for `GET .../ports/{port}/capture`: a capture asks
 * for the next N frames of one port and waits up to a timeout.
 *
 * Frames reach the hub three ways: frames the API injects (receive) are
 * recorded directly; after each API call that processes packets (receive,
 * execute, operate) {@linkcode CaptureHub.collectTransmitted} takes the
 * frames that `dummy` ports transmitted meanwhile from their capture
 * buffers; and ports with a {@linkcode FrameTap} (`dpdk` ports) copy what
 * they receive and transmit into it, from whichever thread moves their
 * packets (the control thread or a PMD), while a capture of that port runs.
 * The hub switches a tap on when a capture starts, drains it every
 * {@linkcode TAP_DRAIN_MS} ms, and switches it off when the port's last
 * capture ends, so an idle tap costs the port one check per burst.
 *
 * @module
 */

import type { Datapath } from "../datapath/datapath.ts";
import { FrameTap } from "../datapath/frame_tap.ts";
import type { CapturedFrame } from "./pcap.ts";

/** How often running taps are drained, ms. */
export const TAP_DRAIN_MS = 5;

interface PendingCapture {
  datapath: string;
  port: string;
  count: number;
  frames: CapturedFrame[];
  done: () => void;
}

interface RunningTap {
  datapath: string;
  port: string;
  captures: number;
}

/** Active captures and the transmit counters they watch. */
export class CaptureHub {
  readonly #captures = new Set<PendingCapture>();
  /** Last seen tx_packets per "dp\0port", only for ports being captured. */
  readonly #txSeen = new Map<string, number>();
  /** Taps switched on, with how many captures use each. */
  readonly #taps = new Map<FrameTap, RunningTap>();
  #drainTimer: ReturnType<typeof setInterval> | undefined;

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
    const tap = portTap(dp, port);
    if (tap !== null) this.#startTap(tap, dp.name, port);
    const timer = setTimeout(finish, timeoutMs);
    signal?.addEventListener("abort", finish, { once: true });
    try {
      await finished;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      if (tap !== null) {
        this.#drainTaps(); // frames copied since the last tick
        this.#stopTap(tap);
      }
      this.#captures.delete(pending);
      if (![...this.#captures].some((c) => c.datapath === dp.name && c.port === port)) {
        this.#txSeen.delete(key);
      }
    }
    return pending.frames;
  }

  /** Records a frame seen on a port (called for frames the API injects) at `time` (default now). */
  record(datapath: string, port: string, data: Uint8Array, time = Date.now()): void {
    for (const c of this.#captures) {
      if (c.datapath !== datapath || c.port !== port || c.frames.length >= c.count) continue;
      c.frames.push({ data: data.slice(), time });
      if (c.frames.length >= c.count) c.done();
    }
  }

  #startTap(tap: FrameTap, datapath: string, port: string): void {
    const running = this.#taps.get(tap);
    if (running !== undefined) {
      running.captures++;
      return;
    }
    this.#taps.set(tap, { datapath, port, captures: 1 });
    tap.setActive(true);
    this.#drainTimer ??= setInterval(() => this.#drainTaps(), TAP_DRAIN_MS);
  }

  #stopTap(tap: FrameTap): void {
    const running = this.#taps.get(tap);
    if (running === undefined || --running.captures > 0) return;
    tap.setActive(false);
    tap.drain(); // what arrived after the last capture was satisfied
    this.#taps.delete(tap);
    if (this.#taps.size === 0) {
      clearInterval(this.#drainTimer);
      this.#drainTimer = undefined;
    }
  }

  #drainTaps(): void {
    for (const [tap, running] of this.#taps) {
      for (const frame of tap.drain()) {
        this.record(running.datapath, running.port, frame.data, frame.time);
      }
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

/** The port's FrameTap (dpdk ports have one), or null. */
function portTap(dp: Datapath, port: string): FrameTap | null {
  const tap = (dp.ports.byName(port) as { tap?: unknown } | undefined)?.tap;
  return tap instanceof FrameTap ? tap : null;
}
