/**
 * The traffic of the two-host test: a ping from client A to client B
 * (iputils' summary parsed) and a TCP transfer with nc whose received byte
 * count and SHA-256 are checked. Commands run inside the client namespaces
 * of a {@linkcode TwoHostLab}; every wait is bounded.
 *
 * @module
 */

import type { TwoHostLab } from "./two_host_lab.ts";

/** Outcome of a ping. */
export interface PingResult {
  transmitted: number;
  received: number;
  /** Loss in percent. */
  lossPercent: number;
  /** Round-trip times in ms (NaN when nothing came back). */
  rttMinMs: number;
  rttAvgMs: number;
  rttMaxMs: number;
}

/** Outcome of the TCP transfer. */
export interface TransferResult {
  sentBytes: number;
  receivedBytes: number;
  /** True when the SHA-256 of what arrived equals what was sent. */
  hashMatches: boolean;
  seconds: number;
  /** Megabits per second (received bytes over the sender's run time). */
  mbitPerSecond: number;
}

/** Parses iputils ping's summary lines. */
export function parsePing(text: string): PingResult {
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(text);
  const loss = /([\d.]+)% packet loss/.exec(text);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(text);
  return {
    transmitted: counts ? Number(counts[1]) : 0,
    received: counts ? Number(counts[2]) : 0,
    lossPercent: loss ? Number(loss[1]) : 100,
    rttMinMs: rtt ? Number(rtt[1]) : NaN,
    rttAvgMs: rtt ? Number(rtt[2]) : NaN,
    rttMaxMs: rtt ? Number(rtt[3]) : NaN,
  };
}

/** Pings client B from client A `count` times (0.2 s apart, 2 s timeout each). */
export async function ping(lab: TwoHostLab, count: number): Promise<PingResult> {
  const [a, b] = lab.hosts;
  const target = b.plan.clientAddress.split("/")[0];
  const out = await new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      a.clientNs,
      "ping",
      "-c",
      String(count),
      "-i",
      "0.2",
      "-W",
      "2",
      target,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return parsePing(new TextDecoder().decode(out.stdout));
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Sends `size` random bytes from client A to client B over TCP (nc, port
 * 5001) and checks what arrived.
 */
export async function tcpTransfer(lab: TwoHostLab, size: number): Promise<TransferResult> {
  const [a, b] = lab.hosts;
  const target = b.plan.clientAddress.split("/")[0];
  const port = "5001";
  const data = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(data.subarray(at, Math.min(size, at + 65536)));
  }
  // Receiver: listen in client B's namespace, write what arrives to stdout, quit at EOF.
  const receiver = new Deno.Command("ip", {
    args: ["netns", "exec", b.clientNs, "nc", "-l", "-N", "-w", "20", target, port],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const received = new Response(receiver.stdout).arrayBuffer();
  await waitListening(lab, b.clientNs, port);
  const started = performance.now();
  const sender = new Deno.Command("ip", {
    args: ["netns", "exec", a.clientNs, "nc", "-N", "-w", "20", target, port],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = sender.stdin.getWriter();
  // A sender that could not connect exits early and closes its stdin: what arrived says so.
  await writer.write(data).then(() => writer.close()).catch(() => {});
  await sender.status;
  // A receiver that never got a connection would wait forever: end it after a grace period.
  const guard = setTimeout(() => {
    try {
      receiver.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, 10_000);
  const bytes = new Uint8Array(await received);
  const seconds = (performance.now() - started) / 1000;
  await receiver.status;
  clearTimeout(guard);
  return {
    sentBytes: size,
    receivedBytes: bytes.length,
    hashMatches: bytes.length === size && (await sha256(bytes)) === (await sha256(data)),
    seconds,
    mbitPerSecond: (bytes.length * 8) / seconds / 1e6,
  };
}

async function waitListening(lab: TwoHostLab, netns: string, port: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const out = lab.netns.exec(netns, "ss", ["-Hltn", `sport = :${port}`]);
    if (out.code !== 0 || out.stdout.trim() !== "") return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
