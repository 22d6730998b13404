CREATE TABLE "batch_items" (
	"run_id" text NOT NULL,
	"line" bigint NOT NULL,
	"custom_id" text,
	"agent" text NOT NULL,
	"input" text NOT NULL,
	"status" text NOT NULL,
	"output" text,
	"error" text,
	"agent_run_id" text,
	"tool_calls" jsonb,
	"finished_at" timestamp (3) with time zone,
	CONSTRAINT "batch_items_run_id_line_pk" PRIMARY KEY("run_id","line")
);
--> statement-breakpoint
CREATE TABLE "batch_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"actor" text NOT NULL,
	"total" bigint NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE INDEX "batch_items_status" ON "batch_items" USING btree ("run_id","status");