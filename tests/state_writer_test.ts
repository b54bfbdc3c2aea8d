/**
 * The state writer (api/state_writer.ts): store writes committed on a
 * Worker with group commit, behind the real API app. Ordering of
 * acknowledged changes across a restart, group commit of concurrent
 * operates (in process, and across a kill -9 in a child process), and a
 * writer that fails: a write lock held by another connection, and a full
 * disk (a tmpfs, when this runs as root).
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { STATE_FILE, StateStore } from "../api/state_store.ts";
import { StateWriteError, StateWriter } from "../api/state_writer.ts";
import { call, testApp } from "./api_fixtures.ts";

/** ODP text of flow `j` (distinct for j below 65536). */
function flowText(j: number): string {
  return `in_port(1),eth(),eth_type(0x0800),ipv4(src=10.2.${j >> 8}.${j & 255},frag=no)`;
}

/** An app over a fresh registry (dp0, ports p1, p2) writing through `store`. */
/** The API over dp0 with dummy ports p1..p3, persisting through `store`. */
function appWith(store: StateWriter) {
  return testApp({ store });
}

/** Opens a writer on `dir` with dp0 stored, as the service has after its first start. */
async function writerWithDp0(dir: string, busyTimeoutMs?: number): Promise<StateWriter> {
  const writer = await StateWriter.open(dir, { busyTimeoutMs });
  await writer.addDatapath("dp0");
  return writer;
}

/** What a fresh connection reads back: flow UFID -> actions of dp0, and port names. */
function reload(dir: string): { flows: Map<string, unknown>; ports: string[]; dps: string[] } {
  const store = StateStore.open(dir);
  try {
    const state = store.load();
    const dp0 = state.find((d) => d.name === "dp0");
    return {
      flows: new Map(dp0?.flows.map((f) => [f.ufid, f.actions]) ?? []),
      ports: dp0?.ports.map((p) => p.name) ?? [],
      dps: state.map((d) => d.name),
    };
  } finally {
    store.close();
  }
}

function withDir(body: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "dpif-writer-" });
    try {
      await body(dir);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

Deno.test(
  "state writer: acknowledged puts, deletes, port and datapath changes replay in order",
  withDir(async (dir) => {
    const writer = await writerWithDp0(dir);
    const t = appWith(writer);
    try {
      const put = await call(t.app, "POST", "/v1/datapaths/dp0/flows", {
        flow: flowText(1),
        actions: "1",
      });
      assert.equal(put.status, 201);
      const ufid = put.json.ufid;
      const del = await call(t.app, "DELETE", `/v1/datapaths/dp0/flows/${ufid}`);
      assert.equal(del.status, 200);
      // Put again with other actions, modify, delete and put back: without
      // waiting in between, so several land in one group.
      const burst = await Promise.all([
        call(t.app, "PUT", "/v1/datapaths/dp0/flows", { flow: flowText(2), actions: "1" }),
        call(t.app, "POST", "/v1/datapaths/dp0/operate", {
          ops: [{ op: "put", flow: flowText(3), actions: "2" }],
        }),
        call(t.app, "POST", "/v1/datapaths/dp0/ports", { name: "p5", type: "dummy" }),
        call(t.app, "POST", "/v1/datapaths", { name: "gone" }),
      ]);
      assert.deepEqual(burst.map((r) => r.status), [201, 200, 201, 201]);
      const modified = await call(t.app, "PUT", "/v1/datapaths/dp0/flows", {
        flow: flowText(2),
        actions: "2,1",
      });
      assert.equal(modified.status, 200);
      const removed = burst[1].json.results[0].result.ufid;
      const last = await Promise.all([
        call(t.app, "POST", "/v1/datapaths/dp0/operate", { ops: [{ op: "del", ufid: removed }] }),
        call(t.app, "DELETE", "/v1/datapaths/dp0/ports/p5"),
        call(t.app, "DELETE", "/v1/datapaths/gone"),
        call(t.app, "POST", "/v1/datapaths/dp0/flows", { flow: flowText(1), actions: "2" }),
      ]);
      assert.deepEqual(last.map((r) => r.status), [200, 204, 204, 201]);
      assert.ok(last[0].json.results[0].ok);
      const again = last[3].json.ufid;
      assert.equal(again, ufid, "the same flow text gets the same UFID");
      assert.ok(writer.commits < writer.writes, `grouped: ${writer.commits} / ${writer.writes}`);
    } finally {
      t.close();
      await writer.close();
    }
    const state = reload(dir);
    assert.deepEqual(state.dps, ["dp0"]);
    assert.deepEqual(state.ports, []);
    assert.equal(state.flows.size, 2);
    const actions = [...state.flows.values()];
    assert.deepEqual(actions, ["2,1", "2"], "flow 2 modified, flow 1 deleted then put back");
  }),
);

Deno.test(
  "state writer: many concurrent operates are grouped and all durable after a restart",
  withDir(async (dir) => {
    const writer = await writerWithDp0(dir);
    const t = appWith(writer);
    const requests = 40;
    const perRequest = 50;
    const acknowledged: string[] = [];
    try {
      const answers = await Promise.all(
        Array.from(
          { length: requests },
          (_, r) =>
            call(t.app, "POST", "/v1/datapaths/dp0/operate", {
              ops: Array.from({ length: perRequest }, (_, i) => ({
                op: "put",
                flow: flowText(r * perRequest + i),
                actions: String(1 + (i & 1)),
              })),
            }),
        ),
      );
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        for (const r of answer.json.results) {
          assert.ok(r.ok);
          acknowledged.push(r.result.ufid);
        }
      }
      // One commit per group, not per request (the first request of the
      // burst usually goes alone, the rest queue behind it).
      assert.ok(writer.commits < requests / 2, `${writer.commits} commits for ${requests}`);
      assert.equal(writer.writes, requests + 1);
    } finally {
      t.close();
      await writer.close();
    }
    const flows = reload(dir).flows;
    assert.equal(flows.size, requests * perRequest);
    for (const ufid of acknowledged) assert.ok(flows.has(ufid), ufid);
  }),
);

