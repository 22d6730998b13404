/** bun:sqlite's API (the part gantry uses) over node:sqlite's DatabaseSync, for runtimes without bun:sqlite. */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { SqliteDatabase, SqliteOpenOptions, SqliteStatement } from "./types.ts";

type Bindable = null | number | bigint | string | NodeJS.ArrayBufferView;

/** node:sqlite refuses booleans and undefined, which bun:sqlite binds as 1/0 and NULL. */
function bindable(params: unknown[]): Bindable[] {
  return params.map((p) => (p === undefined ? null : typeof p === "boolean" ? Number(p) : (p as Bindable)));
}

function statement(db: DatabaseSync, sql: string): SqliteStatement {
  const objects = db.prepare(sql);
  let arrays: StatementSync | undefined;
  return {
    run: (...params) => objects.run(...bindable(params)),
    get: (...params) => objects.get(...bindable(params)) ?? null,
    all: (...params) => objects.all(...bindable(params)),
    iterate: (...params) => objects.iterate(...bindable(params)),
    get columnNames() {
      return objects.columns().map((column) => column.name);
    },
    values(...params) {
      if (!arrays) {
        arrays = db.prepare(sql);
        arrays.setReturnArrays(true);
      }
      return arrays.all(...bindable(params)) as unknown as unknown[][];
    },
  };
}

/** Opens `path` (created unless read-only). */
export function openNodeSqlite(path: string, options: SqliteOpenOptions = {}): SqliteDatabase {
  const db = new DatabaseSync(path, { readOnly: options.readonly ?? false, allowExtension: options.extensions ?? false });
  const cache = new Map<string, SqliteStatement>();
  let depth = 0;
  return {
    exec: (sql) => db.exec(sql),
    query(sql) {
      let cached = cache.get(sql);
      if (!cached) cache.set(sql, (cached = statement(db, sql)));
      return cached;
    },
    prepare: (sql) => statement(db, sql),
    transaction: (fn) => (...args) => {
      // Nested calls become savepoints, as in bun:sqlite.
      const savepoint = `gantry_tx_${depth}`;
      db.exec(depth === 0 ? "BEGIN" : `SAVEPOINT ${savepoint}`);
      depth++;
      try {
        const result = fn(...args);
        depth--;
        db.exec(depth === 0 ? "COMMIT" : `RELEASE ${savepoint}`);
        return result;
      } catch (error) {
        depth--;
        db.exec(depth === 0 ? "ROLLBACK" : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
        throw error;
      }
    },
    loadExtension(path) {
      (db as unknown as { loadExtension(path: string): void }).loadExtension(path);
    },
    close: () => db.close(),
  };
}
