import assert from "node:assert/strict";
import { DpifError } from "../datapath/errors.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { PacketBatch } from "../datapath/packet_batch.ts";
import type { PortOptions } from "../datapath/port.ts";
import { TunnelPort, type TunnelType } from "../datapath/tunnel_port.ts";

function assertBadOption(type: TunnelType, options: PortOptions, option: string): void {
  assert.throws(() => new TunnelPort("t1", type, options), (e: unknown) => {
    assert.ok(e instanceof DpifError, `expected a DpifError, got ${e}`);
    assert.equal(e.code, "EINVAL");
    assert.match(e.message, new RegExp(`'${option}'`));
    return true;
  });
}

Deno.test("tunnel port: vxlan, geneve and gre defaults", () => {
  const vxlan = new TunnelPort("vxlan_sys_4789", "vxlan", { remote_ip: "flow", key: "flow" });
  assert.equal(vxlan.tunnelType, "vxlan");
  assert.equal(vxlan.type, "vxlan");
  assert.equal(vxlan.dstPort, 4789);
  assert.equal(vxlan.rxQueues, 0);
  assert.deepEqual(vxlan.options, { remote_ip: "flow", key: "flow" });
  assert.equal(vxlan.config.inKey, "flow");
  assert.equal(vxlan.config.ttl, 64);
  assert.equal(vxlan.config.dfDefault, true);
  assert.equal(new TunnelPort("g", "geneve", { remote_ip: "flow" }).dstPort, 6081);
  assert.equal(new TunnelPort("r", "gre", { remote_ip: "flow" }).dstPort, 0);
});

Deno.test("tunnel port: dst_port sets the UDP port and is reported when not the default", () => {
  const port = new TunnelPort("v", "vxlan", { remote_ip: "flow", dst_port: "4790" });
  assert.equal(port.dstPort, 4790);
  assert.equal(port.options.dst_port, "4790");
  const standard = new TunnelPort("v", "vxlan", { remote_ip: "flow", dst_port: "4789" });
  assert.equal(standard.options.dst_port, undefined);
  assertBadOption("vxlan", { remote_ip: "flow", dst_port: "0" }, "dst_port");
  assertBadOption("geneve", { remote_ip: "flow", dst_port: "65536" }, "dst_port");
  assertBadOption("gre", { remote_ip: "flow", dst_port: "4789" }, "dst_port");
});

Deno.test("tunnel port: addresses are validated and normalised", () => {
  const v4 = new TunnelPort("t", "gre", { remote_ip: "10.0.0.2", local_ip: "10.0.0.1" });
  assert.equal(v4.config.remoteIp, "10.0.0.2");
  assert.equal(v4.config.localIp, "10.0.0.1");
  const v6 = new TunnelPort("t", "geneve", { remote_ip: "2001:DB8:0::1" });
  assert.equal(v6.config.remoteIp, "2001:db8::1");
  assert.equal(v6.options.remote_ip, "2001:db8::1");
  const flows = new TunnelPort("t", "vxlan", { remote_ip: "flow", local_ip: "flow" });
  assert.equal(flows.config.localIp, "flow");
  assertBadOption("vxlan", {}, "remote_ip");
  assertBadOption("vxlan", { remote_ip: "10.0.0" }, "remote_ip");
  assertBadOption("vxlan", { remote_ip: "300.0.0.1" }, "remote_ip");
  assertBadOption("vxlan", { remote_ip: "239.1.1.1" }, "remote_ip");
  assertBadOption("vxlan", { remote_ip: "ff02::1" }, "remote_ip");
  assertBadOption("vxlan", { remote_ip: "2001:db8:::1" }, "remote_ip");
  assertBadOption("vxlan", { remote_ip: "10.0.0.2", local_ip: "flow" }, "local_ip");
  assertBadOption("vxlan", { remote_ip: "10.0.0.2", local_ip: "2001:db8::1" }, "local_ip");
  assertBadOption("vxlan", { remote_ip: "flow", local_ip: "host" }, "local_ip");
});

Deno.test("tunnel port: keys are 'flow' or 64-bit numbers", () => {
  const fixed = new TunnelPort("t", "vxlan", { remote_ip: "flow", key: "0x2a" });
  assert.equal(fixed.config.inKey, 42n);
  assert.equal(fixed.config.outKey, 42n);
  assert.deepEqual(fixed.options, { remote_ip: "flow", key: "42" });
  const split = new TunnelPort("t", "gre", {
    remote_ip: "flow",
    in_key: "flow",
    out_key: "18446744073709551615",
  });
  assert.equal(split.config.inKey, "flow");
  assert.equal(split.config.outKey, 0xffffffffffffffffn);
  assert.deepEqual(split.options, {
    remote_ip: "flow",
    in_key: "flow",
    out_key: "18446744073709551615",
  });
  assert.equal(new TunnelPort("t", "gre", { remote_ip: "flow" }).config.inKey, null);
  assertBadOption("vxlan", { remote_ip: "flow", key: "abc" }, "key");
  assertBadOption("vxlan", { remote_ip: "flow", key: "18446744073709551616" }, "key");
  assertBadOption("vxlan", { remote_ip: "flow", in_key: "-1" }, "in_key");
  assertBadOption("vxlan", { remote_ip: "flow", out_key: "" }, "out_key");
});

Deno.test("tunnel port: ttl, tos, csum, df_default and unknown options", () => {
  const port = new TunnelPort("t", "geneve", {
    remote_ip: "flow",
    ttl: "32",
    tos: "0x20",
    csum: "true",
    df_default: "false",
  });
  assert.deepEqual(port.config.ttl, 32);
  assert.deepEqual(port.options, {
    remote_ip: "flow",
    ttl: "32",
    tos: "0x20",
    csum: "true",
    df_default: "false",
  });
  assert.equal(
    new TunnelPort("t", "gre", { remote_ip: "flow", tos: "inherit" }).config.tos,
    "inherit",
  );
  assertBadOption("vxlan", { remote_ip: "flow", ttl: "0" }, "ttl");
  assertBadOption("vxlan", { remote_ip: "flow", ttl: "256" }, "ttl");
  assertBadOption("vxlan", { remote_ip: "flow", tos: "3" }, "tos");
  assertBadOption("vxlan", { remote_ip: "flow", csum: "yes" }, "csum");
  assertBadOption("vxlan", { remote_ip: "flow", df_default: "1" }, "df_default");
  assertBadOption("vxlan", { remote_ip: "flow", colour: "blue" }, "colour");
});

Deno.test("tunnel port: receives nothing; direct output is freed and counted", () => {
  const pool = new MemoryPool({ capacity: 8 });
  const port = new TunnelPort("t", "vxlan", { remote_ip: "flow" });
  const batch = new PacketBatch(pool);
  assert.equal(port.receive(0, batch), 0);
  assert.equal(batch.count, 0);
  const handles = new Int32Array(3);
  pool.allocBulk(handles, 0, 3);
  for (const h of handles) batch.push(h, pool.bufferStart(h) + pool.headroom, 60);
  port.transmit(0, batch);
  assert.equal(batch.count, 0);
  assert.equal(pool.available(), 8);
  const stats = port.stats();
  assert.equal(stats.tx_dropped, 3);
  assert.equal(stats.tx_packets, 0);
  port.close();
});
