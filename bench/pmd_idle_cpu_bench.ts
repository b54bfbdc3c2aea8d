/**
 * What an idle PMD costs: CPU % of the PMD Worker's thread while its
 * datapath receives nothing, for the service's options and any others.
 * The thread is the one of this process whose CPU time (utime + stime in
 * /proc/self/task/TID/stat, 10 ms ticks) grows the most over the window;
 * with nothing else running in the process that is the PMD.
 *
 * Run alone: `deno run -A bench/pmd_idle_cpu_bench.ts [seconds]
 * [--settle-ms=N] [--busy | --nap-ms=N --short-nap-us=N --short-nap-for-ms=N]`
 * (defaults: 3 s, measured from 200 ms after the start, the service's
 * options; `--settle-ms=1500` skips the service's first idle second of
 * short naps).
 *
 * @module
 */

import { Datapath } from "../datapath/datapath.ts";
import { PmdSet, type PmdSetOptions } from "../datapath/pmd_set.ts";
import { DPDK_PMD_OPTIONS } from "../api/dpdk_backend.ts";
import { registerDpdkPortType } from "../ffi/dpdk_port_type.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { MbufPool } from "../ffi/mbuf_pool.ts";
import { RingPair } from "../ffi/ring_pair.ts";
import { setThreadAffinity, threadAffinity } from "../ffi/thread_affinity.ts";

const TICKS_PER_SECOND = 100;

/** CPU ticks (utime + stime) of every thread of this process, by thread id. */
export function threadTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const entry of Deno.readDirSync("/proc/self/task")) {
    try {
      const stat = Deno.readTextFileSync(`/proc/self/task/${entry.name}/stat`);
      // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks.set(Number(entry.name), Number(fields[11]) + Number(fields[12]));
    } catch { /* the thread ended meanwhile */ }
  }
  return ticks;
}

/**
 * Starts one PMD with `pmd` on an idle net_ring port, lets it settle
 * (`settleMs`), then returns the busiest thread's CPU % over `seconds`.
 * Returns NaN (with the reason on stderr) without DPDK.
 */
export async function measurePmdIdleCpu(
  pmd: PmdSetOptions,
  seconds = 3,
  settleMs = 200,
  cpus: number[] = threadAffinity(),
): Promise<number> {
  const availability = dpdkAvailability();
  if (!availability.available) {
    console.error(`bench: skipping the PMD idle CPU: ${availability.reason}`);
    return NaN;
  }
  initEal({ cores: [cpus[0]] });
  registerDpdkPortType();
  const tag = `pi${Deno.pid % 100000}_${Date.now() % 100000}`;
  const pool = MbufPool.create({ name: tag, capacity: 1023 });
  const wire = RingPair.create(`${tag}a`, `${tag}b`);
  const dp = new Datapath(`idle_${tag}`, { pool });
  const affinity = threadAffinity();
  setThreadAffinity([cpus[0]]);
  let pmds: PmdSet | undefined;
  try {
    dp.addPort({ name: "in", type: "dpdk", port_no: 1, options: { devargs: wire.a } });
    dp.setUpcallsEnabled(true);
    pmds = await PmdSet.start(dp, { ...pmd, threads: 1, cpus: [[cpus[1] ?? cpus[0]]] });
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const before = threadTicks();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const after = threadTicks();
    let busiest = 0;
    for (const [tid, ticks] of after) busiest = Math.max(busiest, ticks - (before.get(tid) ?? 0));
    return (busiest / TICKS_PER_SECOND / seconds) * 100;
  } finally {
    setThreadAffinity(affinity);
    await pmds?.stop();
    dp.close();
    wire.destroy();
    pool.close();
  }
}

if (import.meta.main) {
  const flag = (name: string) => {
    const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
    return arg === undefined ? undefined : Number(arg.slice(name.length + 3));
  };
  const pmd: PmdSetOptions = Deno.args.includes("--busy") ? { idleIterationsBeforeNap: 0 } : {
    ...DPDK_PMD_OPTIONS,
    ...(flag("nap-ms") !== undefined ? { napMs: flag("nap-ms") } : {}),
    ...(flag("short-nap-us") !== undefined ? { shortNapUs: flag("short-nap-us") } : {}),
    ...(flag("short-nap-for-ms") !== undefined ? { shortNapForMs: flag("short-nap-for-ms") } : {}),
  };
  const seconds = Number(Deno.args.find((a) => !a.startsWith("--")) ?? 3);
  const percent = await measurePmdIdleCpu(pmd, seconds, flag("settle-ms") ?? 200);
  console.log(`PMD idle CPU ${percent.toFixed(1)}% over ${seconds} s with ${JSON.stringify(pmd)}`);
}
