/** Queues and rendered entries in the plugin's tables; HTML files under `<data dir>/pages`. */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { and, asc, count, eq, inArray, lte, sql } from "drizzle-orm";
import type { PluginContext } from "gantry/plugin";
import { cacheEntries, cacheQueue } from "./schema.ts";

export type Priority = "high" | "normal" | "autorecache";
export const PRIORITIES: Priority[] = ["high", "normal", "autorecache"];
export type QueueItem = typeof cacheQueue.$inferSelect;
export type Entry = typeof cacheEntries.$inferSelect;

export class CacheStore {
  constructor(private readonly db: PluginContext["db"], private readonly pagesDir: string) {}

  /** Queues every url × dimension at `priority`, due at `dueAt`; returns how many entries. */
  enqueue(hostId: number, urls: string[], dimensionIds: number[], priority: Priority, dueAt = new Date()): number {
    const rows = urls.flatMap((url) => dimensionIds.map((dimensionId) => ({ hostId, priority, url, dimensionId, dueAt })));
    for (let i = 0; i < rows.length; i += 500) {
      this.db.insert(cacheQueue).values(rows.slice(i, i + 500)).onConflictDoUpdate({ target: [cacheQueue.hostId, cacheQueue.priority, cacheQueue.url, cacheQueue.dimensionId], set: { dueAt: sql`excluded.due_at` } }).run();
    }
    return rows.length;
  }

  /** Takes up to `limit` due items off the queues: high first, then normal, then autorecache, oldest due first. */
  claimDue(limit: number, now = new Date()): QueueItem[] {
    const claimed: QueueItem[] = [];
    for (const priority of PRIORITIES) {
      if (claimed.length >= limit) break;
      const items = this.db.select().from(cacheQueue).where(and(eq(cacheQueue.priority, priority), lte(cacheQueue.dueAt, now))).orderBy(asc(cacheQueue.dueAt)).limit(limit - claimed.length).all();
      for (const item of items) {
        this.db.delete(cacheQueue).where(and(eq(cacheQueue.hostId, item.hostId), eq(cacheQueue.priority, item.priority), eq(cacheQueue.url, item.url), eq(cacheQueue.dimensionId, item.dimensionId))).run();
      }
      claimed.push(...items);
    }
    return claimed;
  }

  /** `{host_id: {priority: {total, due_now}}}` */
  queueStats(now = new Date()): Record<string, Record<Priority, { total: number; due_now: number }>> {
    const rows = this.db.select({
      hostId: cacheQueue.hostId, priority: cacheQueue.priority, total: count(),
      due: sql<number>`sum(case when ${cacheQueue.dueAt} <= ${now.getTime()} then 1 else 0 end)`,
    }).from(cacheQueue).groupBy(cacheQueue.hostId, cacheQueue.priority).all();
    const stats: Record<string, Record<Priority, { total: number; due_now: number }>> = {};
    for (const row of rows) {
      stats[row.hostId] ??= { high: { total: 0, due_now: 0 }, normal: { total: 0, due_now: 0 }, autorecache: { total: 0, due_now: 0 } };
      stats[row.hostId]![row.priority] = { total: row.total, due_now: Number(row.due ?? 0) };
    }
    return stats;
  }

  /** Stores a rendered page (file first, then the row). */
  save(hostId: number, url: string, dimensionId: number, html: string, status: number, renderMs: number): Entry {
    const file = join(String(hostId), String(dimensionId), `${createHash("sha256").update(url).digest("hex")}.html`);
    mkdirSync(dirname(join(this.pagesDir, file)), { recursive: true });
    writeFileSync(join(this.pagesDir, file), html);
    const entry: Entry = { hostId, url, dimensionId, file, status, bytes: Buffer.byteLength(html), renderMs, renderedAt: new Date() };
    this.db.insert(cacheEntries).values(entry).onConflictDoUpdate({ target: [cacheEntries.hostId, cacheEntries.url, cacheEntries.dimensionId], set: entry }).run();
    return entry;
  }

  entry(hostId: number, url: string, dimensionId: number): Entry | undefined {
    return this.db.select().from(cacheEntries).where(and(eq(cacheEntries.hostId, hostId), eq(cacheEntries.url, url), eq(cacheEntries.dimensionId, dimensionId))).get();
  }

  pagePath(entry: Entry): string {
    return join(this.pagesDir, entry.file);
  }

  /** Deletes the rows now and the files in the background; returns how many entries. */
  invalidate(hostId: number, urls: string[], dimensionIds: number[]): number {
    const where = and(eq(cacheEntries.hostId, hostId), inArray(cacheEntries.url, urls), inArray(cacheEntries.dimensionId, dimensionIds));
    const gone = this.db.delete(cacheEntries).where(where).returning({ file: cacheEntries.file }).all();
    // Renamed now, so a page rendered again at once is not deleted by the cleanup below.
    const doomed = gone.flatMap(({ file }) => {
      const from = join(this.pagesDir, file);
      const to = `${from}.${randomBytes(4).toString("hex")}.deleted`;
      try {
        renameSync(from, to);
        return [to];
      } catch {
        return []; // never written, or already gone
      }
    });
    setTimeout(() => {
      for (const file of doomed) rmSync(file, { force: true });
    }, 0).unref();
    return gone.length;
  }
}
