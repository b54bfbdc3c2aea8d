/**
 * Persistent state of the service: datapaths, their ports and their flows,
 * in an embedded SQLite database (`node:sqlite`) in WAL mode with
 * `synchronous=FULL` (by default), so that a write that returned is on disk
 * before the API answers, and a crash or kill -9 loses nothing
 * acknowledged. Flow statistics are not kept.
 *
 * Flows are stored as the request gave them (ODP text or the JSON form)
 * with the UFID the datapath assigned, as a log of batches (one record per
 * operate request; see the notes at `SCHEMA`), and put again on restore.
 * The local port (0) is never stored: the datapath creates it.
 *
 * The service reads the state and writes the defaults of a first start
 * with this class on its main thread, then makes every later write
 * through api/state_writer.ts: the same class on a Worker, with group
 * commit, so that the commit's fsync never blocks the main thread.
 *
 * @example
 * ```ts
 * import { StateStore } from "./state_store.ts";
 * const store = StateStore.open(":memory:");
 * store.addDatapath("dp0");
 * store.addPort("dp0", { name: "p1", type: "dummy", port_no: 1, options: {} });
 * store.load(); // [{ name: "dp0", ports: [...], flows: [] }]
 * store.close();
 * ```
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { join } from "node:path";

/** File name of the database inside the state directory. */
export const STATE_FILE = "dpif.sqlite";

/** A stored port. */
export interface StoredPort {
  name: string;
  type: string;
  port_no: number;
  options: Record<string, string>;
}

/** A stored flow: the specs as given (text or JSON) and its UFID. */
export interface StoredFlow {
  ufid: string;
  flow: string | Record<string, unknown>;
  actions: string | unknown[];
}

/** A stored datapath with everything it holds. */
export interface StoredDatapath {
  name: string;
  ports: StoredPort[];
  flows: StoredFlow[];
}

/** One flow change of a batch: a put (insert or replace) or a delete, by UFID. */
export type FlowChange =
  | { op: "put"; ufid: string; flow: string | Record<string, unknown>; actions: string | unknown[] }
  | { op: "del"; ufid: string };

/**
 * A batch of flow changes encoded as one log record (the `ops` text of a
 * `flow_log` row), ready to store: see {@linkcode encodeFlowChanges}.
 */
export interface FlowRecord {
  /** JSON text of the changes, `[["p", ufid, flow, actions], ["d", ufid], ...]`. */
  ops: string;
  /** Changes in the record. */
  n: number;
  /** Puts minus deletes: the change in live flows when no count is given. */
  delta: number;
}

/**
 * Encodes flow changes as one log record. A separate step so that the
 * encoding (the JSON, about 0.35 µs per flow) can run where the changes are
 * made and only a string crosses to the state writer's thread
 * (api/state_writer.ts): a structured clone of the change objects cost
 * about 1 µs per flow, a string costs a copy.
 */
export function encodeFlowChanges(changes: readonly FlowChange[]): FlowRecord {
  const entries: LogEntry[] = new Array(changes.length);
  let delta = 0;
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i];
    if (c.op === "put") {
      entries[i] = ["p", c.ufid, c.flow, c.actions];
      delta++;
    } else {
      entries[i] = ["d", c.ufid];
      delta--;
    }
  }
  return { ops: JSON.stringify(entries), n: changes.length, delta };
}

/** Flow changes the log holds before it is considered for compaction (below: never rewritten). */
export const COMPACT_MIN_CHANGES = 100_000;
/** Page size of a new database (see the constructor). */
const PAGE_SIZE = 16384;
/** WAL bytes between automatic checkpoints (SQLite's default: 1,000 pages of 4 KiB). */
const CHECKPOINT_BYTES = 4096 * 1000;
/** Flows per record when a compaction rewrites the live flows. */
const COMPACT_CHUNK = 1000;

