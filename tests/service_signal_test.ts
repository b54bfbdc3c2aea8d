/**
 * Graceful stop when the whole process group gets SIGTERM (`kill -TERM
 * -PGID`, what a terminal, systemd or a CI runner sends): the service runs
 * as `deno task start` in a process group of its own (setsid), so the task
 * runner and the service both get the signal, and the runner forwards it
 * again. The service must still log "stopped" (clean), leave no process of
 * the group behind and release its state database (SQLite removes the WAL
 * file at the last close). With DPDK, the same with PMD threads and the
 * learning switch running.
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dpdkAvailability } from "../ffi/loader.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const setsidMissing = new Deno.Command("setsid", { args: ["--version"], stdout: "null" })
  .outputSync().code !== 0;
if (setsidMissing) console.log("service signal tests skipped: setsid (util-linux) is missing");
const dpdk = dpdkAvailability();
if (!dpdk.available) console.log(`service signal test with DPDK skipped: ${dpdk.reason}`);

interface LogRecord {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** A log reader that keeps its pending read across timeouts (no chunk is ever lost). */
class LogReader {
  readonly records: LogRecord[] = [];
  readonly #reader: ReadableStreamDefaultReader<string>;
  #pending: Promise<ReadableStreamReadResult<string>> | null = null;
  #buffer = "";
  #ended = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Reads until `until(records)`, the end of the stream, or `timeoutMs`. */
  async readUntil(until: (records: LogRecord[]) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#ended && !until(this.records) && Date.now() < deadline) {
      this.#pending ??= this.#reader.read();
      const timer = new Promise<null>((resolve) => setTimeout(() => resolve(null), 200));
      const read = await Promise.race([this.#pending, timer]);
      if (read === null) continue;
      this.#pending = null;
      if (read.done) {
        this.#ended = true;
        return;
      }
      this.#buffer += read.value;
      let nl;
      while ((nl = this.#buffer.indexOf("\n")) >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        const at = line.indexOf('{"time"'); // DPDK may print before a log line on the same line
        if (at >= 0) this.records.push(JSON.parse(line.slice(at)));
      }
    }
  }

  /** Stops reading. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

function groupAlive(pgid: number): boolean {
  try {
    Deno.kill(-pgid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** Starts `deno task start FLAGS` in its own process group, SIGTERMs the group twice, checks the stop. */
async function stopByGroupSignal(flags: string[]): Promise<LogRecord[]> {
  const state = Deno.makeTempDirSync({ prefix: "dpif-signal-" });
  const child = new Deno.Command("setsid", {
    args: [
      Deno.execPath(),
      "task",
      "start",
      "--listen",
      "127.0.0.1:0",
      "--state",
      state,
      ...flags,
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const pgid = child.pid; // setsid execs in place: the child leads its own group
  const reader = new LogReader(child.stderr);
  const records = reader.records;
  try {
    await reader.readUntil((r) => r.some((x) => x.msg === "listening"), 60_000);
    assert.ok(records.some((r) => r.msg === "listening"), "the service started");
    Deno.kill(-pgid, "SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (groupAlive(pgid)) Deno.kill(-pgid, "SIGTERM"); // a second one, while it stops
    await reader.readUntil(() => false, 30_000);
    await child.status;
    for (let i = 0; i < 100 && groupAlive(pgid); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(groupAlive(pgid), false, "no process of the group is left");
    const messages = records.map((r) => r.msg);
    const signal = records.find((r) => r.msg === "signal");
    assert.equal(signal?.signal, "SIGTERM");
    const stopped = records.find((r) => r.msg === "stopped");
    assert.ok(stopped, `"stopped" was logged:\n${messages.join("\n")}`);
    assert.equal(stopped.clean, true, "every resource was released");
    assert.ok(messages.indexOf("stopping") < messages.indexOf("stopped"));
    assert.deepEqual(records.filter((r) => r.level === "error"), []);
    assert.ok(existsSync(`${state}/dpif.sqlite`), "the state database is there");
    assert.ok(!existsSync(`${state}/dpif.sqlite-wal`), "closed: SQLite removed its WAL file");
    return records;
  } finally {
    if (groupAlive(pgid)) Deno.kill(-pgid, "SIGKILL");
    await reader.cancel();
    await child.status;
    Deno.removeSync(state, { recursive: true });
  }
}

Deno.test({
  name: "service: SIGTERM to the whole process group stops cleanly (dummy backend)",
  ignore: setsidMissing,
  async fn() {
    const records = await stopByGroupSignal(["--no-dpdk"]);
    assert.equal(records.find((r) => r.msg === "backend")?.type, "dummy");
  },
});

Deno.test({
  name: "service: SIGTERM to the process group stops PMDs and the learning switch (DPDK)",
  ignore: setsidMissing || !dpdk.available,
  async fn() {
    const records = await stopByGroupSignal(["--learning"]);
    assert.equal(records.find((r) => r.msg === "backend")?.type, "dpdk");
    assert.ok(records.some((r) => r.msg === "learning switch started"));
  },
});
