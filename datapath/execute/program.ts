/**
 * The compiled form of an action list: an array of {@linkcode Step}s built
 * once when a flow is installed (datapath/execute/compile.ts) and run on
 * whole batches by datapath/execute/executor.ts.
 *
 * Every step is an instance of the same class, so the executor's loop over
 * steps sees one object shape; `op` selects what the step does and the
 * other fields carry its (pre-checked) arguments.
 *
 * @module
 */

import type { UserspaceAction } from "../action.ts";
import type { TunnelTemplate } from "../tunnel/push.ts";
import type { SetProgram } from "./set_field.ts";

/** Free every packet and count `arg0` (a DROP_* reason). */
export const OP_DROP = 0;
/** Send to port `arg0` (a copy unless last). */
export const OP_OUTPUT = 1;
/** Apply `set`. */
export const OP_SET = 2;
/** Push a VLAN tag: TPID `arg0`, TCI `arg1`. */
export const OP_PUSH_VLAN = 3;
/** Pop the outer VLAN tag. */
export const OP_POP_VLAN = 4;
/** Push label stack entry `arg1` with ethertype `arg0`. */
export const OP_PUSH_MPLS = 5;
/** Pop a label stack entry, ethertype becomes `arg0`. */
export const OP_POP_MPLS = 6;
/** Prepend the `tunnel` template, in_port becomes `arg0`. */
export const OP_TUNNEL_PUSH = 7;
/** Pop the tunnel headers for tunnel port `arg0` and recirculate. */
export const OP_TUNNEL_POP = 8;
/** Action upcall with `userspace`. */
export const OP_USERSPACE = 9;
/** Set recirc_id `arg0` and recirculate (a copy unless last). */
export const OP_RECIRC = 10;
/** dp_hash from the 5-tuple with basis `arg0`; `arg1` 1 for symmetric. */
export const OP_HASH = 11;
/** Run `nested` on copies (on the originals when last). */
export const OP_CLONE = 12;
/** The next output sends at most `arg0` bytes. */
export const OP_TRUNC = 13;
/** Packets longer than `arg0` run `nested`, the others `nested2`. */
export const OP_CHECK_PKT_LEN = 14;

/**
 * Steps that change one packet in place and keep it (or drop it, counted):
 * what {@linkcode CompiledActions.directOutput} programs may hold before
 * their output.
 */
const IN_PLACE_OPS: ReadonlySet<number> = new Set([
  OP_SET,
  OP_HASH,
  OP_PUSH_VLAN,
  OP_POP_VLAN,
  OP_PUSH_MPLS,
  OP_POP_MPLS,
  OP_TUNNEL_PUSH,
]);

/** One compiled action. */
export class Step {
  /** What the step does: an OP_* constant. */
  readonly op: number;
  /** True when no step follows (outputs and recirc then take the originals). */
  last = false;
  /** First integer argument (see the OP_* constants). */
  readonly arg0: number;
  /** Second integer argument. */
  readonly arg1: number;
  /** OP_SET: the compiled set. */
  readonly set: SetProgram | null;
  /** OP_TUNNEL_PUSH: the checked header template. */
  readonly tunnel: TunnelTemplate | null;
  /** OP_USERSPACE: the action as given. */
  readonly userspace: UserspaceAction | null;
  /** OP_CLONE, OP_CHECK_PKT_LEN (greater): nested program. */
  readonly nested: CompiledActions | null;
  /** OP_CHECK_PKT_LEN (less or equal): nested program. */
  readonly nested2: CompiledActions | null;

  /** Builds a step; unused fields are 0 / null. */
  constructor(
    op: number,
    arg0 = 0,
    arg1 = 0,
    objects: {
      set?: SetProgram;
      tunnel?: TunnelTemplate;
      userspace?: UserspaceAction;
      nested?: CompiledActions;
      nested2?: CompiledActions;
    } = {},
  ) {
    this.op = op;
    this.arg0 = arg0;
    this.arg1 = arg1;
    this.set = objects.set ?? null;
    this.tunnel = objects.tunnel ?? null;
    this.userspace = objects.userspace ?? null;
    this.nested = objects.nested ?? null;
    this.nested2 = objects.nested2 ?? null;
  }
}

/** A compiled action list, ready for executeActions. Immutable except GRE sequence counters. */
export class CompiledActions {
  /** The steps, in order; never empty (an empty list compiles to one OP_DROP). */
  readonly steps: readonly Step[];
  /** True when the program is a single drop: callers may skip copying for it. */
  readonly dropsAll: boolean;
  /**
   * The port when the program is per-packet, in-place steps (set, hash,
   * push/pop VLAN or MPLS, tnl_push) ending in one output, else -1: the
   * pipeline runs such programs packet by packet (executor's applyInPlace)
   * and sends each packet straight to the port's tx batch, with no
   * sub-batch per flow.
   */
  readonly directOutput: number;

  /** Wraps steps, marking the last one. */
  constructor(steps: Step[]) {
    if (steps.length === 0) throw new RangeError("CompiledActions: no steps");
    steps[steps.length - 1].last = true;
    this.steps = steps;
    this.dropsAll = steps.length === 1 && steps[0].op === OP_DROP;
    const last = steps[steps.length - 1];
    let direct = last.op === OP_OUTPUT;
    for (let s = 0; s < steps.length - 1 && direct; s++) direct = IN_PLACE_OPS.has(steps[s].op);
    this.directOutput = direct ? last.arg0 : -1;
  }
}
