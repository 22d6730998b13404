/**
 * SQLite behind drizzle's async API: the runtime's SQLite (bun:sqlite or node:sqlite) in WAL mode, every statement awaited, and
 * transactions that hold the one connection for themselves while they run (as a PostgreSQL
 * transaction holds its own connection), so a statement from elsewhere never joins one.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { drizzle, type SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import { migrate } from "drizzle-orm/sqlite-proxy/migrator";
import { runtime, type SqliteDatabase } from "../runtime/index.ts";
import { DEFAULT_MIGRATIONS_TABLE, migrationsCurrent } from "./migration-state.ts";

/**
 * Lets one transaction at a time own the connection. Statements issued inside the running
 * transaction (recognised by async context) pass; any other statement waits for it to end.
 */
export class ConnectionGate {
  readonly #context = new AsyncLocalStorage<symbol>();
  #queue: Promise<void> = Promise.resolve();
  #current: { token: symbol; done: Promise<void> } | undefined;

  /** Runs one statement once no other transaction holds the connection. */
  async statement<T>(run: () => T): Promise<T> {
    while (this.#current && this.#current.token !== this.#context.getStore()) await this.#current.done;
    return run();
  }

  /** Runs `body` as the connection's only user, after transactions queued before it. */
  async exclusive<T>(body: () => Promise<T> | T): Promise<T> {
    const inside = this.#current && this.#current.token === this.#context.getStore();
    if (inside) return body(); // a savepoint inside the running transaction
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const previous = this.#queue;
    this.#queue = previous.then(() => done);
    await previous;
    while (this.#current) await this.#current.done;
    const token = Symbol("transaction");
    this.#current = { token, done };
    try {
      return await this.#context.run(token, body);
    } finally {
      this.#current = undefined;
      release();
    }
  }
}

export interface SqliteConnection {
  db: SqliteRemoteDatabase;
  /** Statements run so far (tests and benches check hot paths make none). */
  statements(): number;
  sqlite: SqliteDatabase;
  gate: ConnectionGate;
  /** Applies the migrations in `folder`, tracked in `table`. */
  migrate(folder: string, table?: string): Promise<void>;
}

/** Opens `path` (creating it) with WAL and a busy timeout, and wraps it in drizzle's async SQLite API. */
export function openSqlite(path: string): SqliteConnection {
  const sqlite = runtime.openSqlite(path);
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  sqlite.exec("PRAGMA foreign_keys = ON");
  const gate = new ConnectionGate();
  let statements = 0;
  const db = drizzle((sql, params, method) => gate.statement(() => {
    statements++;
    const statement = sqlite.query(sql);
    if (method === "run") {
      statement.run(...params);
      return { rows: [] };
    }
    const rows = statement.values(...params) as unknown[][];
    return { rows: method === "get" ? (rows[0] as never) : rows };
  }));
  const transaction = db.transaction.bind(db);
  db.transaction = ((body, config) => gate.exclusive(() => transaction(body, config))) as typeof db.transaction;
  return {
    db, sqlite, gate,
    statements: () => statements,
    migrate: (folder, table) => gate.exclusive(async () => {
      statements++;
      if (migrationsCurrent(folder, lastAppliedMigration(sqlite, table ?? DEFAULT_MIGRATIONS_TABLE))) return;
      await migrate(db, async (queries) => {
        // One transaction for every pending migration: all of them apply, or none.
        sqlite.transaction(() => {
          for (const query of queries) sqlite.exec(query);
        })();
      }, { migrationsFolder: folder, migrationsTable: table });
    }),
  };
}

/** The timestamp of the last migration recorded in `table`; null when the table is missing or empty. */
function lastAppliedMigration(sqlite: SqliteDatabase, table: string): unknown {
  try {
    const rows = sqlite.query(`SELECT max(created_at) FROM "${table.replaceAll('"', '""')}"`).values() as unknown[][];
    return rows[0]?.[0] ?? null;
  } catch {
    return null; // no such table yet: the migrator creates it
  }
}
