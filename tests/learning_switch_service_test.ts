/**
 * The learning switch end to end in the real service: `main.ts --learning`
 * with the DPDK backend runs as a subprocess (dp0 then starts without the
 * loopback ports); over its REST API the test adds two `net_af_packet`
 * ports on veth pairs into two network namespaces and restarts the PMD
 * thread so that it polls them, then pings
 * from one namespace to the other. Checks, all through the API: the learned
 * flows in the flow dump, their "added" events on the SSE change feed, a
 * pcap capture of the PMD-served port holding the echo request, and a clean
 * stop on SIGTERM.
 *
 * Skipped, with the reason printed, without DPDK, root or iproute2.
 */

import assert from "node:assert/strict";
import { dpdkAvailability } from "../ffi/loader.ts";
import { mustRun, NetnsLab, netnsUnavailable } from "./fixtures/netns.ts";
import { decodePcap } from "./fixtures/pcap.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const MAC_A = "02:00:00:00:0a:01";
const MAC_B = "02:00:00:00:0b:01";
const IP_A = "10.254.2.1";
const IP_B = "10.254.2.2";

const skipReason = (() => {
  const dpdk = dpdkAvailability();
  return dpdk.available ? netnsUnavailable() : `DPDK is not usable: ${dpdk.reason}`;
})();
if (skipReason !== null) console.log(`learning switch service test skipped: ${skipReason}`);

interface LogRecord {
  msg: string;
  level: string;
  [field: string]: unknown;
}

interface Service {
  process: Deno.ChildProcess;
  base: string;
  log: LogRecord[];
  /** Resolves when stderr ends. */
  drained: Promise<void>;
}

