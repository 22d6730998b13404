/** datasets: CSV, JSONL and Parquet files registered from folders or uploads, profiled by DuckDB. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { definePlugin, type DatasetsService } from "gantry/plugin";
import { DatasetCatalog } from "./catalog.ts";
import { DatasetEngine, source } from "./engine.ts";
import { jsonReadDepth, type DatasetLimits } from "./limits.ts";
import { ProfileCache } from "./profiles.ts";
import { datasetRoutes, datasetView } from "./routes.ts";

interface DatasetsConfig {
  roots: string[];
  max_upload_bytes: number;
  profile_sample_rows: number;
  preview_max_rows: number;
  top_values: number;
  histogram_bins: number;
  engine_threads: number;
  engine_memory_limit: string;
  max_columns: number;
  max_depth: number;
  profile_timeout_s: number;
}

export default definePlugin({
  name: "datasets",
  async setup(ctx) {
    const config = ctx.config as unknown as DatasetsConfig;
    if (!Array.isArray(config.roots) || config.roots.some((r) => typeof r !== "string")) throw new Error("plugin.datasets.roots must be a list of folder paths");
    for (const key of ["max_columns", "max_depth", "profile_timeout_s"] as const) {
      if (!(typeof config[key] === "number" && config[key] > 0)) throw new Error(`plugin.datasets.${key} must be a positive number`);
    }
    const uploadDir = join(ctx.dataDir, "uploads");
    const spillDir = join(ctx.dataDir, "engine-tmp");
    mkdirSync(uploadDir, { recursive: true });
    // DuckDB (and what it holds in memory) stays across reloads; it closes when the plugin goes away.
    const engine = ctx.keep("engine", () => new DatasetEngine({ threads: config.engine_threads, memoryLimit: config.engine_memory_limit, tempDir: spillDir }), (kept) => kept.close());
    const limits = (): DatasetLimits => ({ maxColumns: config.max_columns, maxDepth: config.max_depth, profileTimeoutS: config.profile_timeout_s });
    const catalog = new DatasetCatalog(ctx.db, engine, () => ({ roots: config.roots, uploadDir, limits: limits() }), ctx.log, ctx.paths);
    const profiles = new ProfileCache(ctx.db, engine, () => ({ sampleRows: config.profile_sample_rows, topValues: config.top_values, histogramBins: config.histogram_bins, limits: limits() }));
    const jsonDepth = () => jsonReadDepth(limits());
    ctx.routes(datasetRoutes({ catalog, profiles, engine, settings: () => ({ maxUploadBytes: config.max_upload_bytes, previewMaxRows: config.preview_max_rows, jsonDepth: jsonDepth() }) }));
    const service: DatasetsService = {
      get: async (name) => datasetView(await catalog.get(name)),
      async rows(name, limit) {
        const dataset = await catalog.get(name);
        return engine.query(`SELECT * FROM ${source(dataset.path, dataset.format, jsonDepth())} LIMIT ${Math.max(0, Math.floor(limit))}`);
      },
    };
    ctx.services.provide("datasets", service);
  },
});
