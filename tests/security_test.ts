/**
 * Security of the service, on a real listening server and the real
 * process: a non-loopback listen without a token is refused at start; with
 * a token every operation (taken from /openapi.json, plus the ones it does
 * not list) answers 401 without it, with a wrong one, another scheme or the
 * token in the query, except GET /v1/version, and changes nothing; bodies
 * over the limit get 413 with or without a Content-Length; path parameters
 * that try to climb out (`../../etc/passwd` and encodings of it) get a
 * 4xx; and DPDK device arguments cannot run commands or read or write files
 * outside the state directory (api/devargs_policy.ts).
 * api_server_test.ts keeps the basic token and body-limit cases.
 */

import assert from "node:assert/strict";
import { createLogger } from "../api/logger.ts";
import { startService } from "../api/service.ts";
import { parseServiceArgs, type ServiceConfig } from "../api/service_config.ts";
import { dpdkAvailability } from "../ffi/loader.ts";
import { ServiceProcess } from "../tools/service_process.ts";
import { UDP_FLOW, udpHex } from "./api_fixtures.ts";

const TOKEN = "s3cret-token-0123456789";
const UFID = "ufid:01234567-89ab-cdef-0123-456789abcdef";

function config(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  const parsed = parseServiceArgs(["--listen", "127.0.0.1:0", "--no-dpdk"]);
  assert.notEqual(parsed, "help");
  return { ...(parsed as ServiceConfig), ...overrides };
}

/** A body each write operation accepts, so a 401 is about the token and nothing else. */
const VALID_BODY: Record<string, unknown> = {
  "POST /v1/datapaths": { name: "evil" },
  "POST /v1/datapaths/{dp}/ports": { name: "evil", type: "dummy" },
  "POST /v1/datapaths/{dp}/ports/{port}/receive": { packet: udpHex() },
  "POST /v1/datapaths/{dp}/flows": { flow: UDP_FLOW, actions: "2" },
  "PUT /v1/datapaths/{dp}/flows": { flow: UDP_FLOW, actions: "2" },
  "POST /v1/datapaths/{dp}/execute": { packet: udpHex(), actions: "2" },
  "POST /v1/datapaths/{dp}/operate": { ops: [{ op: "put", flow: UDP_FLOW, actions: "2" }] },
  "PUT /v1/datapaths/{dp}/pmd": { threads: 0 },
};

function concrete(path: string): string {
  return path.replace("{dp}", "dp0").replace("{port}", "p1").replace("{ufid}", UFID);
}