const MODULES = {
  app: new URL("../api/app.ts", import.meta.url).href,
  writer: new URL("../api/state_writer.ts", import.meta.url).href,
  registry: new URL("../datapath/registry.ts", import.meta.url).href,
};

Deno.test(
  "state writer: kill -9 with grouped operates in flight keeps every acknowledged batch, whole",
  withDir(async (dir) => {
    // The child sends operates to the app from 4 concurrent clients (so
    // commits carry several batches) and prints each acknowledged batch;
    // after 8 it kills itself while others wait on their commit.
    const code = `
      import { createApp } from ${JSON.stringify(MODULES.app)};
      import { StateWriter } from ${JSON.stringify(MODULES.writer)};
      import { DatapathRegistry } from ${JSON.stringify(MODULES.registry)};
      const writer = await StateWriter.open(${JSON.stringify(dir)});
      await writer.addDatapath("dp0");
      const registry = new DatapathRegistry();
      registry.create("dp0").addPort({ name: "p1", type: "dummy", port_no: 1 });
      const app = createApp({ registry, store: writer });
      const out = new TextEncoder();
      let acked = 0;
      let next = 0;
      const client = async () => {
        while (next < 60) {
          const r = next++;
          const ops = [];
          for (let i = 0; i < 100; i++) {
            const j = r * 100 + i;
            ops.push({ op: "put", flow: "in_port(1),eth(),eth_type(0x0800),ipv4(src=10.3." +
              (j >> 8) + "." + (j & 255) + ",frag=no)", actions: "1" });
          }
          const res = await app.request("/v1/datapaths/dp0/operate", { method: "POST",
            body: JSON.stringify({ ops }), headers: { "content-type": "application/json" } });
          const json = await res.json();
          if (res.status !== 200) throw new Error(JSON.stringify(json));
          const ufids = json.results.map((x) => x.result.ufid).join(" ");
          Deno.stdout.writeSync(out.encode(r + " " + ufids + "\\n"));
          if (++acked === 8) Deno.kill(Deno.pid, "SIGKILL");
        }
      };
      await Promise.all([client(), client(), client(), client()]);
    `;
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(child.signal, "SIGKILL", new TextDecoder().decode(child.stderr));
    const lines = new TextDecoder().decode(child.stdout).trim().split("\n");
    assert.ok(lines.length >= 8, `acknowledged ${lines.length}`);
    const flows = reload(dir).flows;
    const acknowledged = new Set<number>();
    for (const line of lines) {
      const [batch, ...ufids] = line.split(" ");
      acknowledged.add(Number(batch));
      assert.equal(ufids.length, 100);
      for (const ufid of ufids) assert.ok(flows.has(ufid), `acknowledged ${ufid} of ${batch}`);
    }
    // Whatever was not acknowledged is there whole or not at all.
    assert.equal(flows.size % 100, 0, `${flows.size} flows: no batch is there in part`);
    assert.ok(flows.size >= acknowledged.size * 100);
    assert.ok(flows.size < 6000, "the kill came before every batch was committed");
  }),
);

