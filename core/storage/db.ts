/** The database: embedded SQLite (WAL) by default, PostgreSQL when `database.url` names one; migrations applied at start. */
import type { SqliteDatabase } from "../runtime/index.ts";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type postgres from "postgres";
import { GANTRY_ROOT } from "../kernel/config.ts";
import { Errors, messageOf } from "../kernel/errors.ts";
import { openSqlite } from "./sqlite-driver.ts";
import { makePrivateDir, makePrivateFile, narrowExisting } from "./private-files.ts";
import type { Dialect, GantryDb } from "./tables.ts";

export type { Dialect, GantryDb } from "./tables.ts";

export interface DatabaseSettings {
  dataDir: string;
  /** Empty for SQLite in `<dataDir>/gantry.db`; a postgres:// URL for PostgreSQL. */
  url: string;
  /** PostgreSQL schema for gantry's tables. */
  schema: string;
  poolSize: number;
}

export interface DatabaseHandle {
  db: GantryDb;
  dialect: Dialect;
  /** The SQLite file, or the PostgreSQL URL without its password, and schema. */
  location: string;
  /** The SQLite connection (SQLite only): backups. */
  sqlite?: SqliteDatabase;
  /** The postgres.js client (PostgreSQL only): LISTEN/NOTIFY, raw SQL in tools. */
  pg?: postgres.Sql;
  /** Applies the migrations in `folder` (drizzle-kit's output), tracked in `table`. */
  migrate(folder: string, table?: string): Promise<void>;
  /** Runs `work` with no other gantry of this database doing work of the same `name` (PostgreSQL: an advisory lock; SQLite: one process). */
  exclusive<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** Statements sent to the database so far: tests and benches check that hot paths send none. */
  statements(): number;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Settings for a database from gantry's config. */
export function databaseSettings(config: { data_dir: string; database: { url: string; schema: string; pool_size: number } }): DatabaseSettings {
  return { dataDir: config.data_dir, url: config.database.url, schema: config.database.schema, poolSize: config.database.pool_size };
}

/** The dialect a `database.url` selects. */
export function dialectOf(url: string): Dialect {
  if (url === "") return "sqlite";
  if (/^postgres(ql)?:\/\//.test(url)) return "pg";
  throw Errors.CONFIG_INVALID(["database.url", [`database.url: must be empty (SQLite) or a postgres:// URL (got ${JSON.stringify(url.replace(/:[^:@/]*@/, ":[redacted]@"))})`]]);
}

/** Opens the configured database (creating the SQLite file or PostgreSQL schema if needed) and applies core's migrations. */
export async function openDatabase(settings: DatabaseSettings): Promise<DatabaseHandle> {
  const handle = dialectOf(settings.url) === "pg" ? await connectPostgres(settings) : openSqliteHandle(settings.dataDir);
  await handle.migrate(join(GANTRY_ROOT, "drizzle", handle.dialect));
  return handle;
}

function openSqliteHandle(dataDir: string): DatabaseHandle {
  const dir = resolve(dataDir);
  makePrivateDir(dir);
  const path = join(dir, "gantry.db");
  // It holds the JWT secret and the internal key: 0600 before SQLite opens it (its WAL and -shm take its mode).
  makePrivateFile(path);
  const conn = openSqlite(path);
  narrowExisting(`${path}-wal`, `${path}-shm`);
  const db = withDialect(conn.db, "sqlite");
  return {
    db, dialect: "sqlite", location: path, sqlite: conn.sqlite,
    migrate: conn.migrate,
    exclusive: (_name, work) => work(),
    statements: conn.statements,
    ping: async () => void conn.sqlite.query("SELECT 1").get(),
    close: async () => conn.sqlite.close(),
  };
}

async function connectPostgres(settings: DatabaseSettings): Promise<DatabaseHandle> {
  const location = `${settings.url.replace(/:[^:@/]*@/, ":[redacted]@")} (schema ${settings.schema})`;
  // Loaded only for PostgreSQL: a SQLite gantry never loads the driver.
  const { openPostgres } = await import("./pg-driver.ts");
  const conn = await openPostgres({ url: settings.url, schema: settings.schema, poolSize: settings.poolSize })
    .catch((error) => {
      throw Errors.DATABASE_UNAVAILABLE([location, messageOf(error)], { cause: error });
    });
  return {
    db: withDialect(conn.db as unknown as GantryDb, "pg"), dialect: "pg", location, pg: conn.client,
    migrate: conn.migrate,
    exclusive: conn.exclusive,
    statements: conn.statements,
    ping: async () => void (await conn.client`SELECT 1`),
    close: conn.close,
  };
}

function withDialect(db: object, dialect: Dialect): GantryDb {
  return Object.defineProperty(db, "engine", { value: dialect, enumerable: false }) as GantryDb;
}

/** Which dialects a plugin ships migrations for: `drizzle/<dialect>/`, or `drizzle/` alone (SQLite, the older layout). */
export function pluginMigrationDialects(pluginDir: string): Map<Dialect, string> {
  const found = new Map<Dialect, string>();
  const root = join(pluginDir, "drizzle");
  for (const dialect of ["sqlite", "pg"] as const) {
    if (existsSync(join(root, dialect, "meta", "_journal.json"))) found.set(dialect, join(root, dialect));
  }
  if (!found.has("sqlite") && existsSync(join(root, "meta", "_journal.json"))) found.set("sqlite", root);
  return found;
}

/**
 * Applies a plugin's migrations for the running dialect, tracked in a table of its own. A plugin
 * with tables for another dialect only is refused here, before its setup runs.
 */
export async function migratePlugin(handle: DatabaseHandle, pluginName: string, pluginDir: string): Promise<boolean> {
  const folders = pluginMigrationDialects(pluginDir);
  if (folders.size === 0) return false;
  const folder = folders.get(handle.dialect);
  if (!folder) throw Errors.PLUGIN_DIALECT_UNSUPPORTED([pluginName, handle.dialect, [...folders.keys()]]);
  await handle.migrate(folder, pluginMigrationsTable(pluginName));
  return true;
}

/** The table that tracks a plugin's applied migrations. */
export function pluginMigrationsTable(pluginName: string): string {
  return `__gantry_migrations_${pluginName.replaceAll("-", "_")}`;
}