/** Starts the service and waits (bounded) for "listening"; keeps reading its log. */
async function startService(stateDir: string): Promise<Service> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", MAIN, "--listen", "127.0.0.1:0", "--learning"]
      .concat(["--state", stateDir]),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: LogRecord[] = [];
  const listening = Promise.withResolvers<number>();
  const drained = (async () => {
    let buffer = "";
    for await (const chunk of process.stderr.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const at = line.indexOf('{"time"');
        if (at < 0) continue;
        const record = JSON.parse(line.slice(at)) as LogRecord;
        log.push(record);
        if (record.msg === "listening") listening.resolve(record.port as number);
      }
    }
    listening.reject(new Error(`service ended before listening:\n${JSON.stringify(log)}`));
  })();
  const timer = setTimeout(() => listening.reject(new Error("no listening in 60 s")), 60_000);
  try {
    const port = await listening.promise;
    return { process, base: `http://127.0.0.1:${port}`, log, drained };
  } catch (error) {
    process.kill("SIGKILL");
    await process.status;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function api(
  service: Service,
  method: string,
  path: string,
  body?: unknown,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const res = await fetch(service.base + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text === "" ? null : JSON.parse(text);
}

/** Collects the SSE change events of dp0 in the background until `signal` aborts. */
function collectChanges(service: Service, signal: AbortSignal): {
  changes: { kind: string; action: string; ufid?: string }[];
  ready: Promise<void>;
  done: Promise<void>;
} {
  const changes: { kind: string; action: string; ufid?: string }[] = [];
  const ready = Promise.withResolvers<void>();
  const done = (async () => {
    try {
      const res = await fetch(`${service.base}/v1/datapaths/dp0/events`, { signal });
      let buffer = "";
      for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: ?(.*)$/m.exec(block)?.[1];
          const data = /^data: ?(.*)$/m.exec(block)?.[1];
          if (event === "ready") ready.resolve();
          if (event === "change") changes.push(JSON.parse(data!));
        }
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      ready.resolve();
    }
  })();
  return { changes, ready: ready.promise, done };
}

/** True for an IPv4 ICMP echo request to `ip`. */
function isEchoRequestTo(frame: Uint8Array, ip: string): boolean {
  const dst = ip.split(".").map(Number);
  return frame.length >= 42 && frame[12] === 0x08 && frame[13] === 0x00 && frame[23] === 1 &&
    dst.every((b, i) => frame[30 + i] === b) && frame[34] === 8;
}

Deno.test({
  name: "learning switch in the service: ping through af_packet ports, flows, events, capture",
  ignore: skipReason !== null,
  async fn() {
    const stateDir = Deno.makeTempDirSync({ prefix: "dpif-ls-" });
    const lab = new NetnsLab();
    let service: Service | undefined;
    const stopEvents = new AbortController();
    try {
      const nsA = lab.addNamespace("A");
      const nsB = lab.addNamespace("B");
      for (const ns of [nsA, nsB]) {
        // No IPv6 chatter (DAD, router and multicast listener messages) through the switch.
        for (const conf of ["all", "default"]) {
          lab.exec(ns, "sysctl", ["-qw", `net.ipv6.conf.${conf}.disable_ipv6=1`]);
        }
      }
      lab.addVeth({ name: "a0" }, { name: "a1", netns: nsA, mac: MAC_A, address: `${IP_A}/24` });
      lab.addVeth({ name: "b0" }, { name: "b1", netns: nsB, mac: MAC_B, address: `${IP_B}/24` });
      for (const end of ["a0", "b0"]) {
        mustRun("sysctl", ["-qw", `net.ipv6.conf.${lab.link(end)}.disable_ipv6=1`]);
      }
      service = await startService(stateDir);
      assert.ok(service.log.some((r) => r.msg === "learning switch started"));

      // With the switch, no loopback ports are made (a flood would come straight back).
      const ports = await api(service, "GET", "/v1/datapaths/dp0/ports");
      assert.deepEqual(ports.ports.map((p: { name: string }) => p.name), ["dp0"]);
      const tag = `${Deno.pid}_${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
      for (const [name, portNo, iface] of [["pa", 1, "a0"], ["pb", 2, "b0"]] as const) {
        await api(service, "POST", "/v1/datapaths/dp0/ports", {
          name,
          type: "dpdk",
          port_no: portNo,
          options: {
            devargs: `net_af_packet_${name}${tag},iface=${lab.link(iface)},qpairs=2`,
            n_rxq: "2",
            n_txq: "2",
          },
        });
      }
      const pmd = await api(service, "PUT", "/v1/datapaths/dp0/pmd", { threads: 1 });
      assert.equal(pmd.threads, 1);

      const events = collectChanges(service, stopEvents.signal);
      await events.ready;
      const capture = fetch(`${service.base}/v1/datapaths/dp0/ports/pb/capture?count=6&timeout=5`);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the capture is running
      const ping = await new Deno.Command("ip", {
        args: ["netns", "exec", nsA, "ping", "-c", "3", "-W", "1", "-i", "0.2", IP_B],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const pingText = new TextDecoder().decode(ping.stdout) +
        new TextDecoder().decode(ping.stderr);
      assert.equal(ping.code, 0, `ping through the service's learning switch:\n${pingText}`);

      const res = await capture;
      assert.equal(res.status, 200);
      const frames = decodePcap(new Uint8Array(await res.arrayBuffer()));
      assert.ok(frames.length > 0, "the capture of pb saw frames");
      assert.ok(
        frames.some((f) => isEchoRequestTo(f, IP_B)),
        "the echo request the PMD sent out of pb is in the pcap",
      );

      await new Promise((resolve) => setTimeout(resolve, 50)); // flow stats reports
      const dump = await api(service, "GET", "/v1/datapaths/dp0/flows");
      const flows = dump.flows as { ufid: string; flow: string; actions: string }[];
      const request = flows.find((f) =>
        f.flow.includes("in_port(1)") && f.flow.includes("icmp(") && f.actions === "2"
      );
      const reply = flows.find((f) =>
        f.flow.includes("in_port(2)") && f.flow.includes("icmp(") && f.actions === "1"
      );
      assert.ok(request && reply, `learned ICMP flows in:\n${JSON.stringify(flows, null, 1)}`);
      assert.ok(request.flow.includes(`eth(src=${MAC_A},dst=${MAC_B})`), request.flow);

      stopEvents.abort();
      await events.done;
      const added = events.changes.filter((c) => c.kind === "flow" && c.action === "added");
      const addedUfids = added.map((c) => c.ufid);
      assert.ok(addedUfids.includes(request.ufid), "the request flow's event was streamed");
      assert.ok(addedUfids.includes(reply.ufid), "the reply flow's event was streamed");

      service.process.kill("SIGTERM");
      assert.equal((await service.process.status).code, 0);
      await service.drained;
      const stopped = service.log.find((r) => r.msg === "stopped");
      assert.equal(stopped?.clean, true, "the service released everything");
    } finally {
      stopEvents.abort();
      if (service !== undefined) {
        try {
          service.process.kill("SIGKILL");
        } catch { /* already gone */ }
        await service.process.status;
      }
      lab.cleanup();
      Deno.removeSync(stateDir, { recursive: true });
    }
  },
});
