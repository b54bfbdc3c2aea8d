/**
 * Messages between the state writer (api/state_writer.ts, main thread) and
 * its Worker (api/state_writer_worker.ts), which owns the SQLite connection
 * that commits. Every write is a plain object (structured-cloned); a flow
 * batch crosses as its encoded log record, a string.
 *
 * Order: the main thread sends `open`, then at most one `commit` at a time
 * (the next only after the reply to the previous), then `close`. The
 * Worker answers each with exactly one message.
 *
 * @module
 */

import type { FlowRecord, StateStoreOptions, StoredPort } from "./state_store.ts";

/** One store write, as the Worker applies it (a StateStore method call). */
export type StoreWrite =
  | { kind: "addDatapath"; name: string }
  | { kind: "removeDatapath"; name: string }
  | { kind: "addPort"; dp: string; port: StoredPort }
  | { kind: "removePort"; dp: string; name: string }
  | { kind: "flowRecord"; dp: string; record: FlowRecord; liveFlows?: number }
  | { kind: "flushFlows"; dp: string }
  | { kind: "markInitialized" };

/** Main thread to Worker. */
export type WriterRequest =
  | { type: "open"; dir: string; options: StateStoreOptions }
  | { type: "commit"; group: number; writes: StoreWrite[] }
  | { type: "close" };

/** Why an open or a commit failed: the SQLite error, cloned field by field. */
export interface WriterFailure {
  name: string;
  message: string;
  /** node:sqlite's `code` (e.g. "ERR_SQLITE_ERROR"), if any. */
  code?: string;
  /** SQLite's error code (e.g. 13 for SQLITE_FULL), if any. */
  errcode?: number;
  /** SQLite's text for it (e.g. "database or disk is full"), if any. */
  errstr?: string;
}

/** Worker to main thread. */
export type WriterReply =
  | { type: "opened" }
  | { type: "committed"; group: number }
  | { type: "failed"; group: number; error: WriterFailure }
  | { type: "open-failed"; error: WriterFailure }
  | { type: "closed" };

/** The fields of a thrown value that cross the thread boundary. */
export function writerFailure(error: unknown): WriterFailure {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const fields = error as Error & { code?: unknown; errcode?: unknown; errstr?: unknown };
  return {
    name: error.name,
    message: error.message,
    code: typeof fields.code === "string" ? fields.code : undefined,
    errcode: typeof fields.errcode === "number" ? fields.errcode : undefined,
    errstr: typeof fields.errstr === "string" ? fields.errstr : undefined,
  };
}
