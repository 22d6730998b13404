CREATE TABLE "evaluation_rows" (
	"evaluation_id" text NOT NULL,
	"row" bigint NOT NULL,
	"input" text NOT NULL,
	"expected" text,
	"status" text NOT NULL,
	"output" text,
	"error" text,
	"latency_ms" double precision,
	"prompt_tokens" bigint,
	"completion_tokens" bigint,
	"scores" jsonb,
	"notes" jsonb,
	"finished_at" timestamp (3) with time zone,
	CONSTRAINT "evaluation_rows_evaluation_id_row_pk" PRIMARY KEY("evaluation_id","row")
);
--> statement-breakpoint
CREATE TABLE "evaluations" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text,
	"model" text NOT NULL,
	"dataset" text NOT NULL,
	"dataset_sha256" text NOT NULL,
	"spec" jsonb NOT NULL,
	"status" text NOT NULL,
	"actor" text NOT NULL,
	"total" bigint NOT NULL,
	"summary" jsonb,
	"created_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE INDEX "evaluation_rows_status" ON "evaluation_rows" USING btree ("evaluation_id","status");--> statement-breakpoint
CREATE INDEX "evaluations_created" ON "evaluations" USING btree ("created_at");