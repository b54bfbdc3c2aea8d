/**
 * MbufPoolSet: one mbuf pool per NUMA socket, chosen by a port's socket,
 * with per-pool usage and leak detection at close. Runs on whatever sockets
 * the machine has (CI machines have one). Skipped when DPDK is absent.
 */
import assert from "node:assert/strict";
import { PacketBatch } from "../datapath/packet_batch.ts";
import { DpdkPort } from "../ffi/dpdk_port.ts";
import { initEal } from "../ffi/eal.ts";
import { dpdkAvailability, loadDpdk } from "../ffi/loader.ts";
import { MbufPoolSet, SOCKET_ID_ANY } from "../ffi/mbuf_pool_set.ts";
import { testFrame } from "./port_conformance.ts";

const availability = dpdkAvailability();
const ignore = !availability.available;
if (ignore) console.log(`MbufPoolSet tests skipped: ${availability.reason}`);

function prefix(): string {
  return `ps${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
}

Deno.test({
  name: "MbufPoolSet: a pool per socket, picked by a port's socket; usage per pool",
  ignore,
  fn() {
    initEal({ memoryMb: 512 });
    const sockets = MbufPoolSet.sockets();
    assert.ok(sockets.length >= 1 && sockets.every((s) => s >= 0), `sockets ${sockets}`);
    const mine = MbufPoolSet.callerSocket();
    const eal = loadDpdk().eal.rte_socket_id() | 0;
    assert.equal(mine, eal >= 0 ? eal : sockets[0]);
    const name = prefix();
    const set = new MbufPoolSet({ namePrefix: name, capacity: 511 });
    let port: DpdkPort | undefined;
    try {
      assert.deepEqual(set.usage(), [], "no pool before one is asked for");
      const any = set.forSocket(SOCKET_ID_ANY);
      assert.equal(set.forSocket(mine), any, "SOCKET_ID_ANY is the calling thread's socket");
      assert.equal(any.name, `${name}_s${mine}`);
      assert.throws(() => set.forSocket(Math.max(...sockets) + 1), /no NUMA socket/);

      port = DpdkPort.open("n", { devargs: `net_null_${name},no-rx=1` }, any);
      assert.ok(port.socketId === SOCKET_ID_ANY || sockets.includes(port.socketId));
      const expected = port.socketId === SOCKET_ID_ANY ? mine : port.socketId;
      assert.equal(set.forPort(port.portId), set.forSocket(expected), "the port's socket's pool");

      const batch = new PacketBatch(any);
      for (let k = 0; k < 5; k++) assert.ok(batch.pushCopy(testFrame(k, 64)) >= 0);
      assert.deepEqual(set.usage(), [
        { name: any.name, socket: mine, capacity: 511, available: 506, in_use: 5 },
      ]);
      port.transmit(0, batch); // net_null frees what it sends
      assert.equal(set.usage()[0].in_use, 0);
    } finally {
      port?.close();
      set.close();
    }
    assert.throws(() => set.forSocket(SOCKET_ID_ANY), /closed/);
  },
});

Deno.test({
  name: "MbufPoolSet: close names every pool that still has mbufs out",
  ignore,
  fn() {
    initEal({ memoryMb: 512 });
    const set = new MbufPoolSet({ namePrefix: prefix(), capacity: 63, cacheSize: 0 });
    const pool = set.forSocket(SOCKET_ID_ANY);
    const handles = new Int32Array(3);
    assert.equal(pool.allocBulk(handles, 0, 3), 3);
    assert.throws(() => set.close(), new RegExp(`${pool.name}: 3 mbufs still in use`));
    for (const h of handles) pool.free(h);
    pool.close(); // what the set could not close
    assert.throws(() => new MbufPoolSet({ namePrefix: "bad-name" }), RangeError);
  },
});
