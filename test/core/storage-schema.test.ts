/** Each table exists twice, for SQLite and PostgreSQL: the two must agree (columns, types, keys, indexes). */
import { describe, expect, test } from "bun:test";
import { readdirSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { bigint, getTableConfig as pgConfig, PgTable, pgTable, text as pgText } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteConfig, integer, SQLiteTable, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { is } from "drizzle-orm";
import { pluginMigrationDialects } from "../../core/storage/db.ts";

const ROOT = resolve(import.meta.dir, "../..");

/** Where a pair of schema modules lives: core, and every plugin folder (built-in or fixture) with a schema-pg.ts. */
const pairs: { owner: string; sqlite: string; pg: string; dir: string }[] = [
  { owner: "core", sqlite: join(ROOT, "core/storage/db-schema.ts"), pg: join(ROOT, "core/storage/db-schema-pg.ts"), dir: ROOT },
  ...[join(ROOT, "plugins"), join(ROOT, "test/fixtures/plugins")].flatMap((parent) =>
    readdirSync(parent).filter((name) => existsSync(join(parent, name, "schema-pg.ts")))
      .map((name) => ({ owner: name, sqlite: join(parent, name, "schema.ts"), pg: join(parent, name, "schema-pg.ts"), dir: join(parent, name) }))),
];

/** What must agree about a table, in dialect-neutral words. */
function shape(config: ReturnType<typeof sqliteConfig> | ReturnType<typeof pgConfig>) {
  return {
    name: config.name,
    columns: config.columns.map((c) => ({
      // drizzle's pg-core has no bytea builder: a custom bytea column is the twin of a SQLite blob buffer.
      name: c.name, type: c.dataType === "custom" && c.getSQLType() === "bytea" ? "buffer" : c.dataType, notNull: c.notNull, primaryKey: c.primary, hasDefault: c.hasDefault,
      unique: c.isUnique ? c.uniqueName : null, enum: (c as { enumValues?: string[] }).enumValues ?? null,
    })),
    primaryKey: config.primaryKeys.map((k) => k.columns.map((c) => c.name)),
    indexes: config.indexes.map((i) => ({ name: i.config.name, unique: i.config.unique, columns: i.config.columns.map((c) => (c as { name: string }).name) }))
      .sort((a, b) => (a.name ?? "").localeCompare(b.name ?? "")),
  };
}

describe("schema pairs", () => {
  test("core and the built-in plugins each have both", () => {
    expect(pairs.map((p) => p.owner)).toEqual(expect.arrayContaining(["core", "agent", "batch", "cache", "cron", "instances", "knowledge"]));
  });

  for (const pair of pairs) {
    test(`${pair.owner}: every table agrees on both dialects, and both have migrations`, async () => {
      const sqlite = Object.values(await import(pair.sqlite)).filter((v) => is(v, SQLiteTable)) as SQLiteTable[];
      const pg = Object.values(await import(pair.pg)).filter((v) => is(v, PgTable)) as PgTable[];
      expect(sqlite.length).toBeGreaterThan(0);
      expect(pg.map((t) => pgConfig(t).name).sort()).toEqual(sqlite.map((t) => sqliteConfig(t).name).sort());
      for (const table of sqlite) {
        const twin = pg.find((t) => pgConfig(t).name === sqliteConfig(table).name)!;
        expect(shape(pgConfig(twin))).toEqual(shape(sqliteConfig(table)));
      }
      if (pair.owner === "core") {
        for (const dialect of ["sqlite", "pg"]) expect(existsSync(join(ROOT, "drizzle", dialect, "meta", "_journal.json"))).toBe(true);
      } else {
        expect([...pluginMigrationDialects(pair.dir).keys()].sort()).toEqual(["pg", "sqlite"]);
      }
    });
  }

  test("the comparison notices a column whose type differs", () => {
    const sqlite = sqliteTable("pairs_probe", { id: text("id").primaryKey(), size: integer("size").notNull() });
    const pg = pgTable("pairs_probe", { id: pgText("id").primaryKey(), size: pgText("size").notNull() });
    const same = pgTable("pairs_probe", { id: pgText("id").primaryKey(), size: bigint("size", { mode: "number" }).notNull() });
    expect(shape(pgConfig(pg))).not.toEqual(shape(sqliteConfig(sqlite)));
    expect(shape(pgConfig(same))).toEqual(shape(sqliteConfig(sqlite)));
  });
});
