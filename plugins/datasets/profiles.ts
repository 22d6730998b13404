/** Profiles cached by the dataset's SHA-256 and the sample size: the same bytes are profiled once. */
import { and, eq } from "drizzle-orm";
import type { PluginContext } from "gantry/plugin";
import type { DatasetRow } from "./catalog.ts";
import { source, type DatasetEngine } from "./engine.ts";
import { profileDataset, type ColumnProfile, type ProfileSettings } from "./profile.ts";
import { datasetProfiles } from "./schema.ts";

export interface StoredProfile {
  sampled: boolean;
  profiled_rows: number;
  columns: ColumnProfile[];
}

export class ProfileCache {
  /** Profiles being computed, by cache key: concurrent requests for one file share the work. */
  readonly #pending = new Map<string, Promise<{ profile: StoredProfile; durationMs: number; createdAt: Date }>>();

  constructor(private readonly db: PluginContext["db"], private readonly engine: DatasetEngine, private readonly settings: () => ProfileSettings) {}

  async profile(dataset: DatasetRow): Promise<{ profile: StoredProfile; durationMs: number; createdAt: Date; cached: boolean }> {
    const s = this.settings();
    const where = and(eq(datasetProfiles.sha256, dataset.sha256), eq(datasetProfiles.sampleRows, s.sampleRows));
    const [hit] = await this.db.select().from(datasetProfiles).where(where);
    if (hit) return { profile: hit.profile as unknown as StoredProfile, durationMs: hit.durationMs, createdAt: hit.createdAt, cached: true };
    const key = `${dataset.sha256}:${s.sampleRows}`;
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#compute(dataset, s).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return { ...(await pending), cached: false };
  }

  async #compute(dataset: DatasetRow, s: ProfileSettings) {
    const started = performance.now();
    const profile = await profileDataset(this.engine, source(dataset.path, dataset.format), dataset.columns, dataset.rows, s);
    const durationMs = Math.round(performance.now() - started);
    const createdAt = new Date();
    await this.db.insert(datasetProfiles).values({ sha256: dataset.sha256, sampleRows: s.sampleRows, profile: profile as unknown as Record<string, unknown>, durationMs, createdAt }).onConflictDoNothing();
    return { profile, durationMs, createdAt };
  }
}
