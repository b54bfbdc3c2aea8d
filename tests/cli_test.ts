/**
 * The `dpif` CLI against a running service (in-process, 127.0.0.1, random
 * port): verbs, --json, exit codes.
 */

import assert from "node:assert/strict";
import { type CliIo, runCli } from "../api/cli.ts";
import { createLogger } from "../api/logger.ts";
import { startService } from "../api/service.ts";
import { parseServiceArgs, type ServiceConfig } from "../api/service_config.ts";
import { udpHex } from "./api_fixtures.ts";

function captureIo(server: string): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (text) => stdout.push(text),
    err: (text) => stderr.push(text),
    env: (name) => (name === "DPIF_SERVER" ? server : undefined),
  };
}

Deno.test("cli: ovs-dpctl verbs against a running service, with exit codes", async () => {
  const config = parseServiceArgs(["--listen", "127.0.0.1:0", "--no-dpdk"]) as ServiceConfig;
  const service = await startService(config, { logger: createLogger({ write: () => {} }) });
  const server = `http://127.0.0.1:${service.port}`;
  const run = async (...args: string[]) => {
    const io = captureIo(server);
    const code = await runCli(args, io);
    return { code, out: io.stdout.join("\n"), err: io.stderr.join("\n") };
  };
  try {
    let r = await run("show");
    assert.equal(r.code, 0);
    assert.match(r.out, /^dp0:$/m);
    assert.match(r.out, /lookups: hit:0 missed:0 lost:0/);
    assert.match(r.out, /port 1: p1 \(dummy\)/);

    r = await run("add-if", "dp0", "p3,type=dummy,port_no=5", "p4");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /port 5: p3/);
    r = await run("add-flow", "in_port(1),eth_type(0x0800)", "5");
    assert.equal(r.code, 0, r.err);
    const ufid = r.out.trim();
    assert.match(ufid, /^ufid:/);
    r = await run("add-flow", "dp0", "in_port(1),eth_type(0x0800)", "5");
    assert.equal(r.code, 1, "exists: the service answered an error");
    assert.match(r.err, /EEXIST/);
    r = await run("execute", udpHex(), "5", "--metadata", "in_port(1)");
    assert.equal(r.code, 0, r.err);

    r = await run("dump-flows");
    assert.equal(r.code, 0);
    assert.match(r.out, /in_port\(1\).*actions:5$/);
    r = await run("--json", "dump-flows", "dp0");
    const flows = JSON.parse(r.out);
    assert.equal(flows.length, 1);
    assert.equal(flows[0].ufid, ufid);

    r = await run("mod-flow", "in_port(1),eth_type(0x0800)", "2", "--zero-stats");
    assert.equal(r.code, 0, r.err);
    r = await run("get-flow", ufid);
    assert.match(r.out, /actions:2$/);
    r = await run("mod-flow", "in_port(2),eth_type(0x0800)", "1");
    assert.equal(r.code, 1, "modify without --may-create of an absent flow");
    r = await run("mod-flow", "in_port(2),eth_type(0x0800)", "1", "--may-create");
    assert.equal(r.code, 0);
    r = await run("del-flow", "in_port(1),eth_type(0x0800)");
    assert.equal(r.code, 0, `delete by flow text: ${r.err}`);
    r = await run("get-flow", ufid);
    assert.equal(r.code, 1);
    assert.match(r.err, /ENOENT/);
    r = await run("del-flows");
    assert.match(r.out, /deleted 1 flows/);

    r = await run("upcalls", "--enable");
    assert.equal(r.code, 0);
    await fetch(`${server}/v1/datapaths/dp0/ports/p1/receive`, {
      method: "POST",
      body: JSON.stringify({ packet: udpHex(9) }),
    }).then((res) => res.body?.cancel());
    r = await run("--json", "upcalls", "--count", "1", "--timeout", "2");
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).packet, udpHex(9));

    r = await run("--json", "stats");
    assert.equal(JSON.parse(r.out).n_missed, 1);
    r = await run("add-dp", "br1", "q1");
    assert.equal(r.code, 0);
    r = await run("dump-flows");
    assert.equal(r.code, 2, "two datapaths: name one");
    r = await run("del-if", "br1", "q1");
    assert.equal(r.code, 0);
    r = await run("del-dp", "br1");
    assert.equal(r.code, 0);

    const dir = Deno.makeTempDirSync();
    const capturing = run("capture", "p2", "--count", "1", "--timeout", "5", "-o", `${dir}/x.pcap`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await fetch(`${server}/v1/datapaths/dp0/execute`, {
      method: "POST",
      body: JSON.stringify({ packet: udpHex(), actions: "2" }),
    }).then((res) => res.body?.cancel());
    r = await capturing;
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /1 frames written/);
    const pcap = Deno.readFileSync(`${dir}/x.pcap`);
    assert.equal(pcap.length, 24 + 16 + 60);
    Deno.removeSync(dir, { recursive: true });

    assert.equal((await run("frobnicate")).code, 2);
    assert.equal((await run("del-dp")).code, 2);
    assert.equal((await run("show", "--bogus")).code, 2);
    assert.equal((await run("execute", "zz", "1")).code, 2, "bad hex is a usage error");
  } finally {
    await service.stop();
  }
  const io = captureIo(server);
  assert.equal(await runCli(["show"], io), 3, "service unreachable");
});
