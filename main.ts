/**
 * Entry point of `deno task start` and of the compiled `dpif` binary.
 *
 * With no arguments or with flags only, runs the service (see
 * `api/service.ts`; `--help` lists the flags). With a CLI verb first
 * (`show`, `dump-flows`, ...; `serve` runs the service), runs the `dpif`
 * CLI (`api/cli.ts`). The datapath backend is chosen in
 * `api/backend.ts` (`selectBackend`): today the dummy backend, dp0 with
 * dummy ports p1 and p2.
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
