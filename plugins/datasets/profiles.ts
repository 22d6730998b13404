/** Profiles cached by the dataset's SHA-256 and the sample size: the same bytes are profiled once. */
import { and, eq } from "drizzle-orm";
import { pickTables, type PluginContext } from "gantry/plugin";
import type { DatasetRow } from "./catalog.ts";
import { source, type DatasetEngine } from "./engine.ts";
import { checkSchema, jsonReadDepth, withinTime, type DatasetLimits } from "./limits.ts";
import { profileDataset, type ColumnProfile, type ProfileSettings } from "./profile.ts";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";

export interface StoredProfile {
  sampled: boolean;
  profiled_rows: number;
  columns: ColumnProfile[];
}

export class ProfileCache {
  /** Profiles being computed, by cache key: concurrent requests for one file share the work. */
  readonly #pending = new Map<string, Promise<{ profile: StoredProfile; durationMs: number; createdAt: Date }>>();

  readonly #t: typeof sqliteTables;

  constructor(private readonly db: PluginContext["db"], private readonly engine: DatasetEngine, private readonly settings: () => ProfileSettings & { limits: DatasetLimits }) {
    this.#t = pickTables(db, { sqlite: sqliteTables, pg: pgTables });
  }

  async profile(dataset: DatasetRow): Promise<{ profile: StoredProfile; durationMs: number; createdAt: Date; cached: boolean }> {
    const s = this.settings();
    const where = and(eq(this.#t.datasetProfiles.sha256, dataset.sha256), eq(this.#t.datasetProfiles.sampleRows, s.sampleRows));
    const [hit] = await this.db.select().from(this.#t.datasetProfiles).where(where);
    if (hit) return { profile: hit.profile as unknown as StoredProfile, durationMs: hit.durationMs, createdAt: hit.createdAt, cached: true };
    const key = `${dataset.sha256}:${s.sampleRows}`;
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#compute(dataset, s).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return { ...(await pending), cached: false };
  }

  async #compute(dataset: DatasetRow, s: ProfileSettings & { limits: DatasetLimits }) {
    checkSchema(dataset.columns, s.limits); // a dataset registered before the limits were lowered
    const started = performance.now();
    const from = source(dataset.path, dataset.format, jsonReadDepth(s.limits));
    const profile = await withinTime("The profile", s.limits, (timeoutMs) => profileDataset(this.engine, from, dataset.columns, dataset.rows, s, timeoutMs));
    const durationMs = Math.round(performance.now() - started);
    const createdAt = new Date();
    await this.db.insert(this.#t.datasetProfiles).values({ sha256: dataset.sha256, sampleRows: s.sampleRows, profile: profile as unknown as Record<string, unknown>, durationMs, createdAt }).onConflictDoNothing();
    return { profile, durationMs, createdAt };
  }
}