Deno.test("security: a non-loopback listen without a token is refused at start", async () => {
  for (const listen of ["0.0.0.0:0", "[::]:0", "10.255.255.1:0"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-check",
        new URL("../main.ts", import.meta.url).pathname,
        "--listen",
        listen,
        "--no-dpdk",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, `${listen}: exit code 1\n${log}`);
    assert.match(log, /"could not start"/);
    assert.match(log, /not a loopback address and no --token-file/);
    assert.doesNotMatch(log, /"listening"/);
  }
  // In-process too, and an empty token file is no token.
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/empty`, " \n");
    await assert.rejects(
      startService(config({ hostname: "0.0.0.0", tokenFile: `${dir}/empty` }), {
        logger: createLogger({ write: () => {} }),
      }),
      /must hold one token/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("security: with a token, every operation but /v1/version needs it; nothing changes", async () => {
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/token`, TOKEN);
  const service = await startService(config({ tokenFile: `${dir}/token`, stateDir: dir }), {
    logger: createLogger({ write: () => {} }),
  });
  const base = `http://127.0.0.1:${service.port}`;
  const good = { Authorization: `Bearer ${TOKEN}` };
  try {
    const spec = await (await fetch(`${base}/openapi.json`, { headers: good })).json();
    const operations: [string, string][] = [];
    for (const [path, methods] of Object.entries(spec.paths as Record<string, object>)) {
      for (const method of Object.keys(methods)) operations.push([method.toUpperCase(), path]);
    }
    operations.push(["GET", "/v1/datapaths/{dp}/pmd"], ["PUT", "/v1/datapaths/{dp}/pmd"]);
    operations.push(["GET", "/no/such/route"], ["POST", "/v1/../etc/passwd"]);
    operations.push(["HEAD", "/v1/datapaths"], ["OPTIONS", "/v1/datapaths/{dp}/flows"]);
    assert.ok(operations.length >= 30, `${operations.length} operations`);

    const wrong: Record<string, string>[] = [
      {},
      { Authorization: "Bearer wrong" },
      { Authorization: `Bearer ${TOKEN}x` },
      { Authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { Authorization: `Basic ${btoa(`user:${TOKEN}`)}` },
      { Authorization: TOKEN },
      { Authorization: `Bearer ${TOKEN} ${TOKEN}` },
      { "X-Auth-Token": TOKEN },
    ];
    let checked = 0;
    for (const [method, path] of operations) {
      const body = VALID_BODY[`${method} ${path}`];
      for (const headers of wrong) {
        const url = `${base}${concrete(path)}${headers.Authorization ? "" : `?token=${TOKEN}`}`;
        const res = await fetch(url, {
          method,
          headers: { ...headers, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        if (method === "GET" && path === "/v1/version") {
          assert.equal(res.status, 200, "version needs no token");
        } else {
          assert.equal(res.status, 401, `${method} ${path} ${JSON.stringify(headers)}: ${text}`);
          if (method !== "HEAD") assert.equal(JSON.parse(text).error.code, "EACCES");
        }
        checked++;
      }
    }
    assert.ok(checked > 200);
    // Nothing the unauthorised writes asked for happened.
    const dp = await (await fetch(`${base}/v1/datapaths/dp0`, { headers: good })).json();
    assert.deepEqual(dp.ports.map((p: { name: string }) => p.name), ["dp0", "p1", "p2"]);
    const flows = await (await fetch(`${base}/v1/datapaths/dp0/flows`, { headers: good })).json();
    assert.deepEqual(flows.flows, []);
    const dps = await (await fetch(`${base}/v1/datapaths`, { headers: good })).json();
    assert.deepEqual(dps.datapaths.map((d: { name: string }) => d.name), ["dp0"]);
    // The right token works.
    const put = await fetch(`${base}/v1/datapaths/dp0/flows`, {
      method: "POST",
      headers: good,
      body: JSON.stringify({ flow: UDP_FLOW, actions: "2" }),
    });
    assert.equal(put.status, 201);
    await put.body?.cancel();
  } finally {
    await service.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("security: bodies over the limit get 413 on every write, with or without a length", async () => {
  const service = await startService(config({ bodyLimit: 2048 }), {
    logger: createLogger({ write: () => {} }),
  });
  const base = `http://127.0.0.1:${service.port}`;
  const big = (key: string) => JSON.stringify({ [key]: "0".repeat(4096) });
  try {
    const writes: [string, string, string][] = [
      ["POST", "/v1/datapaths", big("name")],
      ["POST", "/v1/datapaths/dp0/ports", big("name")],
      ["POST", "/v1/datapaths/dp0/ports/p1/receive", big("packet")],
      ["POST", "/v1/datapaths/dp0/flows", big("flow")],
      ["PUT", "/v1/datapaths/dp0/flows", big("flow")],
      ["POST", "/v1/datapaths/dp0/execute", big("packet")],
      ["POST", "/v1/datapaths/dp0/operate", big("ops")],
      ["POST", "/v1/datapaths/dp0/upcalls/enable", big("x")],
      ["PUT", "/v1/datapaths/dp0/pmd", big("threads")],
    ];
    for (const [method, path, body] of writes) {
      let res = await fetch(base + path, { method, body });
      assert.equal(res.status, 413, `${method} ${path} with Content-Length`);
      assert.equal((await res.json()).error.code, "E2BIG");
      // Chunked: no Content-Length, the limit holds while reading.
      const bytes = new TextEncoder().encode(body);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 512) controller.enqueue(bytes.slice(i, i + 512));
          controller.close();
        },
      });
      res = await fetch(base + path, { method, body: stream });
      assert.equal(res.status, 413, `${method} ${path} chunked`);
      await res.body?.cancel();
    }
    const flows = await (await fetch(`${base}/v1/datapaths/dp0/flows`)).json();
    assert.deepEqual(flows.flows, [], "no oversized write was applied");
  } finally {
    await service.stop();
  }
});

Deno.test("security: path parameters that climb out get a 4xx and touch nothing", async () => {
  const dir = Deno.makeTempDirSync();
  const service = await startService(config({ stateDir: dir }), {
    logger: createLogger({ write: () => {} }),
  });
  const base = `http://127.0.0.1:${service.port}`;
  const attacks = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "..%252F..%252Fetc%252Fpasswd",
    "%2Fetc%2Fpasswd",
    "..%5C..%5Cwindows",
    "p1%00.pcap",
    "....%2F%2F....%2F%2Fetc",
    "..%2F" + "dpif.sqlite",
  ];
  const templates = [
    "GET /v1/datapaths/{x}",
    "GET /v1/datapaths/{x}/stats",
    "DELETE /v1/datapaths/{x}",
    "GET /v1/datapaths/{x}/ports",
    "GET /v1/datapaths/{x}/flows",
    "GET /v1/datapaths/{x}/events",
    "GET /v1/datapaths/dp0/ports/{x}",
    "DELETE /v1/datapaths/dp0/ports/{x}",
    "GET /v1/datapaths/dp0/ports/{x}/stats",
    "GET /v1/datapaths/dp0/ports/{x}/capture?count=1&timeout=0.01",
    "GET /v1/datapaths/dp0/ports/{x}/transmitted",
    "POST /v1/datapaths/dp0/ports/{x}/receive",
    "GET /v1/datapaths/dp0/flows/{x}",
    "DELETE /v1/datapaths/dp0/flows/{x}",
    "GET /v1/datapaths/dp0/flows?cursor={x}",
  ];
  try {
    let checked = 0;
    for (const template of templates) {
      const [method, path] = template.split(" ");
      for (const attack of attacks) {
        const res = await fetch(base + path.replace("{x}", attack), {
          method,
          body: method === "POST" ? JSON.stringify({ packet: udpHex() }) : undefined,
        });
        const text = await res.text();
        assert.ok(
          res.status >= 400 && res.status < 500,
          `${template} with ${attack}: ${res.status} ${text}`,
        );
        assert.doesNotMatch(text, /root:|SQLite format/, "no file content in the answer");
        checked++;
      }
    }
    assert.equal(checked, templates.length * attacks.length);
    // Plain ".." segments: fetch would resolve them, so they go out raw.
    for (
      const path of [
        "/../../etc/passwd",
        "/v1/datapaths/../../../etc/passwd",
        "/v1/datapaths/dp0/ports/../../../../etc/passwd",
        "/v1/datapaths/dp0/ports/p1/capture/../../../../../etc/passwd",
        "/v1/datapaths/dp0/flows/../../../../dpif.sqlite",
      ]
    ) {
      const { status, text } = await rawGet(service.port, path);
      assert.ok(status >= 400 && status < 500, `raw ${path}: ${status} ${text}`);
      assert.doesNotMatch(text, /root:|SQLite format/);
    }
    // Names that look like paths are refused when creating things.
    for (const name of ["../../etc/passwd", "/etc/passwd", "a/b", "..", "x\u0000y", "p1\n"]) {
      for (
        const [path, body] of [
          ["/v1/datapaths", { name }],
          ["/v1/datapaths/dp0/ports", { name, type: "dummy" }],
        ] as const
      ) {
        const res = await fetch(base + path, { method: "POST", body: JSON.stringify(body) });
        assert.equal(res.status, 400, `${path} name ${JSON.stringify(name)}`);
        assert.equal((await res.json()).error.code, "EINVAL");
      }
    }
    const ports = await (await fetch(`${base}/v1/datapaths/dp0/ports`)).json();
    assert.deepEqual(ports.ports.map((p: { name: string }) => p.name), ["dp0", "p1", "p2"]);
  } finally {
    await service.stop();
  }
  const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.ok(left.every((n) => n.startsWith("dpif.sqlite")), `state dir holds ${left}`);
  Deno.removeSync(dir, { recursive: true });
});

/** GET with the path exactly as given (no client-side ".." resolution); bounded to 5 s. */
async function rawGet(port: number, path: string): Promise<{ status: number; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 5000);
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      ),
    );
    const text = await new Response(conn.readable).text();
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text };
  } finally {
    clearTimeout(timer);
  }
}

