/**
 * The cases of the bench matrix (`deno task bench --only=matrix`): what
 * traffic each replays and which datapath flows it installs, the same for
 * deno-dpif and for OVS-DPDK. Flows are produced one at a time (a million
 * flow strings at once would be hundreds of MB of garbage).
 *
 * The numbered cases are the performance issue's: (1) 1,000 flows with
 * output, EMC on and off; (2) 10,000 and 100,000 flows over 10 masks; (3)
 * VXLAN tnl_push then output; (4) VXLAN tnl_pop, a second lookup on the
 * tunnel metadata, output; (5) set(ipv4(src,ttl)) then output. The curve
 * adds 1; 10,000; 100,000 and 1,000,000 exact-match flows (1,000 is case
 * (1)) and 4, 16 and 64 masks over 10,000 flows (1 mask is the 10,000-flow
 * point, 10 masks case (2)).
 *
 * @module
 */

import {
  BENCH_OUT_PORT,
  exactFlowAt,
  exactOpenFlowAt,
  maskedFlowAt,
  SET_IPV4_ACTIONS,
  udpFlowFrames,
  VXLAN_PUSH_ACTIONS,
  vxlanFrames,
  vxlanPopFlows,
} from "./datapath_bench.ts";
import { DEFAULT_EMC_ENTRIES } from "../datapath/pipeline.ts";
import { EMC_DEFAULT_ENTRIES } from "../datapath/emc.ts";

/** The captures the matrix replays. */
export type TrafficName = "udp1" | "udp1k" | "udp10k" | "udp100k" | "vxlan1k";

/** Packets (one per distinct flow) in each capture. */
export const TRAFFIC_PACKETS: Record<TrafficName, number> = {
  udp1: 1,
  udp1k: 1000,
  udp10k: 10_000,
  udp100k: 100_000,
  vxlan1k: 1000,
};

/** One row of the matrix. */
export interface MatrixCase {
  /** Row name. */
  name: string;
  /** What the flows do, for the note. */
  note: string;
  /** The capture replayed into port 1. */
  traffic: TrafficName;
  /** Flows installed. */
  flowCount: number;
  /** Flow `i` as `[match, actions]` in OVS datapath flow syntax. */
  flowAt(i: number): [string, string];
  /**
   * Exact-match cache on (the default) or off on OVS-DPDK's side, and
   * whether the case is about it.
   */
  emc: boolean;
  /**
   * Exact-match cache entries on deno-dpif's side. Default: the service's
   * own default (DEFAULT_EMC_ENTRIES in datapath/pipeline.ts: 0, off, since
   * the megaflow classifier's signature cache made the EMC cost more than
   * it saves), so each side runs as it is configured out of the box. Case
   * (1) sets it, being about EMC hits (8192, OVS's size) and without them.
   * Measured on the PMD (CPU ns per packet, 8192 entries then off, medians
   * of 3, 2026-11-23): (2) 569 -> 339, (3) 264 -> 218, (4) 408 -> 380,
   * (5) 213 -> 199.
   */
  emcEntries?: number;
  /**
   * OpenFlow rule `i` that makes OVS install the same datapath flows, for
   * cases OVS's bridge-less datapath cannot run (EMC off needs a bridge).
   */
  openflowAt?: (i: number) => string;
  /** Curve points this measurement also is (printed as extra rows). */
  alsoCurve?: string[];
  /** In the `--quick` run. */
  quick?: boolean;
}

const OUT = String(BENCH_OUT_PORT);
const POP_FLOWS = vxlanPopFlows();

