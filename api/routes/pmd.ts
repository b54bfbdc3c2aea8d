/**
 * PMD threads of a datapath: `GET /v1/datapaths/{dp}/pmd` (per-thread
 * stats as pmd-stats-show: packets, batches, time per packet, EMC and
 * megaflow hits, misses, busy and idle time; and the latest flow-update
 * delay), `PUT` to restart them with `{threads, cpus, idle_iterations_before_nap,
 * nap_ms, short_nap_us, short_nap_for_ms, emc_entries}` (0 threads stops
 * them; a restart also picks up ports added since; emc_entries 0 turns the
 * exact-match cache off, the default). An idle PMD busy-polls
 * `idle_iterations_before_nap` empty iterations, then naps `short_nap_us`
 * at a time until it has been idle `short_nap_for_ms`, then `nap_ms` (see
 * datapath/pmd_worker.ts for what each costs and buys).
 *
 * Mounted by the app when the backend runs PMD threads
 * (`app.route("/v1/datapaths/:dp/pmd", pmdRoutes(ctx, pmdControl))`).
 *
 * @module
 */

import { Hono } from "hono";
import { z } from "zod";
import type { PmdControl } from "../../datapath/pmd_control.ts";
import type { PmdSet } from "../../datapath/pmd_set.ts";
import { DEFAULT_EMC_ENTRIES } from "../../datapath/pipeline.ts";
import type { AppContext } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";
import { readBody } from "../validate.ts";

/** Body of `PUT .../pmd`. */
export const putPmdBody = z.strictObject({
  threads: z.number().int().min(0).max(64).optional(),
  cpus: z.array(z.array(z.number().int().min(0).max(1023))).max(64).optional(),
  idle_iterations_before_nap: z.number().int().min(0).max(1e9).optional(),
  nap_ms: z.number().min(0).max(1000).optional(),
  short_nap_us: z.number().int().min(0).max(1_000_000).optional(),
  short_nap_for_ms: z.number().min(0).max(3_600_000).optional(),
  emc_entries: z.number().int().min(0).max(1 << 20).refine(
    (n) => n === 0 || (n >= 2 && (n & (n - 1)) === 0),
    "emc_entries must be 0 (off) or a power of two >= 2",
  ).optional(),
});

/** Routes under `/v1/datapaths/:dp/pmd`. */
export function pmdRoutes(ctx: Pick<AppContext, "logger">, pmds: PmdControl): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    const dp = c.req.param("dp")!;
    return c.json(describe(dp, pmds.get(dp), pmds));
  });
  app.put("/", async (c) => {
    const dp = c.req.param("dp")!;
    pmds.get(dp); // ENOENT before the body is looked at
    const body = await readBody(c.req.raw, putPmdBody);
    const set = await pmds.configure(dp, {
      threads: body.threads,
      cpus: body.cpus,
      idleIterationsBeforeNap: body.idle_iterations_before_nap,
      napMs: body.nap_ms,
      shortNapUs: body.short_nap_us,
      shortNapForMs: body.short_nap_for_ms,
      emcEntries: body.emc_entries,
    });
    ctx.logger.info("pmd threads configured", { datapath: dp, threads: set?.threads ?? 0 });
    return c.json(describe(dp, set, pmds));
  });
  app.all("/", methodNotAllowed(["GET", "PUT"]));
  return app;
}

function describe(dp: string, set: PmdSet | undefined, pmds: PmdControl) {
  return {
    datapath: dp,
    threads: set?.threads ?? 0,
    emc_entries: pmds.options(dp).emcEntries ?? DEFAULT_EMC_ENTRIES,
    last_update_delay_ms: set?.lastUpdateDelayMs ?? -1,
    pmds: set?.stats() ?? [],
  };
}
