/**
 * The data layer behaves the same on SQLite and PostgreSQL: this file runs on whichever the suite
 * runs on (GANTRY_TEST_PG_URL selects PostgreSQL), through the API plugins and core use.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { desc, eq, lt } from "drizzle-orm";
import { createKvStore } from "../../core/kernel/kv-store.ts";
import { coreTables } from "../../core/storage/tables.ts";
import { FIXTURE_PLUGINS, json, startGantry, TEST_PG_URL, type TestGantry } from "../helpers.ts";

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry();
});
afterAll(() => g.stop());

const db = () => g.gantry.core.database.db;
const tables = () => coreTables(db());

describe(`values round-trip alike (${TEST_PG_URL ? "PostgreSQL" : "SQLite"})`, () => {
  test("the store is the one the configuration names", () => {
    expect(g.gantry.core.database.dialect).toBe(TEST_PG_URL ? "pg" : "sqlite");
    expect(db().engine).toBe(g.gantry.core.database.dialect);
  });

  test("JSON: objects, arrays, strings, numbers, booleans and null come back as stored", async () => {
    const kv = createKvStore(db(), "types");
    const values = { nested: { a: [1, 2.5, -3e10], "ü/ß": "naïve ✓", empty: {}, none: null }, text: "plain", number: 42, yes: true, list: ["x", { y: 1 }] };
    for (const [key, value] of Object.entries(values)) await kv.set(key, value);
    for (const [key, value] of Object.entries(values)) expect(await kv.get(key)).toEqual(value);
    expect(typeof (await kv.get("text"))).toBe("string");
    expect((await kv.list("n")).map((e) => e.key)).toEqual(["nested", "number"]);
  });

  test("NUL in text and JSON never fails a write: SQLite keeps it, PostgreSQL (which cannot hold it) stores U+FFFD; an escaped \\u0000 stays as written", async () => {
    const kv = createKvStore(db(), "nul");
    const nul = TEST_PG_URL ? "\uFFFD" : "\u0000";
    await kv.set("json", { text: "a\u0000b", literal: "\\u0000 and \\\u0000" });
    expect(await kv.get("json")).toEqual({ text: `a${nul}b`, literal: `\\u0000 and \\${nul}` });
    const { auditLog } = tables();
    await db().insert(auditLog).values({ at: new Date(), actor: "nul\u0000actor", role: "admin", action: "nul", route: "/nul", status: 200 });
    const [row] = await db().select().from(auditLog).where(eq(auditLog.action, "nul"));
    expect(row!.actor).toBe(`nul${nul}actor`);
  });

  test("timestamps: millisecond precision and comparisons", async () => {
    const { auditLog } = tables();
    const at = new Date("2026-11-30T12:34:56.789Z");
    await db().insert(auditLog).values({ at, actor: "types", role: "admin", action: "ts", route: "/ts", status: 200 });
    await db().insert(auditLog).values({ at: new Date(at.getTime() + 1), actor: "types", role: "admin", action: "ts", route: "/ts", status: 200 });
    const rows = await db().select().from(auditLog).where(eq(auditLog.action, "ts")).orderBy(auditLog.id);
    expect(rows.map((r) => r.at.toISOString())).toEqual(["2026-11-30T12:34:56.789Z", "2026-11-30T12:34:56.790Z"]);
    const before = await db().select().from(auditLog).where(lt(auditLog.at, new Date(at.getTime() + 1)));
    expect(before.filter((r) => r.action === "ts")).toHaveLength(1);
  });

  test("booleans: stored, filtered and returned as booleans", async () => {
    const { users } = tables();
    const now = new Date();
    await db().insert(users).values([
      { id: "u-on", username: "bool-on", passwordHash: "x", role: "viewer", disabled: true, createdAt: now, updatedAt: now },
      { id: "u-off", username: "bool-off", passwordHash: "x", role: "viewer", disabled: false, createdAt: now, updatedAt: now },
    ]);
    const disabled = await db().select().from(users).where(eq(users.disabled, true));
    expect(disabled.map((u) => [u.username, u.disabled])).toEqual([["bool-on", true]]);
    const [off] = await db().select().from(users).where(eq(users.id, "u-off"));
    expect(off!.disabled).toBe(false);
  });

  test("large integers: up to 2^53 - 1 exactly, and ids that count up", async () => {
    const { auditLog } = tables();
    const big = Number.MAX_SAFE_INTEGER;
    const [row] = await db().insert(auditLog).values({ at: new Date(), actor: "types", role: "admin", action: "big", route: "/big", status: big }).returning();
    expect(row!.status).toBe(big);
    const [read] = await db().select().from(auditLog).where(eq(auditLog.status, big));
    expect(read!.status).toBe(big);
    expect(typeof read!.id).toBe("number");
    const [newest] = await db().select({ id: auditLog.id }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
    expect(newest!.id).toBe(row!.id);
  });
});

describe("transactions", () => {
  const setting = async (key: string) => (await db().select().from(tables().coreSettings).where(eq(tables().coreSettings.key, key)))[0]?.value;

  test("commit on return; a throw rolls every statement back and rethrows", async () => {
    const { coreSettings } = tables();
    const result = await db().transaction(async (tx) => {
      await tx.insert(coreSettings).values({ key: "tx-a", value: "1" });
      await tx.insert(coreSettings).values({ key: "tx-b", value: "2" });
      return "done";
    });
    expect(result).toBe("done");
    expect([await setting("tx-a"), await setting("tx-b")]).toEqual(["1", "2"]);
    const failed = db().transaction(async (tx) => {
      await tx.update(coreSettings).set({ value: "changed" }).where(eq(coreSettings.key, "tx-a"));
      await tx.insert(coreSettings).values({ key: "tx-c", value: "3" });
      throw new Error("no, undo that");
    });
    expect(failed).rejects.toThrow("no, undo that");
    await failed.catch(() => {});
    expect([await setting("tx-a"), await setting("tx-c")]).toEqual(["1", undefined]);
  });

  test("work outside a transaction neither sees its uncommitted rows nor is undone by its rollback", async () => {
    const { coreSettings } = tables();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inside!: () => void;
    const started = new Promise<void>((resolve) => (inside = resolve));
    const tx = db().transaction(async (t) => {
      await t.insert(coreSettings).values({ key: "iso-inside", value: "x" });
      inside();
      await held;
      throw new Error("roll back");
    }).catch((error: Error) => error.message);
    await started;
    // Meanwhile, other work: a read and a write.
    const outsideRead = setting("iso-inside");
    const outsideWrite = db().insert(coreSettings).values({ key: "iso-outside", value: "y" });
    await Bun.sleep(50);
    release();
    expect(await tx).toBe("roll back");
    expect(await outsideRead).toBeUndefined();
    await outsideWrite;
    expect([await setting("iso-inside"), await setting("iso-outside")]).toEqual([undefined, "y"]);
  });
});

describe("plugins and dialects", () => {
  test(TEST_PG_URL ? "a plugin with SQLite tables only is refused at install, before its code runs" : "a plugin with SQLite tables only (the older drizzle/ layout) installs on SQLite", async () => {
    const res = await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "legacy-notes") }));
    if (TEST_PG_URL) {
      expect(res.status).toBe(422);
      const body = await res.json();
      expect(body.code).toBe("PLUGIN_DIALECT_UNSUPPORTED");
      expect(body.error).toContain("ships tables for sqlite only");
      expect(body.error).toContain("PostgreSQL");
      expect((await g.api("/api/v1/legacy-notes/")).status).toBe(404);
    } else {
      expect(await res.text()).toContain("legacy-notes");
      expect(res.status).toBe(201);
      await g.api("/api/v1/legacy-notes/", json("POST", { body: "kept" }));
      expect(await (await g.api("/api/v1/legacy-notes/")).json()).toEqual([{ id: 1, body: "kept" }]);
    }
  });
});

describe("migrations", () => {
  /** A drizzle-kit folder whose journal lists `tables` (one migration each, a minute apart). */
  function migrationFolder(dir: string, tables: string[]): string {
    mkdirSync(join(dir, "meta"), { recursive: true });
    const entries = tables.map((table, idx) => ({ idx, version: "7", when: 1_800_000_000_000 + idx * 60_000, tag: `${String(idx).padStart(4, "0")}_${table}`, breakpoints: true }));
    for (const [i, table] of tables.entries()) writeFileSync(join(dir, `${entries[i]!.tag}.sql`), `CREATE TABLE ${table} (id integer PRIMARY KEY);`);
    writeFileSync(join(dir, "meta", "_journal.json"), JSON.stringify({ version: "7", dialect: TEST_PG_URL ? "postgresql" : "sqlite", entries }));
    return dir;
  }

  /** One number from a raw query, on either store. */
  async function count(query: string): Promise<number> {
    const database = g.gantry.core.database;
    if (database.pg) return Number((await database.pg.unsafe(query))[0]!.n);
    return Number((database.sqlite!.query(query).get() as { n: number }).n);
  }

  test("a start where nothing changed checks a folder with one query; a migration added later still applies", async () => {
    const database = g.gantry.core.database;
    const suffix = randomUUID().replaceAll("-", "").slice(0, 12);
    const [first, second, tracking] = [`mig_a_${suffix}`, `mig_b_${suffix}`, `__gantry_migrations_probe_${suffix}`];
    const folder = migrationFolder(mkdtempSync(join(tmpdir(), "gantry-migrations-")), [first]);
    try {
      await database.migrate(folder, tracking);
      expect(await count(`SELECT count(*) AS n FROM ${first}`)).toBe(0);
      const unchanged = database.statements();
      await database.migrate(folder, tracking);
      expect(database.statements() - unchanged).toBe(1);

      migrationFolder(folder, [first, second]); // an upgrade ships a second migration
      await database.migrate(folder, tracking);
      expect(await count(`SELECT count(*) AS n FROM ${second}`)).toBe(0);
      expect(await count(`SELECT count(*) AS n FROM ${tracking}`)).toBe(2);
      const upgraded = database.statements();
      await database.migrate(folder, tracking);
      expect(database.statements() - upgraded).toBe(1);
      expect(await count(`SELECT count(*) AS n FROM ${tracking}`)).toBe(2);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
