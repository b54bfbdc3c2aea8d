/**
 * Registers the `dpdk` port type with a {@linkcode PortFactory}, so that
 * `Datapath.addPort({ type: "dpdk", options: { devargs: "net_ring_x" } })`
 * opens an ethdev with {@linkcode DpdkPort.open}. The datapath's pool must be
 * an {@linkcode MbufPool} and the EAL must be up.
 *
 * @module
 */

import { DpifError } from "../datapath/errors.ts";
import { type PortFactory, portFactory } from "../datapath/port_factory.ts";
import { DpdkPort } from "./dpdk_port.ts";
import { MbufPool } from "./mbuf_pool.ts";

/**
 * Registers "dpdk" with `factory` (the process-wide one by default); does
 * nothing when the type is already registered. Ports built by it throw a
 * DpifError EINVAL when the datapath's pool is not an MbufPool, and what
 * {@linkcode DpdkPort.open} throws otherwise (EINVAL, ENODEV).
 */
export function registerDpdkPortType(factory: PortFactory = portFactory): void {
  if (factory.types().includes("dpdk")) return;
  factory.register("dpdk", (spec, context) => {
    if (!(context.pool instanceof MbufPool)) {
      throw new DpifError(
        "EINVAL",
        `dpdk port ${spec.name}: the datapath's packets are not in a DPDK mbuf pool ` +
          "(start the service with DPDK, or use type dummy)",
      );
    }
    return DpdkPort.open(spec.name, spec.options, context.pool);
  });
}
