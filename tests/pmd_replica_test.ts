/** FlowReplica, the PMD's copy of the flow table: program sharing across slots. */

import assert from "node:assert/strict";
import { parseFlowKey } from "../datapath/odp/key_parse.ts";
import { parseActions } from "../datapath/odp/action_parse.ts";
import { actionsToJson } from "../datapath/odp/action_json.ts";
import { FlowReplica } from "../datapath/pmd_replica.ts";

function put(
  replica: FlowReplica,
  slot: number,
  generation: number,
  flow: string,
  actions: string,
) {
  const match = parseFlowKey(flow);
  replica.apply({
    op: "put",
    slot,
    generation,
    key: match.key,
    mask: match.mask,
    actions: actionsToJson(parseActions(actions)) as unknown[],
    sentAt: 0,
  });
}

Deno.test("flow replica: equal action lists share one program; a modify or delete leaves the others", () => {
  const replica = new FlowReplica(16);
  put(replica, 0, 1, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.1)", "2");
  put(replica, 1, 1, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.2)", "2");
  put(replica, 2, 1, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.3)", "3");
  assert.equal(replica.programs[0], replica.programs[1], "same actions, one program");
  assert.notEqual(replica.programs[0], replica.programs[2]);
  const shared = replica.programs[1];
  put(replica, 0, 1, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.1)", "3"); // modify
  assert.equal(replica.programs[0], replica.programs[2], "the modified flow joins the '3' program");
  assert.equal(replica.programs[1], shared, "the other '2' flow keeps its program");
  assert.equal(replica.programs[1].directOutput, 2);
  replica.apply({ op: "del", slot: 1, sentAt: 0 });
  put(replica, 1, 2, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.2)", "2");
  assert.notEqual(replica.programs[1], shared, "the last user gone, '2' is compiled afresh");
  assert.equal(replica.programs[1].directOutput, 2);
  assert.equal(replica.size, 3);
});
