/** /api/v1/datasets: list and profile (viewer); upload, preview and delete (operator). */
import { MAX_QUERY_INTEGER, QueryLimit, Nullable, t, type RolesApp } from "gantry/plugin";
import { NAME_PATTERN, type DatasetCatalog, type DatasetRow } from "./catalog.ts";
import { source, type DatasetEngine } from "./engine.ts";
import type { ProfileCache } from "./profiles.ts";

export interface DatasetRouteParts {
  catalog: DatasetCatalog;
  profiles: ProfileCache;
  engine: DatasetEngine;
  settings: () => { maxUploadBytes: number; previewMaxRows: number; jsonDepth: number };
}

const Format = t.Union([t.Literal("csv"), t.Literal("jsonl"), t.Literal("parquet")]);
const Name = t.Object({ name: t.String({ pattern: NAME_PATTERN }) });
const Column = t.Object({ name: t.String(), type: t.String({ description: "DuckDB's type name" }) });
const DatasetView = t.Object({
  name: t.String(), format: Format, source: t.Union([t.Literal("root"), t.Literal("upload")]), size_bytes: t.Integer(), rows: t.Integer(),
  schema: t.Array(Column), sha256: t.String(), created_at: t.String(), updated_at: t.String(),
});
const Scalar = Nullable(t.Union([t.Number(), t.String()]));
const ColumnProfile = t.Object({
  name: t.String(), type: t.String(), kind: t.Union([t.Literal("number"), t.Literal("text"), t.Literal("boolean"), t.Literal("temporal"), t.Literal("other")]),
  count: t.Integer({ description: "non-null values" }), nulls: t.Integer(), null_percent: t.Number(), distinct_approx: Nullable(t.Number({ description: "HyperLogLog estimate" })),
  min: Scalar, max: Scalar, mean: Nullable(t.Number()), std: Nullable(t.Number({ description: "sample standard deviation" })),
  quantiles: Nullable(t.Object({ p05: t.Number(), p25: t.Number(), p50: t.Number(), p75: t.Number(), p95: t.Number() }, { description: "exact, linearly interpolated" })),
  top_values: Nullable(t.Array(t.Object({ value: t.String(), count: t.Integer() }))),
  histogram: Nullable(t.Array(t.Object({ lower: t.Number(), upper: t.Number(), count: t.Integer() }), { description: "equal-width bins from min to max" })),
});
const ProfileView = t.Object({
  name: t.String(), sha256: t.String(), rows: t.Integer(), sampled: t.Boolean(), profiled_rows: t.Integer(), cached: t.Boolean(),
  computed_at: t.String(), duration_ms: t.Integer(), columns: t.Array(ColumnProfile),
});

/** The multipart form, documented by hand: the route streams it rather than letting a body schema parse it. */
const UploadBody = {
  required: true,
  content: {
    "multipart/form-data": {
      schema: {
        type: "object" as const, required: ["name", "file"],
        properties: {
          name: { type: "string" as const, pattern: NAME_PATTERN, description: "letters, digits, '.', '_', '-'" },
          file: { type: "string" as const, format: "binary", description: "CSV, JSONL or Parquet; streamed to disk, at most plugin.datasets.max_upload_bytes" },
          format: { type: "string" as const, enum: ["csv", "jsonl", "parquet"] },
        },
      },
    },
  },
};

export const datasetView = (d: DatasetRow) => ({
  name: d.name, format: d.format, source: d.source, size_bytes: d.sizeBytes, rows: d.rows, schema: d.columns, sha256: d.sha256,
  created_at: d.createdAt.toISOString(), updated_at: d.updatedAt.toISOString(),
});

export function datasetRoutes(p: DatasetRouteParts) {
  return (app: RolesApp) =>
    app
      .get("", async () => ({ datasets: (await p.catalog.list()).map(datasetView), skipped: p.catalog.skipped().map((s) => ({ path: s.path, reason: s.reason })) }), {
        role: "viewer",
        response: t.Object({
          datasets: t.Array(DatasetView),
          skipped: t.Array(t.Object({ path: t.String({ description: "below its root" }), reason: t.String({ description: "outside_root, data_dir, broken_link, not_a_file or unreadable" }) }), { description: "root entries refused: links leading out of their root or into gantry's data dir" }),
        }),
        detail: { summary: "Datasets: files under the configured roots and uploads; links leaving a root are refused and listed in skipped" },
      })
      // The body is read by the route as it arrives (streamed to disk), not parsed whole by the framework.
      .post("", async ({ request, set }) => {
        const row = await p.catalog.upload(request, p.settings().maxUploadBytes);
        set.status = 201;
        return datasetView(row);
      }, {
        role: { min: "operator", rateLimit: "expensive" },
        parse: "none",
        response: { 201: DatasetView },
        detail: { summary: "Upload a dataset (multipart: name, file, format?); the format comes from the file name unless given", requestBody: UploadBody },
      })
      .get("/:name", async ({ params }) => datasetView(await p.catalog.get(params.name)), {
        role: "viewer", params: Name, response: DatasetView, detail: { summary: "One dataset" },
      })
      .get("/:name/profile", async ({ params }) => {
        const dataset = await p.catalog.get(params.name);
        const { profile, durationMs, createdAt, cached } = await p.profiles.profile(dataset);
        return { name: dataset.name, sha256: dataset.sha256, rows: dataset.rows, ...profile, cached, computed_at: createdAt.toISOString(), duration_ms: durationMs };
      }, {
        role: { min: "viewer", rateLimit: "expensive" }, params: Name, response: ProfileView,
        detail: { summary: "Profile: per column type, nulls, distinct count, min/max/mean/std, quantiles and a histogram for numbers, top values for text; cached by checksum" },
      })
      .get("/:name/preview", async ({ params, query }) => {
        const dataset = await p.catalog.get(params.name);
        const limit = Math.min(query.limit ?? 20, p.settings().previewMaxRows);
        const rows = await p.engine.query(`SELECT * FROM ${source(dataset.path, dataset.format, p.settings().jsonDepth)} LIMIT ${limit}`);
        return { name: dataset.name, schema: dataset.columns, rows };
      }, {
        role: "operator", params: Name, query: t.Object({ limit: QueryLimit(MAX_QUERY_INTEGER, "default 20, capped at plugin.datasets.preview_max_rows") }),
        response: t.Object({ name: t.String(), schema: t.Array(Column), rows: t.Array(t.Record(t.String(), t.Unknown())) }),
        detail: { summary: "The first rows (large integers and decimals come as strings)" },
      })
      .delete("/:name", async ({ params }) => {
        await p.catalog.remove(params.name);
        return { message: `Dataset '${params.name}' deleted` };
      }, { role: "operator", params: Name, response: t.Object({ message: t.String() }), detail: { summary: "Delete an uploaded dataset (files under a root are removed on disk)" } });
}
