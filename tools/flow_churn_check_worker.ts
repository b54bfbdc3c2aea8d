/**
 * The Worker of {@linkcode DumpChecker} (flow_churn_check.ts): checks each
 * posted page with malformedFlow, in order, and answers report requests
 * with the totals so far.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { setThreadAffinity } from "../ffi/thread_affinity.ts";
import { setThreadNice } from "./thread_nice.ts";
import { type CheckReply, type CheckRequest, malformedFlow } from "./flow_churn_check.ts";

let checked = 0;
let malformed = 0;
let first: string | null = null;

self.onmessage = (event: MessageEvent<CheckRequest>) => {
  const request = event.data;
  if (request.op === "cpus") {
    if (request.cpus !== undefined) setThreadAffinity(request.cpus);
    if (request.nice !== 0) setThreadNice(request.nice);
    return;
  }
  if (request.op === "report") {
    self.postMessage({ id: request.id, checked, malformed, first } satisfies CheckReply);
    return;
  }
  const texts = request.texts;
  for (let i = 0; i + 2 < texts.length; i += 3) {
    checked++;
    const bad = malformedFlow({ ufid: texts[i], flow: texts[i + 1], actions: texts[i + 2] });
    if (bad !== null) {
      malformed++;
      first ??= bad;
    }
  }
};
