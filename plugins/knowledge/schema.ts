import { blob, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** A collection of documents; its embedding model (an instance name) is fixed when it is created. */
export const knowledgeCollections = sqliteTable("knowledge_collections", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  description: text("description"),
  /** null: full-text search only. */
  embeddingModel: text("embedding_model"),
  /** Learned from the model's first answer. */
  dimensions: integer("dimensions"),
  /** Bumped in the transaction of every change to the collection's chunks: each node's index compares it with the one it reflects. */
  revision: integer("revision").notNull().default(0),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
});

/** A document: one source (a file name or path) within a collection; re-ingesting it replaces its chunks. */
export const knowledgeDocuments = sqliteTable("knowledge_documents", {
  id: text("id").primaryKey(),
  collectionId: integer("collection_id").notNull(),
  source: text("source").notNull(),
  contentType: text("content_type", { enum: ["text", "markdown", "html", "pdf"] }).notNull(),
  sha256: text("sha256").notNull(),
  sizeBytes: integer("size_bytes").notNull(),
  metadata: text("metadata", { mode: "json" }).$type<Record<string, string | number | boolean>>().notNull(),
  chunks: integer("chunks").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
}, (t) => [uniqueIndex("knowledge_documents_source").on(t.collectionId, t.source)]);

/** A chunk of a document's text with its place in it and its embedding (the search index is rebuilt from these). */
export const knowledgeChunks = sqliteTable("knowledge_chunks", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  documentId: text("document_id").notNull(),
  collectionId: integer("collection_id").notNull(),
  position: integer("position").notNull(),
  start: integer("start").notNull(),
  end: integer("end").notNull(),
  text: text("text").notNull(),
  /** float32 little-endian; null when the collection has no embedding model. */
  embedding: blob("embedding", { mode: "buffer" }),
}, (t) => [index("knowledge_chunks_document").on(t.documentId), index("knowledge_chunks_collection").on(t.collectionId, t.id)]);