Deno.test(
  "state writer: kill -9 the moment a write is acknowledged: it is there",
  withDir(async (dir) => {
    // Killed in the very callback of the first acknowledgement, so an
    // answer sent before its commit was written would show (records of
    // 20,000 changes, about 3 MB: writing one takes milliseconds; with the
    // Worker replying before its transaction, this failed every time).
    const code = `
      import { StateWriter } from ${JSON.stringify(MODULES.writer)};
      const writer = await StateWriter.open(${JSON.stringify(dir)});
      await writer.addDatapath("dp0");
      const out = new TextEncoder();
      const batches = [];
      for (let r = 0; r < 6; r++) {
        const changes = [];
        for (let i = 0; i < 20000; i++) {
          changes.push({ op: "put", ufid: "ufid:" + r + "-" + i, flow: "in_port(1),skb_mark(" +
            (r * 20000 + i) + "),eth(),eth_type(0x0800),ipv4(src=10.9.9.9,frag=no)",
            actions: "1" });
        }
        batches.push(changes);
      }
      let acked = 0;
      let next = 0;
      const client = async () => {
        while (next < batches.length) {
          const r = next++;
          await writer.recordFlowChanges("dp0", batches[r]);
          Deno.stdout.writeSync(out.encode(r + "\\n"));
          if (++acked === 1) Deno.kill(Deno.pid, "SIGKILL");
        }
      };
      await Promise.all([client(), client(), client()]);
    `;
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(child.signal, "SIGKILL", new TextDecoder().decode(child.stderr));
    const acked = new TextDecoder().decode(child.stdout).trim().split("\n").map(Number);
    assert.equal(acked.length, 1);
    const flows = reload(dir).flows;
    for (const r of acked) {
      for (const i of [0, 19999]) assert.ok(flows.has(`ufid:${r}-${i}`), `batch ${r} (${i})`);
    }
    assert.equal(flows.size % 20000, 0, `${flows.size} flows: no batch is there in part`);
    assert.ok(flows.size < 120_000, "the kill came before every batch was committed");
  }),
);

Deno.test(
  "state writer: a failed commit answers EIO to every request of its group and behind it, " +
    "undoes their changes, and later writes go through",
  withDir(async (dir) => {
    const writer = await writerWithDp0(dir, 100);
    const t = appWith(writer);
    const blocker = new DatabaseSync(join(dir, STATE_FILE));
    try {
      const before = await call(t.app, "POST", "/v1/datapaths/dp0/flows", {
        flow: flowText(1),
        actions: "1",
      });
      assert.equal(before.status, 201);
      // Another connection holds the write lock: the writer's next
      // transaction waits its busy timeout (100 ms), then fails.
      blocker.exec("BEGIN IMMEDIATE");
      const failed = await Promise.all([
        call(t.app, "POST", "/v1/datapaths/dp0/flows", { flow: flowText(2), actions: "1" }),
        call(t.app, "POST", "/v1/datapaths/dp0/ports", { name: "p7", type: "dummy" }),
        call(t.app, "POST", "/v1/datapaths", { name: "br9" }),
        call(t.app, "POST", "/v1/datapaths/dp0/operate", {
          ops: [{ op: "put", flow: flowText(3), actions: "2" }],
        }),
      ]);
      for (const answer of failed) {
        assert.equal(answer.status, 500, answer.text);
        assert.equal(answer.json.error.code, "EIO");
        assert.match(answer.json.error.message, /state store write failed \(database is locked\)/);
      }
      // Undone: the new flows (by POST and by operate), port and datapath.
      assert.equal((await call(t.app, "GET", "/v1/datapaths/dp0/ports/p7")).status, 404);
      assert.equal((await call(t.app, "GET", "/v1/datapaths/br9")).status, 404);
      const dump = await call(t.app, "GET", "/v1/datapaths/dp0/flows");
      assert.deepEqual(dump.json.flows.map((f: { ufid: string }) => f.ufid), [before.json.ufid]);
      blocker.exec("ROLLBACK");
      const after = await call(t.app, "POST", "/v1/datapaths/dp0/flows", {
        flow: flowText(4),
        actions: "2",
      });
      assert.equal(after.status, 201);
      t.close();
      await writer.close();
      const state = reload(dir);
      assert.deepEqual([...state.flows.keys()], [before.json.ufid, after.json.ufid]);
      assert.deepEqual(state.ports, []);
      assert.deepEqual(state.dps, ["dp0"]);
    } finally {
      t.close();
      await writer.close();
      blocker.close();
    }
  }),
);

