/** The one-query check that a folder of drizzle-kit migrations is already applied, so a start where nothing changed skips drizzle's migrator. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** drizzle's default tracking table, used when a migration call names none (core's own). */
export const DEFAULT_MIGRATIONS_TABLE = "__drizzle_migrations";

/** The newest migration's timestamp in `folder`'s journal (drizzle-kit's `meta/_journal.json`); 0 when it lists none. */
export function newestMigrationMillis(folder: string): number {
  const journal = JSON.parse(readFileSync(join(folder, "meta", "_journal.json"), "utf8")) as { entries?: { when: number }[] };
  return Math.max(0, ...(journal.entries ?? []).map((entry) => entry.when));
}

/**
 * True when the tracking table already holds the newest migration of `folder`. drizzle applies every
 * migration newer than the last one it recorded, so nothing is left to apply then. `lastApplied` is
 * that recorded timestamp (null: no table or no row yet, which always means "migrate").
 */
export function migrationsCurrent(folder: string, lastApplied: unknown): boolean {
  if (lastApplied === null || lastApplied === undefined) return false;
  const last = Number(lastApplied);
  return Number.isFinite(last) && last >= newestMigrationMillis(folder);
}
