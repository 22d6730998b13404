/** The PostgreSQL twin of schema.ts (same tables, columns, row types and indexes: a test compares them). */
import { bigint, bigserial, customType, index, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/** Milliseconds, as the SQLite twin's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

/** Raw bytes (drizzle's pg-core has no bytea builder): a Buffer both ways, as the SQLite twin's blob. */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => "bytea" });

/** A collection of documents; its embedding model (an instance name) is fixed when it is created. */
export const knowledgeCollections = pgTable("knowledge_collections", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  name: text("name").notNull().unique(),
  description: text("description"),
  /** null: full-text search only. */
  embeddingModel: text("embedding_model"),
  /** Learned from the model's first answer. */
  dimensions: bigint("dimensions", { mode: "number" }),
  /** Bumped in the transaction of every change to the collection's chunks: each node's index compares it with the one it reflects. */
  revision: bigint("revision", { mode: "number" }).notNull().default(0),
  createdAt: ms("created_at").notNull(),
});

/** A document: one source (a file name or path) within a collection; re-ingesting it replaces its chunks. */
export const knowledgeDocuments = pgTable("knowledge_documents", {
  id: text("id").primaryKey(),
  collectionId: bigint("collection_id", { mode: "number" }).notNull(),
  source: text("source").notNull(),
  contentType: text("content_type", { enum: ["text", "markdown", "html", "pdf"] }).notNull(),
  sha256: text("sha256").notNull(),
  sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
  metadata: jsonb("metadata").$type<Record<string, string | number | boolean>>().notNull(),
  chunks: bigint("chunks", { mode: "number" }).notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
}, (t) => [uniqueIndex("knowledge_documents_source").on(t.collectionId, t.source)]);

/** A chunk of a document's text with its place in it and its embedding (the search index is rebuilt from these). */
export const knowledgeChunks = pgTable("knowledge_chunks", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  documentId: text("document_id").notNull(),
  collectionId: bigint("collection_id", { mode: "number" }).notNull(),
  position: bigint("position", { mode: "number" }).notNull(),
  start: bigint("start", { mode: "number" }).notNull(),
  end: bigint("end", { mode: "number" }).notNull(),
  text: text("text").notNull(),
  /** float32 little-endian; null when the collection has no embedding model. */
  embedding: bytea("embedding"),
}, (t) => [index("knowledge_chunks_document").on(t.documentId), index("knowledge_chunks_collection").on(t.collectionId, t.id)]);
