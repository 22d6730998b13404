/** Evaluation runs and their rows in the plugin's tables. */
import { and, asc, count, desc, eq, gt, inArray, lt } from "drizzle-orm";
import type { PluginContext } from "gantry/plugin";
import { evaluationRows, evaluations } from "./schema.ts";

export type EvaluationRow = typeof evaluations.$inferSelect;
export type RowResult = typeof evaluationRows.$inferSelect;

export class EvaluationStore {
  constructor(private readonly db: PluginContext["db"]) {}

  async create(run: Omit<EvaluationRow, "summary" | "finishedAt" | "status">, rows: { input: string; expected: string | null }[]): Promise<EvaluationRow> {
    const [created] = await this.db.insert(evaluations).values({ ...run, status: "running", summary: null, finishedAt: null }).returning();
    for (let i = 0; i < rows.length; i += 500) {
      await this.db.insert(evaluationRows).values(rows.slice(i, i + 500).map((r, j) => ({ evaluationId: run.id, row: i + j + 1, input: r.input, expected: r.expected, status: "pending" as const })));
    }
    return created!;
  }

  async get(id: string): Promise<EvaluationRow | undefined> {
    const [row] = await this.db.select().from(evaluations).where(eq(evaluations.id, id));
    return row;
  }

  list(limit: number): Promise<EvaluationRow[]> {
    return this.db.select().from(evaluations).orderBy(desc(evaluations.createdAt)).limit(limit);
  }

  async setStatus(id: string, status: EvaluationRow["status"], summary?: Record<string, unknown>): Promise<void> {
    await this.db.update(evaluations).set({ status, finishedAt: status === "completed" ? new Date() : null, ...(summary ? { summary } : {}) }).where(eq(evaluations.id, id));
  }

  /** Row numbers still to run, in order. */
  async pending(id: string): Promise<number[]> {
    return (await this.db.select({ row: evaluationRows.row }).from(evaluationRows).where(and(eq(evaluationRows.evaluationId, id), eq(evaluationRows.status, "pending"))).orderBy(asc(evaluationRows.row))).map((r) => r.row);
  }

  /** Marks a pending row running and answers it; undefined when another worker (or instance) has it. */
  async claim(id: string, row: number): Promise<RowResult | undefined> {
    const [claimed] = await this.db.update(evaluationRows).set({ status: "running" })
      .where(and(eq(evaluationRows.evaluationId, id), eq(evaluationRows.row, row), eq(evaluationRows.status, "pending"))).returning();
    return claimed;
  }

  async update(id: string, row: number, change: Partial<RowResult>): Promise<void> {
    await this.db.update(evaluationRows).set(change).where(and(eq(evaluationRows.evaluationId, id), eq(evaluationRows.row, row)));
  }

  async counts(id: string): Promise<Record<RowResult["status"], number>> {
    const rows = await this.db.select({ status: evaluationRows.status, n: count() }).from(evaluationRows).where(eq(evaluationRows.evaluationId, id)).groupBy(evaluationRows.status);
    const counts = { pending: 0, running: 0, succeeded: 0, failed: 0 };
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  /** Finished rows in order, a page at a time. */
  finished(id: string, afterRow: number, limit: number): Promise<RowResult[]> {
    return this.db.select().from(evaluationRows)
      .where(and(eq(evaluationRows.evaluationId, id), inArray(evaluationRows.status, ["succeeded", "failed"]), gt(evaluationRows.row, afterRow)))
      .orderBy(asc(evaluationRows.row)).limit(limit);
  }

  /** Rows a stopped process left running go back to pending (for resume). */
  async requeue(id: string): Promise<void> {
    await this.db.update(evaluationRows).set({ status: "pending" }).where(and(eq(evaluationRows.evaluationId, id), eq(evaluationRows.status, "running")));
  }

  /** Runs a previous gantry process left running are interrupted (resume continues them). */
  async interruptStale(before: Date): Promise<number> {
    return (await this.db.update(evaluations).set({ status: "interrupted" }).where(and(eq(evaluations.status, "running"), lt(evaluations.createdAt, before))).returning({ id: evaluations.id })).length;
  }
}
