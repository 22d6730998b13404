/** The audit log: who did what (admin and operator actions, logins), queryable by admins. */
import { and, desc, eq, gte, lt, lte, sql, type SQL } from "drizzle-orm";
import type { GantryDb } from "../storage/db.ts";
import { coreTables } from "../storage/tables.ts";

export interface AuditEntry {
  actor: string;
  role: string;
  action: string;
  route: string;
  target?: string | null;
  status: number;
  requestId?: string | null;
  ip?: string | null;
  detail?: string | null;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  route?: string;
  status?: number;
  since?: string;
  until?: string;
  before_id?: number;
  limit?: number;
}

export class AuditLog {
  readonly #table: ReturnType<typeof coreTables>["auditLog"];

  constructor(private readonly db: GantryDb) {
    this.#table = coreTables(db).auditLog;
  }

  async record(entry: AuditEntry): Promise<void> {
    await this.db.insert(this.#table).values({ ...entry, target: entry.target ?? null, requestId: entry.requestId ?? null, ip: entry.ip ?? null, detail: entry.detail ?? null, at: new Date() });
  }

  /** Newest first; `next_before_id` pages further back. */
  async query(q: AuditQuery) {
    const auditLog = this.#table;
    const where: SQL[] = [];
    if (q.actor) where.push(eq(auditLog.actor, q.actor));
    if (q.action) where.push(eq(auditLog.action, q.action));
    // lower() on both sides: LIKE ignores ASCII case on SQLite but not on PostgreSQL.
    if (q.route) where.push(sql`lower(${auditLog.route}) like ${`%${q.route.replace(/[%_]/g, "").toLowerCase()}%`}`);
    if (q.status !== undefined) where.push(eq(auditLog.status, q.status));
    if (q.since) where.push(gte(auditLog.at, new Date(q.since)));
    if (q.until) where.push(lte(auditLog.at, new Date(q.until)));
    if (q.before_id !== undefined) where.push(lt(auditLog.id, q.before_id));
    const limit = Math.min(q.limit ?? 100, 1000);
    const rows = await this.db.select().from(auditLog).where(where.length > 0 ? and(...where) : undefined).orderBy(desc(auditLog.id)).limit(limit);
    return {
      entries: rows.map((r) => ({
        id: r.id, at: r.at.toISOString(), actor: r.actor, role: r.role, action: r.action, route: r.route,
        target: r.target, status: r.status, request_id: r.requestId, ip: r.ip, detail: r.detail,
      })),
      next_before_id: rows.length === limit ? rows.at(-1)!.id : null,
    };
  }
}
