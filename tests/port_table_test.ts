import assert from "node:assert/strict";
import { DummyPort } from "../datapath/dummy_port.ts";
import { DpifError } from "../datapath/errors.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import type { Port } from "../datapath/port.ts";
import { createPort, createPortFactory, portFactory } from "../datapath/port_factory.ts";
import { PORT_NO_NONE, PortTable } from "../datapath/port_table.ts";
import { TunnelPort } from "../datapath/tunnel_port.ts";

const pool = new MemoryPool({ capacity: 64 });

function dummy(name: string): DummyPort {
  return new DummyPort(name, pool);
}

function assertDpifError(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof DpifError && e.code === code);
}

function names(ports: Port[]): string[] {
  return ports.map((p) => `${p.portNo}:${p.name}`);
}

Deno.test("port table: numbers are the lowest free >= 1 unless requested", () => {
  const table = new PortTable();
  assert.equal(table.add(new DummyPort("dp0", pool, { type: "internal" }), 0), 0);
  assert.equal(table.add(dummy("a")), 1);
  assert.equal(table.add(dummy("b"), 10), 10);
  assert.equal(table.add(dummy("c")), 2);
  table.remove(1);
  const d = dummy("d");
  assert.equal(table.add(d), 1);
  assert.equal(d.portNo, 1);
  assert.deepEqual(names(table.dump()), ["0:dp0", "1:d", "2:c", "10:b"]);
  assert.equal(table.size, 4);
  assert.equal(table.add(dummy("top"), 0xfffffffe), 0xfffffffe);
  table.closeAll();
  assert.equal(table.size, 0);
});

Deno.test("port table: bad requests fail without changing anything", () => {
  const table = new PortTable();
  table.add(dummy("a"), 1);
  const poller = table.poller();
  const b = dummy("b");
  assertDpifError(() => table.add(b, 1), "EBUSY");
  assertDpifError(() => table.add(dummy("a")), "EEXIST");
  assertDpifError(() => table.add(dummy("a"), 1), "EEXIST");
  for (const bad of [PORT_NO_NONE, -1, 1.5, 2 ** 32, NaN]) {
    assertDpifError(() => table.add(b, bad), "EINVAL");
  }
  assert.equal(b.portNo, 0, "a failed add leaves portNo alone");
  assert.deepEqual(poller.poll(), []);
  assert.deepEqual(names(table.dump()), ["1:a"]);
  table.closeAll();
});

Deno.test("port table: lookups by number and by name", () => {
  const table = new PortTable();
  const a = dummy("a");
  table.add(a, 5);
  assert.equal(table.get(5), a);
  assert.equal(table.byName("a"), a);
  assert.equal(table.get(6), undefined);
  assert.equal(table.byName("z"), undefined);
  table.closeAll();
});

Deno.test("port table: remove closes the port; the local port cannot be removed", () => {
  const table = new PortTable();
  table.add(new DummyPort("dp0", pool, { type: "internal" }), 0);
  const a = dummy("a");
  table.add(a);
  const before = pool.available();
  assert.ok(a.inject(new Uint8Array(60)));
  table.remove("a");
  assert.equal(pool.available(), before, "the queued frame was freed by close");
  assert.equal(table.get(1), undefined);
  assert.equal(table.byName("a"), undefined);
  assertDpifError(() => table.remove("a"), "ENOENT");
  assertDpifError(() => table.remove(7), "ENOENT");
  assertDpifError(() => table.remove(0), "EPERM");
  assertDpifError(() => table.remove("dp0"), "EPERM");
  assert.equal(table.size, 1);
  table.closeAll();
});

Deno.test("port table: pollers see changes in order, independently", () => {
  const table = new PortTable();
  const first = table.poller();
  table.add(dummy("a"));
  const second = table.poller();
  table.add(dummy("b"), 7);
  table.remove(1);
  assert.deepEqual(first.poll(), [
    { kind: "added", name: "a", portNo: 1 },
    { kind: "added", name: "b", portNo: 7 },
    { kind: "deleted", name: "a", portNo: 1 },
  ]);
  assert.deepEqual(first.poll(), []);
  assert.deepEqual(second.poll(), [
    { kind: "added", name: "b", portNo: 7 },
    { kind: "deleted", name: "a", portNo: 1 },
  ]);
  second.close();
  table.add(dummy("c"));
  assert.deepEqual(second.poll(), []);
  assert.deepEqual(first.poll(), [{ kind: "added", name: "c", portNo: 1 }]);
  table.closeAll();
});

