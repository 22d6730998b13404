/** Runs, phases, the journal and artifacts in the plugin's tables; every query is awaited. */
import { randomBytes } from "node:crypto";
import { and, asc, count, desc, eq, gt, gte, inArray, like, lte, max } from "drizzle-orm";
import type { PluginContext } from "gantry/plugin";
import { pipelineArtifacts, pipelinePhases, pipelineRunEvents, pipelineRuns, type PhaseState, type RunState } from "./schema.ts";
import type { Template } from "./templates.ts";

export type RunRow = typeof pipelineRuns.$inferSelect;
export type PhaseRow = typeof pipelinePhases.$inferSelect;
export type EventRow = typeof pipelineRunEvents.$inferSelect;
export type ArtifactRow = typeof pipelineArtifacts.$inferSelect;

export const newId = (prefix: string) => `${prefix}_${randomBytes(8).toString("hex")}`;

export interface EventFilter { kind?: string; phase?: string; sinceSeq?: number; from?: Date; to?: Date; limit: number }

export class PipelineStore {
  /** Appends to a run's journal are serialized per run so `seq` has no gaps or twins in this process. */
  readonly #appending = new Map<string, Promise<unknown>>();

  constructor(private readonly db: PluginContext["db"]) {}

  async create(template: Template, inputs: Record<string, unknown>, actor: string, parentRunId: string | null): Promise<RunRow> {
    const now = new Date();
    const [run] = await this.db.insert(pipelineRuns).values({
      id: newId("pl"), template: template.name, definition: template, parentRunId, state: "running", inputs, compliance: template.compliance, actor, createdAt: now, updatedAt: now,
    }).returning();
    await this.db.insert(pipelinePhases).values(template.phases.map((p) => ({ runId: run!.id, name: p.name, state: "pending" as const })));
    return run!;
  }

  async run(id: string): Promise<RunRow | undefined> {
    const [row] = await this.db.select().from(pipelineRuns).where(eq(pipelineRuns.id, id));
    return row;
  }

  async runs(filter: { state?: RunState; template?: string; compliance?: string; limit: number; offset: number }): Promise<{ runs: RunRow[]; total: number }> {
    const where = and(
      filter.state ? eq(pipelineRuns.state, filter.state) : undefined,
      filter.template ? eq(pipelineRuns.template, filter.template) : undefined,
      filter.compliance ? like(pipelineRuns.compliance, `%${JSON.stringify(filter.compliance)}%`) : undefined,
    );
    const runs = await this.db.select().from(pipelineRuns).where(where).orderBy(desc(pipelineRuns.createdAt), desc(pipelineRuns.id)).limit(filter.limit).offset(filter.offset);
    const [{ n }] = (await this.db.select({ n: count() }).from(pipelineRuns).where(where)) as [{ n: number }];
    return { runs, total: n };
  }

  /** Moves the run to `state` when it is in one of `from` (a claim); the updated row, or undefined. */
  async setState(id: string, state: RunState, from: RunState[], change: Partial<Pick<RunRow, "error" | "cancelRequested" | "finishedAt">> = {}): Promise<RunRow | undefined> {
    const [row] = await this.db.update(pipelineRuns).set({ state, updatedAt: new Date(), ...change })
      .where(and(eq(pipelineRuns.id, id), inArray(pipelineRuns.state, from))).returning();
    return row;
  }

  async requestCancel(id: string): Promise<void> {
    await this.db.update(pipelineRuns).set({ cancelRequested: true, updatedAt: new Date() }).where(eq(pipelineRuns.id, id));
  }

  /** Runs a stopped gantry process left running: interrupted (resume continues them). */
  async interruptRunning(): Promise<string[]> {
    const rows = await this.db.update(pipelineRuns).set({ state: "interrupted", updatedAt: new Date() }).where(eq(pipelineRuns.state, "running")).returning({ id: pipelineRuns.id });
    return rows.map((r) => r.id);
  }

