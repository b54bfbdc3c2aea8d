/**
 * A built-in learning switch, the client dpif.h's "Typical Usage" describes:
 * it reads miss upcalls, learns which port each source MAC lives on (with
 * aging), installs an exact flow for packets to a known unicast destination
 * and executes the packet there, and floods packets to unknown, broadcast
 * or multicast destinations (executed only, no flow, so the reply can still
 * be learned).
 *
 * Flows it installs are not persisted: they are learned state. When a MAC
 * moves to another port or ages out, the flows sending to it are deleted.
 *
 * Slow path: runs on upcalls only, allocates freely.
 *
 * @module
 */

import type { Datapath } from "../datapath/datapath.ts";
import type { Upcall } from "../datapath/upcall_queue.ts";
import { formatFlowKey } from "../datapath/odp/key_format.ts";
import { type Logger, silentLogger } from "./logger.ts";

/** Options for {@linkcode LearningSwitch}. */
export interface LearningSwitchOptions {
  /** The datapath to switch for. Required. */
  datapath: Datapath;
  /** How long a learned MAC is kept without being seen, ms. Default 300,000. */
  agingMs?: number;
  /** Upcalls handled per read. Default 64. */
  batch?: number;
  /** Structured logger. Default: silent. */
  logger?: Logger;
  /** Clock in ms (tests). Default Date.now. */
  now?: () => number;
}

/** A learned MAC address. */
export interface MacEntry {
  /** Port number it was last seen on. */
  port: number;
  /** When it was last seen (ms). */
  seen: number;
}

/** What {@linkcode LearningSwitch.handle} did with the upcalls it was given. */
export interface LearningResult {
  /** Packets sent to a known port (a flow was installed). */
  forwarded: number;
  /** Packets flooded. */
  flooded: number;
  /** Upcalls ignored (not a miss, too short, or hairpin). */
  ignored: number;
}

/** A MAC learning switch over one datapath's upcalls. */
export class LearningSwitch {
  readonly #dp: Datapath;
  readonly #agingMs: number;
  readonly #batch: number;
  readonly #log: Logger;
  readonly #now: () => number;
  /** MAC (12 hex digits) -> where it was seen. */
  readonly #macs = new Map<string, MacEntry>();
  /** MAC -> UFIDs of the flows that send to it. */
  readonly #flowsTo = new Map<string, Set<string>>();
  #stop: AbortController | null = null;
  #loop: Promise<void> | null = null;

  /**
   * Creates the switch (not started).
   * @throws {RangeError} for a non-positive agingMs or batch.
   */
  constructor(options: LearningSwitchOptions) {
    this.#dp = options.datapath;
    this.#agingMs = options.agingMs ?? 300_000;
    this.#batch = options.batch ?? 64;
    if (!(this.#agingMs > 0) || !(this.#batch >= 1)) {
      throw new RangeError("LearningSwitch: agingMs and batch must be positive");
    }
    this.#log = options.logger ?? silentLogger();
    this.#now = options.now ?? Date.now;
  }

  /** Enables upcalls and starts reading them until {@linkcode stop}. */
  start(): void {
    if (this.#loop !== null) return;
    this.#dp.setUpcallsEnabled(true);
    const stop = new AbortController();
    this.#stop = stop;
    this.#loop = this.#run(stop.signal);
  }

  /** Stops reading upcalls (they stay enabled) and waits for the loop to end. */
  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#loop;
    this.#stop = null;
    this.#loop = null;
  }

  /** The learned MAC table (a copy), MACs as "aa:bb:cc:dd:ee:ff". */
  macTable(): Map<string, MacEntry> {
    const out = new Map<string, MacEntry>();
    for (const [mac, entry] of this.#macs) out.set(formatMac(mac), { ...entry });
    return out;
  }

  /** Handles a batch of upcalls now (the loop calls this; tests may too). */
  handle(upcalls: readonly Upcall[]): LearningResult {
    const result: LearningResult = { forwarded: 0, flooded: 0, ignored: 0 };
    const now = this.#now();
    this.#expire(now);
    for (const upcall of upcalls) {
      try {
        this.#handleOne(upcall, now, result);
      } catch (error) {
        result.ignored++;
        this.#log.warn("learning switch: upcall not handled", { in_port: upcall.inPort, error });
      }
    }
    return result;
  }

  async #run(signal: AbortSignal): Promise<void> {
    const upcalls = this.#dp.upcalls;
    while (!signal.aborted) {
      const batch = upcalls.read(this.#batch);
      if (batch.length > 0) {
        this.handle(batch);
        continue;
      }
      await upcalls.waitReadable(1000, signal);
      this.#expire(this.#now());
    }
  }

  #handleOne(upcall: Upcall, now: number, result: LearningResult): void {
    const packet = upcall.packet;
    if (upcall.type !== "miss" || packet.length < 14) {
      result.ignored++;
      return;
    }
    const dst = macHex(packet, 0);
    const src = macHex(packet, 6);
    const inPort = upcall.inPort;
    if ((packet[6] & 1) === 0) this.#learn(src, inPort, now);
    const known = (packet[0] & 1) === 0 ? this.#macs.get(dst) : undefined;
    const metadata = `in_port(${inPort})`;
    if (known !== undefined) {
      if (known.port === inPort) {
        result.ignored++; // destination lives on the input port: drop, as a switch does
        return;
      }
      const actions = String(known.port);
      const { ufid } = this.#dp.putFlow({
        flow: formatFlowKey(upcall.key, null),
        actions,
        create: true,
        modify: true,
      });
      let set = this.#flowsTo.get(dst);
      if (set === undefined) this.#flowsTo.set(dst, set = new Set());
      set.add(ufid);
      this.#dp.execute(packet, actions, metadata);
      result.forwarded++;
      return;
    }
    const ports = this.#dp.listPorts()
      .filter((p) => p.port_no !== inPort && p.port_no !== 0)
      .map((p) => p.port_no);
    if (ports.length > 0) this.#dp.execute(packet, ports.join(","), metadata);
    result.flooded++;
  }

  #learn(mac: string, port: number, now: number): void {
    const entry = this.#macs.get(mac);
    if (entry !== undefined && entry.port !== port) {
      this.#forget(mac, "moved");
    }
    if (entry === undefined || entry.port !== port) {
      this.#log.debug("learned", { mac: formatMac(mac), port });
    }
    this.#macs.set(mac, { port, seen: now });
  }

  #expire(now: number): void {
    for (const [mac, entry] of this.#macs) {
      if (now - entry.seen > this.#agingMs) this.#forget(mac, "aged");
    }
  }

  #forget(mac: string, why: string): void {
    this.#macs.delete(mac);
    const flows = this.#flowsTo.get(mac);
    this.#flowsTo.delete(mac);
    for (const ufid of flows ?? []) {
      try {
        this.#dp.deleteFlow(ufid);
      } catch {
        // already deleted by someone else
      }
    }
    this.#log.debug("forgot", { mac: formatMac(mac), why, flows: flows?.size ?? 0 });
  }
}

function macHex(bytes: Uint8Array, at: number): string {
  let out = "";
  for (let i = at; i < at + 6; i++) out += bytes[i].toString(16).padStart(2, "0");
  return out;
}

function formatMac(hex: string): string {
  return hex.match(/../g)!.join(":");
}
