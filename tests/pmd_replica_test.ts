/** FlowReplica, the PMD's copy of the flow table: program sharing across slots by action id. */

import assert from "node:assert/strict";
import { parseFlowKey } from "../datapath/odp/key_parse.ts";
import { parseActions } from "../datapath/odp/action_parse.ts";
import { encodeActionList } from "../datapath/pmd_action_wire.ts";
import { FlowReplica } from "../datapath/pmd_replica.ts";

/** Sends action list `id` to the replica as the control side does (its wire bytes, one chunk). */
function define(replica: FlowReplica, id: number, actions: string) {
  const text = encodeActionList(parseActions(actions));
  replica.addActionChunk(id, text.length, 0, text);
}

function put(replica: FlowReplica, slot: number, generation: number, flow: string, id: number) {
  const match = parseFlowKey(flow);
  replica.put(slot, generation, match.key, match.mask, id);
}

Deno.test("flow replica: equal action ids share one program; a modify or delete leaves the others", () => {
  const replica = new FlowReplica(16);
  define(replica, 0, "2");
  define(replica, 1, "3");
  put(replica, 0, 1, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.1)", 0);
  put(replica, 1, 1, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.2)", 0);
  put(replica, 2, 1, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.3)", 1);
  assert.equal(replica.programs[0], replica.programs[1], "same actions, one program");
  assert.notEqual(replica.programs[0], replica.programs[2]);
  const shared = replica.programs[1];
  put(replica, 0, 1, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.1)", 1); // modify
  assert.equal(replica.programs[0], replica.programs[2], "the modified flow joins the '3' program");
  assert.equal(replica.programs[1], shared, "the other '2' flow keeps its program");
  assert.equal(replica.programs[1].directOutput, 2);
  replica.remove(1);
  replica.forgetActions(0); // its last user gone, the control side forgets id 0
  assert.throws(
    () => put(replica, 1, 2, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.2)", 0),
    RangeError,
    "a put with a forgotten id is refused",
  );
  define(replica, 0, "2");
  put(replica, 1, 2, "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.2)", 0);
  assert.notEqual(replica.programs[1], shared, "the id sent again, '2' is compiled afresh");
  assert.equal(replica.programs[1].directOutput, 2);
  assert.equal(replica.size, 3);
  assert.equal(replica.actionLists, 2);
  replica.flush();
  assert.equal(replica.size, 0);
  assert.equal(replica.actionLists, 0, "a flush forgets every list");
});
