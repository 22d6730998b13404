/**
 * The data dir is gantry's alone, whatever the umask it was started under (`npm start` runs with 022):
 * the folder 0700, and the files that hold keys (the database and its WAL and shared memory, the key
 * file, the lock) 0600. SQLite gives a database's WAL and -shm files the database file's mode, so the
 * database is created 0600 before SQLite opens it.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";

/** No POSIX modes to set there. */
const NO_MODES = process.platform === "win32";

/** What makePrivateDir found: the folder's mode when it was wider than 0700, and whether it is 0700 now. */
export interface DirNarrowing {
  was: number;
  /** False when this user may not change it (a mount owned by another user): gantry still starts, and says so. */
  narrowed: boolean;
}

/** Creates `dir` 0700, or narrows an existing one to 0700; answers what it did when the folder was wider (to be logged), else null. */
export function makePrivateDir(dir: string): DirNarrowing | null {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (NO_MODES) return null;
  const was = statSync(dir).mode & 0o777;
  if ((was & 0o077) === 0) return null;
  try {
    chmodSync(dir, 0o700);
    return { was, narrowed: true };
  } catch (error) {
    if ((error as { code?: string }).code !== "EPERM") throw error;
    return { was, narrowed: false };
  }
}

/** Creates `path` empty with mode 0600 when missing, and narrows it to 0600 when it is wider. */
export function makePrivateFile(path: string): void {
  closeSync(openSync(path, "a", 0o600));
  narrowToOwner(path);
}

/** Narrows files that exist to 0600 (SQLite's -wal and -shm, left 0644 by an older gantry); missing ones are skipped. */
export function narrowExisting(...paths: string[]): void {
  for (const path of paths) {
    try {
      narrowToOwner(path);
    } catch (error) {
      if ((error as { code?: string }).code !== "ENOENT") throw error;
    }
  }
}

function narrowToOwner(path: string): void {
  if (NO_MODES) return;
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
}

/** The warning for a data dir that was open to other users (a logger of any kind: this layer knows none). */
export function logDataDirNarrowing(log: { warn(fields: object, message: string): void }, dataDir: string, narrowing: DirNarrowing | null): void {
  if (!narrowing) return;
  const was = `0${narrowing.was.toString(8)}`;
  if (narrowing.narrowed) log.warn({ data_dir: dataDir, was }, "the data dir was open to other users (it holds keys); narrowed to 0700");
  else log.warn({ data_dir: dataDir, was }, "the data dir is open to other users (it holds keys) and this user may not narrow it: chmod 700 it");
}
