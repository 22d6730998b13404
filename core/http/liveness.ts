/** The checks behind /livez: the database answers, and the data dir is writable with enough free space. */
import type { Database } from "bun:sqlite";
import { statfsSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface CheckResult {
  ok: boolean;
  [detail: string]: unknown;
}

export function livenessChecks(sqlite: Database, dataDir: string, minFreeDiskBytes: number): Record<"database" | "disk", CheckResult> {
  return { database: checkDatabase(sqlite), disk: checkDisk(dataDir, minFreeDiskBytes) };
}

function checkDatabase(sqlite: Database): CheckResult {
  const started = performance.now();
  try {
    sqlite.query("SELECT 1").get();
    return { ok: true, latency_ms: Math.round((performance.now() - started) * 100) / 100 };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

function checkDisk(dataDir: string, minFreeBytes: number): CheckResult {
  try {
    const stats = statfsSync(dataDir);
    const freeBytes = Number(stats.bavail) * Number(stats.bsize);
    const probe = join(dataDir, `.livez-${process.pid}`);
    writeFileSync(probe, "ok");
    unlinkSync(probe);
    if (freeBytes < minFreeBytes) return { ok: false, free_bytes: freeBytes, min_free_bytes: minFreeBytes, error: "free disk space below health.min_free_disk_bytes" };
    return { ok: true, free_bytes: freeBytes, min_free_bytes: minFreeBytes, writable: true };
  } catch (error) {
    return { ok: false, writable: false, error: (error as Error).message };
  }
}
