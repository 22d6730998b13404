/** The embedded database: bun:sqlite in WAL mode behind drizzle, with migrations applied at start. */
import { Database } from "bun:sqlite";
import { mkdirSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { GANTRY_ROOT } from "../kernel/config.ts";
import * as schema from "./db-schema.ts";

export type GantryDb = BunSQLiteDatabase<typeof schema>;

export interface DatabaseHandle {
  db: GantryDb;
  sqlite: Database;
  path: string;
  close(): void;
}

const CORE_MIGRATIONS = join(GANTRY_ROOT, "drizzle", "sqlite");

/** Opens (creating if needed) `<dataDir>/gantry.db` and applies core migrations. */
export function openDatabase(dataDir: string): DatabaseHandle {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "gantry.db");
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  sqlite.exec("PRAGMA foreign_keys = ON");
  const db = drizzle({ client: sqlite, schema });
  migrate(db, { migrationsFolder: CORE_MIGRATIONS });
  return { db, sqlite, path, close: () => sqlite.close() };
}

/** Applies a plugin's own migrations (`<plugin>/drizzle`), tracked in a table of its own. */
export function migratePlugin(handle: DatabaseHandle, pluginName: string, migrationsFolder: string): boolean {
  if (!existsSync(join(migrationsFolder, "meta", "_journal.json"))) return false;
  migrate(handle.db, { migrationsFolder, migrationsTable: `__gantry_migrations_${pluginName.replaceAll("-", "_")}` });
  return true;
}

/** Rows changed by a drizzle `.run()` on bun:sqlite (typed as void upstream, returns Bun's Changes). */
export function changesOf(result: unknown): number {
  return (result as { changes?: number } | undefined)?.changes ?? 0;
}
