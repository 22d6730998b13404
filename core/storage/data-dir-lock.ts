/**
 * One gantry per data directory. A second gantry started on the same folder would take the first's
 * model servers for leftovers of a crash and kill them, and write the same SQLite file; it is
 * refused before it touches anything. The lock is SQLite's exclusive lock on <data_dir>/gantry.lock:
 * an operating-system file lock, so it goes with the process however that ends (kill -9 included)
 * and a stale file never blocks the next start.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runtime, type SqliteDatabase } from "../runtime/index.ts";
import { Errors } from "../kernel/errors.ts";
import { makePrivateDir, makePrivateFile, type DirNarrowing } from "./private-files.ts";

export interface DataDirLock {
  /** Lets the next gantry (or `gantry restore`) have the folder. */
  release(): void;
  /** The folder's mode when it was wider than 0700 at this start, and whether it could be narrowed (for a log line); else null. */
  readonly narrowing: DirNarrowing | null;
}

/** Who holds the folder, written beside the lock for the message a refused start prints. */
const HOLDER_FILE = "gantry.pid";

/**
 * Takes `dataDir` for this process; throws DATA_DIR_IN_USE (naming the holder's pid when it wrote
 * one) while another process holds it. `what` says who holds it, for that message ("gantry serve").
 */
export function lockDataDir(dataDir: string, what = "gantry"): DataDirLock {
  const dir = resolve(dataDir);
  // The first thing to touch the folder: it holds the database, the key file and model server logs.
  const narrowing = makePrivateDir(dir);
  makePrivateFile(join(dir, "gantry.lock"));
  const db = runtime.openSqlite(join(dir, "gantry.lock"));
  try {
    // Exclusive locking mode keeps the lock taken by the first write until the connection closes.
    db.exec("PRAGMA busy_timeout = 0");
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("CREATE TABLE IF NOT EXISTS held (at TEXT)");
    db.exec("COMMIT");
  } catch (error) {
    db.close();
    if (!/locked|busy/i.test((error as Error).message)) throw error;
    throw Errors.DATA_DIR_IN_USE([dir, holderOf(dir)]);
  }
  const holder = join(dir, HOLDER_FILE);
  writeFileSync(holder, `${JSON.stringify({ pid: process.pid, what, since: new Date().toISOString() })}\n`, { mode: 0o600 });
  let held: SqliteDatabase | undefined = db;
  return {
    narrowing,
    release() {
      if (!held) return;
      rmSync(holder, { force: true });
      held.close();
      held = undefined;
    },
  };
}

/** "pid 123, gantry since …" from the holder's note, or what can be said without one. */
function holderOf(dir: string): string {
  try {
    const note = JSON.parse(readFileSync(join(dir, HOLDER_FILE), "utf8")) as { pid?: unknown; what?: unknown; since?: unknown };
    return `${String(note.what ?? "gantry")}, pid ${String(note.pid)}, since ${String(note.since)}`;
  } catch {
    return "another process";
  }
}
