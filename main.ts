/**
 * Entry point of `deno task start` and of the compiled `dpif` binary.
 *
 * With no arguments or with flags only, runs the service (see
 * `api/service.ts`; `--help` lists the flags). With a CLI verb first
 * (`show`, `dump-flows`, ...; `serve` runs the service), runs the `dpif`
 * CLI (`api/cli.ts`). The datapath backend is chosen in
 * `api/backend.ts` (`selectBackend`): dp0 with ports p1 and p2 on DPDK
 * (net_ring loopback devices polled by a PMD Worker) when DPDK is usable,
 * otherwise on dummy ports, with the reason in the log.
 *
 * @module
 */

import { CLI_VERBS, runCli } from "./api/cli.ts";
import { runService } from "./api/service.ts";

if (import.meta.main) {
  const args = Deno.args;
  const code = args.length > 0 && CLI_VERBS.has(args[0])
    ? await runCli(args)
    : await runService(args);
  Deno.exit(code);
}
