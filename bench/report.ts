/**
 * The row every benchmark case produces, and the table / JSON printers.
 * Field names are public (`deno task bench --json` prints one row a line).
 *
 * @module
 */

/** One benchmark case's result. Rates are millions of packets (or operations) per second. */
export interface BenchRow {
  /** What was measured, e.g. "extract udp4" or "io net_pcap->net_null". */
  case: string;
  /** Our rate in Mpps (or M operations/s for non-packet cases); null for a row that is no rate. */
  mpps: number | null;
  /** dpdk-testpmd io forwarding on the same input in the same run, or null. */
  testpmd_mpps: number | null;
  /** Open vSwitch (DPDK) on the same input in the same run, or null. */
  ovs_mpps: number | null;
  /** mpps / testpmd_mpps, or null. */
  ratio_testpmd: number | null;
  /** mpps / ovs_mpps, or null. */
  ratio_ovs: number | null;
  /** CPU cycles (or nanoseconds, see `unit`) per packet, or null. */
  cycles_per_packet: number | null;
  /** Free-form note: the unit when not packets, what the figure includes. */
  note?: string;
  /** A figure that is not a rate (bytes per flow, MB), with its `unit`. */
  value?: number;
  /** Unit of `value`, e.g. "B/flow". */
  unit?: string;
}

/** Builds a row from our rate alone; peers and ratios are null. */
export function row(name: string, mpps: number, note?: string): BenchRow {
  return {
    case: name,
    mpps: round(mpps),
    testpmd_mpps: null,
    ovs_mpps: null,
    ratio_testpmd: null,
    ratio_ovs: null,
    cycles_per_packet: null,
    ...(note === undefined ? {} : { note }),
  };
}

/** A row whose figure is no rate: mpps and the peers null, the figure in `value` / `unit`. */
export function valueRow(name: string, value: number, unit: string, note?: string): BenchRow {
  return { ...row(name, 0, note), mpps: null, value, unit };
}

/**
 * Median of `values` (mean of the middle two for an even count).
 * @throws {RangeError} when there are none.
 */
export function median(values: number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Rounds to three decimals for printing. */
export function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Formats rows as a fixed-width text table. */
export function formatTable(rows: BenchRow[]): string {
  const header = ["case", "Mpps", "testpmd", "ovs", "x testpmd", "x ovs", "note"];
  const cells = rows.map((r) => [
    r.case,
    r.mpps === null ? `${r.value ?? "-"} ${r.unit ?? ""}`.trimEnd() : String(r.mpps),
    r.testpmd_mpps === null ? "-" : String(r.testpmd_mpps),
    r.ovs_mpps === null ? "-" : String(r.ovs_mpps),
    r.ratio_testpmd === null ? "-" : r.ratio_testpmd.toFixed(2),
    r.ratio_ovs === null ? "-" : r.ratio_ovs.toFixed(2),
    r.note ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/**
 * Runs `body(iterations)` repeatedly until at least `minMillis` have passed
 * and returns millions of iterations per second. `body` does `iterations`
 * units of work.
 */
export function measureMops(body: (iterations: number) => void, minMillis = 1000): number {
  body(1000); // warm up the JIT
  let iterations = 1000;
  for (;;) {
    const t0 = performance.now();
    body(iterations);
    const elapsed = performance.now() - t0;
    if (elapsed >= minMillis) return iterations / elapsed / 1000;
    iterations = Math.min(
      iterations * 4,
      Math.ceil(iterations * (minMillis * 1.2) / (elapsed + 1)),
    );
  }
}
