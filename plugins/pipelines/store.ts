/** Runs, phases, the journal and artifacts in the plugin's tables; every query is awaited. */
import { randomBytes } from "node:crypto";
import { and, asc, count, desc, eq, gt, gte, inArray, lte, max, sql } from "drizzle-orm";
import { pickTables, type CommandRole, type PluginContext } from "gantry/plugin";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import type { pipelineArtifacts, pipelinePhases, pipelineRunEvents, pipelineRuns, PhaseState, RunState } from "./schema.ts";
import type { Template } from "./templates.ts";

export type RunRow = typeof pipelineRuns.$inferSelect;
export type PhaseRow = typeof pipelinePhases.$inferSelect;
export type EventRow = typeof pipelineRunEvents.$inferSelect;

/** Who starts a run: recorded as its actor, and its phases act with that role. */
export interface RunStarter {
  actor: string;
  role: CommandRole;
}
export type ArtifactRow = typeof pipelineArtifacts.$inferSelect;

export const newId = (prefix: string) => `${prefix}_${randomBytes(8).toString("hex")}`;

export interface EventFilter { kind?: string; phase?: string; sinceSeq?: number; from?: Date; to?: Date; limit: number }

export class PipelineStore {
  /** Appends to a run's journal are serialized per run so `seq` has no gaps or twins in this process. */
  readonly #appending = new Map<string, Promise<unknown>>();

  readonly #t: typeof sqliteTables;

  constructor(private readonly db: PluginContext["db"]) {
    this.#t = pickTables(db, { sqlite: sqliteTables, pg: pgTables });
  }

  async create(template: Template, inputs: Record<string, unknown>, starter: RunStarter, parentRunId: string | null): Promise<RunRow> {
    const now = new Date();
    const [run] = await this.db.insert(this.#t.pipelineRuns).values({
      id: newId("pl"), template: template.name, definition: template, parentRunId, state: "running", inputs, compliance: template.compliance, actor: starter.actor, role: starter.role, createdAt: now, updatedAt: now,
    }).returning();
    await this.db.insert(this.#t.pipelinePhases).values(template.phases.map((p) => ({ runId: run!.id, name: p.name, state: "pending" as const })));
    return run!;
  }

