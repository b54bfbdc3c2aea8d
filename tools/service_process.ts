/**
 * The deno-dpif service as a child process, for scripts and tests that must
 * kill it for real (SIGKILL, SIGTERM): started with `main.ts`, its JSON log
 * lines collected from stderr (parsed, and kept raw), its address taken from
 * the "listening" line. On a kill -9 the EAL cannot remove its runtime
 * directory, so {@linkcode ServiceProcess.removeEalRunDir} does it.
 *
 * @example
 * ```ts
 * import { ServiceProcess } from "./service_process.ts";
 * const svc = await ServiceProcess.start({ args: ["--no-dpdk"] });
 * await fetch(`${svc.base}/v1/version`).then((r) => r.text());
 * const status = await svc.terminate();
 * console.log(status.code); // 0
 * ```
 *
 * @module
 */

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Where DPDK keeps a process's runtime directory when run as root. */
export const EAL_RUN_ROOT = "/var/run/dpdk";

/** One parsed log line of the service. */
export interface LogRecord {
  time?: string;
  level?: string;
  msg?: string;
  [field: string]: unknown;
}

/** Options for {@linkcode ServiceProcess.start}. */
export interface ServiceProcessOptions {
  /** Service flags besides `--listen` (e.g. `["--state", dir, "--no-dpdk"]`). */
  args?: string[];
  /** Listen address. Default `127.0.0.1:0` (a free port). */
  listen?: string;
  /** How long to wait for the "listening" line, in ms. Default 60,000. */
  startTimeoutMs?: number;
}

/** A running service process. */
export class ServiceProcess {
  /** The child process. */
  readonly process: Deno.ChildProcess;
  /** Base URL of its API, e.g. `http://127.0.0.1:40123`. */
  readonly base: string;
  /** Every log line so far, parsed (lines that are not JSON are kept as `{msg: line}`). */
  readonly log: LogRecord[];
  /** Resolves when stderr is closed (the process is gone). */
  readonly #drained: Promise<void>;

  private constructor(
    process: Deno.ChildProcess,
    base: string,
    log: LogRecord[],
    drained: Promise<void>,
  ) {
    this.process = process;
    this.base = base;
    this.log = log;
    this.#drained = drained;
  }

  /**
   * Starts `main.ts` and waits for its "listening" log line.
   * @throws {Error} with the log so far when it exits or times out first.
   */
  static async start(options: ServiceProcessOptions = {}): Promise<ServiceProcess> {
    const process = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--no-check",
        MAIN,
        "--listen",
        options.listen ?? "127.0.0.1:0",
        ...(options.args ?? []),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const log: LogRecord[] = [];
    const listening = Promise.withResolvers<LogRecord | null>();
    const drained = drainLines(process.stderr, (line) => {
      let record: LogRecord;
      try {
        record = JSON.parse(line);
      } catch {
        record = { msg: line };
      }
      log.push(record);
      if (record.msg === "listening") listening.resolve(record);
    }).finally(() => listening.resolve(null));
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((resolve) =>
      timer = setTimeout(() => resolve(null), timeoutMs)
    );
    const record = await Promise.race([listening.promise, timeout]);
    clearTimeout(timer);
    if (record === null) {
      try {
        process.kill("SIGKILL");
      } catch { /* already gone */ }
      await process.status;
      await drained;
      throw new Error(
        `service did not start:\n${log.map((r) => JSON.stringify(r)).join("\n")}`,
      );
    }
    return new ServiceProcess(process, `http://127.0.0.1:${record.port}`, log, drained);
  }

  /** The process id. */
  get pid(): number {
    return this.process.pid;
  }

  /** True when a log line with this `msg` was written. */
  logged(msg: string): boolean {
    return this.log.some((r) => r.msg === msg);
  }

  /** The first log record with this `msg`, if any. */
  record(msg: string): LogRecord | undefined {
    return this.log.find((r) => r.msg === msg);
  }

  /** kill -9; resolves with the exit status once the process is gone and its log read. */
  async kill(): Promise<Deno.CommandStatus> {
    return await this.#signal("SIGKILL");
  }

  /** SIGTERM; resolves with the exit status once the process is gone and its log read. */
  async terminate(): Promise<Deno.CommandStatus> {
    return await this.#signal("SIGTERM");
  }

  /**
   * Removes `/var/run/dpdk/dpif-<pid>` (what a killed service leaves behind).
   * Returns true when there was one.
   */
  removeEalRunDir(): boolean {
    try {
      Deno.removeSync(`${EAL_RUN_ROOT}/dpif-${this.pid}`, { recursive: true });
      return true;
    } catch {
      return false;
    }
  }

  /** Whether `/var/run/dpdk/dpif-<pid>` exists. */
  ealRunDirExists(): boolean {
    try {
      Deno.statSync(`${EAL_RUN_ROOT}/dpif-${this.pid}`);
      return true;
    } catch {
      return false;
    }
  }

  async #signal(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    try {
      this.process.kill(signal);
    } catch { /* already gone */ }
    const status = await this.process.status;
    await this.#drained;
    return status;
  }
}

async function drainLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim() !== "") onLine(line);
      }
    }
  } catch { /* the process died mid-line */ }
  if (buffer.trim() !== "") onLine(buffer);
}