/*
 * Flows are kept as a log, not as one row per flow. Each batch of flow
 * changes (an operate request, or one put / delete) is appended as ONE row
 * of `flow_log`: its rowid is the next integer (an append at the right edge
 * of the B-tree, no random index insert) and its `ops` column is the JSON
 * text of the changes, `[["p", ufid, flow, actions], ["d", ufid], ...]`.
 * `load` replays the log in rowid order per datapath. Why: a row per flow
 * with a (dp, ufid) primary key cost about 10 µs of CPU per flow (random
 * text keys dirty a new page per insert, and the WAL commit writes them
 * all); one row per batch costs about 1 µs per flow (profiled with
 * bench/flow_setup_bench.ts, 1,000 puts per request).
 *
 * Crash safety: a record is one INSERT, so it is in the WAL, and fsynced
 * there (synchronous=FULL), before the API answers, or it is not there at
 * all: SQLite ignores a WAL frame run without its commit frame, so a kill -9
 * or power loss in the middle of an append never leaves a half batch.
 *
 * Compaction: when the log holds more than COMPACT_MIN_CHANGES changes and
 * more than twice the live flows (known exactly after a load or a
 * compaction, and from the flow count the control layer passes with each
 * batch), it is replayed and rewritten as put-only records of the live flows (in the same
 * order), all in one transaction, so a crash leaves either the old log or
 * the new one. Each change is thus rewritten about once: amortised O(1).
 * A flush deletes the datapath's records outright.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datapaths (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ports (
  dp TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, port_no INTEGER NOT NULL,
  options TEXT NOT NULL, PRIMARY KEY (dp, name));
CREATE TABLE IF NOT EXISTS flow_log (
  seq INTEGER PRIMARY KEY, dp TEXT NOT NULL, n INTEGER NOT NULL, ops TEXT NOT NULL);
`;

/** A log record as stored: `["p", ufid, flow, actions]` or `["d", ufid]`. */
type LogEntry = [string, string, unknown?, unknown?];

/** Options of {@linkcode StateStore.open}. */
export interface StateStoreOptions {
  /**
   * SQLite `synchronous` level. "full" (default): every commit is fsynced
   * before it returns, so an acknowledged change survives kill -9, an OS
   * crash and power loss. "normal": commits are written to the WAL file
   * (write(2), in the kernel's page cache) but fsynced only at checkpoints:
   * still nothing acknowledged is lost to a kill -9 of the service (the
   * kernel keeps the file and the next open replays the WAL), but an OS
   * crash or power loss may drop the last commits (never half of one). It
   * takes the fsync (2 to 4 ms per request on a shared disk) off the answer.
   */
  synchronous?: "full" | "normal";
  /** Flow changes the log may hold before it can be compacted (default {@linkcode COMPACT_MIN_CHANGES}). */
  compactMinChanges?: number;
  /**
   * Whether each write (or transaction) compacts the log when it is worth
   * it (default true). The state writer (api/state_writer.ts) turns it off
   * and calls {@linkcode StateStore.compactIfWorthIt} after it has
   * acknowledged a commit, so a compaction never delays an answer.
   */
  autoCompact?: boolean;
  /**
   * Live flows per datapath, when known from a load by another connection
   * (the service loads on the main thread, then writes on the writer's):
   * compaction decisions are then exact from the start. Default: unknown
   * (counted from the writes) until {@linkcode StateStore.load}.
   */
  liveFlows?: Readonly<Record<string, number>>;
  /**
   * SQLite `busy_timeout` in ms: how long a write waits for another
   * connection's lock before it fails (default 5000).
   */
  busyTimeoutMs?: number;
}

/** The service's state database. Not safe to share between processes. */
export class StateStore {
  /** The state directory, or null for an in-memory database. */
  readonly dir: string | null;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #compactMin: number;
  readonly #autoCompact: boolean;
  /** Why the last automatic compaction failed, or null. */
  compactionError: Error | null = null;
  #seq = 0;
  #inTransaction = false;
  /** Flow changes in the log (the sum of `n`). */
  #logChanges = 0;
  /** Live flows of each datapath: exact after load or compaction, then as callers report. */
  readonly #liveFlows = new Map<string, number>();