  async run(id: string): Promise<RunRow | undefined> {
    const [row] = await this.db.select().from(this.#t.pipelineRuns).where(eq(this.#t.pipelineRuns.id, id));
    return row;
  }

  async runs(filter: { state?: RunState; template?: string; compliance?: string; limit: number; offset: number }): Promise<{ runs: RunRow[]; total: number }> {
    const where = and(
      filter.state ? eq(this.#t.pipelineRuns.state, filter.state) : undefined,
      filter.template ? eq(this.#t.pipelineRuns.template, filter.template) : undefined,
      // As text on both stores (a JSON array in SQLite, jsonb in PostgreSQL).
      filter.compliance ? sql`cast(${this.#t.pipelineRuns.compliance} as text) like ${`%${JSON.stringify(filter.compliance)}%`}` : undefined,
    );
    const runs = await this.db.select().from(this.#t.pipelineRuns).where(where).orderBy(desc(this.#t.pipelineRuns.createdAt), desc(this.#t.pipelineRuns.id)).limit(filter.limit).offset(filter.offset);
    const [{ n }] = (await this.db.select({ n: count() }).from(this.#t.pipelineRuns).where(where)) as [{ n: number }];
    return { runs, total: n };
  }

  /** Moves the run to `state` when it is in one of `from` (a claim); the updated row, or undefined. */
  async setState(id: string, state: RunState, from: RunState[], change: Partial<Pick<RunRow, "error" | "cancelRequested" | "finishedAt">> = {}): Promise<RunRow | undefined> {
    const [row] = await this.db.update(this.#t.pipelineRuns).set({ state, updatedAt: new Date(), ...change })
      .where(and(eq(this.#t.pipelineRuns.id, id), inArray(this.#t.pipelineRuns.state, from))).returning();
    return row;
  }

  async requestCancel(id: string): Promise<void> {
    await this.db.update(this.#t.pipelineRuns).set({ cancelRequested: true, updatedAt: new Date() }).where(eq(this.#t.pipelineRuns.id, id));
  }

  /** Runs a stopped gantry process left running: interrupted (resume continues them). */
  async interruptRunning(): Promise<string[]> {
    const rows = await this.db.update(this.#t.pipelineRuns).set({ state: "interrupted", updatedAt: new Date() }).where(eq(this.#t.pipelineRuns.state, "running")).returning({ id: this.#t.pipelineRuns.id });
    return rows.map((r) => r.id);
  }

  async phases(runId: string): Promise<PhaseRow[]> {
    return this.db.select().from(this.#t.pipelinePhases).where(eq(this.#t.pipelinePhases.runId, runId));
  }

  /** Claims a pending phase (pending → `state` in one statement, so two workers never both run it). */
  async claimPhase(runId: string, name: string, state: PhaseState): Promise<PhaseRow | undefined> {
    const [row] = await this.db.update(this.#t.pipelinePhases).set({ state, startedAt: new Date() })
      .where(and(eq(this.#t.pipelinePhases.runId, runId), eq(this.#t.pipelinePhases.name, name), eq(this.#t.pipelinePhases.state, "pending"))).returning();
    return row;
  }

  async updatePhase(runId: string, name: string, change: Partial<Omit<PhaseRow, "runId" | "name">>): Promise<void> {
    await this.db.update(this.#t.pipelinePhases).set(change).where(and(eq(this.#t.pipelinePhases.runId, runId), eq(this.#t.pipelinePhases.name, name)));
  }

  /** For a resume: phases that did not complete go back to pending; completed ones stay. */
  async requeuePhases(runId: string): Promise<void> {
    await this.db.update(this.#t.pipelinePhases).set({ state: "pending", attempts: 0, error: null, agent: null })
      .where(and(eq(this.#t.pipelinePhases.runId, runId), inArray(this.#t.pipelinePhases.state, ["running", "waiting_gate", "failed"])));
  }

  /** Appends a journal entry with the run's next seq. */
  append(runId: string, kind: string, phase: string | null, data: Record<string, unknown>): Promise<EventRow> {
    const previous = this.#appending.get(runId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(async () => {
      const [last] = await this.db.select({ seq: max(this.#t.pipelineRunEvents.seq) }).from(this.#t.pipelineRunEvents).where(eq(this.#t.pipelineRunEvents.runId, runId));
      const [row] = await this.db.insert(this.#t.pipelineRunEvents).values({ runId, seq: (last?.seq ?? 0) + 1, at: new Date(), phase, kind, data }).returning();
      return row!;
    });
    this.#appending.set(runId, next);
    void next.finally(() => this.#appending.get(runId) === next && this.#appending.delete(runId)).catch(() => {});
    return next;
  }

  async events(runId: string, filter: EventFilter): Promise<EventRow[]> {
    return this.db.select().from(this.#t.pipelineRunEvents).where(and(
      eq(this.#t.pipelineRunEvents.runId, runId),
      filter.kind ? eq(this.#t.pipelineRunEvents.kind, filter.kind) : undefined,
      filter.phase ? eq(this.#t.pipelineRunEvents.phase, filter.phase) : undefined,
      filter.sinceSeq !== undefined ? gt(this.#t.pipelineRunEvents.seq, filter.sinceSeq) : undefined,
      filter.from ? gte(this.#t.pipelineRunEvents.at, filter.from) : undefined,
      filter.to ? lte(this.#t.pipelineRunEvents.at, filter.to) : undefined,
    )).orderBy(asc(this.#t.pipelineRunEvents.seq)).limit(filter.limit);
  }

  async addArtifact(row: Omit<ArtifactRow, "createdAt">): Promise<ArtifactRow> {
    const [saved] = await this.db.insert(this.#t.pipelineArtifacts).values({ ...row, createdAt: new Date() }).returning();
    return saved!;
  }

  async artifacts(runId: string): Promise<ArtifactRow[]> {
    return this.db.select().from(this.#t.pipelineArtifacts).where(eq(this.#t.pipelineArtifacts.runId, runId)).orderBy(asc(this.#t.pipelineArtifacts.createdAt), asc(this.#t.pipelineArtifacts.id));
  }

  async artifact(id: string): Promise<ArtifactRow | undefined> {
    const [row] = await this.db.select().from(this.#t.pipelineArtifacts).where(eq(this.#t.pipelineArtifacts.id, id));
    return row;
  }

  /** A nested run's id, for a parent phase that started one before a restart. */
  async childRun(parentRunId: string, template: string): Promise<RunRow | undefined> {
    const [row] = await this.db.select().from(this.#t.pipelineRuns).where(and(eq(this.#t.pipelineRuns.parentRunId, parentRunId), eq(this.#t.pipelineRuns.template, template))).orderBy(desc(this.#t.pipelineRuns.createdAt)).limit(1);
    return row;
  }
}
