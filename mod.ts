/**
 * deno-dpif: a userspace packet datapath in TypeScript on Deno, with the
 * semantics of Open vSwitch's datapath interface (lib/dpif.h).
 *
 * - Datapaths hold ports (32-bit numbers, a local port 0 named after the
 *   datapath) and flows (key + mask + actions + stats, no priorities).
 * - Flows and actions are written in the OVS datapath flow syntax, the text
 *   `ovs-dpctl dump-flows` prints, or an equivalent JSON form.
 * - Packets move in batches of up to 32 through an exact-match cache, a
 *   megaflow classifier and an action executor; misses become upcalls.
 * - Ports are in-memory `dummy` ports, tunnel vports (`vxlan`, `geneve`,
 *   `gre`) or DPDK ethdev ports through Deno FFI.
 *
 * @example
 * ```ts
 * import { Datapath } from "./mod.ts";
 * const dp = new Datapath("dp0");
 * dp.addPort({ name: "p1", type: "dummy", port_no: 1 });
 * dp.addPort({ name: "p2", type: "dummy", port_no: 2 });
 * dp.putFlow({ flow: "in_port(1),eth_type(0x0800)", actions: "2" });
 * ```
 *
 * @module
 */

export {
  type ActionsSpec,
  Datapath,
  type DatapathOptions,
  type DatapathStats,
  type ExecuteMetadata,
  type FlowInfo,
  type FlowPutRequest,
  type FlowPutResult,
  type FlowSpec,
  type Operation,
  type OperationResult,
  type PortInfo,
} from "./datapath/datapath.ts";
export { DatapathRegistry } from "./datapath/registry.ts";
export { DpifError, type DpifErrorCode, OdpSyntaxError } from "./datapath/errors.ts";
export type { Action } from "./datapath/action.ts";
export type { Port, PortOptions, PortStats } from "./datapath/port.ts";
export type { PacketPool } from "./datapath/packet_pool.ts";
export { MemoryPool, type MemoryPoolOptions } from "./datapath/memory_pool.ts";
export { BATCH_SIZE, PacketBatch } from "./datapath/packet_batch.ts";
export { DROP_REASON_NAMES } from "./datapath/drop_reason.ts";
export { type FlowMatch, parseFlowKey } from "./datapath/odp/key_parse.ts";
export { formatFlowKey } from "./datapath/odp/key_format.ts";
export { parseActions } from "./datapath/odp/action_parse.ts";
export { formatActions } from "./datapath/odp/action_format.ts";
export { createApp } from "./api/app.ts";
