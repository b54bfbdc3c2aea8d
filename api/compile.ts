/**
 * `deno task compile`: builds the single `dpif` binary (service + CLI, with
 * the FFI shim sources embedded) into `.build/dpif` with `deno compile`.
 *
 * `deno compile` needs Deno's `denort` runtime, which it downloads from
 * Deno's own host; where that host cannot be reached the task stops with
 * exit code 1 and says so, instead of printing a raw download error. To
 * build elsewhere: run `deno task compile` on a machine that can reach
 * Deno's download host (or set DENORT_BIN to a `denort` binary of the same
 * Deno version) and copy `.build/dpif`.
 *
 * @module
 */

const OUTPUT = ".build/dpif";

/** Runs deno compile; returns the exit code. */
export async function compile(): Promise<number> {
  const args = ["compile", "--allow-all", "--output", OUTPUT];
  try {
    Deno.statSync("ffi/shim");
    args.push("--include", "ffi/shim");
  } catch {
    // no shim sources yet: nothing to embed
  }
  // Workers are loaded by URL at run time: a compiled binary has only what
  // is included (the PMD thread and the state writer thread).
  args.push("--include", "datapath/pmd_worker.ts", "--include", "api/state_writer_worker.ts");
  args.push("main.ts");
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "piped",
  })
    .output();
  const stderr = new TextDecoder().decode(result.stderr);
  if (result.success) {
    console.error(`compile: wrote ${OUTPUT} (run '${OUTPUT} --help' or '${OUTPUT} show')`);
    return 0;
  }
  if (/denort|Setting up base binary/i.test(stderr)) {
    console.error(
      "compile: deno compile could not get Deno's 'denort' runtime (it downloads it from " +
        "Deno's own host, which this machine cannot reach; npm has no denort).\n" +
        "compile: build the binary on a machine with access to Deno's downloads " +
        "(`deno task compile`), or set DENORT_BIN to a denort binary of Deno " +
        `${Deno.version.deno}.\n--- deno compile said:\n${stderr.trim()}`,
    );
    return 1;
  }
  console.error(stderr.trim());
  console.error("compile: deno compile failed (see above)");
  return result.code || 1;
}

if (import.meta.main) Deno.exit(await compile());