/** Port requests whose DPDK device arguments would run a command or touch files outside. */
function forbiddenDevargs(outside: string, stateDir: string): [string, RegExp][] {
  return [
    [`net_failsafe_sec,exec(touch ${outside}/ran)`, /not allowed through the API/],
    [`net_vhost_sec,iface=${outside}/sock`, /not allowed through the API/],
    [`net_virtio_user_sec,path=${outside}/sock`, /not allowed through the API/],
    [`net_af_xdp_sec,iface=lo,xdp_prog=${outside}/prog.o`, /not allowed through the API/],
    [`eth_pcap_sec,tx_pcap=${outside}/eth.pcap`, /not allowed through the API/],
    [`net_pcap_sec1,tx_pcap=${outside}/out.pcap`, /outside the files directory/],
    [`net_pcap_sec2,rx_pcap=/etc/passwd`, /outside the files directory/],
    [`net_pcap_sec3,rx_pcap=${stateDir}/../x.pcap`, /without '.' or '..'/],
    [`net_pcap_sec4,tx_pcap=relative.pcap`, /absolute path/],
    [`net_pcap_sec5,tx_pcap=${stateDir}/link/out.pcap`, /outside the files directory/],
    [`net_pcap_sec6,tx_pcap=${stateDir}/dpif.sqlite/../../x`, /without '.' or '..'/],
  ];
}

