CREATE TABLE `knowledge_chunks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`document_id` text NOT NULL,
	`collection_id` integer NOT NULL,
	`position` integer NOT NULL,
	`start` integer NOT NULL,
	`end` integer NOT NULL,
	`text` text NOT NULL,
	`embedding` blob
);
--> statement-breakpoint
CREATE INDEX `knowledge_chunks_document` ON `knowledge_chunks` (`document_id`);--> statement-breakpoint
CREATE INDEX `knowledge_chunks_collection` ON `knowledge_chunks` (`collection_id`,`id`);--> statement-breakpoint
CREATE TABLE `knowledge_collections` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`embedding_model` text,
	`dimensions` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `knowledge_collections_name_unique` ON `knowledge_collections` (`name`);--> statement-breakpoint
CREATE TABLE `knowledge_documents` (
	`id` text PRIMARY KEY NOT NULL,
	`collection_id` integer NOT NULL,
	`source` text NOT NULL,
	`content_type` text NOT NULL,
	`sha256` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`metadata` text NOT NULL,
	`chunks` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `knowledge_documents_source` ON `knowledge_documents` (`collection_id`,`source`);