/**
 * Commands that work on the database itself, not through a running server: `gantry db migrate-to`
 * (SQLite data dir → an empty PostgreSQL database), `gantry backup` and `gantry restore`.
 */
import { runtime, type SqliteDatabase } from "../runtime/index.ts";
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { getTableName, is } from "drizzle-orm";
import { SQLiteTable } from "drizzle-orm/sqlite-core";
import type postgres from "postgres";
import * as coreSchema from "../storage/db-schema.ts";
import { loadConfig, type GantryConfig } from "../kernel/config.ts";
import { readManifest } from "../kernel/manifest.ts";
import { databaseSettings, dialectOf, openDatabase, pluginMigrationDialects, pluginMigrationsTable, type DatabaseHandle } from "../storage/db.ts";
import { lockDataDir } from "../storage/data-dir-lock.ts";
import { makePrivateFile } from "../storage/private-files.ts";

import { CliError } from "./api-client.ts";

export const DB_HELP = `gantry db migrate-to POSTGRES_URL [--schema NAME] [--config FILE] [--data-dir DIR]

Copies the SQLite database of the data dir (users, keys, plugins' tables: everything) into an
empty PostgreSQL database, in one transaction, and checks every table's row count. Stop gantry
first; afterwards set database.url (GANTRY_DATABASE__URL) to the URL and start it again.

gantry backup FILE [--config FILE] [--data-dir DIR]
  SQLite: a consistent copy of the database while gantry runs (VACUUM INTO).
  PostgreSQL: prints the pg_dump command to use.

gantry restore FILE [--config FILE] [--data-dir DIR]
  SQLite: replaces the data dir's database with FILE (gantry must be stopped; the current
  database is kept beside it as gantry.db.before-restore-<time>). PostgreSQL: prints pg_restore.
`;

const OPTIONS = { config: { type: "string" }, "data-dir": { type: "string" }, schema: { type: "string" }, help: { type: "boolean", short: "h" } } as const;

/** Runs `db`, `backup` or `restore`; undefined for any other command. */
export function dbCommand(command: string, args: string[]): Promise<void> | undefined {
  if (command !== "db" && command !== "backup" && command !== "restore") return undefined;
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help) return Promise.resolve(void process.stdout.write(DB_HELP));
  const config = loadConfig({ file: values.config, overrides: values["data-dir"] ? { data_dir: values["data-dir"] } : {} });
  if (command === "backup") return backup(config, need(positionals[0], "gantry backup FILE"));
  if (command === "restore") return restore(config, need(positionals[0], "gantry restore FILE"));
  if (positionals[0] !== "migrate-to") throw new CliError(`usage: ${DB_HELP}`, 2);
  return migrateTo(config, need(positionals[1], "gantry db migrate-to POSTGRES_URL"), values.schema ?? "public");
}

function need(value: string | undefined, usage: string): string {
  if (!value) throw new CliError(`usage: ${usage}`, 2);
  return value;
}

const sqlitePath = (config: GantryConfig) => join(resolve(config.data_dir), "gantry.db");
const withoutPassword = (url: string) => url.replace(/:[^:@/]*@/, "@");

async function backup(config: GantryConfig, file: string): Promise<void> {
  if (dialectOf(config.database.url) === "pg") {
    throw new CliError(`gantry's data is in PostgreSQL: back it up with pg_dump, e.g.\n  pg_dump --format=custom --schema=${config.database.schema} --file=${file} '${withoutPassword(config.database.url)}'`, 2);
  }
  if (existsSync(file)) throw new CliError(`${file} exists; choose a new file name`, 1);
  if (!existsSync(sqlitePath(config))) throw new CliError(`no database at ${sqlitePath(config)} (check data_dir)`, 1);
  const db = runtime.openSqlite(sqlitePath(config), { readonly: true });
  // The copy holds the JWT secret and the internal key: 0600 whatever the umask (VACUUM INTO fills an empty file).
  makePrivateFile(resolve(file));
  try {
    // A consistent snapshot even while gantry writes (WAL readers do not block).
    db.query("VACUUM INTO ?").run(resolve(file));
  } catch (error) {
    rmSync(resolve(file), { force: true });
    throw error;
  } finally {
    db.close();
  }
  process.stdout.write(`backed up ${sqlitePath(config)} to ${resolve(file)}\n`);
}

