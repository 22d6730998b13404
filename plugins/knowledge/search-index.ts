/**
 * The search index, derived from the stored chunks and rebuilt from them when it is missing or
 * behind: a SQLite file of the plugin's own with, per collection, a sqlite-vec `vec0` table (exact
 * cosine k-nearest neighbours) and an FTS5 table (BM25). Kept apart from gantry's database so the
 * same index serves whichever database (SQLite or PostgreSQL) holds the chunks.
 */
import { packageFile, runtime, type SqliteDatabase } from "gantry/plugin";
import * as sqliteVec from "sqlite-vec";

export interface IndexedChunk {
  id: number;
  text: string;
  embedding: Float32Array | null;
}

const vecTable = (collection: number) => `vec_c${collection}`;
const ftsTable = (collection: number) => `fts_c${collection}`;

/** An FTS5 query that matches any of the words (each quoted, so no word is read as an operator). */
export function anyWordQuery(text: string): string | undefined {
  const words = [...new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])].slice(0, 64);
  return words.length === 0 ? undefined : words.map((w) => `"${w}"`).join(" OR ");
}

export class SearchIndex {
  readonly #db: SqliteDatabase;

  constructor(path: string) {
    this.#db = runtime.openSqlite(path, { extensions: true });
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = NORMAL");
    this.#db.loadExtension(sqliteVecPath());
    this.#db.exec("CREATE TABLE IF NOT EXISTS revisions (collection INTEGER PRIMARY KEY, revision INTEGER NOT NULL)");
  }

  /** The collection revision the index reflects; undefined when it has never been built here. */
  revision(collection: number): number | undefined {
    return (this.#db.query("SELECT revision FROM revisions WHERE collection = ?").get(collection) as { revision: number } | null)?.revision;
  }

  setRevision(collection: number, revision: number): void {
    this.#db.query("INSERT INTO revisions (collection, revision) VALUES (?, ?) ON CONFLICT (collection) DO UPDATE SET revision = excluded.revision").run(collection, revision);
  }

  /** The collections the index holds. */
  collections(): number[] {
    return (this.#db.query("SELECT collection FROM revisions").all() as { collection: number }[]).map((r) => r.collection);
  }

  #exists(table: string): boolean {
    return this.#db.query("SELECT 1 FROM sqlite_master WHERE name = ?").get(table) !== null;
  }

  /** Creates the collection's tables (the vector table once its dimensions are known). */
  ensure(collection: number, dimensions: number | null): void {
    this.#db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${ftsTable(collection)} USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')`);
    if (dimensions) this.#db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${vecTable(collection)} USING vec0(chunk_id INTEGER PRIMARY KEY, embedding float[${dimensions}] distance_metric=cosine)`);
  }

  add(collection: number, chunks: IndexedChunk[]): void {
    const fts = this.#db.prepare(`INSERT INTO ${ftsTable(collection)} (rowid, text) VALUES (?, ?)`);
    const vec = this.#exists(vecTable(collection)) ? this.#db.prepare(`INSERT INTO ${vecTable(collection)} (chunk_id, embedding) VALUES (?, ?)`) : undefined;
    this.#db.transaction(() => {
      for (const chunk of chunks) {
        fts.run(chunk.id, chunk.text);
        if (vec && chunk.embedding) vec.run(BigInt(chunk.id), chunk.embedding);
      }
    })();
  }

  remove(collection: number, ids: number[]): void {
    const hasVec = this.#exists(vecTable(collection));
    this.#db.transaction(() => {
      for (let i = 0; i < ids.length; i += 500) {
        const part = ids.slice(i, i + 500);
        const marks = part.map(() => "?").join(",");
        this.#db.prepare(`DELETE FROM ${ftsTable(collection)} WHERE rowid IN (${marks})`).run(...part);
        if (hasVec) this.#db.prepare(`DELETE FROM ${vecTable(collection)} WHERE chunk_id IN (${marks})`).run(...part);
      }
    })();
  }

  drop(collection: number): void {
    this.#db.exec(`DROP TABLE IF EXISTS ${ftsTable(collection)}`);
    this.#db.exec(`DROP TABLE IF EXISTS ${vecTable(collection)}`);
    this.#db.query("DELETE FROM revisions WHERE collection = ?").run(collection);
  }

  /** The ids of the chunks indexed for the collection (every chunk is in its full-text table). */
  ids(collection: number): number[] {
    if (!this.#exists(ftsTable(collection))) return [];
    return (this.#db.query(`SELECT rowid AS id FROM ${ftsTable(collection)}`).all() as { id: number }[]).map((r) => r.id);
  }

  /** Best BM25 matches of any query word; higher is better. */
  lexical(collection: number, query: string, k: number): { id: number; score: number }[] {
    const match = anyWordQuery(query);
    if (!match || !this.#exists(ftsTable(collection))) return [];
    const table = ftsTable(collection);
    const rows = this.#db.query(`SELECT rowid AS id, bm25(${table}) AS s FROM ${table} WHERE ${table} MATCH ? ORDER BY s LIMIT ?`).all(match, k) as { id: number; s: number }[];
    return rows.map((r) => ({ id: r.id, score: -r.s }));
  }

  /** The k nearest chunks by cosine distance (exact: vec0 scans every vector). */
  vector(collection: number, embedding: Float32Array, k: number): { id: number; distance: number }[] {
    if (!this.#exists(vecTable(collection))) return [];
    const rows = this.#db.query(`SELECT chunk_id AS id, distance FROM ${vecTable(collection)} WHERE embedding MATCH ? AND k = ? ORDER BY distance`).all(embedding, k) as { id: number; distance: number }[];
    return rows.map((r) => ({ id: Number(r.id), distance: r.distance }));
  }

  close(): void {
    this.#db.close();
  }
}

/** sqlite-vec's loadable file: from its npm package, or the copy a single binary unpacked next to gantry's files. */
function sqliteVecPath(): string {
  try {
    return sqliteVec.getLoadablePath();
  } catch {
    return packageFile(`sqlite-vec-${process.platform}-${process.arch}`, "vec0.so");
  }
}
