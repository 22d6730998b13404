CREATE TABLE "cache_entries" (
	"host_id" bigint NOT NULL,
	"url" text NOT NULL,
	"dimension_id" bigint NOT NULL,
	"file" text NOT NULL,
	"status" bigint NOT NULL,
	"bytes" bigint NOT NULL,
	"render_ms" bigint NOT NULL,
	"rendered_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "cache_entries_host_id_url_dimension_id_pk" PRIMARY KEY("host_id","url","dimension_id")
);
--> statement-breakpoint
CREATE TABLE "cache_queue" (
	"host_id" bigint NOT NULL,
	"priority" text NOT NULL,
	"url" text NOT NULL,
	"dimension_id" bigint NOT NULL,
	"due_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "cache_queue_host_id_priority_url_dimension_id_pk" PRIMARY KEY("host_id","priority","url","dimension_id")
);
--> statement-breakpoint
CREATE INDEX "cache_queue_due" ON "cache_queue" USING btree ("priority","due_at");