CREATE TABLE "pipeline_artifacts" (
	"id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"phase" text NOT NULL,
	"name" text NOT NULL,
	"media_type" text NOT NULL,
	"size" bigint NOT NULL,
	"sha256" text NOT NULL,
	"path" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pipeline_phases" (
	"run_id" text NOT NULL,
	"name" text NOT NULL,
	"state" text NOT NULL,
	"attempts" bigint DEFAULT 0 NOT NULL,
	"output" jsonb,
	"error" text,
	"agent" text,
	"gate_id" text,
	"started_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	CONSTRAINT "pipeline_phases_run_id_name_pk" PRIMARY KEY("run_id","name")
);
--> statement-breakpoint
CREATE TABLE "pipeline_run_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"phase" text,
	"kind" text NOT NULL,
	"data" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pipeline_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"template" text NOT NULL,
	"definition" jsonb NOT NULL,
	"parent_run_id" text,
	"state" text NOT NULL,
	"inputs" jsonb NOT NULL,
	"compliance" jsonb NOT NULL,
	"actor" text NOT NULL,
	"error" text,
	"cancel_requested" boolean DEFAULT false NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE INDEX "pipeline_artifacts_run" ON "pipeline_artifacts" USING btree ("run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "pipeline_run_events_seq" ON "pipeline_run_events" USING btree ("run_id","seq");--> statement-breakpoint
CREATE INDEX "pipeline_runs_state" ON "pipeline_runs" USING btree ("state","created_at");--> statement-breakpoint
CREATE INDEX "pipeline_runs_template" ON "pipeline_runs" USING btree ("template","created_at");