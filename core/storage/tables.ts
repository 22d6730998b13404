/**
 * One data API over two dialects. Queries are written once against drizzle's async SQLite
 * builder; on PostgreSQL the same calls run on drizzle's PostgreSQL builder with the twin
 * tables. That holds because each pair of tables agrees: same names, columns, row types and
 * indexes (checked here at compile time for row types, and by a test for the rest).
 */
import type { SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import type { PgTable } from "drizzle-orm/pg-core";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { Errors } from "../kernel/errors.ts";
import * as sqliteCore from "./db-schema.ts";
import * as pgCore from "./db-schema-pg.ts";

export type Dialect = "sqlite" | "pg";

/**
 * The database as core and plugins use it: every query awaited (`await db.select()...`, never
 * `.run()`, `.get()` or `.all()`), `db.transaction(async (tx) => ...)` for atomic work, and
 * `.returning()` where a count of changed rows is needed. `engine` says which store is behind it ("sqlite" or "pg"; drizzle keeps its own `dialect`).
 */
export type GantryDb = SqliteRemoteDatabase & { readonly engine: Dialect };

/** The PostgreSQL twin of a module of SQLite tables: the same exports, each a table with the same row types. */
export type PgTwin<S> = {
  [K in keyof S]: S[K] extends SQLiteTable & { $inferSelect: infer Row; $inferInsert: infer Insert }
    ? PgTable & { $inferSelect: Row; $inferInsert: Insert }
    : S[K];
};

/** A plugin's (or core's) tables for both dialects; `pg` absent means the tables exist for SQLite only. */
export interface TablePair<S> {
  sqlite: S;
  pg?: PgTwin<S>;
}

/** The tables of `pair` for the dialect behind `db`, typed as the SQLite ones (their rows are the same). */
export function pickTables<S extends Record<string, unknown>>(db: { readonly engine: Dialect }, pair: TablePair<S>, owner = "this plugin"): S {
  if (db.engine === "sqlite") return pair.sqlite;
  if (!pair.pg) throw Errors.DIALECT_UNSUPPORTED([owner, db.engine]);
  return pair.pg as unknown as S;
}

const corePair: TablePair<typeof sqliteCore> = { sqlite: sqliteCore, pg: pgCore };

/** Core's own tables for the dialect behind `db`. */
export function coreTables(db: { readonly engine: Dialect }): typeof sqliteCore {
  return pickTables(db, corePair, "core");
}