/** Every case in the order the matrix runs them (grouped by capture). */
export function matrixCases(): MatrixCase[] {
  return [
    {
      name: "(1) 1k flows, output",
      note: "exact match, output",
      traffic: "udp1k",
      flowCount: 1000,
      flowAt: (i) => exactFlowAt(i, OUT),
      emc: true,
      emcEntries: EMC_DEFAULT_ENTRIES,
      alsoCurve: ["curve: 1k flows"],
      quick: true,
    },
    {
      name: "(1) 1k flows, output, EMC off",
      note: "megaflow classifier only",
      traffic: "udp1k",
      flowCount: 1000,
      flowAt: (i) => exactFlowAt(i, OUT),
      emc: false,
      emcEntries: 0,
      openflowAt: exactOpenFlowAt,
    },
    {
      name: "(3) vxlan tnl_push+output",
      note: "tnl_push, output",
      traffic: "udp1k",
      flowCount: 1000,
      flowAt: (i) => exactFlowAt(i, VXLAN_PUSH_ACTIONS),
      emc: true,
    },
    {
      name: "(5) set(ipv4(src,ttl))+output",
      note: "set src+ttl, checksum, output",
      traffic: "udp1k",
      flowCount: 1000,
      flowAt: (i) => exactFlowAt(i, SET_IPV4_ACTIONS),
      emc: true,
    },
    {
      name: "(4) vxlan tnl_pop+lookup+output",
      note: "tnl_pop, recirculate, match on tunnel metadata, output; 1k inner flows",
      traffic: "vxlan1k",
      flowCount: POP_FLOWS.length,
      flowAt: (i) => POP_FLOWS[i],
      emc: true,
    },
    {
      name: "curve: 1 flow",
      note: "exact match, output",
      traffic: "udp1",
      flowCount: 1,
      flowAt: (i) => exactFlowAt(i, OUT),
      emc: true,
    },
    {
      name: "(2) 10k flows/10 masks",
      note: "gen_masks.py scheme, output",
      traffic: "udp10k",
      flowCount: 10_000,
      flowAt: (i) => maskedFlowAt(i, 10, OUT),
      emc: true,
      quick: true,
    },
    {
      name: "curve: 10k flows",
      note: "exact match (1 mask), output",
      traffic: "udp10k",
      flowCount: 10_000,
      flowAt: (i) => exactFlowAt(i, OUT),
      emc: true,
      alsoCurve: ["curve: 1 mask (10k flows)"],
    },
    ...[4, 16, 64].map((masks): MatrixCase => ({
      name: `curve: ${masks} masks (10k flows)`,
      note: `${masks} masks, output`,
      traffic: "udp10k",
      flowCount: 10_000,
      flowAt: (i) => maskedFlowAt(i, masks, OUT),
      emc: true,
    })),
    {
      name: "(2) 100k flows/10 masks",
      note: "gen_masks.py scheme, output",
      traffic: "udp100k",
      flowCount: 100_000,
      flowAt: (i) => maskedFlowAt(i, 10, OUT),
      emc: true,
    },
    {
      name: "curve: 100k flows",
      note: "exact match, output",
      traffic: "udp100k",
      flowCount: 100_000,
      flowAt: (i) => exactFlowAt(i, OUT),
      emc: true,
    },
    {
      name: "curve: 1M flows",
      note: "exact match, output; the traffic hits 100k of them",
      traffic: "udp100k",
      flowCount: 1_000_000,
      flowAt: (i) => exactFlowAt(i, OUT),
      emc: true,
    },
  ];
}

/** Exact-match cache entries deno-dpif runs case `c` with. */
export function ourEmcEntries(c: MatrixCase): number {
  return c.emcEntries ?? DEFAULT_EMC_ENTRIES;
}

/** The frames of a capture. */
export function trafficFrames(name: TrafficName): Uint8Array[] {
  if (name === "vxlan1k") return vxlanFrames(udpFlowFrames(1000));
  return udpFlowFrames(TRAFFIC_PACKETS[name]);
}

/** A case's flows, one `MATCH ACTIONS` line each (OVS dpctl/add-flows file format). */
export function* flowLines(c: MatrixCase): Generator<string> {
  for (let i = 0; i < c.flowCount; i++) {
    const [match, actions] = c.flowAt(i);
    yield `${match} ${actions}`;
  }
}
