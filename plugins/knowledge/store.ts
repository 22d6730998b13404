/** Collections, documents and chunks in the plugin's tables (the source the search index is built from). */
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import { createError, defineErrors, pickTables, type PluginContext } from "gantry/plugin";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import type { knowledgeChunks, knowledgeCollections, knowledgeDocuments } from "./schema.ts";

export type CollectionRow = typeof knowledgeCollections.$inferSelect;
export type DocumentRow = typeof knowledgeDocuments.$inferSelect;
export type ChunkRow = typeof knowledgeChunks.$inferSelect;

export const KnowledgeErrors = defineErrors("knowledge", {
  KNOWLEDGE_COLLECTION_NOT_FOUND: createError("KNOWLEDGE_COLLECTION_NOT_FOUND", 404, (name: string) => `No knowledge collection '${name}'; list them at GET /api/v1/knowledge/collections`),
  KNOWLEDGE_COLLECTION_EXISTS: createError("KNOWLEDGE_COLLECTION_EXISTS", 409, (name: string) => `A knowledge collection named '${name}' exists`),
  KNOWLEDGE_DOCUMENT_NOT_FOUND: createError("KNOWLEDGE_DOCUMENT_NOT_FOUND", 404, (id: string) => `No document '${id}' in this collection`),
  KNOWLEDGE_DOCUMENT_TYPE_UNKNOWN: createError("KNOWLEDGE_DOCUMENT_TYPE_UNKNOWN", 400, (file: string) => `Cannot tell the type of '${file}': text (.txt), Markdown (.md), HTML (.html) or PDF (.pdf)`),
  KNOWLEDGE_DOCUMENT_UNREADABLE: createError("KNOWLEDGE_DOCUMENT_UNREADABLE", 400, (file: string, why: string) => `'${file}' could not be read: ${why}`),
  KNOWLEDGE_DOCUMENT_TOO_LARGE: createError("KNOWLEDGE_DOCUMENT_TOO_LARGE", 413, (file: string, size: number, limit: number) => `'${file}' is ${size} bytes; at most ${limit} (plugin.knowledge.max_upload_bytes)`),
  KNOWLEDGE_FOLDER_NOT_ALLOWED: createError("KNOWLEDGE_FOLDER_NOT_ALLOWED", 400, (path: string) => `'${path}' is not a folder under plugin.knowledge.roots`),
  KNOWLEDGE_EMBEDDING_FAILED: createError("KNOWLEDGE_EMBEDDING_FAILED", 502, (model: string, why: string) => `The embedding model '${model}' failed: ${why}`),
});

