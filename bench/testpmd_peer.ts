/**
 * dpdk-testpmd io forwarding as the bench's I/O ceiling: a net_pcap replay
 * (`infinite_rx=1`) into `net_null,no-rx=1`, forwarding on one CPU, as
 * /work/shared/peers/testpmd_io.sh runs it, but measured from the inside:
 * testpmd runs once, and after a warm-up the bench asks `show port stats 1`
 * at the start and end of each interval, so start-up and shut-down are not
 * in the figure.
 *
 * @module
 */

import { onPath, sleep } from "./system_tools.ts";
/** Options of {@linkcode measureTestpmd}. */
export interface TestpmdOptions {
  /** Capture replayed forever. */
  pcap: string;
  /** Packets in the capture (net_pcap keeps one mbuf per packet). */
  packets: number;
  /** CPU of testpmd's main lcore. */
  mainCpu: number;
  /** CPU of the forwarding lcore. */
  forwardCpu: number;
  /** Seconds per interval. */
  seconds: number;
  /** Intervals. */
  runs: number;
  /** Seconds forwarded before the first interval. Default 1. */
  warmupSeconds?: number;
}

/**
 * Runs testpmd io forwarding and returns the Mpps of each interval, or null
 * when dpdk-testpmd is not installed. Rejects when testpmd exits early or
 * prints no port statistics within 30 s of a request.
 */
export async function measureTestpmd(options: TestpmdOptions): Promise<number[] | null> {
  if (!onPath("dpdk-testpmd")) return null;
  const prefix = `dpif_tp_${Deno.pid}`;
  let child: Deno.ChildProcess;
  try {
    // stdbuf: testpmd printf()s its statistics, which a pipe would hold in a full buffer.
    child = new Deno.Command("stdbuf", {
      args: [
        "-oL",
        "dpdk-testpmd",
        "--no-huge",
        "--no-pci",
        "-m",
        "2048",
        `--file-prefix=${prefix}`,
        "--no-telemetry",
        `--lcores=0@${options.mainCpu},1@${options.forwardCpu}`,
        `--vdev=net_pcap0,rx_pcap=${options.pcap},infinite_rx=1`,
        "--vdev=net_null0,no-rx=1",
        "--",
        "-i",
        "--forward-mode=io",
        "--auto-start",
        "--no-mlockall",
        `--total-num-mbufs=${options.packets + 16384}`,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch {
    return null; // stdbuf missing
  }
  const output = new StreamText(child.stdout);
  const writer = child.stdin.getWriter();
  try {
    await output.waitFor(/Press enter to exit|testpmd>/, 30_000);
    await sleep((options.warmupSeconds ?? 1) * 1000);
    const mpps: number[] = [];
    let before = await sampleTx(writer, output);
    for (let r = 0; r < options.runs; r++) {
      await sleep(options.seconds * 1000);
      const after = await sampleTx(writer, output);
      mpps.push((after.packets - before.packets) / (after.at - before.at) / 1000);
      before = after;
    }
    return mpps;
  } finally {
    await writer.write(new TextEncoder().encode("quit\n")).catch(() => {});
    await writer.close().catch(() => {});
    const exited = await Promise.race([child.status, sleep(10_000).then(() => null)]);
    if (exited === null) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
    await output.done;
    await Deno.remove(`/var/run/dpdk/${prefix}`, { recursive: true }).catch(() => {});
  }
}

/** Asks for port 1's statistics; its TX-packets and when they were read (ms). */
async function sampleTx(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  output: StreamText,
): Promise<{ packets: number; at: number }> {
  const from = output.text.length;
  const t0 = performance.now();
  await writer.write(new TextEncoder().encode("show port stats 1\n"));
  const block = await output.waitFor(/TX-packets:\s*(\d+)[\s\S]*?Tx-pps/, 30_000, from);
  const t1 = performance.now();
  return { packets: Number(block[1]), at: (t0 + t1) / 2 };
}

/** Accumulates a process's output as text and waits for patterns in it. */
class StreamText {
  text = "";
  readonly done: Promise<void>;
  #wake: (() => void) | null = null;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        this.text += decoder.decode(chunk, { stream: true });
        this.#wake?.();
      }
      this.#wake?.();
    })();
  }

  /** Resolves with the first match of `pattern` at or after `from`; rejects after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.text.slice(from));
      if (m !== null) return m;
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(`testpmd: no ${pattern} within ${timeoutMs} ms: ${this.text.slice(-400)}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#wake = resolve),
        new Promise<void>((resolve) => timer = setTimeout(resolve, Math.min(left, 200))),
      ]);
      clearTimeout(timer);
    }
  }
}
