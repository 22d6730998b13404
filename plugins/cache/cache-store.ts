/** Queues and rendered entries in the plugin's tables; HTML files under `<data dir>/pages`. */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { and, asc, count, eq, inArray, lte, min, sql } from "drizzle-orm";
import { pickTables, type PluginContext } from "gantry/plugin";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import type { cacheEntries, cacheQueue } from "./schema.ts";

export type Priority = "high" | "normal" | "autorecache";
export const PRIORITIES: Priority[] = ["high", "normal", "autorecache"];
export type QueueItem = typeof cacheQueue.$inferSelect;
export type Entry = typeof cacheEntries.$inferSelect;

export class CacheStore {
  readonly #t: typeof sqliteTables;

  /** `onQueued(dueAt)`: entries were queued, the earliest due at `dueAt` (the scheduler wakes for them). */
  constructor(private readonly db: PluginContext["db"], private readonly pagesDir: string, private readonly onQueued: (dueAt: Date) => void = () => {}) {
    this.#t = pickTables(db, { sqlite: sqliteTables, pg: pgTables });
  }

  /** Queues every url × dimension at `priority`, due at `dueAt`; returns how many entries. */
  async enqueue(hostId: number, urls: string[], dimensionIds: number[], priority: Priority, dueAt = new Date()): Promise<number> {
    const { cacheQueue } = this.#t;
    const rows = urls.flatMap((url) => dimensionIds.map((dimensionId) => ({ hostId, priority, url, dimensionId, dueAt })));
    await this.db.transaction(async (tx) => {
      for (let i = 0; i < rows.length; i += 500) {
        await tx.insert(cacheQueue).values(rows.slice(i, i + 500)).onConflictDoUpdate({ target: [cacheQueue.hostId, cacheQueue.priority, cacheQueue.url, cacheQueue.dimensionId], set: { dueAt: sql`excluded.due_at` } });
      }
    });
    if (rows.length > 0) this.onQueued(dueAt);
    return rows.length;
  }

  /** Takes up to `limit` due items off the queues: high first, then normal, then autorecache, oldest due first. */
  async claimDue(limit: number, now = new Date()): Promise<QueueItem[]> {
    const { cacheQueue } = this.#t;
    // Read and delete in one transaction, so an item is claimed once.
    return this.db.transaction(async (tx) => {
      const claimed: QueueItem[] = [];
      for (const priority of PRIORITIES) {
        if (claimed.length >= limit) break;
        const items = await tx.select().from(cacheQueue).where(and(eq(cacheQueue.priority, priority), lte(cacheQueue.dueAt, now))).orderBy(asc(cacheQueue.dueAt)).limit(limit - claimed.length);
        for (const item of items) {
          await tx.delete(cacheQueue).where(and(eq(cacheQueue.hostId, item.hostId), eq(cacheQueue.priority, item.priority), eq(cacheQueue.url, item.url), eq(cacheQueue.dimensionId, item.dimensionId)));
        }
        claimed.push(...items);
      }
      return claimed;
    });
  }

  /** When the earliest queued entry is due; null when the queues are empty. */
  async nextDueAt(): Promise<Date | null> {
    const { cacheQueue } = this.#t;
    const [row] = await this.db.select({ at: min(cacheQueue.dueAt) }).from(cacheQueue);
    return row?.at ?? null;
  }

  /** `{host_id: {priority: {total, due_now}}}` */
  async queueStats(now = new Date()): Promise<Record<string, Record<Priority, { total: number; due_now: number }>>> {
    const { cacheQueue } = this.#t;
    const rows = await this.db.select({
      hostId: cacheQueue.hostId, priority: cacheQueue.priority, total: count(),
      due: sql<number>`sum(case when ${lte(cacheQueue.dueAt, now)} then 1 else 0 end)`.mapWith(Number),
    }).from(cacheQueue).groupBy(cacheQueue.hostId, cacheQueue.priority);
    const stats: Record<string, Record<Priority, { total: number; due_now: number }>> = {};
    for (const row of rows) {
      stats[row.hostId] ??= { high: { total: 0, due_now: 0 }, normal: { total: 0, due_now: 0 }, autorecache: { total: 0, due_now: 0 } };
      stats[row.hostId]![row.priority] = { total: row.total, due_now: Number(row.due ?? 0) };
    }
    return stats;
  }

  /** Stores a rendered page (file first, then the row). */
  async save(hostId: number, url: string, dimensionId: number, html: string, status: number, renderMs: number): Promise<Entry> {
    const { cacheEntries } = this.#t;
    const file = join(String(hostId), String(dimensionId), `${createHash("sha256").update(url).digest("hex")}.html`);
    mkdirSync(dirname(join(this.pagesDir, file)), { recursive: true });
    writeFileSync(join(this.pagesDir, file), html);
    const entry: Entry = { hostId, url, dimensionId, file, status, bytes: Buffer.byteLength(html), renderMs, renderedAt: new Date() };
    await this.db.insert(cacheEntries).values(entry).onConflictDoUpdate({ target: [cacheEntries.hostId, cacheEntries.url, cacheEntries.dimensionId], set: entry });
    return entry;
  }

  async entry(hostId: number, url: string, dimensionId: number): Promise<Entry | undefined> {
    const { cacheEntries } = this.#t;
    const [row] = await this.db.select().from(cacheEntries).where(and(eq(cacheEntries.hostId, hostId), eq(cacheEntries.url, url), eq(cacheEntries.dimensionId, dimensionId)));
    return row;
  }

  pagePath(entry: Entry): string {
    return join(this.pagesDir, entry.file);
  }

  /** Deletes the rows now and the files in the background; returns how many entries. */
  async invalidate(hostId: number, urls: string[], dimensionIds: number[]): Promise<number> {
    const { cacheEntries } = this.#t;
    const where = and(eq(cacheEntries.hostId, hostId), inArray(cacheEntries.url, urls), inArray(cacheEntries.dimensionId, dimensionIds));
    const gone = await this.db.delete(cacheEntries).where(where).returning({ file: cacheEntries.file });
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
