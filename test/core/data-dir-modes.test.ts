/**
 * The data dir holds the JWT secret and the internal key (in gantry.db) and the key file: a gantry
 * started under umask 022 (as `npm start` runs) keeps it 0700 and those files 0600, and narrows a
 * folder and files an earlier start left open to other users. The files checked are SQLite's, so
 * this runs on SQLite on either leg.
 */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers.ts";
import { startGantryProcess, type GantryProcess } from "../runtime/gantry-process.ts";

const ROOT = resolve(import.meta.dir, "../..");
const parent = tempDir("gantry-modes-");
const dataDir = join(parent, "data");
afterAll(() => rmSync(parent, { recursive: true, force: true }));

const modeOf = (path: string) => `0${(statSync(path).mode & 0o777).toString(8)}`;
/** `gantry serve` under umask 022, whatever the umask of the test runner. */
const startUnderUmask022 = () => startGantryProcess(
  ["sh", "-c", 'umask 022; exec "$0" "$@"', process.execPath, join(ROOT, "core/main.ts"), "serve"],
  { dataDir, cwd: parent, env: { GANTRY_DATABASE__URL: "" } },
);
const PRIVATE_FILES = ["gantry.db", "gantry.db-wal", "gantry.db-shm", "secret.key", "gantry.lock"];

async function expectPrivate(g: GantryProcess): Promise<void> {
  // A write while it runs, so the WAL and its shared memory exist to be looked at.
  expect((await g.api("/api/v1/auth/keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: `modes-${Date.now()}`, role: "viewer" }) })).status).toBe(201);
  expect(modeOf(dataDir)).toBe("0700");
  for (const file of PRIVATE_FILES) {
    expect(existsSync(join(dataDir, file))).toBe(true);
    expect([file, modeOf(join(dataDir, file))]).toEqual([file, "0600"]);
  }
}

test("a new data dir is 0700 and the database, its WAL and -shm, the key file and the lock 0600 under umask 022", async () => {
  const g = await startUnderUmask022();
  try {
    await expectPrivate(g);
    expect(g.lines.some((line) => line.includes("narrowed to 0700"))).toBe(false);
  } finally {
    await g.stop();
  }
});

test("a data dir and files left open to others are narrowed at the next start, and the start says so", async () => {
  chmodSync(dataDir, 0o755);
  for (const file of ["gantry.db", "secret.key"]) chmodSync(join(dataDir, file), 0o644);
  const g = await startUnderUmask022();
  try {
    await expectPrivate(g);
    const warning = g.lines.find((line) => line.includes("narrowed to 0700"));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, was: "0755" });
  } finally {
    await g.stop();
  }
});