  async phases(runId: string): Promise<PhaseRow[]> {
    return this.db.select().from(pipelinePhases).where(eq(pipelinePhases.runId, runId));
  }

  /** Claims a pending phase (pending → `state` in one statement, so two workers never both run it). */
  async claimPhase(runId: string, name: string, state: PhaseState): Promise<PhaseRow | undefined> {
    const [row] = await this.db.update(pipelinePhases).set({ state, startedAt: new Date() })
      .where(and(eq(pipelinePhases.runId, runId), eq(pipelinePhases.name, name), eq(pipelinePhases.state, "pending"))).returning();
    return row;
  }

  async updatePhase(runId: string, name: string, change: Partial<Omit<PhaseRow, "runId" | "name">>): Promise<void> {
    await this.db.update(pipelinePhases).set(change).where(and(eq(pipelinePhases.runId, runId), eq(pipelinePhases.name, name)));
  }

  /** For a resume: phases that did not complete go back to pending; completed ones stay. */
  async requeuePhases(runId: string): Promise<void> {
    await this.db.update(pipelinePhases).set({ state: "pending", attempts: 0, error: null, agent: null })
      .where(and(eq(pipelinePhases.runId, runId), inArray(pipelinePhases.state, ["running", "waiting_gate", "failed"])));
  }

  /** Appends a journal entry with the run's next seq. */
  append(runId: string, kind: string, phase: string | null, data: Record<string, unknown>): Promise<EventRow> {
    const previous = this.#appending.get(runId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(async () => {
      const [last] = await this.db.select({ seq: max(pipelineRunEvents.seq) }).from(pipelineRunEvents).where(eq(pipelineRunEvents.runId, runId));
      const [row] = await this.db.insert(pipelineRunEvents).values({ runId, seq: (last?.seq ?? 0) + 1, at: new Date(), phase, kind, data }).returning();
      return row!;
    });
    this.#appending.set(runId, next);
    void next.finally(() => this.#appending.get(runId) === next && this.#appending.delete(runId)).catch(() => {});
    return next;
  }

  async events(runId: string, filter: EventFilter): Promise<EventRow[]> {
    return this.db.select().from(pipelineRunEvents).where(and(
      eq(pipelineRunEvents.runId, runId),
      filter.kind ? eq(pipelineRunEvents.kind, filter.kind) : undefined,
      filter.phase ? eq(pipelineRunEvents.phase, filter.phase) : undefined,
      filter.sinceSeq !== undefined ? gt(pipelineRunEvents.seq, filter.sinceSeq) : undefined,
      filter.from ? gte(pipelineRunEvents.at, filter.from) : undefined,
      filter.to ? lte(pipelineRunEvents.at, filter.to) : undefined,
    )).orderBy(asc(pipelineRunEvents.seq)).limit(filter.limit);
  }

  async addArtifact(row: Omit<ArtifactRow, "createdAt">): Promise<ArtifactRow> {
    const [saved] = await this.db.insert(pipelineArtifacts).values({ ...row, createdAt: new Date() }).returning();
    return saved!;
  }

  async artifacts(runId: string): Promise<ArtifactRow[]> {
    return this.db.select().from(pipelineArtifacts).where(eq(pipelineArtifacts.runId, runId)).orderBy(asc(pipelineArtifacts.createdAt), asc(pipelineArtifacts.id));
  }

  async artifact(id: string): Promise<ArtifactRow | undefined> {
    const [row] = await this.db.select().from(pipelineArtifacts).where(eq(pipelineArtifacts.id, id));
    return row;
  }

  /** A nested run's id, for a parent phase that started one before a restart. */
  async childRun(parentRunId: string, template: string): Promise<RunRow | undefined> {
    const [row] = await this.db.select().from(pipelineRuns).where(and(eq(pipelineRuns.parentRunId, parentRunId), eq(pipelineRuns.template, template))).orderBy(desc(pipelineRuns.createdAt)).limit(1);
    return row;
  }
}
