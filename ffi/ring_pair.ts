/**
 * Two ethdev ports joined back to back by two rte_rings: what one transmits
 * the other receives (`rte_eth_from_rings`). A NIC-free wire for tests,
 * benchmarks and, later, for linking datapaths in one process.
 *
 * @module
 */

import { cString, hotplugRemove } from "./eal.ts";
import { loadDpdk } from "./loader.ts";
import { check } from "./status.ts";

/** `RING_F_SP_ENQ | RING_F_SC_DEQ`: one producer, one consumer per ring. */
const RING_SINGLE_PRODUCER_CONSUMER = 0x0001 | 0x0002;

/** Two devices `a` and `b`: a's tx ring is b's rx ring and the reverse. */
export class RingPair {
  /** Device name of the first end, `net_ring_<a>` (give it to a DpdkPort as devargs). */
  readonly a: string;
  /** Device name of the second end. */
  readonly b: string;
  readonly #rings: Deno.PointerObject[];
  #destroyed = false;

  private constructor(a: string, b: string, rings: Deno.PointerObject[]) {
    this.a = `net_ring_${a}`; // rte_eth_from_rings names the device net_ring_<name>
    this.b = `net_ring_${b}`;
    this.#rings = rings;
  }

  /**
   * Creates the two rings (`size` slots, a power of two; size - 1 usable)
   * and the two devices `net_ring_<a>` and `net_ring_<b>` (names unique in the process).
   * The EAL must be up. Throws a DpdkError, or a RangeError for a bad size.
   */
  static create(a: string, b: string, size = 1024): RingPair {
    if (!(Number.isInteger(size) && size >= 2 && (size & (size - 1)) === 0)) {
      throw new RangeError(`ring size must be a power of two >= 2, got ${size}`);
    }
    const { ring, netRing } = loadDpdk();
    const rings: Deno.PointerObject[] = [];
    try {
      for (const suffix of ["ab", "ba"]) {
        rings.push(check(
          "rte_ring_create",
          ring.rte_ring_create(cString(`${a}_${suffix}`), size, -1, RING_SINGLE_PRODUCER_CONSUMER),
          { detail: `${a}_${suffix}` },
        ));
      }
      const ab = pointerArray(rings[0]);
      const ba = pointerArray(rings[1]);
      check("rte_eth_from_rings", netRing.rte_eth_from_rings(cString(a), ba, 1, ab, 1, 0), {
        errnoFrom: "rte_errno",
        detail: a,
      });
      try {
        check("rte_eth_from_rings", netRing.rte_eth_from_rings(cString(b), ab, 1, ba, 1, 0), {
          errnoFrom: "rte_errno",
          detail: b,
        });
      } catch (error) {
        hotplugRemove(`net_ring_${a}`);
        throw error;
      }
    } catch (error) {
      for (const r of rings) ring.rte_ring_free(r);
      throw error;
    }
    return new RingPair(a, b, rings);
  }

  /**
   * Removes both devices and frees the rings. Close the DpdkPorts on them
   * first (closing drains the rings). Throws a DpdkError.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    hotplugRemove(this.a);
    hotplugRemove(this.b);
    for (const r of this.#rings) loadDpdk().ring.rte_ring_free(r);
  }
}

function pointerArray(pointer: Deno.PointerObject): BigUint64Array {
  return new BigUint64Array([BigInt(Deno.UnsafePointer.value(pointer))]);
}
