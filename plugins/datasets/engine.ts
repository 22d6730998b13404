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

/**
 * The table function that reads a file of `format`. JSON types are inferred `jsonDepth` levels deep
 * (deeper values read as JSON text): every read of one file must pass the same depth to see one schema.
 */
export function source(path: string, format: DatasetFormat, jsonDepth: number): string {
  if (format === "csv") return `read_csv(${literal(path)}, auto_detect = true)`;
  if (format === "jsonl") return `read_json(${literal(path)}, format = 'newline_delimited', maximum_depth = ${Math.floor(jsonDepth)})`;
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

  /**
   * Runs `work` on a connection of its own (statements of one call share temp tables). With
   * `timeoutMs`, the statement running then is interrupted and the call rejects with EngineTimeout.
   */
  session<T>(work: (query: (sql: string) => Promise<JsonRow[]>) => Promise<T>, timeoutMs?: number): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the dataset engine is closed"));
    const run = (async () => {
      const connection = await (await this.#open()).connect();
      let timedOut = false;
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        timedOut = true;
        connection.interrupt();
      }, timeoutMs);
      const query = async (sql: string) => {
        if (timedOut) throw new EngineTimeout();
        return (await connection.runAndReadAll(sql)).getRowObjectsJson() as JsonRow[];
      };
      try {
        return await work(query);
      } catch (error) {
        throw timedOut ? new EngineTimeout() : error;
      } finally {
        clearTimeout(timer);
        connection.closeSync();
      }
    })();
    this.#inFlight.add(run);
    void run.catch(() => {}).finally(() => this.#inFlight.delete(run));
    return run;
  }

  query(sql: string, timeoutMs?: number): Promise<JsonRow[]> {
    return this.session((query) => query(sql), timeoutMs);
  }

  /** Waits for queries in flight, then frees the engine. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    if (this.#instance) (await this.#instance.catch(() => undefined))?.closeSync();
  }
}

/** A session ran past its time and was interrupted. */
export class EngineTimeout extends Error {
  override readonly name = "EngineTimeout";
  constructor() {
    super("the engine was interrupted: time is up");
  }
}

/** By name, not instanceof: the engine outlives a plugin reload, which brings a new copy of this module. */
export const isEngineTimeout = (error: unknown) => error instanceof Error && error.name === "EngineTimeout";

/** The first line of an engine error (DuckDB appends hints and the failing SQL after it). */
export function engineMessage(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0]!.slice(0, 500);
}
