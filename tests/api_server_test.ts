/**
 * The service with a real listening server on 127.0.0.1 and a random port,
 * driven with fetch: token auth, body limit, JSON logs, flags and config
 * file, refusal of a non-loopback address without a token.
 */

import assert from "node:assert/strict";
import { createLogger } from "../api/logger.ts";
import { startService } from "../api/service.ts";
import { parseServiceArgs, type ServiceConfig } from "../api/service_config.ts";
import { udpHex } from "./api_fixtures.ts";

function config(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  const parsed = parseServiceArgs(["--listen", "127.0.0.1:0", "--no-dpdk"]);
  assert.notEqual(parsed, "help");
  return { ...(parsed as ServiceConfig), ...overrides };
}

Deno.test("service: real server with a token: 401 without/with a wrong one, version exempt", async () => {
  const dir = Deno.makeTempDirSync();
  const tokenFile = `${dir}/token`;
  Deno.writeTextFileSync(tokenFile, "tok-123\n");
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
  const service = await startService(config({ tokenFile, bodyLimit: 4096 }), { logger });
  const base = `http://127.0.0.1:${service.port}`;
  const auth = { Authorization: "Bearer tok-123" };
  try {
    assert.ok(service.port > 0);
    let res = await fetch(`${base}/v1/version`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).datapath_type, "dummy");
    res = await fetch(`${base}/v1/datapaths`);
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, "EACCES");
    res = await fetch(`${base}/v1/datapaths`, { headers: { Authorization: "Bearer nope" } });
    assert.equal(res.status, 401);
    await res.body?.cancel();
    res = await fetch(`${base}/v1/datapaths/dp0`, { headers: auth });
    assert.equal(res.status, 200);
    const dp = await res.json();
    assert.deepEqual(dp.ports.map((p: { name: string }) => p.name), ["dp0", "p1", "p2"]);

    res = await fetch(`${base}/v1/datapaths/dp0/flows`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ flow: "in_port(1),eth_type(0x0800)", actions: "2" }),
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
    res = await fetch(`${base}/v1/datapaths/dp0/ports/p1/receive`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ packet: udpHex() }),
    });
    assert.equal((await res.json()).received, true);
    res = await fetch(`${base}/v1/datapaths/dp0/ports/p2/transmitted`, { headers: auth });
    assert.deepEqual((await res.json()).packets, [udpHex()]);

    res = await fetch(`${base}/v1/datapaths`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ name: "x".repeat(5000) }),
    });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, "E2BIG");
  } finally {
    await service.stop();
    Deno.removeSync(dir, { recursive: true });
  }
  const records = lines.map((line) => JSON.parse(line));
  for (const r of records) {
    assert.equal(typeof r.time, "string");
    assert.ok(["debug", "info", "warn", "error"].includes(r.level));
    assert.equal(typeof r.msg, "string");
  }
  const listening = records.find((r) => r.msg === "listening");
  assert.equal(listening.port, service.port);
  assert.ok(records.some((r) => r.msg === "request" && r.status === 401));
  assert.ok(records.some((r) => r.msg === "stopped"));
});

Deno.test("service: refuses a non-loopback listen address without a token", async () => {
  await assert.rejects(
    startService(config({ hostname: "0.0.0.0" }), {
      logger: createLogger({ write: () => {} }),
    }),
    /not a loopback address and no --token-file/,
  );
});

Deno.test("service: flags, config file and --help", () => {
  assert.equal(parseServiceArgs(["--help"]), "help");
  const defaults = parseServiceArgs([]) as ServiceConfig;
  assert.equal(defaults.hostname, "127.0.0.1");
  assert.equal(defaults.port, 8080);
  assert.equal(defaults.stateDir, null);
  assert.equal(defaults.dpdk, true);
  assert.equal(defaults.learning, false);
  const dir = Deno.makeTempDirSync();
  try {
    const file = `${dir}/dpif.json`;
    Deno.writeTextFileSync(
      file,
      JSON.stringify({ listen: "127.0.0.2:9000", learning: true, eal: "-l 1 --no-huge" }),
    );
    const merged = parseServiceArgs(["--config", file, "--listen", "[::1]:7000", "--no-dpdk"]);
    assert.notEqual(merged, "help");
    const c = merged as ServiceConfig;
    assert.equal(c.hostname, "::1", "flags win over the file");
    assert.equal(c.port, 7000);
    assert.equal(c.learning, true);
    assert.equal(c.dpdk, false);
    assert.deepEqual(c.eal, ["-l", "1", "--no-huge"]);
    Deno.writeTextFileSync(file, JSON.stringify({ listen: "x:1", colour: "red" }));
    assert.throws(() => parseServiceArgs(["--config", file]), /colour/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.throws(() => parseServiceArgs(["--listen", "nohost"]), /HOST:PORT/);
  assert.throws(() => parseServiceArgs(["--listen", "a:70000"]), /HOST:PORT/);
  assert.throws(() => parseServiceArgs(["--bogus"]), /bogus/);
  assert.throws(() => parseServiceArgs(["--log-level", "loud"]), /log-level/);
});
