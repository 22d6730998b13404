/** Evaluation runs and their rows in the plugin's tables. */
import { and, asc, count, desc, eq, gt, inArray, lt } from "drizzle-orm";
import { pickTables, type PluginContext } from "gantry/plugin";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import type { evaluationRows, evaluations } from "./schema.ts";

export type EvaluationRow = typeof evaluations.$inferSelect;
export type RowResult = typeof evaluationRows.$inferSelect;

export class EvaluationStore {
  readonly #t: typeof sqliteTables;

  constructor(private readonly db: PluginContext["db"]) {
    this.#t = pickTables(db, { sqlite: sqliteTables, pg: pgTables });
  }

  async create(run: Omit<EvaluationRow, "summary" | "finishedAt" | "status">, rows: { input: string; expected: string | null }[]): Promise<EvaluationRow> {
    const [created] = await this.db.insert(this.#t.evaluations).values({ ...run, status: "running", summary: null, finishedAt: null }).returning();
    for (let i = 0; i < rows.length; i += 500) {
      await this.db.insert(this.#t.evaluationRows).values(rows.slice(i, i + 500).map((r, j) => ({ evaluationId: run.id, row: i + j + 1, input: r.input, expected: r.expected, status: "pending" as const })));
    }
    return created!;
  }

  async get(id: string): Promise<EvaluationRow | undefined> {
    const [row] = await this.db.select().from(this.#t.evaluations).where(eq(this.#t.evaluations.id, id));
    return row;
  }

  list(limit: number): Promise<EvaluationRow[]> {
    return this.db.select().from(this.#t.evaluations).orderBy(desc(this.#t.evaluations.createdAt)).limit(limit);
  }

  async setStatus(id: string, status: EvaluationRow["status"], summary?: Record<string, unknown>): Promise<void> {
    await this.db.update(this.#t.evaluations).set({ status, finishedAt: status === "completed" ? new Date() : null, ...(summary ? { summary } : {}) }).where(eq(this.#t.evaluations.id, id));
  }

  /** Row numbers still to run, in order. */
  async pending(id: string): Promise<number[]> {
    return (await this.db.select({ row: this.#t.evaluationRows.row }).from(this.#t.evaluationRows).where(and(eq(this.#t.evaluationRows.evaluationId, id), eq(this.#t.evaluationRows.status, "pending"))).orderBy(asc(this.#t.evaluationRows.row))).map((r) => r.row);
  }

  /** Marks a pending row running and answers it; undefined when another worker (or instance) has it. */
  async claim(id: string, row: number): Promise<RowResult | undefined> {
    const [claimed] = await this.db.update(this.#t.evaluationRows).set({ status: "running" })
      .where(and(eq(this.#t.evaluationRows.evaluationId, id), eq(this.#t.evaluationRows.row, row), eq(this.#t.evaluationRows.status, "pending"))).returning();
    return claimed;
  }

  async update(id: string, row: number, change: Partial<RowResult>): Promise<void> {
    await this.db.update(this.#t.evaluationRows).set(change).where(and(eq(this.#t.evaluationRows.evaluationId, id), eq(this.#t.evaluationRows.row, row)));
  }

  async counts(id: string): Promise<Record<RowResult["status"], number>> {
    const rows = await this.db.select({ status: this.#t.evaluationRows.status, n: count() }).from(this.#t.evaluationRows).where(eq(this.#t.evaluationRows.evaluationId, id)).groupBy(this.#t.evaluationRows.status);
    const counts = { pending: 0, running: 0, succeeded: 0, failed: 0 };
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  /** Finished rows in order, a page at a time. */
  finished(id: string, afterRow: number, limit: number): Promise<RowResult[]> {
    return this.db.select().from(this.#t.evaluationRows)
      .where(and(eq(this.#t.evaluationRows.evaluationId, id), inArray(this.#t.evaluationRows.status, ["succeeded", "failed"]), gt(this.#t.evaluationRows.row, afterRow)))
      .orderBy(asc(this.#t.evaluationRows.row)).limit(limit);
  }

  /** Rows a stopped process left running go back to pending (for resume). */
  async requeue(id: string): Promise<void> {
    await this.db.update(this.#t.evaluationRows).set({ status: "pending" }).where(and(eq(this.#t.evaluationRows.evaluationId, id), eq(this.#t.evaluationRows.status, "running")));
  }

  /** Runs a previous gantry process left running are interrupted (resume continues them). */
  async interruptStale(before: Date): Promise<number> {
    return (await this.db.update(this.#t.evaluations).set({ status: "interrupted" }).where(and(eq(this.#t.evaluations.status, "running"), lt(this.#t.evaluations.createdAt, before))).returning({ id: this.#t.evaluations.id })).length;
  }
}
