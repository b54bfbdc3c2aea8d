/**
 * The fast check of `POST .../operate` bodies (api/validate.ts
 * readOperateBody) accepts exactly what the zod schema accepts, with the
 * same value, and fails with the schema's own message otherwise.
 */

import assert from "node:assert/strict";
import {
  MAX_ODP_TEXT,
  MAX_OPERATIONS,
  operateBody,
  readBody,
  readOperateBody,
} from "../api/validate.ts";

const UFID = "ufid:01234567-89ab-cdef-0123-456789abcdef";
const put = { op: "put", flow: "in_port(1),eth_type(0x0800)", actions: "2" };

const bodies: unknown[] = [
  { ops: [] },
  { ops: [put, { ...put, actions: "1,2" }] },
  { ops: [{ ...put, ufid: UFID, create: false, modify: true, zero_stats: true }] },
  { ops: [{ ...put, ufid: UFID.slice(5).toUpperCase() }] },
  { ops: Array.from({ length: MAX_OPERATIONS }, () => put) },
  // Valid, but not in the fast subset: the schema decides.
  { ops: [put, { op: "del", ufid: UFID }] },
  { ops: [{ ...put, actions: [{ output: 2 }] }] },
  { ops: [{ ...put, flow: { in_port: 1 } }] },
  // Invalid.
  { ops: Array.from({ length: MAX_OPERATIONS + 1 }, () => put) },
  { ops: [{ ...put, extra: 1 }] },
  { ops: [{ ...put, ufid: "ufid:nope" }] },
  { ops: [{ ...put, create: "yes" }] },
  { ops: [{ ...put, flow: "x".repeat(MAX_ODP_TEXT + 1) }] },
  { ops: [{ ...put, actions: 2 }] },
  { ops: [{ ...put, op: "PUT" }] },
  { ops: [[put]] },
  { ops: [null] },
  { ops: put },
  { ops: [put], more: true },
  JSON.parse('{"ops":[{"op":"put","flow":"in_port(1)","actions":"2","__proto__":{"x":1}}]}'),
  [],
  "ops",
];

function request(value: unknown): Request {
  return new Request("http://x/", { method: "POST", body: JSON.stringify(value) });
}

async function outcome(read: Promise<unknown>): Promise<{ value?: unknown; error?: string }> {
  try {
    return { value: await read };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

Deno.test("operate body: the fast check agrees with the schema on every body", async () => {
  let accepted = 0;
  for (const [i, body] of bodies.entries()) {
    const fast = await outcome(readOperateBody(request(body)));
    const schema = await outcome(readBody(request(body), operateBody));
    assert.deepEqual(fast, schema, `body ${i}`);
    if (fast.value !== undefined) accepted++;
  }
  assert.equal(accepted, 8);
});

Deno.test("operate body: empty and non-JSON bodies fail as readBody fails", async () => {
  for (const text of ["", "  ", "{", "nope"]) {
    const make = () => new Request("http://x/", { method: "POST", body: text });
    const fast = await outcome(readOperateBody(make()));
    const schema = await outcome(readBody(make(), operateBody));
    assert.deepEqual(fast, schema, JSON.stringify(text));
    assert.ok(fast.error !== undefined, "refused");
  }
});
