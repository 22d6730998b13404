/**
 * The dataset catalog: files under the configured roots are registered (and re-read when their size
 * or mtime changes, dropped when they go away); uploads are written into the plugin's data folder.
 * Each registration records format, size, rows, schema and the SHA-256 of the bytes.
 */
import { createHash } from "node:crypto";
import { createReadStream, renameSync, rmSync, statSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import { eq } from "drizzle-orm";
import { createError, defineErrors, GantryError, pickTables, receiveUpload, type PluginContext, type RefusedEntry } from "gantry/plugin";
import { engineMessage, source, type DatasetEngine, type DatasetFormat } from "./engine.ts";
import { checkFileWidth, checkSchema, jsonReadDepth, withinTime, type DatasetLimits } from "./limits.ts";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import type { datasets, ColumnSchema } from "./schema.ts";

export type DatasetRow = typeof datasets.$inferSelect;

export const DatasetErrors = defineErrors("datasets", {
  DATASET_NOT_FOUND: createError("DATASET_NOT_FOUND", 404, (name: string) => `No dataset '${name}'; list them at GET /api/v1/datasets`),
  DATASET_EXISTS: createError("DATASET_EXISTS", 409, (name: string) => `A dataset named '${name}' exists; delete it first or pick another name`),
  DATASET_READ_ONLY: createError("DATASET_READ_ONLY", 409, (name: string, path: string) => `Dataset '${name}' is the file ${path} under a configured root; remove the file there to drop it`),
  DATASET_FORMAT_UNKNOWN: createError("DATASET_FORMAT_UNKNOWN", 400, (file: string) => `Cannot tell the format of '${file}': name it .csv, .jsonl (or .ndjson) or .parquet, or pass format`),
  DATASET_UNREADABLE: createError("DATASET_UNREADABLE", 400, (why: string) => `The file could not be read as the given format: ${why}`),
  DATASET_TOO_LARGE: createError("DATASET_TOO_LARGE", 413, (size: number, limit: number) => `The upload was stopped at ${size} bytes; at most ${limit} (plugin.datasets.max_upload_bytes)`),
  DATASET_UPLOAD_INVALID: createError("DATASET_UPLOAD_INVALID", 400, (why: string) => `Invalid upload: ${why}`),
});

const FORMATS = new Set<string>(["csv", "jsonl", "parquet"]);
const EXTENSIONS: Record<string, DatasetFormat> = { ".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet" };
export const NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";
const NAME = new RegExp(NAME_PATTERN);

export function formatOf(fileName: string): DatasetFormat | undefined {
  return EXTENSIONS[extname(fileName).toLowerCase()];
}

const ROOTS = "plugin.datasets.roots";

/** The SHA-256 of a file; `fd` when the file was opened through the path guard (closed when read). */
async function sha256Of(path: string, fd?: number): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of fd === undefined ? createReadStream(path) : createReadStream("", { fd })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** A file under a root: `path` as listed (the row's key), `real` what it resolves to inside the root. */
interface RootFile {
  root: string;
  path: string;
  real: string;
  name: string;
  format: DatasetFormat;
}

export class DatasetCatalog {
  #scanning: Promise<void> | undefined;
  /** Entries of the roots the last scan refused (links leading out of their root or into the data dir). */
  #skipped: (RefusedEntry & { root: string })[] = [];
  readonly #warned = new Set<string>();
  readonly #t: typeof sqliteTables;

  constructor(
    private readonly db: PluginContext["db"],
    private readonly engine: DatasetEngine,
    private readonly settings: () => { roots: string[]; uploadDir: string; limits: DatasetLimits },
    private readonly log: PluginContext["log"],
    private readonly paths: PluginContext["paths"],
  ) {
    this.#t = pickTables(db, { sqlite: sqliteTables, pg: pgTables });
  }

  async list(): Promise<DatasetRow[]> {
    await this.scan();
    return this.db.select().from(this.#t.datasets).orderBy(this.#t.datasets.name);
  }

  /** What the last scan left out of the roots, and why. */
  skipped(): (RefusedEntry & { root: string })[] {
    return this.#skipped;
  }

  /** One dataset; a root file's `path` is its real path, checked again against the roots (it may have changed since the scan). */
  async get(name: string): Promise<DatasetRow> {
    await this.scan();
    const [row] = await this.db.select().from(this.#t.datasets).where(eq(this.#t.datasets.name, name));
    if (!row) throw DatasetErrors.DATASET_NOT_FOUND([name]);
    if (row.source !== "root") return row;
    return { ...row, path: this.paths.resolve(this.settings().roots, row.path, { where: ROOTS }).real };
  }

  /** Reads `path` with the engine: its schema and row count; DATASET_UNREADABLE, or a 422 past the limits. */
  async inspect(path: string, format: DatasetFormat): Promise<{ columns: ColumnSchema[]; rows: number }> {
    const limits = this.settings().limits;
    await checkFileWidth(path, format, limits);
    const from = source(path, format, jsonReadDepth(limits));
    const read = (sql: string) => withinTime("Reading the file", limits, (timeoutMs) => this.engine.query(sql, timeoutMs)).catch((error) => {
      throw error instanceof GantryError ? error : DatasetErrors.DATASET_UNREADABLE([engineMessage(error)]);
    });
    const columns = (await read(`DESCRIBE SELECT * FROM ${from}`)).map((d) => ({ name: String(d.column_name), type: String(d.column_type) }));
    checkSchema(columns, limits);
    const [counted] = await read(`SELECT count(*) AS n FROM ${from}`);
    return { columns, rows: Number(counted!.n) };
  }

  /**
   * Stores the multipart upload of `request` (fields `name`, `file`, `format?`) as a dataset once the
   * engine can read it. The file is streamed into the uploads folder as it arrives (refused past
   * `maxBytes` while it streams) and renamed into place only when it is registered; on any failure it is removed.
   */
  async upload(request: Request, maxBytes: number): Promise<DatasetRow> {
    const { uploadDir } = this.settings();
    const { fields, file } = await receiveUpload(request, {
      dir: uploadDir, fileField: "file", maxFileBytes: maxBytes, tooLarge: (size) => DatasetErrors.DATASET_TOO_LARGE([size, maxBytes]),
    });
    try {
      const name = fields.name ?? "";
      if (!NAME.test(name)) throw DatasetErrors.DATASET_UPLOAD_INVALID([`'name' must be letters, digits, '.', '_', '-' (at most 128), got ${JSON.stringify(name.slice(0, 140))}`]);
      if (!file) throw DatasetErrors.DATASET_UPLOAD_INVALID(["the form has no 'file' part with a file name"]);
      const format = fields.format;
      if (format !== undefined && !FORMATS.has(format)) throw DatasetErrors.DATASET_UPLOAD_INVALID(["'format' must be csv, jsonl or parquet"]);
      const fmt = (format as DatasetFormat | undefined) ?? formatOf(file.fileName);
      if (!fmt) throw DatasetErrors.DATASET_FORMAT_UNKNOWN([file.fileName || name]);
      await this.scan();
      const { columns, rows } = await this.inspect(file.path, fmt);
      const final = join(uploadDir, `${name}.${fmt}`);
      const now = new Date();
      const row: DatasetRow = {
        name, format: fmt, source: "upload", path: final, sizeBytes: file.size, rows, columns, sha256: file.sha256,
        mtimeMs: Math.floor(statSync(file.path).mtimeMs), createdAt: now, updatedAt: now,
      };
      // The insert claims the name (primary key): of two uploads of one name, one wins and the other is told.
      const [claimed] = await this.db.insert(this.#t.datasets).values(row).onConflictDoNothing().returning({ name: this.#t.datasets.name });
      if (!claimed) throw DatasetErrors.DATASET_EXISTS([name]);
      renameSync(file.path, final);
      return row;
    } finally {
      if (file) rmSync(file.path, { force: true });
    }
  }

  async remove(name: string): Promise<void> {
    const row = await this.get(name);
    if (row.source === "root") throw DatasetErrors.DATASET_READ_ONLY([name, row.path]);
    await this.db.delete(this.#t.datasets).where(eq(this.#t.datasets.name, name));
    rmSync(row.path, { force: true });
  }

  /** Brings root this.#t.datasets in line with the files on disk (one scan at a time; callers share it). */
  scan(): Promise<void> {
    this.#scanning ??= this.#scan().finally(() => (this.#scanning = undefined));
    return this.#scanning;
  }

  async #scan(): Promise<void> {
    const known = new Map((await this.db.select().from(this.#t.datasets).where(eq(this.#t.datasets.source, "root"))).map((r) => [r.path, r]));
    const taken = new Set((await this.db.select({ name: this.#t.datasets.name }).from(this.#t.datasets)).map((r) => r.name));
    const seen = new Set<string>();
    for (const { root, path, real, name, format } of this.#rootFiles()) {
      seen.add(path);
      const stat = statSync(real, { throwIfNoEntry: false });
      if (!stat) continue;
      const previous = known.get(path);
      if (previous && previous.sizeBytes === stat.size && previous.mtimeMs === Math.floor(stat.mtimeMs)) continue;
      if (!previous && taken.has(name)) {
        this.log.warn({ path, name }, "dataset file skipped: its name is taken by another dataset");
        continue;
      }
      try {
        const { columns, rows } = await this.inspect(real, format);
        const now = new Date();
        const sha256 = await sha256Of(real, this.paths.openInside(root, real, ROOTS));
        const values = { format, sizeBytes: stat.size, rows, columns, sha256, mtimeMs: Math.floor(stat.mtimeMs), updatedAt: now };
        if (previous) await this.db.update(this.#t.datasets).set(values).where(eq(this.#t.datasets.name, previous.name));
        else await this.db.insert(this.#t.datasets).values({ name, source: "root", path, createdAt: now, ...values });
        taken.add(name);
      } catch (error) {
        this.log.warn({ path, error: (error as Error).message }, "dataset file skipped: unreadable");
      }
    }
    for (const [path, row] of known) if (!seen.has(path)) await this.db.delete(this.#t.datasets).where(eq(this.#t.datasets.name, row.name));
  }

  /** Dataset files under the roots; `sub/x.csv` is named `sub.x`. Links leaving their root are refused, reported once in the log. */
  #rootFiles(): RootFile[] {
    const files: RootFile[] = [];
    const skipped: (RefusedEntry & { root: string })[] = [];
    for (const root of this.settings().roots.map((r) => resolve(r))) {
      const walked = this.paths.walk(root, { wants: (path) => formatOf(path) !== undefined });
      for (const refused of walked.refused) {
        skipped.push({ root, ...refused });
        const key = `${root}\0${refused.path}\0${refused.reason}`;
        if (!this.#warned.has(key)) this.log.warn({ root, ...refused }, "dataset root entry refused: it leads outside its root or into gantry's data dir");
        this.#warned.add(key);
      }
      const rootReal = this.paths.real(root);
      for (const file of walked.files) {
        const name = file.path.slice(0, -extname(file.path).length).split("/").join(".");
        if (NAME.test(name)) files.push({ root: rootReal, path: join(root, file.path), real: file.real, name, format: formatOf(file.path)! });
      }
    }
    this.#skipped = skipped;
    return files;
  }
}
