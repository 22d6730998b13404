CREATE TABLE "dataset_profiles" (
	"sha256" text NOT NULL,
	"sample_rows" bigint NOT NULL,
	"profile" jsonb NOT NULL,
	"duration_ms" bigint NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "dataset_profiles_sha256_sample_rows_pk" PRIMARY KEY("sha256","sample_rows")
);
--> statement-breakpoint
CREATE TABLE "datasets" (
	"name" text PRIMARY KEY NOT NULL,
	"format" text NOT NULL,
	"source" text NOT NULL,
	"path" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"rows" bigint NOT NULL,
	"columns" jsonb NOT NULL,
	"sha256" text NOT NULL,
	"mtime_ms" bigint NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
