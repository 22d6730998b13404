/** Collections, documents and chunks in the plugin's tables (the source the search index is built from). */
import { and, asc, count, eq, gt, inArray } from "drizzle-orm";
import { createError, defineErrors, type PluginContext } from "gantry/plugin";
import { knowledgeChunks, knowledgeCollections, knowledgeDocuments } from "./schema.ts";

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

export class KnowledgeStore {
  constructor(private readonly db: PluginContext["db"]) {}

  collections(): Promise<CollectionRow[]> {
    return this.db.select().from(knowledgeCollections).orderBy(asc(knowledgeCollections.name));
  }

  async collection(name: string): Promise<CollectionRow> {
    const [row] = await this.db.select().from(knowledgeCollections).where(eq(knowledgeCollections.name, name));
    if (!row) throw KnowledgeErrors.KNOWLEDGE_COLLECTION_NOT_FOUND([name]);
    return row;
  }

  async createCollection(name: string, description: string | null, embeddingModel: string | null): Promise<CollectionRow> {
    const [taken] = await this.db.select({ id: knowledgeCollections.id }).from(knowledgeCollections).where(eq(knowledgeCollections.name, name));
    if (taken) throw KnowledgeErrors.KNOWLEDGE_COLLECTION_EXISTS([name]);
    const [row] = await this.db.insert(knowledgeCollections).values({ name, description, embeddingModel, createdAt: new Date() }).returning();
    return row!;
  }

  async setDimensions(id: number, dimensions: number): Promise<void> {
    await this.db.update(knowledgeCollections).set({ dimensions }).where(eq(knowledgeCollections.id, id));
  }

  async deleteCollection(id: number): Promise<void> {
    await this.db.delete(knowledgeChunks).where(eq(knowledgeChunks.collectionId, id));
    await this.db.delete(knowledgeDocuments).where(eq(knowledgeDocuments.collectionId, id));
    await this.db.delete(knowledgeCollections).where(eq(knowledgeCollections.id, id));
  }

  documents(collectionId: number): Promise<DocumentRow[]> {
    return this.db.select().from(knowledgeDocuments).where(eq(knowledgeDocuments.collectionId, collectionId)).orderBy(asc(knowledgeDocuments.source));
  }

  async documentBySource(collectionId: number, source: string): Promise<DocumentRow | undefined> {
    const [row] = await this.db.select().from(knowledgeDocuments).where(and(eq(knowledgeDocuments.collectionId, collectionId), eq(knowledgeDocuments.source, source)));
    return row;
  }

  async document(collectionId: number, id: string): Promise<DocumentRow> {
    const [row] = await this.db.select().from(knowledgeDocuments).where(and(eq(knowledgeDocuments.collectionId, collectionId), eq(knowledgeDocuments.id, id)));
    if (!row) throw KnowledgeErrors.KNOWLEDGE_DOCUMENT_NOT_FOUND([id]);
    return row;
  }

  /** Removes a document and its chunks; answers the chunk ids that were removed. */
  async deleteDocument(id: string): Promise<number[]> {
    const ids = (await this.db.delete(knowledgeChunks).where(eq(knowledgeChunks.documentId, id)).returning({ id: knowledgeChunks.id })).map((r) => r.id);
    await this.db.delete(knowledgeDocuments).where(eq(knowledgeDocuments.id, id));
    return ids;
  }

  async insertDocument(doc: DocumentRow, chunks: Omit<ChunkRow, "id">[]): Promise<ChunkRow[]> {
    await this.db.insert(knowledgeDocuments).values(doc);
    const rows: ChunkRow[] = [];
    for (let i = 0; i < chunks.length; i += 200) rows.push(...(await this.db.insert(knowledgeChunks).values(chunks.slice(i, i + 200)).returning()));
    return rows;
  }

  async chunkCount(collectionId: number): Promise<number> {
    const [row] = await this.db.select({ n: count() }).from(knowledgeChunks).where(eq(knowledgeChunks.collectionId, collectionId));
    return row?.n ?? 0;
  }

  /** A collection's chunks in id order, a page at a time (for rebuilding the index). */
  chunksAfter(collectionId: number, afterId: number, limit: number): Promise<ChunkRow[]> {
    return this.db.select().from(knowledgeChunks).where(and(eq(knowledgeChunks.collectionId, collectionId), gt(knowledgeChunks.id, afterId))).orderBy(asc(knowledgeChunks.id)).limit(limit);
  }

  chunks(ids: number[]): Promise<(ChunkRow & { source: string; metadata: Record<string, string | number | boolean> })[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.select({
      id: knowledgeChunks.id, documentId: knowledgeChunks.documentId, collectionId: knowledgeChunks.collectionId, position: knowledgeChunks.position,
      start: knowledgeChunks.start, end: knowledgeChunks.end, text: knowledgeChunks.text, embedding: knowledgeChunks.embedding,
      source: knowledgeDocuments.source, metadata: knowledgeDocuments.metadata,
    }).from(knowledgeChunks).innerJoin(knowledgeDocuments, eq(knowledgeDocuments.id, knowledgeChunks.documentId)).where(inArray(knowledgeChunks.id, ids));
  }
}
