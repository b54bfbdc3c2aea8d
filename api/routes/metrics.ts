/**
 * `GET /metrics`: datapath and port counters in the Prometheus text format
 * (version 0.0.4), labelled by datapath, port and drop reason.
 *
 * @module
 */

import { Hono } from "hono";
import type { AppContext } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";

const DATAPATH_COUNTERS: [string, string, string][] = [
  ["n_hit", "dpif_hit_total", "Packets that matched a flow."],
  ["n_missed", "dpif_missed_total", "Packets that matched no flow."],
  ["n_lost", "dpif_lost_total", "Upcalls that could not be queued."],
  ["n_mask_hit", "dpif_mask_hit_total", "Masks visited by hits."],
  ["n_emc_hit", "dpif_emc_hit_total", "Hits in the exact-match cache."],
  ["n_megaflow_hit", "dpif_megaflow_hit_total", "Hits in the megaflow classifier."],
];

const PORT_COUNTERS = [
  "rx_packets",
  "rx_bytes",
  "rx_dropped",
  "rx_errors",
  "tx_packets",
  "tx_bytes",
  "tx_dropped",
  "tx_errors",
] as const;

/** Route `/metrics` (mount at "/"). */
export function metricsRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  app.get("/metrics", (c) => {
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return c.body(renderMetrics(ctx));
  });
  app.all("/metrics", methodNotAllowed(["GET"]));
  return app;
}

/** Renders every datapath's metrics as Prometheus text. */
export function renderMetrics(ctx: AppContext): string {
  const registry = ctx.control.registry;
  const series = new Map<string, { help: string; type: string; lines: string[] }>();
  const add = (name: string, type: string, help: string, labels: string, value: number) => {
    let entry = series.get(name);
    if (entry === undefined) series.set(name, entry = { help, type, lines: [] });
    entry.lines.push(`${name}{${labels}} ${Number.isFinite(value) ? value : 0}`);
  };
  for (const name of registry.names()) {
    const dp = registry.open(name);
    const stats = dp.stats() as unknown as Record<string, unknown> & {
      drops: Record<string, number>;
      pool: { capacity: number; available: number; in_use: number };
    };
    const dpLabel = `datapath="${escapeLabel(name)}"`;
    for (const [field, metric, help] of DATAPATH_COUNTERS) {
      add(metric, "counter", help, dpLabel, Number(stats[field] ?? 0));
    }
    add("dpif_flows", "gauge", "Flows installed.", dpLabel, Number(stats.n_flows ?? 0));
    add("dpif_masks", "gauge", "Masks in the classifier.", dpLabel, Number(stats.n_masks ?? 0));
    for (const [reason, count] of Object.entries(stats.drops ?? {})) {
      add(
        "dpif_drops_total",
        "counter",
        "Packets dropped, by reason.",
        `${dpLabel},reason="${escapeLabel(reason)}"`,
        count,
      );
    }
    add("dpif_pool_buffers", "gauge", "Packet buffers in the pool.", dpLabel, stats.pool.capacity);
    add("dpif_pool_in_use", "gauge", "Packet buffers in use.", dpLabel, stats.pool.in_use);
    add(
      "dpif_upcalls_queued",
      "gauge",
      "Upcalls waiting to be read.",
      dpLabel,
      dp.upcalls.size,
    );
    for (const port of dp.listPorts()) {
      const portStats = dp.portStats(port.port_no);
      const labels = `${dpLabel},port="${escapeLabel(port.name)}",port_no="${port.port_no}"`;
      for (const counter of PORT_COUNTERS) {
        add(
          `dpif_port_${counter}_total`,
          "counter",
          `Port ${counter}.`,
          labels,
          portStats[counter],
        );
      }
    }
  }
  let out = "";
  for (const [name, entry] of series) {
    out += `# HELP ${name} ${entry.help}\n# TYPE ${name} ${entry.type}\n`;
    out += entry.lines.join("\n") + "\n";
  }
  return out;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
