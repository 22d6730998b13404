/** PostgreSQL behind drizzle through postgres.js (runs on Bun, Node and Deno; LISTEN/NOTIFY for later cluster work). */
import postgres from "postgres";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import { DEFAULT_MIGRATIONS_TABLE, migrationsCurrent } from "./migration-state.ts";

export interface PgConnection {
  db: PostgresJsDatabase;
  client: postgres.Sql;
  schema: string;
  /** Queries sent so far (tests and benches check hot paths make none). */
  statements(): number;
  /** Applies the migrations in `folder`, tracked in `table` of gantry's schema (one node at a time). */
  migrate(folder: string, table?: string): Promise<void>;
  /** Runs `work` while holding a PostgreSQL advisory lock named `name` in this schema: nodes starting together take turns. */
  exclusive<T>(name: string, work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface PgOptions {
  url: string;
  /** The schema gantry's tables live in (created when missing). */
  schema: string;
  poolSize: number;
}

/** Connects (checking the server answers) and makes `schema` the search path of every pooled connection. */
export async function openPostgres(options: PgOptions): Promise<PgConnection> {
  let statements = 0;
  const client = postgres(options.url, {
    max: options.poolSize,
    debug: () => void statements++,
    onnotice: () => {},
    connection: { search_path: options.schema, application_name: "gantry" },
    connect_timeout: 10,
  });
  try {
    await client.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}`);
  } catch (error) {
    await client.end({ timeout: 1 }).catch(() => {});
    throw error;
  }
  const db = drizzle({ client });
  keepNulOut(client);
  const exclusive = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    // Its own connection: holding one of the pool's while `work` queries could starve a pool of one.
    const locker = postgres(options.url, { max: 1, onnotice: () => {}, connection: { application_name: "gantry" }, connect_timeout: 10 });
    const key = `${options.schema}:${name}`;
    try {
      await locker`SELECT pg_advisory_lock(hashtext(${key}))`;
      return await work();
    } finally {
      await locker.end({ timeout: 1 }).catch(() => {}); // ending the session releases the lock
    }
  };
  return {
    db, client, schema: options.schema,
    statements: () => statements,
    exclusive,
    async migrate(folder, table) {
      // Nothing new (every start but the first after an upgrade): one query, no lock, no migrator.
      if (migrationsCurrent(folder, await lastAppliedMigration(client, options.schema, table ?? DEFAULT_MIGRATIONS_TABLE))) return;
      await exclusive("migrate", () => migrate(db, { migrationsFolder: folder, migrationsTable: table, migrationsSchema: options.schema }));
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** The timestamp of the last migration recorded in `schema`.`table`; null when the table is missing or empty. */
async function lastAppliedMigration(client: postgres.Sql, schema: string, table: string): Promise<unknown> {
  try {
    const rows = await client.unsafe(`SELECT max(created_at) AS last FROM ${quoteIdent(schema)}.${quoteIdent(table)}`);
    return rows[0]?.last ?? null;
  } catch {
    return null; // no such table yet: the migrator creates it
  }
}

/** A JSON `\\u0000` escape, not one whose backslash is itself escaped. */
const JSON_NUL = /(?<!\\)((?:\\\\)*)\\u0000/g;

/**
 * PostgreSQL cannot hold NUL in text or jsonb (SQLite can): a value carrying one (a model's tool
 * arguments, a caller's text) would fail its whole write. It is stored as U+FFFD instead. Set after
 * drizzle, which installs its own pass-through serializers for json and jsonb.
 */
function keepNulOut(client: postgres.Sql): void {
  const serializers = client.options.serializers as Record<string, (x: unknown) => unknown>;
  const text = serializers["25"] ?? ((x: unknown) => `${x}`);
  serializers["25"] = (x) => {
    const value = text(x);
    return typeof value === "string" && value.includes("\0") ? value.replaceAll("\0", "\uFFFD") : value;
  };
  for (const oid of ["114", "3802"]) {
    const json = serializers[oid] ?? ((x: unknown) => x);
    serializers[oid] = (x) => {
      const value = json(x);
      return typeof value === "string" && value.includes("\\u0000") ? value.replace(JSON_NUL, "$1\\ufffd") : value;
    };
  }
}

/** A PostgreSQL identifier in double quotes. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