type Db = PluginContext["db"];
type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export class KnowledgeStore {
  readonly #t: typeof sqliteTables;

  constructor(private readonly db: Db) {
    this.#t = pickTables(db, { sqlite: sqliteTables, pg: pgTables });
  }

  /** Bumps the collection's revision inside `tx` (every chunk change does, in its own transaction); answers the new one. */
  async #bump(tx: Tx, collectionId: number): Promise<number> {
    const [row] = await tx.update(this.#t.knowledgeCollections).set({ revision: sql`${this.#t.knowledgeCollections.revision} + 1` }).where(eq(this.#t.knowledgeCollections.id, collectionId)).returning({ revision: this.#t.knowledgeCollections.revision });
    return row?.revision ?? 0;
  }

  collections(): Promise<CollectionRow[]> {
    return this.db.select().from(this.#t.knowledgeCollections).orderBy(asc(this.#t.knowledgeCollections.name));
  }

  async collection(name: string): Promise<CollectionRow> {
    const [row] = await this.db.select().from(this.#t.knowledgeCollections).where(eq(this.#t.knowledgeCollections.name, name));
    if (!row) throw KnowledgeErrors.KNOWLEDGE_COLLECTION_NOT_FOUND([name]);
    return row;
  }

  async createCollection(name: string, description: string | null, embeddingModel: string | null): Promise<CollectionRow> {
    const [taken] = await this.db.select({ id: this.#t.knowledgeCollections.id }).from(this.#t.knowledgeCollections).where(eq(this.#t.knowledgeCollections.name, name));
    if (taken) throw KnowledgeErrors.KNOWLEDGE_COLLECTION_EXISTS([name]);
    const [row] = await this.db.insert(this.#t.knowledgeCollections).values({ name, description, embeddingModel, createdAt: new Date() }).returning();
    return row!;
  }

  async setDimensions(id: number, dimensions: number): Promise<void> {
    await this.db.update(this.#t.knowledgeCollections).set({ dimensions }).where(eq(this.#t.knowledgeCollections.id, id));
  }

  /** Removes the collection, its documents and chunks in one transaction (other nodes' indexes notice it gone). */
  async deleteCollection(id: number): Promise<void> {
    const t = this.#t;
    await this.db.transaction(async (tx) => {
      await tx.delete(t.knowledgeChunks).where(eq(t.knowledgeChunks.collectionId, id));
      await tx.delete(t.knowledgeDocuments).where(eq(t.knowledgeDocuments.collectionId, id));
      await tx.delete(t.knowledgeCollections).where(eq(t.knowledgeCollections.id, id));
    });
  }

  documents(collectionId: number): Promise<DocumentRow[]> {
    return this.db.select().from(this.#t.knowledgeDocuments).where(eq(this.#t.knowledgeDocuments.collectionId, collectionId)).orderBy(asc(this.#t.knowledgeDocuments.source));
  }

  async documentBySource(collectionId: number, source: string): Promise<DocumentRow | undefined> {
    const [row] = await this.db.select().from(this.#t.knowledgeDocuments).where(and(eq(this.#t.knowledgeDocuments.collectionId, collectionId), eq(this.#t.knowledgeDocuments.source, source)));
    return row;
  }

  async document(collectionId: number, id: string): Promise<DocumentRow> {
    const [row] = await this.db.select().from(this.#t.knowledgeDocuments).where(and(eq(this.#t.knowledgeDocuments.collectionId, collectionId), eq(this.#t.knowledgeDocuments.id, id)));
    if (!row) throw KnowledgeErrors.KNOWLEDGE_DOCUMENT_NOT_FOUND([id]);
    return row;
  }

  /** Removes a document and its chunks and bumps the collection's revision, in one transaction. */
  deleteDocument(collectionId: number, id: string): Promise<{ removed: number[]; revision: number }> {
    return this.db.transaction(async (tx) => {
      const removed = await this.#removeDocument(tx, id);
      return { removed, revision: await this.#bump(tx, collectionId) };
    });
  }

  async #removeDocument(tx: Tx, id: string): Promise<number[]> {
    const t = this.#t;
    const ids = (await tx.delete(t.knowledgeChunks).where(eq(t.knowledgeChunks.documentId, id)).returning({ id: t.knowledgeChunks.id })).map((r) => r.id);
    await tx.delete(t.knowledgeDocuments).where(eq(t.knowledgeDocuments.id, id));
    return ids;
  }

  /**
   * Stores a document with its chunks, replacing `replacing` (a previous version's id) when given,
   * and bumps the collection's revision, in one transaction: answers the new chunks, the chunk ids removed and the revision.
   */
  insertDocument(doc: DocumentRow, chunks: Omit<ChunkRow, "id">[], replacing?: string): Promise<{ rows: ChunkRow[]; removed: number[]; revision: number }> {
    const t = this.#t;
    return this.db.transaction(async (tx) => {
      const removed = replacing ? await this.#removeDocument(tx, replacing) : [];
      await tx.insert(t.knowledgeDocuments).values(doc);
      const rows: ChunkRow[] = [];
      for (let i = 0; i < chunks.length; i += 200) rows.push(...(await tx.insert(t.knowledgeChunks).values(chunks.slice(i, i + 200)).returning()));
      return { rows, removed, revision: await this.#bump(tx, doc.collectionId) };
    });
  }

  async collectionById(id: number): Promise<CollectionRow | undefined> {
    const [row] = await this.db.select().from(this.#t.knowledgeCollections).where(eq(this.#t.knowledgeCollections.id, id));
    return row;
  }

  /** The ids of a collection's chunks, in order. */
  async chunkIds(collectionId: number): Promise<number[]> {
    const t = this.#t;
    return (await this.db.select({ id: t.knowledgeChunks.id }).from(t.knowledgeChunks).where(eq(t.knowledgeChunks.collectionId, collectionId)).orderBy(asc(t.knowledgeChunks.id))).map((r) => r.id);
  }

  chunksById(ids: number[]): Promise<ChunkRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.select().from(this.#t.knowledgeChunks).where(inArray(this.#t.knowledgeChunks.id, ids)).orderBy(asc(this.#t.knowledgeChunks.id));
  }

  /** A collection's chunks in id order, a page at a time (for rebuilding the index). */
  chunksAfter(collectionId: number, afterId: number, limit: number): Promise<ChunkRow[]> {
    return this.db.select().from(this.#t.knowledgeChunks).where(and(eq(this.#t.knowledgeChunks.collectionId, collectionId), gt(this.#t.knowledgeChunks.id, afterId))).orderBy(asc(this.#t.knowledgeChunks.id)).limit(limit);
  }

  chunks(ids: number[]): Promise<(ChunkRow & { source: string; metadata: Record<string, string | number | boolean> })[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.select({
      id: this.#t.knowledgeChunks.id, documentId: this.#t.knowledgeChunks.documentId, collectionId: this.#t.knowledgeChunks.collectionId, position: this.#t.knowledgeChunks.position,
      start: this.#t.knowledgeChunks.start, end: this.#t.knowledgeChunks.end, text: this.#t.knowledgeChunks.text, embedding: this.#t.knowledgeChunks.embedding,
      source: this.#t.knowledgeDocuments.source, metadata: this.#t.knowledgeDocuments.metadata,
    }).from(this.#t.knowledgeChunks).innerJoin(this.#t.knowledgeDocuments, eq(this.#t.knowledgeDocuments.id, this.#t.knowledgeChunks.documentId)).where(inArray(this.#t.knowledgeChunks.id, ids));
  }
}
