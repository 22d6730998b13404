ALTER TABLE "cron_runs" ADD COLUMN "scheduled_at" timestamp (3) with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "cron_runs_tick" ON "cron_runs" USING btree ("job_id","scheduled_at");