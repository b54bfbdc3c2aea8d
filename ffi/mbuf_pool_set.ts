/**
 * mbuf pools per NUMA socket: one {@linkcode MbufPool} for each socket a
 * port (or a PMD thread) lives on, created on first use in that socket's
 * memory, so a NIC's rx descriptors and its packets stay on its own node
 * (as OVS-DPDK keeps one pool per socket and MTU).
 *
 * A port's socket is `rte_eth_dev_socket_id`; virtual devices and
 * single-node machines answer SOCKET_ID_ANY (-1) or 0; SOCKET_ID_ANY maps to
 * the socket of the thread that asks ({@linkcode MbufPoolSet.callerSocket}). Pool usage per pool
 * is in {@linkcode MbufPoolSet.usage}.
 *
 * @module
 */

import { loadDpdk } from "./loader.ts";
import { MbufPool, type MbufPoolOptions } from "./mbuf_pool.ts";

/** `SOCKET_ID_ANY`: any NUMA socket. */
export const SOCKET_ID_ANY = -1;

/** One pool's usage, as the stats report it. */
export interface PoolUsage {
  /** The mempool's name. */
  name: string;
  /** The NUMA socket its memory is on. */
  socket: number;
  capacity: number;
  available: number;
  in_use: number;
}

/** Options of {@linkcode MbufPoolSet}: those of every pool it creates, and a name prefix. */
export interface MbufPoolSetOptions extends Omit<MbufPoolOptions, "name" | "socketId"> {
  /** Pools are named `<prefix>_s<socket>` (DPDK allows 25 characters). Default `dpif<pid>`. */
  namePrefix?: string;
}

/** mbuf pools by NUMA socket, created on demand. */
export class MbufPoolSet {
  readonly #options: MbufPoolSetOptions;
  readonly #prefix: string;
  readonly #pools = new Map<number, MbufPool>();
  #closed = false;

  /** Creates an empty set; no pool exists until {@linkcode forSocket} asks for one. */
  constructor(options: MbufPoolSetOptions = {}) {
    this.#options = { ...options };
    this.#prefix = options.namePrefix ?? `dpif${Deno.pid}`;
    if (!/^[A-Za-z0-9_]{1,20}$/.test(this.#prefix)) {
      throw new RangeError(
        `MbufPoolSet namePrefix must be 1..20 of [A-Za-z0-9_], got '${this.#prefix}'`,
      );
    }
  }

  /** The NUMA sockets the EAL found (the EAL must be up). */
  static sockets(): number[] {
    const { eal } = loadDpdk();
    const count = eal.rte_socket_count();
    return Array.from({ length: count }, (_, i) => eal.rte_socket_id_by_idx(i));
  }

  /**
   * The pool for `socket` (SOCKET_ID_ANY: the calling thread's socket),
   * created on first use. Throws a RangeError for a socket the machine does
   * not have, what {@linkcode MbufPool.create} throws (a DpdkError when DPDK
   * has no memory there), and an Error once closed.
   */
  forSocket(socket: number): MbufPool {
    if (this.#closed) throw new Error("MbufPoolSet is closed");
    const node = socket === SOCKET_ID_ANY ? MbufPoolSet.callerSocket() : socket;
    const existing = this.#pools.get(node);
    if (existing !== undefined) return existing;
    const sockets = MbufPoolSet.sockets();
    if (!sockets.includes(node)) {
      throw new RangeError(`no NUMA socket ${node}: this machine has ${sockets.join(", ")}`);
    }
    const pool = MbufPool.create({
      ...this.#options,
      name: `${this.#prefix}_s${node}`,
      socketId: node,
    });
    this.#pools.set(node, pool);
    return pool;
  }

  /**
   * The calling thread's NUMA socket: its lcore's, or the first socket for
   * a thread the EAL does not know (rte_socket_id answers SOCKET_ID_ANY).
   */
  static callerSocket(): number {
    const socket = loadDpdk().eal.rte_socket_id() | 0;
    return socket >= 0 ? socket : MbufPoolSet.sockets()[0];
  }

  /** The NUMA socket of an ethdev port (SOCKET_ID_ANY when the device does not say). */
  static socketOfPort(portId: number): number {
    return loadDpdk().ethdev.rte_eth_dev_socket_id(portId);
  }

  /** The pool for the socket of ethdev `portId` (see {@linkcode forSocket}). */
  forPort(portId: number): MbufPool {
    return this.forSocket(MbufPoolSet.socketOfPort(portId));
  }

  /** Usage of every pool, by socket. */
  usage(): PoolUsage[] {
    return [...this.#pools].sort(([a], [b]) => a - b).map(([socket, pool]) => ({
      name: pool.name,
      socket,
      capacity: pool.capacity,
      available: pool.available(),
      in_use: pool.inUse(),
    }));
  }

  /**
   * Closes every pool. Throws a RangeError naming every pool that still had
   * mbufs out (a leak), after closing the others; idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const leaks: string[] = [];
    for (const pool of this.#pools.values()) {
      try {
        pool.close();
      } catch (error) {
        leaks.push((error as Error).message);
      }
    }
    this.#pools.clear();
    if (leaks.length > 0) throw new RangeError(leaks.join("; "));
  }
}
