CREATE TABLE "knowledge_chunks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"document_id" text NOT NULL,
	"collection_id" bigint NOT NULL,
	"position" bigint NOT NULL,
	"start" bigint NOT NULL,
	"end" bigint NOT NULL,
	"text" text NOT NULL,
	"embedding" "bytea"
);
--> statement-breakpoint
CREATE TABLE "knowledge_collections" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"embedding_model" text,
	"dimensions" bigint,
	"revision" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "knowledge_collections_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "knowledge_documents" (
	"id" text PRIMARY KEY NOT NULL,
	"collection_id" bigint NOT NULL,
	"source" text NOT NULL,
	"content_type" text NOT NULL,
	"sha256" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"metadata" jsonb NOT NULL,
	"chunks" bigint NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "knowledge_chunks_document" ON "knowledge_chunks" USING btree ("document_id");--> statement-breakpoint
CREATE INDEX "knowledge_chunks_collection" ON "knowledge_chunks" USING btree ("collection_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "knowledge_documents_source" ON "knowledge_documents" USING btree ("collection_id","source");