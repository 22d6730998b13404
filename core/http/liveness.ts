/** The checks behind /livez: the database answers, and the data dir is writable with enough free space. */
import { statfsSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const PING_TIMEOUT_MS = 2000;

export interface CheckResult {
  ok: boolean;
  [detail: string]: unknown;
}

export async function livenessChecks(ping: () => Promise<void>, dataDir: string, minFreeDiskBytes: number): Promise<Record<"database" | "disk", CheckResult>> {
  return { database: await checkDatabase(ping), disk: checkDisk(dataDir, minFreeDiskBytes) };
}

async function checkDatabase(ping: () => Promise<void>): Promise<CheckResult> {
  const started = performance.now();
  try {
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS)));
    await Promise.race([ping(), timeout]).finally(() => clearTimeout(timer));
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
