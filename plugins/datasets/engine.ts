/**
 * The analytical engine behind datasets: an in-process DuckDB that reads CSV, JSONL and Parquet
 * files where they lie. Only paths gantry chose (a root's files, its own uploads) reach SQL.
 */
import type { DuckDBInstance } from "@duckdb/node-api";

export type DatasetFormat = "csv" | "jsonl" | "parquet";
export type JsonRow = Record<string, unknown>;

/** A SQL string literal. */
export const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;
/** A SQL identifier. */
export const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The table function that reads a file of `format`. */
export function source(path: string, format: DatasetFormat): string {
  if (format === "csv") return `read_csv(${literal(path)}, auto_detect = true)`;
  if (format === "jsonl") return `read_json(${literal(path)}, format = 'newline_delimited')`;
  return `read_parquet(${literal(path)})`;
}

export interface EngineOptions {
  threads: number;
  memoryLimit: string;
  tempDir: string;
}

/** DuckDB, loaded and started on first use (its native library costs about a second at startup otherwise). */
export class DatasetEngine {
  #inFlight = new Set<Promise<unknown>>();
  #closed = false;
  #instance: Promise<DuckDBInstance> | undefined;

  constructor(private readonly options: EngineOptions) {}

  #open(): Promise<DuckDBInstance> {
    this.#instance ??= import("@duckdb/node-api").then(({ DuckDBInstance }) => DuckDBInstance.create(":memory:", {
      threads: String(this.options.threads), memory_limit: this.options.memoryLimit, temp_directory: this.options.tempDir,
    }));
    return this.#instance;
  }

  /** Runs `work` on a connection of its own (statements of one call share temp tables). */
  session<T>(work: (query: (sql: string) => Promise<JsonRow[]>) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the dataset engine is closed"));
    const run = (async () => {
      const connection = await (await this.#open()).connect();
      try {
        return await work(async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJson() as JsonRow[]);
      } finally {
        connection.closeSync();
      }
    })();
    this.#inFlight.add(run);
    void run.catch(() => {}).finally(() => this.#inFlight.delete(run));
    return run;
  }

  query(sql: string): Promise<JsonRow[]> {
    return this.session((query) => query(sql));
  }

  /** Waits for queries in flight, then frees the engine. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    if (this.#instance) (await this.#instance.catch(() => undefined))?.closeSync();
  }
}

/** The first line of an engine error (DuckDB appends hints and the failing SQL after it). */
export function engineMessage(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0]!.slice(0, 500);
}