async function restore(config: GantryConfig, file: string): Promise<void> {
  if (dialectOf(config.database.url) === "pg") {
    throw new CliError(`gantry's data is in PostgreSQL: restore a pg_dump file with pg_restore, e.g.\n  pg_restore --clean --if-exists --dbname='${withoutPassword(config.database.url)}' ${file}`, 2);
  }
  if (!existsSync(file)) throw new CliError(`no file ${file}`, 1);
  checkGantryBackup(file);
  // Held while the files are swapped: a gantry running on this folder (on any port) refuses the restore, and none can start meanwhile.
  const lock = lockDataDir(config.data_dir, "gantry restore");
  try {
    replaceDatabase(config, file);
  } finally {
    lock.release();
  }
}

function replaceDatabase(config: GantryConfig, file: string): void {
  const target = sqlitePath(config);
  if (existsSync(target)) {
    const aside = `${target}.before-restore-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    renameSync(target, aside);
    process.stdout.write(`the current database is kept as ${aside}\n`);
  }
  for (const suffix of ["-wal", "-shm"]) rmSync(target + suffix, { force: true });
  copyFileSync(file, target);
  makePrivateFile(target);
  process.stdout.write(`restored ${resolve(file)} to ${target}; migrations newer than the backup apply at the next start\n`);
}

/** A file is restorable when SQLite opens it, it passes an integrity check and it has gantry's tables. */
function checkGantryBackup(file: string): void {
  let db: SqliteDatabase | undefined;
  try {
    db = runtime.openSqlite(file, { readonly: true });
    const ok = db.query("PRAGMA integrity_check").get() as { integrity_check: string };
    const tables = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('api_keys', '__drizzle_migrations')").all();
    if (ok.integrity_check !== "ok" || tables.length !== 2) throw new Error("not a gantry database");
  } catch (error) {
    throw new CliError(`${file} is not a gantry SQLite backup (${(error as Error).message})`, 1);
  } finally {
    db?.close();
  }
}

/** A PostgreSQL identifier in double quotes. */
const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Tables gantry keeps its own bookkeeping in: created by the migrations on the target, not copied. */
const isMigrationTable = (name: string) => name === "__drizzle_migrations" || name.startsWith("__gantry_migrations_");

async function migrateTo(config: GantryConfig, url: string, schema: string): Promise<void> {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new CliError("the target must be a postgres:// URL", 2);
  if (dialectOf(config.database.url) !== "sqlite") throw new CliError("database.url already names PostgreSQL: migrate-to copies from the SQLite data dir", 2);
  if (!existsSync(sqlitePath(config))) throw new CliError(`no database at ${sqlitePath(config)} (check data_dir)`, 1);
  const source = await openDatabase(databaseSettings(config));
  const target = await openDatabase({ dataDir: config.data_dir, url, schema, poolSize: 2 }).catch((error) => {
    source.close();
    throw error;
  });
  try {
    const sqlite = source.sqlite!;
    const pg = target.pg!;
    const tables = (sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[])
      .map((t) => t.name).filter((name) => !isMigrationTable(name));
    const existing = await pg`SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema} AND table_type = 'BASE TABLE'`;
    const foreign = existing.map((r) => r.table_name as string).filter((name) => !isMigrationTable(name) && !CORE_TABLES.has(name));
    const nonEmpty = [];
    for (const name of existing.map((r) => r.table_name as string).filter((n) => !isMigrationTable(n))) {
      const [{ n }] = await pg.unsafe(`SELECT count(*)::int AS n FROM ${quoteIdent(name)}`) as unknown as [{ n: number }];
      if (n > 0) nonEmpty.push(name);
    }
    if (foreign.length > 0 || nonEmpty.length > 0) {
      throw new CliError(`the target schema '${schema}' is not empty (${[...new Set([...foreign, ...nonEmpty])].join(", ")}); migrate-to copies into an empty database only`, 1);
    }
    await migratePlugins(config, source, target);
    const counts: [string, number][] = [];
    await pg.begin(async (tx) => {
      for (const name of tables) counts.push([name, await copyTable(sqlite, tx, schema, name)]);
    });
    for (const [name, rows] of counts) {
      const [{ n }] = await pg.unsafe(`SELECT count(*)::int AS n FROM ${quoteIdent(name)}`) as unknown as [{ n: number }];
      if (n !== rows) throw new CliError(`table ${name}: ${rows} rows in SQLite but ${n} in PostgreSQL`, 1);
    }
    const width = Math.max(...counts.map(([name]) => name.length));
    process.stdout.write(`${counts.map(([name, n]) => `  ${name.padEnd(width)}  ${n} rows`).join("\n")}\n`);
    process.stdout.write(`copied ${counts.length} tables from ${sqlitePath(config)}; every count matches. Now set database.url (GANTRY_DATABASE__URL)${schema === "public" ? "" : ` and database.schema=${schema}`} and start gantry.\n`);
  } finally {
    await target.close();
    await source.close();
  }
}

/** Core's tables, as its schema declares them. */
const CORE_TABLES = new Set<string>(Object.values(coreSchema).filter((value) => is(value, SQLiteTable)).map((table) => getTableName(table)));

/** Creates on the target the tables of every plugin that has tables in the SQLite database. */
async function migratePlugins(config: GantryConfig, source: DatabaseHandle, target: DatabaseHandle): Promise<void> {
  const sqlite = source.sqlite!;
  const tracked = new Set((sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '__gantry_migrations_%'").all() as { name: string }[]).map((r) => r.name));
  const installed = sqlite.query("SELECT path FROM plugins WHERE source = 'path'").all() as { path: string }[];
  const folders = [
    ...(existsSync(config.plugins.dir) ? readdirSync(config.plugins.dir).map((name) => join(config.plugins.dir, name)) : []),
    ...installed.map((r) => r.path),
  ].filter((dir) => existsSync(join(dir, "plugin.json")));
  for (const dir of folders) {
    const manifest = readManifest(dir);
    const table = pluginMigrationsTable(manifest.name);
    if (!tracked.has(table)) continue;
    const pg = pluginMigrationDialects(dir).get("pg");
    if (!pg) throw new CliError(`plugin '${manifest.name}' has tables for SQLite only: it cannot move to PostgreSQL (remove it first, or add drizzle/pg migrations to it)`, 1);
    await target.migrate(pg, table);
    tracked.delete(table);
  }
  if (tracked.size > 0) throw new CliError(`tables of plugins no longer found (${[...tracked].join(", ")}); install those plugins again or remove their tables`, 1);
}

/** Copies one table, converting SQLite's storage (ms integers, 0/1, JSON text) to the column types of the target. */
async function copyTable(sqlite: SqliteDatabase, tx: postgres.TransactionSql, schema: string, name: string): Promise<number> {
  const columns = await tx`SELECT column_name, data_type, column_default FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = ${name}`;
  if (columns.length === 0) throw new CliError(`table ${name} has no counterpart in PostgreSQL (a table created outside gantry's migrations?)`, 1);
  const types = new Map(columns.map((c) => [c.column_name as string, c.data_type as string]));
  const convert = (column: string, value: unknown) => {
    if (value === null) return null;
    const type = types.get(column);
    // As ISO text: the driver under drizzle passes timestamps through unserialized.
    if (type === "timestamp with time zone") return new Date(Number(value)).toISOString();
    if (type === "boolean") return value === 1 || value === true;
    return value; // text, bigint, double, jsonb (the JSON text as stored)
  };
  let copied = 0;
  const select = sqlite.query(`SELECT * FROM "${name.replaceAll('"', '""')}" LIMIT 1000 OFFSET ?`);
  for (let batch = select.all(0) as Record<string, unknown>[]; batch.length > 0; batch = select.all(copied) as Record<string, unknown>[]) {
    const names = Object.keys(batch[0]!).filter((c) => types.has(c));
    const rows = batch.map((row) => names.map((c) => convert(c, row[c])));
    await tx`INSERT INTO ${tx(name)} ${tx(rows.map((r) => Object.fromEntries(names.map((c, i) => [c, r[i]]))), ...names)}`;
    copied += batch.length;
  }
  // Serial ids continue after the copied ones.
  for (const c of columns.filter((c) => String(c.column_default ?? "").startsWith("nextval("))) {
    await tx.unsafe(`SELECT setval(pg_get_serial_sequence('${quoteIdent(name).replaceAll("'", "''")}', '${c.column_name}'), coalesce(max(${quoteIdent(c.column_name)}), 0) + 1, false) FROM ${quoteIdent(name)}`);
  }
  return copied;
}