Deno.test("port table: a poller that falls behind reports overflow once, then resumes", () => {
  const table = new PortTable({ pollerDepth: 4 });
  const slow = table.poller();
  const fast = table.poller();
  for (let i = 0; i < 5; i++) {
    table.add(dummy(`p${i}`));
    assert.equal((fast.poll() as unknown[]).length, 1);
  }
  assert.equal(slow.poll(), "overflow");
  assert.deepEqual(slow.poll(), []);
  table.remove("p0");
  assert.deepEqual(slow.poll(), [{ kind: "deleted", name: "p0", portNo: 1 }]);
  assert.throws(() => new PortTable({ pollerDepth: 0 }), RangeError);
  table.closeAll();
});

Deno.test("port factory: builds the built-in types and accepts new ones", () => {
  const factory = createPortFactory();
  assert.deepEqual(factory.types(), ["dummy", "geneve", "gre", "internal", "vxlan"]);
  const context = { pool };
  const local = factory.create({ name: "dp0", type: "internal" }, context);
  assert.ok(local instanceof DummyPort);
  assert.equal(local.type, "internal");
  const p1 = factory.create(
    { name: "p1", type: "dummy", options: { capture_limit: "8" } },
    context,
  );
  assert.equal((p1 as DummyPort).captureLimit, 8);
  const vxlan = factory.create(
    { name: "vxlan_sys_4789", type: "vxlan", options: { remote_ip: "flow" } },
    context,
  );
  assert.ok(vxlan instanceof TunnelPort);
  assert.equal(vxlan.dstPort, 4789);
  assert.equal(
    (factory.create(
      { name: "g", type: "gre", options: { remote_ip: "flow" } },
      context,
    ) as TunnelPort).tunnelType,
    "gre",
  );

  factory.register(
    "sink",
    (spec, ctx) => new DummyPort(spec.name, ctx.pool, { options: { capture_limit: "0" } }),
  );
  assert.equal(factory.create({ name: "s", type: "sink" }, context).name, "s");
  assertDpifError(() => factory.register("dummy", () => local), "EEXIST");
  assertDpifError(() => factory.create({ name: "x", type: "tap" }, context), "EOPNOTSUPP");
  assertDpifError(
    () => factory.create({ name: "x", type: "dummy", options: { zz: "1" } }, context),
    "EINVAL",
  );
  for (const bad of ["", "a b", "a,b", "a=b", "x".repeat(65)]) {
    assertDpifError(() => factory.create({ name: bad, type: "dummy" }, context), "EINVAL");
  }
  assertDpifError(
    () =>
      factory.create(
        { name: "x", type: "dummy", options: { n_rxq: 2 as unknown as string } },
        context,
      ),
    "EINVAL",
  );
  local.close();
  p1.close();
});

Deno.test("port factory: createPort uses the process-wide factory", () => {
  assert.ok(portFactory.types().includes("dummy"));
  const port = createPort({ name: "p9", type: "dummy", options: {}, pool });
  assert.ok(port instanceof DummyPort);
  assertDpifError(() => createPort({ name: "x", type: "nope", pool }), "EOPNOTSUPP");
  port.close();
});

Deno.test("port table: tunnelInfo finds tunnel ports only", () => {
  const table = new PortTable();
  table.add(dummy("p1"), 1);
  const vxlan = new TunnelPort("vxlan_sys_4789", "vxlan", { remote_ip: "flow" });
  table.add(vxlan, 4789);
  const info = table.tunnelInfo(4789);
  assert.equal(info, vxlan);
  assert.equal(info?.type, "vxlan");
  assert.equal(info?.dstPort, 4789);
  assert.equal(table.tunnelInfo(1), null);
  assert.equal(table.tunnelInfo(2), null);
  table.closeAll();
});
