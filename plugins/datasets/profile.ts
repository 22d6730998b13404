/**
 * A dataset's profile, in the spirit of DuckDB's SUMMARIZE: per column its type, nulls, approximate
 * distinct count; for numbers min/max/mean/std, exact quantiles and an equal-width histogram; for
 * text and booleans the most frequent values. Files above the sample size are profiled over a
 * reproducible reservoir sample, read once into a temporary table.
 */
import { ident, type DatasetEngine, type JsonRow } from "./engine.ts";
import type { ColumnSchema } from "./schema.ts";

export type ColumnKind = "number" | "text" | "boolean" | "temporal" | "other";

export interface ColumnProfile {
  name: string;
  type: string;
  kind: ColumnKind;
  count: number;
  nulls: number;
  null_percent: number;
  distinct_approx: number | null;
  min: number | string | null;
  max: number | string | null;
  mean: number | null;
  std: number | null;
  quantiles: { p05: number; p25: number; p50: number; p75: number; p95: number } | null;
  top_values: { value: string; count: number }[] | null;
  histogram: { lower: number; upper: number; count: number }[] | null;
}

export interface ProfileSettings {
  sampleRows: number;
  topValues: number;
  histogramBins: number;
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$/;
const TEMPORAL = /^(DATE|TIME.*|TIMESTAMP.*|INTERVAL)$/;

export function kindOf(type: string): ColumnKind {
  if (NUMERIC.test(type)) return "number";
  if (type === "VARCHAR") return "text";
  if (type === "BOOLEAN") return "boolean";
  if (TEMPORAL.test(type)) return "temporal";
  return "other";
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95];

/** Profiles the rows of `from` (a table function over the file) with `columns` as its schema, within `timeoutMs` when given. */
export async function profileDataset(engine: DatasetEngine, from: string, columns: ColumnSchema[], totalRows: number, s: ProfileSettings, timeoutMs?: number) {
  const sampled = totalRows > s.sampleRows;
  return engine.session(async (query) => {
    await query(`CREATE TEMP TABLE profiled AS SELECT * FROM ${from}${sampled ? ` USING SAMPLE reservoir(${s.sampleRows} ROWS) REPEATABLE (42)` : ""}`);
    const kinds = columns.map((c) => kindOf(c.type));
    const parts = ["count(*) AS n"];
    columns.forEach((c, i) => {
      const col = ident(c.name);
      parts.push(`count(${col}) AS c${i}_count`);
      if (kinds[i] !== "other") parts.push(`approx_count_distinct(${col}) AS c${i}_distinct`, `min(${col})::VARCHAR AS c${i}_min`, `max(${col})::VARCHAR AS c${i}_max`);
      if (kinds[i] === "number") {
        parts.push(`avg(${col}::DOUBLE) AS c${i}_mean`, `stddev_samp(${col}::DOUBLE) AS c${i}_std`, `quantile_cont(${col}::DOUBLE, [${QUANTILES.join(", ")}]) AS c${i}_q`);
      }
    });
    const [agg] = await query(`SELECT ${parts.join(", ")} FROM profiled`);
    const rows = Number(agg!.n);
    const profiles: ColumnProfile[] = [];
    for (const [i, c] of columns.entries()) {
      const kind = kinds[i]!;
      const count = Number(agg![`c${i}_count`]);
      const q = agg![`c${i}_q`] as unknown[] | null | undefined;
      const profile: ColumnProfile = {
        name: c.name, type: c.type, kind, count, nulls: rows - count, null_percent: rows === 0 ? 0 : Math.round(((rows - count) / rows) * 10000) / 100,
        distinct_approx: num(agg![`c${i}_distinct`]),
        min: kind === "number" ? num(agg![`c${i}_min`]) : ((agg![`c${i}_min`] as string | undefined) ?? null),
        max: kind === "number" ? num(agg![`c${i}_max`]) : ((agg![`c${i}_max`] as string | undefined) ?? null),
        mean: num(agg![`c${i}_mean`]), std: num(agg![`c${i}_std`]),
        quantiles: q ? { p05: Number(q[0]), p25: Number(q[1]), p50: Number(q[2]), p75: Number(q[3]), p95: Number(q[4]) } : null,
        top_values: null, histogram: null,
      };
      if (kind === "text" || kind === "boolean") profile.top_values = await topValues(query, c.name, s.topValues);
      // ±inf or NaN bounds have no equal-width bins.
      if (kind === "number" && Number.isFinite(profile.min) && Number.isFinite(profile.max)) profile.histogram = await histogram(query, c.name, profile.min as number, profile.max as number, s.histogramBins);
      profiles.push(profile);
    }
    return { sampled, profiled_rows: rows, columns: profiles };
  }, timeoutMs);
}

async function topValues(query: (sql: string) => Promise<JsonRow[]>, column: string, limit: number) {
  const col = ident(column);
  // Positions, not aliases, in GROUP BY and ORDER BY: a column may itself be named v or n.
  const rows = await query(`SELECT ${col}::VARCHAR AS v, count(*) AS n FROM profiled WHERE ${col} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${limit}`);
  return rows.map((r) => ({ value: String(r.v), count: Number(r.n) }));
}

/** Equal-width bins from min to max; the last bin includes max. */
async function histogram(query: (sql: string) => Promise<JsonRow[]>, column: string, min: number, max: number, bins: number) {
  const col = ident(column);
  const width = (max - min) / bins;
  if (width === 0) {
    const [only] = await query(`SELECT count(${col}) AS n FROM profiled`);
    return [{ lower: min, upper: max, count: Number(only!.n) }];
  }
  // GROUP BY 1, not the alias: a column named b would be grouped instead of the bin.
  const rows = await query(`SELECT least(floor((${col}::DOUBLE - ${min}) / ${width})::BIGINT, ${bins - 1}) AS b, count(*) AS n FROM profiled WHERE ${col} IS NOT NULL GROUP BY 1`);
  const counts = new Map(rows.map((r) => [Number(r.b), Number(r.n)]));
  return Array.from({ length: bins }, (_, b) => ({ lower: min + b * width, upper: b === bins - 1 ? max : min + (b + 1) * width, count: counts.get(b) ?? 0 }));
}
