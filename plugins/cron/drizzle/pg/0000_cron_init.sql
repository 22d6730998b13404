CREATE TABLE "cron_jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"schedule" text NOT NULL,
	"timezone" text,
	"command" text NOT NULL,
	"description" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"timeout_s" bigint NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "cron_jobs_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "cron_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"job_id" text NOT NULL,
	"trigger" text NOT NULL,
	"actor" text NOT NULL,
	"status" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone,
	"duration_ms" bigint,
	"result" text,
	"error" text
);
--> statement-breakpoint
CREATE INDEX "cron_runs_job" ON "cron_runs" USING btree ("job_id","id");