/** Batch runs and their lines in the plugin's tables. */
import { and, asc, count, desc, eq, gt, inArray, isNull, lt, or } from "drizzle-orm";
import { pickTables, type CommandRole, type PluginContext } from "gantry/plugin";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import type { batchItems, batchRuns } from "./schema.ts";

export type RunRow = typeof batchRuns.$inferSelect;
export type ItemRow = typeof batchItems.$inferSelect;
export interface Line {
  custom_id: string | null;
  agent: string;
  input: string;
}

/** PostgreSQL's `FOR UPDATE SKIP LOCKED` on a select (the SQLite builder has no row locks: one process writes at a time). */
function skipLocked<Q>(query: Q): Q {
  return (query as unknown as { for(strength: "update", config: { skipLocked: true }): Q }).for("update", { skipLocked: true });
}

export class BatchStore {
  readonly #t: typeof sqliteTables;

  constructor(private readonly db: PluginContext["db"]) {
    this.#t = pickTables(db, { sqlite: sqliteTables, pg: pgTables });
  }

  async create(id: string, actor: string, role: CommandRole, lines: Line[]): Promise<RunRow> {
    const { batchItems, batchRuns } = this.#t;
    return this.db.transaction(async (tx) => {
      const [run] = await tx.insert(batchRuns).values({ id, status: "running", actor, role, total: lines.length, createdAt: new Date() }).returning();
      for (let i = 0; i < lines.length; i += 500) {
        await tx.insert(batchItems).values(lines.slice(i, i + 500).map((l, j) => ({ runId: id, line: i + j + 1, customId: l.custom_id, agent: l.agent, input: l.input, status: "pending" as const })));
      }
      return run!;
    });
  }

  async run(id: string): Promise<RunRow | undefined> {
    const [row] = await this.db.select().from(this.#t.batchRuns).where(eq(this.#t.batchRuns.id, id));
    return row;
  }

  async runs(limit: number): Promise<RunRow[]> {
    return this.db.select().from(this.#t.batchRuns).orderBy(desc(this.#t.batchRuns.createdAt)).limit(limit);
  }

  async setRole(id: string, role: CommandRole): Promise<void> {
    await this.db.update(this.#t.batchRuns).set({ role }).where(eq(this.#t.batchRuns.id, id));
  }

  async setStatus(id: string, status: RunRow["status"]): Promise<void> {
    await this.db.update(this.#t.batchRuns).set({ status, finishedAt: status === "completed" ? new Date() : null }).where(eq(this.#t.batchRuns.id, id));
  }

  /**
   * Claims the next line for `claimer` until `claimMs` from now (marks it running): a pending one, or
   * a running one whose claim lapsed (its gantry process died); undefined when none is left. On
   * PostgreSQL the pick skips lines another node is claiming (`FOR UPDATE SKIP LOCKED`), so two
   * nodes never take the same line and neither stops while lines remain.
   */
  async claim(runId: string, claimer: string, claimMs: number, now = new Date()): Promise<ItemRow | undefined> {
    const { batchItems } = this.#t;
    const open = or(eq(batchItems.status, "pending"), and(eq(batchItems.status, "running"), lt(batchItems.claimExpiresAt, now)));
    // Pick (locking the row until the transaction ends), then mark: two statements, so the pick runs once.
    return this.db.transaction(async (tx) => {
      const pick = tx.select({ line: batchItems.line }).from(batchItems).where(and(eq(batchItems.runId, runId), open)).orderBy(asc(batchItems.line)).limit(1);
      const [picked] = await (this.db.engine === "pg" ? skipLocked(pick) : pick);
      if (!picked) return undefined;
      const [claimed] = await tx.update(batchItems).set({ status: "running", claimedBy: claimer, claimExpiresAt: new Date(now.getTime() + claimMs) })
        .where(and(eq(batchItems.runId, runId), eq(batchItems.line, picked.line))).returning();
      return claimed;
    });
  }

  /** Pushes the expiry of every claim `claimer` holds to `claimMs` from now (lines in progress never lapse). */
  async renewClaims(claimer: string, claimMs: number, now = new Date()): Promise<void> {
    const { batchItems } = this.#t;
    await this.db.update(batchItems).set({ claimExpiresAt: new Date(now.getTime() + claimMs) }).where(and(eq(batchItems.claimedBy, claimer), eq(batchItems.status, "running")));
  }

  async finish(runId: string, line: number, change: Pick<ItemRow, "status" | "output" | "error" | "agentRunId" | "toolCalls">): Promise<void> {
    const { batchItems } = this.#t;
    await this.db.update(batchItems).set({ ...change, finishedAt: new Date() }).where(and(eq(batchItems.runId, runId), eq(batchItems.line, line)));
  }

  async counts(runId: string): Promise<Record<ItemRow["status"], number>> {
    const { batchItems } = this.#t;
    const rows = await this.db.select({ status: batchItems.status, n: count() }).from(batchItems).where(eq(batchItems.runId, runId)).groupBy(batchItems.status);
    const counts = { pending: 0, running: 0, succeeded: 0, failed: 0 };
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  /** Finished lines in order, a page at a time (results stream without holding them all). */
  async finished(runId: string, afterLine: number, limit: number): Promise<ItemRow[]> {
    const { batchItems } = this.#t;
    return this.db.select().from(batchItems)
      .where(and(eq(batchItems.runId, runId), inArray(batchItems.status, ["succeeded", "failed"]), gt(batchItems.line, afterLine)))
      .orderBy(asc(batchItems.line)).limit(limit);
  }

  /**
   * Lines a stopped process left running go back to pending (for resume). `onlyLapsed` (a cluster,
   * where other nodes may be working the run): only lines whose claim lapsed.
   */
  async requeue(runId: string, onlyLapsed = false, now = new Date()): Promise<number> {
    const { batchItems } = this.#t;
    const lapsed = onlyLapsed ? or(isNull(batchItems.claimExpiresAt), lt(batchItems.claimExpiresAt, now)) : undefined;
    return (await this.db.update(batchItems).set({ status: "pending", claimedBy: null, claimExpiresAt: null })
      .where(and(eq(batchItems.runId, runId), eq(batchItems.status, "running"), lapsed)).returning({ line: batchItems.line })).length;
  }

  /** Runs a previous gantry process left running are interrupted (resume continues them). */
  async interruptStale(before: Date): Promise<number> {
    const { batchRuns } = this.#t;
    return (await this.db.update(batchRuns).set({ status: "interrupted" }).where(and(eq(batchRuns.status, "running"), lt(batchRuns.createdAt, before))).returning({ id: batchRuns.id })).length;
  }
}
