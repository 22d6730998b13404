/** Queues and rendered entries in the plugin's tables; HTML files under `<data dir>/pages`. */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { and, asc, count, eq, inArray, isNotNull, isNull, lt, lte, min, or, sql } from "drizzle-orm";
import { pickTables, type PluginContext } from "gantry/plugin";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import type { cacheEntries, cacheQueue } from "./schema.ts";

export type Priority = "high" | "normal" | "autorecache";
export const PRIORITIES: Priority[] = ["high", "normal", "autorecache"];
export type QueueItem = typeof cacheQueue.$inferSelect;
export type Entry = typeof cacheEntries.$inferSelect;

/** PostgreSQL's `FOR UPDATE SKIP LOCKED` on a select (the SQLite builder has no row locks: one process writes at a time). */
function skipLocked<Q>(query: Q): Q {
  return (query as unknown as { for(strength: "update", config: { skipLocked: true }): Q }).for("update", { skipLocked: true });
}

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

  /**
   * Claims up to `limit` due entries for `claimer` until `claimMs` from now: high first, then normal,
   * then autorecache, oldest due first. An entry stays in the queue while claimed; `complete`
   * removes it. On PostgreSQL the pick skips rows another node is claiming (`FOR UPDATE SKIP
   * LOCKED`), so nodes never take the same entry; a claim whose node died lapses and the entry
   * is taken again.
   */
  async claimDue(limit: number, claimer: string, claimMs: number, now = new Date()): Promise<QueueItem[]> {
    const { cacheQueue } = this.#t;
    const claimed: QueueItem[] = [];
    for (const priority of PRIORITIES) {
      if (claimed.length >= limit) break;
      // Pick (locking the rows until the transaction ends), then mark: two statements, so the pick runs once.
      const rows = await this.db.transaction(async (tx) => {
        const pick = tx.select().from(cacheQueue)
          .where(and(eq(cacheQueue.priority, priority), lte(cacheQueue.dueAt, now), or(isNull(cacheQueue.claimExpiresAt), lt(cacheQueue.claimExpiresAt, now))))
          .orderBy(asc(cacheQueue.dueAt)).limit(limit - claimed.length);
        const picked = await (this.db.engine === "pg" ? skipLocked(pick) : pick);
        const claim = { claimedBy: claimer, claimExpiresAt: new Date(now.getTime() + claimMs) };
        for (const item of picked) {
          await tx.update(cacheQueue).set(claim)
            .where(and(eq(cacheQueue.hostId, item.hostId), eq(cacheQueue.priority, item.priority), eq(cacheQueue.url, item.url), eq(cacheQueue.dimensionId, item.dimensionId)));
        }
        return picked.map((item) => ({ ...item, ...claim }));
      });
      claimed.push(...rows);
    }
    return claimed;
  }

  /** Pushes the expiry of every claim `claimer` holds to `claimMs` from now (a live claimer's claims never lapse). */
  async renewClaims(claimer: string, claimMs: number, now = new Date()): Promise<void> {
    const { cacheQueue } = this.#t;
    await this.db.update(cacheQueue).set({ claimExpiresAt: new Date(now.getTime() + claimMs) }).where(eq(cacheQueue.claimedBy, claimer));
  }

  /**
   * Ends `claimer`'s claim on an entry: removes it, unless it was queued again meanwhile (its due
   * time moved), in which case it stays queued, unclaimed.
   */
  async complete(item: QueueItem, claimer: string): Promise<void> {
    const { cacheQueue } = this.#t;
    const same = and(eq(cacheQueue.hostId, item.hostId), eq(cacheQueue.priority, item.priority), eq(cacheQueue.url, item.url), eq(cacheQueue.dimensionId, item.dimensionId), eq(cacheQueue.claimedBy, claimer));
    const removed = await this.db.delete(cacheQueue).where(and(same, eq(cacheQueue.dueAt, item.dueAt))).returning({ url: cacheQueue.url });
    if (removed.length === 0) await this.db.update(cacheQueue).set({ claimedBy: null, claimExpiresAt: null }).where(same);
  }

  /**
   * The earliest time an entry may be claimable: the first due time among unclaimed (or lapsed)
   * entries, or the first expiry of a claim held now (its node may die and the claim lapse). Null
   * when the queues are empty.
   */
  async nextDueAt(now = new Date()): Promise<Date | null> {
    const { cacheQueue } = this.#t;
    const [free] = await this.db.select({ at: min(cacheQueue.dueAt) }).from(cacheQueue).where(or(isNull(cacheQueue.claimExpiresAt), lt(cacheQueue.claimExpiresAt, now)));
    const [held] = await this.db.select({ at: min(cacheQueue.claimExpiresAt) }).from(cacheQueue).where(isNotNull(cacheQueue.claimExpiresAt));
    const times = [free?.at, held?.at].filter((at): at is Date => at instanceof Date).map((at) => at.getTime());
    return times.length === 0 ? null : new Date(Math.min(...times));
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
