/** Deployments, their versions, promotions, history, shadow runs and artifacts in the plugin's tables. */
import { and, asc, desc, eq, isNull } from "drizzle-orm";
import { pickTables, type PluginContext } from "gantry/plugin";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";

type T = typeof sqliteTables;
export type DeploymentRow = T["deployments"]["$inferSelect"];
export type VersionRow = T["deploymentVersions"]["$inferSelect"];
export type VersionStatus = VersionRow["status"];
export type PromotionRow = T["promotions"]["$inferSelect"];
export type HistoryRow = T["deploymentHistory"]["$inferSelect"];
export type ShadowRunRow = T["shadowRuns"]["$inferSelect"];
export type ShadowSampleRow = T["shadowSamples"]["$inferSelect"];
export type ArtifactRow = T["deploymentArtifacts"]["$inferSelect"];

export class DeploymentStore {
  readonly #t: T;

  constructor(private readonly db: PluginContext["db"]) {
    this.#t = pickTables(db, { sqlite: sqliteTables, pg: pgTables });
  }

  async deployment(model: string): Promise<DeploymentRow | undefined> {
    const [row] = await this.db.select().from(this.#t.deployments).where(eq(this.#t.deployments.model, model));
    return row;
  }

  deployments(): Promise<DeploymentRow[]> {
    return this.db.select().from(this.#t.deployments).orderBy(asc(this.#t.deployments.model));
  }

  /** The deployment, created (with no live version) when it is new. */
  async ensure(model: string): Promise<DeploymentRow> {
    const now = new Date();
    await this.db.insert(this.#t.deployments).values({ model, createdAt: now, updatedAt: now }).onConflictDoNothing();
    return (await this.deployment(model))!;
  }

  async update(model: string, change: Partial<Omit<DeploymentRow, "model" | "createdAt">>): Promise<DeploymentRow> {
    const [row] = await this.db.update(this.#t.deployments).set({ ...change, updatedAt: new Date() }).where(eq(this.#t.deployments.model, model)).returning();
    return row!;
  }

  versions(model: string): Promise<VersionRow[]> {
    return this.db.select().from(this.#t.deploymentVersions).where(eq(this.#t.deploymentVersions.model, model)).orderBy(asc(this.#t.deploymentVersions.createdAt));
  }

  async version(model: string, version: string): Promise<VersionRow | undefined> {
    const v = this.#t.deploymentVersions;
    const [row] = await this.db.select().from(v).where(and(eq(v.model, model), eq(v.version, version)));
    return row;
  }

  /** Sets a version's status, adding the version when it is new. */
  async setVersion(model: string, version: string, status: VersionStatus, change: Partial<Pick<VersionRow, "promotedAt" | "retiredAt">> = {}): Promise<void> {
    const v = this.#t.deploymentVersions;
    await this.db.insert(v).values({ model, version, status, createdAt: new Date(), ...change })
      .onConflictDoUpdate({ target: [v.model, v.version], set: { status, ...change } });
  }

  async addPromotion(row: PromotionRow): Promise<PromotionRow> {
    const [created] = await this.db.insert(this.#t.promotions).values(row).returning();
    return created!;
  }

  async promotion(id: string): Promise<PromotionRow | undefined> {
    const [row] = await this.db.select().from(this.#t.promotions).where(eq(this.#t.promotions.id, id));
    return row;
  }

  promotions(model: string): Promise<PromotionRow[]> {
    return this.db.select().from(this.#t.promotions).where(eq(this.#t.promotions.model, model)).orderBy(asc(this.#t.promotions.requestedAt));
  }

  pendingPromotions(): Promise<PromotionRow[]> {
    return this.db.select().from(this.#t.promotions).where(eq(this.#t.promotions.status, "pending"));
  }

  /** Moves a promotion on from `from` only (two nodes or two events deciding the same gate: one wins). */
  async movePromotion(id: string, from: PromotionRow["status"], change: Partial<PromotionRow>): Promise<PromotionRow | undefined> {
    const p = this.#t.promotions;
    const [row] = await this.db.update(p).set(change).where(and(eq(p.id, id), eq(p.status, from))).returning();
    return row;
  }

  async record(model: string, kind: string, actor: string, version: string | null, detail: Record<string, unknown> = {}): Promise<HistoryRow> {
    const [row] = await this.db.insert(this.#t.deploymentHistory).values({ model, at: new Date(), kind, actor, version, detail }).returning();
    return row!;
  }

  history(model: string, limit = 1000): Promise<HistoryRow[]> {
    const h = this.#t.deploymentHistory;
    return this.db.select().from(h).where(eq(h.model, model)).orderBy(asc(h.id)).limit(limit);
  }

  async addShadowRun(row: Omit<ShadowRunRow, "stoppedAt" | "counts">): Promise<ShadowRunRow> {
    const [created] = await this.db.insert(this.#t.shadowRuns).values({ ...row, stoppedAt: null, counts: null }).returning();
    return created!;
  }

  /** Shadow runs not stopped, all models. */
  activeShadowRuns(): Promise<ShadowRunRow[]> {
    return this.db.select().from(this.#t.shadowRuns).where(isNull(this.#t.shadowRuns.stoppedAt));
  }

  /** The model's newest shadow run, running or stopped; or the newest between two versions. */
  async latestShadowRun(model: string, champion?: string, challenger?: string): Promise<ShadowRunRow | undefined> {
    const s = this.#t.shadowRuns;
    const where = champion && challenger ? and(eq(s.model, model), eq(s.champion, champion), eq(s.challenger, challenger)) : eq(s.model, model);
    const [row] = await this.db.select().from(s).where(where).orderBy(desc(s.startedAt)).limit(1);
    return row;
  }

  /** Saves a running shadow run's counts (a stopped run's are final and stay). */
  async saveShadowCounts(id: string, counts: { seen: number; sampled: number; mirrored: number; dropped: number }): Promise<void> {
    const s = this.#t.shadowRuns;
    await this.db.update(s).set({ counts }).where(and(eq(s.id, id), isNull(s.stoppedAt)));
  }

  async stopShadowRun(id: string, counts: { seen: number; sampled: number; mirrored: number; dropped: number }): Promise<void> {
    await this.db.update(this.#t.shadowRuns).set({ stoppedAt: new Date(), counts }).where(eq(this.#t.shadowRuns.id, id));
  }

  async addSamples(rows: ShadowSampleRow[]): Promise<void> {
    if (rows.length > 0) await this.db.insert(this.#t.shadowSamples).values(rows);
  }

  /** The run's newest `limit` samples. */
  samples(shadowId: string, limit: number): Promise<ShadowSampleRow[]> {
    const s = this.#t.shadowSamples;
    return this.db.select().from(s).where(eq(s.shadowId, shadowId)).orderBy(desc(s.seq)).limit(limit);
  }

  async addArtifact(row: ArtifactRow): Promise<ArtifactRow> {
    const [created] = await this.db.insert(this.#t.deploymentArtifacts).values(row).returning();
    return created!;
  }

  async updateArtifact(id: string, change: Partial<Pick<ArtifactRow, "bytes" | "sha256" | "detail">>): Promise<ArtifactRow> {
    const [row] = await this.db.update(this.#t.deploymentArtifacts).set(change).where(eq(this.#t.deploymentArtifacts.id, id)).returning();
    return row!;
  }

  async artifact(id: string): Promise<ArtifactRow | undefined> {
    const [row] = await this.db.select().from(this.#t.deploymentArtifacts).where(eq(this.#t.deploymentArtifacts.id, id));
    return row;
  }

  artifacts(kind: ArtifactRow["kind"] | undefined, model: string | undefined, limit: number): Promise<ArtifactRow[]> {
    const a = this.#t.deploymentArtifacts;
    return this.db.select().from(a).where(and(kind ? eq(a.kind, kind) : undefined, model ? eq(a.model, model) : undefined)).orderBy(desc(a.createdAt)).limit(limit);
  }
}
