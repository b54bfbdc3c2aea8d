/**
 * Crash recovery (a short run of tools/crash_recovery.ts): the real
 * service is killed with SIGKILL while concurrent clients add and remove
 * ports and put, modify and delete flows and send operate batches; after
 * each restart every acknowledged change is there and nothing
 * unacknowledged is half there. Also checks that the checker itself catches
 * a lost acknowledged flow, a half-applied batch, a changed key and a flow
 * that was never put. tests/api_persistence_test.ts keeps the single-kill
 * case with exact expectations.
 */

import assert from "node:assert/strict";
import { dpdkAvailability } from "../ffi/loader.ts";
import { CrashModel } from "../tools/crash_model.ts";
import { type CrashRecoveryReport, runCrashRecovery } from "../tools/crash_recovery.ts";

function assertClean(report: CrashRecoveryReport): void {
  const found = report.rounds.flatMap((r) => r.violations.map((v) => `round ${r.round}: ${v}`));
  assert.deepEqual(found, [], "no violations");
  assert.equal(report.finalExitCode, 0, "SIGTERM after the last restart exits 0");
  assert.ok(report.finalStopped, "logged stopped");
  assert.equal(report.violations, 0);
  const acked = report.rounds.reduce(
    (n, r) => n + Object.values(r.acknowledged).reduce((a, b) => a + b, 0),
    0,
  );
  assert.ok(acked > 10, `writes were acknowledged (${acked})`);
  assert.ok(report.rounds.every((r) => r.unanswered > 0), "every kill left requests unanswered");
  const last = report.rounds.at(-1)!;
  assert.ok(last.restored.flows > 0, "flows were restored");
}

Deno.test("crash recovery: kill -9 during concurrent writes, dummy backend, 3 rounds", async () => {
  const report = await runCrashRecovery({ rounds: 3, seed: 42, workers: 6, killMs: [120, 300] });
  assertClean(report);
});

Deno.test({
  name: "crash recovery: kill -9 during concurrent writes, DPDK backend, 2 rounds",
  ignore: !dpdkAvailability().available,
  async fn() {
    const report = await runCrashRecovery({
      rounds: 2,
      seed: 43,
      workers: 4,
      killMs: [150, 300],
      dpdk: true,
    });
    assertClean(report);
  },
});
if (!dpdkAvailability().available) {
  console.log(`crash recovery on DPDK skipped: ${dpdkAvailability().reason}`);
}

Deno.test("crash model: catches lost, half-applied, changed and invented state", () => {
  const model = new CrashModel(["dp0"]);
  const key = (n: number) => `recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(src=10.0.0.${n})`;
  for (let n = 1; n <= 5; n++) model.flowKeys.set(`u${n}`, key(n));
  model.ackFlow({ id: "u1", before: null, after: "1" });
  model.ackFlow({ id: "u2", before: null, after: "2" });
  model.unansweredBatch("b", [
    { id: "u3", before: null, after: "1" },
    { id: "u2", before: "2", after: null },
  ]);
  model.unansweredFlow({ id: "u4", before: null, after: "1,2" });
  model.ackPort({ id: "c1", before: null, after: { port_no: 9, type: "dummy" } });

  // u1 lost, the batch half applied (u3 added, u2 kept), u4 with another key, u5 never put.
  const violations = model.verify(
    [{ name: "dp0", port_no: 0, type: "internal" }],
    [
      { ufid: "u2", flow: key(2), actions: "2" },
      { ufid: "u3", flow: key(3), actions: "1" },
      { ufid: "u4", flow: key(9), actions: "1,2" },
      { ufid: "u5", flow: key(5), actions: "1" },
    ],
  );
  const text = violations.join("\n");
  assert.match(text, /port c1: expected/);
  assert.match(text, /flow u1: expected actions \["1"\], found null/);
  assert.match(text, /operate batch b: half applied/);
  assert.match(text, /flow u4: key .* is not the key put/);
  assert.match(text, /flow u5: never put, yet present/);
  assert.equal(violations.length, 5, text);

  // Settled to what was seen: the same state now verifies clean.
  model.ackPort({ id: "c1", before: null, after: null });
  model.flowKeys.set("u4", key(9));
  model.ackFlow({ id: "u5", before: null, after: "1" });
  assert.deepEqual(
    model.verify([{ name: "dp0", port_no: 0, type: "internal" }], [
      { ufid: "u2", flow: key(2), actions: "2" },
      { ufid: "u3", flow: key(3), actions: "1" },
      { ufid: "u4", flow: key(9), actions: "1,2" },
      { ufid: "u5", flow: key(5), actions: "1" },
    ]),
    [],
  );

  // A complete batch either way passes; an unanswered put may be absent.
  model.unansweredBatch("c", [
    { id: "u2", before: "2", after: null },
    { id: "u3", before: "1", after: "2" },
  ]);
  model.unansweredFlow({ id: "u1", before: null, after: "1" });
  assert.deepEqual(
    model.verify([{ name: "dp0", port_no: 0, type: "internal" }], [
      { ufid: "u3", flow: key(3), actions: "2" },
      { ufid: "u4", flow: key(9), actions: "1,2" },
      { ufid: "u5", flow: key(5), actions: "1" },
    ]),
    [],
  );
});
