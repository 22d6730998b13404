CREATE TABLE "agent_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"agent" text NOT NULL,
	"actor" text NOT NULL,
	"status" text NOT NULL,
	"input" text NOT NULL,
	"output" text,
	"error" text,
	"steps" jsonb NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "agent_approvals" (
	"id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"agent" text NOT NULL,
	"tool" text NOT NULL,
	"arguments" jsonb NOT NULL,
	"rule" text,
	"status" text NOT NULL,
	"requested_at" timestamp (3) with time zone NOT NULL,
	"decided_at" timestamp (3) with time zone,
	"decided_by" text,
	"note" text
);
--> statement-breakpoint
CREATE TABLE "agent_permission_denials" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"agent" text NOT NULL,
	"run_id" text NOT NULL,
	"tool" text NOT NULL,
	"source" text NOT NULL,
	"rule" text,
	"reason" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "agent_runs_agent" ON "agent_runs" USING btree ("agent","started_at");--> statement-breakpoint
CREATE INDEX "agent_approvals_status" ON "agent_approvals" USING btree ("status","requested_at");--> statement-breakpoint
CREATE INDEX "agent_denials_at" ON "agent_permission_denials" USING btree ("at");