Deno.test("state writer: writes after close are rejected, and the API answers EIO", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "dpif-writer-" });
  const writer = await writerWithDp0(dir);
  const t = appWith(writer);
  try {
    const pending = writer.addPort("dp0", { name: "x", type: "dummy", port_no: 9, options: {} });
    await writer.close();
    await pending; // written before the close finished
    await assert.rejects(writer.addDatapath("late"), StateWriteError);
    const answer = await call(t.app, "POST", "/v1/datapaths/dp0/flows", {
      flow: flowText(5),
      actions: "1",
    });
    assert.equal(answer.status, 500);
    assert.match(answer.json.error.message, /state writer closed/);
    assert.equal(t.registry.open("dp0").stats().n_flows, 0, "the put was undone");
    assert.deepEqual(reload(dir).ports, ["x"]);
  } finally {
    t.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Mounts a tmpfs of `kib` KiB on a new directory, or returns why it cannot. */
async function tmpfs(kib: number): Promise<string | { skip: string }> {
  if (Deno.uid() !== 0) return { skip: "not root: cannot mount a tmpfs" };
  const dir = Deno.makeTempDirSync({ prefix: "dpif-full-" });
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", dir],
    stderr: "piped",
  }).output().catch((error) => ({ success: false, stderr: new TextEncoder().encode(`${error}`) }));
  if (!out.success) {
    Deno.removeSync(dir);
    return { skip: `mount failed: ${new TextDecoder().decode(out.stderr).trim()}` };
  }
  return dir;
}

Deno.test("state writer: a full disk answers EIO; writes go on once there is room", async () => {
  const dir = await tmpfs(1024);
  if (typeof dir !== "string") {
    console.log(`skipped: ${dir.skip}`);
    return;
  }
  let writer: StateWriter | undefined;
  let t: ReturnType<typeof appWith> | undefined;
  try {
    writer = await writerWithDp0(dir);
    t = appWith(writer);
    const ops = (base: number) => ({
      ops: Array.from({ length: 200 }, (_, i) => ({
        op: "put",
        flow: flowText(base + i),
        actions: "1",
      })),
    });
    const first = await call(t.app, "POST", "/v1/datapaths/dp0/operate", ops(0));
    assert.equal(first.status, 200);
    // Fill what is left of the disk.
    const filler = await Deno.open(join(dir, "filler"), { write: true, create: true });
    const chunk = new Uint8Array(16 * 1024);
    try {
      for (;;) filler.writeSync(chunk);
    } catch (error) {
      assert.match(String(error), /No space left|ENOSPC/i);
    } finally {
      filler.close();
    }
    const full = await call(t.app, "POST", "/v1/datapaths/dp0/operate", ops(1000));
    assert.equal(full.status, 500, full.text);
    assert.equal(full.json.error.code, "EIO");
    assert.match(full.json.error.message, /full/);
    Deno.removeSync(join(dir, "filler"));
    const later = await call(t.app, "POST", "/v1/datapaths/dp0/operate", ops(2000));
    assert.equal(later.status, 200, later.text);
    t.close();
    await writer.close();
    const flows = reload(dir).flows;
    assert.equal(flows.size, 400, "the two acknowledged batches, not the failed one");
    for (const r of [...first.json.results, ...later.json.results]) {
      assert.ok(flows.has(r.result.ufid));
    }
  } finally {
    t?.close();
    await writer?.close();
    await new Deno.Command("umount", { args: [dir] }).output();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("state writer: a write that cannot be sent is rejected; later writes go on", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "dpif-writer-clone-" });
  const writer = await StateWriter.open(dir);
  try {
    await writer.addDatapath("dp0");
    // A function cannot cross to the writer thread (no API body can hold one).
    const options = { f: (() => 1) as unknown as string };
    await assert.rejects(
      writer.addPort("dp0", { name: "x", type: "dummy", port_no: 1, options }),
      StateWriteError,
    );
    await writer.addDatapath("dp1");
  } finally {
    await writer.close();
  }
  const store = StateStore.open(dir);
  try {
    assert.deepEqual(store.load().map((d) => d.name).sort(), ["dp0", "dp1"]);
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
