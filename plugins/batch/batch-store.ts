/** Batch runs and their lines in the plugin's tables. */
import { and, asc, count, desc, eq, gt, inArray, lt } from "drizzle-orm";
import type { PluginContext } from "gantry/plugin";
import { batchItems, batchRuns } from "./schema.ts";

export type RunRow = typeof batchRuns.$inferSelect;
export type ItemRow = typeof batchItems.$inferSelect;
export interface Line {
  custom_id: string | null;
  agent: string;
  input: string;
}

export class BatchStore {
  constructor(private readonly db: PluginContext["db"]) {}

  create(id: string, actor: string, lines: Line[]): RunRow {
    return this.db.transaction((tx) => {
      const run = tx.insert(batchRuns).values({ id, status: "running", actor, total: lines.length, createdAt: new Date() }).returning().get();
      for (let i = 0; i < lines.length; i += 500) {
        tx.insert(batchItems).values(lines.slice(i, i + 500).map((l, j) => ({ runId: id, line: i + j + 1, customId: l.custom_id, agent: l.agent, input: l.input, status: "pending" as const }))).run();
      }
      return run;
    });
  }

  run(id: string): RunRow | undefined {
    return this.db.select().from(batchRuns).where(eq(batchRuns.id, id)).get();
  }

  runs(limit: number): RunRow[] {
    return this.db.select().from(batchRuns).orderBy(desc(batchRuns.createdAt)).limit(limit).all();
  }

  setStatus(id: string, status: RunRow["status"]): void {
    this.db.update(batchRuns).set({ status, finishedAt: status === "completed" ? new Date() : null }).where(eq(batchRuns.id, id)).run();
  }

  /** Takes the next pending line (marks it running), or undefined when none is left. */
  claim(runId: string): ItemRow | undefined {
    const next = this.db.select().from(batchItems).where(and(eq(batchItems.runId, runId), eq(batchItems.status, "pending"))).orderBy(asc(batchItems.line)).limit(1).get();
    if (!next) return undefined;
    this.db.update(batchItems).set({ status: "running" }).where(and(eq(batchItems.runId, runId), eq(batchItems.line, next.line))).run();
    return next;
  }

  finish(runId: string, line: number, change: Pick<ItemRow, "status" | "output" | "error" | "agentRunId" | "toolCalls">): void {
    this.db.update(batchItems).set({ ...change, finishedAt: new Date() }).where(and(eq(batchItems.runId, runId), eq(batchItems.line, line))).run();
  }

  counts(runId: string): Record<ItemRow["status"], number> {
    const rows = this.db.select({ status: batchItems.status, n: count() }).from(batchItems).where(eq(batchItems.runId, runId)).groupBy(batchItems.status).all();
    const counts = { pending: 0, running: 0, succeeded: 0, failed: 0 };
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  /** Finished lines in order, a page at a time (results stream without holding them all). */
  finished(runId: string, afterLine: number, limit: number): ItemRow[] {
    return this.db.select().from(batchItems)
      .where(and(eq(batchItems.runId, runId), inArray(batchItems.status, ["succeeded", "failed"]), gt(batchItems.line, afterLine)))
      .orderBy(asc(batchItems.line)).limit(limit).all();
  }

  /** Lines a stopped process left running go back to pending (for resume). */
  requeue(runId: string): number {
    return this.db.update(batchItems).set({ status: "pending" }).where(and(eq(batchItems.runId, runId), eq(batchItems.status, "running"))).returning({ line: batchItems.line }).all().length;
  }

  /** Runs a previous gantry process left running are interrupted (resume continues them). */
  interruptStale(before: Date): number {
    return this.db.update(batchRuns).set({ status: "interrupted" }).where(and(eq(batchRuns.status, "running"), lt(batchRuns.createdAt, before))).returning({ id: batchRuns.id }).all().length;
  }
}