  private constructor(db: DatabaseSync, dir: string | null, options: StateStoreOptions) {
    this.dir = dir;
    this.#db = db;
    this.#compactMin = options.compactMinChanges ?? COMPACT_MIN_CHANGES;
    this.#autoCompact = options.autoCompact ?? true;
    for (const [dp, n] of Object.entries(options.liveFlows ?? {})) this.#liveFlows.set(dp, n);
    // 16 KiB pages for a new database (a no-op on an existing one, which
    // keeps its page size): a 1,000-flow record (~200 KB) is 13 WAL frames
    // instead of 50; the record's INSERT and commit took 0.4 instead of 0.6
    // µs of CPU per flow (200 records of 1,000 flows, 3 runs each). The
    // automatic checkpoint stays at about 4 MB of WAL, whatever the page size.
    db.exec(`PRAGMA page_size=${PAGE_SIZE}`);
    db.exec("PRAGMA journal_mode=WAL");
    const pageSize = (db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size;
    db.exec(`PRAGMA wal_autocheckpoint=${Math.max(1, Math.round(CHECKPOINT_BYTES / pageSize))}`);
    db.exec(`PRAGMA synchronous=${options.synchronous === "normal" ? "NORMAL" : "FULL"}`);
    db.exec(`PRAGMA busy_timeout=${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    db.exec(SCHEMA);
    this.#migrateFlowTable();
    const row = db.prepare("SELECT MAX(seq) AS s FROM datapaths").get() as
      | { s: number | null }
      | undefined;
    this.#seq = row?.s ?? 0;
    this.#logChanges = this.#countLogChanges();
  }

  /**
   * Opens (creating if needed) the database in directory `dir`, or an
   * in-memory one for `":memory:"`.
   * @throws {Error} when the directory or file cannot be created or opened.
   */
  static open(dir: string, options: StateStoreOptions = {}): StateStore {
    if (dir === ":memory:") return new StateStore(new DatabaseSync(":memory:"), null, options);
    Deno.mkdirSync(dir, { recursive: true });
    return new StateStore(new DatabaseSync(join(dir, STATE_FILE)), dir, options);
  }

  /** True once {@linkcode markInitialized} was called on this database. */
  isInitialized(): boolean {
    const row = this.#get("SELECT value FROM meta WHERE key = 'initialized'").get();
    return row !== undefined;
  }

  /** Records that the defaults were created, so later starts only restore. */
  markInitialized(): void {
    this.#get("INSERT OR REPLACE INTO meta (key, value) VALUES ('initialized', ?)").run(
      new Date().toISOString(),
    );
  }

  /** Stores a datapath (no-op if stored). */
  addDatapath(name: string): void {
    this.#get("INSERT OR IGNORE INTO datapaths (name, seq) VALUES (?, ?)").run(name, ++this.#seq);
  }

  /** Forgets a datapath with its ports and flows. */
  removeDatapath(name: string): void {
    this.transaction(() => {
      this.#get("DELETE FROM flow_log WHERE dp = ?").run(name);
      this.#get("DELETE FROM ports WHERE dp = ?").run(name);
      this.#get("DELETE FROM datapaths WHERE name = ?").run(name);
    });
    this.#liveFlows.delete(name);
    this.#logChanges = this.#countLogChanges();
  }

  /** Stores a port (replacing one of the same name). */
  addPort(dp: string, port: StoredPort): void {
    this.#get(
      "INSERT OR REPLACE INTO ports (dp, name, type, port_no, options) VALUES (?, ?, ?, ?, ?)",
    ).run(dp, port.name, port.type, port.port_no, JSON.stringify(port.options));
  }

  /** Forgets a port by name. */
  removePort(dp: string, name: string): void {
    this.#get("DELETE FROM ports WHERE dp = ? AND name = ?").run(dp, name);
  }

  /** Stores a flow, replacing the one with the same UFID (keeps its order). */
  putFlow(dp: string, flow: StoredFlow): void {
    this.recordFlowChanges(dp, [{
      op: "put",
      ufid: flow.ufid,
      flow: flow.flow,
      actions: flow.actions,
    }]);
  }

  /** Forgets a flow. */
  deleteFlow(dp: string, ufid: string): void {
    this.recordFlowChanges(dp, [{ op: "del", ufid }]);
  }

  /**
   * Stores a batch of flow changes, applied in order on restore, as one log
   * record: all of them are stored or none (one INSERT). A put replaces the
   * flow with the same UFID and keeps its place in the order.
   * `liveFlows`, the datapath's flow count after the changes, tells when the
   * log is worth compacting; without it every put counts as a new flow and
   * every delete as a removed one.
   */
  recordFlowChanges(dp: string, changes: readonly FlowChange[], liveFlows?: number): void {
    if (changes.length === 0) return;
    this.appendFlowRecord(dp, encodeFlowChanges(changes), liveFlows);
  }

  /**
   * Stores a batch of flow changes already encoded with
   * {@linkcode encodeFlowChanges}: {@linkcode recordFlowChanges} without the
   * encoding. `liveFlows` as there.
   */
  appendFlowRecord(dp: string, record: FlowRecord, liveFlows?: number): void {
    if (record.n === 0) return;
    this.#insertRecord(dp, record.n, record.ops);
    const live = liveFlows ?? Math.max(0, (this.#liveFlows.get(dp) ?? 0) + record.delta);
    this.#liveFlows.set(dp, live);
    if (!this.#inTransaction && this.#autoCompact) this.compactIfWorthIt();
  }

  /** Forgets every flow of a datapath. */
  flushFlows(dp: string): void {
    this.#get("DELETE FROM flow_log WHERE dp = ?").run(dp);
    this.#liveFlows.set(dp, 0);
    this.#logChanges = this.#countLogChanges();
  }

  /** Everything stored: datapaths in creation order, ports by number, flows in insertion order. */
  load(): StoredDatapath[] {
    const datapaths = this.#get("SELECT name FROM datapaths ORDER BY seq").all() as {
      name: string;
    }[];
    const flows = this.#replay();
    this.#liveFlows.clear();
    for (const [dp, map] of flows) this.#liveFlows.set(dp, map.size);
    return datapaths.map(({ name }) => ({
      name,
      ports: (this.#get(
        "SELECT name, type, port_no, options FROM ports WHERE dp = ? ORDER BY port_no",
      ).all(name) as { name: string; type: string; port_no: number; options: string }[])
        .map((row) => ({
          name: row.name,
          type: row.type,
          port_no: row.port_no,
          options: JSON.parse(row.options),
        })),
      flows: [...(flows.get(name)?.values() ?? [])],
    }));
  }

  /** Size of the flow log: records (rows) and the flow changes they hold. */
  logSize(): { records: number; changes: number } {
    const row = this.#get("SELECT COUNT(*) AS r, COALESCE(SUM(n), 0) AS c FROM flow_log").get() as {
      r: number;
      c: number;
    };
    return { records: row.r, changes: row.c };
  }

  /**
   * Rewrites the flow log as put-only records of the live flows, in order,
   * in one transaction. Runs by itself when the log grows (see the module
   * notes); callable directly.
   */
  compact(): void {
    this.transaction(() => {
      const flows = this.#replay();
      this.#get("DELETE FROM flow_log").run();
      this.#logChanges = 0;
      this.#liveFlows.clear();
      for (const [dp, map] of flows) {
        let chunk: LogEntry[] = [];
        for (const flow of map.values()) {
          chunk.push(["p", flow.ufid, flow.flow, flow.actions]);
          if (chunk.length === COMPACT_CHUNK) {
            this.#insertRecord(dp, chunk.length, JSON.stringify(chunk));
            chunk = [];
          }
        }
        if (chunk.length > 0) this.#insertRecord(dp, chunk.length, JSON.stringify(chunk));
        this.#liveFlows.set(dp, map.size);
      }
    });
  }

  /** Runs `body` in one transaction (all of its writes or none). */
  transaction<T>(body: () => T): T {
    if (this.#inTransaction) return body();
    this.#db.exec("BEGIN IMMEDIATE");
    this.#inTransaction = true;
    let result: T;
    try {
      result = body();
      this.#db.exec("COMMIT");
    } catch (error) {
      // A failed COMMIT (an I/O error, a full disk) may have rolled back by
      // itself: ROLLBACK then has nothing to do and would throw, hiding why.
      if (this.#db.isTransaction) {
        try {
          this.#db.exec("ROLLBACK");
        } catch { /* the transaction is gone either way */ }
      }
      this.#logChanges = this.#countLogChanges();
      throw error;
    } finally {
      this.#inTransaction = false;
    }
    if (this.#autoCompact) this.compactIfWorthIt();
    return result;
  }

  /** Closes the database. */
  close(): void {
    this.#statements.clear();
    this.#db.close();
  }

  /**
   * Compacts when the log holds more than the minimum and over twice the
   * live flows; returns whether it did. The writes before it are committed
   * whatever happens: a failed compaction leaves the log as it was (one
   * transaction), is kept in {@linkcode compactionError} and is tried again
   * later. Runs after every write unless the store was opened with
   * `autoCompact: false`.
   */
  compactIfWorthIt(): boolean {
    if (this.#logChanges <= this.#compactMin) return false;
    let live = 0;
    for (const n of this.#liveFlows.values()) live += n;
    if (this.#logChanges <= 2 * live) return false;
    try {
      this.compact();
      this.compactionError = null;
      return true;
    } catch (error) {
      this.compactionError = error as Error;
      return false;
    }
  }

  #insertRecord(dp: string, n: number, ops: string): void {
    this.#get("INSERT INTO flow_log (dp, n, ops) VALUES (?, ?, ?)").run(dp, n, ops);
    this.#logChanges += n;
  }

  /** The live flows of every datapath in the log, in order, by UFID. */
  #replay(): Map<string, Map<string, StoredFlow>> {
    const byDp = new Map<string, Map<string, StoredFlow>>();
    for (const row of this.#get("SELECT dp, ops FROM flow_log ORDER BY seq").iterate()) {
      const { dp, ops } = row as { dp: string; ops: string };
      let flows = byDp.get(dp);
      if (flows === undefined) byDp.set(dp, flows = new Map());
      for (const entry of JSON.parse(ops) as LogEntry[]) {
        if (entry[0] === "p") {
          const flow = entry[2] as StoredFlow["flow"];
          const actions = entry[3] as StoredFlow["actions"];
          const known = flows.get(entry[1]);
          if (known === undefined) flows.set(entry[1], { ufid: entry[1], flow, actions });
          else {
            known.flow = flow;
            known.actions = actions;
          }
        } else {
          flows.delete(entry[1]);
        }
      }
    }
    return byDp;
  }

  #countLogChanges(): number {
    return (this.#get("SELECT COALESCE(SUM(n), 0) AS c FROM flow_log").get() as { c: number }).c;
  }

  /**
   * Moves flows from the row-per-flow table of earlier versions into the
   * log, in their order, and drops that table (one transaction).
   */
  #migrateFlowTable(): void {
    const legacy = this.#db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'flows'",
    ).get();
    if (legacy === undefined) return;
    this.transaction(() => {
      const rows = this.#db.prepare("SELECT dp, ufid, flow, actions FROM flows ORDER BY seq")
        .all() as { dp: string; ufid: string; flow: string; actions: string }[];
      for (let i = 0; i < rows.length; i += COMPACT_CHUNK) {
        const byDp = new Map<string, LogEntry[]>();
        for (const row of rows.slice(i, i + COMPACT_CHUNK)) {
          let list = byDp.get(row.dp);
          if (list === undefined) byDp.set(row.dp, list = []);
          list.push(["p", row.ufid, JSON.parse(row.flow), JSON.parse(row.actions)]);
        }
        for (const [dp, list] of byDp) this.#insertRecord(dp, list.length, JSON.stringify(list));
      }
      this.#db.exec("DROP TABLE flows");
    });
  }

  #get(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