Deno.test("security: DPDK devargs cannot run commands or name files outside the state dir (any backend)", async () => {
  const stateDir = Deno.makeTempDirSync();
  const outside = Deno.makeTempDirSync();
  Deno.symlinkSync(outside, `${stateDir}/link`);
  const service = await startService(config({ stateDir }), {
    logger: createLogger({ write: () => {} }),
  });
  const base = `http://127.0.0.1:${service.port}`;
  try {
    for (const [devargs, message] of forbiddenDevargs(outside, stateDir)) {
      const res = await fetch(`${base}/v1/datapaths/dp0/ports`, {
        method: "POST",
        body: JSON.stringify({ name: "sec", type: "dpdk", options: { devargs } }),
      });
      const body = await res.json();
      assert.equal(res.status, 403, `${devargs}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, "EPERM");
      assert.match(body.error.message, message);
    }
    // Without a state directory, no file at all.
    const noState = await startService(config(), { logger: createLogger({ write: () => {} }) });
    try {
      const res = await fetch(`http://127.0.0.1:${noState.port}/v1/datapaths/dp0/ports`, {
        method: "POST",
        body: JSON.stringify({
          name: "sec",
          type: "dpdk",
          options: { devargs: `net_pcap_s,tx_pcap=${stateDir}/x.pcap` },
        }),
      });
      assert.equal(res.status, 403);
      assert.match((await res.json()).error.message, /this service has none/);
    } finally {
      await noState.stop();
    }
  } finally {
    await service.stop();
  }
  assert.deepEqual([...Deno.readDirSync(outside)], [], "nothing was written outside");
  Deno.removeSync(outside, { recursive: true });
  Deno.removeSync(stateDir, { recursive: true });
});

Deno.test({
  name: "security: on DPDK, exec() devargs run nothing and tx_pcap works only inside the state dir",
  ignore: !dpdkAvailability().available,
  async fn() {
    const stateDir = Deno.makeTempDirSync();
    const outside = Deno.makeTempDirSync();
    Deno.symlinkSync(outside, `${stateDir}/link`);
    const svc = await ServiceProcess.start({ args: ["--state", stateDir] });
    try {
      const version = await (await fetch(`${svc.base}/v1/version`)).json();
      assert.equal(version.datapath_type, "dpdk");
      for (const [devargs] of forbiddenDevargs(outside, stateDir)) {
        const res = await fetch(`${svc.base}/v1/datapaths/dp0/ports`, {
          method: "POST",
          body: JSON.stringify({ name: "sec", type: "dpdk", options: { devargs } }),
        });
        assert.equal(res.status, 403, devargs);
        await res.body?.cancel();
      }
      const inside = `${stateDir}/captures`;
      Deno.mkdirSync(inside);
      const res = await fetch(`${svc.base}/v1/datapaths/dp0/ports`, {
        method: "POST",
        body: JSON.stringify({
          name: "cap",
          type: "dpdk",
          options: { devargs: `net_pcap_sec${svc.pid},tx_pcap=${inside}/out.pcap` },
        }),
      });
      assert.equal(res.status, 201, await res.text());
      assert.ok(Deno.statSync(`${inside}/out.pcap`).isFile, "the pcap is written inside");
    } finally {
      assert.equal((await svc.terminate()).code, 0);
      svc.removeEalRunDir();
    }
    assert.deepEqual([...Deno.readDirSync(outside)], [], "the command did not run");
    Deno.removeSync(outside, { recursive: true });
    Deno.removeSync(stateDir, { recursive: true });
  },
});
if (!dpdkAvailability().available) {
  console.log(`security DPDK devargs test skipped: ${dpdkAvailability().reason}`);
}
