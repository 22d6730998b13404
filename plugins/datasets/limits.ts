/**
 * What a dataset may demand of the engine: how many columns, how deeply nested, how long a profile
 * may run. A file past a limit is refused with a 422 before DuckDB spends memory on it (a 128 KB CSV
 * of 20,000 columns or a JSONL line nested 2,000 deep once took gantry past 1 GB).
 */
import { open } from "node:fs/promises";
import { createError, defineErrors } from "gantry/plugin";
import { isEngineTimeout, type DatasetFormat } from "./engine.ts";
import type { ColumnSchema } from "./schema.ts";

export interface DatasetLimits {
  maxColumns: number;
  maxDepth: number;
  profileTimeoutS: number;
}

export const DatasetLimitErrors = defineErrors("datasets", {
  DATASET_TOO_WIDE: createError("DATASET_TOO_WIDE", 422, (columns: number, limit: number) =>
    `The file has ${columns} columns; at most ${limit} are read (plugin.datasets.max_columns)`),
  DATASET_TOO_DEEP: createError("DATASET_TOO_DEEP", 422, (column: string, limit: number) =>
    `Column '${column}' nests objects or lists more than ${limit} levels deep (plugin.datasets.max_depth)`),
  DATASET_TIMEOUT: createError("DATASET_TIMEOUT", 422, (work: string, seconds: number) =>
    `${work} did not finish within ${seconds} s (plugin.datasets.profile_timeout_s); it was stopped`),
});

/** DuckDB's CSV sniffer reads lines up to this size; the header is looked for within it. */
const HEADER_BYTES = 2 * 1024 * 1024;
const DELIMITERS = [",", ";", "\t", "|"];

/** Fields on the first line of a CSV for the delimiter that splits it most (quotes respected): an upper bound of its columns. */
export async function csvFirstLineWidth(path: string): Promise<number> {
  const file = await open(path, "r");
  let text: string;
  try {
    const buffer = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await file.read(buffer, 0, HEADER_BYTES, 0);
    text = buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await file.close();
  }
  const counts = new Map(DELIMITERS.map((d) => [d, 1]));
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  return Math.max(...counts.values());
}

/** How deeply a DuckDB type nests structs, lists, maps and unions (quoted field names skipped). */
export function typeDepth(type: string): number {
  let depth = 0;
  let deepest = 0;
  let quoted = false;
  for (let i = 0; i < type.length; i++) {
    const ch = type[i];
    if (ch === '"') quoted = !quoted;
    if (quoted) continue;
    if (ch === "(") deepest = Math.max(deepest, ++depth);
    else if (ch === ")") depth--;
    else if (ch === "[" && type[i + 1] === "]") deepest = Math.max(deepest, depth + trailingLists(type, i));
  }
  return deepest;
}

/** `T[][]` at `i`: the number of `[]` in a row (a list of lists nests once more per pair). */
function trailingLists(type: string, i: number): number {
  let n = 0;
  while (type.startsWith("[]", i + 2 * n)) n++;
  return n;
}

/** Throws DATASET_TOO_WIDE for a CSV whose first line has more fields than allowed, before DuckDB reads it. */
export async function checkFileWidth(path: string, format: DatasetFormat, limits: DatasetLimits): Promise<void> {
  if (format !== "csv") return;
  const width = await csvFirstLineWidth(path);
  if (width > limits.maxColumns) throw DatasetLimitErrors.DATASET_TOO_WIDE([width, limits.maxColumns]);
}

/** Throws DATASET_TOO_WIDE or DATASET_TOO_DEEP for a schema past the limits. */
export function checkSchema(columns: ColumnSchema[], limits: DatasetLimits): void {
  if (columns.length > limits.maxColumns) throw DatasetLimitErrors.DATASET_TOO_WIDE([columns.length, limits.maxColumns]);
  const deep = columns.find((c) => typeDepth(c.type) > limits.maxDepth);
  if (deep) throw DatasetLimitErrors.DATASET_TOO_DEEP([deep.name, limits.maxDepth]);
}

/** `work` under the time limit: an interrupted engine call becomes DATASET_TIMEOUT naming `what`. */
export async function withinTime<T>(what: string, limits: DatasetLimits, work: (timeoutMs: number) => Promise<T>): Promise<T> {
  try {
    return await work(limits.profileTimeoutS * 1000);
  } catch (error) {
    if (isEngineTimeout(error)) throw DatasetLimitErrors.DATASET_TIMEOUT([what, limits.profileTimeoutS]);
    throw error;
  }
}

/** DuckDB's `maximum_depth` for reading JSON: one level past the limit, so that a deeper column is seen (and refused) without inferring all of it. */
export const jsonReadDepth = (limits: Pick<DatasetLimits, "maxDepth">) => limits.maxDepth + 2;
