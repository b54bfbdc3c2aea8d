/**
 * What the action executor needs from its surroundings: the contract
 * between {@linkcode executeActions} (datapath/execute/executor.ts) and the
 * pipeline that runs it (one per polling thread).
 *
 * Ownership: `output` and `recirculate` take every packet of the batch they
 * are given and leave it empty; `upcall` copies one packet and leaves it in
 * place. The executor never keeps a batch it borrowed: it returns it with
 * `releaseBatch`, empty.
 *
 * @module
 */

import type { UserspaceAction } from "../action.ts";
import type { PacketBatch } from "../packet_batch.ts";

/** Services the action executor calls; implemented by the pipeline. */
export interface ExecutionContext {
  /**
   * Transmit all packets of batch on port `port` (ownership moves; empties
   * the batch). Missing port: the context frees and counts DROP_INVALID_PORT.
   */
  output(port: number, batch: PacketBatch): void;
  /**
   * Queue the batch for another pass through the pipeline (ownership moves;
   * empties the batch). Metadata (recirc_id, in_port, tunnel words) is
   * already set. Depth limits are the context's job.
   */
  recirculate(batch: PacketBatch): void;
  /**
   * Queue an action upcall for packet i (the context copies the bytes; the
   * packet stays in the batch).
   */
  upcall(batch: PacketBatch, i: number, action: UserspaceAction): void;
  /** Count `count` drops for reason (DROP_* from datapath/drop_reason.ts). */
  drop(reason: number, count: number): void;
  /**
   * Tunnel vport type of port N ("vxlan" | "geneve" | "gre") with its UDP
   * dst port, or null if N is not a tunnel port. Called once per batch.
   */
  tunnelPort(port: number): { type: "vxlan" | "geneve" | "gre"; dstPort: number } | null;
  /**
   * A spare empty batch over the same pool for clones/splits (the context
   * recycles them: `releaseBatch`).
   */
  borrowBatch(): PacketBatch;
  /** Gives back a batch from `borrowBatch`; the executor returns it empty. */
  releaseBatch(batch: PacketBatch): void;
}
