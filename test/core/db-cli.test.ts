/** `gantry backup`, `gantry restore` and `gantry db migrate-to`: run as a user would, against a real data dir. */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { FIXTURE_PLUGINS, json, startGantry, tempDir, TEST_PG_URL, type TestGantry } from "../helpers.ts";

const MAIN = resolve(import.meta.dir, "../../core/main.ts");
/** migrate-to needs a PostgreSQL to copy into: the one the suite runs on, or GANTRY_TEST_PG_TARGET on the SQLite leg. */
const TARGET = process.env.GANTRY_TEST_PG_TARGET || TEST_PG_URL;
const SQLITE = { database: { url: "" } };

function gantry(...args: string[]) {
  const result = Bun.spawnSync([process.execPath, MAIN, ...args], { cwd: tempDir("gantry-cli-cwd-"), env: { PATH: process.env.PATH ?? "" }, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() };
}

let dataDir: string;
let notes: string;
beforeAll(async () => {
  dataDir = tempDir();
  notes = join(FIXTURE_PLUGINS, "notes");
  const g = await startGantry({ dataDir, config: SQLITE });
  await g.gantry.host.install(notes);
  for (const body of ["one", "two"]) await g.api("/api/v1/notes/", json("POST", { body }));
  expect((await g.api("/api/v1/auth/users", json("POST", { username: "ada", password: "correct horse battery", role: "operator" }))).status).toBe(201);
  await g.stop();
});

async function notesOf(g: TestGantry) {
  return (await (await g.api("/api/v1/notes/")).json()) as { id: number; body: string }[];
}

describe("backup and restore (SQLite)", () => {
  let backup: string;

  test("backup writes a consistent copy while gantry runs; restore brings it back", async () => {
    const g = await startGantry({ dataDir, config: SQLITE });
    backup = join(tempDir(), "gantry-backup.db");
    const made = gantry("backup", backup, "--data-dir", dataDir);
    expect(made.err).toBe("");
    expect(made.code).toBe(0);
    expect(existsSync(backup)).toBe(true);
    expect(gantry("backup", backup, "--data-dir", dataDir)).toMatchObject({ code: 1, err: expect.stringContaining("exists") });
    await g.api("/api/v1/notes/", json("POST", { body: "after the backup" }));
    // Not while a gantry runs on the folder (whatever port it listens on): nothing is moved aside.
    expect(gantry("restore", backup, "--data-dir", dataDir)).toMatchObject({ code: 1, err: expect.stringMatching(/^gantry: Data directory .* is in use \(gantry serve, pid \d+/) });
    expect((await notesOf(g)).map((n) => n.body)).toEqual(["one", "two", "after the backup"]);
    await g.stop();

    expect(gantry("restore", join(dataDir, "nope.db"), "--data-dir", dataDir)).toMatchObject({ code: 1, err: expect.stringContaining("no file") });
    expect(gantry("restore", MAIN, "--data-dir", dataDir)).toMatchObject({ code: 1, err: expect.stringContaining("not a gantry SQLite backup") });
    const restored = gantry("restore", backup, "--data-dir", dataDir);
    expect(restored.code).toBe(0);
    expect(restored.out).toContain("before-restore");
    const again = await startGantry({ dataDir, config: SQLITE });
    expect((await notesOf(again)).map((n) => n.body)).toEqual(["one", "two"]);
    await again.stop();
   }, 90_000); // five CLI processes: slow on a loaded machine

  test("on PostgreSQL, backup and restore name the pg_dump and pg_restore commands", () => {
    const env = ["--data-dir", dataDir];
    const run = (cmd: string) => Bun.spawnSync([process.execPath, MAIN, cmd, "x.dump", ...env], {
      cwd: tempDir("gantry-cli-cwd-"), env: { PATH: process.env.PATH ?? "", GANTRY_DATABASE__URL: "postgres://gantry:s3cret@db.internal:5432/gantry" }, stderr: "pipe",
    });
    const dump = run("backup");
    expect(dump.exitCode).toBe(2);
    expect(dump.stderr.toString()).toContain("pg_dump --format=custom --schema=public --file=x.dump 'postgres://gantry@db.internal:5432/gantry'");
    expect(dump.stderr.toString()).not.toContain("s3cret");
    expect(run("restore").stderr.toString()).toContain("pg_restore");
  });
});

describe("db migrate-to", () => {
  test("refuses a target that is not PostgreSQL", () => {
    expect(gantry("db", "migrate-to", "mysql://x", "--data-dir", dataDir)).toMatchObject({ code: 2, err: expect.stringContaining("postgres://") });
  });

  test(TARGET ? "copies every table into an empty PostgreSQL, counts checked; gantry then runs on it with the same data" : "needs a PostgreSQL to copy into (GANTRY_TEST_PG_TARGET)", async () => {
    if (!TARGET) {
      expect(gantry("db", "migrate-to", "postgres://postgres@127.0.0.1:1/none", "--data-dir", dataDir)).toMatchObject({ code: 1, err: expect.stringContaining("Cannot open the database") });
      return;
    }
    const schema = `t_migrate_${Date.now().toString(36)}`;
    const admin = postgres(TARGET, { max: 1, onnotice: () => {} });
    try {
      const moved = gantry("db", "migrate-to", TARGET, "--schema", schema, "--data-dir", dataDir);
      expect(moved.err).toBe("");
      expect(moved.code).toBe(0);
      expect(moved.out).toContain("every count matches");
      expect(moved.out).toMatch(/notes_entries\s+2 rows/);
      expect(moved.out).toMatch(/users\s+2 rows/);
      const twice = gantry("db", "migrate-to", TARGET, "--schema", schema, "--data-dir", dataDir);
      expect(twice).toMatchObject({ code: 1, err: expect.stringContaining("not empty") });

      const g = await startGantry({ dataDir, config: { database: { url: TARGET, schema } } });
      try {
        expect(g.gantry.core.database.dialect).toBe("pg");
        expect((await notesOf(g)).map((n) => n.body)).toEqual(["one", "two"]);
        const added = await (await g.api("/api/v1/notes/", json("POST", { body: "three" }))).json();
        expect(added.id).toBe(3); // ids go on after the copied ones
        const login = await g.api("/api/v1/auth/login", { ...json("POST", { username: "ada", password: "correct horse battery" }), auth: false });
        expect(login.status).toBe(200);
      } finally {
        await g.stop();
      }
    } finally {
      await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
   }, 90_000);
});
