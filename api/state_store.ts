/**
 * Persistent state of the service: datapaths, their ports and their flows,
 * in an embedded SQLite database (`node:sqlite`) in WAL mode with
 * `synchronous=FULL`, so that a write that returned is on disk before the
 * API answers, and a crash or kill -9 loses nothing acknowledged. Flow
 * statistics are not kept.
 *
 * Flows are stored as the request gave them (ODP text or the JSON form,
 * serialised) with the UFID the datapath assigned, and put again on
 * restore. The local port (0) is never stored: the datapath creates it.
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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datapaths (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ports (
  dp TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, port_no INTEGER NOT NULL,
  options TEXT NOT NULL, PRIMARY KEY (dp, name));
CREATE TABLE IF NOT EXISTS flows (
  dp TEXT NOT NULL, ufid TEXT NOT NULL, flow TEXT NOT NULL, actions TEXT NOT NULL,
  seq INTEGER NOT NULL, PRIMARY KEY (dp, ufid));
`;

/** The service's state database. Not safe to share between processes. */
export class StateStore {
  /** The state directory, or null for an in-memory database. */
  readonly dir: string | null;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #seq = 0;
  #inTransaction = false;

  private constructor(db: DatabaseSync, dir: string | null) {
    this.dir = dir;
    this.#db = db;
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=FULL");
    db.exec("PRAGMA busy_timeout=5000");
    db.exec(SCHEMA);
    const row = db.prepare(
      "SELECT MAX(seq) AS s FROM (SELECT seq FROM datapaths UNION ALL SELECT seq FROM flows)",
    ).get() as { s: number | null } | undefined;
    this.#seq = row?.s ?? 0;
  }

  /**
   * Opens (creating if needed) the database in directory `dir`, or an
   * in-memory one for `":memory:"`.
   * @throws {Error} when the directory or file cannot be created or opened.
   */
  static open(dir: string): StateStore {
    if (dir === ":memory:") return new StateStore(new DatabaseSync(":memory:"), null);
    Deno.mkdirSync(dir, { recursive: true });
    return new StateStore(new DatabaseSync(join(dir, STATE_FILE)), dir);
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
      this.#get("DELETE FROM flows WHERE dp = ?").run(name);
      this.#get("DELETE FROM ports WHERE dp = ?").run(name);
      this.#get("DELETE FROM datapaths WHERE name = ?").run(name);
    });
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
    this.#get(
      `INSERT INTO flows (dp, ufid, flow, actions, seq) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (dp, ufid) DO UPDATE SET flow = excluded.flow, actions = excluded.actions`,
    ).run(dp, flow.ufid, JSON.stringify(flow.flow), JSON.stringify(flow.actions), ++this.#seq);
  }

  /** Forgets a flow. */
  deleteFlow(dp: string, ufid: string): void {
    this.#get("DELETE FROM flows WHERE dp = ? AND ufid = ?").run(dp, ufid);
  }

  /** Forgets every flow of a datapath. */
  flushFlows(dp: string): void {
    this.#get("DELETE FROM flows WHERE dp = ?").run(dp);
  }

  /** Everything stored: datapaths in creation order, ports by number, flows in insertion order. */
  load(): StoredDatapath[] {
    const datapaths = this.#get("SELECT name FROM datapaths ORDER BY seq").all() as {
      name: string;
    }[];
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
      flows: (this.#get("SELECT ufid, flow, actions FROM flows WHERE dp = ? ORDER BY seq")
        .all(name) as { ufid: string; flow: string; actions: string }[])
        .map((row) => ({
          ufid: row.ufid,
          flow: JSON.parse(row.flow),
          actions: JSON.parse(row.actions),
        })),
    }));
  }

  /** Runs `body` in one transaction (all of its writes or none). */
  transaction<T>(body: () => T): T {
    if (this.#inTransaction) return body();
    this.#db.exec("BEGIN IMMEDIATE");
    this.#inTransaction = true;
    try {
      const result = body();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    } finally {
      this.#inTransaction = false;
    }
  }

  /** Closes the database. */
  close(): void {
    this.#statements.clear();
    this.#db.close();
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
